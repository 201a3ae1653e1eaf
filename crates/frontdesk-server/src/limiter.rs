//! Keyed rate limits. [`RateLimiter`] is the seam: [`KeyedLimiter`] keeps its state in this
//! process; [`SharedLimiter`] keeps it in the database, so the limits hold across every node.

use async_trait::async_trait;
use frontdesk_core::ports::Clock;
use frontdesk_core::store::Store;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// How many seconds to wait before the key is allowed again (at least 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub u64);

#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Counts one event for `key`, or refuses it (and does not count it) when over the limit.
    async fn hit(&self, key: &str) -> Result<(), RetryAfter>;
    /// Whether one more event would be allowed now, without counting it.
    async fn peek(&self, key: &str) -> Result<(), RetryAfter>;
}

/// A generic cell rate algorithm (GCRA) limiter: `limit` events per `period`, as a burst or spread
/// out; each key holds one number (its theoretical arrival time), and keys that have gone idle
/// are pruned once per period, so memory follows the number of active keys.
pub struct KeyedLimiter {
    clock: Arc<dyn Clock>,
    /// Milliseconds one event "costs"; 0 means the limit is off.
    interval_ms: i64,
    /// How far ahead of now the arrival time may run: `limit × interval`.
    tolerance_ms: i64,
    period_ms: i64,
    state: Mutex<LimiterState>,
}

struct LimiterState {
    tat: HashMap<String, i64>,
    last_prune: i64,
}

impl std::fmt::Debug for KeyedLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedLimiter").field("interval_ms", &self.interval_ms).finish_non_exhaustive()
    }
}

impl KeyedLimiter {
    /// `limit` events per `period_secs`; a limit of 0 allows everything.
    pub fn new(clock: Arc<dyn Clock>, limit: u32, period_secs: u64) -> Self {
        let period_ms = i64::try_from(period_secs.saturating_mul(1000)).unwrap_or(i64::MAX).max(1);
        let interval_ms = if limit == 0 { 0 } else { (period_ms / i64::from(limit)).max(1) };
        let now = clock.now().millis();
        KeyedLimiter {
            clock,
            interval_ms,
            tolerance_ms: interval_ms.saturating_mul(i64::from(limit)),
            period_ms,
            state: Mutex::new(LimiterState { tat: HashMap::new(), last_prune: now }),
        }
    }

    fn check(&self, key: &str, count: bool) -> Result<(), RetryAfter> {
        if self.interval_ms == 0 {
            return Ok(());
        }
        let now = self.clock.now().millis();
        // A poisoned lock only means another request panicked mid-update; the map is still usable.
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if now.saturating_sub(state.last_prune) >= self.period_ms {
            state.tat.retain(|_, tat| *tat > now);
            state.last_prune = now;
        }
        let tat = state.tat.get(key).copied().unwrap_or(now).max(now);
        let new_tat = tat.saturating_add(self.interval_ms);
        let excess = new_tat.saturating_sub(now).saturating_sub(self.tolerance_ms);
        if excess > 0 {
            let seconds = u64::try_from(excess).unwrap_or(u64::MAX).div_ceil(1000).max(1);
            return Err(RetryAfter(seconds));
        }
        if count {
            state.tat.insert(key.to_owned(), new_tat);
        }
        Ok(())
    }

    /// How many keys are tracked (for tests of the pruning).
    pub fn tracked_keys(&self) -> usize {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).tat.len()
    }
}

#[async_trait]
impl RateLimiter for KeyedLimiter {
    async fn hit(&self, key: &str) -> Result<(), RetryAfter> {
        self.check(key, true)
    }

    async fn peek(&self, key: &str) -> Result<(), RetryAfter> {
        self.check(key, false)
    }
}

/// The same GCRA as [`KeyedLimiter`], with each key's arrival time in the database
/// (`Store::rate_limit_hit`, one atomic statement): every node sharing the database counts
/// against the same limit. When the database cannot answer, the event is allowed (the request
/// that follows needs the database anyway and fails on its own).
pub struct SharedLimiter {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    /// Keeps the limiters' keys apart in the one table (`messages:`, `logins:` …).
    prefix: &'static str,
    interval_ms: i64,
    tolerance_ms: i64,
    period_ms: i64,
    last_prune: Mutex<i64>,
}

