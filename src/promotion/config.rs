//! The promotion keys of an `[environments.NAME]` section: its time windows and freeze dates.

use super::window::{Freeze, TimeWindow};
use crate::common::settings::Table;

/// Reads an environment's `window` (one table or an array of tables): `None` when any is
/// invalid (each reported), empty when there is none.
pub fn read_windows(t: &Table) -> Option<Vec<TimeWindow>> {
    let mut out = Vec::new();
    let mut ok = true;
    for w in t.tables("window", "a window table") {
        let days = w.string("days").unwrap_or_else(|| "mon-sun".to_string());
        let hours = w
            .string("hours")
            .unwrap_or_else(|| "00:00-24:00".to_string());
        let timezone = w.string("timezone").unwrap_or_else(|| "UTC".to_string());
        match TimeWindow::parse(&days, &hours, &timezone) {
            Ok(window) => out.push(window),
            Err((key, why)) => {
                ok = false;
                w.error(key, why);
            }
        }
        w.finish();
    }
    ok.then_some(out)
}

/// Reads an environment's `freeze` dates; the invalid ones are reported and left out.
pub fn read_freezes(t: &Table) -> Vec<Freeze> {
    match t.string_list("freeze") {
        Some(items) => items
            .into_iter()
            .filter_map(|(text, path)| match Freeze::parse(&text) {
                Ok(f) => Some(f),
                Err(why) => {
                    t.error_at(&path, why);
                    None
                }
            })
            .collect(),
        None => Vec::new(),
    }
}
