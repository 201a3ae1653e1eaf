//! The audit log: who did what to which thing, from where.
//!
//! Each organization's events form a hash chain. The store numbers an organization's events
//! 1, 2, 3… (`seq`) and seals each one with [`seal`]: `prev_hash` is the previous event's `hash`
//! ([`GENESIS_HASH`] for the first), and `hash` is the lower-case hex SHA-256 of
//! [`canonical_bytes`]. Changing, removing or inserting an event breaks a link that
//! [`ChainVerifier`] finds.
//!
//! The canonical form (version 1) is the UTF-8 line `frontdesk-audit/1`, a newline, then these
//! fields in this order, each written as `<byte length in decimal>:<bytes>\n`, or `-\n` when an
//! optional field is absent:
//!
//! 1. `seq` in decimal
//! 2. `id` (hyphenated lower-case UUID)
//! 3. `org_id`
//! 4. `actor_id` (optional)
//! 5. `action`
//! 6. `target_kind`
//! 7. `target_id`
//! 8. `ip` (optional)
//! 9. `user_agent` (optional)
//! 10. `details` as canonical JSON ([`canonical_json`]: object keys sorted by their UTF-8 bytes,
//!     no whitespace, strings and numbers as `serde_json` writes them)
//! 11. `created_at` in Unix milliseconds, decimal
//! 12. `prev_hash`
//!
//! The length prefixes make the form unambiguous whatever the fields contain (newlines, `:`, `-`).

use crate::ids::*;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEvent {
    pub id: AuditEventId,
    pub org_id: OrgId,
    /// The acting user; `None` for the system or the command line.
    pub actor_id: Option<UserId>,
    /// A dotted verb such as `conversation.resolve` or `site.create`.
    pub action: String,
    /// `conversation`, `site`, `user`, …
    pub target_kind: String,
    pub target_id: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    pub created_at: Timestamp,
}

/// An event as stored: its place in its organization's chain and the hashes that link it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditRecord {
    #[serde(flatten)]
    pub event: AuditEvent,
    /// 1, 2, 3… per organization.
    pub seq: i64,
    /// The previous event's `hash`; [`GENESIS_HASH`] for the first.
    pub prev_hash: String,
    /// Hex SHA-256 of the canonical form of this event and `prev_hash`.
    pub hash: String,
}

/// The newest link of an organization's chain, kept beside the events so that dropping events
/// from the end is noticed too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditHead {
    pub last_seq: i64,
    pub last_hash: String,
}

/// What the first event of a chain links to.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

const CANONICAL_VERSION: &str = "frontdesk-audit/1";

/// The bytes that are hashed for `event` at position `seq` after `prev_hash` (see the module).
pub fn canonical_bytes(event: &AuditEvent, seq: i64, prev_hash: &str) -> Vec<u8> {
    fn field(out: &mut Vec<u8>, value: Option<&str>) {
        match value {
            Some(v) => {
                out.extend_from_slice(v.len().to_string().as_bytes());
                out.push(b':');
                out.extend_from_slice(v.as_bytes());
            }
            None => out.push(b'-'),
        }
        out.push(b'\n');
    }
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(CANONICAL_VERSION.as_bytes());
    out.push(b'\n');
    field(&mut out, Some(&seq.to_string()));
    field(&mut out, Some(&event.id.to_string()));
    field(&mut out, Some(&event.org_id.to_string()));
    field(&mut out, event.actor_id.map(|a| a.to_string()).as_deref());
    field(&mut out, Some(&event.action));
    field(&mut out, Some(&event.target_kind));
    field(&mut out, Some(&event.target_id));
    field(&mut out, event.ip.as_deref());
    field(&mut out, event.user_agent.as_deref());
    field(&mut out, Some(&canonical_json(&event.details)));
    field(&mut out, Some(&event.created_at.millis().to_string()));
    field(&mut out, Some(prev_hash));
    out
}

/// JSON with object keys sorted by their UTF-8 bytes and no whitespace, whatever order the
/// value's maps keep (PostgreSQL's `jsonb` reorders keys, so the stored order cannot be used).
pub fn canonical_json(value: &serde_json::Value) -> String {
    fn write(out: &mut String, value: &serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
                out.push('{');
                for (i, (key, v)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::Value::String(key.clone()).to_string());
                    out.push(':');
                    write(out, v);
                }
                out.push('}');
            }
            serde_json::Value::Array(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(out, v);
                }
                out.push(']');
            }
            leaf => out.push_str(&leaf.to_string()),
        }
    }
    let mut out = String::new();
    write(&mut out, value);
    out
}

/// Lower-case hex SHA-256 of the canonical form.
pub fn chain_hash(event: &AuditEvent, seq: i64, prev_hash: &str) -> String {
    Sha256::digest(canonical_bytes(event, seq, prev_hash)).iter().map(|b| format!("{b:02x}")).collect()
}

