import type { ComponentChildren } from 'preact';
import { CopyButton } from './CopyButton';

/**
 * A signing secret just made (on create or rotate), with a copy button. It can be read again
 * later (the destination page's "Reveal secret", GET /v1/destinations/{id}/secret).
 */
export function SecretOnce({ secret, title, children }: { secret: string; title: string; children?: ComponentChildren }) {
  return (
    <section class="secret-box" aria-labelledby="secret-title">
      <h2 id="secret-title">{title}</h2>
      <p class="warning">
        <strong>Copy it now.</strong> Your receiver needs it to verify signatures. You can read it again on the
        destination’s page (<em>Reveal secret</em>); keep it as secret as a password.
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
