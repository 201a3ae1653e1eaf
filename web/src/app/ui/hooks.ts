import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { describeError } from '../api';

export interface Loaded<T> {
  data: T | null;
  error: string | null;
  loading: boolean;
  reload: () => Promise<void>;
  /** Loads with `work` instead (say, one page more), in turn with reloads: the latest call wins. */
  run: (work: () => Promise<T>) => Promise<void>;
  setData: (v: T | null) => void;
}

/** Loads `fn()` now and whenever `deps` change; the latest call wins. */
export function useLoad<T>(fn: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const generation = useRef(0);
  const run = useCallback(async (work: () => Promise<T>) => {
    const g = ++generation.current;
    setLoading(true);
    try {
      const v = await work();
      if (g === generation.current) {
        setData(v);
        setError(null);
      }
    } catch (e) {
      if (g === generation.current) setError(describeError(e));
    } finally {
      if (g === generation.current) setLoading(false);
    }
  }, []);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const reload = useCallback(() => run(fn), deps);
  useEffect(() => {
    void reload();
  }, [reload]);
  return { data, error, loading, reload, run, setData };
}

/** The current time, re-read every `ms`. */
export function useNow(ms: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}
