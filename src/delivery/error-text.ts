/** What an error says, for a log line or a recorded attempt: its message, or the thrown value as text. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
