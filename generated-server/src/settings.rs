//! The serving configuration, resolved and checked once: `serve` runs it and `config check`
//! prints it. Every problem is reported at once, each naming its flag or variable.
//!
//! Besides the values themselves, a few combinations are refused or warned about, because this
//! server can suspend every person in a company: an HTTP server reachable from other machines
//! must authenticate its callers, and secrets should travel neither in clear text nor in flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use generated_server::{CATALOGS, EVENTS, GeneratedIntegration, INTEGRATIONS, SCIM};
use registry::RegistryLocation;
use runtime::connections::ConnectionLimits;
use runtime::cursor::CursorKey;
use runtime::http_guard::HostRules;
use runtime::scope::ScopeError;
use runtime::upstream::{Secret, Upstream};
use runtime::{Catalog, Scope, ToolNaming, ToolSpec, Vocabulary};

use crate::cli::{ServeArgs, ToolArgs};

/// Where the tools' calls go.
pub enum Upstreams {
    /// The built-in simulator, SCIM bridge and Events API, seeded with this many users.
    Demo { users: usize },
    /// Real upstreams: the integrations configured, in [`INTEGRATIONS`] order; at least one.
    Remote(Vec<Remote>),
}

/// One integration configured with a URL and a token.
pub struct Remote {
    pub integration: &'static GeneratedIntegration,
    /// Built (and so checked) once, here; serving uses this very client.
    pub upstream: Upstream,
    /// Where the URL came from when not a flag of its own, e.g. `--events-region eu`.
    pub url_from: Option<String>,
    /// Where the token came from, for `config check` (never the token itself).
    pub token_from: String,
}

/// The Events API's regions (`--events-region`), each the host of one of the spec's servers.
pub const EVENTS_REGIONS: [(&str, &str); 4] = [
    ("us", "events.1password.com"),
    ("ca", "events.1password.ca"),
    ("eu", "events.1password.eu"),
    ("enterprise", "events.ent.1password.com"),
];

/// The key that signs pagination cursors.
pub enum CursorSecret {
    Shared {
        key: CursorKey,
        from: String,
    },
    /// Per process: cursors do not survive a restart or cross to another replica.
    Random,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Stdio,
    Http,
}

/// Who may call the tools over HTTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Callers {
    /// Only processes on this machine (a loopback address), or stdio.
    Local,
    /// Holders of a server token from the registry.
    Tokens,
    /// Bearers of an OAuth access token from a configured issuer (and, with a registry beside,
    /// holders of its server tokens).
    OAuth,
    /// Anyone who can reach the address: asked for with --allow-unauthenticated.
    Anyone,
}

pub struct ServeConfig {
    pub transport: Transport,
    pub listen: SocketAddr,
    pub upstreams: Upstreams,
    pub cursor: CursorSecret,
    pub registry: Option<RegistryLocation>,
    pub public_url: String,
    pub rules: HostRules,
    pub limits: ConnectionLimits,
    pub audit_log: Option<PathBuf>,
    pub scope: Scope,
    pub naming: ToolNaming,
    pub shutdown_grace: Duration,
    pub callers: Callers,
    /// The OAuth resource server, when --oauth-issuer is set.
    pub oauth: Option<oauth::OAuthSettings>,
    /// Legal but probably not what was meant; logged at start and shown by `config check`.
    pub warnings: Vec<String>,
}

impl ServeConfig {
    pub fn cursor_key(&self) -> CursorKey {
        match &self.cursor {
            CursorSecret::Shared { key, .. } => key.clone(),
            CursorSecret::Random => CursorKey::random(),
        }
    }

