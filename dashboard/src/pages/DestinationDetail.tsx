import { useState } from 'preact/hooks';
import { api, type ApiFailure } from '../api';
import { CodeBlock } from '../components/CodeBlock';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { CopyButton } from '../components/CopyButton';
import { DeliveryList } from '../components/DeliveryList';
import { DestinationForm, patchBody, signatureText, valuesOf, type DestinationValues } from '../components/DestinationForm';
import { ErrorMessage } from '../components/ErrorMessage';
import { Loading } from '../components/Loading';
import { SecretOnce } from '../components/SecretOnce';
import { StatusBadge } from '../components/StatusBadge';
import { setFlash } from '../flash';
import { formatMs, formatTime } from '../format';
import { toFailure, useResource, useTitle } from '../hooks';
import { href, navigate } from '../router';
import type { Destination, RotatedSecret, TestResult } from '../types';
import { limitsText } from './Destinations';

type Action = { busy: boolean; error: ApiFailure | null };
const idle: Action = { busy: false, error: null };

function Facts({ d }: { d: Destination }) {
  return (
    <dl class="dl" data-testid="destination-facts">
      <div>
        <dt>Id</dt>
        <dd class="mono">{d.id}</dd>
      </div>
      <div>
        <dt>URL</dt>
        <dd class="mono break">{d.url}</dd>
      </div>
      <div>
        <dt>State</dt>
        <dd>
          <StatusBadge status={d.enabled ? 'enabled' : 'disabled'} testid="destination-state" />
          {!d.enabled && d.disabled_reason ? <span class="muted"> {d.disabled_reason}</span> : null}
        </dd>
      </div>
      <div>
        <dt>Events</dt>
        <dd>{d.events.length ? d.events.join(', ') : <span class="muted">none (it receives no events)</span>}</dd>
      </div>
      <div>
        <dt>Limits</dt>
        <dd data-testid="destination-limits">{limitsText(d)}</dd>
      </div>
      <div>
        <dt>Signature</dt>
        <dd data-testid="destination-signature">{signatureText(d.signature)}</dd>
      </div>
      <div>
        <dt>Retry policy</dt>
        <dd>
          {d.delivery.max_attempts} attempts, {d.delivery.backoff} from {formatMs(d.delivery.base_delay_ms)}, timeout{' '}
          {formatMs(d.delivery.timeout_ms)}
        </dd>
      </div>
      {Object.keys(d.headers).length ? (
        <div>
          <dt>Headers</dt>
          <dd class="mono break">
            {Object.entries(d.headers).map(([k, v]) => (
              <div key={k}>
                {k}: {v}
              </div>
            ))}
          </dd>
        </div>
      ) : null}
      {d.description ? (
        <div>
          <dt>Description</dt>
          <dd>{d.description}</dd>
        </div>
      ) : null}
      <div>
        <dt>Created</dt>
        <dd>{formatTime(d.created_at)}</dd>
      </div>
      <div>
        <dt>Updated</dt>
        <dd>{formatTime(d.updated_at)}</dd>
      </div>
    </dl>
  );
}

function TestPanel({ id }: { id: string }) {
  const [state, setState] = useState<Action>(idle);
  const [result, setResult] = useState<TestResult | null>(null);
  const run = async () => {
    setState({ busy: true, error: null });
    setResult(null);
    try {
      setResult(await api.testDestination(id));
      setState(idle);
    } catch (err) {
      setState({ busy: false, error: toFailure(err) });
    }
  };
  return (
    <section class="panel" aria-labelledby="test-title">
      <h2 id="test-title">Send a test</h2>
      <p class="muted small">One signed request of type <code>harepost.test</code>, sent now. It is not recorded as a delivery.</p>
      <button type="button" class="btn" data-testid="send-test-button" disabled={state.busy} onClick={run}>
        {state.busy ? 'Sending…' : 'Send test'}
      </button>
      <ErrorMessage error={state.error} title="Test not sent" />
      <div role="status" aria-live="polite">
        {result ? (
          <div class={result.success ? 'test-result ok' : 'test-result fail'} data-testid="test-result" data-success={String(result.success)}>
            <p>
              <StatusBadge status={result.success ? 'delivered' : 'failed'} />{' '}
              {result.status !== null ? <>Answered HTTP {result.status}</> : <>No HTTP answer</>}
              {result.error ? <> · {result.error}</> : null}
            </p>
            {result.body ? <CodeBlock value={result.body} label="Test response body" /> : <p class="muted small">Empty response body.</p>}
          </div>
        ) : null}
      </div>
    </section>
  );
}

