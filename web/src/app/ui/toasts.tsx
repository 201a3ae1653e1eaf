// Toasts (announced politely) and the notifications bell.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { ToastInput } from '../context';
import { formatAgo } from '../time';

export function Toasts({ toasts, onDismiss }: { toasts: (ToastInput & { id: number })[]; onDismiss: (id: number) => void }) {
  return (
    <div class="toasts" role="status" aria-live="polite" aria-relevant="additions">
      {toasts.map((t) => (
        <div key={t.id} class={`toast toast-${t.kind || 'info'}`}>
          <span>{t.text}</span>
          {t.href && (
            <a href={t.href} class="btn small">
              {t.linkText || 'Open'}
            </a>
          )}
          <button type="button" class="btn icon small" aria-label="Dismiss" onClick={() => onDismiss(t.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}

export interface Notice {
  id: string;
  text: string;
  href: string;
  at: number;
  seen: boolean;
}

export function Notifications({ notices, onSeen }: { notices: Notice[]; onSeen: () => void }) {
  const [open, setOpen] = useState(false);
  const box = useRef<HTMLDivElement>(null);
  const unseen = notices.filter((n) => !n.seen).length;
  useEffect(() => {
    if (!open) return;
    onSeen();
    const close = (e: Event) => {
      if (e instanceof KeyboardEvent ? e.key === 'Escape' : !box.current?.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener('click', close);
    document.addEventListener('keydown', close);
    return () => {
      document.removeEventListener('click', close);
      document.removeEventListener('keydown', close);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [open]);
  return (
    <div class="notices" ref={box}>
      <button
        type="button"
        class="btn icon bell"
        aria-expanded={open}
        aria-controls="notice-list"
        aria-label={unseen ? `Notifications, ${unseen} new` : 'Notifications'}
        onClick={() => setOpen(!open)}
      >
        <svg viewBox="0 0 24 24" aria-hidden="true">
          <path d="M12 22a2 2 0 0 0 2-2h-4a2 2 0 0 0 2 2zm6-6V11a6 6 0 0 0-5-5.9V4a1 1 0 0 0-2 0v1.1A6 6 0 0 0 6 11v5l-2 2v1h16v-1z" />
        </svg>
        {unseen > 0 && (
          <span class="count" aria-hidden="true">
            {unseen}
          </span>
        )}
      </button>
      {open && (
        <div class="notice-list" id="notice-list">
          {notices.length === 0 ? (
            <p class="muted">No notifications yet.</p>
          ) : (
            <ul>
              {notices.map((n) => (
                <li key={n.id}>
                  <a href={n.href} onClick={() => setOpen(false)}>
                    {n.text}
                  </a>
                  <span class="muted"> · {formatAgo(new Date(n.at).toISOString())}</span>
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </div>
  );
}
