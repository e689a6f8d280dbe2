//! What the command line asks for, with every option where it belongs.
//!
//! Serving options sit at the top level (`op-scim-mcp --demo --transport http`), and some
//! subcommands read the same settings: `tools` the scope, `config check` everything, the
//! registry commands the registry. Such a setting may be typed on either side of the
//! subcommand (`--methods read tools` or `tools --methods read`), but on one side only. A
//! serving option typed before a subcommand that does not read it is refused by name: it would
//! otherwise be ignored without a word, and `--methods read tools` listing every tool is the
//! kind of surprise that gets a write tool handed out by accident.

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, Command as ClapCommand, FromArgMatches};

use crate::cli::{
    Cli, Command, ConfigAction, KeysAction, ListenArg, RegistryArgs, ServeArgs, ServersAction, ToolArgs,
};

/// One command to run, its options settled.
pub enum Invocation {
    Serve {
        args: ServeArgs,
        /// The ids of the options typed on the command line.
        typed: Vec<String>,
    },
    Tools(ToolArgs),
    ConfigCheck {
        serve: ServeArgs,
        live: bool,
        offline: bool,
        /// The ids of the serving options typed on the command line (not from the environment
        /// or the config file), for the warnings about secrets in flags.
        typed: Vec<String>,
    },
    Servers(ServersAction, RegistryArgs),
    ApiTokens(KeysAction, RegistryArgs),
    AdminKeys(KeysAction, RegistryArgs),
    Probe {
        url: Option<String>,
        listen: String,
        timeout: std::time::Duration,
    },
    #[cfg(feature = "demo")]
    Sim(bridge_sim::SimArgs),
}

/// Settles `cli` (parsed from `matches`, built by `command`) into one invocation.
pub fn settle(cli: Cli, matches: &ArgMatches, command: &ClapCommand) -> Result<Invocation, String> {
    let top_typed = typed(matches, &serve_ids());
    let (Some((name, sub)), Some(chosen)) = (matches.subcommand(), cli.command) else {
        return Ok(Invocation::Serve {
            args: cli.serve,
            typed: top_typed,
        });
    };
    match chosen {
        Command::Tools { tools } => {
            refuse_others(&top_typed, &ids_of::<ToolArgs>(), "tools", command)?;
            Ok(Invocation::Tools(one_side(tools, matches, sub, "tools")?))
        }
        Command::Config {
            action: ConfigAction::Check { live, offline, serve },
        } => {
            let Some((_, check)) = sub.subcommand() else {
                return Err("`config` needs an action: `config check`".into());
            };
            let serve_ids = serve_ids();
            let typed_after = typed(check, &serve_ids);
            let serve = one_side(*serve, matches, check, "config check")?;
            let typed = if top_typed.is_empty() {
                typed_after
            } else {
                top_typed
            };
            Ok(Invocation::ConfigCheck {
                serve,
                live,
                offline,
                typed,
            })
        }
        Command::Servers { action, registry } => {
            refuse_others(&top_typed, &ids_of::<RegistryArgs>(), name, command)?;
            Ok(Invocation::Servers(
                action,
                one_side(registry, matches, sub, name)?,
            ))
        }
        Command::ApiTokens { action, registry } => {
            refuse_others(&top_typed, &ids_of::<RegistryArgs>(), name, command)?;
            Ok(Invocation::ApiTokens(
                action,
                one_side(registry, matches, sub, name)?,
            ))
        }
        Command::AdminKeys { action, registry } => {
            refuse_others(&top_typed, &ids_of::<RegistryArgs>(), name, command)?;
            Ok(Invocation::AdminKeys(
                action,
                one_side(registry, matches, sub, name)?,
            ))
        }
        Command::Probe { url, listen, timeout } => {
            refuse_others(&top_typed, &ids_of::<ListenArg>(), name, command)?;
            let listen = one_side(listen, matches, sub, name)?;
            Ok(Invocation::Probe {
                url,
                listen: listen.listen,
                timeout,
            })
        }
        #[cfg(feature = "demo")]
        Command::Sim(args) => {
            refuse_others(&top_typed, &[], name, command)?;
            Ok(Invocation::Sim(args))
        }
    }
}

