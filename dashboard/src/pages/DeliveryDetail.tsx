import { useState } from 'preact/hooks';
import { api, type ApiFailure } from '../api';
import { CodeBlock } from '../components/CodeBlock';
import { ErrorMessage } from '../components/ErrorMessage';
import { Loading } from '../components/Loading';
import { StatusBadge } from '../components/StatusBadge';
import { formatMs, formatTime, relative } from '../format';
import { toFailure, usePolling, useResource, useTitle } from '../hooks';
import { href, seg } from '../router';
import { FINAL_STATUSES, REPLAYABLE_STATUSES, type Attempt, type DeliveryDetail as Detail } from '../types';

function Time({ iso }: { iso: string | null | undefined }) {
  if (!iso) return <>—</>;
  return (
    <time dateTime={iso}>
      {formatTime(iso)} <span class="muted">({relative(iso)})</span>
    </time>
  );
}

function RequestSection({ d }: { d: Detail }) {
  const { headers, body } = d.request;
  return (
    <section class="panel" aria-labelledby="request-title">
      <h2 id="request-title">Request</h2>
      <p class="request-line">
        <span class="method">{d.method}</span> <span class="url mono">{d.target}</span>
      </p>
      <h3>Headers</h3>
      {Object.keys(headers).length === 0 ? (
        <p class="muted">No headers of its own (Harepost adds its own on each attempt).</p>
      ) : (
        <div class="table-wrap">
          <table class="table table-compact" data-testid="request-headers">
            <caption class="sr-only">Request headers</caption>
            <tbody>
              {Object.entries(headers).map(([k, v]) => (
                <tr key={k}>
                  <th scope="row" class="mono">
                    {k}
                  </th>
                  <td class="mono break">{v}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <h3>Body</h3>
      <CodeBlock value={body} label="Request body" empty="No body." />
    </section>
  );
}

function PolicySection({ d }: { d: Detail }) {
  const p = d.delivery;
  const rows: [string, string][] = [
    ['Max attempts', String(p.max_attempts)],
    ['Backoff', p.backoff],
    ['Base delay', formatMs(p.base_delay_ms)],
    ['Max delay', formatMs(p.max_delay_ms)],
    ['Jitter', p.jitter],
    ['Timeout', formatMs(p.timeout_ms)],
    ['Respect Retry-After', p.respect_retry_after ? 'yes' : 'no'],
  ];
  return (
    <section class="panel" aria-labelledby="policy-title">
      <h2 id="policy-title">Delivery policy</h2>
      <dl class="dl" data-testid="delivery-policy">
        {rows.map(([k, v]) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd>{v}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}

function AttemptsTimeline({ attempts }: { attempts: Attempt[] }) {
  const sorted = [...attempts].sort((a, b) => a.attempt - b.attempt);
  return (
    <section class="panel" aria-labelledby="attempts-title">
      <h2 id="attempts-title">Attempts ({attempts.length})</h2>
      {sorted.length === 0 ? (
        <p class="muted">No attempt yet.</p>
      ) : (
        <ol class="timeline">
          {sorted.map((a) => (
            <li key={a.attempt} class={`timeline-item outcome-${a.outcome}`} data-testid="attempt-row" data-attempt={a.attempt} data-outcome={a.outcome}>
              <div class="timeline-head">
                <strong>Attempt {a.attempt}</strong> <StatusBadge status={a.outcome} testid="attempt-outcome" />
                <span class="muted">
                  {a.http_status !== null ? <>HTTP {a.http_status} · </> : null}
                  {formatMs(a.latency_ms)} ·{' '}
                  <time dateTime={a.created_at}>{formatTime(a.created_at)}</time>
                </span>
              </div>
              {a.error ? <p class="attempt-error">{a.error}</p> : null}
              {a.response_excerpt ? (
                <details>
                  <summary>Response excerpt</summary>
                  <CodeBlock value={a.response_excerpt} label={`Response to attempt ${a.attempt}`} />
                </details>
              ) : null}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

/** One delivery: status, request, policy, attempts; Replay for dead letters and rejections. */
export function DeliveryDetail({ id }: { id: string }) {
  useTitle(`Delivery ${id}`);
  const res = useResource((signal) => api.getDelivery(id, signal), [id]);
  const [replay, setReplay] = useState<{ busy: boolean; error: ApiFailure | null; done: boolean }>({ busy: false, error: null, done: false });
  const d = res.data;
  const final = d ? FINAL_STATUSES.includes(d.status) : false;
  // Refresh every 2 s until the status is final (always the case after a replay).
  usePolling(res.refresh, 2000, Boolean(d) && !final);

  const doReplay = async () => {
    setReplay({ busy: true, error: null, done: false });
    try {
      const updated = await api.replayDelivery(id);
      res.setData(updated);
      setReplay({ busy: false, error: null, done: true });
    } catch (err) {
      setReplay({ busy: false, error: toFailure(err), done: false });
      void res.refresh(); // e.g. 409: someone else replayed it already; show what it is now
    }
  };

  return (
    <>
      <p class="crumbs">
        <a href="#/deliveries">← Deliveries</a>
      </p>
      <div class="page-head">
        <h1 id="page-title" tabIndex={-1} class="mono-title">
          {id}
        </h1>
        {d ? <StatusBadge status={d.status} testid="delivery-status" /> : null}
        {d && REPLAYABLE_STATUSES.includes(d.status) ? (
          <button type="button" class="btn btn-primary" data-testid="replay-button" disabled={replay.busy} onClick={doReplay}>
            {replay.busy ? 'Replaying…' : 'Replay'}
          </button>
        ) : null}
      </div>
      <ErrorMessage error={replay.error} title="Replay failed" />
      <div role="status" aria-live="polite" data-testid="replay-status">
        {replay.done && d ? (
          final ? (
            <p class="alert alert-info">
              Replay finished: <StatusBadge status={d.status} />
            </p>
          ) : (
            <p class="alert alert-info">Queued for replay. Refreshing every 2 s until it is delivered, rejected or a dead letter…</p>
          )
        ) : null}
      </div>
      <ErrorMessage error={res.error} title={d ? 'Could not refresh' : 'Could not load this delivery'} />
      {res.error && !d ? (
        <button type="button" class="btn" onClick={() => void res.reload()}>
          Try again
        </button>
      ) : null}
      {!d && res.loading ? <Loading what="Loading the delivery" /> : null}
      {d ? (
        <>
          <section class="panel" aria-labelledby="summary-title">
            <h2 id="summary-title">Summary</h2>
            <dl class="dl">
              <div>
                <dt>Status</dt>
                <dd>
                  <StatusBadge status={d.status} />
                  {!final ? <span class="muted small"> (refreshing every 2 s)</span> : null}
                </dd>
              </div>
              <div>
                <dt>Next attempt</dt>
                <dd data-testid="next-attempt-at">
                  <Time iso={d.next_attempt_at} />
                </dd>
              </div>
              <div>
                <dt>Last HTTP status</dt>
                <dd>{d.last_status ?? '—'}</dd>
              </div>
              <div>
                <dt>Created</dt>
                <dd>
                  <Time iso={d.created_at} />
                </dd>
              </div>
              <div>
                <dt>Updated</dt>
                <dd>
                  <Time iso={d.updated_at} />
                </dd>
              </div>
              <div>
                <dt>Idempotency key</dt>
                <dd class="mono break">{d.idempotency_key ?? '—'}</dd>
              </div>
              {d.event_id ? (
                <div>
                  <dt>Event</dt>
                  <dd>
                    <a class="mono" href={href(`/events/${seg(d.event_id)}`)}>
                      {d.event_id}
                    </a>{' '}
                    {d.event_type ? <span class="muted">({d.event_type})</span> : null}
                  </dd>
                </div>
              ) : null}
              {d.destination_id ? (
                <div>
                  <dt>Destination</dt>
                  <dd>
                    <a class="mono" href={href(`/destinations/${seg(d.destination_id)}`)}>
                      {d.destination_id}
                    </a>
                  </dd>
                </div>
              ) : null}
            </dl>
            {d.error ? (
              <p class="alert alert-error" data-testid="delivery-error">
                <strong>Error:</strong> {d.error}
              </p>
            ) : null}
          </section>
          <RequestSection d={d} />
          <PolicySection d={d} />
          {d.metadata !== null && d.metadata !== undefined ? (
            <section class="panel" aria-labelledby="metadata-title">
              <h2 id="metadata-title">Metadata</h2>
              <p class="muted small">Stored with the delivery, never sent.</p>
              <CodeBlock value={d.metadata} label="Metadata" />
            </section>
          ) : null}
          <AttemptsTimeline attempts={d.attempts} />
        </>
      ) : null}
    </>
  );
}
