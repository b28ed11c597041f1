//! Adaptive pacing: what a registry says about its rate limit (the IETF draft's
//! `RateLimit-Limit`/`-Remaining`/`-Reset`, Docker Hub's `ratelimit-limit: 100;w=21600` and
//! `ratelimit-remaining: 76;w=21600`) and the requests Baton sent it lately give a factor by
//! which scan intervals of every image on that registry are stretched, before the limit is
//! hit rather than after.
//!
//! Every value from a header is bounded before use and all arithmetic is checked or done in
//! floating point with clamps: a hostile header can slow scans down at most to once per
//! [`MAX_HORIZON`], never overflow, never speed them up.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The longest quota window or reset believed; longer values are clamped to it.
pub const MAX_HORIZON: Duration = Duration::from_secs(24 * 3600);
/// The share of what remains kept in reserve for passes and people.
pub const RESERVE: f64 = 0.2;
/// Requests are counted over this many one-minute buckets.
const BUCKETS: usize = 10;
/// The largest count believed from a header.
const MAX_COUNT: u64 = 1_000_000_000;

/// What one reply said about the registry's rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests left in the current window.
    pub remaining: u64,
    /// Requests allowed per window, when stated.
    pub limit: Option<u64>,
    /// The quota window (`w=` of Docker Hub and the early drafts), when stated.
    pub window: Option<Duration>,
    /// Time until the quota resets (`RateLimit-Reset`, delta seconds), when stated.
    pub reset: Option<Duration>,
}

impl RateLimit {
    /// Reads the headers' values (any may be absent; without a remaining count there is
    /// nothing to go by). Unparsable values are ignored, huge ones clamped.
    pub fn parse(
        remaining: Option<&str>,
        limit: Option<&str>,
        reset: Option<&str>,
    ) -> Option<Self> {
        let (remaining, remaining_window) = remaining.and_then(count_and_window)?;
        let (limit, limit_window) = match limit.and_then(count_and_window) {
            Some((n, w)) => (Some(n), w),
            None => (None, None),
        };
        let reset = reset
            .and_then(|text| text.trim().parse::<u64>().ok())
            .map(|secs| Duration::from_secs(secs).min(MAX_HORIZON));
        Some(RateLimit {
            remaining,
            limit,
            window: remaining_window.or(limit_window),
            reset,
        })
    }

    /// Requests per hour the stated limit allows, when limit and window are known.
    pub fn per_hour(&self) -> Option<f64> {
        let limit = self.limit? as f64;
        let window = self.window?.as_secs_f64().max(1.0);
        Some(limit * 3600.0 / window)
    }
}

/// `76;w=21600`, `100`, `100, 100;w=60` (early drafts list policies after a comma): the
/// first count, and its `w=` window when given.
fn count_and_window(text: &str) -> Option<(u64, Option<Duration>)> {
    let first = text.split(',').next()?;
    let count: u64 = first.split(';').next()?.trim().parse().ok()?;
    let window = text.split([',', ';']).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        if k.trim() != "w" {
            return None;
        }
        let secs: u64 = v.trim().parse().ok()?;
        (secs > 0).then(|| Duration::from_secs(secs).min(MAX_HORIZON))
    });
    Some((count.min(MAX_COUNT), window))
}

/// The pace of one registry: the last rate-limit statement and the requests sent lately.
#[derive(Debug)]
pub struct Pace {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    observed: Option<(RateLimit, Instant)>,
    origin: Instant,
    /// Requests per minute since `origin`, the last `BUCKETS` minutes.
    buckets: [u32; BUCKETS],
    /// The minute (since `origin`) the newest bucket counts.
    minute: u64,
}

impl Default for Pace {
    fn default() -> Self {
        Pace::new(Instant::now())
    }
}

