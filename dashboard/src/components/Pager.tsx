import { useState } from 'preact/hooks';

/** "Newest" / "← Newer" / "Older →" over opaque cursors. */
export function Pager({
  page,
  hasOlder,
  onNewest,
  onNewer,
  onOlder,
  busy,
}: {
  page: number;
  hasOlder: boolean;
  onNewest: () => void;
  onNewer: () => void;
  onOlder: () => void;
  busy?: boolean;
}) {
  if (page === 0 && !hasOlder) return null;
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" class="btn btn-small" data-testid="page-newest" disabled={page === 0 || busy} onClick={onNewest}>
        Newest
      </button>
      <button type="button" class="btn btn-small" data-testid="page-newer" disabled={page === 0 || busy} onClick={onNewer}>
        ← Newer
      </button>
      <span class="muted">Page {page + 1}</span>
      <button type="button" class="btn btn-small" data-testid="page-older" disabled={!hasOlder || busy} onClick={onOlder}>
        Older →
      </button>
    </nav>
  );
}

export interface CursorPages {
  /** 0 for the newest page. */
  page: number;
  /** The cursor of the page shown (null for the newest page). */
  cursor: string | null;
  newest: () => void;
  newer: () => void;
  /** Goes to the page `next` (a `next_cursor`) starts; stays put when there is none. */
  older: (next: string | null | undefined) => void;
}

/** Which page of a newest-first list with cursor paging is shown, and the moves between pages. */
export function useCursorPages(): CursorPages {
  // cursors[i] is the cursor of page i (null for the newest page).
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const page = cursors.length - 1;
  return {
    page,
    cursor: cursors[page] ?? null,
    newest: () => setCursors([null]),
    newer: () => setCursors((c) => (c.length > 1 ? c.slice(0, -1) : c)),
    older: (next) => {
      if (next) setCursors((c) => [...c, next]);
    },
  };
}

/** The Pager for `pages`, over a list whose latest answer (and whether it is loading) is `res`. */
export function CursorPager({ pages, res }: { pages: CursorPages; res: { data?: { next_cursor: string | null } | undefined; loading: boolean } }) {
  return (
    <Pager
      page={pages.page}
      hasOlder={Boolean(res.data?.next_cursor)}
      busy={res.loading}
      onNewest={pages.newest}
      onNewer={pages.newer}
      onOlder={() => pages.older(res.data?.next_cursor)}
    />
  );
}
