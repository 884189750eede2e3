import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

interface Props {
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  danger?: boolean;
  busy?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}

/**
 * A modal confirmation (native <dialog>): focuses its first button (the confirm button), closes
 * on Escape or Cancel, and gives focus back to what had it before.
 */
export function ConfirmDialog({ title, children, confirmLabel, danger, busy, onConfirm, onCancel }: Props) {
  const ref = useRef<HTMLDialogElement>(null);
  const confirmRef = useRef<HTMLButtonElement>(null);
  const cancelRef = useRef(onCancel);
  cancelRef.current = onCancel;

  useEffect(() => {
    const dialog = ref.current;
    const before = document.activeElement as HTMLElement | null;
    if (dialog && !dialog.open) {
      if (typeof dialog.showModal === 'function') dialog.showModal();
      else dialog.setAttribute('open', '');
    }
    confirmRef.current?.focus();
    let cancelled = false;
    const cancel = () => {
      if (cancelled) return;
      cancelled = true;
      cancelRef.current();
    };
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        e.preventDefault();
        cancel();
      }
    };
    const onNativeCancel = (e: Event) => {
      e.preventDefault();
      cancel();
    };
    dialog?.addEventListener('keydown', onKey);
    dialog?.addEventListener('cancel', onNativeCancel);
    return () => {
      dialog?.removeEventListener('keydown', onKey);
      dialog?.removeEventListener('cancel', onNativeCancel);
      if (dialog?.open) {
        if (typeof dialog.close === 'function') dialog.close();
        else dialog.removeAttribute('open');
      }
      if (before && document.contains(before)) before.focus();
    };
  }, []);

  return (
    <dialog ref={ref} class="dialog" aria-labelledby="dialog-title" data-testid="confirm-dialog">
      <h2 id="dialog-title">{title}</h2>
      <div class="dialog-body">{children}</div>
      <div class="dialog-actions">
        <button
          ref={confirmRef}
          type="button"
          class={danger ? 'btn btn-danger' : 'btn btn-primary'}
          data-testid="confirm-button"
          disabled={busy}
          onClick={onConfirm}
        >
          {busy ? 'Working…' : confirmLabel}
        </button>
        <button type="button" class="btn" data-testid="cancel-button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </dialog>
  );
}
