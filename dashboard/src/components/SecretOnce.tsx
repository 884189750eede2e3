import type { ComponentChildren } from 'preact';
import { CopyButton } from './CopyButton';

/** A signing secret shown once, with a copy button and a warning. */
export function SecretOnce({ secret, title, children }: { secret: string; title: string; children?: ComponentChildren }) {
  return (
    <section class="secret-box" aria-labelledby="secret-title">
      <h2 id="secret-title">{title}</h2>
      <p class="warning">
        <strong>Copy it now: it will not be shown again.</strong> Your receiver needs it to verify signatures.
      </p>
      <div class="secret-line">
        <code class="secret" data-testid="destination-secret">
          {secret}
        </code>
        <CopyButton text={secret} what="signing secret" />
      </div>
      {children}
    </section>
  );
}
