import { api } from '../api';
import { DataTable } from '../components/DataTable';
import { LoadState } from '../components/LoadState';
import { CursorPager, useCursorPages } from '../components/Pager';
import { Timestamp } from '../components/Timestamp';
import { usePolling, useResource, useTitle } from '../hooks';
import { href, seg } from '../router';

/** Published events, newest first, with cursor paging (live on the first page). */
export function Events() {
  useTitle('Events');
  const pages = useCursorPages();
  const { page, cursor } = pages;
  const res = useResource((signal) => api.listEvents({ limit: 25, cursor }, signal), [cursor]);
  usePolling(res.refresh, 5000, page === 0);
  const rows = res.data?.data ?? [];
  return (
    <>
      <div class="page-head">
        <h1 id="page-title" tabIndex={-1}>
          Events
        </h1>
      </div>
      <LoadState
        res={res}
        failed="Could not load events"
        loading="Loading events"
        empty={
          rows.length > 0 ? null : page === 0 ? (
            <>
              No events yet. Publish one with <code>POST /v1/events</code>.
            </>
          ) : (
            'No older events.'
          )
        }
      />
      {rows.length > 0 ? (
        <DataTable label="Events" caption="Events, newest first" columns={['Event id', 'Type', 'Idempotency key', 'Created']}>
          {rows.map((e) => (
            <tr key={e.id} data-testid="event-row" data-event-id={e.id}>
              <td>
                <a class="mono" href={href(`/events/${seg(e.id)}`)}>
                  {e.id}
                </a>
              </td>
              <td class="mono">{e.type}</td>
              <td class="mono break">{e.idempotency_key ?? '—'}</td>
              <td>
                <Timestamp iso={e.created_at} />
              </td>
            </tr>
          ))}
        </DataTable>
      ) : null}
      <div class="list-footer">
        <CursorPager pages={pages} res={res} />
      </div>
    </>
  );
}