impl Pace {
    /// A pace that has seen nothing, counting from `origin`.
    pub fn new(origin: Instant) -> Self {
        Pace {
            state: Mutex::new(State {
                observed: None,
                origin,
                buckets: [0; BUCKETS],
                minute: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts one request sent at `now`.
    pub fn sent(&self, now: Instant) {
        let mut state = self.lock();
        state.advance(now);
        let slot = (state.minute % BUCKETS as u64) as usize;
        state.buckets[slot] = state.buckets[slot].saturating_add(1);
    }

    /// Records what a reply said at `now`.
    pub fn observe(&self, limit: RateLimit, now: Instant) {
        self.lock().observed = Some((limit, now));
    }

    /// The last statement, if any.
    pub fn last(&self) -> Option<RateLimit> {
        self.lock().observed.map(|(l, _)| l)
    }

    /// Requests per second sent lately (over up to ten minutes, at least one).
    pub fn rate(&self, now: Instant) -> f64 {
        let mut state = self.lock();
        state.advance(now);
        state.rate(now)
    }

    /// `interval` stretched so that, at the recent request rate, what remains of the quota
    /// (less a fifth kept in reserve) lasts until it resets: unchanged while it does, longer
    /// when it would not, at least until the reset when nothing remains, and never longer
    /// than the quota's window or reset (after which the quota is whole again).
    pub fn paced(&self, interval: Duration, now: Instant) -> Duration {
        let mut state = self.lock();
        state.advance(now);
        let Some((limit, at)) = state.observed else {
            return interval;
        };
        let since = now.saturating_duration_since(at);
        // The time the remaining count has to last: to the reset, else one rolling window.
        let left = match (limit.reset, limit.window) {
            (Some(reset), _) => reset.saturating_sub(since),
            (None, Some(window)) if since < window => window,
            (None, Some(_)) => Duration::ZERO,
            (None, None) => Duration::from_secs(3600).saturating_sub(since),
        };
        if left.is_zero() {
            // The statement is stale: the quota has been renewed since.
            return interval;
        }
        let usable = limit.remaining as f64 * (1.0 - RESERVE);
        let demand = state.rate(now) * left.as_secs_f64();
        let stretched = if usable < 1.0 {
            interval.max(left)
        } else if demand <= usable {
            return interval;
        } else {
            let secs = interval.as_secs_f64() * (demand / usable);
            Duration::try_from_secs_f64(secs).unwrap_or(MAX_HORIZON)
        };
        stretched
            .min(interval.max(left))
            .min(MAX_HORIZON.max(interval))
    }
}

impl State {
    /// Moves the newest bucket to `now`'s minute, emptying the ones passed over.
    fn advance(&mut self, now: Instant) {
        let minute = now.saturating_duration_since(self.origin).as_secs() / 60;
        if minute <= self.minute {
            return;
        }
        let steps = (minute - self.minute).min(BUCKETS as u64);
        for step in 1..=steps {
            let slot = ((self.minute + step) % BUCKETS as u64) as usize;
            self.buckets[slot] = 0;
        }
        self.minute = minute;
    }

    fn rate(&self, now: Instant) -> f64 {
        let total: u64 = self.buckets.iter().map(|&n| u64::from(n)).sum();
        let span = now
            .saturating_duration_since(self.origin)
            .min(Duration::from_secs(60 * BUCKETS as u64))
            .max(Duration::from_secs(60));
        total as f64 / span.as_secs_f64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_docker_hub_and_the_draft() {
        let hub = RateLimit::parse(Some("76;w=21600"), Some("100;w=21600"), None).unwrap();
        assert_eq!(hub.remaining, 76);
        assert_eq!(hub.limit, Some(100));
        assert_eq!(hub.window, Some(Duration::from_secs(21600)));
        assert_eq!(hub.reset, None);
        assert!((hub.per_hour().unwrap() - 100.0 / 6.0).abs() < 1e-9);
        let draft = RateLimit::parse(Some("50"), Some("100, 100;w=60"), Some("30")).unwrap();
        assert_eq!(draft.remaining, 50);
        assert_eq!(draft.limit, Some(100));
        assert_eq!(draft.window, Some(Duration::from_secs(60)));
        assert_eq!(draft.reset, Some(Duration::from_secs(30)));
        assert_eq!(RateLimit::parse(None, Some("100"), Some("1")), None);
    }

    #[test]
    fn absurd_values_are_bounded() {
        let l = RateLimit::parse(
            Some("18446744073709551615;w=18446744073709551615"),
            Some("99999999999999999999999"),
            Some("18446744073709551615"),
        )
        .unwrap();
        assert_eq!(l.remaining, MAX_COUNT);
        assert_eq!(l.limit, None);
        assert_eq!(l.window, Some(MAX_HORIZON));
        assert_eq!(l.reset, Some(MAX_HORIZON));
        for bad in ["-1", "lots", "", "1e9", "NaN", ";w=5"] {
            assert_eq!(RateLimit::parse(Some(bad), None, None), None, "{bad}");
        }
        // A zero window is no window.
        let l = RateLimit::parse(Some("5;w=0"), None, Some("-3")).unwrap();
        assert_eq!((l.window, l.reset), (None, None));
        let p = Pace::new(Instant::now());
        let now = Instant::now();
        for _ in 0..1000 {
            p.sent(now);
        }
        p.observe(
            RateLimit {
                remaining: 0,
                limit: Some(u64::MAX),
                window: Some(MAX_HORIZON),
                reset: Some(MAX_HORIZON),
            },
            now,
        );
        assert_eq!(p.paced(Duration::from_secs(60), now), MAX_HORIZON);
        assert_eq!(p.paced(Duration::MAX, now), Duration::MAX);
    }

    #[test]
    fn stretches_before_the_limit_and_not_otherwise() {
        let t0 = Instant::now();
        let p = Pace::new(t0);
        let minute = Duration::from_secs(60);
        assert_eq!(p.paced(minute, t0), minute);
        // 60 requests in the first minute: one per second.
        for _ in 0..60 {
            p.sent(t0);
        }
        let now = t0 + Duration::from_secs(59);
        assert!((p.rate(now) - 1.0).abs() < 1e-9);
        // Plenty left: 10,000 for the next 60 s at 1/s.
        p.observe(
            RateLimit::parse(Some("10000"), None, Some("60")).unwrap(),
            now,
        );
        assert_eq!(p.paced(minute, now), minute);
        // 100 left for an hour at 1/s: 3,600 wanted, 80 usable: 45 times longer.
        p.observe(
            RateLimit::parse(Some("100"), None, Some("3600")).unwrap(),
            now,
        );
        assert_eq!(p.paced(minute, now), Duration::from_secs(45 * 60));
        // Docker Hub: no reset, a six-hour rolling window; capped at the window.
        p.observe(
            RateLimit::parse(Some("10;w=21600"), Some("100;w=21600"), None).unwrap(),
            now,
        );
        assert_eq!(p.paced(minute, now), Duration::from_secs(21600));
        // Nothing left, reset in 30 s: wait at least until then, and no more than the interval.
        p.observe(RateLimit::parse(Some("0"), None, Some("30")).unwrap(), now);
        assert_eq!(
            p.paced(Duration::from_secs(10), now),
            Duration::from_secs(30)
        );
        assert_eq!(p.paced(minute, now), minute);
        // After the reset the statement is stale.
        assert_eq!(
            p.paced(Duration::from_secs(10), now + Duration::from_secs(31)),
            Duration::from_secs(10)
        );
        // Old requests fall out of the count.
        assert_eq!(p.rate(t0 + Duration::from_secs(60 * 11)), 0.0);
    }
}
