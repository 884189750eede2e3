import type { DeliverySummary } from '../types';
import { href, seg } from '../router';
import { type Column, DataTable } from './DataTable';
import { StatusBadge } from './StatusBadge';
import { Timestamp } from './Timestamp';

const COLUMNS: Column[] = ['Queue id', 'Status', 'Target', { label: 'Attempts', num: true }, { label: 'Last HTTP', num: true }, 'Created'];

/** Deliveries as a table; each row links to its detail through the queue id in the first cell. */
export function DeliveryTable({ rows, caption }: { rows: DeliverySummary[]; caption: string }) {
  return (
    <DataTable label={caption} caption={caption} columns={COLUMNS}>
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
            <Timestamp iso={d.created_at} />
          </td>
        </tr>
      ))}
    </DataTable>
  );
}
