import { formatClock } from '../format';
import type { Overview } from '../types';

const W = 600;
const H = 180;
const PAD = { top: 12, right: 8, bottom: 26, left: 36 };

/** A round upper bound for the y axis: 1, 2, 5, 10, 20, 50 … */
function niceMax(n: number): number {
  if (n <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(n));
  for (const m of [1, 2, 5, 10]) if (m * p >= n) return m * p;
  return 10 * p;
}

/** Attempts and failed attempts per 5-minute bucket as grouped bars, with a table for the same data. */
export function OverviewChart({ series }: { series: Overview['series'] }) {
  const max = niceMax(Math.max(0, ...series.map((b) => Math.max(b.attempts, b.failures))));
  const innerW = W - PAD.left - PAD.right;
  const innerH = H - PAD.top - PAD.bottom;
  const slot = innerW / Math.max(1, series.length);
  const bar = Math.max(2, Math.min(16, slot / 2 - 3));
  const y = (v: number) => PAD.top + innerH - (v / max) * innerH;
  const totalAttempts = series.reduce((s, b) => s + b.attempts, 0);
  const totalFailures = series.reduce((s, b) => s + b.failures, 0);
  const busiest = series.reduce<Overview['series'][number] | null>((best, b) => (!best || b.attempts > best.attempts ? b : best), null);
  const summary =
    `${totalAttempts} attempts and ${totalFailures} failed attempts in the last hour` +
    (busiest && busiest.attempts > 0 ? `; busiest 5 minutes from ${formatClock(busiest.at)} with ${busiest.attempts} attempts.` : '.');

  return (
    <figure class="chart" aria-labelledby="chart-caption">
      <figcaption id="chart-caption">
        <span class="chart-title">Attempts per 5 minutes</span>
        <span class="legend" aria-hidden="true">
          <span class="key key-attempts" /> attempts <span class="key key-failures" /> failures
        </span>
      </figcaption>
      <svg
        viewBox={`0 0 ${W} ${H}`}
        class="chart-svg"
        role="img"
        aria-labelledby="chart-svg-title chart-svg-desc"
        data-testid="overview-chart"
      >
        <title id="chart-svg-title">Attempts and failures, last hour</title>
        <desc id="chart-svg-desc">{summary}</desc>
        {[0, max / 2, max].map((v) => (
          <g key={v}>
            <line x1={PAD.left} x2={W - PAD.right} y1={y(v)} y2={y(v)} class="grid" />
            <text x={PAD.left - 6} y={y(v) + 4} class="axis" text-anchor="end">
              {Number.isInteger(v) ? v : v.toFixed(1)}
            </text>
          </g>
        ))}
        {series.map((b, i) => {
          const x = PAD.left + i * slot + slot / 2;
          return (
            <g key={b.at} data-testid="chart-bucket">
              <rect x={x - bar - 1} y={y(b.attempts)} width={bar} height={Math.max(0, PAD.top + innerH - y(b.attempts))} class="bar-attempts">
                <title>{`${formatClock(b.at)}: ${b.attempts} attempts`}</title>
              </rect>
              <rect x={x + 1} y={y(b.failures)} width={bar} height={Math.max(0, PAD.top + innerH - y(b.failures))} class="bar-failures">
                <title>{`${formatClock(b.at)}: ${b.failures} failures`}</title>
              </rect>
              {i % 3 === 0 ? (
                <text x={x} y={H - 8} class="axis" text-anchor="middle">
                  {formatClock(b.at)}
                </text>
              ) : null}
            </g>
          );
        })}
      </svg>
      <p class="muted small">{summary}</p>
      <details class="chart-table">
        <summary>Show the data as a table</summary>
        <div class="table-wrap">
          <table class="table table-compact" data-testid="overview-table">
            <caption class="sr-only">Attempts and failures per 5-minute bucket</caption>
            <thead>
              <tr>
                <th scope="col">From</th>
                <th scope="col" class="num">
                  Attempts
                </th>
                <th scope="col" class="num">
                  Failures
                </th>
              </tr>
            </thead>
            <tbody>
              {series.map((b) => (
                <tr key={b.at}>
                  <th scope="row">
                    <time dateTime={b.at}>{formatClock(b.at)}</time>
                  </th>
                  <td class="num">{b.attempts}</td>
                  <td class="num">{b.failures}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </figure>
  );
}
