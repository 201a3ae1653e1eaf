// One conversation: the timeline (messages, system messages, private notes), the actions
// (assign, take over, resolve / reopen / close), typing and read marks, and the composer.
import type { Ref } from 'preact';
import { useCallback, useEffect, useImperativeHandle, useMemo, useRef, useState } from 'preact/hooks';
import { describeError } from '../api';
import { debounce } from '../bus';
import { useWorkspace } from '../context';
import type { Conversation, ConversationFlow, Message, Note, Rating } from '../types';
import { ErrorBox, Loading, Stars, StatusBadge } from '../ui/common';
import { SafeHtml } from '../ui/html';
import { applyStreamFrame, type LiveStream } from '../streams';
import { formatDateTime } from '../time';
import { BotFlowPanel } from './bot-vars';
import { Composer, type ComposerHandle, type ComposerMode } from './composer';

export interface ConversationHandle {
  focusComposer: (mode: ComposerMode) => void;
  resolve: () => Promise<void>;
  takeOver: () => Promise<void>;
}

type Entry = { kind: 'message'; at: string; m: Message } | { kind: 'note'; at: string; n: Note };

const TYPING_SHOWN_MS = 6000;

interface Props {
  id: string;
  handleRef: Ref<ConversationHandle | null>;
  siteName: (id: string) => string | undefined;
  visitorOpen: boolean;
  onToggleVisitor: () => void;
}

