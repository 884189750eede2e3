import type { DeliverySummary } from '../types';
import { formatTime, relative } from '../format';
import { href, seg } from '../router';
import { StatusBadge } from './StatusBadge';

/** Deliveries as a table; each row links to its detail through the queue id in the first cell. */
export function DeliveryTable({ rows, caption }: { rows: DeliverySummary[]; caption: string }) {
  return (
    <div class="table-wrap" tabIndex={0} role="region" aria-label={caption}>
      <table class="table">
        <caption class="sr-only">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Queue id</th>
            <th scope="col">Status</th>
            <th scope="col">Target</th>
            <th scope="col" class="num">
              Attempts
            </th>
            <th scope="col" class="num">
              Last HTTP
            </th>
            <th scope="col">Created</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((d) => (
            <tr key={d.queue_id} data-testid="delivery-row" data-queue-id={d.queue_id} data-status={d.status}>
              <td>
                <a class="mono" href={href(`/deliveries/${seg(d.queue_id)}`)}>
                  {d.queue_id}
                </a>
                {d.event_type ? <div class="sub">{d.event_type}</div> : null}
              </td>
              <td>
                <StatusBadge status={d.status} testid="delivery-status" />
              </td>
              <td class="target">
                <span class="method">{d.method}</span> <span class="url">{d.target}</span>
              </td>
              <td class="num">{d.attempts}</td>
              <td class="num">{d.last_status ?? '—'}</td>
              <td>
                <time dateTime={d.created_at} title={relative(d.created_at)}>
                  {formatTime(d.created_at)}
                </time>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
