//! The `--config` file: YAML keyed by long flag name, applied as defaults so that a flag or an
//! environment variable still wins over the file.
//!
//! Making file values clap defaults (rather than rewriting argv) keeps one parser, one set of
//! value checks and one help text for all three sources.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{ArgMatches, Command};

/// Settings the file may not hold: the file's own path, and clap's built-in flags.
const NOT_SETTINGS: &[&str] = &["config", "help", "version"];

#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("--config {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("--config {path}: not YAML: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("--config {path}: expected a mapping of settings (e.g. `bridge-url: https://...`)")]
    NotAMapping { path: PathBuf },
    /// Every unknown key and bad value of the file, one per line.
    #[error("--config {path}: {}", .problems.join(&format!("\n       --config {}: ", .path.display())))]
    Settings { path: PathBuf, problems: Vec<String> },
}

/// The settings of one file, in file order, as the strings clap would have been given.
#[derive(Debug, Default)]
pub struct ConfigFile {
    pub path: Option<PathBuf>,
    settings: Vec<(String, Vec<String>)>,
}

impl ConfigFile {
    pub fn load(path: &Path, command: &Command) -> Result<Self, ConfigFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigFileError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &text, command)
    }

    fn parse(path: &Path, text: &str, command: &Command) -> Result<Self, ConfigFileError> {
        let document: yaml_serde::Value =
            yaml_serde::from_str(text).map_err(|error| ConfigFileError::Syntax {
                path: path.to_owned(),
                message: error.to_string(),
            })?;
        let mapping = match document {
            yaml_serde::Value::Mapping(mapping) => mapping,
            // An empty file is an empty configuration.
            yaml_serde::Value::Null => yaml_serde::Mapping::new(),
            _ => {
                return Err(ConfigFileError::NotAMapping {
                    path: path.to_owned(),
                });
            }
        };
        let known = long_names(command);
        let mut settings = Vec::new();
        let mut problems = Vec::new();
        for (key, value) in mapping {
            let key = match key {
                yaml_serde::Value::String(key) => key,
                other => scalar(&other).unwrap_or_else(|| "?".into()),
            };
            if !known.contains(key.as_str()) || NOT_SETTINGS.contains(&key.as_str()) {
                problems.push(format!(
                    "unknown setting `{key}`; settings are long flag names such as `bridge-url`"
                ));
                continue;
            }
            let values = match &value {
                yaml_serde::Value::Sequence(items) => items.iter().map(scalar).collect::<Option<Vec<_>>>(),
                single => scalar(single).map(|value| vec![value]),
            };
            match values {
                Some(values) => settings.push((key, values)),
                None => problems.push(format!(
                    "`{key}` must be a string, number, boolean or a list of them"
                )),
            }
        }
        if !problems.is_empty() {
            return Err(ConfigFileError::Settings {
                path: path.to_owned(),
                problems,
            });
        }
        Ok(Self {
            path: Some(path.to_owned()),
            settings,
        })
    }

    /// The long names this file sets.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.settings.iter().map(|(key, _)| key.as_str())
    }

    /// `command` with this file's values as the defaults of the matching flags, at every level.
    pub fn apply(&self, mut command: Command) -> Command {
        for (key, values) in &self.settings {
            command = with_default(command, key, values);
        }
        command
    }
}

fn with_default(mut command: Command, long: &str, values: &[String]) -> Command {
    let ids: Vec<String> = command
        .get_arguments()
        .filter(|arg| arg.get_long() == Some(long))
        .map(|arg| arg.get_id().to_string())
        .collect();
    for id in ids {
        let values: Vec<clap::builder::OsStr> = values
            .iter()
            .map(|value| clap::builder::OsStr::from(value.clone()))
            .collect();
        command = command.mut_arg(id, |arg| arg.default_values(values));
    }
    let names: Vec<String> = command
        .get_subcommands()
        .map(|sub| sub.get_name().to_owned())
        .collect();
    for name in names {
        command = command.mut_subcommand(name, |sub| with_default(sub, long, values));
    }
    command
}

