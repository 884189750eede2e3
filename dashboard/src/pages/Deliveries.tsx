import { useRef, useState } from 'preact/hooks';
import { DeliveryList } from '../components/DeliveryList';
import { QUEUE_ID, statusLabel } from '../format';
import { useTitle } from '../hooks';
import { href, navigate, seg } from '../router';
import { DELIVERY_STATUSES, type DeliveryStatus } from '../types';

const isStatus = (s: string | null): s is DeliveryStatus => s !== null && (DELIVERY_STATUSES as readonly string[]).includes(s);

/** All deliveries, newest first: filter by status, find by queue id or idempotency key, live on page 1. */
export function Deliveries({ query }: { query: URLSearchParams }) {
  useTitle('Deliveries');
  const rawStatus = query.get('status');
  const status = isStatus(rawStatus) ? rawStatus : undefined;
  const key = query.get('idempotency_key') ?? undefined;
  const [search, setSearch] = useState(key ?? '');
  const input = useRef<HTMLInputElement>(null);

  const go = (next: { status?: string | undefined; idempotency_key?: string | undefined }) =>
    navigate(href('/deliveries', { status, idempotency_key: key, ...next }), true);

  const onSearch = (e: Event) => {
    e.preventDefault();
    const v = (input.current?.value ?? search).trim();
    if (QUEUE_ID.test(v.toLowerCase())) {
      navigate(href(`/deliveries/${seg(v.toLowerCase())}`));
      return;
    }
    go({ idempotency_key: v === '' ? undefined : v });
  };

  const filter = { status, idempotency_key: key };
  return (
    <>
      <div class="page-head">
        <h1 id="page-title" tabIndex={-1}>
          Deliveries
        </h1>
      </div>
      <div class="toolbar">
        <div class="field-inline">
          <label for="status-filter">Status</label>
          <select id="status-filter" data-testid="status-filter" value={status ?? ''} onChange={(e) => go({ status: e.currentTarget.value || undefined })}>
            <option value="">All statuses</option>
            {DELIVERY_STATUSES.map((s) => (
              <option key={s} value={s}>
                {statusLabel(s)}
              </option>
            ))}
          </select>
        </div>
        <form role="search" class="search" onSubmit={onSearch} aria-label="Find deliveries">
          <label for="search-input">Queue id or idempotency key</label>
          <div class="search-row">
            <input
              id="search-input"
              ref={input}
              type="search"
              data-testid="search-input"
              placeholder="hr_… or an idempotency key"
              autoComplete="off"
              spellcheck={false}
              value={search}
              onInput={(e) => setSearch(e.currentTarget.value)}
            />
            <button type="submit" class="btn" data-testid="search-submit">
              Find
            </button>
          </div>
        </form>
      </div>
      {key !== undefined ? (
        <p class="filter-note">
          Idempotency key <code>{key}</code>{' '}
          <button
            type="button"
            class="btn btn-small btn-link"
            data-testid="clear-search"
            onClick={() => {
              setSearch('');
              go({ idempotency_key: undefined });
            }}
          >
            Clear
          </button>
        </p>
      ) : null}
      <DeliveryList
        key={`${status ?? ''}|${key ?? ''}`}
        filter={filter}
        caption={status ? `Deliveries with status ${statusLabel(status)}, newest first` : 'Deliveries, newest first'}
        empty={key !== undefined ? 'No delivery has that idempotency key.' : status ? `No ${statusLabel(status)} deliveries.` : 'No deliveries yet.'}
      />
    </>
  );
}
