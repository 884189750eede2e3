import { api } from '../api';
import { LoadState } from '../components/LoadState';
import { OverviewChart } from '../components/OverviewChart';
import { formatClock } from '../format';
import { usePolling, useResource, useTitle } from '../hooks';
import { href } from '../router';
import type { OverviewCount } from '../types';

/** The home page's cards: what happened in the window, and the list each one opens. */
const CARDS: ReadonlyArray<{ key: OverviewCount; label: string; status?: string }> = [
  { key: 'accepted', label: 'Accepted' },
  { key: 'delivered', label: 'Delivered', status: 'delivered' },
  { key: 'retrying', label: 'Retried', status: 'retrying' },
  { key: 'rejected', label: 'Rejected', status: 'rejected' },
  { key: 'dead_letter', label: 'Dead-lettered', status: 'dead_letter' },
];

/**
 * The last hour at a glance: deliveries accepted, what their attempts ended in (an attempt that
 * will be tried again counts as retried), dead letters now, attempts over time.
 */
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
            From <time dateTime={o.since}>{formatClock(o.since)}</time> to{' '}
            <time dateTime={o.until}>{formatClock(o.until)}</time>
          </p>
        ) : null}
      </div>
      <LoadState res={res} failed="Could not load the overview" />
      {o ? (
        <>
          <ul class="cards" aria-label="Deliveries in the last hour: accepted, and what their attempts ended in">
            {CARDS.map((c) => (
              <li key={c.key}>
                <a class={`card card-${c.status ?? 'queued'}`} href={href('/deliveries', c.status ? { status: c.status } : {})}>
                  <span class="card-label">{c.label}</span>
                  <span class="card-value" data-testid={`overview-count-${c.key}`}>
                    {o.deliveries[c.key] ?? 0}
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