function SecretPanel({ id }: { id: string }) {
  const [confirming, setConfirming] = useState(false);
  const [state, setState] = useState<Action>(idle);
  const [rotated, setRotated] = useState<RotatedSecret | null>(null);
  const [reveal, setReveal] = useState<Action>(idle);
  const [revealed, setRevealed] = useState<string | null>(null);
  const readSecret = async () => {
    setReveal({ busy: true, error: null });
    try {
      setRevealed((await api.getDestinationSecret(id)).signing_secret);
      setReveal(idle);
    } catch (err) {
      setReveal({ busy: false, error: toFailure(err) });
    }
  };
  const rotate = async () => {
    setState({ busy: true, error: null });
    try {
      setRotated(await api.rotateSecret(id));
      setRevealed(null); // it showed the secret before this rotation
      setState(idle);
      setConfirming(false);
    } catch (err) {
      setState({ busy: false, error: toFailure(err) });
    }
  };
  return (
    <section class="panel" aria-labelledby="secret-panel-title">
      <h2 id="secret-panel-title">Signing secret</h2>
      <p class="muted small">
        It can be read again at any time here (or with <code>GET /v1/destinations/{'{id}'}/secret</code>). After a rotation the old
        secret keeps signing for 24 hours.
      </p>
      {revealed === null ? (
        <button type="button" class="btn" data-testid="reveal-secret-button" disabled={reveal.busy} onClick={readSecret}>
          {reveal.busy ? 'Reading…' : 'Reveal secret'}
        </button>
      ) : (
        <>
          <div class="secret-line">
            <code class="secret" data-testid="revealed-secret">
              {revealed}
            </code>
            <CopyButton text={revealed} what="signing secret" />
          </div>
          <button type="button" class="btn" data-testid="hide-secret-button" onClick={() => setRevealed(null)}>
            Hide secret
          </button>
        </>
      )}
      <ErrorMessage error={reveal.error} title="Secret not read" />{' '}
      <button
        type="button"
        class="btn"
        data-testid="rotate-secret-button"
        onClick={() => {
          setState(idle);
          setConfirming(true);
        }}
      >
        Rotate secret
      </button>
      {!confirming ? <ErrorMessage error={state.error} title="Not rotated" /> : null}
      {confirming ? (
        <ConfirmDialog
          title="Rotate the signing secret?"
          confirmLabel="Rotate"
          busy={state.busy}
          onConfirm={rotate}
          onCancel={() => setConfirming(false)}
        >
          <p>
            A new secret starts signing now. For 24 more hours deliveries also carry a signature made with the current one — with Standard
            Webhooks, harbor and timestamped custom headers; posthawk, github and other single-value headers carry only the new one.
          </p>
          <ErrorMessage error={state.error} title="Not rotated" />
        </ConfirmDialog>
      ) : null}
      {rotated ? (
        <SecretOnce secret={rotated.signing_secret} title="New signing secret">
          <p class="small muted">The previous secret stops signing at {formatTime(rotated.previous_secret_expires_at)}.</p>
        </SecretOnce>
      ) : null}
    </section>
  );
}

