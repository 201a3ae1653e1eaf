//! Email from the server: team invitations now, escalation and mention alerts from the outbox
//! (the `frontdesk-notify` crate's Notifier, started by [`crate::build_with_realtime`] when SMTP
//! is configured).

use crate::state::AppState;
use frontdesk_core::model::Organization;
use frontdesk_core::team::Invite;

/// Emails the invitation link when SMTP is configured. A failure is logged, not returned: the
/// invitation exists and the inviter has the link to pass on by hand.
pub async fn send_invite(st: &AppState, org: &Organization, inviter_name: &str, invite: &Invite, link: &str) {
    let Some(mailer) = &st.mailer else {
        return;
    };
    let (subject, text) = frontdesk_notify::invite_email(&org.name, inviter_name, link, invite.expires_at);
    if let Err(e) = mailer.send(&invite.email, &subject, &text).await {
        tracing::warn!(error = %e, invite_id = %invite.id, "could not email the invitation");
    }
}
