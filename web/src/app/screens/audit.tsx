// The audit log: who did what, filtered by actor, action and date; CSV and JSON exports; a check
// of the hash chain that links the events (tampering shows as the first broken link).
import { useMemo, useState } from 'preact/hooks';
import { useWorkspace } from '../context';
import { formatDateTime } from '../time';
import { ErrorBox, Field, Loading, PageHeader } from '../ui/common';
import { useLoad } from '../ui/hooks';

export function AuditScreen() {
  const ws = useWorkspace();
  const [actor, setActor] = useState('');
  const [action, setAction] = useState('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const filter = useMemo(
    () => ({
      actor_id: actor || undefined,
      action: action.trim() || undefined,
      from: from ? new Date(`${from}T00:00:00`).toISOString() : undefined,
      to: to ? new Date(`${to}T23:59:59`).toISOString() : undefined,
    }),
    [actor, action, from, to],
  );
  const events = useLoad(() => ws.api.audit({ ...filter, limit: 200 }).then((r) => r.events), [ws.api, filter]);
  const canExport = ws.info?.entitlements.audit_export ?? true;
  const [verdict, setVerdict] = useState<string | null>(null);
  const verify = async () => {
    setVerdict('Checking…');
    try {
      const r = await ws.api.auditVerify();
      setVerdict(
        r.ok
          ? `Intact: ${r.checked} events, each linked to the one before.`
          : `Broken at event #${r.first_broken?.seq} (${r.first_broken?.reason.replace(/_/g, ' ')}): ${r.checked} events before it are intact.`,
      );
    } catch (e) {
      setVerdict(e instanceof Error ? e.message : 'The check failed.');
    }
  };
  return (
    <section class="page wide" aria-labelledby="page-title">
      <PageHeader title="Audit log">
        <button type="button" class="btn small" onClick={verify}>
          Verify chain
        </button>
        {canExport ? (
          <>
            <a class="btn small" href={ws.api.auditExportUrl(filter, 'csv')} download>
              Export CSV
            </a>
            <a class="btn small" href={ws.api.auditExportUrl(filter, 'json')} download>
              Export JSON
            </a>
          </>
        ) : (
          <span class="muted">Exports are part of the Pro plan.</span>
        )}
      </PageHeader>
      {verdict && (
        <p class="muted" role="status" data-testid="audit-verdict">
          {verdict}
        </p>
      )}
      <form class="filter-row" onSubmit={(e) => e.preventDefault()} aria-label="Filter the audit log">
        <Field label="Who">
          <select value={actor} onChange={(e) => setActor(e.currentTarget.value)}>
            <option value="">Anyone</option>
            {ws.members.map((m) => (
              <option key={m.user_id} value={m.user_id}>
                {m.name || m.email}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Action" hint='Exact, or a prefix ending in "." (site.)'>
          <input value={action} onInput={(e) => setAction(e.currentTarget.value)} placeholder="e.g. site." />
        </Field>
        <Field label="From">
          <input type="date" value={from} onChange={(e) => setFrom(e.currentTarget.value)} />
        </Field>
        <Field label="To">
          <input type="date" value={to} onChange={(e) => setTo(e.currentTarget.value)} />
        </Field>
      </form>
      <ErrorBox message={events.error} />
      {events.loading && !events.data && <Loading />}
      <table class="table">
        <caption class="sr-only">Audit events</caption>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Who</th>
            <th scope="col">Action</th>
            <th scope="col">Target</th>
            <th scope="col">Details</th>
          </tr>
        </thead>
        <tbody>
          {(events.data ?? []).map((e) => (
            <tr key={e.id}>
              <td>{formatDateTime(e.created_at)}</td>
              <td>{e.actor_id ? ws.memberName(e.actor_id) : 'System'}</td>
              <td>
                <code>{e.action}</code>
              </td>
              <td>
                {e.target_kind} <span class="muted mono small">{e.target_id.slice(0, 8)}</span>
              </td>
              <td class="mono small details">{Object.keys(e.details || {}).length ? JSON.stringify(e.details) : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {events.data?.length === 0 && <p class="muted">No events match.</p>}
    </section>
  );
}
