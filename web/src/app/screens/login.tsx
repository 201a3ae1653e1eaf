import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError, describeError, session } from '../api';
import type { Me, Membership } from '../types';
import { CodeField, ErrorBox } from '../ui/common';

function AuthCard({ children }: { children: ComponentChildren }) {
  return (
    <main class="auth" id="main">
      <div class="auth-card">{children}</div>
    </main>
  );
}

export function LoginScreen({ onSignedIn }: { onSignedIn: (me: Me) => void }) {
  const [forgot, setForgot] = useState(false);
  return (
    <AuthCard>
      {forgot ? <ForgotForm /> : <SignInForm title="Sign in to Frontdesk" onSignedIn={onSignedIn} />}
      <button type="button" class="btn link" onClick={() => setForgot(!forgot)}>
        {forgot ? 'Back to sign in' : 'Forgot your password?'}
      </button>
    </AuthCard>
  );
}

/** Runs `fn` with a busy flag and a message for people when it throws (`onError`: a message of its
 * own, null for none, undefined for the usual one). */
function useSubmit(fn: () => Promise<void>, onError?: (e: unknown) => string | null | undefined) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await fn();
    } catch (err) {
      const m = onError?.(err);
      setError(m === undefined ? describeError(err) : m);
    } finally {
      setBusy(false);
    }
  };
  return { submit, error, busy };
}

function ForgotForm() {
  const [email, setEmail] = useState('');
  const [sent, setSent] = useState(false);
  const { submit, error, busy } = useSubmit(async () => {
    await session.forgot(email.trim());
    setSent(true);
  });
  if (sent) return <p role="status">If that address has an account, we've emailed a link to choose a new password.</p>;
  return (
    <form onSubmit={submit} aria-labelledby="forgot-title">
      <h1 id="forgot-title">Reset your password</h1>
      <label class="field">
        <span class="field-label">Email</span>
        <input type="email" name="email" autoComplete="username" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
      </label>
      <ErrorBox message={error} />
      <button class="btn primary" type="submit" disabled={busy}>
        Email me a link
      </button>
    </form>
  );
}

/** `#/reset/<token>`: choose a new password with an emailed link. */
export function ResetScreen({ token }: { token: string }) {
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [done, setDone] = useState(false);
  const { submit, error, busy } = useSubmit(
    async () => {
      if (password !== confirm) throw new Error('The two passwords are not the same.');
      await session.reset(token, password);
      setDone(true);
    },
    (e) => (e instanceof ApiError && e.status === 404 ? 'This link is invalid, used or expired. Ask for a new one from the sign-in page.' : undefined),
  );
  return (
    <AuthCard>
      {done ? (
        <p role="status">
          Password changed. <a href="#/inbox">Sign in</a> with your new password.
        </p>
      ) : (
        <form onSubmit={submit} aria-labelledby="reset-title">
          <h1 id="reset-title">Choose a new password</h1>
          <label class="field">
            <span class="field-label">New password</span>
            <input type="password" autoComplete="new-password" required minLength={10} value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
            <span class="hint">At least 10 characters.</span>
          </label>
          <label class="field">
            <span class="field-label">Confirm new password</span>
            <input type="password" autoComplete="new-password" required value={confirm} onInput={(e) => setConfirm(e.currentTarget.value)} />
          </label>
          <ErrorBox message={error} />
          <button class="btn primary" type="submit" disabled={busy}>
            Change password
          </button>
        </form>
      )}
      {!done && <a href="#/inbox">Back to sign in</a>}
    </AuthCard>
  );
}

/** Email and password; `email` pre-fills the address (an invitation's). */
export function SignInForm(props: { title: string; email?: string; subheading?: boolean; onSignedIn: (me: Me) => void }) {
  const { title, onSignedIn } = props;
  const Heading = props.subheading ? 'h2' : 'h1';
  const [email, setEmail] = useState(props.email ?? '');
  const [password, setPassword] = useState('');
  // null until the server asks for a two-factor code.
  const [code, setCode] = useState<string | null>(null);
  const { submit, error, busy } = useSubmit(
    async () => onSignedIn(await session.login(email.trim(), password, code ?? undefined)),
    (e) => {
      if (!(e instanceof ApiError)) return undefined;
      if (e.code === 'totp_required') {
        setCode('');
        return null;
      }
      return code !== null && e.code === 'invalid_credentials' ? 'That code is not right, or was already used. Try the next one.' : undefined;
    },
  );
  return (
    <form onSubmit={submit} aria-labelledby="login-title">
      <Heading id="login-title">{title}</Heading>
      <label class="field">
        <span class="field-label">Email</span>
        <input type="email" name="email" autoComplete="username" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
      </label>
      <label class="field">
        <span class="field-label">Password</span>
        <input
          type="password"
          name="password"
          autoComplete="current-password"
          required
          value={password}
          onInput={(e) => setPassword(e.currentTarget.value)}
        />
      </label>
      {code !== null && <CodeField value={code} onInput={setCode} label="Two-factor code" hint="The 6-digit code from your authenticator app." />}
      <ErrorBox message={error} />
      <button class="btn primary" type="submit" disabled={busy}>
        {busy ? 'Signing in…' : 'Sign in'}
      </button>
    </form>
  );
}

export function OrgPicker({ me, onPick, onLogout }: { me: Me; onPick: (m: Membership) => void; onLogout: () => void }) {
  return (
    <main class="auth" id="main">
      <section class="auth-card" aria-labelledby="pick-title">
        <h1 id="pick-title">Choose an organization</h1>
        {me.memberships.length === 0 ? (
          <p>You are not a member of any organization yet. Ask for an invitation.</p>
        ) : (
          <ul class="org-list">
            {me.memberships.map((m) => (
              <li key={m.org_id}>
                <button type="button" class="btn block" onClick={() => onPick(m)}>
                  {m.org_name} <span class="muted">({m.role})</span>
                </button>
              </li>
            ))}
          </ul>
        )}
        <button type="button" class="btn link" onClick={onLogout}>
          Sign out ({me.user.email})
        </button>
      </section>
    </main>
  );
}
