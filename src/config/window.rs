//! Time windows and freeze dates that gate when an environment may move.
//!
//! Parsed from `window = { days, hours, timezone }` and `freeze = [...]`; evaluated purely.

use jiff::Timestamp;
use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;

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
}
