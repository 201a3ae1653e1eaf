// Accepting an invitation (`#/invite/<token>`): new people choose a name and password; people
// with an account sign in here, as the invited email, and accept without leaving the page.
import { useEffect, useState } from 'preact/hooks';
import { describeError, session } from '../api';
import { inviteStep, joinedMembership } from '../invite-flow';
import type { Me, Membership, PublicInvite } from '../types';
import { ErrorBox, Loading } from '../ui/common';
import { SignInForm } from './login';

interface Props {
  token: string;
  /** Undefined while the session is being checked. */
  me: Me | null | undefined;
  /** Someone signed in (or an accepted invitation signed them in); `org` is the organization joined. */
  onSignedIn: (me: Me, org?: Membership | null) => void;
  onSignOut: () => void;
}

export function InviteScreen({ token, me, onSignedIn, onSignOut }: Props) {
  const [invite, setInvite] = useState<PublicInvite | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    session.invite(token).then(setInvite, (e) => setLoadError(describeError(e)));
  }, [token]);

  const step = invite && me !== undefined ? inviteStep(invite, me) : null;

  const accept = async (e: Event) => {
    e.preventDefault();
    if (!invite) return;
    setBusy(true);
    setError(null);
    try {
      const body = invite.existing_user ? {} : { name: name.trim(), password };
      const m = await session.acceptInvite(token, body);
      onSignedIn(m, joinedMembership(m, invite));
      location.hash = '#/inbox';
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };

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
        {(!invite || me === undefined) && !loadError && <Loading what="Loading the invitation" />}
        {invite && (
          <p>
            You are invited to <strong>{invite.org_name}</strong> as <strong>{invite.role}</strong> ({invite.email}).
          </p>
        )}
        {invite && step === 'sign_in' && (
          <>
            <p>You already have an account: sign in as {invite.email} to accept.</p>
            <SignInForm title="Sign in" subheading email={invite.email} onSignedIn={(m) => onSignedIn(m)} />
          </>
        )}
        {invite && step === 'wrong_user' && me && (
          <>
            <p class="error">
              You are signed in as {me.user.email}; this invitation is for {invite.email}.
            </p>
            <button type="button" class="btn" onClick={onSignOut}>
              Sign out
            </button>
          </>
        )}
        {invite && (step === 'create' || step === 'accept') && (
          <form onSubmit={accept}>
            {step === 'create' && (
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
            {step === 'accept' && me && <p>Signed in as {me.user.email}.</p>}
            <ErrorBox message={error} />
            <button class="btn primary" type="submit" disabled={busy}>
              Accept the invitation
            </button>
          </form>
        )}
      </section>
    </main>
  );
}
