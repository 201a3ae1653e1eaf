//! Encryption at rest. A [`KeyRing`] holds AES-256 keys by id; the first is the primary, which
//! seals every new value, and all of them open values sealed earlier, so keys rotate without
//! downtime (`frontdesk keys rotate` re-seals the rest in the background).
//!
//! A sealed value is text: `fdenc:1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>`. The name of
//! the column it belongs to is the associated data, so a value copied into another column does
//! not open. Sealed text cannot be searched; for message bodies the stores index
//! [`Sealer::search_tokens`] instead: an HMAC of each normalized word, so a search for whole
//! words still works (prefixes, phrases and accents folding do not).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

const PREFIX: &str = "fdenc:1:";
/// Hex characters of one search token (64 bits of the HMAC: collisions are harmless, they only
/// add a false match among one organization's messages).
const TOKEN_HEX: usize = 16;
const KEY_BYTES: usize = 32;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("invalid key ring: {0}")]
    KeyRing(String),
    #[error("the value was sealed with key `{0}`, which is not in the key ring")]
    UnknownKey(String),
    #[error("a sealed value does not open (corrupt, or sealed for another column)")]
    Corrupt,
    #[error("the system's random number generator failed")]
    Random,
}

struct Key {
    id: String,
    aead: LessSafeKey,
}

/// The keys, primary first.
pub struct KeyRing {
    keys: Vec<Key>,
    /// Derived from the primary key: the search tokens change when the primary does (rotation
    /// recomputes them).
    search: hmac::Key,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Key ids only: key material never reaches a log.
        f.debug_struct("KeyRing").field("key_ids", &self.key_ids()).finish()
    }
}

impl KeyRing {
    /// Parses `<id>:<base64 of 32 bytes>` entries separated by newlines or `;` (blank lines and
    /// `#` comments ignored). The first entry is the primary key.
    pub fn parse(text: &str) -> Result<KeyRing, CryptoError> {
        let mut entries = Vec::new();
        for raw in text.split(['\n', ';']) {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (id, material) = line
                .split_once(':')
                .ok_or_else(|| CryptoError::KeyRing("each key is `<id>:<base64 key>`".to_owned()))?;
            let id = id.trim();
            if id.is_empty() || id.len() > 32 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(CryptoError::KeyRing(format!("key id `{id}`: 1–32 letters, digits, - or _")));
            }
            let bytes = decode_key(material.trim())
                .ok_or_else(|| CryptoError::KeyRing(format!("key `{id}`: not base64 of {KEY_BYTES} bytes")))?;
            if entries.iter().any(|(other, _): &(String, Vec<u8>)| other == id) {
                return Err(CryptoError::KeyRing(format!("key id `{id}` appears twice")));
            }
            entries.push((id.to_owned(), bytes));
        }
        let Some((_, primary)) = entries.first() else {
            return Err(CryptoError::KeyRing("no key".to_owned()));
        };
        // A key of its own for search tokens, derived from the primary key.
        let derived = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, primary), b"frontdesk search tokens v1");
        let search = hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref());
        let mut keys = Vec::with_capacity(entries.len());
        for (id, bytes) in entries {
            let unbound =
                UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| CryptoError::KeyRing(format!("key `{id}`")))?;
            keys.push(Key { id, aead: LessSafeKey::new(unbound) });
        }
        Ok(KeyRing { keys, search })
    }

    /// A new random key entry, `<id>:<base64>`, for a key file.
    pub fn generate_entry(id: &str) -> Result<String, CryptoError> {
        let mut bytes = [0u8; KEY_BYTES];
        SystemRandom::new().fill(&mut bytes).map_err(|_| CryptoError::Random)?;
        Ok(format!("{id}:{}", base64::engine::general_purpose::STANDARD.encode(bytes)))
    }

    pub fn primary_id(&self) -> &str {
        self.keys.first().map_or("", |k| k.id.as_str())
    }

    pub fn key_ids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.id.as_str()).collect()
    }
}

