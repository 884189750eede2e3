import { useEffect, useRef } from 'preact/hooks';
import { useTitle } from '../hooks';
import { PORTAL_BRANDED, PORTAL_TITLE } from '../portal';

/** Shown when there is no session (401). Sign-in happens through a one-time link, never a password. */
export function SignIn({ onRetry, checking, message }: { onRetry: () => void; checking: boolean; message?: string | null }) {
  useTitle('Sign in');
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), []);
  return (
    <main class="signin" data-testid="signin-screen">
      <div class="signin-card">
        <p class="brand brand-large" data-testid="brand">
          {PORTAL_TITLE}
        </p>
        <h1 ref={heading} tabIndex={-1}>
          Sign in with a link
        </h1>
        {message ? (
          <p class="alert alert-info" role="status">
            {message}
          </p>
        ) : null}
        {PORTAL_BRANDED ? (
          <p>Open the sign-in link you were given. A link works once, within 15 minutes; ask for a new one if yours has been used.</p>
        ) : (
          <p>
            Run <code>harepost login-link --account &lt;ID&gt;</code> (or look at <code>harepost dev</code> output) and open the link it
            prints.
          </p>
        )}
        <p class="muted small">The link signs this browser in and brings you back here. There is no password.</p>
        <button type="button" class="btn" onClick={onRetry} disabled={checking} data-testid="signin-retry">
          {checking ? 'Checking…' : 'I opened the link: check again'}
        </button>
      </div>
    </main>
  );
}
