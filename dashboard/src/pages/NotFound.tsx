import { useTitle } from '../hooks';

export function NotFound({ path }: { path: string }) {
  useTitle('Not found');
  return (
    <>
      <div class="page-head">
        <h1 id="page-title" tabIndex={-1}>
          Page not found
        </h1>
      </div>
      <p>
        There is no dashboard page at <code>#{path}</code>. <a href="#/">Go home</a>.
      </p>
    </>
  );
}
