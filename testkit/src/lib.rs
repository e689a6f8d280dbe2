//! Test support: a real, throwaway PostgreSQL server, and server processes under test
//! ([`Served`]).
//!
//! [`TempPostgres`] runs `initdb` into a fresh temporary directory (password auth with a random
//! password), listens on 127.0.0.1 only, keeps its unix socket inside that directory, and is
//! stopped (`pg_ctl stop -m immediate`) and removed on drop, also when a test panics. Tests
//! never skip when PostgreSQL is missing: they fail and say how to install it.
//!
//! [`TempPostgres::start_with_tls`] also makes a throwaway CA and a server certificate for
//! `localhost` and `127.0.0.1` (with the `openssl` command-line tool), turns `ssl` on, and
//! accepts TCP connections over TLS only (`hostssl`), so a plain one is refused by the server.
//!
//! This crate is for tests: failures panic with a message saying what went wrong.

use std::fmt;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use rand::Rng as _;
use rand::distr::Alphanumeric;

mod served;
pub use served::{LISTENING, Served};

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
    /// The CA certificate (PEM) that signed the server's, when TLS is on.
    ca_certificate: Option<PathBuf>,
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
static SHARED_WITH_TLS: Mutex<Weak<TempPostgres>> = Mutex::new(Weak::new());

impl TempPostgres {
    /// Initialises and starts a new server; panics (with how to install it) if PostgreSQL is
    /// missing.
    pub fn start() -> Self {
        let server = Self::initialised();
        server.pg_ctl_start();
        server
    }

    /// Like [`TempPostgres::start`], with TLS: a server certificate for `localhost` and
    /// `127.0.0.1` signed by a throwaway CA ([`TempPostgres::ca_certificate`]), and TCP
    /// connections accepted over TLS only. Panics (with how to install it) if the `openssl`
    /// command-line tool is missing.
    pub fn start_with_tls() -> Self {
        let mut server = Self::initialised();
        server.ca_certificate = Some(server.enable_tls());
        server.pg_ctl_start();
        server
    }

    /// The PEM file of the CA that signed the server's certificate, for a server started by
    /// [`TempPostgres::start_with_tls`].
    pub fn ca_certificate(&self) -> Option<&Path> {
        self.ca_certificate.as_deref()
    }

    /// The password of the superuser.
    pub fn password(&self) -> &str {
        &self.password
    }

    fn initialised() -> Self {
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
            ca_certificate: None,
        };
        server.init();
        server
    }

    /// One server shared by every test that holds it at the same time; it stops when the last
    /// holder drops it, so no server outlives the test run. Tests that stop or restart the
    /// server use [`TempPostgres::start`] instead.
    pub fn shared() -> Arc<Self> {
        share(&SHARED, Self::start)
    }

    /// [`TempPostgres::shared`] for a server started by [`TempPostgres::start_with_tls`].
    pub fn shared_with_tls() -> Arc<Self> {
        share(&SHARED_WITH_TLS, Self::start_with_tls)
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
        // Over the unix socket, which a TLS-only server still serves in plain text.
        let mut client = postgres::Config::new()
            .host_path(self.root.join("socket"))
            .port(self.port)
            .user(SUPERUSER)
            .password(&self.password)
            .dbname("postgres")
            .connect(postgres::NoTls)
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

    /// Makes the CA and the server certificate, turns `ssl` on and allows TCP over TLS only;
    /// returns the CA certificate's path.
    fn enable_tls(&self) -> PathBuf {
        let tls = self.root.join("tls");
        std::fs::create_dir_all(&tls).unwrap_or_else(|error| fail("creating the tls directory", error));
        let ca_key = tls.join("ca.key");
        let ca = tls.join("ca.pem");
        let key = tls.join("server.key");
        let request = tls.join("server.csr");
        let certificate = tls.join("server.pem");
        let extensions = tls.join("server.ext");
        std::fs::write(
            &extensions,
            "subjectAltName = DNS:localhost, IP:127.0.0.1\nbasicConstraints = critical, CA:FALSE\n\
             keyUsage = critical, digitalSignature\nextendedKeyUsage = serverAuth\n",
        )
        .unwrap_or_else(|error| fail("writing the certificate extensions", error));
        let p256 = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        openssl(
            Command::new("openssl")
                .args(["req", "-x509", "-days", "2", "-subj", "/CN=op-scim-mcp test CA"])
                .args(p256)
                .args(["-addext", "basicConstraints=critical,CA:TRUE"])
                .args(["-addext", "keyUsage=critical,keyCertSign,cRLSign"])
                .arg("-keyout")
                .arg(&ca_key)
                .arg("-out")
                .arg(&ca),
        );
        openssl(
            Command::new("openssl")
                .args(["req", "-new", "-subj", "/CN=localhost"])
                .args(p256)
                .arg("-keyout")
                .arg(&key)
                .arg("-out")
                .arg(&request),
        );
        openssl(
            Command::new("openssl")
                .args(["x509", "-req", "-days", "2", "-set_serial", "1"])
                .arg("-in")
                .arg(&request)
                .arg("-CA")
                .arg(&ca)
                .arg("-CAkey")
                .arg(&ca_key)
                .arg("-extfile")
                .arg(&extensions)
                .arg("-out")
                .arg(&certificate),
        );
        let _ = std::fs::remove_file(&ca_key);
        // The server refuses a key file that others may read; it must also own it.
        run(Command::new("chmod").arg("0600").arg(&key), "chmod");
        if let Some(user) = self.run_as {
            run(Command::new("chown").args(["-R", user]).arg(&tls), "chown");
        }
        let settings = format!(
            "\nssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\n",
            certificate.display(),
            key.display()
        );
        append(&self.data().join("postgresql.conf"), &settings);
        // TCP over TLS only; the unix socket (for the superuser's set-up) stays plain.
        std::fs::write(
            self.data().join("pg_hba.conf"),
            "local all all scram-sha-256\n\
             hostssl all all 127.0.0.1/32 scram-sha-256\n\
             hostssl all all ::1/128 scram-sha-256\n",
        )
        .unwrap_or_else(|error| fail("writing pg_hba.conf", error));
        ca
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

fn share(slot: &Mutex<Weak<TempPostgres>>, start: fn() -> TempPostgres) -> Arc<TempPostgres> {
    let mut shared = slot.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(server) = shared.upgrade() {
        return server;
    }
    let server = Arc::new(start());
    *shared = Arc::downgrade(&server);
    server
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

/// Runs an `openssl` command; panics with how to install it when it is missing.
fn openssl(command: &mut Command) {
    let output = match command.output() {
        Ok(output) => output,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => panic!(
            "the `openssl` command-line tool was not found on PATH; the PostgreSQL TLS tests use it \
             to make a throwaway CA: install it with `apt-get install openssl` (Debian, Ubuntu)"
        ),
        Err(error) => fail("running openssl", error),
    };
    assert!(output.status.success(), "openssl failed: {}", describe(&output));
}

fn append(path: &Path, text: &str) {
    use std::io::Write as _;
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .unwrap_or_else(|error| fail(&format!("appending to {}", path.display()), error));
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
