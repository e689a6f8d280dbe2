//! Test support: a real, throwaway PostgreSQL server.
//!
//! [`TempPostgres`] runs `initdb` into a fresh temporary directory (password auth with a random
//! password), listens on 127.0.0.1 only, keeps its unix socket inside that directory, and is
//! stopped (`pg_ctl stop -m immediate`) and removed on drop, also when a test panics. Tests
//! never skip when PostgreSQL is missing: they fail and say how to install it.
//!
//! This crate is for tests: failures panic with a message saying what went wrong.

use std::fmt;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use rand::Rng as _;
use rand::distr::Alphanumeric;

/// The superuser `initdb` creates.
const SUPERUSER: &str = "postgres";
/// The system user that runs the server when tests run as root (PostgreSQL refuses root).
const SYSTEM_USER: &str = "postgres";

/// A PostgreSQL server of its own, in a temporary directory.
pub struct TempPostgres {
    bin: PathBuf,
    root: PathBuf,
    port: u16,
    password: String,
    /// `Some(user)` when the server runs as another user (tests running as root).
    run_as: Option<&'static str>,
}

impl fmt::Debug for TempPostgres {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TempPostgres")
            .field("root", &self.root)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

static SHARED: Mutex<Weak<TempPostgres>> = Mutex::new(Weak::new());

impl TempPostgres {
    /// Initialises and starts a new server; panics (with how to install it) if PostgreSQL is
    /// missing.
    pub fn start() -> Self {
        let bin = server_binaries();
        let root = std::env::temp_dir().join(format!("op-scim-pg-{}-{}", std::process::id(), random(8)));
        std::fs::create_dir_all(root.join("socket"))
            .unwrap_or_else(|error| fail(&format!("creating {}", root.display()), error));
        let server = Self {
            bin,
            root,
            port: free_port(),
            password: random(24),
            run_as: is_root().then_some(SYSTEM_USER),
        };
        server.init();
        server.pg_ctl_start();
        server
    }

    /// One server shared by every test that holds it at the same time; it stops when the last
    /// holder drops it, so no server outlives the test run. Tests that stop or restart the
    /// server use [`TempPostgres::start`] instead.
    pub fn shared() -> Arc<Self> {
        let mut shared = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(server) = shared.upgrade() {
            return server;
        }
        let server = Arc::new(Self::start());
        *shared = Arc::downgrade(&server);
        server
    }

    /// The URL of the `postgres` database, as the superuser.
    pub fn url(&self) -> String {
        self.url_of("postgres")
    }

    /// Creates a database named `name` (lowercase letters, digits, `_`) and returns its URL.
    pub fn create_database(&self, name: &str) -> String {
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        assert!(
            valid,
            "database name `{name}`: use lowercase letters, digits and `_`"
        );
        let mut client = postgres::Client::connect(&self.url(), postgres::NoTls)
            .unwrap_or_else(|error| fail("connecting as the superuser", error));
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|error| fail(&format!("creating database {name}"), error));
        self.url_of(name)
    }

    /// Creates a database with a fresh random name and returns its URL.
    pub fn fresh_database(&self) -> String {
        self.create_database(&format!("test_{}", random(12).to_ascii_lowercase()))
    }

    /// Stops the server, cutting every connection (`pg_ctl stop -m fast`).
    pub fn stop(&self) {
        self.pg_ctl(&["stop", "-w", "-m", "fast"]);
    }

    /// Stops and starts the server again on the same port, as a database restart does.
    pub fn restart(&self) {
        self.stop();
        self.pg_ctl_start();
    }

    /// Starts the server again after [`TempPostgres::stop`], on the same port and data.
    pub fn start_again(&self) {
        self.pg_ctl_start();
    }

    fn url_of(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}:{}@127.0.0.1:{}/{database}",
            self.password, self.port
        )
    }

    fn data(&self) -> PathBuf {
        self.root.join("data")
    }

    fn init(&self) {
        let password_file = self.root.join("password");
        std::fs::write(&password_file, &self.password)
            .unwrap_or_else(|error| fail("writing the password file", error));
        if let Some(user) = self.run_as {
            run(Command::new("chown").args(["-R", user]).arg(&self.root), "chown");
        }
        let mut initdb = self.command("initdb");
        initdb
            .arg("-D")
            .arg(self.data())
            .args([
                "-U",
                SUPERUSER,
                "--auth=scram-sha-256",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ])
            .arg(format!("--pwfile={}", password_file.display()));
        run(&mut initdb, "initdb");
        let _ = std::fs::remove_file(&password_file);
    }

    fn pg_ctl_start(&self) {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -c unix_socket_directories={} -c fsync=off",
            self.port,
            self.root.join("socket").display()
        );
        let log = self.root.join("server.log");
        let started = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(&log)
            .args(["-o", &options, "-w", "-t", "60", "start"])
            .output()
            .unwrap_or_else(|error| fail("running pg_ctl start", error));
        if !started.status.success() {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            panic!("pg_ctl start failed: {}\nserver log:\n{log}", describe(&started));
        }
    }

    fn pg_ctl(&self, args: &[&str]) {
        let mut command = self.command("pg_ctl");
        command.arg("-D").arg(self.data()).args(args);
        run(&mut command, "pg_ctl");
    }

    /// A server binary, run as the system user when the tests run as root.
    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        let mut command = match self.run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(program);
                command
            }
            None => Command::new(program),
        };
        // The caller's directory may be unreadable for the system user.
        command.current_dir(&self.root);
        command
    }
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["stop", "-w", "-m", "immediate"])
            .output();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// The directory holding `initdb`, `pg_ctl` and `postgres`: on `PATH`, else the newest
/// `/usr/lib/postgresql/<version>/bin` (Debian and Ubuntu keep them there).
fn server_binaries() -> PathBuf {
    let has_all = |dir: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|b| dir.join(b).is_file())
    };
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    if let Some(dir) = on_path.into_iter().find(|dir| has_all(dir)) {
        return dir;
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            has_all(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    match versions.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found on PATH or \
             under /usr/lib/postgresql/*/bin; the PostgreSQL registry tests need them: \
             install them with `apt-get install postgresql` (Debian, Ubuntu)"
        ),
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| output.stdout.trim_ascii() == b"0")
}

/// A port free right now; the server binds it a moment later.
fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .unwrap_or_else(|error| fail("finding a free port", error))
}

fn random(length: usize) -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(length)
        .map(char::from)
        .collect()
}

fn run(command: &mut Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|error| fail(&format!("running {what}"), error));
    assert!(output.status.success(), "{what} failed: {}", describe(&output));
}

fn describe(output: &Output) -> String {
    format!(
        "{}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn fail(what: &str, error: impl fmt::Display) -> ! {
    panic!("TempPostgres: {what}: {error}")
}