export function ConversationView(props: Props) {
  const { id } = props;
  const ws = useWorkspace();
  const [conv, setConv] = useState<Conversation | null>(null);
  const [messages, setMessages] = useState<Message[]>([]);
  const [notes, setNotes] = useState<Note[]>([]);
  const [rating, setRating] = useState<Rating | null>(null);
  const [flow, setFlow] = useState<ConversationFlow | null>(null);
  const [visitorName, setVisitorName] = useState<string>('Visitor');
  const [error, setError] = useState<string | null>(null);
  const [visitorTyping, setVisitorTyping] = useState(false);
  const [agentTyping, setAgentTyping] = useState<string | null>(null);
  const [thinking, setThinking] = useState<string | null>(null);
  const [streams, setStreams] = useState<LiveStream[]>([]);
  const [seenSeq, setSeenSeq] = useState(0);
  const composer = useRef<ComposerHandle>(null);
  const logRef = useRef<HTMLDivElement>(null);
  const readSeq = useRef(0);

  const load = useCallback(async () => {
    try {
      const d = await ws.api.conversation(id);
      setConv(d.conversation);
      setMessages(d.messages ?? []);
      setNotes(d.notes ?? []);
      setRating(d.rating ?? null);
      setFlow(d.flow ?? null);
      setVisitorName(d.visitor?.name || d.visitor?.email || 'Visitor');
      setError(null);
    } catch (e) {
      setError(describeError(e));
    }
  }, [ws.api, id]);

  useEffect(() => {
    void load();
  }, [load]);
  useEffect(() => setStreams([]), [id]);
  // A bot's message may mean new collected variables: fetch the run's state again (once per burst).
  const reloadFlow = useMemo(() => debounce(() => void load(), 700), [load]);
  useEffect(() => () => reloadFlow.cancel(), [reloadFlow]);

  const messagesRef = useRef<Message[]>([]);
  messagesRef.current = messages;
  // Read marks: up to the newest message, while the page is visible.
  const markRead = useMemo(
    () =>
      debounce(() => {
        const seq = messagesRef.current.reduce((max, m) => Math.max(max, m.seq), 0);
        if (seq > readSeq.current && document.visibilityState === 'visible') {
          readSeq.current = seq;
          ws.api.read(id, seq).then(() => ws.events.emit({ type: 'local.changed', conversation_id: id }), () => {});
        }
      }, 400),
    [ws.api, ws.events, id],
  );
  useEffect(() => {
    if (messages.length) markRead();
  }, [messages, markRead]);
  useEffect(() => {
    const onVisible = () => document.visibilityState === 'visible' && markRead();
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      document.removeEventListener('visibilitychange', onVisible);
      markRead.cancel();
    };
  }, [markRead]);

  // Live frames for this conversation.
  useEffect(() => {
    let typingTimer: ReturnType<typeof setTimeout> | undefined;
    let agentTimer: ReturnType<typeof setTimeout> | undefined;
    let thinkingTimer: ReturnType<typeof setTimeout> | undefined;
    const off = ws.events.on((f) => {
      if (f.type === 'local.changed') {
        if (!f.conversation_id) void load();
        return;
      }
      if (f.conversation_id !== id) return;
      if (f.type === 'message.delta' || f.type === 'message.created') setStreams((list) => applyStreamFrame(list, f));
      switch (f.type) {
        case 'message.created': {
          const m = f.message as Message;
          if (!m) return;
          setMessages((list) => (list.some((x) => x.id === m.id) ? list : [...list, m].sort((a, b) => a.seq - b.seq)));
          if (m.author_kind === 'visitor') setVisitorTyping(false);
          if (m.author_kind === 'assistant' || m.author_kind === 'bot') setThinking(null);
          if (m.author_kind === 'bot') reloadFlow();
          break;
        }
        case 'typing':
          clearTimeout(typingTimer);
          clearTimeout(agentTimer);
          if (f.from === 'visitor') {
            setVisitorTyping(!!f.on);
            if (f.on) typingTimer = setTimeout(() => setVisitorTyping(false), TYPING_SHOWN_MS);
          } else if (f.user_id !== ws.me.user.id) {
            setAgentTyping(f.on ? ws.memberName(f.user_id) : null);
            if (f.on) agentTimer = setTimeout(() => setAgentTyping(null), TYPING_SHOWN_MS);
          }
          break;
        case 'thinking':
          clearTimeout(thinkingTimer);
          setThinking(f.stage ?? null);
          if (f.stage) thinkingTimer = setTimeout(() => setThinking(null), Number(f.timeout_ms) || 30_000);
          break;
        case 'conversation.status_changed':
          setConv((c) => (c ? { ...c, status: f.to, status_changed_at: new Date().toISOString() } : c));
          void load();
          break;
        case 'conversation.assigned':
          setConv((c) => (c ? { ...c, assignee_id: f.assignee_id ?? null } : c));
          break;
        case 'note.created':
          void load();
          break;
        case 'read':
          if (f.by === 'visitor') setSeenSeq((s) => Math.max(s, Number(f.seq) || 0));
          break;
      }
    });
    return () => {
      off();
      clearTimeout(typingTimer);
      clearTimeout(agentTimer);
      clearTimeout(thinkingTimer);
    };
  }, [ws.events, id, load, reloadFlow, ws.me.user.id, ws.memberName]);

  // Follow the newest entry.
  useEffect(() => {
    const el = logRef.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [messages.length, notes.length, visitorTyping, streams]);

  const act = async (what: 'resolve' | 'reopen' | 'close' | 'escalate') => {
    try {
      setConv(await ws.api.setStatus(id, what));
      ws.events.emit({ type: 'local.changed', conversation_id: id });
      ws.toast({ text: what === 'resolve' ? 'Conversation resolved' : what === 'reopen' ? 'Conversation reopened' : what === 'close' ? 'Conversation closed' : 'Escalated', kind: 'success' });
    } catch (e) {
      ws.toast({ text: describeError(e), kind: 'error' });
    }
  };
  const assign = async (userId: string | null) => {
    try {
      setConv(await ws.api.assign(id, userId));
      ws.events.emit({ type: 'local.changed', conversation_id: id });
      ws.toast({ text: userId === ws.me.user.id ? 'You took over this conversation' : `Assigned to ${ws.memberName(userId)}`, kind: 'success' });
    } catch (e) {
      ws.toast({ text: describeError(e), kind: 'error' });
    }
  };

  useImperativeHandle(
    props.handleRef,
    () => ({
      focusComposer: (mode) => composer.current?.focus(mode),
      resolve: () => (conv && conv.status !== 'resolved' && conv.status !== 'closed' ? act('resolve') : Promise.resolve()),
      takeOver: () => (conv && conv.assignee_id !== ws.me.user.id ? assign(ws.me.user.id) : Promise.resolve()),
    }),
    [conv, id],
  );

  const entries = useMemo<Entry[]>(() => {
    const all: Entry[] = [
      ...messages.map((m) => ({ kind: 'message' as const, at: m.created_at, m })),
      ...notes.map((n) => ({ kind: 'note' as const, at: n.created_at, n })),
    ];
    return all.sort((a, b) => Date.parse(a.at) - Date.parse(b.at) || (a.kind === 'message' && b.kind === 'message' ? a.m.seq - b.m.seq : 0));
  }, [messages, notes]);

  const lastAgentSeq = useMemo(() => messages.filter((m) => m.author_kind === 'agent').reduce((s, m) => Math.max(s, m.seq), 0), [messages]);

  if (error && !conv) {
    return (
      <section class="conversation" aria-label="Conversation">
        <ErrorBox message={error} />
      </section>
    );
  }
  if (!conv) {
    return (
      <section class="conversation" aria-label="Conversation">
        <Loading what="Loading the conversation" />
      </section>
    );
  }

  const mine = conv.assignee_id === ws.me.user.id;
  const open = conv.status === 'active' || conv.status === 'escalated';
  return (
    <section class="conversation" aria-labelledby="conv-title">
      <header class="conv-head">
        <div class="conv-title">
          <h2 id="conv-title">{visitorName}</h2>
          <StatusBadge status={conv.status} />
          {props.siteName(conv.site_id) && <span class="muted">{props.siteName(conv.site_id)}</span>}
          {rating && <Stars value={rating.stars} />}
        </div>
        <div class="conv-actions">
          <button type="button" class="btn visitor-toggle" aria-expanded={props.visitorOpen} aria-controls="visitor-panel" onClick={props.onToggleVisitor}>
            Visitor
          </button>
          <label class="inline">
            <span class="field-label">Assignee</span>
            <select value={conv.assignee_id ?? ''} onChange={(e) => void assign(e.currentTarget.value || null)}>
              <option value="">Unassigned</option>
              {ws.members.map((m) => (
                <option key={m.user_id} value={m.user_id}>
                  {m.user_id === ws.me.user.id ? `${m.name || m.email} (you)` : m.name || m.email}
                </option>
              ))}
              {conv.assignee_id && !ws.members.some((m) => m.user_id === conv.assignee_id) && (
                <option value={conv.assignee_id}>{ws.memberName(conv.assignee_id)}</option>
              )}
            </select>
          </label>
          {!mine && (
            <button type="button" class="btn" onClick={() => void assign(ws.me.user.id)} aria-keyshortcuts="a">
              Take over
            </button>
          )}
          {open ? (
            <button type="button" class="btn primary" onClick={() => void act('resolve')} aria-keyshortcuts="e">
              Resolve
            </button>
          ) : (
            <button type="button" class="btn" onClick={() => void act('reopen')}>
              Reopen
            </button>
          )}
          {conv.status !== 'closed' && (
            <button type="button" class="btn" onClick={() => void act('close')}>
              Close
            </button>
          )}
        </div>
      </header>
      <BotFlowPanel flow={flow} />
      {rating?.feedback && (
        <p class="rating-feedback">
          <Stars value={rating.stars} /> “{rating.feedback}”
        </p>
      )}
      <div class="timeline" ref={logRef} role="log" aria-live="polite" aria-label="Messages" tabIndex={0}>
        {entries.map((e) =>
          e.kind === 'note' ? (
            <NoteEntry key={`n-${e.n.id}`} note={e.n} author={ws.memberName(e.n.author_id)} />
          ) : (
            <MessageEntry
              key={`m-${e.m.id}`}
              m={e.m}
              visitorName={visitorName}
              author={ws.memberName(e.m.author_id)}
              seen={e.m.author_kind === 'agent' && e.m.seq === lastAgentSeq && seenSeq >= e.m.seq}
            />
          ),
        )}
        {streams.map((st) => (
          <article key={`s-${st.id}`} class="msg assistant streaming" aria-busy="true" aria-label="AI assistant, answering">
            <header class="msg-head">
              <span class="msg-author">AI assistant</span>
              <span class="muted small">answering…</span>
            </header>
            <p class="msg-body plain">{st.text}</p>
          </article>
        ))}
      </div>
      <p class="typing" aria-live="polite">
        {visitorTyping ? `${visitorName} is typing…` : agentTyping ? `${agentTyping} is typing…` : thinking ? `Assistant: ${thinking}` : ''}
      </p>
      <Composer handle={composer} conversationId={id} onSent={(r) => {
        if (r.message) setMessages((list) => (list.some((x) => x.id === r.message!.id) ? list : [...list, r.message!].sort((a, b) => a.seq - b.seq)));
        if (r.conversation) setConv(r.conversation);
        if (r.note) setNotes((list) => (list.some((x) => x.id === r.note!.id) ? list : [...list, r.note!]));
        ws.events.emit({ type: 'local.changed', conversation_id: id });
      }} />
      <p class="muted small conv-foot">{`Started ${formatDateTime(conv.created_at)}`}{conv.page_url ? ` on ${conv.page_url}` : ''}</p>
    </section>
  );
}

