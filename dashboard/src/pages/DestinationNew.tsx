import { useState } from 'preact/hooks';
import { api, type ApiFailure } from '../api';
import { DestinationForm, createBody, emptyValues, signatureText, type DestinationValues } from '../components/DestinationForm';
import { SecretOnce } from '../components/SecretOnce';
import { toFailure, useTitle } from '../hooks';
import { href, seg } from '../router';
import type { CreatedDestination } from '../types';

/** Create a destination, then show its signing secret once. */
export function DestinationNew() {
  useTitle('New destination');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiFailure | null>(null);
  const [created, setCreated] = useState<CreatedDestination | null>(null);

  const submit = async (v: DestinationValues) => {
    setBusy(true);
    setError(null);
    try {
      setCreated(await api.createDestination(createBody(v)));
    } catch (err) {
      setError(toFailure(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <p class="crumbs">
        <a href="#/destinations">← Destinations</a>
      </p>
      <div class="page-head">
        <h1 id="page-title" tabIndex={-1}>
          {created ? 'Destination created' : 'New destination'}
        </h1>
      </div>
      {created ? (
        <div role="status">
          <p>
            <strong>{created.name || created.url}</strong> <span class="mono muted">{created.id}</span> is ready.
          </p>
          <SecretOnce secret={created.signing_secret} title="Signing secret">
            <p class="small muted">
              Deliveries to this destination are signed with it: <span data-testid="created-signature">{signatureText(created.signature)}</span>.
            </p>
          </SecretOnce>
          <p class="actions">
            <a class="btn btn-primary" href={href(`/destinations/${seg(created.id)}`)} data-testid="destination-open-link">
              I copied it: open the destination
            </a>
          </p>
        </div>
      ) : (
        <DestinationForm mode="create" initial={emptyValues} submitLabel="Create destination" busy={busy} error={error} onSubmit={submit} />
      )}
    </>
  );
}
