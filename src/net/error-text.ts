/**
 * One line of text for an error from a connection or a request: its code, its message, and the
 * errors it wraps (an AggregateError's first, a cause), collapsed to one line and capped.
 */
const MAX_ERROR_CHARS = 300;

export function describeError(err: unknown, maxChars = MAX_ERROR_CHARS): string {
  let text: string;
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const msg = err.message || err.name;
    text = typeof code === 'string' && !msg.startsWith(code) ? `${code}: ${msg}` : msg;
    if (err instanceof AggregateError && err.errors.length > 0) text += ` (${describeError(err.errors[0], maxChars)})`;
    const cause = err.cause;
    if (cause instanceof Error && !text.includes(cause.message)) text += ` (cause: ${describeError(cause, maxChars)})`;
  } else {
    text = String(err);
  }
  text = text.replace(/\s+/g, ' ').trim();
  return text.length > maxChars ? `${text.slice(0, maxChars - 1)}…` : text;
}
