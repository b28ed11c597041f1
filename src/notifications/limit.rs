//! Rate limiting per sink: at most N messages in any rolling minute. Events beyond the
//! budget are held and go out together as one summary when the next slot opens; past a cap
//! they are dropped and counted. Pure state: every method takes the current instant, so
//! tests drive it with their own clock.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use super::event::Event;

/// The window `max_per_minute` counts over.
pub const WINDOW: Duration = Duration::from_secs(60);

/// An event waiting in a sink's outbox, with the time it was handed to [`super::Notifier::send`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    /// The event.
    pub event: Event,
    /// When it was sent.
    pub at: jiff::Timestamp,
}

/// What a sink delivers: one event, or several coalesced into a summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// One event, as it came.
    Single(Queued),
    /// Events held back by the rate limit, in the order they came.
    Summary {
        /// The events kept.
        events: Vec<Queued>,
        /// Events dropped because too many were held.
        dropped: u64,
    },
}

impl Message {
    /// How many events the message accounts for, dropped ones included.
    pub fn event_count(&self) -> u64 {
        match self {
            Message::Single(_) => 1,
            Message::Summary { events, dropped } => events.len() as u64 + dropped,
        }
    }
}

/// A sliding-window limiter: a send is allowed when fewer than `max` sends happened in the
/// last [`WINDOW`].
#[derive(Debug, Clone)]
pub struct RateLimiter {
    max: usize,
    sent: VecDeque<Instant>,
}

impl RateLimiter {
    /// A limiter allowing `max` sends per minute (at least one).
    pub fn new(max: u32) -> Self {
        RateLimiter {
            max: (max as usize).max(1),
            sent: VecDeque::new(),
        }
    }

    fn prune(&mut self, now: Instant) {
        while let Some(first) = self.sent.front() {
            if now.saturating_duration_since(*first) >= WINDOW {
                self.sent.pop_front();
            } else {
                break;
            }
        }
    }

    /// Sends still allowed at `now`.
    pub fn available(&mut self, now: Instant) -> usize {
        self.prune(now);
        self.max.saturating_sub(self.sent.len())
    }

    /// Takes a slot at `now`, if one is free.
    pub fn acquire(&mut self, now: Instant) -> bool {
        if self.available(now) == 0 {
            return false;
        }
        self.sent.push_back(now);
        true
    }

    /// When the next slot opens: `now` if one is free.
    pub fn next_free(&mut self, now: Instant) -> Instant {
        if self.available(now) > 0 {
            return now;
        }
        self.sent.front().map_or(now, |first| *first + WINDOW)
    }
}

/// A sink's outbox: events waiting for a slot of the rate limit.
#[derive(Debug)]
pub struct Outbox {
    limiter: RateLimiter,
    held: VecDeque<Queued>,
    max_held: usize,
    dropped: u64,
}

impl Outbox {
    /// An outbox sending at most `max_per_minute` messages a minute and holding at most
    /// `max_held` events (at least one) beyond that.
    pub fn new(max_per_minute: u32, max_held: usize) -> Self {
        Outbox {
            limiter: RateLimiter::new(max_per_minute),
            held: VecDeque::new(),
            max_held: max_held.max(1),
            dropped: 0,
        }
    }

    /// Adds an event; false when it was dropped because the outbox is full (it is then
    /// counted in the next summary).
    pub fn push(&mut self, event: Queued) -> bool {
        if self.held.len() >= self.max_held {
            self.dropped += 1;
            return false;
        }
        self.held.push_back(event);
        true
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty() && self.dropped == 0
    }

    /// Events held back, waiting for a slot (dropped ones not included).
    pub fn held(&self) -> u64 {
        self.held.len() as u64
    }

    /// Events waiting, dropped ones included.
    pub fn len(&self) -> u64 {
        self.held.len() as u64 + self.dropped
    }

    /// The next message to deliver at `now`, taking a slot of the rate limit. Events go out
    /// one by one while the minute's budget lasts; its last slot carries everything still
    /// waiting as one summary.
    pub fn next(&mut self, now: Instant) -> Option<Message> {
        if self.is_empty() || !self.limiter.acquire(now) {
            return None;
        }
        let last_slot = self.limiter.available(now) == 0;
        if last_slot && self.len() > 1 {
            return self.take_all();
        }
        match self.held.pop_front() {
            Some(event) => Some(Message::Single(event)),
            None => self.take_all(),
        }
    }

    /// When [`Outbox::next`] will have something to give: `None` when nothing waits.
    pub fn wake_at(&mut self, now: Instant) -> Option<Instant> {
        if self.is_empty() {
            return None;
        }
        Some(self.limiter.next_free(now))
    }

