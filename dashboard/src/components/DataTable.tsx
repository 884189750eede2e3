import type { ComponentChildren } from 'preact';

/** A column heading; `num` right-aligns the column. */
export type Column = string | { label: string; num: true };

/**
 * A table in a region of its own that scrolls sideways and takes focus (so the keyboard can scroll
 * it): `label` names the region, `caption` the table (for screen readers); `children` are its rows.
 */
export function DataTable({ label, caption, columns, children }: { label: string; caption: string; columns: Column[]; children: ComponentChildren }) {
  return (
    <div class="table-wrap" tabIndex={0} role="region" aria-label={label}>
      <table class="table">
        <caption class="sr-only">{caption}</caption>
        <thead>
          <tr>
            {columns.map((c) =>
              typeof c === 'string' ? (
                <th key={c} scope="col">
                  {c}
                </th>
              ) : (
                <th key={c.label} scope="col" class="num">
                  {c.label}
                </th>
              ),
            )}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}