fn long_names(command: &Command) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = command
        .get_arguments()
        .filter_map(|arg| arg.get_long().map(str::to_owned))
        .collect();
    for sub in command.get_subcommands() {
        names.extend(long_names(sub));
    }
    names
}

fn scalar(value: &yaml_serde::Value) -> Option<String> {
    match value {
        yaml_serde::Value::String(text) => Some(text.clone()),
        yaml_serde::Value::Number(number) => Some(number.to_string()),
        yaml_serde::Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// Parses the command line once to find `--config` (flag or `OP_SCIM_CONFIG`), then again with
/// the file's values as defaults. Exits like clap on a command-line error.
pub fn parse_with_file(
    command: impl Fn() -> Command,
    args: Vec<OsString>,
) -> Result<(ArgMatches, ConfigFile), ConfigFileError> {
    let first = command().get_matches_from(args.clone());
    let Some(path) = first.get_one::<PathBuf>("config").cloned() else {
        return Ok((first, ConfigFile::default()));
    };
    let file = ConfigFile::load(&path, &command())?;
    let matches = file.apply(command()).get_matches_from(args);
    Ok((matches, file))
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory as _, FromArgMatches as _};

    use super::*;
    use crate::cli::Cli;

    fn parse(yaml: &str, args: &[&str]) -> Result<Cli, String> {
        let file =
            ConfigFile::parse(Path::new("test.yaml"), yaml, &Cli::command()).map_err(|e| e.to_string())?;
        let matches = file
            .apply(Cli::command())
            .try_get_matches_from(args)
            .map_err(|e| e.to_string())?;
        Cli::from_arg_matches(&matches).map_err(|e| e.to_string())
    }

    fn refused(yaml: &str) -> String {
        match parse(yaml, &["op-scim-mcp"]) {
            Ok(_) => panic!("accepted: {yaml}"),
            Err(error) => error,
        }
    }

    #[test]
    fn file_values_fill_in_and_flags_win() {
        let yaml =
            "transport: http\nlisten: 0.0.0.0:9000\nallowed-host: [a.example, b.example]\ndemo: true\n";
        let cli = parse(yaml, &["op-scim-mcp"]).expect("parses");
        assert_eq!(cli.serve.transport, "http");
        assert_eq!(cli.serve.listen, "0.0.0.0:9000");
        assert_eq!(cli.serve.allowed_hosts, ["a.example", "b.example"]);
        assert!(cli.serve.demo);
        let cli = parse(yaml, &["op-scim-mcp", "--listen", "127.0.0.1:7000"]).expect("parses");
        assert_eq!(cli.serve.listen, "127.0.0.1:7000");
    }

    #[test]
    fn file_values_reach_subcommand_flags() {
        let cli = parse(
            "database-url: postgres://db/op\n",
            &["op-scim-mcp", "servers", "list"],
        )
        .expect("parses");
        match cli.command {
            Some(crate::cli::Command::Servers { registry, .. }) => {
                assert_eq!(registry.database_url.as_deref(), Some("postgres://db/op"));
            }
            _ => panic!("expected the servers command"),
        }
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let error = refused("bridge_url: https://x\n");
        assert!(error.contains("unknown setting `bridge_url`"), "{error}");
        let error = refused("listen: {host: x}\n");
        assert!(error.contains("`listen` must be a string"), "{error}");
        let error = refused("config: other.yaml\n");
        assert!(error.contains("unknown setting `config`"), "{error}");
        let error = refused("- a\n- b\n");
        assert!(error.contains("expected a mapping"), "{error}");
    }

    #[test]
    fn every_problem_of_the_file_is_named_at_once() {
        let error = refused("bridge_url: https://x\nlisten: {host: x}\ndemo-user: 3\n");
        for expected in [
            "unknown setting `bridge_url`",
            "`listen` must be a string",
            "unknown setting `demo-user`",
        ] {
            assert!(error.contains(expected), "missing {expected}: {error}");
        }
        assert_eq!(error.lines().count(), 3, "{error}");
    }
}
