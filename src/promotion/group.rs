//! Images that move together (`[groups.NAME]`): in one commit or one pull request, and with
//! `same_version` only to one version for all. Pure: the pass says how each member stands in
//! an environment, this says whether the group may move and, when not, why in words.

use std::cmp::Ordering;

/// One `[groups.NAME]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupConfig {
    /// The `[images]` names of its members, as written (at least two, each in no other group).
    pub images: Vec<String>,
    /// Move only when every member's candidate is the same version.
    pub same_version: bool,
}

/// How one member of a group stands in an environment this pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// Its markers would move to this version.
    Moves(String),
    /// Its markers already hold this version, its candidate.
    Stays(String),
    /// It may not move now, and why (a gate, a hold, no version chosen).
    Blocked(String),
}

impl Standing {
    fn version(&self) -> Option<&str> {
        match self {
            Standing::Moves(v) | Standing::Stays(v) => Some(v),
            Standing::Blocked(_) => None,
        }
    }
}

/// Whether the group `name` may move, given each present member's standing (in the order of
/// `images`). `Ok(())` when nothing would move or everyone may; otherwise why none moves,
/// naming the member at fault. `newer` orders two versions of a member (`a` against `b`).
pub fn judge(
    name: &str,
    group: &GroupConfig,
    members: &[(String, Standing)],
    newer: impl Fn(&str, &str, &str) -> Option<Ordering>,
) -> Result<(), String> {
    if !members.iter().any(|(_, s)| matches!(s, Standing::Moves(_))) {
        return Ok(());
    }
    let names: Vec<&str> = members.iter().map(|(m, _)| m.as_str()).collect();
    if let Some((member, Standing::Blocked(why))) = members
        .iter()
        .find(|(_, s)| matches!(s, Standing::Blocked(_)))
    {
        return Err(format!(
            "group {name} ({}) moves together, and {member} may not move now: {why}",
            names.join(", ")
        ));
    }
    if !group.same_version {
        return Ok(());
    }
    let mut highest: Option<(&str, &str)> = None;
    for (member, standing) in members {
        let Some(version) = standing.version() else {
            continue;
        };
        highest = match highest {
            Some((m, best)) if newer(member, version, best) != Some(Ordering::Greater) => {
                Some((m, best))
            }
            _ => Some((member.as_str(), version)),
        };
    }
    let Some((_, best)) = highest else {
        return Ok(());
    };
    let lacking: Vec<String> = members
        .iter()
        .filter_map(|(member, s)| {
            let v = s.version()?;
            (v != best).then(|| format!("{member} has no {best} (its candidate is {v})"))
        })
        .collect();
    if lacking.is_empty() {
        return Ok(());
    }
    Err(format!(
        "group {name} ({}) moves only to one version for all (same_version): {}",
        names.join(", "),
        lacking.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(same_version: bool) -> GroupConfig {
        GroupConfig {
            images: vec!["api".into(), "web".into()],
            same_version,
        }
    }

    fn semver(_: &str, a: &str, b: &str) -> Option<Ordering> {
        let key = |v: &str| -> Vec<u64> { v.split('.').filter_map(|p| p.parse().ok()).collect() };
        Some(key(a).cmp(&key(b)))
    }

    fn members(api: Standing, web: Standing) -> Vec<(String, Standing)> {
        vec![("api".into(), api), ("web".into(), web)]
    }

    #[test]
    fn a_blocked_member_holds_every_move_of_its_group() {
        let m = members(
            Standing::Moves("1.1.0".into()),
            Standing::Blocked("soaking in staging until 12:00".into()),
        );
        assert_eq!(
            judge("shop", &group(false), &m, semver).unwrap_err(),
            "group shop (api, web) moves together, and web may not move now: soaking in staging until 12:00"
        );
        // Nothing would move: nothing to hold.
        let idle = members(
            Standing::Stays("1.0.0".into()),
            Standing::Blocked("x".into()),
        );
        assert_eq!(judge("shop", &group(false), &idle, semver), Ok(()));
        // A member already there does not hold the others.
        let ok = members(
            Standing::Moves("1.1.0".into()),
            Standing::Stays("1.0.3".into()),
        );
        assert_eq!(judge("shop", &group(false), &ok, semver), Ok(()));
    }

    #[test]
    fn same_version_names_the_member_that_lacks_the_newest() {
        let m = members(
            Standing::Moves("1.10.0".into()),
            Standing::Moves("1.9.0".into()),
        );
        assert_eq!(
            judge("shop", &group(true), &m, semver).unwrap_err(),
            "group shop (api, web) moves only to one version for all (same_version): web has no 1.10.0 (its candidate is 1.9.0)"
        );
        let behind = members(
            Standing::Stays("1.0.0".into()),
            Standing::Moves("1.1.0".into()),
        );
        assert!(
            judge("shop", &group(true), &behind, semver)
                .unwrap_err()
                .ends_with("api has no 1.1.0 (its candidate is 1.0.0)")
        );
        let same = members(
            Standing::Moves("1.1.0".into()),
            Standing::Stays("1.1.0".into()),
        );
        assert_eq!(judge("shop", &group(true), &same, semver), Ok(()));
        // Without same_version, different versions move together.
        assert_eq!(judge("shop", &group(false), &m, semver), Ok(()));
    }
}
