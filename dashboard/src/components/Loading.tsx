export function Loading({ what = 'Loading' }: { what?: string }) {
  return (
    <p class="muted loading" role="status" aria-live="polite">
      {what}…
    </p>
  );
}
