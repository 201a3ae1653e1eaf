// "My account": the signed-in person's login sessions and two-factor login.
import { useEffect, useState } from 'preact/hooks';
import { describeAgent, groupSecret } from '../account';
import { account, describeError } from '../api';
import { useWorkspace } from '../context';
import { formatAgo, formatDateTime } from '../time';
import type { LoginSession, TotpSetup, TotpStatus } from '../types';
import { CodeField, CopyButton, ErrorBox, Field, Loading, PageHeader } from '../ui/common';

export function AccountScreen() {
  const { me } = useWorkspace();
  return (
    <section class="page narrow stack">
      <PageHeader title="My account" />
      <p class="muted">Signed in as {me.user.email}</p>
      <Sessions />
      <TwoFactor />
    </section>
  );
}

function Sessions() {
  const { toast } = useWorkspace();
  const [list, setList] = useState<LoginSession[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = () => account.sessions().then((r) => setList(r.sessions), (e) => setError(describeError(e)));
  useEffect(() => void load(), []);
  const end = async (s: LoginSession) => {
    try {
      await account.endSession(s.id);
      toast({ text: `Signed out ${describeAgent(s.user_agent)}`, kind: 'success' });
    } catch (e) {
      toast({ text: describeError(e), kind: 'error' });
    }
    load();
  };
  return (
    <section aria-labelledby="sessions-title">
      <h2 id="sessions-title">Where you're signed in</h2>
      <ErrorBox message={error} />
      {!list ? (
        !error && <Loading what="Loading sessions" />
      ) : (
        <table class="table sessions">
          <thead>
            <tr>
              <th scope="col">Browser</th>
              <th scope="col">IP address</th>
              <th scope="col">Last active</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.map((s) => (
              <tr key={s.id}>
                <td title={s.user_agent ?? undefined}>{describeAgent(s.user_agent)}</td>
                <td class="mono">{s.ip ?? '—'}</td>
                <td title={formatDateTime(s.last_seen_at)}>{formatAgo(s.last_seen_at)}</td>
                <td>
                  {s.current ? (
                    <span class="badge">This device</span>
                  ) : (
                    <button type="button" class="btn small" aria-label={`Sign out ${describeAgent(s.user_agent)}, last active ${formatAgo(s.last_seen_at)}`} onClick={() => end(s)}>
                      Sign out
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function TwoFactor() {
  const { toast } = useWorkspace();
  const [status, setStatus] = useState<TotpStatus | null>(null);
  const [setup, setSetup] = useState<TotpSetup | null>(null);
  const [code, setCode] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => void account.totp().then(setStatus, (e) => setError(describeError(e))), []);

  const run = async (e: Event | null, fn: () => Promise<void>) => {
    e?.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await fn();
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  const start = () => run(null, async () => setSetup(await account.setupTotp()));
  const enable = (e: Event) =>
    run(e, async () => {
      await account.enableTotp(code);
      setSetup(null);
      setCode('');
      setStatus({ enabled: true, pending: false });
      toast({ text: 'Two-factor login is on', kind: 'success' });
    });
  const disable = (e: Event) =>
    run(e, async () => {
      await account.disableTotp(password);
      setPassword('');
      setStatus({ enabled: false, pending: false });
      toast({ text: 'Two-factor login is off', kind: 'success' });
    });

  let body;
  if (!status) body = !error && <Loading what="Loading two-factor login" />;
  else if (status.enabled)
    body = (
      <form class="stack" onSubmit={disable}>
        <p>
          <span class="badge verified">On</span> Signing in asks for a code from your authenticator app.
        </p>
        <Field label="Your password" hint="To turn two-factor login off.">
          <input type="password" autoComplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </Field>
        <ErrorBox message={error} />
        <div>
          <button type="submit" class="btn danger" disabled={busy}>
            Turn off two-factor login
          </button>
        </div>
      </form>
    );
  else if (setup)
    body = (
      <form class="stack" onSubmit={enable}>
        <p>Add this key to an authenticator app (choose "enter a setup key"), then type the code it shows.</p>
        <Field label="Setup key">
          <code class="totp-secret" data-secret={setup.secret}>
            {groupSecret(setup.secret)}
          </code>
        </Field>
        <div class="field">
          <span class="field-label" id="otpauth-label">
            Or the setup link (some apps and password managers accept it)
          </span>
          <div class="copy-row">
            <input class="mono" readOnly aria-labelledby="otpauth-label" value={setup.otpauth_uri} onFocus={(e) => e.currentTarget.select()} />
            <CopyButton text={setup.otpauth_uri} what="setup link" />
          </div>
        </div>
        <CodeField label="Code from the app" value={code} onInput={setCode} />
        <ErrorBox message={error} />
        <div class="row">
          <button type="submit" class="btn primary" disabled={busy || code.length !== 6}>
            Turn on two-factor login
          </button>
          <button type="button" class="btn" onClick={() => (setSetup(null), setError(null))}>
            Cancel
          </button>
        </div>
      </form>
    );
  else
    body = (
      <div class="stack">
        <p>Off. With two-factor login, signing in also asks for a code from an app on your phone.</p>
        <ErrorBox message={error} />
        <div>
          <button type="button" class="btn primary" disabled={busy} onClick={start}>
            Set up two-factor login
          </button>
        </div>
      </div>
    );
  return (
    <section aria-labelledby="totp-title">
      <h2 id="totp-title">Two-factor login</h2>
      {body}
    </section>
  );
}
