// Team: members and roles, invitations (with the copyable link), seats, my notifications.
import { useState } from 'preact/hooks';
import { ApiError, describeError } from '../api';
import { useWorkspace } from '../context';
import { formatDateTime } from '../time';
import type { NotifyPrefs, Role } from '../types';
import { CopyButton, ErrorBox, Field, Loading, PageHeader } from '../ui/common';
import { useLoad } from '../ui/hooks';
import { CannedEditor } from './canned-editor';

const ROLES: Role[] = ['member', 'admin', 'owner'];

export function TeamScreen() {
  const ws = useWorkspace();
  const team = useLoad(() => ws.api.team(), [ws.api]);
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Role>('member');
  const [link, setLink] = useState<string | null>(null);
  const [inviteError, setInviteError] = useState<{ text: string; limit: boolean } | null>(null);
  const [busy, setBusy] = useState(false);

  const changed = () => {
    void team.reload();
    ws.reloadMembers();
  };

  const invite = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setInviteError(null);
    setLink(null);
    try {
      const r = await ws.api.invite(email.trim(), role);
      setLink(r.link);
      setEmail('');
      changed();
    } catch (err) {
      setInviteError({ text: describeError(err), limit: err instanceof ApiError && err.code === 'plan_limit' });
    } finally {
      setBusy(false);
    }
  };

  const run = async (what: () => Promise<unknown>, done: string) => {
    try {
      await what();
      ws.toast({ text: done, kind: 'success' });
      changed();
    } catch (err) {
      ws.toast({ text: describeError(err), kind: 'error' });
      changed();
    }
  };

  const data = team.data;
  const seats = data?.seats;
  const me = data?.members.find((m) => m.user_id === ws.me.user.id);
  return (
    <section class="page" aria-labelledby="page-title">
      <PageHeader title="Team">
        {seats && (
          <span class="seats" aria-label="Seats">
            {seats.limit == null ? `${seats.used} seats used` : `${seats.used} of ${seats.limit} seats used`}
          </span>
        )}
      </PageHeader>
      {ws.info?.subscription?.past_due && (
        <p class="callout warn" role="alert">
          A renewal payment failed. Pro stays on while the payment is retried: please update the payment method.
        </p>
      )}
      <ErrorBox message={team.error} />
      {!data && team.loading && <Loading />}
      {data && (
        <>
          <table class="table">
            <caption class="sr-only">Members</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {data.members.map((m) => (
                <tr key={m.user_id}>
                  <td>{m.name || '—'}{m.user_id === ws.me.user.id && <span class="muted"> (you)</span>}</td>
                  <td>{m.email}</td>
                  <td>
                    <select
                      aria-label={`Role of ${m.email}`}
                      value={m.role}
                      disabled={!ws.isAdmin}
                      onChange={(e) => void run(() => ws.api.setRole(m.user_id, e.currentTarget.value as Role), `${m.email} is now ${e.currentTarget.value}`)}
                    >
                      {ROLES.map((r) => (
                        <option key={r} value={r}>
                          {r}
                        </option>
                      ))}
                    </select>
                  </td>
                  <td>
                    {ws.isAdmin && (
                      <button
                        type="button"
                        class="btn small danger"
                        aria-label={`Remove ${m.email}`}
                        onClick={() => confirm(`Remove ${m.email} from the team?`) && void run(() => ws.api.removeMember(m.user_id), `${m.email} removed`)}
                      >
                        Remove
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>

          <h2>Invitations</h2>
          {ws.isAdmin && (
            <form class="inline-form" onSubmit={invite} aria-label="Invite a teammate">
              <Field label="Email">
                <input type="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
              </Field>
              <Field label="Role">
                <select value={role} onChange={(e) => setRole(e.currentTarget.value as Role)}>
                  <option value="member">member</option>
                  <option value="admin">admin</option>
                </select>
              </Field>
              <button class="btn primary" type="submit" disabled={busy}>
                Invite
              </button>
            </form>
          )}
          {inviteError && (
            <div class={inviteError.limit ? 'callout warn' : 'error'} role="alert">
              {inviteError.limit && <strong>Your plan's seats are all used. </strong>}
              {inviteError.text}
            </div>
          )}
          {link && (
            <div class="callout success" role="status">
              <p>Invitation created. Send this link to your teammate:</p>
              <div class="copy-row">
                <input readOnly value={link} aria-label="Invitation link" onFocus={(e) => e.currentTarget.select()} />
                <CopyButton text={link} what="invitation link" />
              </div>
            </div>
          )}
          {data.invites.filter((i) => !i.accepted_at).length === 0 ? (
            <p class="muted">No pending invitations.</p>
          ) : (
            <table class="table">
              <caption class="sr-only">Pending invitations</caption>
              <thead>
                <tr>
                  <th scope="col">Email</th>
                  <th scope="col">Role</th>
                  <th scope="col">Expires</th>
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {data.invites
                  .filter((i) => !i.accepted_at)
                  .map((i) => (
                    <tr key={i.id}>
                      <td>{i.email}</td>
                      <td>{i.role}</td>
                      <td>{formatDateTime(i.expires_at)}</td>
                      <td>
                        {ws.isAdmin && (
                          <button type="button" class="btn small" aria-label={`Revoke the invitation of ${i.email}`} onClick={() => void run(() => ws.api.revokeInvite(i.id), 'Invitation revoked')}>
                            Revoke
                          </button>
                        )}
                      </td>
                    </tr>
                  ))}
              </tbody>
            </table>
          )}
          {me && <NotificationPrefs initial={me.notify} />}
          {ws.isAdmin && <CannedEditor />}
        </>
      )}
    </section>
  );
}

export function NotificationPrefs({ initial }: { initial: NotifyPrefs }) {
  const ws = useWorkspace();
  const [prefs, setPrefs] = useState(initial);
  const save = async (next: NotifyPrefs) => {
    setPrefs(next);
    try {
      setPrefs(await ws.api.setNotifications(next));
      ws.toast({ text: 'Notification preferences saved', kind: 'success' });
    } catch (e) {
      setPrefs(prefs);
      ws.toast({ text: describeError(e), kind: 'error' });
    }
  };
  return (
    <fieldset class="prefs">
      <legend>My email notifications</legend>
      <label class="check">
        <input type="checkbox" checked={prefs.email_escalations} onChange={(e) => void save({ ...prefs, email_escalations: e.currentTarget.checked })} />
        Email me when a visitor asks for a person
      </label>
      <label class="check">
        <input type="checkbox" checked={prefs.email_mentions} onChange={(e) => void save({ ...prefs, email_mentions: e.currentTarget.checked })} />
        Email me when I'm mentioned in a note
      </label>
    </fieldset>
  );
}
