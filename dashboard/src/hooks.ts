/** Data loading and polling hooks shared by the pages. */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiFailure, isAbort } from './api';
import { PORTAL_TITLE } from './portal';

export function toFailure(err: unknown): ApiFailure {
  if (err instanceof ApiFailure) return err;
  return new ApiFailure(0, 'client_error', err instanceof Error ? err.message : String(err));
}

export interface Resource<T> {
  data: T | undefined;
  error: ApiFailure | null;
  loading: boolean;
  /** Load again, showing the loading state. */
  reload: () => Promise<void>;
  /** Load again quietly, keeping what is shown until the answer comes (for polling). */
  refresh: () => Promise<void>;
  setData: (data: T) => void;
}

/** Loads `load` when `deps` change; aborts what is in flight on unmount or a newer load. */
export function useResource<T>(load: (signal: AbortSignal) => Promise<T>, deps: readonly unknown[]): Resource<T> {
  const [state, setState] = useState<{ data: T | undefined; error: ApiFailure | null; loading: boolean }>({
    data: undefined,
    error: null,
    loading: true,
  });
  const loadRef = useRef(load);
  loadRef.current = load;
  const current = useRef<AbortController | null>(null);

  const run = useCallback(async (quiet: boolean) => {
    current.current?.abort();
    const ctrl = new AbortController();
    current.current = ctrl;
    if (!quiet) setState((s) => ({ ...s, loading: true, error: null }));
    try {
      const data = await loadRef.current(ctrl.signal);
      if (!ctrl.signal.aborted) setState({ data, error: null, loading: false });
    } catch (err) {
      if (ctrl.signal.aborted || isAbort(err)) return;
      setState((s) => ({ ...s, error: toFailure(err), loading: false }));
    }
  }, []);

  useEffect(() => {
    void run(false);
    return () => current.current?.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps -- deps is the caller's list (the hook's contract); load is read through loadRef
  }, deps);

  const reload = useCallback(() => run(false), [run]);
  const refresh = useCallback(() => run(true), [run]);
  const setData = useCallback((data: T) => setState({ data, error: null, loading: false }), []);
  return { ...state, reload, refresh, setData };
}

/**
 * Calls `tick` every `ms` while `enabled` and the tab is visible. The next tick is scheduled only
 * after the previous one finished; when the tab becomes visible again it ticks at once.
 */
export function usePolling(tick: () => Promise<unknown>, ms: number, enabled: boolean): void {
  const tickRef = useRef(tick);
  tickRef.current = tick;
  useEffect(() => {
    if (!enabled) return;
    let timer: number | undefined;
    let running = false;
    let stopped = false;
    const schedule = () => {
      if (stopped || document.hidden || timer !== undefined || running) return;
      timer = window.setTimeout(fire, ms);
    };
    const fire = () => {
      timer = undefined;
      if (stopped || document.hidden) return;
      running = true;
      void tickRef
        .current()
        .catch(() => undefined)
        .finally(() => {
          running = false;
          schedule();
        });
    };
    const onVisibility = () => {
      if (document.hidden) {
        if (timer !== undefined) window.clearTimeout(timer);
        timer = undefined;
      } else if (timer === undefined && !running) {
        fire();
      }
    };
    document.addEventListener('visibilitychange', onVisibility);
    schedule();
    return () => {
      stopped = true;
      if (timer !== undefined) window.clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisibility);
    };
  }, [enabled, ms]);
}

/** Sets the document title for the page shown. */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · ${PORTAL_TITLE}`;
  }, [title]);
}
