import { formatTime, relative } from '../format';

/** A point in time, in full; how long ago (or how soon) it is shows on hover. */
export function Timestamp({ iso }: { iso: string }) {
  return (
    <time dateTime={iso} title={relative(iso)}>
      {formatTime(iso)}
    </time>
  );
}
