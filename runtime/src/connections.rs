//! Accepting and keeping HTTP connections, so that slow or idle clients cannot starve the
//! server.
//!
//! `axum::serve` holds a connection for as long as the client keeps it open: 300 connections
//! that never finish their headers use up the open-file limit, and then nothing is accepted,
//! `/healthz` included. Here every connection is bounded three ways:
//!
//! - **Headers in time.** A client must send a request's headers within
//!   [`ConnectionLimits::header_read_timeout`] of connecting or of its previous response, or the
//!   connection is closed (hyper's timer, which also runs while a keep-alive connection waits
//!   for its next request, so it is the idle timeout too).
//! - **A cap.** At most [`ConnectionLimits::max_connections`] are open. A new connection beyond
//!   it closes the connection that has been idle longest (no request in service); when every
//!   connection is busy, the new one is refused. When the process runs out of file descriptors
//!   first, the cap drops to what the open-file limit allows, less some headroom for the
//!   server's own connections, so a flood of idle connections never locks out the next real
//!   one nor the server's calls to the upstream.
//! - **Bodies in time.** A request body must arrive within
//!   [`ConnectionLimits::body_read_timeout`] of its headers (408 otherwise; see
//!   [`crate::mcp_endpoint`]).
//! - **A request in service is never cut.** Only connections with no request in flight, from
//!   the first header byte read to the last response byte written, are ever closed early.
//!
//! Both conditions are logged (at most every few seconds), naming what to raise.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// How many connections are open at most, and how long a client may take to send headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    /// Also how long a keep-alive connection may wait for its next request.
    pub header_read_timeout: Duration,
    /// How long a request body may take to arrive once its headers have.
    pub body_read_timeout: Duration,
}

/// The default of [`ConnectionLimits::max_connections`]: below the usual open-file limit of
/// 1024, with room for the upstream and registry connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 768;

/// The default of [`ConnectionLimits::header_read_timeout`].
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(15);

/// The default of [`ConnectionLimits::body_read_timeout`].
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
        }
    }
}

/// How often a recurring pressure warning may be logged.
const WARN_EVERY: Duration = Duration::from_secs(5);

/// File descriptors kept free for the server's own needs (connections to the upstream and the
/// registry, files) once the process has run out of them once.
const HEADROOM: usize = 32;

/// Serves `app` on the connections of `listener` until `stop` fires; then stops accepting,
/// asks every connection to finish its request in flight and close, and returns once all have.
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    limits: ConnectionLimits,
    stop: CancellationToken,
) {
    let open = Arc::new(Open::default());
    let closing = CancellationToken::new();
    let mut warnings = Warnings::default();
    // The configured cap, lowered if the process runs out of file descriptors before it.
    let mut cap = limits.max_connections;
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(error) if is_out_of_files(&error) => {
                // The open-file limit is below the cap: from now on keep fewer connections, so
                // that the server's own connections (upstream, registry) still find a
                // descriptor, and make room at once.
                let before = open.len();
                let ceiling = before.saturating_sub(HEADROOM).max(1);
                if ceiling < cap {
                    cap = ceiling;
                }
                let mut evicted = 0;
                while open.len() > cap && open.evict_longest_idle() {
                    evicted += 1;
                }
                warnings.warn(|| {
                    tracing::warn!(
                        open = before,
                        evicted,
                        now_at_most = cap,
                        "accept failed: out of file descriptors; closing the longest-idle connections and keeping at \
                         most {cap} open (raise the open-file limit, or set --max-connections below it)"
                    );
                });
                // Give the evicted connections' tasks a moment to close their sockets.
                let _ = tokio::time::timeout(Duration::from_millis(50), open.closed.notified()).await;
                continue;
            }
            Err(error) => {
                tracing::debug!(error = %error, "accept failed");
                continue;
            }
        };
        if open.len() >= cap {
            let evicted = open.evict_longest_idle();
            warnings.warn(|| {
                tracing::warn!(
                    max_connections = cap,
                    evicted,
                    "connection limit reached: {} (raise --max-connections if clients are legitimate)",
                    if evicted {
                        "closing the longest-idle connection"
                    } else {
                        "every connection is busy, refusing a new one"
                    }
                );
            });
            if !evicted {
                drop(stream);
                continue;
            }
        }
        let _ = stream.set_nodelay(true);
        let (id, state, evict) = open.add();
        let app = app.clone();
        let open = open.clone();
        let closing = closing.clone();
        tokio::spawn(async move {
            serve_one(stream, app, state, limits.header_read_timeout, evict, closing).await;
            open.remove(id);
        });
    }
    closing.cancel();
    while open.len() > 0 {
        let closed = open.closed.notified();
        if open.len() == 0 {
            break;
        }
        closed.await;
    }
}