    /// The integrations that serve tools: every one in the demo, else those configured.
    pub fn active(&self) -> Vec<&'static GeneratedIntegration> {
        self.upstreams.active()
    }

    /// Whether `integration` is configured and so served.
    pub fn is_active(&self, integration: &GeneratedIntegration) -> bool {
        self.upstreams.is_active(integration)
    }

    /// How many tools the scope serves, over the active integrations.
    pub fn tools_in_scope(&self) -> usize {
        self.active()
            .iter()
            .map(|integration| integration.tools_in(&self.scope))
            .sum()
    }

    /// How many tools the active integrations have.
    pub fn tools_active(&self) -> usize {
        self.active()
            .iter()
            .map(|integration| integration.catalog.tools.len())
            .sum()
    }
}

impl Upstreams {
    fn active(&self) -> Vec<&'static GeneratedIntegration> {
        match self {
            Upstreams::Demo { .. } => INTEGRATIONS.to_vec(),
            Upstreams::Remote(remotes) => remotes.iter().map(|remote| remote.integration).collect(),
        }
    }

    fn is_active(&self, integration: &GeneratedIntegration) -> bool {
        self.active().into_iter().any(|on| std::ptr::eq(on, integration))
    }
}

/// Every problem found, one line each, and the warnings found beside them.
#[derive(Debug)]
pub struct Problems {
    pub problems: Vec<String>,
    pub warnings: Vec<String>,
}

