// What the invitation page (`#/invite/<token>`) asks of whoever opens it.
import type { Me, Membership, PublicInvite } from './types';

export type InviteStep =
  /** No account yet: choose a name and a password. */
  | 'create'
  /** An account exists and nobody is signed in: sign in here, as the invited email, then accept. */
  | 'sign_in'
  /** Signed in as someone else: sign out first. */
  | 'wrong_user'
  /** Signed in as the invited email: accept. */
  | 'accept';

export function inviteStep(invite: PublicInvite, me: Me | null): InviteStep {
  if (!invite.existing_user) return 'create';
  if (!me) return 'sign_in';
  return me.user.email.toLowerCase() === invite.email.toLowerCase() ? 'accept' : 'wrong_user';
}

/** The membership an accepted invitation added (to open that organization), when it can be told. */
export function joinedMembership(me: Me, invite: PublicInvite): Membership | null {
  const found = me.memberships.filter((m) => m.org_name === invite.org_name);
  return found.length === 1 ? found[0] : null;
}
