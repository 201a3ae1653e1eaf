//! Provisioning: organizations, users and sites, as the command line, the demo and the app API
//! create them. Every input goes through the domain's validation.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use frontdesk_core::audit::{AuditVerification, ChainVerifier};
use frontdesk_core::chat::Chat;
use frontdesk_core::model::{Membership, Organization, Site, User, WidgetConfig};
use frontdesk_core::plans::Plan;
use frontdesk_core::ports::Entropy;
use frontdesk_core::roles::Role;
use frontdesk_core::store::{Store, StoreError};
use frontdesk_core::{CoreError, OrgId, SiteId, UserId, keys, origin, validate};

pub const MAX_NAME_CHARS: usize = 100;
/// More than enough for real sites; keeps the preflight check cheap.
pub const MAX_ALLOWED_ORIGINS: usize = 50;

fn argon2() -> Argon2<'static> {
    // argon2id with the library's defaults (19 MiB, 2 passes, 1 lane): OWASP's recommendation.
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

/// An argon2id PHC string of `password`, salted with 16 random bytes from the chat's entropy port.
pub fn hash_password(chat: &Chat, password: &str) -> Result<String, CoreError> {
    hash_password_with(&*chat.entropy, password)
}

pub(crate) fn hash_password_with(entropy: &dyn Entropy, password: &str) -> Result<String, CoreError> {
    let mut salt = [0u8; 16];
    entropy.fill(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| invalid("password", e.to_string()))?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| invalid("password", e.to_string()))
}

/// Whether `password` matches the PHC string `hash`. A malformed hash matches nothing.
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| argon2().verify_password(password.as_bytes(), &parsed).is_ok())
}

fn invalid(field: &str, message: impl Into<String>) -> CoreError {
    CoreError::Invalid { field: field.to_owned(), message: message.into() }
}

pub async fn create_org(chat: &Chat, name: &str, plan: Plan) -> Result<Organization, CoreError> {
    let org = Organization {
        id: OrgId::generate(&*chat.clock, &*chat.entropy),
        name: validate::short_text("name", name, MAX_NAME_CHARS)?,
        plan,
        extra_seats: 0,
        created_at: chat.clock.now(),
    };
    chat.store.create_org(&org).await?;
    Ok(org)
}

/// Creates a user with a password, and optionally their membership of one organization.
pub async fn create_user(
    chat: &Chat,
    email: &str,
    name: &str,
    password: &str,
    membership: Option<(OrgId, Role)>,
) -> Result<User, CoreError> {
    let email = validate::email(email)?;
    let name = validate::short_text("name", name, MAX_NAME_CHARS)?;
    validate::new_password(password)?;
    if let Some((org_id, _)) = membership {
        chat.store.get_org(org_id).await.map_err(|e| CoreError::from_store(e, "organization"))?;
    }
    let user = User {
        id: UserId::generate(&*chat.clock, &*chat.entropy),
        email,
        name,
        password_hash: hash_password(chat, password)?,
        created_at: chat.clock.now(),
    };
    chat.store.create_user(&user).await.map_err(|e| match e {
        StoreError::Conflict(_) => CoreError::Conflict("a user with this email exists already".to_owned()),
        other => CoreError::Store(other),
    })?;
    if let Some((org_id, role)) = membership {
        let m = Membership { org_id, user_id: user.id, role, created_at: chat.clock.now() };
        chat.store.put_membership(&m).await?;
    }
    Ok(user)
}

/// Checks and normalizes a list of allowed origins.
pub fn parse_allowed_origins(allowed_origins: &[String]) -> Result<Vec<String>, CoreError> {
    if allowed_origins.len() > MAX_ALLOWED_ORIGINS {
        return Err(invalid("allowed_origins", format!("at most {MAX_ALLOWED_ORIGINS} entries")));
    }
    let mut out: Vec<String> = Vec::with_capacity(allowed_origins.len());
    for raw in allowed_origins {
        let entry = origin::parse_allowed_origin(raw)?;
        if !out.contains(&entry) {
            out.push(entry);
        }
    }
    Ok(out)
}

/// Creates a site with fresh keys and the default widget configuration.
pub async fn create_site(
    chat: &Chat,
    org_id: OrgId,
    name: &str,
    allowed_origins: &[String],
) -> Result<Site, CoreError> {
    create_site_with_widget(chat, org_id, name, allowed_origins, WidgetConfig::default()).await
}

pub(crate) async fn create_site_with_widget(
    chat: &Chat,
    org_id: OrgId,
    name: &str,
    allowed_origins: &[String],
    widget: WidgetConfig,
) -> Result<Site, CoreError> {
    let name = validate::short_text("name", name, MAX_NAME_CHARS)?;
    let allowed_origins = parse_allowed_origins(allowed_origins)?;
    chat.store.get_org(org_id).await.map_err(|e| CoreError::from_store(e, "organization"))?;
    let now = chat.clock.now();
    let site = Site {
        id: SiteId::generate(&*chat.clock, &*chat.entropy),
        org_id,
        name,
        public_key: keys::new_public_key(&*chat.entropy),
        secret: keys::new_site_secret(&*chat.entropy),
        allowed_origins,
        widget,
        widget_draft: None,
        assistant: Default::default(),
        previous_public_key: None,
        previous_key_expires_at: None,
        require_verified_identity: false,
        retention_days: None,
        created_at: now,
        updated_at: now,
    };
    chat.store.create_site(&site).await?;
    Ok(site)
}

