import { statusLabel } from '../format';

/** A coloured badge for a delivery status, attempt outcome or domain/destination state. */
export function StatusBadge({ status, testid }: { status: string; testid?: string }) {
  return (
    <span class={`badge badge-${status}`} data-testid={testid} data-status={status}>
      {statusLabel(status)}
    </span>
  );
}
