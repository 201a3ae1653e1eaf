// Questions the assistant could not answer, grouped, with a shortcut to write the missing article.
import { useState } from 'preact/hooks';
import { useWorkspace } from '../context';
import { formatAgo } from '../time';
import type { Site } from '../types';
import { ErrorBox, Loading, PageHeader } from '../ui/common';
import { useLoad } from '../ui/hooks';

export function UnansweredScreen() {
  const ws = useWorkspace();
  const [site, setSite] = useState('');
  const [days, setDays] = useState(30);
  const sites = useLoad(() => ws.api.sites().then((r) => r.sites).catch(() => [] as Site[]), [ws.api]);
  const groups = useLoad(() => ws.api.unanswered({ site_id: site || undefined, days }).then((r) => r.groups), [ws.api, site, days]);
  return (
    <section class="page" aria-labelledby="page-title">
      <PageHeader title="Unanswered questions">
        <label>
          <span class="sr-only">Period</span>
          <select value={days} onChange={(e) => setDays(Number(e.currentTarget.value))}>
            <option value={7}>Last 7 days</option>
            <option value={30}>Last 30 days</option>
            <option value={90}>Last 90 days</option>
          </select>
        </label>
        <label>
          <span class="sr-only">Site</span>
          <select value={site} onChange={(e) => setSite(e.currentTarget.value)}>
            <option value="">All sites</option>
            {(sites.data ?? []).map((s) => (
              <option key={s.id} value={s.id}>
                {s.name}
              </option>
            ))}
          </select>
        </label>
      </PageHeader>
      <p class="muted">What visitors asked that the knowledge base did not answer. The most asked first.</p>
      <ErrorBox message={groups.error} />
      {groups.loading && !groups.data && <Loading />}
      {groups.data?.length === 0 && <p class="muted">Nothing unanswered in this period.</p>}
      <ol class="groups">
        {(groups.data ?? []).map((g, i) => (
          <li key={i} class="card">
            <div class="group-head">
              <h2>{g.question}</h2>
              <span class="count big" aria-label={`asked ${g.count} times`}>
                {g.count}×
              </span>
            </div>
            <p class="muted small">Last asked {formatAgo(g.last_asked_at)}</p>
            <details>
              <summary>{g.questions.length} question{g.questions.length === 1 ? '' : 's'}</summary>
              <ul>
                {g.questions.map((q, j) => (
                  <li key={j}>
                    <a href={`#/conversations/${encodeURIComponent(q.conversation_id)}`}>{q.question}</a>
                    <span class="muted small"> · {formatAgo(q.created_at)}</span>
                  </li>
                ))}
              </ul>
            </details>
            <a class="btn small primary" href={`#/kb/new?${new URLSearchParams({ title: g.question, site: g.site_id })}`}>
              Write an article for this
            </a>
          </li>
        ))}
      </ol>
    </section>
  );
}
