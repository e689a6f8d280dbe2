//! The registry and listing commands: `servers`, `api-tokens`, `admin-keys`, `tools`.
//!
//! They run on the calling thread, each store call driven to completion by a current-thread
//! runtime of the command's own ([`OpenedRegistry::run`]): commands are short and sequential.
//! Each change is audited like the same change through the admin API, with the operating
//! system user as the actor.

use std::io::Write as _;
use std::path::Path;
use std::time::SystemTime;

use generated_server::{CATALOGS, tool_list_json};
use registry::view::{change_record, describe};
use registry::{
    KeyEntry, KeyKind, NewServer, Registry, RegistryError, RegistryLocation, ServerEntry, open_store,
    parse_time,
};
use runtime::Vocabulary;
use runtime::audit::AuditLog;
use runtime::scope::ScopeError;

use crate::Failure;
use crate::cli::{KeysAction, RegistryArgs, ServersAction, ToolArgs};

/// Whether a command may create the registry it names.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Opening {
    /// `create`: a new SQLite file is made (mode 0600), and said so.
    MayCreate,
    /// `list`, `revoke`: a missing file is an error, not an empty registry.
    Existing,
}

/// A registry opened for a command, with the runtime its async store runs on.
struct OpenedRegistry {
    registry: Registry,
    runtime: tokio::runtime::Runtime,
}

impl OpenedRegistry {
    /// Drives `work` (a call to [`OpenedRegistry::registry`]) to completion.
    fn run<T>(&self, work: impl std::future::Future<Output = T>) -> T {
        self.runtime.block_on(work)
    }
}

fn open_registry(args: &RegistryArgs, opening: Opening) -> Result<OpenedRegistry, Failure> {
    let (location, flag) = match (&args.state, &args.database_url) {
        (Some(_), Some(_)) => {
            return Err(Failure::config(
                "--state (SQLite) and --database-url (PostgreSQL) exclude each other",
            ));
        }
        (None, Some(url)) => (
            RegistryLocation::parse(url)
                .map_err(|error| Failure::config(format!("--database-url: {error}")))?,
            "--database-url",
        ),
        (Some(path), None) => {
            prepare_sqlite(path, opening)?;
            (RegistryLocation::Sqlite(path.clone()), "--state")
        }
        (None, None) => {
            return Err(Failure::config(
                "which registry? Name the one the server uses: --state FILE (SQLite) or --database-url \
                 postgres://... (or OP_SCIM_STATE / OP_SCIM_DATABASE_URL)",
            ));
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| Failure::runtime(format!("cannot start the async runtime: {error}")))?;
    let store = runtime
        .block_on(open_store(&location))
        .map_err(|error| Failure::runtime(format!("{flag} {}: {error}", location.redacted())))?;
    Ok(OpenedRegistry {
        registry: Registry::new(store),
        runtime,
    })
}

fn prepare_sqlite(path: &Path, opening: Opening) -> Result<(), Failure> {
    if path.exists() {
        if let Some(warning) = runtime::files::readable_by_others(path) {
            eprintln!("warning: {warning}");
        }
        return Ok(());
    }
    match opening {
        Opening::Existing => Err(Failure::config(format!(
            "--state {}: no registry there. Is it the file the server uses? (`servers create` makes a new one)",
            path.display()
        ))),
        Opening::MayCreate => {
            eprintln!(
                "creating the registry {} (readable by its owner only)",
                path.display()
            );
            Ok(())
        }
    }
}

fn open_audit(args: &RegistryArgs) -> Result<AuditLog, Failure> {
    match &args.audit_log {
        Some(path) => {
            if let Some(warning) = runtime::files::readable_by_others(path) {
                eprintln!("warning: {warning}");
            }
            AuditLog::file(path)
                .map_err(|error| Failure::config(format!("--audit-log {}: {error}", path.display())))
        }
        None => Ok(AuditLog::stderr()),
    }
}

/// A refusal in the words of the command line: flags, not the admin API's JSON fields.
fn flagged(error: &RegistryError) -> String {
    match error {
        RegistryError::Scope(scope @ (ScopeError::Empty { axis, .. } | ScopeError::Unknown { axis, .. })) => {
            format!("--{axis}: {scope}")
        }
        RegistryError::EmptyScope(scope) => format!("--methods/--tags: the scope ({scope}) matches no tool"),
        other => other
            .to_string()
            .replace("`name`", "--name")
            .replace("`expires_at`", "--expires-at"),
    }
}

/// Who made a change on the command line: the operating system user, by name when the
/// environment says it, else by uid.
fn actor() -> String {
    if let Ok(user) = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")) {
        return format!("cli:{user}");
    }
    #[cfg(unix)]
    if let Ok(metadata) = std::fs::metadata("/proc/self") {
        return format!("cli:uid {}", std::os::unix::fs::MetadataExt::uid(&metadata));
    }
    "cli".to_owned()
}

fn print_json(value: &serde_json::Value) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value).map_err(Failure::runtime)?;
    // A closed pipe (`op-scim-mcp tools | head`) is the reader's choice, not an error.
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{text}") {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Failure::runtime(format!("writing to stdout: {error}")))
        }
        _ => Ok(()),
    }
}

pub fn print_tools(args: &ToolArgs) -> Result<(), Failure> {
    let scope = crate::settings::scope(args).map_err(Failure::Config)?;
    let naming = crate::settings::naming(&args.tool_names).map_err(Failure::Config)?;
    print_json(&tool_list_json(naming, &scope).map_err(Failure::config)?)
}