const AUTHOR: Record<string, string> = { assistant: 'AI assistant', bot: 'Bot', system: 'System' };

function MessageEntry({ m, visitorName, author, seen }: { m: Message; visitorName: string; author: string; seen: boolean }) {
  if (m.author_kind === 'system') {
    return (
      <div class="msg system" data-seq={m.seq}>
        <span class="sr-only">System: </span>
        {m.body}
      </div>
    );
  }
  const name = m.author_kind === 'visitor' ? visitorName : m.author_kind === 'agent' ? author : AUTHOR[m.author_kind] ?? m.author_kind;
  return (
    <article class={`msg ${m.author_kind}`} data-seq={m.seq} aria-label={`${name}, ${formatDateTime(m.created_at)}`}>
      <header class="msg-head">
        <span class="msg-author">{name}</span>
        <time dateTime={m.created_at}>{new Date(m.created_at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}</time>
      </header>
      {m.author_kind === 'visitor' || !m.html ? <p class="msg-body plain">{m.body}</p> : <SafeHtml class="msg-body" html={m.html} />}
      {m.citations?.length > 0 && (
        <div class="citations">
          <span>Sources:</span>
          <ul>
            {m.citations.map((c) => (
              <li key={c.article_id}>
                {c.url && /^https?:\/\//i.test(c.url) ? (
                  <a href={c.url} target="_blank" rel="noopener noreferrer">
                    {c.title}
                  </a>
                ) : (
                  <a href={`#/kb/${encodeURIComponent(c.article_id)}`}>{c.title}</a>
                )}
              </li>
            ))}
          </ul>
        </div>
      )}
      {m.reaction && (
        <p class={`reaction ${m.reaction}`}>
          <Thumb down={m.reaction === 'down'} />
          {m.reaction === 'up' ? 'The visitor found this helpful' : 'The visitor found this unhelpful'}
        </p>
      )}
      {seen && <p class="seen">Seen</p>}
    </article>
  );
}

/** A thumb icon (SVG: no emoji font needed). */
function Thumb({ down }: { down: boolean }) {
  return (
    <svg class={down ? 'thumb down' : 'thumb'} viewBox="0 0 24 24" aria-hidden="true">
      <path d="M2 21h4V9H2v12zm20-11a2 2 0 0 0-2-2h-6.3l1-4.6v-.3c0-.4-.2-.8-.4-1.1L13.2 1 6.6 7.6C6.2 8 6 8.5 6 9v10a2 2 0 0 0 2 2h9c.8 0 1.5-.5 1.8-1.2l3-7.1c.1-.2.2-.5.2-.7v-2z" />
    </svg>
  );
}

function NoteEntry({ note, author }: { note: Note; author: string }) {
  return (
    <article class="msg note" aria-label={`Private note by ${author}`}>
      <header class="msg-head">
        <span class="msg-author">{author}</span>
        <span class="note-tag">Private note — only your team sees this</span>
        <time dateTime={note.created_at}>{new Date(note.created_at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}</time>
      </header>
      {note.html ? <SafeHtml class="msg-body" html={note.html} /> : <p class="msg-body plain">{note.body}</p>}
    </article>
  );
}
