//! The registry and listing commands: `servers`, `api-tokens`, `admin-keys`, `tools`.
//!
//! They run on the calling thread, outside any async runtime: the stores do blocking I/O.

use std::io::Write as _;
use std::time::SystemTime;

use generated_server::{TOOLS, tool_list_json};
use runtime::Scope;
use runtime::gate::describe;
use runtime::registry::{KeyKind, NewServer, Registry, RegistryLocation, open_store, parse_time};

use crate::ConfigProblem;
use crate::cli::{KeysAction, ServersAction, StateArgs, ToolArgs};

fn problem(error: impl std::fmt::Display) -> ConfigProblem {
    ConfigProblem(error.to_string())
}

pub fn open_registry(state: &StateArgs) -> Result<Registry, ConfigProblem> {
    let (location, flag) = match &state.database_url {
        Some(url) => (
            RegistryLocation::parse(url)
                .map_err(|error| ConfigProblem(format!("--database-url: {error}")))?,
            "--database-url",
        ),
        None => (RegistryLocation::Sqlite(state.state.clone()), "--state"),
    };
    let store = open_store(&location)
        .map_err(|error| ConfigProblem(format!("{flag} {}: {error}", location.redacted())))?;
    Ok(Registry::new(store))
}

fn print_json(value: &serde_json::Value) -> Result<(), ConfigProblem> {
    let text = serde_json::to_string_pretty(value).map_err(problem)?;
    // A closed pipe (`op-scim-mcp tools | head`) is the reader's choice, not an error.
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{text}") {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(ConfigProblem(format!("writing to stdout: {error}")))
        }
        _ => Ok(()),
    }
}

pub fn print_tools(args: &ToolArgs) -> Result<(), ConfigProblem> {
    let scope = Scope::parse(&args.methods, &args.tags)
        .map_err(|error| ConfigProblem(format!("--methods/--tags: {error}")))?;
    print_json(&tool_list_json(args.tool_names.into(), &scope).map_err(problem)?)
}

pub fn servers(action: ServersAction, state: &StateArgs) -> Result<(), ConfigProblem> {
    let registry = open_registry(state)?;
    match action {
        ServersAction::Create {
            name,
            methods,
            tags,
            expires_at,
            require_api_token_auth,
        } => {
            let expires_at = expires_at
                .as_deref()
                .map(parse_time)
                .transpose()
                .map_err(|error| ConfigProblem(format!("--expires-at: {error}")))?;
            let new = NewServer {
                name,
                methods,
                tags,
                expires_at,
                require_api_token_auth,
            };
            let (entry, token) = registry
                .create_server(new, SystemTime::now(), |scope| {
                    TOOLS.iter().any(|tool| scope.allows(&tool.spec))
                })
                .map_err(problem)?;
            let url = format!(
                "{}/mcp/{}",
                state.public_url.trim_end_matches('/'),
                token.reveal()
            );
            eprintln!("The URL holds the server's secret token; it is shown only now.");
            print_json(&describe(&entry, Some(url)))
        }
        ServersAction::List => {
            let entries = registry.list_servers().map_err(problem)?;
            print_json(
                &serde_json::json!({ "servers": entries.iter().map(|e| describe(e, None)).collect::<Vec<_>>() }),
            )
        }
        ServersAction::Revoke { id_or_name } => match registry.revoke_server(&id_or_name) {
            Ok(Some(entry)) => print_json(&serde_json::json!({ "revoked": entry.id, "name": entry.name })),
            Ok(None) => Err(ConfigProblem(format!("no server `{id_or_name}`"))),
            Err(error) => Err(problem(error)),
        },
    }
}

pub fn keys(kind: KeyKind, action: KeysAction, state: &StateArgs) -> Result<(), ConfigProblem> {
    let registry = open_registry(state)?;
    match action {
        KeysAction::Create { name } => {
            let (entry, secret) = registry
                .create_key(kind, &name, SystemTime::now())
                .map_err(problem)?;
            eprintln!("The secret is shown only now.");
            print_json(&serde_json::json!({ "id": entry.id, "name": entry.name, "secret": secret.reveal() }))
        }
        KeysAction::List => {
            let entries = registry.list_keys(kind).map_err(problem)?;
            print_json(&serde_json::to_value(entries).map_err(problem)?)
        }
        KeysAction::Revoke { id_or_name } => match registry.revoke_key(kind, &id_or_name) {
            Ok(Some(entry)) => print_json(&serde_json::json!({ "revoked": entry.id, "name": entry.name })),
            Ok(None) => Err(ConfigProblem(format!("no key `{id_or_name}`"))),
            Err(error) => Err(problem(error)),
        },
    }
}
