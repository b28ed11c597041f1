//! The generic JSON webhook: Baton's own schema (`version`, `event`, the event's fields),
//! POSTed to a URL kept in `url_file`.

use serde_json::Value;

use super::kind::Sink;
use super::render::Composed;

/// `kind = "webhook"`.
pub struct Webhook;

impl Sink for Webhook {
    fn payload(&self, composed: &Composed) -> Value {
        composed.json.clone()
    }
}
