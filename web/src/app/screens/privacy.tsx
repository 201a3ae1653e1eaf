// Privacy (docs/privacy.md): the Privacy page (look a person up by email, export, erase), and the
// export button and erasure dialog the visitor panel shares with it.
import { useEffect, useRef, useState } from 'preact/hooks';
import { describeError } from '../api';
import { useWorkspace } from '../context';
import {
  describeCounts,
  describeExport,
  ERASED_ITEMS,
  eraseConfirmation,
  erasureSummary,
  exportFileName,
  KEPT_NOTE,
  type PrivacyTarget,
  saveJson,
  UNDO_NOTE,
} from '../privacy';
import type { EraseResult, VisitorExport } from '../types';
import { ErrorBox, Field, PageHeader } from '../ui/common';

/** Fetches the export of a target and saves it as a file; returns the document (or null on error). */
export function useExport() {
  const ws = useWorkspace();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = async (target: PrivacyTarget): Promise<VisitorExport | null> => {
    setBusy(true);
    setError(null);
    try {
      const doc = await ws.api.privacyExport(target);
      saveJson(doc, exportFileName(target));
      return doc;
    } catch (e) {
      setError(describeError(e));
      return null;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run };
}

/** The confirmation before an erasure: what is deleted, what is kept, that it cannot be undone. */
export function EraseDialog({ target, onClose, onErased }: { target: PrivacyTarget | null; onClose: () => void; onErased: (r: EraseResult) => void }) {
  const ws = useWorkspace();
  const ref = useRef<HTMLDialogElement>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (target && !d.open) {
      setError(null);
      d.showModal();
    } else if (!target && d.open) d.close();
  }, [target]);
  const text = target ? eraseConfirmation(target) : null;
  const confirm = async () => {
    if (!target) return;
    setBusy(true);
    setError(null);
    try {
      const r = await ws.api.privacyErase(target);
      onErased(r);
      onClose();
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <dialog ref={ref} class="dialog erase-dialog" aria-labelledby="erase-title" aria-describedby="erase-lead" onClose={onClose}>
      {text && (
        <>
          <h2 id="erase-title">{text.title}</h2>
          <p id="erase-lead">{text.lead}</p>
          <ul class="erase-list">
            {ERASED_ITEMS.map((i) => (
              <li key={i}>{i}</li>
            ))}
          </ul>
          <p>{KEPT_NOTE}</p>
          <p class="warning">
            <strong>{UNDO_NOTE}</strong>
          </p>
          <ErrorBox message={error} />
          <div class="row">
            <button type="button" class="btn danger" disabled={busy} onClick={() => void confirm()}>
              {busy ? 'Erasing…' : text.confirm}
            </button>
            <button type="button" class="btn" disabled={busy} onClick={onClose}>
              Cancel
            </button>
          </div>
        </>
      )}
    </dialog>
  );
}

/** What an erasure did, with the counts. */
export function ErasureResult({ result }: { result: EraseResult }) {
  return (
    <div class="erase-result" role="status">
      <p>{erasureSummary(result.visitors, result.counts)}</p>
      {result.visitors.length > 0 && (
        <>
          <p class="muted small">Deleted:</p>
          <ul class="chips">
            {describeCounts(result.counts).map((c) => (
              <li key={c}>{c}</li>
            ))}
          </ul>
        </>
      )}
    </div>
  );
}

export function PrivacyScreen() {
  const ex = useExport();
  const [email, setEmail] = useState('');
  const [found, setFound] = useState<{ email: string; doc: VisitorExport } | null>(null);
  const [erasing, setErasing] = useState<PrivacyTarget | null>(null);
  const [erased, setErased] = useState<EraseResult | null>(null);
  const target = (): PrivacyTarget => ({ email: email.trim() });
  return (
    <section class="page" aria-labelledby="page-title">
      <PageHeader title="Privacy" />
      <p>
        Hand a person everything your sites hold about them, or erase it (GDPR). Every visitor of your organization's sites who gave
        this email through <code>identify</code> is covered. To act on one device only, use the visitor panel of a conversation.
        Exports and erasures are recorded in the audit log.
      </p>
      <form
        class="panel stack"
        onSubmit={(e) => {
          e.preventDefault();
          setErased(null);
          const t = target();
          void ex.run(t).then((doc) => doc && setFound({ email: 'email' in t ? t.email : '', doc }));
        }}
      >
        <Field label="Email" hint="Compared case-insensitively.">
          <input
            type="email"
            name="privacy-email"
            required
            autoComplete="off"
            value={email}
            onInput={(e) => {
              setEmail(e.currentTarget.value);
              setFound(null);
              setErased(null);
            }}
          />
        </Field>
        <ErrorBox message={ex.error} />
        <div class="row">
          <button class="btn primary" type="submit" disabled={ex.busy}>
            Export
          </button>
          <button
            type="button"
            class="btn danger"
            disabled={ex.busy}
            onClick={(e) => {
              const form = (e.currentTarget as HTMLButtonElement).form;
              if (form && !form.reportValidity()) return;
              setErasing(target());
            }}
          >
            Erase all visitors with this email…
          </button>
        </div>
      </form>
      {found && (
        <section class="panel" aria-labelledby="found-title">
          <h2 id="found-title">Exported for {found.email}</h2>
          <p role="status">{describeExport(found.doc)}</p>
          {found.doc.visitors.length > 0 && (
            <ul class="events">
              {found.doc.visitors.map((v) => (
                <li key={v.visitor.id}>
                  <span class="mono">{v.visitor.id}</span> <span class="muted">· {v.site_name}</span>{' '}
                  <span class="muted small">
                    · {v.conversations.length} {v.conversations.length === 1 ? 'conversation' : 'conversations'}
                  </span>
                </li>
              ))}
            </ul>
          )}
        </section>
      )}
      {erased && (
        <section class="panel" aria-labelledby="erased-title">
          <h2 id="erased-title">Erasure done</h2>
          <ErasureResult result={erased} />
        </section>
      )}
      <EraseDialog
        target={erasing}
        onClose={() => setErasing(null)}
        onErased={(r) => {
          setFound(null);
          setErased(r);
        }}
      />
    </section>
  );
}
