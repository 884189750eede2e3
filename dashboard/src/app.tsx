import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiFailure, getSession, onUnauthorized, setCsrfToken } from './api';
import { ErrorMessage } from './components/ErrorMessage';
import { TopBar } from './components/TopBar';
import { toFailure } from './hooks';
import { SignIn } from './pages/SignIn';
import { PORTAL_TITLE } from './portal';
import { navigate, useLocation } from './router';
import { Route } from './routes';
import type { Mode, Session } from './types';

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
  const [switchingMode, setSwitchingMode] = useState(false);
  const [switchError, setSwitchError] = useState<ApiFailure | null>(null);
  /** Said to screen readers after a switch: the page under the top bar now shows the other mode. */
  const [modeNotice, setModeNotice] = useState('');
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

  /**
   * Moves the session to `mode` of the same account. The server answers with the new session (a
   * new CSRF token); the page is shown again from scratch, and a detail page gives way to its
   * list, since what it showed belongs to the other mode.
   */
  const switchMode = async (mode: Mode) => {
    setSwitchingMode(true);
    setSwitchError(null);
    try {
      const session = await api.switchMode(mode);
      setCsrfToken(session.csrf_token);
      setState({ kind: 'ready', session });
      setModeNotice(`Now showing ${mode === 'test' ? 'test-mode' : 'live'} data.`);
      const section = loc.segments[0];
      if (loc.segments.length > 1 || loc.query.toString() !== '') navigate(section ? `/${encodeURIComponent(section)}` : '/', true);
    } catch (err) {
      const f = toFailure(err);
      if (f.status !== 401) setSwitchError(f);
    } finally {
      setSwitchingMode(false);
    }
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
          Loading {PORTAL_TITLE}…
        </p>
      </main>
    );
  }
  if (state.kind === 'signed-out') return <SignIn onRetry={check} checking={checking} message={state.message} />;
  if (state.kind === 'error') {
    return (
      <main class="center">
        <div class="signin-card">
          <p class="brand brand-large">{PORTAL_TITLE}</p>
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
      <TopBar
        session={state.session}
        section={loc.segments[0] ?? ''}
        signingOut={signingOut}
        onSignOut={signOut}
        switchingMode={switchingMode}
        onSwitchMode={switchMode}
      />
      <p class="sr-only" role="status" data-testid="mode-notice">
        {modeNotice}
      </p>
      {signOutError ? (
        <div class="container">
          <ErrorMessage error={signOutError} title="Could not sign out" />
        </div>
      ) : null}
      {switchError ? (
        <div class="container">
          <ErrorMessage error={switchError} title="Could not switch mode" />
        </div>
      ) : null}
      <main id="main" class="container">
        {/* keyed by mode too: after a switch every page loads its data again, in the new mode */}
        <Route key={`${state.session.mode}:${path}`} loc={loc} />
      </main>
    </>
  );
}