/// Links `event` into a chain whose newest link is `head` (`None`: an empty chain).
pub fn seal(event: AuditEvent, head: Option<&AuditHead>) -> AuditRecord {
    let (seq, prev_hash) = match head {
        Some(h) => (h.last_seq + 1, h.last_hash.clone()),
        None => (1, GENESIS_HASH.to_owned()),
    };
    let hash = chain_hash(&event, seq, &prev_hash);
    AuditRecord { event, seq, prev_hash, hash }
}

/// Why a link of the chain is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BrokenReason {
    /// The event's number is not the previous one's plus one: an event was removed or added.
    SeqGap,
    /// `prev_hash` is not the previous event's `hash`.
    PrevHashMismatch,
    /// The event's content no longer hashes to its `hash`: it was changed.
    HashMismatch,
    /// The chain's head records events past the last one there: events were removed from the end.
    Truncated,
    /// The event belongs to another organization's chain.
    WrongOrganization,
}

/// The first link that does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BrokenLink {
    /// Where the chain breaks: the event's number, or for `truncated` the first missing one.
    pub seq: i64,
    /// The event found there; `None` when it is missing.
    pub id: Option<AuditEventId>,
    pub reason: BrokenReason,
}

/// The outcome of walking a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditVerification {
    pub ok: bool,
    /// Events checked before the first broken link (all of them when `ok`).
    pub checked: u64,
    pub first_broken: Option<BrokenLink>,
}

/// Walks one organization's chain in `seq` order, one event at a time, so a long chain can be
/// checked page by page.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    org_id: OrgId,
    last_seq: i64,
    last_hash: String,
    checked: u64,
    broken: Option<BrokenLink>,
}

impl ChainVerifier {
    pub fn new(org_id: OrgId) -> Self {
        ChainVerifier { org_id, last_seq: 0, last_hash: GENESIS_HASH.to_owned(), checked: 0, broken: None }
    }

    /// Checks the next event; `false` once a link is broken (later events are not looked at).
    pub fn push(&mut self, record: &AuditRecord) -> bool {
        if self.broken.is_some() {
            return false;
        }
        let reason = if record.event.org_id != self.org_id {
            Some(BrokenReason::WrongOrganization)
        } else if record.seq != self.last_seq + 1 {
            Some(BrokenReason::SeqGap)
        } else if record.prev_hash != self.last_hash {
            Some(BrokenReason::PrevHashMismatch)
        } else if chain_hash(&record.event, record.seq, &record.prev_hash) != record.hash {
            Some(BrokenReason::HashMismatch)
        } else {
            None
        };
        if let Some(reason) = reason {
            self.broken = Some(BrokenLink { seq: record.seq, id: Some(record.event.id), reason });
            return false;
        }
        self.last_seq = record.seq;
        self.last_hash.clone_from(&record.hash);
        self.checked += 1;
        true
    }

    /// The number of the last event checked (0 before any).
    pub fn last_seq(&self) -> i64 {
        self.last_seq
    }

    /// Ends the walk; `head` is the chain head as read before the events.
    pub fn finish(mut self, head: Option<&AuditHead>) -> AuditVerification {
        if self.broken.is_none()
            && let Some(h) = head
            && (h.last_seq > self.last_seq || (h.last_seq == self.last_seq && h.last_hash != self.last_hash))
        {
            let reason = if h.last_seq > self.last_seq { BrokenReason::Truncated } else { BrokenReason::HashMismatch };
            let seq = if reason == BrokenReason::Truncated { self.last_seq + 1 } else { self.last_seq };
            self.broken = Some(BrokenLink { seq, id: None, reason });
        }
        AuditVerification { ok: self.broken.is_none(), checked: self.checked, first_broken: self.broken }
    }
}