/// Resolves `args`; `typed` holds the ids of the options given on the command line (not from
/// the environment or a file), for the warnings about secrets in flags.
pub fn resolve(args: &ServeArgs, typed: &[String]) -> Result<ServeConfig, Problems> {
    let mut problems = Vec::new();
    let mut warnings = Vec::new();

    let transport = noted(&mut problems, parse_transport(&args.transport));
    let listen = noted(
        &mut problems,
        args.listen
            .trim()
            .parse::<SocketAddr>()
            .map_err(|_| format!("--listen `{}` is not an address like 127.0.0.1:8787", args.listen)),
    );
    let shutdown_grace = noted(&mut problems, duration("--shutdown-grace", &args.shutdown_grace));
    let header_timeout = noted(
        &mut problems,
        duration("--header-timeout", &args.header_timeout).and_then(|timeout| {
            if timeout.is_zero() {
                Err("--header-timeout must be more than 0s".into())
            } else {
                Ok(timeout)
            }
        }),
    );
    let max_connections = noted(
        &mut problems,
        count("--max-connections", &args.max_connections, 1),
    );
    let demo_users = noted(&mut problems, count("--demo-users", &args.demo_users, 1));
    let scope = noted(&mut problems, scope(&args.tools));
    let naming = noted(&mut problems, naming(&args.tools.tool_names));
    let upstreams = noted(&mut problems, upstreams(args, demo_users.unwrap_or(1)));
    let cursor = noted(&mut problems, cursor_secret(args));
    let registry = noted(&mut problems, registry(args));
    let mut oauth = oauth_settings(args, transport, registry.as_ref().is_some_and(Option::is_some))
        .map_err(|found| problems.extend(found))
        .ok();
    // Only the scopes that reach a tool this server will serve are advertised and granted.
    if let (Some(Some(settings)), Some(upstreams), Some(scope)) = (&mut oauth, &upstreams, &scope) {
        let served: Vec<&ToolSpec> = upstreams
            .active()
            .iter()
            .flat_map(|integration| integration.catalog.tools)
            .map(|tool| &tool.spec)
            .filter(|spec| scope.allows(spec))
            .collect();
        match settings.scopes.serving(&served) {
            Some(scopes) => settings.scopes = scopes,
            None => problems.push(format!(
                "--oauth-scope: no scope allows any of the tools served ({scope}, integrations {})",
                names(&upstreams.active())
            )),
        }
    }
    let transport_and_listen = transport.zip(listen);
    let callers = transport_and_listen.and_then(|(transport, listen)| {
        noted(
            &mut problems,
            callers(
                transport,
                listen,
                registry.as_ref().and_then(Option::as_ref),
                // Asked for, even if its settings have problems (reported on their own).
                args.oauth.issuers.iter().any(|issuer| !issuer.trim().is_empty()),
                args,
            ),
        )
    });

    if let (Some(Some(_)), Some(Transport::Stdio)) = (&registry, transport) {
        problems
            .push("--state/--database-url serve scoped servers over HTTP only: add --transport http".into());
    }
    let files = [
        match &registry {
            Some(Some(RegistryLocation::Sqlite(path))) => Some(("--state", path)),
            _ => None,
        },
        args.audit_log.as_ref().map(|path| ("--audit-log", path)),
    ];
    for (flag, path) in files.into_iter().flatten() {
        match private_file(flag, path) {
            Ok(warning) => warnings.extend(warning),
            Err(problem) => problems.push(problem),
        }
    }
    if let Some(Some(location)) = &registry
        && let Some((security, false)) = location.transport_security()
    {
        warnings.push(format!(
            "the PostgreSQL connection is {security}: say sslmode=verify-full in --database-url unless the \
             network to the database is trusted"
        ));
    }
    if matches!(registry, Some(Some(RegistryLocation::Postgres(_))))
        && matches!(cursor, Some(CursorSecret::Random))
    {
        warnings.push(
            "no OP_SCIM_CURSOR_KEY: each replica signs cursors with its own random key, so a next_cursor \
             from one replica fails on another"
                .into(),
        );
    }
    if let Some(Upstreams::Remote(remotes)) = &upstreams {
        for remote in remotes {
            warnings.extend(clear_text_upstream(
                remote.integration.options.url_flag,
                remote.upstream.base_url(),
            ));
        }
    }
    if let (Some(upstreams), Some(scope)) = (&upstreams, &scope) {
        let active = upstreams.active();
        let serving: usize = active.iter().map(|integration| integration.tools_in(scope)).sum();
        if serving == 0 {
            let inactive: Vec<&str> = INTEGRATIONS
                .iter()
                .filter(|integration| !upstreams.is_active(integration))
                .map(|integration| integration.name)
                .collect();
            problems.push(format!(
                "--methods/--tags: the scope ({scope}) matches no tool of the integrations configured ({}); \
                 not configured: {}",
                names(&active),
                inactive.join(", ")
            ));
        }
    }
    for (id, flag, variable) in [
        ("database_url", "--database-url", "OP_SCIM_DATABASE_URL"),
        ("bridge_url", "--bridge-url", "OP_SCIM_BRIDGE_URL"),
    ] {
        let value = if id == "database_url" {
            &args.database_url
        } else {
            &args.bridge_url
        };
        if typed.iter().any(|typed| typed == id) && value.as_deref().is_some_and(has_password) {
            warnings.push(format!(
                "{flag} on the command line carries a password, which other users of this machine can read \
                 in the process list: set {variable} or put it in the --config file instead"
            ));
        }
    }
    if let (Some(Transport::Http), Some(listen)) = (transport, listen)
        && !listen.ip().is_loopback()
        && args.allowed_hosts.is_empty()
    {
        warnings.push(format!(
            "listening on {listen} but --allowed-host is not set: /mcp accepts only loopback Host names, so \
             add the name clients use"
        ));
    }
    if let (Some(Callers::Anyone), Some(listen), Some(scope)) = (callers, listen, &scope) {
        warnings.push(format!(
            "--allow-unauthenticated: anyone who can reach {listen} may call {} of {} tools ({scope}) without a token",
            upstreams.as_ref().map_or(0, |upstreams| upstreams
                .active()
                .iter()
                .map(|integration| integration.tools_in(scope))
                .sum::<usize>()),
            upstreams.as_ref().map_or(0, |upstreams| upstreams
                .active()
                .iter()
                .map(|integration| integration.catalog.tools.len())
                .sum::<usize>())
        ));
    }
    if args.allow_unauthenticated && callers == Some(Callers::Tokens) {
        warnings
            .push("--allow-unauthenticated has no effect: the registry asks every caller for a token".into());
    }
    if args.allow_unauthenticated && callers == Some(Callers::OAuth) {
        warnings
            .push("--allow-unauthenticated has no effect: every caller needs an OAuth access token".into());
    }
    if let Some(Some(settings)) = &oauth
        && settings.public_url.starts_with("http://")
        && listen.is_some_and(|listen| !listen.ip().is_loopback())
    {
        warnings.push(format!(
            "--public-url {} is http://: access tokens would cross the network in clear text; serve https:// \
             (a TLS-terminating proxy in front) and say so in --public-url",
            settings.public_url
        ));
    }
    if shutdown_grace.is_some_and(|grace| grace.is_zero()) {
        warnings.push("--shutdown-grace 0s: SIGTERM cuts off calls in flight".into());
    }

    if !problems.is_empty() {
        return Err(Problems { problems, warnings });
    }
    let (
        Some(transport),
        Some(listen),
        Some(upstreams),
        Some(cursor),
        Some(registry),
        Some(scope),
        Some(naming),
        Some(shutdown_grace),
        Some(header_read_timeout),
        Some(max_connections),
        Some(callers),
        Some(oauth),
    ) = (
        transport,
        listen,
        upstreams,
        cursor,
        registry,
        scope,
        naming,
        shutdown_grace,
        header_timeout,
        max_connections,
        callers,
        oauth,
    )
    else {
        return Err(Problems {
            problems: vec!["incomplete configuration".into()],
            warnings,
        });
    };
    Ok(ServeConfig {
        transport,
        listen,
        upstreams,
        cursor,
        registry,
        public_url: args
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{listen}")),
        rules: HostRules::new(&args.allowed_hosts, &args.allowed_origins),
        limits: ConnectionLimits {
            max_connections,
            header_read_timeout,
            ..ConnectionLimits::default()
        },
        audit_log: args.audit_log.clone(),
        scope,
        naming,
        shutdown_grace,
        callers,
        oauth,
        warnings,
    })
}