impl SharedLimiter {
    /// `limit` events per `period_secs` for keys under `prefix`; a limit of 0 allows everything.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        prefix: &'static str,
        limit: u32,
        period_secs: u64,
    ) -> Self {
        let shape = KeyedLimiter::new(clock.clone(), limit, period_secs);
        let now = clock.now().millis();
        SharedLimiter {
            store,
            clock,
            prefix,
            interval_ms: shape.interval_ms,
            tolerance_ms: shape.tolerance_ms,
            period_ms: shape.period_ms,
            last_prune: Mutex::new(now),
        }
    }

    async fn check(&self, key: &str, count: bool) -> Result<(), RetryAfter> {
        if self.interval_ms == 0 {
            return Ok(());
        }
        let now = self.clock.now();
        let prune = {
            let mut last = self.last_prune.lock().unwrap_or_else(|e| e.into_inner());
            let due = now.millis().saturating_sub(*last) >= self.period_ms;
            if due {
                *last = now.millis();
            }
            due
        };
        if prune && let Err(e) = self.store.prune_rate_limits(now).await {
            tracing::warn!(error = %e, "cannot prune the shared rate limits");
        }
        let key = format!("{}{key}", self.prefix);
        match self.store.rate_limit_hit(&key, now, self.interval_ms, self.tolerance_ms, count).await {
            Ok(None) => Ok(()),
            Ok(Some(excess)) => Err(RetryAfter(u64::try_from(excess).unwrap_or(u64::MAX).div_ceil(1000).max(1))),
            Err(e) => {
                tracing::warn!(error = %e, "the shared rate limit could not be read; allowing");
                Ok(())
            }
        }
    }
}

#[async_trait]
impl RateLimiter for SharedLimiter {
    async fn hit(&self, key: &str) -> Result<(), RetryAfter> {
        self.check(key, true).await
    }

    async fn peek(&self, key: &str) -> Result<(), RetryAfter> {
        self.check(key, false).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use frontdesk_core::ports::FixedClock;

    fn limiter(limit: u32, period: u64) -> (Arc<FixedClock>, KeyedLimiter) {
        let clock = Arc::new(FixedClock::at(1_763_700_000_000));
        let l = KeyedLimiter::new(clock.clone(), limit, period);
        (clock, l)
    }

    #[tokio::test]
    async fn a_burst_up_to_the_limit_then_refusal_with_retry_after() {
        let (clock, l) = limiter(20, 60);
        for i in 0..20 {
            assert_eq!(l.hit("s1").await, Ok(()), "hit {i}");
        }
        assert_eq!(l.hit("s1").await, Err(RetryAfter(3)));
        // Other keys are independent.
        assert_eq!(l.hit("s2").await, Ok(()));
        // One interval later, exactly one more is allowed.
        clock.advance_seconds(3);
        assert_eq!(l.hit("s1").await, Ok(()));
        assert!(l.hit("s1").await.is_err());
        // A full period later, the whole burst again.
        clock.advance_seconds(60);
        for _ in 0..20 {
            assert_eq!(l.hit("s1").await, Ok(()));
        }
    }

    #[tokio::test]
    async fn peek_does_not_count() {
        let (_, l) = limiter(2, 900);
        for _ in 0..10 {
            assert_eq!(l.peek("ann").await, Ok(()));
        }
        l.hit("ann").await.ok();
        l.hit("ann").await.ok();
        assert_eq!(l.peek("ann").await, Err(RetryAfter(450)));
        assert_eq!(l.peek("bob").await, Ok(()));
    }

    #[tokio::test]
    async fn zero_turns_the_limit_off() {
        let (_, l) = limiter(0, 60);
        for _ in 0..1000 {
            assert_eq!(l.hit("k").await, Ok(()));
        }
        assert_eq!(l.tracked_keys(), 0);
    }

    #[tokio::test]
    async fn idle_keys_are_pruned() {
        let (clock, l) = limiter(5, 60);
        for i in 0..100 {
            l.hit(&format!("ip{i}")).await.ok();
        }
        assert_eq!(l.tracked_keys(), 100);
        clock.advance_seconds(61);
        l.hit("fresh").await.ok();
        assert_eq!(l.tracked_keys(), 1);
    }
}
