import { useState } from 'preact/hooks';
import { api, countDeliveries, type ApiFailure } from '../api';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { DeliveryList } from '../components/DeliveryList';
import { ErrorMessage } from '../components/ErrorMessage';
import { toFailure, usePolling, useResource, useTitle } from '../hooks';
import { href, navigate } from '../router';

const COUNT_CAP = 1000;

/** How many dead letters match: the overview's count for all of them, paging for one destination. */
async function deadLetterCount(destinationId: string | undefined, signal: AbortSignal): Promise<{ count: number; capped: boolean }> {
  if (destinationId === undefined) {
    try {
      const o = await api.overview(signal);
      return { count: o.dead_letter_count, capped: false };
    } catch {
      /* fall back to counting */
    }
  }
  return countDeliveries({ status: 'dead_letter', destination_id: destinationId }, COUNT_CAP, signal);
}

/** Dead letters (optionally of one destination), with "Replay all matching". */
export function DeadLetters({ query }: { query: URLSearchParams }) {
  useTitle('Dead letters');
  const destinationId = query.get('destination_id') || undefined;
  const destinations = useResource((signal) => api.listDestinations(signal), []);
  const count = useResource((signal) => deadLetterCount(destinationId, signal), [destinationId]);
  usePolling(count.refresh, 10_000, true);
  const [confirming, setConfirming] = useState(false);
  const [bulk, setBulk] = useState<{ busy: boolean; error: ApiFailure | null; result: number | null }>({ busy: false, error: null, result: null });
  const [reloadKey, setReloadKey] = useState(0);

  const n = count.data;
  const countText = n ? `${n.count}${n.capped ? '+' : ''}` : '…';
  const destName = (() => {
    const d = destinations.data?.data.find((x) => x.id === destinationId);
    return d ? d.name || d.url : destinationId;
  })();

  const replayAll = async () => {
    setBulk({ busy: true, error: null, result: null });
    try {
      const r = await api.bulkReplay({ status: 'dead_letter', ...(destinationId ? { destination_id: destinationId } : {}) });
      setBulk({ busy: false, error: null, result: r.count });
      setConfirming(false);
      setReloadKey((k) => k + 1);
      void count.refresh();
    } catch (err) {
      setBulk({ busy: false, error: toFailure(err), result: null });
    }
  };

  return (
    <>
      <div class="page-head">
        <h1 id="page-title" tabIndex={-1}>
          Dead letters
        </h1>
        <p class="count-line">
          <span class="count-big" data-testid="dead-letter-total">
            {countText}
          </span>{' '}
          {n?.count === 1 ? 'dead letter' : 'dead letters'}
          {destinationId ? <> for {destName}</> : null}
        </p>
      </div>
      <p class="muted small">Deliveries that used up their attempts, were blocked, or whose destination was deleted. Replaying gives each a fresh attempt budget.</p>
      <div class="toolbar">
        <div class="field-inline">
          <label for="dl-destination">Destination</label>
          <select
            id="dl-destination"
            data-testid="destination-filter"
            value={destinationId ?? ''}
            onChange={(e) => navigate(href('/dead-letters', { destination_id: e.currentTarget.value || undefined }), true)}
          >
            <option value="">All destinations</option>
            {destinationId && !destinations.data?.data.some((d) => d.id === destinationId) ? <option value={destinationId}>{destinationId}</option> : null}
            {(destinations.data?.data ?? []).map((d) => (
              <option key={d.id} value={d.id}>
                {d.name ? `${d.name} (${d.url})` : d.url}
              </option>
            ))}
          </select>
        </div>
        <button
          type="button"
          class="btn btn-primary"
          data-testid="bulk-replay-button"
          disabled={bulk.busy || (n !== undefined && n.count === 0)}
          onClick={() => {
            setBulk({ busy: false, error: null, result: null });
            setConfirming(true);
          }}
        >
          Replay all matching
        </button>
      </div>
      <ErrorMessage error={destinations.error} title="Could not load destinations for the filter" />
      <ErrorMessage error={count.error} title="Could not count dead letters" />
      <div role="status" aria-live="polite">
        {bulk.result !== null ? (
          <p class="alert alert-success" data-testid="bulk-replay-result">
            Queued {bulk.result} {bulk.result === 1 ? 'delivery' : 'deliveries'} for replay.
          </p>
        ) : null}
      </div>
      {!confirming ? <ErrorMessage error={bulk.error} title="Replay failed" /> : null}
      {confirming ? (
        <ConfirmDialog
          title="Replay all matching dead letters?"
          confirmLabel={`Replay ${countText === '…' ? 'all' : countText}`}
          busy={bulk.busy}
          onConfirm={replayAll}
          onCancel={() => setConfirming(false)}
        >
          <p>
            Every dead letter{destinationId ? <> of <strong>{destName}</strong></> : null} ({countText}) goes back to the queue with a fresh
            attempt budget. Its receiver may get the same request again.
          </p>
          <ErrorMessage error={bulk.error} title="Replay failed" />
        </ConfirmDialog>
      ) : null}
      <DeliveryList
        key={`${destinationId ?? ''}`}
        filter={{ status: 'dead_letter', destination_id: destinationId }}
        caption="Dead letters, newest first"
        empty="No dead letters. Everything was delivered or is still being tried."
        reloadKey={reloadKey}
      />
    </>
  );
}