async fn serve_one(
    stream: TcpStream,
    app: axum::Router,
    state: Arc<ConnState>,
    header_read_timeout: Duration,
    evict: CancellationToken,
    closing: CancellationToken,
) {
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let in_service = InService::enter(state.clone());
        let mut app = app.clone();
        async move {
            let response = tower::Service::call(&mut app, request.map(Body::new)).await?;
            Ok::<_, Infallible>(response.map(|body| {
                Body::new(Tracked {
                    body,
                    _in_service: in_service,
                })
            }))
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        served = connection.as_mut() => {
            if let Err(error) = served {
                tracing::debug!(error = %error, "connection ended with an error");
            }
        }
        // Evicted only while idle: dropping the connection closes the socket.
        () = evict.cancelled() => {}
        () = closing.cancelled() => {
            connection.as_mut().graceful_shutdown();
            tokio::select! {
                _ = connection.as_mut() => {}
                () = evict.cancelled() => {}
            }
        }
    }
}

fn is_out_of_files(error: &std::io::Error) -> bool {
    // EMFILE (the process) and ENFILE (the system); std has no ErrorKind for them.
    matches!(error.raw_os_error(), Some(23 | 24))
}

/// The open connections, by id.
#[derive(Default)]
struct Open {
    next_id: AtomicU64,
    connections: Mutex<BTreeMap<u64, (Arc<ConnState>, CancellationToken)>>,
    /// Notified whenever a connection closes.
    closed: Notify,
}

impl Open {
    fn len(&self) -> usize {
        self.lock().len()
    }

    fn add(&self) -> (u64, Arc<ConnState>, CancellationToken) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(ConnState::new());
        let evict = CancellationToken::new();
        self.lock().insert(id, (state.clone(), evict.clone()));
        (id, state, evict)
    }

    fn remove(&self, id: u64) {
        self.lock().remove(&id);
        self.closed.notify_waiters();
    }

    /// Closes the connection idle longest, if any is idle; whether one was.
    fn evict_longest_idle(&self) -> bool {
        let mut connections = self.lock();
        let longest = connections
            .iter()
            .filter_map(|(id, (state, _))| state.idle_since().map(|since| (since, *id)))
            .min();
        match longest.and_then(|(_, id)| connections.remove(&id)) {
            Some((_, evict)) => {
                evict.cancel();
                true
            }
            None => false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, (Arc<ConnState>, CancellationToken)>> {
        self.connections.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Whether a connection has requests in service, and since when it has had none.
struct ConnState {
    in_service: AtomicUsize,
    idle_since: Mutex<Instant>,
}

impl ConnState {
    fn new() -> Self {
        Self {
            in_service: AtomicUsize::new(0),
            idle_since: Mutex::new(Instant::now()),
        }
    }

    fn idle_since(&self) -> Option<Instant> {
        (self.in_service.load(Ordering::Acquire) == 0)
            .then(|| *self.idle_since.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// One request in service, from its headers until its response body is dropped (written or
/// abandoned).
struct InService(Arc<ConnState>);

impl InService {
    fn enter(state: Arc<ConnState>) -> Self {
        state.in_service.fetch_add(1, Ordering::AcqRel);
        Self(state)
    }
}

impl Drop for InService {
    fn drop(&mut self) {
        *self.0.idle_since.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
        self.0.in_service.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its request counted as in service until it is dropped.
struct Tracked {
    body: Body,
    _in_service: InService,
}

impl HttpBody for Tracked {
    type Data = <Body as HttpBody>::Data;
    type Error = <Body as HttpBody>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Logs a recurring warning at most every [`WARN_EVERY`].
#[derive(Default)]
struct Warnings {
    last: Option<Instant>,
}

impl Warnings {
    fn warn(&mut self, log: impl FnOnce()) {
        if self.last.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
            self.last = Some(Instant::now());
            log();
        }
    }
}
