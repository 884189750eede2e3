import { prettyBody } from '../format';

/** A body or JSON value, pretty-printed when it is JSON. */
export function CodeBlock({ value, label, empty = '(empty)' }: { value: unknown; label: string; empty?: string }) {
  const { text } = prettyBody(value);
  if (text === '') return <p class="muted">{empty}</p>;
  return (
    <pre class="code" tabIndex={0} aria-label={label}>
      <code>{text}</code>
    </pre>
  );
}
