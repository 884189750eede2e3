import { api } from '../api';
import { ErrorMessage } from '../components/ErrorMessage';
import { Loading } from '../components/Loading';
import { OverviewChart } from '../components/OverviewChart';
import { formatClock, statusLabel } from '../format';
import { usePolling, useResource, useTitle } from '../hooks';
import { href } from '../router';
import { DELIVERY_STATUSES } from '../types';

/** The last hour at a glance: deliveries by status, dead letters now, attempts over time. */
export function Home() {
  useTitle('Home');
  const res = useResource((signal) => api.overview(signal), []);
  usePolling(res.refresh, 10_000, true);
  const o = res.data;
  return (
    <>
      <div class="page-head">
        <h1 id="page-title" tabIndex={-1}>
          Last hour
        </h1>
        {o ? (
          <p class="muted small">
            Deliveries created from <time dateTime={o.since}>{formatClock(o.since)}</time> to{' '}
            <time dateTime={o.until}>{formatClock(o.until)}</time>
          </p>
        ) : null}
      </div>
      <ErrorMessage error={res.error} title="Could not load the overview" />
      {res.error ? (
        <button type="button" class="btn" onClick={() => void res.reload()}>
          Try again
        </button>
      ) : null}
      {!o && res.loading ? <Loading /> : null}
      {o ? (
        <>
          <ul class="cards" aria-label="Deliveries created in the last hour, by status">
            {DELIVERY_STATUSES.map((s) => (
              <li key={s}>
                <a class={`card card-${s}`} href={href('/deliveries', { status: s })}>
                  <span class="card-label">{statusLabel(s)}</span>
                  <span class="card-value" data-testid={`overview-count-${s}`}>
                    {o.deliveries[s] ?? 0}
                  </span>
                </a>
              </li>
            ))}
          </ul>
          <p class="dead-letter-now">
            <a href="#/dead-letters" class={o.dead_letter_count > 0 ? 'dl-link dl-some' : 'dl-link'}>
              <span data-testid="dead-letter-count">{o.dead_letter_count}</span>{' '}
              {o.dead_letter_count === 1 ? 'dead letter' : 'dead letters'} waiting now →
            </a>
          </p>
          <OverviewChart series={o.series} />
        </>
      ) : null}
    </>
  );
}
