//! Visitors' session tokens: signed, never stored.
//!
//! `v1.<base64url(payload)>.<base64url(HMAC-SHA256(key, "v1." + payload_b64))>` where the payload
//! is site id (16 bytes) | session id (16) | token generation (i64 BE) | issued at (ms, i64 BE).
//! Knowing a session id is not enough to act for it; bumping the conversation's generation
//! revokes every token issued before.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use frontdesk_core::{ConversationId, SiteId, Timestamp};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

const PREFIX: &str = "v1.";
const PAYLOAD_LEN: usize = 16 + 16 + 8 + 8;
/// Tokens far longer than a real one are refused before any decoding work.
const MAX_TOKEN_LEN: usize = 256;
pub const MIN_KEY_LEN: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionClaims {
    pub site_id: SiteId,
    pub session_id: ConversationId,
    pub generation: i64,
    pub issued_at: Timestamp,
}

#[derive(Clone)]
pub struct TokenCodec {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for TokenCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenCodec(<key redacted>)")
    }
}

impl TokenCodec {
    /// `None` when the key is shorter than [`MIN_KEY_LEN`] bytes.
    pub fn new(key: &[u8]) -> Option<Self> {
        if key.len() < MIN_KEY_LEN {
            return None;
        }
        Hmac::<Sha256>::new_from_slice(key).ok().map(|mac| TokenCodec { mac })
    }

    fn signature(&self, payload_b64: &str) -> Hmac<Sha256> {
        let mut mac = self.mac.clone();
        mac.update(PREFIX.as_bytes());
        mac.update(payload_b64.as_bytes());
        mac
    }

