//! The audit log: one JSON line per `write`/`custom` tool call and per registry change.
//!
//! Lines name the server entry, the API token (by id), the tool and what the call acted on;
//! never arguments that could hold secrets, never tokens.
//!
//! The log fails closed. A tool call that changes something first writes a line saying it is
//! about to run, and waits until that line is written: if it cannot be (a full disk, a revoked
//! mount), the call is refused before anything reaches the upstream. The outcome follows in a
//! second line with the same `call_id`.
//!
//! Writing is done by one thread that owns the file, fed through a bounded channel: async
//! workers never block on the disk, no line is ever dropped (a full channel makes the caller
//! wait), and lines keep their order. [`AuditLog::reopen`] (on SIGHUP) reopens the file after
//! a log rotation; [`AuditLog::close`] waits until every line sent before it is written.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::SystemTime;

use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::rfc3339::format_time;

/// How many lines may wait for the writer before senders wait in turn.
const QUEUE: usize = 1024;

/// Why an audit line was not written.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("could not write the audit log {target}: {source}")]
    Write { target: String, source: std::io::Error },
    #[error("could not reopen the audit log {target}: {source}")]
    Reopen { target: String, source: std::io::Error },
    #[error("the audit log {target} is closed")]
    Closed { target: String },
}

enum Command {
    Write {
        line: String,
        done: Option<oneshot::Sender<std::io::Result<()>>>,
    },
    Reopen {
        done: oneshot::Sender<std::io::Result<()>>,
    },
    Close {
        done: oneshot::Sender<std::io::Result<()>>,
    },
}

pub struct AuditLog {
    /// `stderr` or the file's path, for messages.
    target: String,
    sender: mpsc::Sender<Command>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog").field("target", &self.target).finish()
    }
}

impl AuditLog {
    pub fn stderr() -> Self {
        Self::spawn("stderr".into(), Box::new(std::io::stderr()), None)
    }

    /// Appends to `path`, creating it readable by its owner only (0600).
    pub fn file(path: &Path) -> std::io::Result<Self> {
        let file = open_append(path)?;
        Ok(Self::spawn(
            path.display().to_string(),
            Box::new(file),
            Some(path.to_owned()),
        ))
    }

    /// Writes to `writer` (tests read it back); cannot be reopened.
    pub fn to_writer(writer: Box<dyn Write + Send>) -> Self {
        Self::spawn("writer".into(), writer, None)
    }

    fn spawn(target: String, sink: Box<dyn Write + Send>, path: Option<PathBuf>) -> Self {
        let (sender, receiver) = mpsc::channel(QUEUE);
        let writer = std::thread::Builder::new()
            .name("audit-log".into())
            .spawn(move || write_lines(receiver, sink, path))
            .map_err(|error| tracing::error!(error = %error, "cannot start the audit log writer"))
            .ok();
        Self {
            target,
            sender,
            writer: Mutex::new(writer),
        }
    }

    /// Where the lines go, for messages: `stderr` or the file's path.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Writes one event and waits until it is written; `fields` follow `time` and `event`.
    pub async fn record(&self, event: &str, fields: Value) -> Result<(), AuditError> {
        let (done, written) = oneshot::channel();
        let command = Command::Write {
            line: line(event, fields),
            done: Some(done),
        };
        self.sender.send(command).await.map_err(|_| self.closed())?;
        self.outcome(written.await, |target, source| AuditError::Write {
            target,
            source,
        })
    }

    /// [`AuditLog::record`] for code outside an async runtime (the command line).
    pub fn record_blocking(&self, event: &str, fields: Value) -> Result<(), AuditError> {
        let (done, written) = oneshot::channel();
        let command = Command::Write {
            line: line(event, fields),
            done: Some(done),
        };
        self.sender.blocking_send(command).map_err(|_| self.closed())?;
        self.outcome(written.blocking_recv(), |target, source| AuditError::Write {
            target,
            source,
        })
    }

