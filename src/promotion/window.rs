//! Time windows and freeze dates that gate when an environment may move: parsed from
//! `window = { days, hours, timezone }` and `freeze = [...]`, evaluated purely.

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

use super::Wait;
use crate::common::time::local_time;

/// A set of weekdays, Monday first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DaySet([bool; 7]);

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl DaySet {
    /// Parses `mon-fri`, `sat,sun`, `mon-wed,fri` or `*`.
    pub fn parse(text: &str) -> Result<DaySet, String> {
        let mut days = [false; 7];
        let text = text.trim().to_ascii_lowercase();
        if text == "*" || text == "all" {
            return Ok(DaySet([true; 7]));
        }
        for part in text.split(',').map(str::trim) {
            let index = |name: &str| {
                let name = name.trim();
                DAY_NAMES
                    .iter()
                    .position(|d| name.len() >= 3 && d.starts_with(&name[..3]) && is_day_word(name))
                    .ok_or_else(|| {
                        format!(
                            "{name:?} is not a weekday: write mon, tue, wed, thu, fri, sat or sun"
                        )
                    })
            };
            match part.split_once('-') {
                Some((from, to)) => {
                    let (from, to) = (index(from)?, index(to)?);
                    // A range may wrap over the week's end (fri-mon).
                    let mut day = from;
                    loop {
                        days[day] = true;
                        if day == to {
                            break;
                        }
                        day = (day + 1) % 7;
                    }
                }
                None => days[index(part)?] = true,
            }
        }
        Ok(DaySet(days))
    }

    /// True when `day` is in the set.
    pub fn contains(&self, day: Weekday) -> bool {
        self.0[day.to_monday_zero_offset() as usize]
    }
}

fn is_day_word(name: &str) -> bool {
    const FULL: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    FULL.iter().any(|full| full.starts_with(name))
}

/// Days and hours in a time zone when an environment may move.
#[derive(Debug, Clone)]
pub struct TimeWindow {
    /// Days on which the window opens.
    pub days: DaySet,
    /// Opening time, inclusive.
    pub start: Time,
    /// Closing time, exclusive; `None` means the end of the day (`24:00`).
    pub end: Option<Time>,
    /// The zone the days and hours are read in.
    pub timezone: TimeZone,
    /// The zone's name as written.
    pub timezone_name: String,
    /// The window as written, for messages.
    pub text: String,
}

impl PartialEq for TimeWindow {
    fn eq(&self, other: &Self) -> bool {
        self.days == other.days
            && self.start == other.start
            && self.end == other.end
            && self.timezone_name == other.timezone_name
            && self.text == other.text
    }
}

impl TimeWindow {
    /// Parses the three fields; on error returns the key at fault and why.
    pub fn parse(
        days: &str,
        hours: &str,
        timezone: &str,
    ) -> Result<TimeWindow, (&'static str, String)> {
        let day_set = DaySet::parse(days).map_err(|e| ("days", e))?;
        let (start, end) = hours.split_once('-').ok_or_else(|| {
            (
                "hours",
                format!("{hours:?} is not an hour range: write e.g. \"09:00-16:00\""),
            )
        })?;
        let start = parse_time(start).map_err(|e| ("hours", e))?;
        let end = match end.trim() {
            "24:00" => None,
            other => Some(parse_time(other).map_err(|e| ("hours", e))?),
        };
        if end == Some(start) {
            return Err((
                "hours",
                format!("{hours:?} opens and closes at the same time"),
            ));
        }
        let zone = TimeZone::get(timezone.trim()).map_err(|_| {
            (
                "timezone",
                format!(
                    "{timezone:?} is not a known time zone: use an IANA name such as \"Europe/Berlin\" or \"UTC\""
                ),
            )
        })?;
        Ok(TimeWindow {
            days: day_set,
            start,
            end,
            timezone: zone,
            timezone_name: timezone.trim().to_string(),
            text: format!("{days} {hours} {}", timezone.trim()),
        })
    }

    /// True when the window is open at `at`. A window that closes before it
    /// opens (`22:00-06:00`) runs past midnight and belongs to the day it opened.
    pub fn is_open(&self, at: Timestamp) -> bool {
        let local = self.timezone.to_datetime(at);
        let time = local.time();
        let today = local.date().weekday();
        match self.end {
            None => self.days.contains(today) && time >= self.start,
            Some(end) if end > self.start => {
                self.days.contains(today) && time >= self.start && time < end
            }
            Some(end) => {
                (self.days.contains(today) && time >= self.start)
                    || (self.days.contains(today.previous()) && time < end)
            }
        }
    }
}

