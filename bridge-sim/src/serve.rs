//! Running the simulator on a socket, in-process ([`spawn`]) or standalone ([`run_standalone`]).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::{SimArgs, SimConfig};

/// A simulator serving in a background task. [`RunningSim::shutdown`] stops it and waits;
/// dropping the handle also starts a graceful shutdown (the stop signal fires when its sender
/// goes away) but does not wait for it.
#[derive(Debug)]
pub struct RunningSim {
    addr: SocketAddr,
    token: String,
    events_token: String,
    events: std::sync::Arc<crate::events::EventsState>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl RunningSim {
    /// `http://HOST:PORT`, no trailing slash; an unspecified bind address is reported as
    /// loopback, which is where a local client can reach it.
    pub fn base_url(&self) -> String {
        let ip = match self.addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        format!("http://{}", SocketAddr::new(ip, self.addr.port()))
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    /// The Events API's (first) token; the Events API is served at [`RunningSim::base_url`].
    pub fn events_token(&self) -> &str {
        &self.events_token
    }

    /// Every event of a kind, as the Events API's v2 answers it: the ground truth for tests.
    pub fn events(&self, kind: crate::events::log::Kind) -> Vec<serde_json::Value> {
        self.events.all(kind)
    }

    /// Stops accepting, lets in-flight requests finish, and waits for the server task.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        if let Ok(Err(error)) = self.task.await {
            tracing::warn!(%error, "bridge-sim server ended with an error");
        }
    }
}

/// Binds `addr` (port 0 picks a free port) and serves the simulator in a tokio task.
pub async fn spawn(config: SimConfig, addr: SocketAddr) -> std::io::Result<RunningSim> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let token = config.token.clone();
    let events_token = config
        .events
        .tokens
        .first()
        .map(|token| token.token.clone())
        .unwrap_or_default();
    let state = crate::http::AppState::new(config);
    let events = state.events.clone();
    let app = crate::http::build_with(state);
    let (stop, stopped) = oneshot::channel::<()>();
    let listener = listener.tap_io(|tcp| {
        // Small request/response pairs: Nagle's algorithm would only add latency.
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
    });
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    Ok(RunningSim {
        addr,
        token,
        events_token,
        events,
        stop,
        task,
    })
}

/// Serves until Ctrl-C or SIGTERM, announcing the base URL and token on stderr.
pub async fn run_standalone(args: SimArgs) -> anyhow::Result<()> {
    let (config, addr) = args.into_config()?;
    let (users, groups) = (config.users, config.groups);
    let sim = spawn(config, addr).await?;
    eprintln!("bridge-sim: serving a simulated 1Password SCIM bridge ({users} users, {groups} groups)");
    eprintln!("bridge-sim: base URL  {}", sim.base_url());
    eprintln!("bridge-sim: token     {}", sim.token());
    eprintln!(
        "bridge-sim: events API at the same base URL, token {}",
        sim.events_token()
    );
    shutdown_signal().await;
    eprintln!("bridge-sim: shutting down");
    sim.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
