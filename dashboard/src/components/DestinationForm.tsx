import type { ComponentChildren, InputHTMLAttributes } from 'preact';
import { useRef, useState } from 'preact/hooks';
import type { ApiFailure } from '../api';
import { splitList } from '../format';
import type { Destination, DestinationChanges, NewDestination, SchemeName, SignatureScheme } from '../types';
import { ErrorMessage, FieldError } from './ErrorMessage';

export interface DestinationValues {
  url: string;
  name: string;
  description: string;
  events: string;
  enabled: boolean;
  perSecond: string;
  maxInFlight: string;
  /** A scheme's name; '' = the server's default (create only); 'custom' = a custom header set through the API. */
  signature: string;
}

export const emptyValues: DestinationValues = {
  url: '',
  name: '',
  description: '',
  events: '',
  enabled: true,
  perSecond: '',
  maxInFlight: '',
  signature: '',
};

/** The schemes the form offers (a custom header is set through the API and shown here as "custom"). */
export const SIGNATURE_OPTIONS: ReadonlyArray<{ value: SchemeName; label: string }> = [
  { value: 'standard-webhooks', label: 'Standard Webhooks (webhook-signature)' },
  { value: 'posthawk', label: 'Posthawk (X-Posthawk-Signature)' },
  { value: 'harbor', label: 'Harbor (Harbor-Signature, Stripe-style)' },
  { value: 'github', label: 'GitHub (X-Hub-Signature-256)' },
];

/** "Harbor (Harbor-Signature, Stripe-style)", or a custom header's shape. */
export function signatureText(s: SignatureScheme): string {
  if (typeof s === 'string') return SIGNATURE_OPTIONS.find((o) => o.value === s)?.label ?? s;
  return s.timestamped ? `Custom: ${s.header}: t=<timestamp>,v1=<${s.encoding}>` : `Custom: ${s.header}: ${s.prefix}<${s.encoding}>`;
}

/** The form's value for a destination's scheme. */
export function signatureValue(s: SignatureScheme): string {
  return typeof s === 'string' ? s : 'custom';
}

export function valuesOf(d: Destination): DestinationValues {
  return {
    url: d.url,
    name: d.name ?? '',
    description: d.description ?? '',
    events: d.events.join(', '),
    enabled: d.enabled,
    perSecond: d.rate_limit ? String(d.rate_limit.per_second) : '',
    maxInFlight: d.max_in_flight !== null ? String(d.max_in_flight) : '',
    signature: signatureValue(d.signature),
  };
}

type FieldKey = 'url' | 'name' | 'description' | 'events' | 'enabled' | 'perSecond' | 'maxInFlight' | 'signature';

