//! The one retry formula: exponential backoff from a base, capped, with random jitter so
//! that many clients do not retry in step.

use std::time::Duration;

/// Delays between retries: `base * 2^(attempt-1)`, at most `cap`, scaled by a jitter in
/// `[0.5, 1.0]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The delay before the first retry, before jitter.
    pub base: Duration,
    /// The longest delay, before jitter.
    pub cap: Duration,
}

impl Backoff {
    /// Backoff from `base`, capped at `cap`.
    pub const fn new(base: Duration, cap: Duration) -> Backoff {
        Backoff { base, cap }
    }

    /// The delay before retry number `attempt` (1-based), with random jitter.
    pub fn delay(&self, attempt: u32) -> Duration {
        self.delay_with(attempt, jitter())
    }

    /// The delay before retry number `attempt` (1-based) with the given jitter factor
    /// (clamped to `[0.5, 1.0]`).
    pub fn delay_with(&self, attempt: u32, jitter: f64) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        exp.min(self.cap).mul_f64(jitter.clamp(0.5, 1.0))
    }
}

/// A random jitter factor in `[0.5, 1.0]`.
pub fn jitter() -> f64 {
    rand::random_range(0.5..=1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(30));
        assert_eq!(b.delay_with(1, 1.0), Duration::from_millis(100));
        assert_eq!(b.delay_with(2, 1.0), Duration::from_millis(200));
        assert_eq!(b.delay_with(4, 0.5), Duration::from_millis(400));
        assert_eq!(b.delay_with(40, 1.0), Duration::from_secs(30));
        assert_eq!(b.delay_with(1, 7.0), Duration::from_millis(100));
        for _ in 0..100 {
            let j = jitter();
            assert!((0.5..=1.0).contains(&j));
        }
    }

    #[test]
    fn random_delay_stays_between_half_and_full() {
        let backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        for attempt in 1..10 {
            let full = backoff.delay_with(attempt, 1.0);
            let d = backoff.delay(attempt);
            assert!(d >= full / 2 && d <= full, "{d:?} for {full:?}");
        }
    }
}
