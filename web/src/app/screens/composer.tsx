// The reply box: Markdown, `/` for canned responses, private-note mode, typing signals, Ctrl+Enter.
import type { Ref } from 'preact';
import { useEffect, useImperativeHandle, useMemo, useRef, useState } from 'preact/hooks';
import { describeError } from '../api';
import { applyCanned, matchCanned, type SlashQuery, slashQuery } from '../canned';
import { useWorkspace } from '../context';
import { renderMarkdown } from '../markdown';
import type { Conversation, Message, Note } from '../types';

export type ComposerMode = 'reply' | 'note';

export interface ComposerHandle {
  focus: (mode: ComposerMode) => void;
}

interface Sent {
  message?: Message;
  conversation?: Conversation;
  note?: Note;
}

const TYPING_REPEAT_MS = 3000;
const TYPING_IDLE_MS = 4000;

export function Composer({ handle, conversationId, onSent }: { handle: Ref<ComposerHandle | null>; conversationId: string; onSent: (r: Sent) => void }) {
  const ws = useWorkspace();
  const [mode, setMode] = useState<ComposerMode>('reply');
  const [text, setText] = useState('');
  const [preview, setPreview] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [slash, setSlash] = useState<SlashQuery | null>(null);
  const [active, setActive] = useState(0);
  const input = useRef<HTMLTextAreaElement>(null);
  const typing = useRef({ sentAt: 0, idle: undefined as ReturnType<typeof setTimeout> | undefined });

  useImperativeHandle(handle, () => ({
    focus: (m) => {
      setMode(m);
      setPreview(false);
      setTimeout(() => input.current?.focus());
    },
  }));

  const matches = useMemo(() => (slash ? matchCanned(ws.canned, slash.query) : []), [slash, ws.canned]);
  const listOpen = slash !== null && matches.length > 0;

  const stopTyping = () => {
    clearTimeout(typing.current.idle);
    if (typing.current.sentAt) {
      typing.current.sentAt = 0;
      ws.realtime.send({ type: 'typing', conversation_id: conversationId, on: false });
    }
  };
  useEffect(() => stopTyping, [conversationId]);

  const signalTyping = () => {
    if (mode !== 'reply') return;
    const now = Date.now();
    if (now - typing.current.sentAt > TYPING_REPEAT_MS) {
      typing.current.sentAt = now;
      ws.realtime.send({ type: 'typing', conversation_id: conversationId, on: true });
    }
    clearTimeout(typing.current.idle);
    typing.current.idle = setTimeout(stopTyping, TYPING_IDLE_MS);
  };

  const pick = (i: number) => {
    const c = matches[i];
    const el = input.current;
    if (!c || !slash || !el) return;
    const next = applyCanned(text, slash, el.selectionStart ?? text.length, c.body);
    setText(next.text);
    setSlash(null);
    setTimeout(() => {
      el.focus();
      el.setSelectionRange(next.caret, next.caret);
    });
  };

  const send = async () => {
    const content = text.trim();
    if (!content || busy) return;
    setBusy(true);
    setError(null);
    try {
      if (mode === 'note') {
        const note = await ws.api.note(conversationId, content);
        onSent({ note });
      } else {
        stopTyping();
        const r = await ws.api.reply(conversationId, content);
        onSent(r);
      }
      setText('');
      setSlash(null);
      setPreview(false);
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
      input.current?.focus();
    }
  };

  const onKeyDown = (e: KeyboardEvent) => {
    if (listOpen) {
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        setActive((a) => (a + (e.key === 'ArrowDown' ? 1 : matches.length - 1)) % matches.length);
        return;
      }
      if ((e.key === 'Enter' && !e.ctrlKey && !e.metaKey) || e.key === 'Tab') {
        e.preventDefault();
        pick(active);
        return;
      }
      if (e.key === 'Escape') {
        e.preventDefault();
        e.stopPropagation();
        setSlash(null);
        return;
      }
    }
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      void send();
    }
  };

  const onInput = (e: Event) => {
    const el = e.currentTarget as HTMLTextAreaElement;
    setText(el.value);
    const q = slashQuery(el.value, el.selectionStart ?? el.value.length);
    setSlash(q);
    setActive(0);
    if (el.value) signalTyping();
    else stopTyping();
  };

  const isNote = mode === 'note';
  return (
    <form class={`composer${isNote ? ' note-mode' : ''}`} onSubmit={(e) => (e.preventDefault(), void send())} aria-label="Reply">
      <div class="composer-tabs" role="radiogroup" aria-label="Write">
        <button type="button" role="radio" aria-checked={!isNote} class="tab" onClick={() => setMode('reply')}>
          Reply
        </button>
        <button type="button" role="radio" aria-checked={isNote} class="tab" onClick={() => setMode('note')} aria-keyshortcuts="n">
          Private note
        </button>
        <button type="button" class="tab" aria-pressed={preview} onClick={() => setPreview(!preview)}>
          Preview
        </button>
      </div>
      {isNote && <p class="note-hint">Only your team sees this note. Mention a teammate with @name.</p>}
      {preview ? (
        <div class="md-preview" aria-label="Preview">
          {text.trim() ? renderMarkdown(text) : <p class="muted">Nothing to preview.</p>}
        </div>
      ) : (
        <div class="composer-input">
          <textarea
            ref={input}
            value={text}
            rows={3}
            aria-label={isNote ? 'Private note' : 'Reply to the visitor'}
            placeholder={isNote ? 'Write a private note… (Ctrl+Enter to save)' : 'Write a reply… Markdown works; type / for canned responses (Ctrl+Enter to send)'}
            aria-keyshortcuts="r"
            aria-autocomplete="list"
            aria-expanded={listOpen}
            aria-controls={listOpen ? 'canned-list' : undefined}
            aria-activedescendant={listOpen ? `canned-${active}` : undefined}
            onInput={onInput}
            onKeyDown={onKeyDown}
            onBlur={() => setTimeout(() => setSlash(null), 150)}
            maxLength={8000}
          />
          {listOpen && (
            <ul class="canned-list" id="canned-list" role="listbox" aria-label="Canned responses">
              {matches.map((c, i) => (
                <li
                  key={c.id}
                  id={`canned-${i}`}
                  role="option"
                  aria-selected={i === active}
                  onMouseDown={(e) => (e.preventDefault(), pick(i))}
                >
                  <strong>/{c.shortcut.replace(/^\//, '')}</strong> {c.title}
                  <span class="muted"> — {c.body.slice(0, 60)}</span>
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="composer-foot">
        <span class="muted small">Markdown: **bold**, *italic*, [link](https://…), lists</span>
        <button type="submit" class={`btn ${isNote ? 'note' : 'primary'}`} disabled={busy || !text.trim()}>
          {isNote ? 'Add note' : 'Send'}
        </button>
      </div>
    </form>
  );
}
