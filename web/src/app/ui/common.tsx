// Small building blocks shared by the screens.
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { sanitizeCode } from '../account';
import type { ConversationStatus } from '../types';

export function Loading({ what = 'Loading' }: { what?: string }) {
  return (
    <p class="muted" role="status">
      {what}…
    </p>
  );
}

export function ErrorBox({ message }: { message: string | null | undefined }) {
  if (!message) return null;
  return (
    <p class="error" role="alert">
      {message}
    </p>
  );
}

export function PageHeader({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="page-header">
      <h1>{title}</h1>
      {children && <div class="page-actions">{children}</div>}
    </div>
  );
}

export function Field({ label, hint, children, wide }: { label: string; hint?: ComponentChildren; children: ComponentChildren; wide?: boolean }) {
  return (
    <label class={wide ? 'field wide' : 'field'}>
      <span class="field-label">{label}</span>
      {children}
      {hint && <span class="hint">{hint}</span>}
    </label>
  );
}

export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

export function CopyButton({ text, label = 'Copy', what }: { text: string; label?: string; what: string }) {
  const [done, setDone] = useState<null | boolean>(null);
  return (
    <button
      type="button"
      class="btn small"
      aria-label={`${label} ${what}`}
      onClick={async () => {
        setDone(await copyText(text));
        setTimeout(() => setDone(null), 2000);
      }}
    >
      {done === true ? 'Copied' : done === false ? 'Select and copy' : label}
      <span class="sr-only" aria-live="polite">
        {done === true ? `${what} copied` : ''}
      </span>
    </button>
  );
}

const STATUS_LABEL: Record<ConversationStatus, string> = {
  active: 'Active',
  escalated: 'Waiting for a person',
  resolved: 'Resolved',
  closed: 'Closed',
};

export function StatusBadge({ status }: { status: ConversationStatus }) {
  return <span class={`badge status-${status}`}>{STATUS_LABEL[status] ?? status}</span>;
}

export function NoAccess() {
  return (
    <section class="page narrow" aria-labelledby="no-access">
      <h1 id="no-access">You don't have access to this page</h1>
      <p>This page is for the organization's owners and admins. Ask one of them if you need it.</p>
      <p>
        <a href="#/inbox">Go to the inbox</a>
      </p>
    </section>
  );
}

export function Stars({ value }: { value: number }) {
  return (
    <span class="stars" aria-label={`${value} of 5 stars`} title={`${value} of 5 stars`}>
      {'★'.repeat(value)}
      <span class="stars-off" aria-hidden="true">
        {'★'.repeat(Math.max(0, 5 - value))}
      </span>
    </span>
  );
}

/** A 6-digit one-time code: numeric keyboard, the browser's one-time-code autofill, digits only. */
export function CodeField({ label, hint, value, onInput }: { label: string; hint?: string; value: string; onInput: (v: string) => void }) {
  return (
    <Field label={label} hint={hint}>
      <input
        class="mono code-input"
        name="totp"
        autoComplete="one-time-code"
        inputMode="numeric"
        pattern="[0-9]{6}"
        required
        autoFocus
        value={value}
        onInput={(e) => {
          const v = sanitizeCode(e.currentTarget.value);
          e.currentTarget.value = v;
          onInput(v);
        }}
      />
    </Field>
  );
}
