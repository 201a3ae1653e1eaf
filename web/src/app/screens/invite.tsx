// Accepting an invitation (`#/invite/<token>`): new people choose a name and password; people
// with an account sign in as the invited email and accept.
import { useEffect, useState } from 'preact/hooks';
import { describeError, session } from '../api';
import type { Me, PublicInvite } from '../types';
import { ErrorBox, Loading } from '../ui/common';

export function InviteScreen({ token, me, onSignedIn }: { token: string; me: Me | null; onSignedIn: (me: Me) => void }) {
  const [invite, setInvite] = useState<PublicInvite | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    session.invite(token).then(setInvite, (e) => setLoadError(describeError(e)));
  }, [token]);

  const accept = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body = invite?.existing_user ? {} : { name: name.trim(), password };
      const m = await session.acceptInvite(token, body);
      onSignedIn(m);
      location.hash = '#/inbox';
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };

  const wrongUser = invite?.existing_user && me && me.user.email.toLowerCase() !== invite.email.toLowerCase();
  return (
    <main class="auth" id="main">
      <section class="auth-card" aria-labelledby="invite-title">
        <h1 id="invite-title">Join a team on Frontdesk</h1>
        {loadError && (
          <>
            <ErrorBox message={loadError} />
            <p>The invitation may have expired or been revoked. Ask for a new one.</p>
          </>
        )}
        {!invite && !loadError && <Loading what="Loading the invitation" />}
        {invite && (
          <form onSubmit={accept}>
            <p>
              You are invited to <strong>{invite.org_name}</strong> as <strong>{invite.role}</strong> ({invite.email}).
            </p>
            {invite.existing_user ? (
              !me ? (
                <p>
                  You already have an account. <a href="#/inbox">Sign in as {invite.email}</a>, then open this link again.
                </p>
              ) : wrongUser ? (
                <p class="error">You are signed in as {me.user.email}; this invitation is for {invite.email}.</p>
              ) : null
            ) : (
              <>
                <label class="field">
                  <span class="field-label">Your name</span>
                  <input required autoComplete="name" value={name} onInput={(e) => setName(e.currentTarget.value)} />
                </label>
                <label class="field">
                  <span class="field-label">Choose a password</span>
                  <input type="password" required minLength={8} autoComplete="new-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
                </label>
              </>
            )}
            <ErrorBox message={error} />
            {(!invite.existing_user || (me && !wrongUser)) && (
              <button class="btn primary" type="submit" disabled={busy}>
                Accept the invitation
              </button>
            )}
          </form>
        )}
      </section>
    </main>
  );
}