    /// Everything waiting as one message, whatever the rate limit says (used at shutdown).
    pub fn take_all(&mut self) -> Option<Message> {
        if self.is_empty() {
            return None;
        }
        let dropped = std::mem::take(&mut self.dropped);
        let events: Vec<Queued> = self.held.drain(..).collect();
        if dropped == 0 && events.len() == 1 {
            return events.into_iter().next().map(Message::Single);
        }
        Some(Message::Summary { events, dropped })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(n: u32) -> Queued {
        Queued {
            event: Event::ScanFailing {
                image: format!("image-{n}"),
                error: "timed out".into(),
                consecutive_failures: n,
            },
            at: jiff::Timestamp::UNIX_EPOCH,
        }
    }

    fn images(message: &Message) -> Vec<String> {
        let one = |q: &Queued| match &q.event {
            Event::ScanFailing { image, .. } => image.clone(),
            other => panic!("unexpected {other:?}"),
        };
        match message {
            Message::Single(q) => vec![one(q)],
            Message::Summary { events, .. } => events.iter().map(one).collect(),
        }
    }

    #[test]
    fn the_limiter_allows_n_per_rolling_minute() {
        let t0 = Instant::now();
        let mut limiter = RateLimiter::new(3);
        assert!(limiter.acquire(t0));
        assert!(limiter.acquire(t0 + Duration::from_secs(10)));
        assert!(limiter.acquire(t0 + Duration::from_secs(20)));
        assert!(!limiter.acquire(t0 + Duration::from_secs(59)));
        assert_eq!(
            limiter.next_free(t0 + Duration::from_secs(30)),
            t0 + WINDOW,
            "the oldest send leaves the window first"
        );
        assert!(limiter.acquire(t0 + WINDOW));
        assert!(!limiter.acquire(t0 + WINDOW));
        assert!(limiter.acquire(t0 + Duration::from_secs(70)));
    }

    #[test]
    fn a_burst_goes_out_one_by_one_then_as_a_summary() {
        let t0 = Instant::now();
        let mut outbox = Outbox::new(3, 100);
        for n in 1..=7 {
            assert!(outbox.push(queued(n)));
        }
        let first = outbox.next(t0).unwrap();
        assert!(matches!(first, Message::Single(_)));
        assert_eq!(images(&first), ["image-1"]);
        assert_eq!(images(&outbox.next(t0).unwrap()), ["image-2"]);
        let summary = outbox.next(t0).unwrap();
        assert!(
            matches!(summary, Message::Summary { dropped: 0, .. }),
            "{summary:?}"
        );
        assert_eq!(
            images(&summary),
            ["image-3", "image-4", "image-5", "image-6", "image-7"]
        );
        assert!(outbox.next(t0).is_none());
        assert!(outbox.wake_at(t0).is_none(), "nothing waits");
    }

    #[test]
    fn events_after_the_budget_wait_for_the_next_slot() {
        let t0 = Instant::now();
        let mut outbox = Outbox::new(2, 100);
        outbox.push(queued(1));
        assert!(outbox.next(t0).is_some());
        outbox.push(queued(2));
        assert!(
            matches!(outbox.next(t0), Some(Message::Single(_))),
            "the last slot carries a lone event as itself"
        );
        outbox.push(queued(3));
        outbox.push(queued(4));
        let later = t0 + Duration::from_secs(30);
        assert!(outbox.next(later).is_none(), "budget spent");
        assert_eq!(outbox.wake_at(later), Some(t0 + WINDOW));
        let open = t0 + WINDOW;
        // Two slots open at once: the first goes alone, the last carries the rest.
        assert_eq!(images(&outbox.next(open).unwrap()), ["image-3"]);
        assert_eq!(images(&outbox.next(open).unwrap()), ["image-4"]);
        assert!(outbox.is_empty());
    }

    #[test]
    fn a_full_outbox_drops_and_counts() {
        let t0 = Instant::now();
        let mut outbox = Outbox::new(1, 2);
        assert!(outbox.push(queued(1)));
        assert!(outbox.push(queued(2)));
        assert!(!outbox.push(queued(3)));
        assert!(!outbox.push(queued(4)));
        assert_eq!(outbox.len(), 4);
        match outbox.next(t0).unwrap() {
            Message::Summary { events, dropped } => {
                assert_eq!(events.len(), 2);
                assert_eq!(dropped, 2);
            }
            other => panic!("expected a summary, got {other:?}"),
        }
        assert!(outbox.is_empty());
    }

    #[test]
    fn shutdown_takes_everything_regardless_of_the_limit() {
        let t0 = Instant::now();
        let mut outbox = Outbox::new(1, 10);
        outbox.push(queued(1));
        assert!(outbox.next(t0).is_some());
        outbox.push(queued(2));
        assert!(outbox.next(t0).is_none());
        assert!(matches!(outbox.take_all(), Some(Message::Single(_))));
        outbox.push(queued(3));
        outbox.push(queued(4));
        let all = outbox.take_all().unwrap();
        assert_eq!(all.event_count(), 2);
        assert!(outbox.take_all().is_none());
    }
}
