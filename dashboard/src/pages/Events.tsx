import { useState } from 'preact/hooks';
import { api } from '../api';
import { ErrorMessage } from '../components/ErrorMessage';
import { Loading } from '../components/Loading';
import { Pager } from '../components/Pager';
import { formatTime, relative } from '../format';
import { usePolling, useResource, useTitle } from '../hooks';
import { href, seg } from '../router';

/** Published events, newest first, with cursor paging (live on the first page). */
export function Events() {
  useTitle('Events');
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const page = cursors.length - 1;
  const cursor = cursors[page] ?? null;
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
      <ErrorMessage error={res.error} title="Could not load events" />
      {res.error ? (
        <button type="button" class="btn" onClick={() => void res.reload()}>
          Try again
        </button>
      ) : null}
      {res.loading && !res.data ? <Loading what="Loading events" /> : null}
      {res.data && rows.length === 0 ? (
        <p class="empty" data-testid="empty-state">
          {page === 0 ? (
            <>
              No events yet. Publish one with <code>POST /v1/events</code>.
            </>
          ) : (
            'No older events.'
          )}
        </p>
      ) : null}
      {rows.length > 0 ? (
        <div class="table-wrap" tabIndex={0} role="region" aria-label="Events">
          <table class="table">
            <caption class="sr-only">Events, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Event id</th>
                <th scope="col">Type</th>
                <th scope="col">Idempotency key</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
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
                    <time dateTime={e.created_at} title={relative(e.created_at)}>
                      {formatTime(e.created_at)}
                    </time>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <div class="list-footer">
        <Pager
          page={page}
          hasOlder={Boolean(res.data?.next_cursor)}
          busy={res.loading}
          onNewest={() => setCursors([null])}
          onNewer={() => setCursors((c) => (c.length > 1 ? c.slice(0, -1) : c))}
          onOlder={() => {
            const next = res.data?.next_cursor;
            if (next) setCursors((c) => [...c, next]);
          }}
        />
      </div>
    </>
  );
}
