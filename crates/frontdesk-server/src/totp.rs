//! Time-based one-time passwords (RFC 6238 over RFC 4226): HMAC-SHA1, 30-second steps, six
//! digits — what every authenticator app speaks. A code is accepted for the current step and one
//! step either side (clock drift), and each step's code only once (the store keeps the last step).

use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, Mac};
use sha1::Sha1;

pub const STEP_SECS: i64 = 30;
const DIGITS: u32 = 6;
/// 20 random bytes: the size RFC 4226 recommends for HMAC-SHA1.
pub const SECRET_BYTES: usize = 20;

/// The secret as authenticator apps take it.
pub fn encode_secret(bytes: &[u8]) -> String {
    BASE32_NOPAD.encode(bytes)
}

fn decode_secret(secret: &str) -> Option<Vec<u8>> {
    let cleaned: String = secret.chars().filter(|c| !c.is_whitespace() && *c != '=').collect();
    BASE32_NOPAD.decode(cleaned.to_ascii_uppercase().as_bytes()).ok()
}

/// The code for one time step (HOTP with the step as counter).
pub fn code_at(secret: &str, step: i64) -> Option<String> {
    let key = decode_secret(secret)?;
    let mut mac = Hmac::<Sha1>::new_from_slice(&key).ok()?;
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let bytes: [u8; 4] = digest.get(offset..offset + 4)?.try_into().ok()?;
    let value = u32::from_be_bytes(bytes) & 0x7fff_ffff;
    Some(format!("{:0width$}", value % 10u32.pow(DIGITS), width = DIGITS as usize))
}

pub fn step_of(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(STEP_SECS)
}

/// The step `code` is valid for, within one step of `unix_seconds`, or `None`.
pub fn matching_step(secret: &str, code: &str, unix_seconds: i64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != DIGITS as usize || !code.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let now = step_of(unix_seconds);
    [now, now - 1, now + 1].into_iter().find(|step| {
        code_at(secret, *step).is_some_and(|expected| {
            // Constant time: compare every byte whatever the first difference.
            expected.bytes().zip(code.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
        })
    })
}

/// `otpauth://` URI for authenticator apps (the issuer and account are labels only).
pub fn otpauth_uri(secret: &str, account: &str) -> String {
    let enc = |t: &str| -> String {
        t.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    format!(
        "otpauth://totp/Frontdesk:{}?secret={secret}&issuer=Frontdesk&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        enc(account)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA1 rows (8 digits there; the last six are ours).
    #[test]
    fn matches_the_rfc_test_vectors() {
        let secret = encode_secret(b"12345678901234567890");
        for (time, eight) in
            [(59, "94287082"), (1_111_111_109, "07081804"), (1_234_567_890, "89005924"), (2_000_000_000, "69279037")]
        {
            assert_eq!(code_at(&secret, step_of(time)).as_deref(), Some(&eight[2..]), "t={time}");
        }
    }

    #[test]
    fn accepts_one_step_of_drift_and_nothing_else() {
        let secret = encode_secret(&[7u8; SECRET_BYTES]);
        let t = 1_763_700_000;
        let now = code_at(&secret, step_of(t)).expect("code");
        assert_eq!(matching_step(&secret, &now, t), Some(step_of(t)));
        let previous = code_at(&secret, step_of(t) - 1).expect("code");
        assert_eq!(matching_step(&secret, &previous, t), Some(step_of(t) - 1));
        let old = code_at(&secret, step_of(t) - 2).expect("code");
        assert_eq!(matching_step(&secret, &old, t), None);
        assert_eq!(matching_step(&secret, "12345", t), None);
        assert_eq!(matching_step(&secret, "abcdef", t), None);
        assert_eq!(matching_step(&secret, &format!(" {} ", &now[..3]), t), None);
    }

    #[test]
    fn the_uri_names_the_secret_and_escapes_the_account() {
        let uri = otpauth_uri("JBSWY3DPEHPK3PXP", "a b@example.com");
        assert!(uri.starts_with("otpauth://totp/Frontdesk:a%20b%40example.com?secret=JBSWY3DPEHPK3PXP"), "{uri}");
    }
}
