import type { ComponentChildren } from 'preact';
import type { Resource } from '../hooks';
import { ErrorMessage } from './ErrorMessage';
import { Loading } from './Loading';

/**
 * What a page shows of a resource besides its data: the error and a "Try again" button, "Loading…"
 * until the first answer, and — once loaded — `empty` (when given) as the empty state.
 */
export function LoadState({
  res,
  failed,
  loading,
  empty,
  small = false,
}: {
  res: Pick<Resource<unknown>, 'data' | 'error' | 'loading' | 'reload'>;
  /** The error's title ("Could not load …"). */
  failed: string;
  /** The loading message (default "Loading"). */
  loading?: string;
  /** What to say when the answer holds nothing; null or absent while there is something. */
  empty?: ComponentChildren;
  /** A small "Try again" button. */
  small?: boolean;
}) {
  return (
    <>
      <ErrorMessage error={res.error} title={failed} />
      {res.error ? (
        <button type="button" class={small ? 'btn btn-small' : 'btn'} onClick={() => void res.reload()}>
          Try again
        </button>
      ) : null}
      {res.loading && !res.data ? <Loading what={loading} /> : null}
      {res.data && empty !== undefined && empty !== null ? (
        <p class="empty" data-testid="empty-state">
          {empty}
        </p>
      ) : null}
    </>
  );
}
