//! Site keys. The public key (`pk_`) is safe in a web page; the secret (`sk_`) never leaves the server
//! side of the site's owner. Both are a prefix plus 32 base62 characters (~190 bits).

use crate::ports::Entropy;
use sha2::{Digest, Sha256};

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
pub const KEY_BODY_LEN: usize = 32;
pub const PUBLIC_KEY_PREFIX: &str = "pk_";
pub const SECRET_KEY_PREFIX: &str = "sk_";

/// `len` base62 characters drawn without modulo bias (rejection sampling).
pub fn random_base62(entropy: &dyn Entropy, len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        entropy.fill(&mut buf);
        for &b in &buf {
            // 248 = 62 * 4: values at or above it would favour the first characters.
            if b < 248 {
                out.push(BASE62[usize::from(b % 62)] as char);
                if out.len() == len {
                    break;
                }
            }
        }
    }
    out
}

pub fn new_public_key(entropy: &dyn Entropy) -> String {
    format!("{PUBLIC_KEY_PREFIX}{}", random_base62(entropy, KEY_BODY_LEN))
}

pub fn new_site_secret(entropy: &dyn Entropy) -> String {
    format!("{SECRET_KEY_PREFIX}{}", random_base62(entropy, KEY_BODY_LEN))
}

fn has_shape(key: &str, prefix: &str) -> bool {
    key.strip_prefix(prefix)
        .is_some_and(|body| body.len() == KEY_BODY_LEN && body.bytes().all(|b| b.is_ascii_alphanumeric()))
}

pub fn is_public_key(key: &str) -> bool {
    has_shape(key, PUBLIC_KEY_PREFIX)
}

pub fn is_site_secret(key: &str) -> bool {
    has_shape(key, SECRET_KEY_PREFIX)
}

/// A random opaque token (for login sessions): 32 bytes as 43 base62 characters.
pub fn new_opaque_token(entropy: &dyn Entropy) -> String {
    random_base62(entropy, 43)
}

/// Hex SHA-256 of a token: what is stored, so a database leak does not leak live sessions.
pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::SeededEntropy;

    #[test]
    fn keys_have_their_documented_shape() {
        let e = SeededEntropy::new(42);
        let pk = new_public_key(&e);
        let sk = new_site_secret(&e);
        assert!(is_public_key(&pk), "{pk}");
        assert!(is_site_secret(&sk), "{sk}");
        assert_eq!(pk.len(), 35);
        assert!(!is_public_key(&sk));
        assert!(!is_public_key("pk_short"));
        assert!(!is_public_key("pk_!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"));
        assert_ne!(new_public_key(&e), pk);
    }

    #[test]
    fn base62_uses_the_whole_alphabet() {
        let e = SeededEntropy::new(3);
        let s = random_base62(&e, 5000);
        for c in BASE62 {
            assert!(s.as_bytes().contains(c), "missing {}", *c as char);
        }
    }

    #[test]
    fn token_hash_is_stable_hex() {
        assert_eq!(hash_token("abc").len(), 64);
        assert_eq!(hash_token("abc"), hash_token("abc"));
        assert_ne!(hash_token("abc"), hash_token("abd"));
    }
}