fn parse_time(text: &str) -> Result<Time, String> {
    let text = text.trim();
    let (h, m) = text
        .split_once(':')
        .ok_or_else(|| format!("{text:?} is not a time: write HH:MM"))?;
    let h: i8 = h
        .parse()
        .map_err(|_| format!("{text:?} is not a time: write HH:MM"))?;
    let m: i8 = m
        .parse()
        .map_err(|_| format!("{text:?} is not a time: write HH:MM"))?;
    Time::new(h, m, 0, 0).map_err(|_| format!("{text:?} is not a time of day: use 00:00 to 23:59"))
}

/// A date or an inclusive range of dates when nothing moves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Freeze {
    /// First frozen day.
    pub from: Date,
    /// Last frozen day, inclusive.
    pub to: Date,
}

impl Freeze {
    /// Parses `2026-12-24` or `2026-12-20..2027-01-05`.
    pub fn parse(text: &str) -> Result<Freeze, String> {
        let date = |s: &str| {
            s.trim().parse::<Date>().map_err(|_| {
                format!("{text:?} is not a date or range: write \"2026-12-24\" or \"2026-12-20..2027-01-05\"")
            })
        };
        let (from, to) = match text.split_once("..") {
            Some((a, b)) => (date(a)?, date(b)?),
            None => {
                let d = date(text)?;
                (d, d)
            }
        };
        if to < from {
            return Err(format!("{text:?} ends before it starts"));
        }
        Ok(Freeze { from, to })
    }

    /// True when the civil date `date` is frozen.
    pub fn contains(&self, date: Date) -> bool {
        self.from <= date && date <= self.to
    }
}

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

    #[test]
    fn days() {
        let set = DaySet::parse("mon-fri").unwrap();
        assert!(set.contains(Weekday::Monday) && set.contains(Weekday::Friday));
        assert!(!set.contains(Weekday::Saturday));
        let set = DaySet::parse("fri-mon").unwrap();
        assert!(set.contains(Weekday::Sunday) && set.contains(Weekday::Monday));
        assert!(!set.contains(Weekday::Wednesday));
        let set = DaySet::parse("Tuesday, thu").unwrap();
        assert!(set.contains(Weekday::Tuesday) && set.contains(Weekday::Thursday));
        assert!(!set.contains(Weekday::Monday));
        assert!(DaySet::parse("*").unwrap().contains(Weekday::Sunday));
        assert!(DaySet::parse("mon-funday").is_err());
        assert!(DaySet::parse("mo").is_err());
    }

    #[test]
    fn windows_in_a_zone() {
        let w = TimeWindow::parse("mon-fri", "09:00-16:00", "Europe/Berlin").unwrap();
        // 2026-11-25 is a Wednesday; Berlin is UTC+1 in November.
        assert!(w.is_open(at("2026-11-25T08:00:00Z")));
        assert!(!w.is_open(at("2026-11-25T07:59:00Z")));
        assert!(!w.is_open(at("2026-11-25T15:00:00Z")));
        assert!(!w.is_open(at("2026-11-28T10:00:00Z")));
        let night = TimeWindow::parse("fri", "22:00-06:00", "UTC").unwrap();
        assert!(night.is_open(at("2026-11-27T23:00:00Z")));
        assert!(night.is_open(at("2026-11-28T05:00:00Z")));
        assert!(!night.is_open(at("2026-11-28T07:00:00Z")));
        assert!(!night.is_open(at("2026-11-26T23:00:00Z")));
        let all_day = TimeWindow::parse("sat", "00:00-24:00", "UTC").unwrap();
        assert!(all_day.is_open(at("2026-11-28T23:59:00Z")));
    }

    #[test]
    fn bad_windows_name_the_key() {
        assert_eq!(
            TimeWindow::parse("mon", "9-16", "UTC").unwrap_err().0,
            "hours"
        );
        assert_eq!(
            TimeWindow::parse("mon", "09:00-25:00", "UTC")
                .unwrap_err()
                .0,
            "hours"
        );
        assert_eq!(
            TimeWindow::parse("mon", "09:00-09:00", "UTC")
                .unwrap_err()
                .0,
            "hours"
        );
        assert_eq!(
            TimeWindow::parse("xyz", "09:00-10:00", "UTC")
                .unwrap_err()
                .0,
            "days"
        );
        let (key, why) = TimeWindow::parse("mon", "09:00-10:00", "Mars/Olympus").unwrap_err();
        assert_eq!(key, "timezone");
        assert!(why.contains("Mars/Olympus"));
    }

    #[test]
    fn freezes() {
        let f = Freeze::parse("2026-12-20..2027-01-05").unwrap();
        assert!(f.contains("2026-12-31".parse().unwrap()));
        assert!(!f.contains("2027-01-06".parse().unwrap()));
        assert!(
            Freeze::parse("2026-12-24")
                .unwrap()
                .contains("2026-12-24".parse().unwrap())
        );
        assert!(Freeze::parse("2027-01-05..2026-12-20").is_err());
        assert!(Freeze::parse("christmas").is_err());
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
