// Analytics: conversations, AI-resolved vs escalated, reactions, busiest hours, response times,
// ratings; insights (top pages, conversions).
import { useMemo, useState } from 'preact/hooks';
import { useWorkspace } from '../context';
import { formatDuration } from '../time';
import type { Report, Site } from '../types';
import { Chart } from '../ui/chart';
import { ErrorBox, Field, Loading, PageHeader } from '../ui/common';
import { useLoad } from '../ui/hooks';

const DAY_MS = 86_400_000;

/** `[from, to]` for the last `days` days, from local midnight. */
export function lastDays(days: number, now = new Date()): { from: string; to: string } {
  const start = new Date(now.getFullYear(), now.getMonth(), now.getDate() - (days - 1));
  return { from: start.toISOString(), to: now.toISOString() };
}

const dateInput = (d: Date) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
const pct = (v: number) => `${Math.round(v * 100)}%`;

export function AnalyticsScreen() {
  const ws = useWorkspace();
  const [range, setRange] = useState('30');
  const [customFrom, setCustomFrom] = useState(dateInput(new Date(Date.now() - 13 * DAY_MS)));
  const [customTo, setCustomTo] = useState(dateInput(new Date()));
  const [site, setSite] = useState('');
  const sites = useLoad(() => ws.api.sites().then((r) => r.sites).catch(() => [] as Site[]), [ws.api]);
  const period = useMemo(() => {
    if (range !== 'custom') return lastDays(Number(range));
    const from = new Date(`${customFrom}T00:00:00`);
    const to = new Date(`${customTo}T23:59:59`);
    return { from: from.toISOString(), to: to.toISOString() };
  }, [range, customFrom, customTo]);
  const tz = -new Date().getTimezoneOffset();
  const report = useLoad(() => ws.api.analytics({ ...period, site_id: site || undefined, tz_offset: tz }), [ws.api, period, site]);
  const insights = useLoad(() => ws.api.insights({ ...period, site_id: site || undefined }), [ws.api, period, site]);

  return (
    <section class="page wide" aria-labelledby="page-title">
      <PageHeader title="Analytics">
        <label>
          <span class="sr-only">Period</span>
          <select value={range} onChange={(e) => setRange(e.currentTarget.value)}>
            <option value="7">Last 7 days</option>
            <option value="30">Last 30 days</option>
            <option value="90">Last 90 days</option>
            <option value="custom">Custom…</option>
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
      {range === 'custom' && (
        <div class="filter-row">
          <Field label="From">
            <input type="date" value={customFrom} max={customTo} onChange={(e) => setCustomFrom(e.currentTarget.value)} />
          </Field>
          <Field label="To">
            <input type="date" value={customTo} min={customFrom} onChange={(e) => setCustomTo(e.currentTarget.value)} />
          </Field>
        </div>
      )}
      <ErrorBox message={report.error} />
      {report.loading && !report.data && <Loading what="Counting" />}
      {report.data && <ReportView r={report.data} />}
      <h2>Insights</h2>
      <ErrorBox message={insights.error} />
      {insights.data && (
        <div class="grid-2">
          <div>
            <h3>Top pages</h3>
            <table class="table compact">
              <thead>
                <tr>
                  <th scope="col">Page</th>
                  <th scope="col">Views</th>
                  <th scope="col">Visitors</th>
                </tr>
              </thead>
              <tbody>
                {insights.data.top_pages.map((p) => (
                  <tr key={p.url}>
                    <td title={p.url}>{p.title || p.url}</td>
                    <td>{p.views}</td>
                    <td>{p.visitors}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {insights.data.top_pages.length === 0 && <p class="muted">No page views recorded.</p>}
          </div>
          <div>
            <h3>Conversions</h3>
            <table class="table compact">
              <thead>
                <tr>
                  <th scope="col">Conversion</th>
                  <th scope="col">Count</th>
                  <th scope="col">Visitors</th>
                </tr>
              </thead>
              <tbody>
                {insights.data.conversions.map((c) => (
                  <tr key={c.name}>
                    <td>{c.name}</td>
                    <td>{c.count}</td>
                    <td>{c.visitors}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {insights.data.conversions.length === 0 && <p class="muted">No conversions recorded.</p>}
          </div>
        </div>
      )}
    </section>
  );
}

function ReportView({ r }: { r: Report }) {
  const x = useMemo(() => r.days.map((d) => Date.parse(`${d.date}T12:00:00Z`) / 1000), [r]);
  const perDay = useMemo(() => [{ label: 'Conversations', values: r.days.map((d) => d.conversations), color: '#2563eb' }], [r]);
  const share = useMemo(
    () => [
      { label: 'AI-resolved', values: r.days.map((d) => d.ai_resolved), color: '#059669' },
      { label: 'Escalated', values: r.days.map((d) => d.escalated), color: '#d97706' },
    ],
    [r],
  );
  const thumbs = useMemo(
    () => [
      { label: 'Thumbs up', values: r.days.map((d) => d.thumbs_up), color: '#059669' },
      { label: 'Thumbs down', values: r.days.map((d) => d.thumbs_down), color: '#dc2626' },
    ],
    [r],
  );
  const hoursX = useMemo(() => r.busiest_hours.map((_, h) => h), [r]);
  const hours = useMemo(() => [{ label: 'Conversations', values: r.busiest_hours, color: '#7c3aed' }], [r]);
  const maxRating = Math.max(1, ...r.rating_distribution);
  return (
    <>
      <div class="tiles">
        <Tile label="Conversations" value={String(r.conversations)} />
        <Tile label="Resolved by AI" value={pct(r.ai_resolved_share)} detail={`${r.ai_resolved} conversations`} />
        <Tile label="Escalated" value={pct(r.escalated_share)} detail={`${r.escalated} conversations`} />
        <Tile label="First response (median)" value={formatDuration(r.first_response_median_ms)} detail={`p90 ${formatDuration(r.first_response_p90_ms)}`} />
        <Tile label="Average rating" value={r.average_rating == null ? '—' : `${r.average_rating.toFixed(1)} ★`} detail={`${r.ratings} ratings`} />
      </div>
      <div class="tile rating-dist">
        <h3>Rating distribution</h3>
        <ul>
          {r.rating_distribution.map((n, i) => (
            <li key={i}>
              <span class="rd-label">{i + 1} ★</span>
              <span class="rd-bar" aria-hidden="true">
                <span style={{ width: `${(n / maxRating) * 100}%` }} />
              </span>
              <span class="rd-count">{n}</span>
            </li>
          ))}
        </ul>
      </div>
      <div class="grid-2">
        <Chart title="Conversations per day" x={x} series={perDay} />
        <Chart title="AI-resolved vs escalated" x={x} series={share} bars />
        <Chart title="Thumbs up / down per day" x={x} series={thumbs} bars />
        <Chart title="Busiest hours" x={hoursX} series={hours} bars time={false} xLabel={(h) => `${String(h).padStart(2, '0')}:00`} />
      </div>
    </>
  );
}

function Tile({ label, value, detail }: { label: string; value: string; detail?: string }) {
  return (
    <div class="tile">
      <span class="tile-label">{label}</span>
      <span class="tile-value">{value}</span>
      {detail && <span class="tile-detail">{detail}</span>}
    </div>
  );
}
