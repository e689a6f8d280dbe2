//! The audit log: one JSON line per `write`/`custom` tool call and per admin change.
//!
//! Lines name the server entry, the tool and the target ids; never arguments that could hold
//! secrets, never tokens.

use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::time::SystemTime;

use serde_json::{Value, json};

pub struct AuditLog {
    sink: Mutex<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditLog")
    }
}

impl AuditLog {
    pub fn stderr() -> Self {
        Self {
            sink: Mutex::new(Box::new(std::io::stderr())),
        }
    }

    /// Appends to `path`, creating it if needed.
    pub fn file(path: &Path) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Self {
            sink: Mutex::new(Box::new(file)),
        })
    }

    pub fn to_writer(writer: Box<dyn Write + Send>) -> Self {
        Self {
            sink: Mutex::new(writer),
        }
    }

    /// Writes one event; `fields` are merged after `time` and `event`.
    pub fn record(&self, event: &str, fields: Value) {
        let mut line = json!({ "time": crate::registry::format_time(SystemTime::now()), "event": event });
        if let (Value::Object(line), Value::Object(fields)) = (&mut line, fields) {
            line.extend(fields);
        }
        let Ok(mut sink) = self.sink.lock() else { return };
        if writeln!(sink, "{line}").and_then(|()| sink.flush()).is_err() {
            tracing::error!("could not write the audit log");
        }
    }
}
