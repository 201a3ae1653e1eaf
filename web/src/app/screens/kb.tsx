// Knowledge base: the article list, and the Markdown editor with preview, publish and delete.
import { useEffect, useState } from 'preact/hooks';
import { describeError } from '../api';
import { useWorkspace } from '../context';
import { renderMarkdown } from '../markdown';
import { navigate } from '../router';
import { formatAgo } from '../time';
import type { Article, Site } from '../types';
import { ErrorBox, Field, Loading, PageHeader } from '../ui/common';
import { useLoad } from '../ui/hooks';

function useSites() {
  const ws = useWorkspace();
  return useLoad(() => ws.api.sites().then((r) => r.sites).catch(() => [] as Site[]), [ws.api]);
}

export function KnowledgeScreen() {
  const ws = useWorkspace();
  const [q, setQ] = useState('');
  const [query, setQuery] = useState('');
  const [status, setStatus] = useState('');
  const [site, setSite] = useState('');
  const sites = useSites();
  useEffect(() => {
    const t = setTimeout(() => setQuery(q.trim()), 300);
    return () => clearTimeout(t);
  }, [q]);
  const articles = useLoad(
    () => ws.api.articles({ q: query || undefined, status: status || undefined, site_id: site || undefined, limit: 200 }).then((r) => r.articles),
    [ws.api, query, status, site],
  );
  const siteName = (id: string) => sites.data?.find((s) => s.id === id)?.name ?? '';
  return (
    <section class="page" aria-labelledby="page-title">
      <PageHeader title="Knowledge base">
        <a class="btn primary" href="#/kb/new">
          New article
        </a>
      </PageHeader>
      <div class="filter-row" role="search">
        <label class="grow">
          <span class="sr-only">Search articles</span>
          <input type="search" placeholder="Search articles" value={q} onInput={(e) => setQ(e.currentTarget.value)} />
        </label>
        <label>
          <span class="sr-only">Status</span>
          <select value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
            <option value="">Any status</option>
            <option value="published">Published</option>
            <option value="draft">Draft</option>
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
      </div>
      <ErrorBox message={articles.error} />
      {articles.loading && !articles.data && <Loading />}
      <table class="table">
        <caption class="sr-only">Articles</caption>
        <thead>
          <tr>
            <th scope="col">Title</th>
            <th scope="col">Status</th>
            <th scope="col">Site</th>
            <th scope="col">Updated</th>
          </tr>
        </thead>
        <tbody>
          {(articles.data ?? []).map((a) => (
            <tr key={a.id}>
              <td>
                <a href={`#/kb/${encodeURIComponent(a.id)}`}>{a.title}</a>
              </td>
              <td>
                <span class={`badge kb-${a.status}`}>{a.status === 'published' ? 'Published' : 'Draft'}</span>
              </td>
              <td>{siteName(a.site_id)}</td>
              <td>{formatAgo(a.updated_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {articles.data?.length === 0 && <p class="muted">No articles match.</p>}
    </section>
  );
}

export function ArticleEditor({ id, params }: { id: string; params: Record<string, string> }) {
  const ws = useWorkspace();
  const isNew = id === 'new';
  const sites = useSites();
  const [article, setArticle] = useState<Article | null>(null);
  const [title, setTitle] = useState(params.title ?? '');
  const [body, setBody] = useState('');
  const [tags, setTags] = useState('');
  const [locale, setLocale] = useState('en');
  const [siteId, setSiteId] = useState(params.site ?? '');
  const [tab, setTab] = useState<'write' | 'preview'>('write');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [loading, setLoading] = useState(!isNew);

  const fill = (a: Article) => {
    setArticle(a);
    setTitle(a.title);
    setBody(a.body);
    setTags(a.tags.join(', '));
    setLocale(a.locale || 'en');
    setSiteId(a.site_id);
  };
  useEffect(() => {
    if (isNew) return;
    ws.api
      .article(id)
      .then(fill, (e) => setError(describeError(e)))
      .finally(() => setLoading(false));
  }, [id]);
  useEffect(() => {
    // On the latest choice, not this render's: the person may have picked a site meanwhile.
    const first = sites.data?.[0]?.id;
    if (first) setSiteId((current) => current || first);
  }, [sites.data]);

  const run = async (what: () => Promise<unknown>, done: string) => {
    setBusy(true);
    setError(null);
    try {
      await what();
      ws.toast({ text: done, kind: 'success' });
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  };
  const fields = () => ({ title: title.trim(), body, locale, tags: tags.split(',').map((t) => t.trim()).filter(Boolean) });
  const save = () =>
    run(async () => {
      if (isNew) {
        const a = await ws.api.createArticle({ site_id: siteId, status: 'draft', ...fields() });
        navigate({ name: 'article', id: a.id, params: {} });
      } else fill(await ws.api.updateArticle(id, fields()));
    }, 'Article saved');

  if (loading) return <Loading />;
  return (
    <section class="page" aria-labelledby="page-title">
      <PageHeader title={isNew ? 'New article' : article?.title || 'Article'}>
        <a class="btn small" href="#/kb">
          All articles
        </a>
      </PageHeader>
      {article && (
        <p class="muted">
          <span class={`badge kb-${article.status}`}>{article.status === 'published' ? 'Published' : 'Draft'}</span> · updated {formatAgo(article.updated_at)}
        </p>
      )}
      <form class="stack" onSubmit={(e) => (e.preventDefault(), void save())}>
        <Field label="Title">
          <input required value={title} onInput={(e) => setTitle(e.currentTarget.value)} />
        </Field>
        <div class="grid-3">
          <Field label="Site">
            <select value={siteId} disabled={!isNew} onChange={(e) => setSiteId(e.currentTarget.value)}>
              {(sites.data ?? []).map((s) => (
                <option key={s.id} value={s.id}>
                  {s.name}
                </option>
              ))}
            </select>
          </Field>
          <Field label="Language">
            <input value={locale} onInput={(e) => setLocale(e.currentTarget.value)} />
          </Field>
          <Field label="Tags" hint="Comma-separated">
            <input value={tags} onInput={(e) => setTags(e.currentTarget.value)} />
          </Field>
        </div>
        <div class="tabs" role="tablist" aria-label="Body">
          <button type="button" role="tab" class="tab" aria-selected={tab === 'write'} onClick={() => setTab('write')}>
            Write
          </button>
          <button type="button" role="tab" class="tab" aria-selected={tab === 'preview'} onClick={() => setTab('preview')}>
            Preview
          </button>
        </div>
        {tab === 'write' ? (
          <label class="field wide">
            <span class="sr-only">Body (Markdown)</span>
            <textarea class="editor" rows={16} value={body} onInput={(e) => setBody(e.currentTarget.value)} placeholder="Write in Markdown: # headings, **bold**, lists, [links](https://…)" />
          </label>
        ) : (
          <div class="md-preview article-preview" role="tabpanel" aria-label="Preview">
            {body.trim() ? renderMarkdown(body) : <p class="muted">Nothing to preview.</p>}
          </div>
        )}
        <ErrorBox message={error} />
        <div class="row">
          <button class="btn primary" type="submit" disabled={busy || !title.trim() || !siteId}>
            Save
          </button>
          {article && article.status === 'draft' && (
            <button type="button" class="btn" disabled={busy} onClick={() => void run(async () => fill(await ws.api.publishArticle(article.id)), 'Article published')}>
              Publish
            </button>
          )}
          {article && article.status === 'published' && (
            <button type="button" class="btn" disabled={busy} onClick={() => void run(async () => fill(await ws.api.unpublishArticle(article.id)), 'Article unpublished')}>
              Unpublish
            </button>
          )}
          {article && (
            <button
              type="button"
              class="btn danger"
              disabled={busy}
              onClick={() =>
                confirm(`Delete “${article.title}”?`) &&
                void run(async () => {
                  await ws.api.deleteArticle(article.id);
                  navigate({ name: 'kb' });
                }, 'Article deleted')
              }
            >
              Delete
            </button>
          )}
        </div>
      </form>
    </section>
  );
}
