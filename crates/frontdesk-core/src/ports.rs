//! Ports for what the domain needs from the outside world besides storage.

use crate::Timestamp;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

/// The current time. Production uses the system clock; tests use [`FixedClock`].
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// Random bytes. Production uses the operating system; tests use [`SeededEntropy`].
pub trait Entropy: Send + Sync {
    fn fill(&self, buf: &mut [u8]);
}

/// A clock that moves only when told to.
#[derive(Debug, Default)]
pub struct FixedClock(AtomicI64);

impl FixedClock {
    pub fn at(ms: i64) -> Self {
        FixedClock(AtomicI64::new(ms))
    }
    pub fn advance_millis(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
    pub fn advance_seconds(&self, s: i64) {
        self.advance_millis(s * 1000);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

/// A deterministic generator (xorshift64*): reproducible, never for secrets in production.
#[derive(Debug)]
pub struct SeededEntropy(Mutex<u64>);

impl SeededEntropy {
    pub fn new(seed: u64) -> Self {
        SeededEntropy(Mutex::new(seed.max(1)))
    }
}

impl Entropy for SeededEntropy {
    fn fill(&self, buf: &mut [u8]) {
        let mut state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for byte in buf.iter_mut() {
            let mut x = *state;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            *state = x;
            *byte = (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8;
        }
    }
}