    /// Reopens the file at its path, after a log rotation moved the old one away.
    pub async fn reopen(&self) -> Result<(), AuditError> {
        let (done, reopened) = oneshot::channel();
        self.sender
            .send(Command::Reopen { done })
            .await
            .map_err(|_| self.closed())?;
        self.outcome(reopened.await, |target, source| AuditError::Reopen {
            target,
            source,
        })
    }

    /// Waits until every line sent before is written, then stops the writer. Later lines fail.
    pub async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.sender.send(Command::Close { done }).await.is_ok() {
            let _ = closed.await;
        }
        let writer = self.writer.lock().ok().and_then(|mut writer| writer.take());
        if let Some(writer) = writer {
            let _ = tokio::task::spawn_blocking(move || writer.join()).await;
        }
    }

    fn closed(&self) -> AuditError {
        AuditError::Closed {
            target: self.target.clone(),
        }
    }

    fn outcome(
        &self,
        answer: Result<std::io::Result<()>, oneshot::error::RecvError>,
        failed: impl FnOnce(String, std::io::Error) -> AuditError,
    ) -> Result<(), AuditError> {
        match answer {
            Ok(Ok(())) => Ok(()),
            Ok(Err(source)) => Err(failed(self.target.clone(), source)),
            Err(_) => Err(self.closed()),
        }
    }
}

fn line(event: &str, fields: Value) -> String {
    let mut line = json!({ "time": format_time(SystemTime::now()), "event": event });
    if let (Value::Object(line), Value::Object(fields)) = (&mut line, fields) {
        line.extend(fields);
    }
    line.to_string()
}

/// The writer thread: one command at a time, in order, until closed or every sender is gone.
fn write_lines(
    mut receiver: mpsc::Receiver<Command>,
    mut sink: Box<dyn Write + Send>,
    path: Option<PathBuf>,
) {
    while let Some(command) = receiver.blocking_recv() {
        match command {
            Command::Write { line, done } => {
                let written = sink
                    .write_all(line.as_bytes())
                    .and_then(|()| sink.write_all(b"\n"))
                    .and_then(|()| sink.flush());
                if let Err(error) = &written {
                    tracing::error!(error = %error, "could not write the audit log");
                }
                if let Some(done) = done {
                    let _ = done.send(written);
                }
            }
            Command::Reopen { done } => {
                let reopened = match &path {
                    Some(path) => open_append(path).map(|file| sink = Box::new(file)),
                    None => Ok(()),
                };
                let _ = done.send(reopened);
            }
            Command::Close { done } => {
                let _ = done.send(sink.flush());
                return;
            }
        }
    }
    let _ = sink.flush();
}

/// Opens `path` for appending; a file it creates is readable by its owner only.
fn open_append(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_line_that_cannot_be_written_is_an_error() {
        let full = AuditLog::file(Path::new("/dev/full")).expect("opens");
        let error = full.record("tool_call", json!({})).await.expect_err("disk full");
        assert!(error.to_string().contains("/dev/full"), "{error}");
    }

    #[tokio::test]
    async fn reopening_follows_a_rotation_and_close_flushes() {
        let dir = std::env::temp_dir().join(format!("audit-rotate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("audit.jsonl");
        let _ = std::fs::remove_file(&path);
        let log = AuditLog::file(&path).expect("opens");
        log.record("first", json!({ "n": 1 })).await.expect("written");
        let rotated = dir.join("audit.jsonl.1");
        std::fs::rename(&path, &rotated).expect("rotate");
        log.reopen().await.expect("reopened");
        log.record("second", json!({ "n": 2 })).await.expect("written");
        log.close().await;
        assert!(log.record("late", json!({})).await.is_err());
        let old = std::fs::read_to_string(&rotated).expect("rotated file");
        let new = std::fs::read_to_string(&path).expect("new file");
        assert!(
            old.contains("\"event\":\"first\"") && !old.contains("second"),
            "{old}"
        );
        assert!(
            new.contains("\"event\":\"second\"") && new.contains("\"n\":2"),
            "{new}"
        );
        assert_eq!(crate::files::readable_by_others(&path), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