/// The value, or `None` with the problem noted.
fn noted<T>(problems: &mut Vec<String>, outcome: Result<T, String>) -> Option<T> {
    outcome.map_err(|problem| problems.push(problem)).ok()
}

/// The integrations' names, for messages: `SCIM bridge, Events API`.
fn names(integrations: &[&GeneratedIntegration]) -> String {
    integrations
        .iter()
        .map(|integration| integration.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The scope of `--methods` and `--tags`, checked against the tools this binary has.
pub fn scope(args: &ToolArgs) -> Result<Scope, String> {
    let scope = Scope::parse(
        args.methods.as_deref(),
        args.tags.as_deref(),
        &Vocabulary::of(CATALOGS),
    )
    .map_err(|error| match &error {
        ScopeError::Empty { axis, .. } | ScopeError::Unknown { axis, .. } => format!("--{axis}: {error}"),
    })?;
    if Catalog::all_tools(CATALOGS).any(|tool| scope.allows(&tool.spec)) {
        Ok(scope)
    } else {
        Err(format!("--methods/--tags: the scope ({scope}) matches no tool"))
    }
}

pub fn naming(text: &str) -> Result<ToolNaming, String> {
    match text.trim() {
        "default" => Ok(ToolNaming::Default),
        "portable" => Ok(ToolNaming::Portable),
        other => Err(format!("--tool-names `{other}` is not one of default, portable")),
    }
}

fn parse_transport(text: &str) -> Result<Transport, String> {
    match text.trim() {
        "stdio" => Ok(Transport::Stdio),
        "http" => Ok(Transport::Http),
        other => Err(format!("--transport `{other}` is not one of stdio, http")),
    }
}

fn duration(flag: &str, text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|error| format!("{flag} `{text}` is not a duration like 25s ({error})"))
}

fn count(flag: &str, text: &str, minimum: usize) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(value) if value >= minimum => Ok(value),
        _ => Err(format!(
            "{flag} `{text}` is not a whole number of at least {minimum}"
        )),
    }
}

