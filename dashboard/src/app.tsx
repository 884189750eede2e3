import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiFailure, getSession, onUnauthorized, setCsrfToken } from './api';
import { ErrorMessage } from './components/ErrorMessage';
import { TopBar } from './components/TopBar';
import { toFailure } from './hooks';
import { SignIn } from './pages/SignIn';
import { useLocation } from './router';
import { Route } from './routes';
import type { Session } from './types';

type State =
  | { kind: 'checking' }
  | { kind: 'signed-out'; message: string | null }
  | { kind: 'error'; error: ApiFailure }
  | { kind: 'ready'; session: Session };

/** Session gate, top bar and the page for the current hash. */
export function App() {
  const [state, setState] = useState<State>({ kind: 'checking' });
  const [checking, setChecking] = useState(false);
  const [signingOut, setSigningOut] = useState(false);
  const [signOutError, setSignOutError] = useState<ApiFailure | null>(null);
  const loc = useLocation();
  const path = `/${loc.segments.map(encodeURIComponent).join('/')}`;

  const check = useCallback(async () => {
    setChecking(true);
    try {
      const session = await getSession();
      setCsrfToken(session?.csrf_token ?? null);
      setState(session ? { kind: 'ready', session } : { kind: 'signed-out', message: null });
    } catch (err) {
      setState({ kind: 'error', error: toFailure(err) });
    } finally {
      setChecking(false);
    }
  }, []);

  useEffect(() => {
    onUnauthorized(() => {
      setCsrfToken(null);
      setState({ kind: 'signed-out', message: 'Your session has ended. Sign in again to continue.' });
    });
    void check();
    return () => onUnauthorized(null);
  }, [check]);

  const signOut = async () => {
    setSigningOut(true);
    setSignOutError(null);
    try {
      await api.logout();
    } catch (err) {
      const f = toFailure(err);
      if (f.status !== 401) {
        setSignOutError(f);
        setSigningOut(false);
        return;
      }
    }
    setCsrfToken(null);
    setSigningOut(false);
    setState({ kind: 'signed-out', message: 'You are signed out.' });
  };

  // Keyboard and screen-reader users land on the new page's heading after navigating.
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    const h = document.getElementById('page-title');
    if (h) h.focus({ preventScroll: false });
    window.scrollTo(0, 0);
  }, [path]);

  if (state.kind === 'checking') {
    return (
      <main class="center" aria-busy="true">
        <p class="muted" role="status">
          Loading Harepost…
        </p>
      </main>
    );
  }
  if (state.kind === 'signed-out') return <SignIn onRetry={check} checking={checking} message={state.message} />;
  if (state.kind === 'error') {
    return (
      <main class="center">
        <div class="signin-card">
          <p class="brand brand-large">Harepost</p>
          <h1>The dashboard could not start</h1>
          <ErrorMessage error={state.error} />
          <button type="button" class="btn" onClick={check} disabled={checking}>
            {checking ? 'Checking…' : 'Try again'}
          </button>
        </div>
      </main>
    );
  }
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => {
        e.preventDefault();
        document.getElementById('page-title')?.focus();
      }}>
        Skip to content
      </a>
      <TopBar session={state.session} section={loc.segments[0] ?? ''} signingOut={signingOut} onSignOut={signOut} />
      {signOutError ? (
        <div class="container">
          <ErrorMessage error={signOutError} title="Could not sign out" />
        </div>
      ) : null}
      <main id="main" class="container">
        <Route key={path} loc={loc} />
      </main>
    </>
  );
}
