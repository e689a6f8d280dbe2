//! `temp-postgres NAME`: a throwaway PostgreSQL server ([`testkit::TempPostgres`]) for a test
//! that is not written in Rust. It creates the database `NAME`, prints its URL as one line, and
//! stops and removes the server once its standard input closes, which happens when whoever
//! started it ends, however it ends.
//!
//! `cargo xtask ci` runs the replicas end-to-end test against it, so xtask itself needs no
//! database client and no async runtime.

use std::io::Write as _;
use std::process::ExitCode;

use testkit::TempPostgres;

fn main() -> ExitCode {
    let Some(name) = std::env::args().nth(1) else {
        eprintln!("usage: temp-postgres DATABASE_NAME (lowercase letters, digits and `_`)");
        return ExitCode::from(2);
    };
    let server = TempPostgres::start();
    let url = server.create_database(&name);
    let mut stdout = std::io::stdout();
    if writeln!(stdout, "{url}").and_then(|()| stdout.flush()).is_err() {
        return ExitCode::FAILURE;
    }
    // Nothing is read for its content: the end of the input is the signal to stop.
    let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
    drop(server);
    ExitCode::SUCCESS
}