/// Who may call over HTTP, or why the combination is refused: a non-loopback address without
/// a registry would serve every tool to anyone, unless someone asked for exactly that.
fn callers(
    transport: Transport,
    listen: SocketAddr,
    registry: Option<&RegistryLocation>,
    oauth: bool,
    args: &ServeArgs,
) -> Result<Callers, String> {
    if oauth {
        return Ok(Callers::OAuth);
    }
    if transport == Transport::Stdio || registry.is_none() && listen.ip().is_loopback() {
        return Ok(Callers::Local);
    }
    if registry.is_some() {
        return Ok(Callers::Tokens);
    }
    if args.allow_unauthenticated {
        return Ok(Callers::Anyone);
    }
    Err(format!(
        "--listen {listen} is reachable from other machines, and nothing would authenticate callers: anyone \
         who can reach it could call every tool in scope, suspend and delete included. Do one of: accept \
         OAuth access tokens from your IdP (--oauth-issuer URL --public-url URL); serve scoped servers with tokens (--state FILE or --database-url postgres://..., then op-scim-mcp servers \
         create); listen on loopback only (--listen 127.0.0.1:{port}) behind a proxy that authenticates; or, \
         if something in front already authenticates every caller, say --allow-unauthenticated",
        port = listen.port()
    ))
}

/// The OAuth resource server of `--oauth-issuer` and its companions; `None` without it. Every
/// problem is reported, each naming its flag.
fn oauth_settings(
    args: &ServeArgs,
    transport: Option<Transport>,
    registry: bool,
) -> Result<Option<oauth::OAuthSettings>, Vec<String>> {
    let given = &args.oauth;
    let issuers: Vec<&str> = given
        .issuers
        .iter()
        .map(|issuer| issuer.trim())
        .filter(|issuer| !issuer.is_empty())
        .collect();
    if issuers.is_empty() {
        let companions = [
            (!given.audiences.is_empty(), "--oauth-audience"),
            (given.algorithms.is_some(), "--oauth-algorithms"),
            (!given.scopes.is_empty(), "--oauth-scope"),
            (given.require_at_jwt, "--oauth-require-at-jwt"),
            (given.insecure_loopback_issuer, "--oauth-insecure-loopback-issuer"),
        ];
        return match companions.iter().find(|(set, _)| *set) {
            Some((_, flag)) => Err(vec![format!(
                "{flag} is set but --oauth-issuer is not: name the authorization server whose tokens to accept"
            )]),
            None => Ok(None),
        };
    }
    let mut problems = Vec::new();
    if transport == Some(Transport::Stdio) {
        problems.push(
            "--oauth-issuer: OAuth authenticates HTTP callers; add --transport http (stdio serves the one local \
             client that started it)"
                .to_owned(),
        );
    }
    let transport_rule = if given.insecure_loopback_issuer {
        oauth::Transport::HttpsOrLoopback
    } else {
        oauth::Transport::Https
    };
    let public_url = match &args.public_url {
        None => {
            problems.push(
                "--oauth-issuer needs --public-url, the origin clients reach this server at \
                 (https://mcp.example.com): tokens must name its /mcp as their audience"
                    .to_owned(),
            );
            None
        }
        Some(url) => noted(
            &mut problems,
            oauth::canonical_origin(url).map_err(|error| error.to_string()),
        ),
    };
    let mut checked = Vec::new();
    for issuer in &issuers {
        if let Some(issuer) = noted(
            &mut problems,
            oauth::check_issuer(issuer, transport_rule).map_err(|error| error.to_string()),
        ) && !checked.contains(&issuer)
        {
            checked.push(issuer);
        }
    }
    let algorithms = match &given.algorithms {
        None => Some(oauth::ASYMMETRIC.to_vec()),
        Some(names) => noted(
            &mut problems,
            oauth::parse_algorithms(names).map_err(|error| error.to_string()),
        ),
    };
    let scopes = if given.scopes.is_empty() {
        oauth::ScopeMap::parse(&generated_server::OAUTH_SCOPES, CATALOGS)
    } else {
        oauth::ScopeMap::parse(&given.scopes, CATALOGS)
    };
    let scopes = noted(
        &mut problems,
        scopes.map_err(|error| format!("--oauth-scope: {error}")),
    );
    let leeway = noted(&mut problems, duration("--oauth-leeway", &given.leeway));
    if leeway.is_some_and(|leeway| leeway > Duration::from_secs(300)) {
        problems.push("--oauth-leeway: at most 5m; clocks further apart than that need fixing".to_owned());
    }
    let cooldown = noted(
        &mut problems,
        duration("--oauth-jwks-cooldown", &given.jwks_cooldown),
    );
    if cooldown.is_some_and(|cooldown| cooldown < Duration::from_secs(1)) {
        problems.push(
            "--oauth-jwks-cooldown: at least 1s, or every made-up key id would be a fetch from the issuer"
                .to_owned(),
        );
    }
    let max_age = noted(
        &mut problems,
        duration("--oauth-jwks-max-age", &given.jwks_max_age),
    );
    if max_age.is_some_and(|max_age| max_age < Duration::from_secs(60)) {
        problems.push("--oauth-jwks-max-age: at least 1m".to_owned());
    }
    let audiences = given
        .audiences
        .iter()
        .map(|audience| audience.trim().to_owned())
        .filter(|audience| !audience.is_empty())
        .collect();
    match (public_url, algorithms, scopes, leeway, cooldown, max_age) {
        (Some(public_url), Some(algorithms), Some(scopes), Some(leeway), Some(cooldown), Some(max_age))
            if problems.is_empty() =>
        {
            Ok(Some(oauth::OAuthSettings {
                public_url,
                issuers: checked,
                transport: transport_rule,
                extra_audiences: audiences,
                algorithms,
                require_access_token_type: given.require_at_jwt,
                leeway,
                key_set_cooldown: cooldown,
                key_set_max_age: max_age,
                scopes,
                resource_name: "op-scim-mcp".to_owned(),
                body_read_timeout: ConnectionLimits::default().body_read_timeout,
                tokens_beside: registry,
            }))
        }
        _ => Err(problems),
    }
}

