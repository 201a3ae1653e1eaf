// Outgoing webhooks (owners and admins): endpoints with their events, on/off, their signing
// secret (reveal, rotate), a test event, and the delivery log with redelivery.
import { useEffect, useState } from 'preact/hooks';
import { describeError } from '../api';
import { useWorkspace } from '../context';
import { formatDateTime } from '../time';
import type { WebhookDelivery, WebhookEndpoint, WebhookEventType } from '../types';
import { CopyButton, ErrorBox, Field, Loading, PageHeader } from '../ui/common';
import { useLoad } from '../ui/hooks';
import { deliveryStatusLabel, EVENT_TYPES, eventLabel, hasPending, responseSummary, toggleEvent, urlProblem } from '../webhooks';

export function WebhooksScreen() {
  const ws = useWorkspace();
  const endpoints = useLoad(() => ws.api.webhooks().then((r) => r.endpoints), [ws.api]);
  const [endpointFilter, setEndpointFilter] = useState('');
  const [statusFilter, setStatusFilter] = useState('');
  const log = useLoad(
    () => ws.api.deliveries({ endpoint_id: endpointFilter || undefined, status: statusFilter || undefined, limit: 100 }),
    [ws.api, endpointFilter, statusFilter],
  );
  // While something is on its way, the log follows it.
  const pending = hasPending(log.data?.deliveries ?? []);
  useEffect(() => {
    if (!pending) return;
    const t = setInterval(() => void log.reload(), 2000);
    return () => clearInterval(t);
  }, [pending, log.reload]);

  const refresh = () => {
    void endpoints.reload();
    void log.reload();
  };
  const list = endpoints.data ?? [];
  return (
    <section class="page wide" aria-labelledby="page-title">
      <PageHeader title="Webhooks" />
      <p class="muted">
        Frontdesk posts events to your endpoints, signed per the Standard Webhooks specification (headers{' '}
        <code>webhook-id</code>, <code>webhook-timestamp</code>, <code>webhook-signature</code>). Failed deliveries are retried
        with backoff for three days; an endpoint that answers <code>410 Gone</code> is turned off.
      </p>
      <NewEndpoint onCreated={refresh} />
      <ErrorBox message={endpoints.error} />
      {endpoints.loading && !endpoints.data && <Loading />}
      {list.length > 0 && (
        <ul class="webhook-list" aria-label="Endpoints">
          {list.map((e) => (
            <EndpointCard key={e.id} endpoint={e} onChanged={refresh} />
          ))}
        </ul>
      )}
      <h2 id="deliveries-title">Deliveries</h2>
      <form class="filter-row" onSubmit={(e) => e.preventDefault()} aria-label="Filter the deliveries">
        <Field label="Endpoint">
          <select value={endpointFilter} onChange={(e) => setEndpointFilter(e.currentTarget.value)}>
            <option value="">All endpoints</option>
            {list.map((e) => (
              <option key={e.id} value={e.id}>
                {e.description || e.url}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Status">
          <select value={statusFilter} onChange={(e) => setStatusFilter(e.currentTarget.value)}>
            <option value="">Any</option>
            <option value="pending">Retrying or queued</option>
            <option value="succeeded">Delivered</option>
            <option value="failed">Failed</option>
          </select>
        </Field>
        <button type="button" class="btn small" onClick={() => void log.reload()}>
          Refresh
        </button>
      </form>
      <ErrorBox message={log.error} />
      <DeliveryLog deliveries={log.data?.deliveries ?? []} endpoints={list} onRedelivered={() => void log.reload()} />
    </section>
  );
}

function EventChecks({
  value,
  onChange,
  disabled,
}: {
  value: WebhookEventType[];
  onChange: (v: WebhookEventType[]) => void;
  disabled?: boolean;
}) {
  return (
    <fieldset class="webhook-events">
      <legend>Events</legend>
      {EVENT_TYPES.map((t) => (
        <label key={t} class="check">
          <input
            type="checkbox"
            checked={value.includes(t)}
            disabled={disabled}
            onChange={(e) => onChange(toggleEvent(value, t, e.currentTarget.checked))}
          />
          <span>
            {eventLabel(t)} <code class="muted">{t}</code>
          </span>
        </label>
      ))}
    </fieldset>
  );
}

function NewEndpoint({ onCreated }: { onCreated: () => void }) {
  const ws = useWorkspace();
  const [url, setUrl] = useState('');
  const [description, setDescription] = useState('');
  const [events, setEvents] = useState<WebhookEventType[]>(['conversation.created', 'message.created']);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [secret, setSecret] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    const problem = urlProblem(url) ?? (events.length === 0 ? 'Choose at least one event.' : null);
    setError(problem);
    if (problem) return;
    setBusy(true);
    try {
      const created = await ws.api.createWebhook({ url: url.trim(), description: description.trim(), event_types: events });
      setSecret(created.secret);
      setUrl('');
      setDescription('');
      ws.toast({ text: 'Endpoint added', kind: 'success' });
      onCreated();
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card webhook-new" onSubmit={submit} aria-label="Add an endpoint">
      <h2>Add an endpoint</h2>
      <Field label="URL" wide>
        <input type="url" value={url} onInput={(e) => setUrl(e.currentTarget.value)} placeholder="https://example.com/hooks/frontdesk" />
      </Field>
      <Field label="Description" wide>
        <input value={description} maxLength={200} onInput={(e) => setDescription(e.currentTarget.value)} placeholder="CRM sync" />
      </Field>
      <EventChecks value={events} onChange={setEvents} />
      <ErrorBox message={error} />
      <button class="btn primary" type="submit" disabled={busy}>
        Add endpoint
      </button>
      {secret && (
        <div class="secret-row" role="status">
          <span>Signing secret (verify signatures with it):</span>
          <input readOnly value={secret} class="mono" aria-label="New endpoint's signing secret" />
          <CopyButton text={secret} what="signing secret" />
        </div>
      )}
    </form>
  );
}

function EndpointCard({ endpoint: e, onChanged }: { endpoint: WebhookEndpoint; onChanged: () => void }) {
  const ws = useWorkspace();
  const [secret, setSecret] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const act = async (what: () => Promise<unknown>, done?: string) => {
    setBusy(true);
    setError(null);
    try {
      await what();
      if (done) ws.toast({ text: done, kind: 'success' });
      onChanged();
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  const title = e.description || e.url;
  return (
    <li class="card webhook-card" aria-label={`Endpoint ${title}`}>
      <div class="webhook-head">
        <h3>{title}</h3>
        <span class={e.enabled ? 'badge verified' : 'badge'}>{e.enabled ? 'Enabled' : 'Disabled'}</span>
      </div>
      <p class="mono webhook-url">{e.url}</p>
      {!e.enabled && e.disabled_reason && <p class="error">Turned off: {e.disabled_reason}</p>}
      {e.previous_secret_expires_at && (
        <p class="muted">The previous secret also signs until {formatDateTime(e.previous_secret_expires_at)}.</p>
      )}
      <EventChecks
        value={e.event_types}
        disabled={busy}
        onChange={(types) => types.length > 0 && void act(() => ws.api.updateWebhook(e.id, { event_types: types }))}
      />
      <div class="row-actions">
        <button type="button" class="btn small" disabled={busy} onClick={() => void act(() => ws.api.updateWebhook(e.id, { enabled: !e.enabled }), e.enabled ? 'Endpoint disabled' : 'Endpoint enabled')}>
          {e.enabled ? 'Disable' : 'Enable'}
        </button>
        <button
          type="button"
          class="btn small"
          disabled={busy || !e.enabled}
          onClick={() => void act(() => ws.api.testWebhook(e.id), 'Test event sent')}
        >
          Send test event
        </button>
        {secret ? (
          <>
            <input readOnly value={secret} class="mono" aria-label={`Signing secret of ${title}`} />
            <CopyButton text={secret} what="signing secret" />
            <button type="button" class="btn small" onClick={() => setSecret(null)}>
              Hide
            </button>
          </>
        ) : (
          <button
            type="button"
            class="btn small"
            disabled={busy}
            onClick={() => void act(async () => setSecret((await ws.api.webhookSecret(e.id)).secret))}
          >
            Reveal secret
          </button>
        )}
        <button
          type="button"
          class="btn small danger"
          disabled={busy}
          onClick={() =>
            confirm('Rotate the signing secret? The old one keeps signing too for 24 hours.') &&
            void act(async () => setSecret((await ws.api.rotateWebhookSecret(e.id)).secret), 'Secret rotated: update your receiver')
          }
        >
          Rotate secret
        </button>
        <button
          type="button"
          class="btn small danger"
          disabled={busy}
          onClick={() => confirm(`Delete the endpoint ${title} and its delivery log?`) && void act(() => ws.api.deleteWebhook(e.id), 'Endpoint deleted')}
        >
          Delete
        </button>
      </div>
      <ErrorBox message={error} />
    </li>
  );
}

function DeliveryLog({
  deliveries,
  endpoints,
  onRedelivered,
}: {
  deliveries: WebhookDelivery[];
  endpoints: WebhookEndpoint[];
  onRedelivered: () => void;
}) {
  const ws = useWorkspace();
  const [error, setError] = useState<string | null>(null);
  const name = (id: string) => {
    const e = endpoints.find((x) => x.id === id);
    return e ? e.description || e.url : id;
  };
  if (deliveries.length === 0) return <p class="muted">No deliveries yet.</p>;
  return (
    <>
      <ErrorBox message={error} />
      <table class="table" aria-labelledby="deliveries-title">
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Event</th>
            <th scope="col">Endpoint</th>
            <th scope="col">Status</th>
            <th scope="col">Response</th>
            <th scope="col">Attempts</th>
            <th scope="col">Next attempt</th>
            <th scope="col">
              <span class="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {deliveries.map((d) => (
            <tr key={d.id} data-delivery={d.id}>
              <td>{formatDateTime(d.created_at)}</td>
              <td>
                <code>{d.event_type}</code>
              </td>
              <td class="webhook-url">{name(d.endpoint_id)}</td>
              <td>
                <span class={d.status === 'succeeded' ? 'badge verified' : 'badge'}>{deliveryStatusLabel(d)}</span>
              </td>
              <td>
                {responseSummary(d)}
                {d.last_response && (
                  <details class="response-body">
                    <summary>Answer</summary>
                    <pre>{d.last_response}</pre>
                  </details>
                )}
              </td>
              <td>{d.attempts}</td>
              <td>{d.next_attempt_at ? formatDateTime(d.next_attempt_at) : '—'}</td>
              <td>
                <button
                  type="button"
                  class="btn small"
                  aria-label={`Redeliver ${d.event_type} ${d.message_id}`}
                  onClick={async () => {
                    setError(null);
                    try {
                      await ws.api.redeliver(d.id);
                      ws.toast({ text: 'Sent again', kind: 'success' });
                      onRedelivered();
                    } catch (err) {
                      setError(describeError(err));
                    }
                  }}
                >
                  Redeliver
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
