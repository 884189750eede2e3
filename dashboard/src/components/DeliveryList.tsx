import { api } from '../api';
import { usePolling, useResource } from '../hooks';
import type { DeliveryFilter } from '../types';
import { DeliveryTable } from './DeliveryTable';
import { LoadState } from './LoadState';
import { CursorPager, useCursorPages } from './Pager';

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
  const pages = useCursorPages();
  const { page, cursor } = pages;
  const res = useResource((signal) => api.listDeliveries({ ...filter, limit, cursor }, signal), [cursor, reloadKey]);
  // Keeps polling after a failed refresh too, so a blip heals by itself.
  usePolling(res.refresh, liveMs, live && page === 0);

  const all = res.data?.data ?? [];
  // Safety net: show only exact matches even if the server ignored the idempotency_key filter.
  const rows = filter.idempotency_key ? all.filter((d) => d.idempotency_key === filter.idempotency_key) : all;
  const ignoredFilter = rows.length !== all.length;

  return (
    <div class="delivery-list" data-testid="delivery-list" aria-busy={res.loading}>
      <LoadState
        res={res}
        failed="Could not load deliveries"
        loading="Loading deliveries"
        empty={rows.length === 0 ? (page === 0 ? (empty ?? 'No deliveries match.') : 'No older deliveries on this page.') : null}
        small
      />
      {res.data && rows.length > 0 ? <DeliveryTable rows={rows} caption={caption} /> : null}
      {ignoredFilter ? (
        <p class="muted small">
          Showing only the deliveries on this page whose idempotency key is exactly “{filter.idempotency_key}”.
        </p>
      ) : null}
      <div class="list-footer">
        <CursorPager pages={pages} res={res} />
        {live && page === 0 && !res.error ? (
          <span class="live muted small" data-testid="live-indicator">
            <span class="live-dot" aria-hidden="true" /> Live · updates every {Math.round(liveMs / 1000)} s
          </span>
        ) : null}
      </div>
    </div>
  );
}
