//! How an entry is shown: the admin API's and the command line's `{id, name, config,
//! expires_at, url}`, and the change record the audit log keeps of it.

use serde_json::{Value, json};

use crate::ServerEntry;
use runtime::rfc3339::format_time;

/// The shape the product documents: `{id, name, config, expires_at, created_at}`, and `url`
/// when it is handed out (once, at creation).
pub fn describe(entry: &ServerEntry, url: Option<String>) -> Value {
    let mut value = json!({
        "id": entry.id,
        "name": entry.name,
        "config": {
            "methods": entry.methods,
            "tags": entry.tags,
            "require_api_token_auth": entry.require_api_token_auth,
        },
        "expires_at": entry.expires_at.map(format_time),
        "created_at": format_time(entry.created_at),
    });
    if let Some(url) = url {
        value["url"] = json!(url);
    }
    value
}

/// One registry change in the audit log: which entry, its scope, and who made the change.
pub fn change_record(entry: &ServerEntry, actor: &str) -> Value {
    json!({
        "server_id": entry.id,
        "server_name": entry.name,
        "actor": actor,
        "config": describe(entry, None)["config"],
    })
}
