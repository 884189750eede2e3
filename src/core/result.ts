/** Outcome of validating one piece of user input. `field` names the input at fault (dotted path). */
export interface Invalid {
  ok: false;
  field: string;
  message: string;
}

export type Checked<T> = { ok: true; value: T } | Invalid;

export function invalid(field: string, message: string): Invalid {
  return { ok: false, field, message };
}

export function valid<T>(value: T): { ok: true; value: T } {
  return { ok: true, value };
}