/** Which input an API error's `field` points at ('events[2]' → events, 'rate_limit.per_second' → perSecond). */
export function inputFor(field: string | undefined): FieldKey | null {
  if (!field) return null;
  const head = field.split(/[.[]/)[0];
  switch (head) {
    case 'url':
    case 'name':
    case 'description':
    case 'events':
    case 'enabled':
    case 'signature':
      return head;
    case 'rate_limit':
      return 'perSecond';
    case 'max_in_flight':
      return 'maxInFlight';
    default:
      return null;
  }
}

/** Client-side checks of the two limits (everything else the API judges). */
function checkLimits(v: DestinationValues): { key: FieldKey; message: string } | null {
  if (v.perSecond.trim() !== '') {
    const n = Number(v.perSecond);
    if (!Number.isFinite(n) || n <= 0) return { key: 'perSecond', message: 'Rate limit must be a number above 0, or empty for no limit.' };
  }
  if (v.maxInFlight.trim() !== '') {
    const n = Number(v.maxInFlight);
    if (!Number.isInteger(n) || n < 1) return { key: 'maxInFlight', message: 'Max in flight must be a whole number of 1 or more, or empty for no limit.' };
  }
  return null;
}

const limitOf = (text: string) => (text.trim() === '' ? null : Number(text));

/** The form's signature value as a scheme to send: none for '' (the server's default) and 'custom' (kept as it is). */
const schemeOf = (value: string): SchemeName | undefined => SIGNATURE_OPTIONS.find((o) => o.value === value)?.value;

/** The body of POST /v1/destinations: only the fields given. */
export function createBody(v: DestinationValues): NewDestination {
  const body: NewDestination = { url: v.url.trim(), events: splitList(v.events), enabled: v.enabled };
  if (v.name.trim() !== '') body.name = v.name.trim();
  if (v.description.trim() !== '') body.description = v.description.trim();
  const rate = limitOf(v.perSecond);
  if (rate !== null) body.rate_limit = { per_second: rate };
  const inFlight = limitOf(v.maxInFlight);
  if (inFlight !== null) body.max_in_flight = inFlight;
  const scheme = schemeOf(v.signature);
  if (scheme !== undefined) body.signature = scheme;
  return body;
}

/** The body of PATCH /v1/destinations/{id}: only the fields that changed. */
export function patchBody(before: DestinationValues, v: DestinationValues): DestinationChanges {
  const body: DestinationChanges = {};
  if (v.url.trim() !== before.url) body.url = v.url.trim();
  if (v.name.trim() !== before.name) body.name = v.name.trim() === '' ? null : v.name.trim();
  if (v.description.trim() !== before.description) body.description = v.description.trim() === '' ? null : v.description.trim();
  const events = splitList(v.events);
  if (events.join(',') !== splitList(before.events).join(',')) body.events = events;
  if (v.enabled !== before.enabled) body.enabled = v.enabled;
  if (limitOf(v.perSecond) !== limitOf(before.perSecond)) {
    const rate = limitOf(v.perSecond);
    body.rate_limit = rate === null ? null : { per_second: rate };
  }
  if (limitOf(v.maxInFlight) !== limitOf(before.maxInFlight)) body.max_in_flight = limitOf(v.maxInFlight);
  const scheme = schemeOf(v.signature);
  if (v.signature !== before.signature && scheme !== undefined) body.signature = scheme;
  return body;
}

type TextKey = Exclude<FieldKey, 'enabled' | 'signature'>;

/** What each text field takes from the form it is in. */
interface FormState {
  /** The prefix of the inputs' ids: 'new' (create form) or 'edit'. */
  p: string;
  v: DestinationValues;
  /** The field the error shown is about, and its message. */
  errKey: FieldKey | null;
  errText: string | null | undefined;
  set: (k: TextKey, value: string) => void;
}

/**
 * One labelled input for the value `k` (id `<p>-<id>`, `id` being `k` unless given), with its hint
 * (id `<p>-<id>-hint`) and the error message when the error is about it (id `<k>-error`).
 */
function TextField({
  form,
  k,
  id = k,
  label,
  optional = false,
  testid,
  hint,
  input,
}: {
  form: FormState;
  k: TextKey;
  id?: string;
  label: string;
  /** Marks the label "(optional)". */
  optional?: boolean;
  testid: string;
  hint?: ComponentChildren;
  /** The input's own attributes (type, placeholder, …). */
  input: InputHTMLAttributes<HTMLInputElement>;
}) {
  const inputId = `${form.p}-${id}`;
  const hintId = hint ? `${inputId}-hint` : undefined;
  const invalid = form.errKey === k;
  const described = [hintId, invalid ? `${k}-error` : undefined].filter(Boolean).join(' ');
  return (
    <div class="field">
      <label for={inputId}>
        {label}
        {optional ? (
          <>
            {' '}
            <span class="optional">(optional)</span>
          </>
        ) : null}
      </label>
      <input
        id={inputId}
        {...input}
        data-testid={testid}
        value={form.v[k]}
        aria-invalid={invalid ? true : undefined}
        aria-describedby={described || undefined}
        onInput={(e) => form.set(k, e.currentTarget.value)}
      />
      {hint ? (
        <p class="hint" id={hintId}>
          {hint}
        </p>
      ) : null}
      <FieldError id={`${k}-error`} message={invalid ? form.errText : null} />
    </div>
  );
}

interface Props {
  mode: 'create' | 'edit';
  initial: DestinationValues;
  submitLabel: string;
  busy: boolean;
  error: ApiFailure | null;
  onSubmit: (values: DestinationValues) => void;
}

/** URL, name, description, events, signature scheme, enabled and the two flow-control limits. */
export function DestinationForm({ mode, initial, submitLabel, busy, error, onSubmit }: Props) {
  const [v, setV] = useState<DestinationValues>(initial);
  // The latest values, even before a re-render (a submit can follow an input in the same task).
  const latest = useRef<DestinationValues>(initial);
  const [local, setLocal] = useState<{ key: FieldKey; message: string } | null>(null);
  const set = <K extends keyof DestinationValues>(k: K, value: DestinationValues[K]) => {
    latest.current = { ...latest.current, [k]: value };
    setV(latest.current);
  };
  const errKey = local?.key ?? inputFor(error?.field);
  const errText = local?.message ?? error?.message;
  const fieldErr = (k: FieldKey) => (errKey === k ? errText : null);
  const p = mode === 'create' ? 'new' : 'edit';
  const form: FormState = { p, v, errKey, errText, set };

  return (
    <form
      class="form"
      data-testid={mode === 'create' ? 'destination-create-form' : 'destination-edit-form'}
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        const values = latest.current;
        const problem = checkLimits(values);
        setLocal(problem);
        if (!problem) onSubmit(values);
      }}
    >
      <ErrorMessage error={local ? { code: 'invalid_request', message: local.message } : error} title="Not saved" />
      <TextField
        form={form}
        k="url"
        label="URL"
        testid="destination-url-input"
        input={{ type: 'url', required: true, inputMode: 'url', placeholder: 'https://your-app.example/webhooks' }}
      />
      <div class="field-row">
        <TextField form={form} k="name" label="Name" optional testid="destination-name-input" input={{ type: 'text' }} />
        <TextField form={form} k="description" label="Description" optional testid="destination-description-input" input={{ type: 'text' }} />
      </div>
      <TextField
        form={form}
        k="events"
        label="Events"
        testid="destination-events-input"
        input={{ type: 'text', placeholder: 'order.created, invoice.* or *', autoComplete: 'off', spellcheck: false }}
        hint={
          <>
            Separate with commas or spaces. Exact types, a prefix like <code>order.*</code>, or <code>*</code> for all.
          </>
        }
      />
      <div class="field">
        <label for={`${p}-signature`}>Signature scheme</label>
        <select
          id={`${p}-signature`}
          data-testid="destination-signature-input"
          value={v.signature}
          aria-invalid={errKey === 'signature' ? true : undefined}
          aria-describedby={[`${p}-signature-hint`, errKey === 'signature' ? 'signature-error' : ''].filter(Boolean).join(' ')}
          onChange={(e) => set('signature', e.currentTarget.value)}
        >
          {mode === 'create' ? <option value="">Server default</option> : null}
          {SIGNATURE_OPTIONS.map((o) => (
            <option key={o.value} value={o.value}>
              {o.label}
            </option>
          ))}
          {v.signature === 'custom' ? (
            <option value="custom" disabled>
              Custom header (set through the API)
            </option>
          ) : null}
        </select>
        <p class="hint" id={`${p}-signature-hint`}>
          The headers each delivery is signed with, so the receiver you have verifies it. See “Verifying signatures” in the README.
        </p>
        <FieldError id="signature-error" message={fieldErr('signature')} />
      </div>
      <div class="field field-check">
        <input
          id={`${p}-enabled`}
          type="checkbox"
          data-testid="destination-enabled-input"
          checked={v.enabled}
          onChange={(e) => set('enabled', e.currentTarget.checked)}
        />
        <label for={`${p}-enabled`}>Enabled</label>
        <FieldError id="enabled-error" message={fieldErr('enabled')} />
      </div>
      <fieldset class="fieldset">
        <legend>Flow control</legend>
        <div class="field-row">
          <TextField
            form={form}
            k="perSecond"
            id="rate"
            label="Rate limit (deliveries per second)"
            testid="destination-rate-input"
            input={{ type: 'number', min: '0', step: 'any', inputMode: 'decimal', placeholder: 'No limit' }}
          />
          <TextField
            form={form}
            k="maxInFlight"
            id="inflight"
            label="Max in flight"
            testid="destination-max-in-flight-input"
            input={{ type: 'number', min: '1', step: '1', inputMode: 'numeric', placeholder: 'No limit' }}
          />
        </div>
        <p class="hint">Leave empty for no limit.</p>
      </fieldset>
      <div class="form-actions">
        <button type="submit" class="btn btn-primary" data-testid="destination-submit" disabled={busy}>
          {busy ? 'Saving…' : submitLabel}
        </button>
      </div>
    </form>
  );
}