/// The upstreams: the simulator, or each integration given a URL and a token. An integration
/// given one without the other is refused rather than silently left out.
fn upstreams(args: &ServeArgs, demo_users: usize) -> Result<Upstreams, String> {
    if args.demo {
        let real = [
            args.bridge_url.as_ref().map(|_| "--bridge-url"),
            args.events_url.as_ref().map(|_| "--events-url"),
            args.events_region.as_ref().map(|_| "--events-region"),
        ];
        if let Some(flag) = real.into_iter().flatten().next() {
            return Err(format!(
                "--demo and {flag} exclude each other: pick the simulated upstreams or real ones"
            ));
        }
        return Ok(Upstreams::Demo { users: demo_users });
    }
    let scim = scim_bridge(args);
    let events = events_api(args);
    let (scim, events) = match (scim, events) {
        (Ok(scim), Ok(events)) => (scim, events),
        (Err(one), Ok(_)) | (Ok(_), Err(one)) => return Err(one),
        (Err(one), Err(other)) => return Err(format!("{one}\n       {other}")),
    };
    let remotes: Vec<Remote> = [scim, events].into_iter().flatten().collect();
    if remotes.is_empty() {
        return Err(
            "--bridge-url (or OP_SCIM_BRIDGE_URL) is required, with OP_SCIM_BEARER_TOKEN; or the Events API: \
             --events-region (or --events-url) with OP_EVENTS_BEARER_TOKEN; or both. Use --demo to try the \
             built-in simulated ones"
                .into(),
        );
    }
    Ok(Upstreams::Remote(remotes))
}

