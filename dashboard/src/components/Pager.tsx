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