/// Appends an audit event for an action without a user: the command line or a background job
/// (`details.via` says which). A failure is logged: the action is committed already.
pub async fn audit_system(
    chat: &Chat,
    org_id: OrgId,
    action: &str,
    target: (&str, String),
    details: serde_json::Value,
) {
    let event = frontdesk_core::audit::AuditEvent {
        id: frontdesk_core::AuditEventId::generate(&*chat.clock, &*chat.entropy),
        org_id,
        actor_id: None,
        action: action.to_owned(),
        target_kind: target.0.to_owned(),
        target_id: target.1,
        ip: None,
        user_agent: None,
        details,
        created_at: chat.clock.now(),
    };
    if let Err(e) = chat.store.append_audit(&event).await {
        tracing::error!(error = %e, action, "could not write an audit event");
    }
}

/// The command line's `privacy export`: the export document, audited like the API's.
pub async fn privacy_export(
    chat: &Chat,
    org_id: OrgId,
    lookup: &frontdesk_core::privacy::VisitorLookup,
) -> Result<frontdesk_core::privacy::VisitorExport, CoreError> {
    chat.store.get_org(org_id).await.map_err(|e| CoreError::from_store(e, "organization"))?;
    let document = frontdesk_core::privacy::export(&*chat.store, org_id, lookup, chat.clock.now()).await?;
    let visitors: Vec<_> = document.visitors.iter().map(|v| v.visitor.id).collect();
    let details = serde_json::json!({
        "via": "cli",
        "lookup": crate::privacy_api::lookup_kind(lookup),
        "visitors": visitors,
    });
    audit_system(chat, org_id, "privacy.export", crate::privacy_api::target(lookup, &visitors), details).await;
    Ok(document)
}

/// The command line's `privacy erase`: erases and audits like the API.
pub async fn privacy_erase(
    chat: &Chat,
    org_id: OrgId,
    lookup: &frontdesk_core::privacy::VisitorLookup,
) -> Result<(Vec<frontdesk_core::VisitorId>, frontdesk_core::privacy::ErasureCounts), CoreError> {
    chat.store.get_org(org_id).await.map_err(|e| CoreError::from_store(e, "organization"))?;
    let (visitors, counts) = frontdesk_core::privacy::erase(&*chat.store, org_id, lookup, chat.clock.now()).await?;
    let details = serde_json::json!({
        "via": "cli",
        "lookup": crate::privacy_api::lookup_kind(lookup),
        "visitors": visitors,
        "counts": counts,
    });
    audit_system(chat, org_id, "privacy.erase", crate::privacy_api::target(lookup, &visitors), details).await;
    Ok((visitors, counts))
}

/// Events read per page while walking an audit chain.
const VERIFY_PAGE: u32 = 1_000;

/// Reads the head first and checks the events up to it, so appends made meanwhile are not
/// mistaken for a broken chain. The API's `…/audit/verify` and `frontdesk audit verify` both use it.
pub async fn verify_audit_chain(store: &dyn Store, org_id: OrgId) -> Result<AuditVerification, StoreError> {
    let head = store.audit_head(org_id).await?;
    let last = head.as_ref().map_or(0, |h| h.last_seq);
    let mut verifier = ChainVerifier::new(org_id);
    while verifier.last_seq() < last {
        let before = verifier.last_seq();
        let page = store.audit_chain(org_id, before, VERIFY_PAGE).await?;
        let mut intact = true;
        for record in page.iter().take_while(|r| r.seq <= last) {
            intact = verifier.push(record);
            if !intact {
                break;
            }
        }
        // A broken link is reported; a page that moved nothing forward (empty, or only events
        // past the head) leaves the rest to `finish`, which reports the missing tail.
        if !intact || verifier.last_seq() == before {
            break;
        }
    }
    Ok(verifier.finish(head.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use frontdesk_core::ports::SeededEntropy;

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let e = SeededEntropy::new(5);
        let hash = hash_password_with(&e, "correct horse battery").unwrap_or_default();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password(&hash, "correct horse battery"));
        assert!(!verify_password(&hash, "correct horse batterY"));
        assert!(!verify_password("not a hash", "correct horse battery"));
        // A fresh salt each time.
        assert_ne!(hash_password_with(&e, "correct horse battery").unwrap_or_default(), hash);
    }

    #[test]
    fn origins_are_normalized_deduplicated_and_checked() {
        let list = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            parse_allowed_origins(&list(&["HTTPS://Shop.example.com/", "https://shop.example.com", "*.example.org"]))
                .ok(),
            Some(list(&["https://shop.example.com", "*.example.org"]))
        );
        assert!(parse_allowed_origins(&list(&["shop.example.com"])).is_err());
        assert!(parse_allowed_origins(&vec!["https://a.example.com".to_owned(); 51]).is_err());
    }
}
