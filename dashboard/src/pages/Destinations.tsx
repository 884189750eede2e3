import { useState } from 'preact/hooks';
import { api } from '../api';
import { ErrorMessage } from '../components/ErrorMessage';
import { Loading } from '../components/Loading';
import { StatusBadge } from '../components/StatusBadge';
import { takeFlash } from '../flash';
import { formatTime } from '../format';
import { useResource, useTitle } from '../hooks';
import { href, seg } from '../router';
import type { Destination } from '../types';

export function limitsText(d: Destination): string {
  const parts: string[] = [];
  if (d.rate_limit) parts.push(`${d.rate_limit.per_second}/s`);
  if (d.max_in_flight !== null && d.max_in_flight !== undefined) parts.push(`${d.max_in_flight} in flight`);
  return parts.length ? parts.join(', ') : 'none';
}

/** Every destination of this account and mode. */
export function Destinations() {
  useTitle('Destinations');
  const [flash] = useState(takeFlash);
  const res = useResource((signal) => api.listDestinations(signal), []);
  const rows = res.data?.data ?? [];
  return (
    <>
      <div class="page-head">
        <h1 id="page-title" tabIndex={-1}>
          Destinations
        </h1>
        <a class="btn btn-primary" href="#/destinations/new" data-testid="destination-new-link">
          New destination
        </a>
      </div>
      {flash ? (
        <p class="alert alert-success" role="status">
          {flash}
        </p>
      ) : null}
      <ErrorMessage error={res.error} title="Could not load destinations" />
      {res.error ? (
        <button type="button" class="btn" onClick={() => void res.reload()}>
          Try again
        </button>
      ) : null}
      {res.loading && !res.data ? <Loading what="Loading destinations" /> : null}
      {res.data && rows.length === 0 ? (
        <p class="empty" data-testid="empty-state">
          No destinations yet. <a href="#/destinations/new">Create one</a> to deliver events to it.
        </p>
      ) : null}
      {rows.length > 0 ? (
        <div class="table-wrap" tabIndex={0} role="region" aria-label="Destinations">
          <table class="table">
            <caption class="sr-only">Destinations</caption>
            <thead>
              <tr>
                <th scope="col">Destination</th>
                <th scope="col">Events</th>
                <th scope="col">State</th>
                <th scope="col">Limits</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((d) => (
                <tr key={d.id} data-testid="destination-row" data-destination-id={d.id}>
                  <td>
                    <a href={href(`/destinations/${seg(d.id)}`)}>{d.name || d.url}</a>
                    <div class="sub mono">{d.name ? d.url : d.id}</div>
                  </td>
                  <td class="events-cell">{d.events.length ? d.events.join(', ') : <span class="muted">none</span>}</td>
                  <td>
                    <StatusBadge status={d.enabled ? 'enabled' : 'disabled'} />
                    {!d.enabled && d.disabled_reason ? <div class="sub">{d.disabled_reason}</div> : null}
                  </td>
                  <td>{limitsText(d)}</td>
                  <td>
                    <time dateTime={d.created_at}>{formatTime(d.created_at)}</time>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </>
  );
}
