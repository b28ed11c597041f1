//! Time windows and freeze dates: whether an environment may move at an instant, and when it
//! next may. Pure functions of the configuration and a timestamp.

use jiff::civil::Time;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

use super::Wait;
use crate::common::time::local_time;
use crate::config::{Freeze, TimeWindow};

/// How far ahead [`next_opening`] looks for an opening (a freeze over a year long is not
/// given an end).
pub const SEARCH_DAYS: i32 = 400;

/// The zone freeze dates are read in: the first window's zone, else UTC.
pub fn freeze_zone(windows: &[TimeWindow]) -> TimeZone {
    windows
        .first()
        .map(|w| w.timezone.clone())
        .unwrap_or(TimeZone::UTC)
}

/// The first freeze that covers the civil date of `at` (in [`freeze_zone`]).
pub fn frozen_by<'a>(
    windows: &[TimeWindow],
    freeze: &'a [Freeze],
    at: Timestamp,
) -> Option<&'a Freeze> {
    let date = freeze_zone(windows).to_datetime(at).date();
    freeze.iter().find(|f| f.contains(date))
}

/// True when an environment with these windows and freezes may move at `at`: no freeze
/// covers the day, and some window is open (or there are no windows).
pub fn allowed_at(windows: &[TimeWindow], freeze: &[Freeze], at: Timestamp) -> bool {
    frozen_by(windows, freeze, at).is_none()
        && (windows.is_empty() || windows.iter().any(|w| w.is_open(at)))
}

/// The first instant after `now` at which [`allowed_at`] holds, within [`SEARCH_DAYS`].
///
/// Moves become allowed only when a window opens or a freeze ends, so those instants are the
/// only candidates: each window's opening time on each of the coming days, and the midnight
/// after each freeze's last day.
pub fn next_opening(
    windows: &[TimeWindow],
    freeze: &[Freeze],
    now: Timestamp,
) -> Option<Timestamp> {
    let mut best: Option<Timestamp> = None;
    let mut consider = |t: Timestamp| {
        let ok = t > now && best.is_none_or(|b| t < b) && allowed_at(windows, freeze, t);
        if ok {
            best = Some(t);
        }
        ok
    };
    for window in windows {
        let today = window.timezone.to_datetime(now).date();
        for offset in 0..=SEARCH_DAYS {
            let Ok(day) = today.checked_add(offset.days()) else {
                break;
            };
            if !window.days.contains(day.weekday()) {
                continue;
            }
            let Ok(opening) = window.timezone.to_timestamp(day.to_datetime(window.start)) else {
                continue;
            };
            // Later days of the same window only open later.
            if consider(opening) {
                break;
            }
        }
    }
    let zone = freeze_zone(windows);
    for f in freeze {
        if let Ok(after) = f.to.tomorrow()
            && let Ok(midnight) = zone.to_timestamp(after.to_datetime(Time::midnight()))
        {
            consider(midnight);
        }
    }
    best
}

