//! An `op-scim-mcp` (or any) server process under test: started with the arguments and
//! environment a test gives, its stderr kept for the test to read, its address taken from the
//! line it prints when it listens, and killed on drop.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::Duration;

/// The line an HTTP server prints once it listens, before its URL.
pub const LISTENING: &str = "serving MCP over HTTP at ";

/// A server process; killed when dropped.
pub struct Served {
    child: Child,
    /// `http://host:port`, from the line the server printed.
    pub base: String,
    log: Arc<Mutex<String>>,
}

impl Served {
    /// Runs `command` (stdout discarded) and waits up to 30 s for its [`LISTENING`] line;
    /// panics with what it printed if the line never comes.
    pub fn start(command: Command) -> Self {
        Self::start_when(command, LISTENING)
    }

    /// [`Served::start`] for a server that prints its URL after `prefix`; `base` is that URL
    /// (without a trailing `/mcp`).
    pub fn start_when(mut command: Command, prefix: &'static str) -> Self {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the server starts");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (address, ready) = mpsc::channel();
        let sink = log.clone();
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix(prefix) {
                    let _ = address.send(rest.trim().trim_end_matches("/mcp").to_owned());
                }
                let mut log = sink.lock().unwrap_or_else(PoisonError::into_inner);
                log.push_str(&line);
                log.push('\n');
            }
        });
        let base = match ready.recv_timeout(Duration::from_secs(30)) {
            Ok(base) => base,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the server did not start:\n{}",
                    log.lock().unwrap_or_else(PoisonError::into_inner)
                );
            }
        };
        Self { child, base, log }
    }

    /// Everything the server wrote to stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The process id, to send it signals.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.kill();
    }
}
