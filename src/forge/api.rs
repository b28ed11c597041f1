//! What every forge dialect shares: error texts from replies, query strings, fields, the
//! token's own user, and sending a request whose reply is one pull request.

use serde_json::Value;

use super::{CommitStatus, Forge, ForgeError, PullRequest};

/// The error text a forge put in its reply: `message` (GitHub, Gitea, GitLab), GitHub's
/// `errors[].message`, GitLab's `error` or a `message` object of field errors.
pub(super) fn error_message(json: &Value) -> String {
    let mut parts: Vec<String> = Vec::new();
    match json.get("message") {
        Some(Value::String(s)) => parts.push(s.clone()),
        Some(Value::Array(items)) => {
            parts.extend(items.iter().filter_map(|i| i.as_str().map(String::from)))
        }
        Some(Value::Object(fields)) => {
            for (field, v) in fields {
                let text = match v {
                    Value::Array(items) => items
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", "),
                    other => other.as_str().unwrap_or_default().to_string(),
                };
                parts.push(format!("{field} {text}"));
            }
        }
        _ => {}
    }
    if let Some(Value::String(s)) = json.get("error") {
        parts.push(s.clone());
    }
    if let Some(Value::Array(errors)) = json.get("errors") {
        for e in errors {
            if let Some(m) = e.get("message").and_then(Value::as_str) {
                parts.push(m.to_string());
            } else if let Some(s) = e.as_str() {
                parts.push(s.to_string());
            }
        }
    }
    let text = parts.join("; ");
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    text.chars().take(300).collect()
}

/// `url?k=v&...` with the values form-encoded.
pub(super) fn with_query(url: String, pairs: &[(&str, &str)]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        query.append_pair(k, v);
    }
    format!("{url}?{}", query.finish())
}

pub(super) fn str_field(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

pub(super) fn owner_name(forge: &Forge) -> (&str, &str) {
    forge
        .repository
        .split_once('/')
        .unwrap_or((forge.repository.as_str(), ""))
}

pub(super) fn array(forge: &Forge, action: &str, v: Value) -> Result<Vec<Value>, ForgeError> {
    match v {
        Value::Array(items) => Ok(items),
        other => {
            Err(forge.reply_error(action, format!("expected a list, got {}", kind_of(&other))))
        }
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The token's own user: `login` from `GET /user` (GitHub, Gitea/Forgejo), `username` from
/// GitLab's `GET /user`.
pub(super) async fn own_user(forge: &Forge) -> Result<String, ForgeError> {
    let action = "learn the token's own user";
    let request = forge.http.get(format!("{}/user", forge.api));
    let reply = forge.send(action, request).await?;
    let field = forge.kind.dialect().user_field();
    match reply.get(field).and_then(Value::as_str) {
        Some(name) if !name.is_empty() => Ok(name.to_string()),
        _ => Err(forge.reply_error(action, format!("the reply to GET /user has no {field}"))),
    }
}

/// Sends `request` for `action` and reads the one pull request of the reply with `read`.
pub(super) async fn send_for_pull(
    forge: &Forge,
    action: &str,
    request: reqwest::RequestBuilder,
    read: fn(&Forge, &str, &Value) -> Result<PullRequest, ForgeError>,
) -> Result<PullRequest, ForgeError> {
    read(forge, action, &forge.send(action, request).await?)
}

/// POSTs `status` on `commit` to `url`: every forge takes the same body but for the
/// spelling of the `state` and the key of the check's name (`context`, GitLab's `name`).
pub(super) async fn post_status(
    forge: &Forge,
    url: String,
    commit: &str,
    status: &CommitStatus,
    (state, name_key): (&str, &str),
) -> Result<(), ForgeError> {
    let action = format!("set commit status {} on {commit}", status.context);
    let mut body = serde_json::Map::new();
    body.insert("state".into(), state.into());
    body.insert(name_key.into(), status.context.clone().into());
    body.insert("description".into(), status.short_description().into());
    if let Some(url) = &status.target_url {
        body.insert("target_url".into(), url.clone().into());
    }
    let request = forge.http.post(url).json(&body);
    forge.send(&action, request).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn error_messages_from_each_forge() {
        assert_eq!(
            error_message(
                &json!({"message": "Validation Failed", "errors": [{"message": "A pull request already exists for o:b."}]})
            ),
            "Validation Failed; A pull request already exists for o:b."
        );
        assert_eq!(
            error_message(
                &json!({"message": ["Another open merge request already exists for this source branch: !1"]})
            ),
            "Another open merge request already exists for this source branch: !1"
        );
        assert_eq!(
            error_message(&json!({"message": {"title": ["is too long"]}})),
            "title is too long"
        );
        assert_eq!(
            error_message(&json!({"error": "invalid_token"})),
            "invalid_token"
        );
        assert_eq!(error_message(&json!([1])), "");
    }
}
