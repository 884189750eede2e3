import { PORTAL_TITLE } from '../portal';
import type { Mode, Session } from '../types';

const LINKS = [
  { path: '/', label: 'Home', testid: 'nav-home', section: '' },
  { path: '/deliveries', label: 'Deliveries', testid: 'nav-deliveries', section: 'deliveries' },
  { path: '/dead-letters', label: 'Dead letters', testid: 'nav-dead-letters', section: 'dead-letters' },
  { path: '/destinations', label: 'Destinations', testid: 'nav-destinations', section: 'destinations' },
  { path: '/domains', label: 'Domains', testid: 'nav-domains', section: 'domains' },
  { path: '/events', label: 'Events', testid: 'nav-events', section: 'events' },
] as const;

const MODE_LABEL: Record<Mode, string> = { live: 'LIVE', test: 'TEST MODE' };

interface Props {
  session: Session;
  /** The first path segment of the page shown ('' for Home). */
  section: string;
  signingOut: boolean;
  onSignOut: () => void;
  /** True while the session is moving to the other mode. */
  switchingMode: boolean;
  onSwitchMode: (mode: Mode) => void;
}

/** Product name (HAREPOST_PORTAL_TITLE), the mode badge and its switch, account, navigation and Sign out. */
export function TopBar({ session, section, signingOut, onSignOut, switchingMode, onSwitchMode }: Props) {
  const test = session.mode === 'test';
  const other: Mode = test ? 'live' : 'test';
  return (
    <header class={test ? 'topbar topbar-test' : 'topbar'}>
      <div class="topbar-row">
        <a class="brand" href="#/" data-testid="brand">
          {PORTAL_TITLE}
        </a>
        <span
          class={`mode-badge mode-badge-${session.mode}`}
          data-testid="mode-badge"
          data-mode={session.mode}
          title={test ? 'You are looking at test-mode data' : 'You are looking at live data'}
        >
          <span class="sr-only">Mode: </span>
          {MODE_LABEL[session.mode]}
        </span>
        <button
          type="button"
          class="btn btn-small mode-switch"
          data-testid="mode-switch"
          disabled={switchingMode}
          onClick={() => onSwitchMode(other)}
        >
          {switchingMode ? 'Switching…' : `Switch to ${other} mode`}
        </button>
        <span class="account" data-testid="account-id" title="Account">
          <span class="sr-only">Account </span>
          {session.account_id}
        </span>
        <button type="button" class="btn btn-small signout" data-testid="signout" disabled={signingOut} onClick={onSignOut}>
          {signingOut ? 'Signing out…' : 'Sign out'}
        </button>
      </div>
      <nav class="nav" aria-label="Main">
        <ul>
          {LINKS.map((l) => (
            <li key={l.path}>
              <a href={`#${l.path}`} data-testid={l.testid} aria-current={section === l.section ? 'page' : undefined}>
                {l.label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
    </header>
  );
}
