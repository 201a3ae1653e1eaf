// The visitor panel beside a conversation: who, where they have been, what they did before.
import { Fragment } from 'preact';
import { useState } from 'preact/hooks';
import { useWorkspace } from '../context';
import { canManagePrivacy, type PrivacyTarget } from '../privacy';
import type { EraseResult } from '../types';
import { formatAgo, formatDateTime } from '../time';
import { ErrorBox, Loading, StatusBadge } from '../ui/common';
import { useLoad } from '../ui/hooks';
import { EraseDialog, ErasureResult, useExport } from './privacy';

const show = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

export function VisitorPanel({ conversationId }: { conversationId: string }) {
  const ws = useWorkspace();
  const p = useLoad(() => ws.api.visitor(conversationId), [ws.api, conversationId]);
  const data = p.data;
  return (
    <aside class="visitor-panel" id="visitor-panel" aria-labelledby="visitor-title">
      <h2 id="visitor-title">Visitor</h2>
      {p.loading && !data && <Loading />}
      <ErrorBox message={p.error} />
      {data && (
        <>
          <dl class="facts">
            <dt>Name</dt>
            <dd>{data.visitor?.name || '—'}</dd>
            <dt>Email</dt>
            <dd>{data.visitor?.email ? <a href={`mailto:${data.visitor.email}`}>{data.visitor.email}</a> : '—'}</dd>
            {data.visitor?.user_id && (
              <>
                <dt>User id</dt>
                <dd>
                  <span class="mono">{data.visitor.user_id}</span>{' '}
                  {data.visitor.verified ? (
                    <span class="badge verified" title="Signed by the site's server (HMAC)">
                      verified
                    </span>
                  ) : (
                    <span class="badge" title="Not signed: anyone could have sent it">
                      unverified
                    </span>
                  )}
                </dd>
              </>
            )}
            {data.visitor?.locale && (
              <>
                <dt>Language</dt>
                <dd>{data.visitor.locale}</dd>
              </>
            )}
            <dt>Sessions</dt>
            <dd>{data.session_count}</dd>
            <dt>Conversions</dt>
            <dd>{data.conversions}</dd>
            {data.visitor && (
              <>
                <dt>Last seen</dt>
                <dd>{formatAgo(data.visitor.last_seen_at)}</dd>
              </>
            )}
          </dl>
          {Object.keys(data.params || {}).length > 0 && (
            <section>
              <h3>Parameters</h3>
              <dl class="facts">
                {Object.entries(data.params).map(([k, v]) => (
                  <Fragment key={k}>
                    <dt>{k}</dt>
                    <dd>{show(v)}</dd>
                  </Fragment>
                ))}
              </dl>
            </section>
          )}
          {data.interests.length > 0 && (
            <section>
              <h3>Interests</h3>
              <ul class="chips">
                {data.interests.map((t) => (
                  <li key={t}>{t}</li>
                ))}
              </ul>
            </section>
          )}
          <section>
            <h3>Pages visited</h3>
            {data.events.filter((e) => e.kind === 'page_view').length === 0 ? (
              <p class="muted">None recorded.</p>
            ) : (
              <ol class="events">
                {data.events
                  .filter((e) => e.kind === 'page_view')
                  .slice(0, 20)
                  .map((e) => (
                    <li key={e.id} title={e.url ?? ''}>
                      <span>{e.title || e.url}</span>
                      <span class="muted small"> · {formatAgo(e.created_at)}</span>
                    </li>
                  ))}
              </ol>
            )}
          </section>
          {data.events.some((e) => e.kind === 'conversion') && (
            <section>
              <h3>Conversions</h3>
              <ul class="events">
                {data.events
                  .filter((e) => e.kind === 'conversion')
                  .map((e) => (
                    <li key={e.id}>
                      <strong>{e.name}</strong>
                      <span class="muted small"> · {formatDateTime(e.created_at)}</span>
                    </li>
                  ))}
              </ul>
            </section>
          )}
          <section>
            <h3>Earlier conversations</h3>
            {data.conversations.filter((c) => c.id !== conversationId).length === 0 ? (
              <p class="muted">This is the first one.</p>
            ) : (
              <ul class="events">
                {data.conversations
                  .filter((c) => c.id !== conversationId)
                  .map((c) => (
                    <li key={c.id}>
                      <a href={`#/conversations/${encodeURIComponent(c.id)}`}>{formatDateTime(c.created_at)}</a> <StatusBadge status={c.status} />
                    </li>
                  ))}
              </ul>
            )}
          </section>
          {data.visitor && canManagePrivacy(ws.role) && (
            <VisitorPrivacy
              visitorId={data.visitor.id}
              erased={!!data.visitor.erased_at}
              onErased={() => {
                void p.reload();
                // The conversation (its messages are gone) and the inbox reload.
                ws.events.emit({ type: 'local.changed' });
              }}
            />
          )}
        </>
      )}
    </aside>
  );
}

/** Export and erasure of this visitor (the `manage_privacy` permission; docs/privacy.md). */
function VisitorPrivacy({ visitorId, erased, onErased }: { visitorId: string; erased: boolean; onErased: () => void }) {
  const ex = useExport();
  const [erasing, setErasing] = useState<PrivacyTarget | null>(null);
  const [result, setResult] = useState<EraseResult | null>(null);
  return (
    <section class="visitor-privacy" aria-labelledby="visitor-privacy-title">
      <h3 id="visitor-privacy-title">Privacy</h3>
      {erased && !result && <p class="muted">This visitor's data was erased.</p>}
      <div class="row">
        <button type="button" class="btn small" disabled={ex.busy} onClick={() => void ex.run({ visitor_id: visitorId })}>
          {ex.busy ? 'Exporting…' : 'Export data'}
        </button>
        {!erased && (
          <button type="button" class="btn small danger" aria-haspopup="dialog" onClick={() => setErasing({ visitor_id: visitorId })}>
            Erase visitor…
          </button>
        )}
      </div>
      <ErrorBox message={ex.error} />
      {result && <ErasureResult result={result} />}
      <EraseDialog
        target={erasing}
        onClose={() => setErasing(null)}
        onErased={(r) => {
          setResult(r);
          onErased();
        }}
      />
    </section>
  );
}