    pub fn sign(&self, claims: &SessionClaims) -> String {
        let mut payload = Vec::with_capacity(PAYLOAD_LEN);
        payload.extend_from_slice(claims.site_id.0.as_bytes());
        payload.extend_from_slice(claims.session_id.0.as_bytes());
        payload.extend_from_slice(&claims.generation.to_be_bytes());
        payload.extend_from_slice(&claims.issued_at.millis().to_be_bytes());
        let payload_b64 = URL_SAFE_NO_PAD.encode(&payload);
        let tag = self.signature(&payload_b64).finalize().into_bytes();
        format!("{PREFIX}{payload_b64}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    /// The claims of a genuine token; `None` for anything malformed or forged.
    pub fn verify(&self, token: &str) -> Option<SessionClaims> {
        if token.len() > MAX_TOKEN_LEN {
            return None;
        }
        let rest = token.strip_prefix(PREFIX)?;
        let (payload_b64, tag_b64) = rest.split_once('.')?;
        let tag = URL_SAFE_NO_PAD.decode(tag_b64).ok()?;
        // `verify_slice` compares in constant time.
        self.signature(payload_b64).verify_slice(&tag).ok()?;
        let payload = URL_SAFE_NO_PAD.decode(payload_b64).ok()?;
        if payload.len() != PAYLOAD_LEN {
            return None;
        }
        let (site, rest) = payload.split_at(16);
        let (session, rest) = rest.split_at(16);
        let (generation, issued_at) = rest.split_at(8);
        Some(SessionClaims {
            site_id: SiteId(Uuid::from_slice(site).ok()?),
            session_id: ConversationId(Uuid::from_slice(session).ok()?),
            generation: i64::from_be_bytes(generation.try_into().ok()?),
            issued_at: Timestamp(i64::from_be_bytes(issued_at.try_into().ok()?)),
        })
    }
}

/// Team invitation links: `inv1.<invite id>.<base64url(HMAC(key, "inv1." + id + "." + expiry))>`.
/// The expiry is the stored invitation's, so the link cannot outlive it, and nothing secret is
/// stored: a leaked database does not hand out working links.
const INVITE_PREFIX: &str = "inv1.";

impl TokenCodec {
    fn invite_tag(&self, id: Uuid, expires_at: Timestamp) -> Hmac<Sha256> {
        let mut mac = self.mac.clone();
        mac.update(INVITE_PREFIX.as_bytes());
        mac.update(id.as_hyphenated().to_string().as_bytes());
        mac.update(b".");
        mac.update(&expires_at.millis().to_be_bytes());
        mac
    }

    pub fn sign_invite(&self, id: Uuid, expires_at: Timestamp) -> String {
        let tag = self.invite_tag(id, expires_at).finalize().into_bytes();
        format!("{INVITE_PREFIX}{}.{}", id.as_hyphenated(), URL_SAFE_NO_PAD.encode(tag))
    }

    /// The invitation id a link names, without checking it (look the invitation up, then
    /// [`Self::verify_invite`] with its expiry).
    pub fn invite_id(token: &str) -> Option<Uuid> {
        if token.len() > MAX_TOKEN_LEN {
            return None;
        }
        let (id, _) = token.strip_prefix(INVITE_PREFIX)?.split_once('.')?;
        Uuid::parse_str(id).ok()
    }

    /// Whether `token` is this server's link for invitation `id` with this expiry (constant time).
    pub fn verify_invite(&self, token: &str, id: Uuid, expires_at: Timestamp) -> bool {
        let Some((_, tag_b64)) = token.strip_prefix(INVITE_PREFIX).and_then(|r| r.split_once('.')) else {
            return false;
        };
        let Ok(tag) = URL_SAFE_NO_PAD.decode(tag_b64) else {
            return false;
        };
        Self::invite_id(token) == Some(id) && self.invite_tag(id, expires_at).verify_slice(&tag).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invite_links_verify_only_for_their_invitation_and_expiry() {
        let c = codec(7).expect("32-byte key");
        let id = Uuid::from_u128(42);
        let link = c.sign_invite(id, Timestamp(1_000));
        assert_eq!(TokenCodec::invite_id(&link), Some(id));
        assert!(c.verify_invite(&link, id, Timestamp(1_000)));
        assert!(!c.verify_invite(&link, id, Timestamp(2_000)), "another expiry");
        assert!(!c.verify_invite(&link, Uuid::from_u128(43), Timestamp(1_000)), "another invitation");
        assert!(!codec(8).expect("key").verify_invite(&link, id, Timestamp(1_000)), "another server key");
        let mut forged = link.clone();
        forged.pop();
        forged.push(if link.ends_with('A') { 'B' } else { 'A' });
        assert!(!c.verify_invite(&forged, id, Timestamp(1_000)));
        assert!(!c.verify_invite("inv1.garbage", id, Timestamp(1_000)));
    }

    fn claims() -> SessionClaims {
        SessionClaims {
            site_id: SiteId(Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0001)),
            session_id: ConversationId(Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0002)),
            generation: 3,
            issued_at: Timestamp(1_763_700_000_123),
        }
    }

    fn codec(byte: u8) -> Option<TokenCodec> {
        TokenCodec::new(&[byte; 32])
    }

    #[test]
    fn round_trips() {
        let c = codec(7).expect("32-byte key");
        let token = c.sign(&claims());
        assert!(token.starts_with("v1."));
        assert_eq!(c.verify(&token), Some(claims()));
    }

    #[test]
    fn another_key_or_any_changed_byte_is_refused() {
        let c = codec(7).expect("32-byte key");
        let token = c.sign(&claims());
        assert_eq!(codec(8).and_then(|other| other.verify(&token)), None);
        // Flip each character of the token in turn: none of the results verifies.
        for i in 0..token.len() {
            let mut bytes = token.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let forged = String::from_utf8(bytes).unwrap_or_default();
            if forged != token {
                assert_eq!(c.verify(&forged), None, "position {i}");
            }
        }
    }

    #[test]
    fn a_payload_for_another_session_cannot_borrow_a_signature() {
        let c = codec(7).expect("32-byte key");
        let genuine = c.sign(&claims());
        let other = c.sign(&SessionClaims { session_id: ConversationId(Uuid::from_u128(99)), ..claims() });
        let (_, genuine_tag) = genuine.rsplit_once('.').unwrap_or_default();
        let (other_payload, _) = other.rsplit_once('.').unwrap_or_default();
        assert_eq!(c.verify(&format!("{other_payload}.{genuine_tag}")), None);
    }

    #[test]
    fn malformed_tokens_and_short_keys_are_refused() {
        let c = codec(7).expect("32-byte key");
        for bad in ["", "v1.", "v1..", "v2.abc.def", "v1.abc", "v1.!!!.???", &"v1.".repeat(200)] {
            assert_eq!(c.verify(bad), None, "{bad}");
        }
        assert!(TokenCodec::new(&[1; 31]).is_none());
        assert!(!format!("{c:?}").contains('7'));
    }
}
