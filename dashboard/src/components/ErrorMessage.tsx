/** What an error box shows: an ApiFailure, or a check made here. */
export interface Problem {
  code: string;
  message: string;
  field?: string | undefined;
}

/** The API's error, in words, with the field it names. */
export function ErrorMessage({ error, title }: { error: Problem | null | undefined; title?: string }) {
  if (!error) return null;
  return (
    <div class="alert alert-error" role="alert" data-testid="error-message" data-error-code={error.code}>
      {title ? <strong>{title}: </strong> : null}
      <span>{error.message}</span>
      {error.field ? (
        <span class="alert-field">
          {' '}
          (field <code>{error.field}</code>)
        </span>
      ) : null}
    </div>
  );
}

/** The message under one form field when the API names that field. */
export function FieldError({ id, message }: { id: string; message: string | null | undefined }) {
  if (!message) return null;
  return (
    <p class="field-error" id={id} data-testid="field-error">
      {message}
    </p>
  );
}