pub fn servers(action: ServersAction, args: &RegistryArgs) -> Result<(), Failure> {
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
                .map_err(|error| Failure::config(format!("--expires-at: {error}")))?;
            let new = NewServer {
                name,
                methods,
                tags,
                expires_at,
                require_api_token_auth,
            };
            let audit = open_audit(args)?;
            let registry = open_registry(args, Opening::MayCreate)?;
            let vocabulary = Vocabulary::of(CATALOGS);
            let (entry, token) = registry
                .run(
                    registry
                        .registry
                        .create_server(new, SystemTime::now(), &vocabulary, |scope| {
                            runtime::Catalog::all_tools(CATALOGS).any(|tool| scope.allows(&tool.spec))
                        }),
                )
                .map_err(|error| Failure::config(flagged(&error)))?;
            if let Err(error) = audit.record_blocking("server.create", change_record(&entry, &actor())) {
                // Fail closed, as the admin API does: the token was never shown.
                let _ = registry.run(registry.registry.revoke_server(&entry.id));
                return Err(Failure::runtime(format!("{error}; the server was not created")));
            }
            let path = format!("/mcp/{}", token.reveal());
            let mut shown = describe(&entry, None);
            shown["path"] = serde_json::json!(path);
            match &args.public_url {
                Some(public) => {
                    shown["url"] = serde_json::json!(format!("{}{path}", public.trim_end_matches('/')))
                }
                None => eprintln!(
                    "No --public-url (OP_SCIM_PUBLIC_URL): prefix the path with the address clients reach the \
                     server at, e.g. https://mcp.example.com/mcp/<token>."
                ),
            }
            eprintln!("The path holds the server's secret token; it is shown only now.");
            print_json(&shown)
        }
        ServersAction::List => {
            let registry = open_registry(args, Opening::Existing)?;
            let entries = registry
                .run(registry.registry.list_servers())
                .map_err(Failure::runtime)?;
            print_json(
                &serde_json::json!({ "servers": entries.iter().map(|e| describe(e, None)).collect::<Vec<_>>() }),
            )
        }
        ServersAction::Revoke { id_or_name } => {
            let audit = open_audit(args)?;
            let registry = open_registry(args, Opening::Existing)?;
            match registry.run(registry.registry.revoke_server(&id_or_name)) {
                Ok(Some(entry)) => {
                    audit_revocation(&audit, "server.revoke", change_record(&entry, &actor()));
                    print_json(&revoked_server(&entry))
                }
                Ok(None) => Err(Failure::config(format!(
                    "no server `{id_or_name}` in this registry (`servers list` shows them)"
                ))),
                Err(error) => Err(Failure::runtime(error)),
            }
        }
    }
}

fn revoked_server(entry: &ServerEntry) -> serde_json::Value {
    serde_json::json!({ "revoked": entry.id, "name": entry.name })
}

pub fn keys(kind: KeyKind, action: KeysAction, args: &RegistryArgs) -> Result<(), Failure> {
    let noun = match kind {
        KeyKind::ApiToken => "api_token",
        KeyKind::AdminKey => "admin_key",
    };
    match action {
        KeysAction::Create { name } => {
            let audit = open_audit(args)?;
            let registry = open_registry(args, Opening::MayCreate)?;
            let (entry, secret) = registry
                .run(registry.registry.create_key(kind, &name, SystemTime::now()))
                .map_err(|error| Failure::config(flagged(&error)))?;
            if let Err(error) = audit.record_blocking(&format!("{noun}.create"), key_record(&entry)) {
                let _ = registry.run(registry.registry.revoke_key(kind, &entry.id));
                return Err(Failure::runtime(format!("{error}; nothing was created")));
            }
            eprintln!("The secret is shown only now.");
            print_json(&serde_json::json!({ "id": entry.id, "name": entry.name, "secret": secret.reveal() }))
        }
        KeysAction::List => {
            let registry = open_registry(args, Opening::Existing)?;
            let entries = registry
                .run(registry.registry.list_keys(kind))
                .map_err(Failure::runtime)?;
            print_json(&serde_json::to_value(entries).map_err(Failure::runtime)?)
        }
        KeysAction::Revoke { id_or_name } => {
            let audit = open_audit(args)?;
            let registry = open_registry(args, Opening::Existing)?;
            match registry.run(registry.registry.revoke_key(kind, &id_or_name)) {
                Ok(Some(entry)) => {
                    audit_revocation(&audit, &format!("{noun}.revoke"), key_record(&entry));
                    print_json(&serde_json::json!({ "revoked": entry.id, "name": entry.name }))
                }
                Ok(None) => Err(Failure::config(format!("no key `{id_or_name}` in this registry"))),
                Err(error) => Err(Failure::runtime(error)),
            }
        }
    }
}

fn key_record(entry: &KeyEntry) -> serde_json::Value {
    serde_json::json!({ "key_id": entry.id, "key_name": entry.name, "actor": actor() })
}

/// A revocation is made whatever the log says (taking access away comes first); a line that
/// cannot be written is reported.
fn audit_revocation(audit: &AuditLog, event: &str, record: serde_json::Value) {
    if let Err(error) = audit.record_blocking(event, record) {
        eprintln!("warning: the revocation was made, but {error}");
    }
}
