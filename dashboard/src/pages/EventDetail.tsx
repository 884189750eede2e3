import { api } from '../api';
import { CodeBlock } from '../components/CodeBlock';
import { DeliveryList } from '../components/DeliveryList';
import { ErrorMessage } from '../components/ErrorMessage';
import { Loading } from '../components/Loading';
import { formatTime } from '../format';
import { useResource, useTitle } from '../hooks';

/** One event: payload, metadata and the deliveries it fanned out to. */
export function EventDetail({ id }: { id: string }) {
  useTitle(`Event ${id}`);
  const res = useResource((signal) => api.getEvent(id, signal), [id]);
  const e = res.data;
  return (
    <>
      <p class="crumbs">
        <a href="#/events">← Events</a>
      </p>
      <div class="page-head">
        <h1 id="page-title" tabIndex={-1} class="mono-title">
          {id}
        </h1>
      </div>
      <ErrorMessage error={res.error} title="Could not load this event" />
      {res.error && !e ? (
        <button type="button" class="btn" onClick={() => void res.reload()}>
          Try again
        </button>
      ) : null}
      {!e && res.loading ? <Loading what="Loading the event" /> : null}
      {e ? (
        <>
          <section class="panel" aria-labelledby="event-summary">
            <h2 id="event-summary">Summary</h2>
            <dl class="dl">
              <div>
                <dt>Type</dt>
                <dd class="mono" data-testid="event-type">
                  {e.type}
                </dd>
              </div>
              <div>
                <dt>Created</dt>
                <dd>{formatTime(e.created_at)}</dd>
              </div>
              <div>
                <dt>Idempotency key</dt>
                <dd class="mono break">{e.idempotency_key ?? '—'}</dd>
              </div>
              <div>
                <dt>Deliveries</dt>
                <dd>{e.deliveries.length}</dd>
              </div>
            </dl>
          </section>
          <section class="panel" aria-labelledby="payload-title">
            <h2 id="payload-title">Payload</h2>
            <div data-testid="event-payload">
              <CodeBlock value={e.body} label="Event payload" empty="No body." />
            </div>
          </section>
          {e.metadata !== null && e.metadata !== undefined ? (
            <section class="panel" aria-labelledby="event-metadata">
              <h2 id="event-metadata">Metadata</h2>
              <CodeBlock value={e.metadata} label="Event metadata" />
            </section>
          ) : null}
          <section class="panel" aria-labelledby="event-deliveries">
            <h2 id="event-deliveries">Deliveries</h2>
            <DeliveryList filter={{ event_id: e.id }} caption="Deliveries of this event" empty="No destination was subscribed to this event type." />
          </section>
        </>
      ) : null}
    </>
  );
}