/// Checks a whole chain at once: `records` in `seq` order, `head` as stored.
pub fn verify_chain(org_id: OrgId, records: &[AuditRecord], head: Option<&AuditHead>) -> AuditVerification {
    let mut v = ChainVerifier::new(org_id);
    for r in records {
        if !v.push(r) {
            break;
        }
    }
    v.finish(head)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(n: u128, details: serde_json::Value) -> AuditEvent {
        AuditEvent {
            id: AuditEventId(Uuid::from_u128(n)),
            org_id: OrgId(Uuid::from_u128(1)),
            actor_id: Some(UserId(Uuid::from_u128(2))),
            action: "site.update".into(),
            target_kind: "site".into(),
            target_id: "s1".into(),
            ip: Some("203.0.113.9".into()),
            user_agent: None,
            details,
            created_at: Timestamp(1_700_000_000_000 + n as i64),
        }
    }

    fn chain(n: u128) -> (Vec<AuditRecord>, AuditHead) {
        let mut records: Vec<AuditRecord> = Vec::new();
        for i in 1..=n {
            let head = records.last().map(|r| AuditHead { last_seq: r.seq, last_hash: r.hash.clone() });
            records.push(seal(event(i, json!({ "i": i as u64 })), head.as_ref()));
        }
        let last = records.last().map(|r| AuditHead { last_seq: r.seq, last_hash: r.hash.clone() });
        (records, last.unwrap_or(AuditHead { last_seq: 0, last_hash: GENESIS_HASH.into() }))
    }

    #[test]
    fn the_canonical_form_is_exactly_as_documented() {
        let e = event(3, json!({ "b": [1, "x"], "a": { "z": null, "y": true } }));
        let text = String::from_utf8(canonical_bytes(&e, 7, GENESIS_HASH)).expect("utf-8");
        let expected = format!(
            "frontdesk-audit/1\n1:7\n36:{}\n36:{}\n36:{}\n11:site.update\n4:site\n2:s1\n11:203.0.113.9\n-\n\
             37:{{\"a\":{{\"y\":true,\"z\":null}},\"b\":[1,\"x\"]}}\n13:1700000000003\n64:{GENESIS_HASH}\n",
            Uuid::from_u128(3),
            Uuid::from_u128(1),
            Uuid::from_u128(2)
        );
        assert_eq!(text, expected);
        // A known digest pins the hash function and the hex form.
        assert_eq!(chain_hash(&e, 7, GENESIS_HASH).len(), 64);
        let digest: String = Sha256::digest(expected.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(chain_hash(&e, 7, GENESIS_HASH), digest);
    }

    #[test]
    fn key_order_and_field_boundaries_cannot_be_confused() {
        let a = event(1, json!({ "x": 1, "y": 2 }));
        let mut b = a.clone();
        b.details = serde_json::from_str(r#"{"y":2,"x":1}"#).expect("json");
        assert_eq!(chain_hash(&a, 1, GENESIS_HASH), chain_hash(&b, 1, GENESIS_HASH));
        // Moving text from one field to the next changes the hash.
        let mut c = a.clone();
        c.target_kind = "site\n2:s1".into();
        c.target_id = String::new();
        assert_ne!(chain_hash(&a, 1, GENESIS_HASH), chain_hash(&c, 1, GENESIS_HASH));
        // An absent optional field differs from an empty one and from a literal "-".
        let mut d = a.clone();
        d.user_agent = Some(String::new());
        let mut e = a.clone();
        e.user_agent = Some("-".into());
        let hashes = [&a, &d, &e].map(|x| chain_hash(x, 1, GENESIS_HASH));
        assert!(hashes[0] != hashes[1] && hashes[1] != hashes[2] && hashes[0] != hashes[2]);
    }

    #[test]
    fn an_intact_chain_verifies_and_each_kind_of_tampering_is_found_where_it_is() {
        let (records, head) = chain(5);
        let org = records[0].event.org_id;
        assert_eq!(records[0].prev_hash, GENESIS_HASH);
        let ok = verify_chain(org, &records, Some(&head));
        assert_eq!(ok, AuditVerification { ok: true, checked: 5, first_broken: None });
        assert!(verify_chain(org, &[], None).ok);

        let at = |v: AuditVerification| v.first_broken.map(|b| (b.seq, b.reason));

        let mut edited = records.clone();
        edited[2].event.details = json!({ "i": 99 });
        let v = verify_chain(org, &edited, Some(&head));
        assert_eq!((v.ok, v.checked), (false, 2));
        assert_eq!(at(v), Some((3, BrokenReason::HashMismatch)));

        // Rehashing the edited event moves the break to the next link.
        let mut rehashed = edited.clone();
        rehashed[2].hash = chain_hash(&rehashed[2].event, 3, &rehashed[2].prev_hash);
        assert_eq!(at(verify_chain(org, &rehashed, Some(&head))), Some((4, BrokenReason::PrevHashMismatch)));

        let mut removed = records.clone();
        removed.remove(1);
        assert_eq!(at(verify_chain(org, &removed, Some(&head))), Some((3, BrokenReason::SeqGap)));

        let truncated = &records[..3];
        let v = verify_chain(org, truncated, Some(&head));
        assert_eq!(v.first_broken, Some(BrokenLink { seq: 4, id: None, reason: BrokenReason::Truncated }));

        let mut moved = records.clone();
        moved[0].event.org_id = OrgId(Uuid::from_u128(9));
        assert_eq!(at(verify_chain(org, &moved, Some(&head))), Some((1, BrokenReason::WrongOrganization)));

        let forged_head = AuditHead { last_seq: 5, last_hash: GENESIS_HASH.into() };
        assert_eq!(at(verify_chain(org, &records, Some(&forged_head))), Some((5, BrokenReason::HashMismatch)));
    }

    #[test]
    fn a_record_serializes_flat_with_its_chain_fields() {
        let (records, _) = chain(1);
        let v = serde_json::to_value(&records[0]).expect("json");
        assert_eq!(v["seq"], 1);
        assert_eq!(v["prev_hash"], GENESIS_HASH);
        assert_eq!(v["action"], "site.update");
        let back: AuditRecord = serde_json::from_value(v).expect("parse");
        assert_eq!(back, records[0]);
    }
}