fn scim_bridge(args: &ServeArgs) -> Result<Option<Remote>, String> {
    let token = read_optional_secret(
        args.bearer_token_file.as_deref(),
        "--bearer-token-file",
        "OP_SCIM_BEARER_TOKEN",
    )?;
    match (&args.bridge_url, token) {
        (None, None) => Ok(None),
        (None, Some((_, from))) => Err(format!(
            "{from} is set but --bridge-url (or OP_SCIM_BRIDGE_URL) is not: say where the SCIM bridge is"
        )),
        (Some(_), None) => Err("OP_SCIM_BEARER_TOKEN (or --bearer-token-file) is required".into()),
        (Some(url), Some((token, token_from))) => {
            let upstream = SCIM
                .upstream(url.clone(), token)
                .map_err(|error| format!("--bridge-url: {error}"))?;
            Ok(Some(Remote {
                integration: &SCIM,
                upstream,
                url_from: None,
                token_from,
            }))
        }
    }
}

fn events_api(args: &ServeArgs) -> Result<Option<Remote>, String> {
    let (url, url_from) = match (&args.events_url, &args.events_region) {
        (Some(_), Some(_)) => {
            return Err("--events-url and --events-region exclude each other: give one".into());
        }
        (Some(url), None) => (Some(url.clone()), None),
        (None, Some(region)) => (
            Some(events_region_url(region)?),
            Some(format!("--events-region {}", region.trim())),
        ),
        (None, None) => (None, None),
    };
    let token = read_optional_secret(
        args.events_token_file.as_deref(),
        "--events-token-file",
        "OP_EVENTS_BEARER_TOKEN",
    )?;
    match (url, token) {
        (None, None) => Ok(None),
        (None, Some((_, from))) => Err(format!(
            "{from} is set but neither --events-region nor --events-url: say where the account's Events API \
             is (--events-region us, ca, eu or enterprise)"
        )),
        (Some(_), None) => Err(
            "the Events API needs its own bearer token, from an Events Reporting integration: set \
             OP_EVENTS_BEARER_TOKEN (or --events-token-file)"
                .into(),
        ),
        (Some(url), Some((token, token_from))) => {
            let upstream = EVENTS
                .upstream(url, token)
                .map_err(|error| format!("--events-url: {error}"))?;
            Ok(Some(Remote {
                integration: &EVENTS,
                upstream,
                url_from,
                token_from,
            }))
        }
    }
}

/// The Events API URL of a region: the spec's server on that region's host.
fn events_region_url(region: &str) -> Result<String, String> {
    let choices = || {
        EVENTS_REGIONS
            .iter()
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let host = EVENTS_REGIONS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(region.trim()))
        .map(|(_, host)| *host)
        .ok_or_else(|| format!("--events-region `{region}` is not one of {}", choices()))?;
    EVENTS
        .servers
        .iter()
        .map(|(url, _)| *url)
        .find(|url| reqwest::Url::parse(url).is_ok_and(|parsed| parsed.host_str() == Some(host)))
        .map(str::to_owned)
        .ok_or_else(|| format!("--events-region `{region}`: the Events API spec lists no server on {host}"))
}

fn cursor_secret(args: &ServeArgs) -> Result<CursorSecret, String> {
    match read_optional_secret(
        args.cursor_key_file.as_deref(),
        "--cursor-key-file",
        "OP_SCIM_CURSOR_KEY",
    )? {
        Some((secret, from)) => CursorKey::from_secret(secret.expose().as_bytes())
            .map(|key| CursorSecret::Shared {
                key,
                from: from.clone(),
            })
            .map_err(|error| format!("{from}: {error}")),
        None => Ok(CursorSecret::Random),
    }
}

