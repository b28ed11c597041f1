//! Time as Baton writes it: durations the way the configuration does (`1h30m`), instants
//! in UTC or in a named zone for people, and RFC 3339 for machines.

use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// The shortest scan interval Baton accepts: registries are shared services.
pub const MIN_INTERVAL: Duration = Duration::from_secs(10);

/// Formats a duration the way the configuration writes it (`30s`, `5m`, `24h`, `1h30m`).
pub fn format_duration(duration: Duration) -> String {
    let mut secs = duration.as_secs();
    // Sub-second remainders are dropped: configuration durations are whole seconds.
    if secs == 0 {
        return format!("{}ms", duration.as_millis());
    }
    let mut out = String::new();
    for (unit, size) in [("h", 3600), ("m", 60), ("s", 1)] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    out
}

/// `2026-11-30 09:00 Europe/Berlin`: a time as people in that zone read it.
pub fn local_time(t: Timestamp, zone: &TimeZone) -> String {
    let local = zone.to_datetime(t);
    let name = zone.iana_name().unwrap_or("UTC");
    format!("{} {name}", local.strftime("%Y-%m-%d %H:%M"))
}

/// `2026-11-25 10:00 UTC`.
pub fn utc(t: Timestamp) -> String {
    local_time(t, &TimeZone::UTC)
}

/// Whole seconds, RFC 3339 in UTC (`2026-11-20T09:30:00Z`).
pub fn rfc3339_seconds(at: Timestamp) -> String {
    Timestamp::from_second(at.as_second())
        .unwrap_or(at)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_format_as_written() {
        assert_eq!(format_duration(Duration::from_secs(86400)), "24h");
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
    }

    #[test]
    fn instants_for_people_and_machines() {
        let t: Timestamp = "2026-11-30T08:00:30.5Z".parse().unwrap();
        assert_eq!(utc(t), "2026-11-30 08:00 UTC");
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        assert_eq!(local_time(t, &berlin), "2026-11-30 09:00 Europe/Berlin");
        assert_eq!(rfc3339_seconds(t), "2026-11-30T08:00:30Z");
    }
}
