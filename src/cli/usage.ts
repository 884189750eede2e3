/** A command line the CLI cannot act on: printed with a hint, exit code 2. */
export class UsageError extends Error {}

export interface CommandOptions {
  json: boolean;
  name?: string | boolean | undefined;
  account?: string | boolean | undefined;
  mode?: string | boolean | undefined;
}

export function requireText(value: string | boolean | undefined, flag: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new UsageError(`${flag} is required`);
  return value.trim();
}