fn decode_key(text: &str) -> Option<Vec<u8>> {
    let engines = [&base64::engine::general_purpose::STANDARD, &base64::engine::general_purpose::URL_SAFE];
    engines.iter().find_map(|e| e.decode(text).ok()).filter(|b| b.len() == KEY_BYTES)
}

/// Seals and opens stored values with a key ring.
pub struct Sealer {
    ring: KeyRing,
    random: SystemRandom,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer").field("ring", &self.ring).finish()
    }
}

/// Whether a stored value is sealed (by any key).
pub fn is_sealed(value: &str) -> bool {
    value.starts_with(PREFIX)
}

impl Sealer {
    pub fn new(ring: KeyRing) -> Sealer {
        Sealer { ring, random: SystemRandom::new() }
    }

    pub fn ring(&self) -> &KeyRing {
        &self.ring
    }

    /// Seals `plain` for `column` with the primary key. Nonces are random (96 bits from the
    /// operating system): never reused in practice, and no counter to keep across nodes.
    pub fn seal(&self, column: &str, plain: &str) -> Result<String, CryptoError> {
        let key = self.ring.keys.first().ok_or(CryptoError::UnknownKey(String::new()))?;
        let mut nonce = [0u8; NONCE_LEN];
        self.random.fill(&mut nonce).map_err(|_| CryptoError::Random)?;
        let mut buf = plain.as_bytes().to_vec();
        key.aead
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(column.as_bytes()), &mut buf)
            .map_err(|_| CryptoError::Corrupt)?;
        let mut out = Vec::with_capacity(NONCE_LEN + buf.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buf);
        Ok(format!("{PREFIX}{}:{}", key.id, URL_SAFE_NO_PAD.encode(out)))
    }

    /// Opens a value of `column`. A value that is not sealed (written before encryption was
    /// turned on) is returned as it is.
    pub fn open(&self, column: &str, stored: &str) -> Result<String, CryptoError> {
        let Some(rest) = stored.strip_prefix(PREFIX) else { return Ok(stored.to_owned()) };
        let (id, data) = rest.split_once(':').ok_or(CryptoError::Corrupt)?;
        let key = self.ring.keys.iter().find(|k| k.id == id).ok_or_else(|| CryptoError::UnknownKey(id.to_owned()))?;
        let mut bytes = URL_SAFE_NO_PAD.decode(data).map_err(|_| CryptoError::Corrupt)?;
        if bytes.len() < NONCE_LEN {
            return Err(CryptoError::Corrupt);
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&bytes[..NONCE_LEN]);
        let plain = key
            .aead
            .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(column.as_bytes()), &mut bytes[NONCE_LEN..])
            .map_err(|_| CryptoError::Corrupt)?;
        String::from_utf8(plain.to_vec()).map_err(|_| CryptoError::Corrupt)
    }

    /// Whether `stored` needs re-sealing: not sealed yet, or sealed with another key than the
    /// primary.
    pub fn needs_reseal(&self, stored: &str) -> bool {
        match stored.strip_prefix(PREFIX).and_then(|rest| rest.split_once(':')) {
            Some((id, _)) => id != self.ring.primary_id(),
            None => true,
        }
    }

    /// The text a full-text index keeps for a sealed body: one token per distinct word, in
    /// first-seen order. Words are runs of letters and digits, lower-cased.
    pub fn search_tokens(&self, text: &str) -> String {
        let mut seen = Vec::new();
        for word in words(text) {
            let token = self.token(&word);
            if !seen.contains(&token) {
                seen.push(token);
            }
        }
        seen.join(" ")
    }

    /// The search text for what an agent typed: the tokens of its words, so the stores' own
    /// query building (words ANDed) applies unchanged. A word matches whole words only.
    pub fn search_query(&self, text: &str) -> String {
        words(text).map(|w| self.token(&w)).collect::<Vec<_>>().join(" ")
    }

    fn token(&self, word: &str) -> String {
        let tag = hmac::sign(&self.ring.search, word.as_bytes());
        // Letters only (a–p), so every full-text tokenizer keeps a token whole.
        tag.as_ref().iter().take(TOKEN_HEX / 2).flat_map(|b| [b >> 4, b & 0x0f]).map(|n| char::from(b'a' + n)).collect()
    }
}

fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase)
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const K2: &str = "k2:Hx4dHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=";

    fn sealer(text: &str) -> Sealer {
        Sealer::new(KeyRing::parse(text).expect("ring"))
    }

    #[test]
    fn values_round_trip_and_are_bound_to_their_column() {
        let s = sealer(K1);
        let sealed = s.seal("messages.body", "My card ends in 4242").expect("seal");
        assert!(is_sealed(&sealed) && sealed.starts_with("fdenc:1:k1:"));
        assert!(!sealed.contains("4242"));
        assert_eq!(s.open("messages.body", &sealed).expect("open"), "My card ends in 4242");
        assert_eq!(s.open("visitors.email", &sealed), Err(CryptoError::Corrupt));
        // Two seals of one value differ (random nonces).
        assert_ne!(sealed, s.seal("messages.body", "My card ends in 4242").expect("seal"));
        // Plain (older) values pass through.
        assert_eq!(s.open("messages.body", "hello").expect("plain"), "hello");
    }

    #[test]
    fn tampering_and_unknown_keys_are_errors() {
        let s = sealer(K1);
        let sealed = s.seal("c", "secret").expect("seal");
        let mut bytes = sealed.into_bytes();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).expect("utf8");
        assert_eq!(s.open("c", &tampered), Err(CryptoError::Corrupt));
        let other = sealer(K2).seal("c", "secret").expect("seal");
        assert_eq!(s.open("c", &other), Err(CryptoError::UnknownKey("k2".into())));
        assert_eq!(s.open("c", "fdenc:1:k1:@@@"), Err(CryptoError::Corrupt));
    }

    #[test]
    fn rotation_keeps_old_values_readable_and_marks_them_for_resealing() {
        let old = sealer(K1);
        let sealed_old = old.seal("c", "v").expect("seal");
        let rotated = sealer(&format!("{K2}\n{K1}"));
        assert_eq!(rotated.ring().primary_id(), "k2");
        assert_eq!(rotated.open("c", &sealed_old).expect("old key still opens"), "v");
        assert!(rotated.needs_reseal(&sealed_old));
        assert!(rotated.needs_reseal("plain text"));
        let resealed = rotated.seal("c", "v").expect("seal");
        assert!(!rotated.needs_reseal(&resealed));
    }

    #[test]
    fn key_rings_refuse_bad_entries() {
        for bad in ["", "k1", "k1:short", "bad id!:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", &format!("{K1};{K1}")]
        {
            assert!(KeyRing::parse(bad).is_err(), "{bad}");
        }
        let ring = KeyRing::parse(&format!("# keys\n{K1}\n\n{K2}\n")).expect("ring");
        assert_eq!(ring.key_ids(), ["k1", "k2"]);
        assert!(!format!("{ring:?}").contains("AAEC"), "no key material in Debug");
        let generated = KeyRing::generate_entry("2026").expect("generate");
        assert!(KeyRing::parse(&generated).is_ok());
    }

    #[test]
    fn search_tokens_match_whole_words_case_insensitively() {
        let s = sealer(K1);
        let indexed = s.search_tokens("My LAMP flickers; the lamp is new");
        assert_eq!(indexed.split(' ').count(), 6, "distinct words: {indexed}");
        for word in s.search_query("lamp Flickers").split(' ') {
            assert!(indexed.split(' ').any(|t| t == word));
            assert!(word.chars().all(|c| c.is_ascii_lowercase()) && word.len() == TOKEN_HEX);
        }
        assert!(!indexed.split(' ').any(|t| t == s.search_query("lam")), "no prefixes");
        // Another key, other tokens.
        assert_ne!(sealer(K2).search_query("lamp"), s.search_query("lamp"));
    }
}

pub mod fields;
