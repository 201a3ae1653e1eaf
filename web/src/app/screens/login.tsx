import { useState } from 'preact/hooks';
import { describeError, session } from '../api';
import type { Me, Membership } from '../types';
import { ErrorBox } from '../ui/common';

export function LoginScreen({ onSignedIn }: { onSignedIn: (me: Me) => void }) {
  return (
    <main class="auth" id="main">
      <div class="auth-card">
        <SignInForm title="Sign in to Frontdesk" onSignedIn={onSignedIn} />
      </div>
    </main>
  );
}

/** Email and password; `email` pre-fills the address (an invitation's). */
export function SignInForm(props: { title: string; email?: string; subheading?: boolean; onSignedIn: (me: Me) => void }) {
  const { title, onSignedIn } = props;
  const Heading = props.subheading ? 'h2' : 'h1';
  const [email, setEmail] = useState(props.email ?? '');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await session.login(email.trim(), password));
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };
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
