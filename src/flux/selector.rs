//! Kubernetes label selectors (`matchLabels`, `matchExpressions`), as an
//! ImageUpdateAutomation's `policySelector` uses them to pick its ImagePolicies.

use std::collections::BTreeMap;

use super::fields::Fields;
use super::yaml::Value;

/// A label selector: every label and every expression must match.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selector {
    /// Labels that must be present with these values.
    pub match_labels: BTreeMap<String, String>,
    /// Set-based requirements.
    pub expressions: Vec<Requirement>,
}

/// One `matchExpressions` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The label key.
    pub key: String,
    /// How the label is compared.
    pub operator: Operator,
    /// The values for `In` and `NotIn`.
    pub values: Vec<String>,
}

/// The operators Kubernetes defines for label selectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// The label's value is one of the values.
    In,
    /// The label is absent or its value is none of the values.
    NotIn,
    /// The label is present.
    Exists,
    /// The label is absent.
    DoesNotExist,
}

impl Selector {
    /// Whether an object with `labels` is selected.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.expressions.iter().all(|r| {
                let value = labels.get(&r.key);
                match r.operator {
                    Operator::In => value.is_some_and(|v| r.values.contains(v)),
                    Operator::NotIn => value.is_none_or(|v| !r.values.contains(v)),
                    Operator::Exists => value.is_some(),
                    Operator::DoesNotExist => value.is_none(),
                }
            })
    }
}

/// Reads a selector mapping; problems go to the fields' sink.
pub(super) fn read(f: &Fields) -> Selector {
    let match_labels = f.string_map("matchLabels").into_iter().collect();
    let mut expressions = Vec::new();
    if let Some(node) = f.raw("matchExpressions") {
        match &node.value {
            Value::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    let path = format!("{}[{i}]", f.child_path("matchExpressions"));
                    let Some(e) = Fields::new(f.sink, &path, item) else {
                        continue;
                    };
                    let key = e.required_string("key", "name the label key");
                    let operator = e
                        .required_string("operator", "use In, NotIn, Exists or DoesNotExist")
                        .and_then(|(text, _)| match text.as_str() {
                            "In" => Some(Operator::In),
                            "NotIn" => Some(Operator::NotIn),
                            "Exists" => Some(Operator::Exists),
                            "DoesNotExist" => Some(Operator::DoesNotExist),
                            other => {
                                e.error(
                                    "operator",
                                    format!(
                                        "{other:?} is not an operator: use In, NotIn, Exists or DoesNotExist"
                                    ),
                                );
                                None
                            }
                        });
                    let values: Vec<String> = e
                        .string_list("values")
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(v, _)| v)
                        .collect();
                    if let Some(op) = operator {
                        let wants_values = matches!(op, Operator::In | Operator::NotIn);
                        if wants_values && values.is_empty() {
                            e.error("values", "In and NotIn need at least one value");
                        } else if !wants_values && !values.is_empty() {
                            e.error("values", "Exists and DoesNotExist take no values");
                        }
                    }
                    e.finish();
                    if let (Some((key, _)), Some(operator)) = (key, operator) {
                        expressions.push(Requirement {
                            key,
                            operator,
                            values,
                        });
                    }
                }
            }
            _ => f.error(
                "matchExpressions",
                format!("expected a list, found {}", node.kind()),
            ),
        }
    }
    Selector {
        match_labels,
        expressions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn matches_as_kubernetes_does() {
        let selector = Selector {
            match_labels: labels(&[("env", "staging")]),
            expressions: vec![
                Requirement {
                    key: "tier".into(),
                    operator: Operator::NotIn,
                    values: vec!["db".into()],
                },
                Requirement {
                    key: "skip".into(),
                    operator: Operator::DoesNotExist,
                    values: vec![],
                },
            ],
        };
        assert!(selector.matches(&labels(&[("env", "staging")])));
        assert!(selector.matches(&labels(&[("env", "staging"), ("tier", "web")])));
        assert!(!selector.matches(&labels(&[("env", "staging"), ("tier", "db")])));
        assert!(!selector.matches(&labels(&[("env", "staging"), ("skip", "")])));
        assert!(!selector.matches(&labels(&[("env", "prod")])));
        assert!(Selector::default().matches(&labels(&[])));
        let exists = Selector {
            match_labels: BTreeMap::new(),
            expressions: vec![Requirement {
                key: "team".into(),
                operator: Operator::In,
                values: vec!["a".into(), "b".into()],
            }],
        };
        assert!(exists.matches(&labels(&[("team", "b")])));
        assert!(!exists.matches(&labels(&[])));
    }
}
