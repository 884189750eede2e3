import { useRef, useState } from 'preact/hooks';
import { api, type ApiFailure } from '../api';
import { CopyButton } from '../components/CopyButton';
import { ErrorMessage } from '../components/ErrorMessage';
import { LoadState } from '../components/LoadState';
import { StatusBadge } from '../components/StatusBadge';
import { formatTime } from '../format';
import { toFailure, useResource, useTitle } from '../hooks';
import type { Domain } from '../types';

function DomainRow({ domain, onChange }: { domain: Domain; onChange: (d: Domain) => void }) {
  const [state, setState] = useState<{ busy: boolean; error: ApiFailure | null; checked: boolean }>({ busy: false, error: null, checked: false });
  const verify = async () => {
    setState({ busy: true, error: null, checked: false });
    try {
      const d = await api.verifyDomain(domain.domain);
      onChange(d);
      setState({ busy: false, error: null, checked: true });
    } catch (err) {
      setState({ busy: false, error: toFailure(err), checked: false });
    }
  };
  const verified = domain.status === 'verified';
  const headingId = `domain-${domain.domain.replace(/[^a-z0-9-]/gi, '-')}`;
  return (
    <li class="domain" data-testid="domain-row" data-domain={domain.domain} data-status={domain.status} aria-labelledby={headingId}>
      <div class="domain-head">
        <h2 id={headingId} class="domain-name mono">
          {domain.domain}
        </h2>
        <StatusBadge status={domain.status} testid="domain-status" />
        {verified ? <span class="muted small">since {formatTime(domain.verified_at)}</span> : null}
        {!verified ? (
          <button type="button" class="btn btn-small" data-testid="domain-verify-button" disabled={state.busy} onClick={verify} aria-describedby={headingId}>
            {state.busy ? 'Checking…' : 'Verify'}
          </button>
        ) : null}
      </div>
      {!verified ? (
        <div class="txt-record" data-testid="domain-record">
          <p class="small">Publish this DNS record, then press Verify:</p>
          <dl class="dl dl-record">
            <div>
              <dt>Type</dt>
              <dd class="mono">{domain.record.type}</dd>
            </div>
            <div>
              <dt>Name</dt>
              <dd>
                <code class="break" data-testid="domain-record-name">
                  {domain.record.name}
                </code>{' '}
                <CopyButton text={domain.record.name} what={`record name for ${domain.domain}`} />
              </dd>
            </div>
            <div>
              <dt>Value</dt>
              <dd>
                <code class="break" data-testid="domain-record-value">
                  {domain.record.value}
                </code>{' '}
                <CopyButton text={domain.record.value} what={`record value for ${domain.domain}`} />
              </dd>
            </div>
          </dl>
        </div>
      ) : null}
      <ErrorMessage error={state.error} title="Verification failed" />
      <div role="status" aria-live="polite" data-testid="domain-verify-result">
        {state.checked ? (
          verified ? (
            <p class="alert alert-success">Verified: you can send to {domain.domain} and its subdomains.</p>
          ) : (
            <p class="alert alert-info">
              Still pending: the TXT record was not found yet. DNS changes can take a few minutes to appear; try again shortly.
            </p>
          )
        ) : null}
      </div>
    </li>
  );
}

/** Sending domains: add, see the TXT record to publish, verify. */
export function Domains() {
  useTitle('Domains');
  const res = useResource((signal) => api.listDomains(signal), []);
  const [input, setInput] = useState('');
  const inputRef = useRef<HTMLInputElement>(null);
  const [add, setAdd] = useState<{ busy: boolean; error: ApiFailure | null; message: string | null }>({ busy: false, error: null, message: null });
  const rows = res.data?.data ?? [];

  const replace = (d: Domain) => {
    const list = res.data?.data ?? [];
    const next = list.some((x) => x.domain === d.domain) ? list.map((x) => (x.domain === d.domain ? d : x)) : [d, ...list];
    res.setData({ data: next });
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    setAdd({ busy: true, error: null, message: null });
    try {
      const d = await api.addDomain((inputRef.current?.value ?? input).trim());
      const existed = rows.some((x) => x.domain === d.domain);
      replace(d);
      setInput('');
      setAdd({ busy: false, error: null, message: existed ? `${d.domain} was already added.` : `${d.domain} added. Publish its TXT record, then verify.` });
    } catch (err) {
      setAdd({ busy: false, error: toFailure(err), message: null });
    }
  };

  return (
    <>
      <div class="page-head">
        <h1 id="page-title" tabIndex={-1}>
          Domains
        </h1>
      </div>
      <p class="muted small">
        A send’s target must be on a verified domain (or a subdomain of one). Verification looks up a DNS TXT record. Domains belong to the account, in
        live and test mode alike.
      </p>
      <form class="form form-inline" onSubmit={submit} data-testid="domain-add-form" noValidate>
        <div class="field">
          <label for="domain-add">Add a domain</label>
          <div class="search-row">
            <input
              id="domain-add"
              ref={inputRef}
              type="text"
              inputMode="url"
              autoComplete="off"
              spellcheck={false}
              placeholder="your-app.com"
              data-testid="domain-add-input"
              value={input}
              aria-invalid={add.error?.field === 'domain' ? true : undefined}
              aria-describedby={add.error ? 'domain-add-error' : undefined}
              onInput={(e) => setInput(e.currentTarget.value)}
            />
            <button type="submit" class="btn btn-primary" data-testid="domain-add-submit" disabled={add.busy}>
              {add.busy ? 'Adding…' : 'Add domain'}
            </button>
          </div>
        </div>
        <div id="domain-add-error">
          <ErrorMessage error={add.error} title="Not added" />
        </div>
        <div role="status" aria-live="polite">
          {add.message ? <p class="alert alert-success">{add.message}</p> : null}
        </div>
      </form>
      <LoadState res={res} failed="Could not load domains" loading="Loading domains" empty={rows.length === 0 ? 'No domains yet.' : null} />
      {rows.length > 0 ? (
        <ul class="domains" aria-label="Domains">
          {rows.map((d) => (
            <DomainRow key={d.domain} domain={d} onChange={replace} />
          ))}
        </ul>
      ) : null}
    </>
  );
}