/// The settings of `T` from the side of `subcommand` they were typed on: after it (`sub`, as
/// parsed into `after`) unless typed before it (`top`); an error when typed on both sides.
fn one_side<T: Args + FromArgMatches>(
    after: T,
    top: &ArgMatches,
    sub: &ArgMatches,
    subcommand: &str,
) -> Result<T, String> {
    let ids = ids_of::<T>();
    let before_typed = typed(top, &ids);
    let after_typed = typed(sub, &ids);
    // clap copies the values of options global within a subcommand (the registry options) to
    // and from the top level under the same id: the same value on both sides is one option,
    // seen twice.
    let echoed =
        |id: &String| before_typed.contains(id) && after_typed.contains(id) && same_raw(top, sub, id);
    let only_before: Vec<String> = before_typed.iter().filter(|id| !echoed(id)).cloned().collect();
    let only_after: Vec<String> = after_typed.iter().filter(|id| !echoed(id)).cloned().collect();
    match (only_before.is_empty(), only_after.is_empty()) {
        (true, _) => Ok(after),
        (false, true) => T::from_arg_matches(top).map_err(|error| error.to_string()),
        (false, false) => Err(format!(
            "options of `{subcommand}` are given both before it ({}) and after it ({}): write them on one side",
            flags(&only_before),
            flags(&only_after)
        )),
    }
}

fn same_raw(one: &ArgMatches, other: &ArgMatches, id: &str) -> bool {
    let raw = |matches: &ArgMatches| {
        matches
            .get_raw(id)
            .map(|values| values.map(|value| value.to_owned()).collect::<Vec<_>>())
    };
    raw(one) == raw(other)
}

/// Refuses the serving options typed before `subcommand` that it does not read.
fn refuse_others(
    top_typed: &[String],
    reads: &[String],
    subcommand: &str,
    command: &ClapCommand,
) -> Result<(), String> {
    let ignored: Vec<String> = top_typed
        .iter()
        .filter(|id| !reads.contains(id))
        .map(|id| long_of(command, id))
        .collect();
    if ignored.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{} {} not apply to `{subcommand}`: {} serving options (see op-scim-mcp --help); leave {} out, or run `op-scim-mcp config check` to check a serving configuration",
        ignored.join(", "),
        if ignored.len() == 1 { "does" } else { "do" },
        if ignored.len() == 1 {
            "it is one of the"
        } else {
            "they are"
        },
        if ignored.len() == 1 { "it" } else { "them" },
    ))
}

/// The ids among `ids` whose value came from the command line.
fn typed(matches: &ArgMatches, ids: &[String]) -> Vec<String> {
    ids.iter()
        .filter(|id| matches.ids().any(|known| known.as_str() == id.as_str()))
        .filter(|id| matches.value_source(id) == Some(ValueSource::CommandLine))
        .cloned()
        .collect()
}

fn ids_of<T: Args>() -> Vec<String> {
    T::augment_args(ClapCommand::new("ids"))
        .get_arguments()
        .map(|arg| arg.get_id().to_string())
        .collect()
}

fn serve_ids() -> Vec<String> {
    ids_of::<ServeArgs>()
}

fn flags(ids: &[String]) -> String {
    ids.iter()
        .map(|id| format!("--{}", id.replace('_', "-")))
        .collect::<Vec<_>>()
        .join(", ")
}