/// `Ok` when the environment may move at `now`; otherwise why not and until when.
pub fn window_gate(windows: &[TimeWindow], freeze: &[Freeze], now: Timestamp) -> Result<(), Wait> {
    if allowed_at(windows, freeze, now) {
        return Ok(());
    }
    let zone = freeze_zone(windows);
    let reason = match frozen_by(windows, freeze, now) {
        Some(f) => format!(
            "frozen on {} (freeze {})",
            zone.to_datetime(now).date(),
            freeze_text(f)
        ),
        None => format!(
            "outside its windows ({})",
            windows
                .iter()
                .map(|w| w.text.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        ),
    };
    let until = next_opening(windows, freeze, now);
    let reason = match until {
        Some(t) => format!("{reason}: waits until {}", local_time(t, &zone)),
        None => format!("{reason}: no window opens within {SEARCH_DAYS} days"),
    };
    Err(Wait { reason, until })
}

/// A freeze as written: `2026-12-24` or `2026-12-20..2027-01-05`.
pub fn freeze_text(f: &Freeze) -> String {
    if f.from == f.to {
        f.from.to_string()
    } else {
        format!("{}..{}", f.from, f.to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn office() -> Vec<TimeWindow> {
        vec![
            TimeWindow::parse("mon-thu", "09:00-16:00", "Europe/Berlin").unwrap(),
            TimeWindow::parse("fri", "09:00-12:00", "Europe/Berlin").unwrap(),
        ]
    }

    #[test]
    fn no_windows_no_freeze_is_always_open() {
        assert!(window_gate(&[], &[], at("2026-11-28T03:00:00Z")).is_ok());
    }

    #[test]
    fn inside_a_window_is_open() {
        // Wednesday 10:00 Berlin.
        assert!(window_gate(&office(), &[], at("2026-11-25T09:00:00Z")).is_ok());
    }

    #[test]
    fn friday_afternoon_waits_for_monday_morning() {
        // Friday 2026-11-27 13:00 Berlin (12:00 UTC): the Friday window closed at 12:00.
        let wait = window_gate(&office(), &[], at("2026-11-27T12:00:00Z")).unwrap_err();
        assert_eq!(wait.until, Some(at("2026-11-30T08:00:00Z")));
        assert_eq!(
            wait.reason,
            "outside its windows (mon-thu 09:00-16:00 Europe/Berlin; fri 09:00-12:00 Europe/Berlin): waits until 2026-11-30 09:00 Europe/Berlin"
        );
    }

    #[test]
    fn early_morning_waits_for_the_same_day() {
        let wait = window_gate(&office(), &[], at("2026-11-25T05:00:00Z")).unwrap_err();
        assert_eq!(wait.until, Some(at("2026-11-25T08:00:00Z")));
    }

    #[test]
    fn a_freeze_waits_for_the_first_window_after_it() {
        let freeze = vec![Freeze::parse("2026-12-21..2027-01-04").unwrap()];
        // Tuesday 2026-12-22, 10:00 Berlin: inside a window but frozen.
        let wait = window_gate(&office(), &freeze, at("2026-12-22T09:00:00Z")).unwrap_err();
        assert!(
            wait.reason
                .starts_with("frozen on 2026-12-22 (freeze 2026-12-21..2027-01-04)"),
            "{}",
            wait.reason
        );
        // Tuesday 2027-01-05 09:00 Berlin is the first opening after the freeze.
        assert_eq!(wait.until, Some(at("2027-01-05T08:00:00Z")));
    }

    #[test]
    fn a_freeze_without_windows_ends_at_midnight() {
        let freeze = vec![Freeze::parse("2026-12-24").unwrap()];
        let wait = window_gate(&[], &freeze, at("2026-12-24T15:00:00Z")).unwrap_err();
        assert_eq!(wait.until, Some(at("2026-12-25T00:00:00Z")));
        assert!(wait.reason.ends_with("waits until 2026-12-25 00:00 UTC"));
        assert!(window_gate(&[], &freeze, at("2026-12-25T00:00:00Z")).is_ok());
    }

    #[test]
    fn an_overnight_window_reopens_after_a_freeze_at_midnight() {
        let windows = vec![TimeWindow::parse("fri", "22:00-06:00", "UTC").unwrap()];
        let freeze = vec![Freeze::parse("2026-11-27").unwrap()];
        // Friday 23:00: the window is open but Friday is frozen; Saturday 00:00 is not.
        let wait = window_gate(&windows, &freeze, at("2026-11-27T23:00:00Z")).unwrap_err();
        assert_eq!(wait.until, Some(at("2026-11-28T00:00:00Z")));
    }

    #[test]
    fn an_endless_freeze_has_no_opening() {
        let freeze = vec![Freeze::parse("2026-01-01..2099-01-01").unwrap()];
        let wait = window_gate(&[], &freeze, at("2026-06-01T00:00:00Z")).unwrap_err();
        assert_eq!(wait.until, Some(at("2099-01-02T00:00:00Z")));
        // With a window, only its openings within the search horizon count.
        let windows = vec![TimeWindow::parse("mon", "09:00-10:00", "UTC").unwrap()];
        let wait = window_gate(&windows, &freeze, at("2026-06-01T00:00:00Z")).unwrap_err();
        assert_eq!(wait.until, None);
        assert!(wait.reason.contains("no window opens within 400 days"));
    }

    #[test]
    fn daylight_saving_is_respected() {
        // Berlin is UTC+2 in summer: 09:00 local is 07:00 UTC.
        let windows = vec![TimeWindow::parse("mon-fri", "09:00-16:00", "Europe/Berlin").unwrap()];
        let wait = window_gate(&windows, &[], at("2026-07-01T06:00:00Z")).unwrap_err();
        assert_eq!(wait.until, Some(at("2026-07-01T07:00:00Z")));
    }
}
