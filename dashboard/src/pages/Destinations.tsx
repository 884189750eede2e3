import { useState } from 'preact/hooks';
import { api } from '../api';
import { DataTable } from '../components/DataTable';
import { LoadState } from '../components/LoadState';
import { StatusBadge } from '../components/StatusBadge';
import { takeFlash } from '../flash';
import { formatTime } from '../format';
import { useResource, useTitle } from '../hooks';
import { href, seg } from '../router';
import type { Destination } from '../types';

export function limitsText(d: Destination): string {
  const parts: string[] = [];
  if (d.rate_limit) parts.push(`${d.rate_limit.per_second}/s`);
  if (d.max_in_flight !== null) parts.push(`${d.max_in_flight} in flight`);
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
      <LoadState
        res={res}
        failed="Could not load destinations"
        loading="Loading destinations"
        empty={
          rows.length === 0 ? (
            <>
              No destinations yet. <a href="#/destinations/new">Create one</a> to deliver events to it.
            </>
          ) : null
        }
      />
      {rows.length > 0 ? (
        <DataTable label="Destinations" caption="Destinations" columns={['Destination', 'Events', 'State', 'Limits', 'Created']}>
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
        </DataTable>
      ) : null}
    </>
  );
}