fn long_of(command: &ClapCommand, id: &str) -> String {
    command
        .get_arguments()
        .find(|arg| arg.get_id() == id)
        .and_then(|arg| arg.get_long())
        .map_or_else(
            || format!("--{}", id.replace('_', "-")),
            |long| format!("--{long}"),
        )
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;

    fn settled(args: &[&str]) -> Result<Invocation, String> {
        let command = Cli::command();
        let matches = command
            .clone()
            .try_get_matches_from(args)
            .map_err(|error| error.to_string())?;
        let cli = Cli::from_arg_matches(&matches).map_err(|error| error.to_string())?;
        settle(cli, &matches, &command)
    }

    #[test]
    fn the_scope_of_tools_may_come_before_or_after_it() {
        for args in [
            &["op-scim-mcp", "--methods", "read", "--tags", "directory", "tools"][..],
            &["op-scim-mcp", "tools", "--methods", "read", "--tags", "directory"],
        ] {
            match settled(args) {
                Ok(Invocation::Tools(tools)) => {
                    assert_eq!(tools.methods, Some(vec!["read".to_owned()]), "{args:?}");
                    assert_eq!(tools.tags, Some(vec!["directory".to_owned()]), "{args:?}");
                }
                _ => panic!("not settled as tools: {args:?}"),
            }
        }
    }

    #[test]
    fn an_option_on_both_sides_or_one_that_does_not_apply_is_refused_by_name() {
        let error = settled(&["op-scim-mcp", "--methods", "read", "tools", "--tags", "admin"])
            .err()
            .expect("both sides");
        assert!(error.contains("--methods") && error.contains("--tags"), "{error}");
        let error = settled(&["op-scim-mcp", "--demo", "tools"])
            .err()
            .expect("ignored");
        assert!(error.starts_with("--demo does not apply to `tools`"), "{error}");
        let error = settled(&[
            "op-scim-mcp",
            "--methods",
            "read",
            "servers",
            "list",
            "--state",
            "x.db",
        ])
        .err()
        .expect("ignored");
        assert!(
            error.starts_with("--methods does not apply to `servers`"),
            "{error}"
        );
        let error = settled(&["op-scim-mcp", "--listen", "127.0.0.1:1", "sim"])
            .err()
            .expect("ignored");
        assert!(error.contains("--listen"), "{error}");
    }

    #[test]
    fn config_check_reads_serving_options_on_either_side() {
        for args in [
            &["op-scim-mcp", "--demo", "--transport", "http", "config", "check"][..],
            &["op-scim-mcp", "config", "check", "--demo", "--transport", "http"],
        ] {
            match settled(args) {
                Ok(Invocation::ConfigCheck { serve, typed, .. }) => {
                    assert!(serve.demo, "{args:?}");
                    assert_eq!(serve.transport, "http", "{args:?}");
                    assert!(typed.contains(&"demo".to_owned()), "{typed:?}");
                }
                _ => panic!("not settled as config check: {args:?}"),
            }
        }
    }

    #[test]
    fn registry_options_may_come_before_the_group_or_after_the_action() {
        // clap echoes a registry option typed before `config check` into it: still one side.
        match settled(&["op-scim-mcp", "--demo", "--state", "r.db", "config", "check"]) {
            Ok(Invocation::ConfigCheck { serve, .. }) => {
                assert!(serve.demo);
                assert_eq!(serve.state.as_deref(), Some(std::path::Path::new("r.db")));
            }
            Err(error) => panic!("{error}"),
            _ => panic!("not settled as config check"),
        }
        for args in [
            &["op-scim-mcp", "--state", "r.db", "servers", "list"][..],
            &["op-scim-mcp", "servers", "--state", "r.db", "list"],
            &["op-scim-mcp", "servers", "list", "--state", "r.db"],
        ] {
            match settled(args) {
                Ok(Invocation::Servers(ServersAction::List, registry)) => {
                    assert_eq!(
                        registry.state.as_deref(),
                        Some(std::path::Path::new("r.db")),
                        "{args:?}"
                    );
                }
                Err(error) => panic!("{args:?}: {error}"),
                _ => panic!("not settled as servers list: {args:?}"),
            }
        }
    }
}