function DeletePanel({ d }: { d: Destination }) {
  const [confirming, setConfirming] = useState(false);
  const [state, setState] = useState<Action>(idle);
  const remove = async () => {
    setState({ busy: true, error: null });
    try {
      await api.deleteDestination(d.id);
      setFlash(`Destination ${d.name || d.url} deleted.`);
      navigate('#/destinations');
    } catch (err) {
      setState({ busy: false, error: toFailure(err) });
    }
  };
  return (
    <section class="panel panel-danger" aria-labelledby="delete-title">
      <h2 id="delete-title">Delete</h2>
      <p class="muted small">Its pending deliveries end as dead letters and it gets no new ones. This cannot be undone.</p>
      <button
        type="button"
        class="btn btn-danger"
        data-testid="delete-destination-button"
        onClick={() => {
          setState(idle);
          setConfirming(true);
        }}
      >
        Delete destination
      </button>
      {confirming ? (
        <ConfirmDialog
          title="Delete this destination?"
          confirmLabel="Delete"
          danger
          busy={state.busy}
          onConfirm={remove}
          onCancel={() => setConfirming(false)}
        >
          <p>
            <strong>{d.name || d.url}</strong> will be deleted. Its queued and retrying deliveries become dead letters.
          </p>
          <ErrorMessage error={state.error} title="Not deleted" />
        </ConfirmDialog>
      ) : null}
    </section>
  );
}

/** One destination: facts, edit, test, rotate secret, delete, recent deliveries. */
export function DestinationDetail({ id }: { id: string }) {
  const res = useResource((signal) => api.getDestination(id, signal), [id]);
  const d = res.data;
  useTitle(d ? `Destination ${d.name || d.url}` : 'Destination');
  const [save, setSave] = useState<Action & { saved: boolean; nothing: boolean }>({ ...idle, saved: false, nothing: false });
  const [formKey, setFormKey] = useState(0);

  const submit = async (v: DestinationValues) => {
    if (!d) return;
    const body = patchBody(valuesOf(d), v);
    if (Object.keys(body).length === 0) {
      setSave({ ...idle, saved: false, nothing: true });
      return;
    }
    setSave({ busy: true, error: null, saved: false, nothing: false });
    try {
      res.setData(await api.updateDestination(d.id, body));
      setFormKey((k) => k + 1);
      setSave({ ...idle, saved: true, nothing: false });
    } catch (err) {
      setSave({ busy: false, error: toFailure(err), saved: false, nothing: false });
    }
  };

  return (
    <>
      <p class="crumbs">
        <a href="#/destinations">← Destinations</a>
      </p>
      <div class="page-head">
        <h1 id="page-title" tabIndex={-1}>
          {d ? d.name || d.url : id}
        </h1>
        {d ? <StatusBadge status={d.enabled ? 'enabled' : 'disabled'} /> : null}
      </div>
      <ErrorMessage error={res.error} title="Could not load this destination" />
      {res.error && !d ? (
        <button type="button" class="btn" onClick={() => void res.reload()}>
          Try again
        </button>
      ) : null}
      {!d && res.loading ? <Loading what="Loading the destination" /> : null}
      {d ? (
        <>
          <div class="grid-2">
            <section class="panel" aria-labelledby="facts-title">
              <h2 id="facts-title">Details</h2>
              <Facts d={d} />
            </section>
            <section class="panel" aria-labelledby="edit-title">
              <h2 id="edit-title">Edit</h2>
              <div role="status" aria-live="polite">
                {save.saved ? <p class="alert alert-success">Saved.</p> : null}
                {save.nothing ? <p class="alert alert-info">Nothing changed.</p> : null}
              </div>
              <DestinationForm key={formKey} mode="edit" initial={valuesOf(d)} submitLabel="Save changes" busy={save.busy} error={save.error} onSubmit={submit} />
            </section>
          </div>
          <div class="grid-2">
            <TestPanel id={d.id} />
            <SecretPanel id={d.id} />
          </div>
          <section class="panel" aria-labelledby="recent-title">
            <div class="panel-head">
              <h2 id="recent-title">Recent deliveries</h2>
              <a href={href('/dead-letters', { destination_id: d.id })}>Its dead letters →</a>
            </div>
            <DeliveryList filter={{ destination_id: d.id }} caption="Recent deliveries to this destination" limit={10} empty="No deliveries to this destination yet." />
          </section>
          <DeletePanel d={d} />
        </>
      ) : null}
    </>
  );
}
