import { describe, expect, it } from 'vitest';
import { inviteStep, joinedMembership } from '../src/app/invite-flow';
import type { Me, PublicInvite } from '../src/app/types';

const invite = (existing_user: boolean): PublicInvite => ({
  org_name: 'Acme',
  email: 'Sam@Example.com',
  role: 'member',
  expires_at: '2030-01-01T00:00:00Z',
  existing_user,
});
const me = (email: string, orgs: string[] = []): Me =>
  ({ user: { id: 'u', email, name: 'Sam' }, memberships: orgs.map((n, i) => ({ org_id: `o${i}`, org_name: n, role: 'member' })) }) as unknown as Me;

describe('the invitation page', () => {
  it('asks new people for a name and password, signed in or not', () => {
    expect(inviteStep(invite(false), null)).toBe('create');
    expect(inviteStep(invite(false), me('other@example.com'))).toBe('create');
  });

  it('lets an existing account sign in on the page, then accept', () => {
    expect(inviteStep(invite(true), null)).toBe('sign_in');
    expect(inviteStep(invite(true), me('sam@example.com'))).toBe('accept');
  });

  it('asks someone signed in as another account to sign out', () => {
    expect(inviteStep(invite(true), me('other@example.com'))).toBe('wrong_user');
  });

  it('opens the organization joined when its name is unambiguous', () => {
    expect(joinedMembership(me('sam@example.com', ['Other', 'Acme']), invite(true))?.org_id).toBe('o1');
    expect(joinedMembership(me('sam@example.com', ['Acme', 'Acme']), invite(true))).toBeNull();
    expect(joinedMembership(me('sam@example.com', []), invite(true))).toBeNull();
  });
});
