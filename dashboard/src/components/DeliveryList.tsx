import { useState } from 'preact/hooks';
import { api } from '../api';
import { usePolling, useResource } from '../hooks';
import type { DeliveryFilter } from '../types';
import { DeliveryTable } from './DeliveryTable';
import { ErrorMessage } from './ErrorMessage';
import { Loading } from './Loading';
import { Pager } from './Pager';

interface Props {
  filter: DeliveryFilter;
  caption: string;
  /** Refresh every `liveMs` while on the first page and the tab is visible. */
  live?: boolean;
  liveMs?: number;
  limit?: number;
  empty?: string;
  /** Bump to make the list load again (e.g. after a bulk replay). */
  reloadKey?: number;
}

/**
 * A page of deliveries matching `filter`, newest first, with cursor paging. On the first page it
 * stays live (polls); on older pages it holds still. Mount it with `key` = the filter so a new
 * filter starts from the newest page.
 */
export function DeliveryList({ filter, caption, live = true, liveMs = 3000, limit = 25, empty, reloadKey = 0 }: Props) {
  // cursors[i] is the cursor of page i (null for the newest page).
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const page = cursors.length - 1;
  const cursor = cursors[page] ?? null;
  const res = useResource((signal) => api.listDeliveries({ ...filter, limit, cursor }, signal), [cursor, reloadKey]);
  // Keeps polling after a failed refresh too, so a blip heals by itself.
  usePolling(res.refresh, liveMs, live && page === 0);

  const all = res.data?.data ?? [];
  // Safety net: show only exact matches even if the server ignored the idempotency_key filter.
  const rows = filter.idempotency_key ? all.filter((d) => d.idempotency_key === filter.idempotency_key) : all;
  const ignoredFilter = rows.length !== all.length;

  return (
    <div class="delivery-list" data-testid="delivery-list" aria-busy={res.loading}>
      <ErrorMessage error={res.error} title="Could not load deliveries" />
      {res.error ? (
        <button type="button" class="btn btn-small" onClick={() => void res.reload()}>
          Try again
        </button>
      ) : null}
      {res.loading && !res.data ? <Loading what="Loading deliveries" /> : null}
      {res.data ? (
        rows.length === 0 ? (
          <p class="empty" data-testid="empty-state">
            {page === 0 ? (empty ?? 'No deliveries match.') : 'No older deliveries on this page.'}
          </p>
        ) : (
          <DeliveryTable rows={rows} caption={caption} />
        )
      ) : null}
      {ignoredFilter ? (
        <p class="muted small">
          Showing only the deliveries on this page whose idempotency key is exactly “{filter.idempotency_key}”.
        </p>
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
        {live && page === 0 && !res.error ? (
          <span class="live muted small" data-testid="live-indicator">
            <span class="live-dot" aria-hidden="true" /> Live · updates every {Math.round(liveMs / 1000)} s
          </span>
        ) : null}
      </div>
    </div>
  );
}