fn registry(args: &ServeArgs) -> Result<Option<RegistryLocation>, String> {
    match (&args.state, &args.database_url) {
        (Some(_), Some(_)) => {
            Err("--state (SQLite) and --database-url (PostgreSQL) exclude each other".into())
        }
        (Some(path), None) => Ok(Some(RegistryLocation::Sqlite(path.clone()))),
        (None, Some(url)) => match RegistryLocation::parse(url) {
            Ok(location @ RegistryLocation::Postgres(_)) => Ok(Some(location)),
            Ok(RegistryLocation::Sqlite(_)) => {
                Err("--database-url must be a postgres:// URL (use --state for SQLite)".into())
            }
            Err(error) => Err(format!("--database-url: {error}")),
        },
        (None, None) => Ok(None),
    }
}

/// A file the server creates (0600) or appends to: its directory must exist, and an existing
/// file others may read is worth a warning.
fn private_file(flag: &str, path: &Path) -> Result<Option<String>, String> {
    match path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
        Some(parent) if !parent.is_dir() => Err(format!(
            "{flag} {}: the directory {} does not exist",
            path.display(),
            parent.display()
        )),
        _ => Ok(runtime::files::readable_by_others(path)),
    }
}

/// A warning when an upstream is reached over plain HTTP on another machine: its bearer token
/// would cross the network in clear text.
fn clear_text_upstream(flag: &str, url: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(url).ok()?;
    let host = parsed.host_str()?.trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    (parsed.scheme() == "http" && !loopback).then(|| {
        format!(
            "{flag} {} is plain http: its bearer token crosses the network in clear text; use https://",
            runtime::redact::redact_url(url)
        )
    })
}

/// Whether a URL carries a password (`user:password@` or `password=`).
fn has_password(url: &str) -> bool {
    runtime::redact::redact_url(url) != url
}

/// A secret from `--x-file` (first) or the environment; `None` when neither is set.
pub fn read_optional_secret(
    file: Option<&Path>,
    flag: &str,
    variable: &str,
) -> Result<Option<(Secret, String)>, String> {
    if let Some(path) = file {
        let text =
            std::fs::read_to_string(path).map_err(|error| format!("{flag} {}: {error}", path.display()))?;
        let value = text.trim();
        if value.is_empty() {
            return Err(format!("{flag} {} is empty", path.display()));
        }
        return Ok(Some((Secret::new(value), format!("{flag} {}", path.display()))));
    }
    match std::env::var(variable) {
        Ok(value) if !value.trim().is_empty() => Ok(Some((Secret::new(value.trim()), variable.to_owned()))),
        Ok(_) => Err(format!("{variable} is set but empty")),
        Err(_) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clear_text_is_named_for_remote_bridges_only() {
        assert!(clear_text_upstream("--bridge-url", "http://scim.example.com").is_some());
        assert!(
            clear_text_upstream("--bridge-url", "http://user:pw@10.0.0.5:8080/scim")
                .is_some_and(|w| !w.contains("pw@"))
        );
        for fine in [
            "https://scim.example.com",
            "http://127.0.0.1:9000",
            "http://localhost:9000",
            "http://[::1]:1",
        ] {
            assert_eq!(clear_text_upstream("--bridge-url", fine), None, "{fine}");
        }
    }

    #[test]
    fn every_events_region_is_a_server_of_the_spec() {
        for (region, host) in EVENTS_REGIONS {
            let url = events_region_url(region).expect("a region the spec serves");
            assert_eq!(url, format!("https://{host}"), "{region}");
        }
        assert_eq!(
            events_region_url(" EU ").as_deref(),
            Ok("https://events.1password.eu")
        );
        let refused = events_region_url("mars").expect_err("not a region");
        assert!(refused.contains("us, ca, eu, enterprise"), "{refused}");
    }

    #[test]
    fn passwords_in_urls_are_recognised() {
        assert!(has_password("postgres://op:secret@db/op"));
        assert!(has_password("postgres://db/op?password=secret"));
        assert!(!has_password("postgres://op@db/op"));
        assert!(!has_password("https://scim.example.com"));
    }
}
