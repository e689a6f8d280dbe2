//! The drain on shutdown: which requests are in flight, and the signal that cuts them off once
//! the grace period is over.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio_util::sync::CancellationToken;

/// The requests in flight on the guarded application, and the signal that cuts them off.
#[derive(Clone)]
pub(crate) struct Drain {
    in_flight: Arc<tokio::sync::watch::Sender<usize>>,
    /// When the latest request arrived: a load balancer that still sends here has not yet
    /// noticed that `/readyz` turned 503.
    last_arrival: Arc<Mutex<Instant>>,
    pub(crate) cut_off: CancellationToken,
}

impl Drain {
    pub(crate) fn new() -> Self {
        Self {
            in_flight: Arc::default(),
            last_arrival: Arc::new(Mutex::new(Instant::now())),
            cut_off: CancellationToken::new(),
        }
    }

    pub(crate) fn in_flight(&self) -> usize {
        *self.in_flight.borrow()
    }

    /// Resolves once nothing is in flight.
    async fn idle(&self) {
        let mut watching = self.in_flight.subscribe();
        // The sender lives in `self`, so the channel cannot close while this waits.
        let _ = watching.wait_for(|count| *count == 0).await;
    }

    /// Resolves once nothing is in flight and no request has arrived for `quiet`: the load
    /// balancers have moved away, so closing the listener now refuses nobody. Closing at the
    /// first idle instant instead would reset the next call of a client whose balancer has not
    /// yet polled `/readyz`.
    pub(crate) async fn settled(&self, quiet: Duration) {
        loop {
            self.idle().await;
            let since = self
                .last_arrival
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .elapsed();
            if since >= quiet && self.in_flight() == 0 {
                return;
            }
            tokio::time::sleep(quiet.saturating_sub(since)).await;
        }
    }
}

/// Counts one request in flight while it runs.
struct InFlight(Arc<tokio::sync::watch::Sender<usize>>);

impl InFlight {
    fn enter(counter: &Arc<tokio::sync::watch::Sender<usize>>) -> Self {
        counter.send_modify(|count| *count += 1);
        Self(counter.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.send_modify(|count| *count = count.saturating_sub(1));
    }
}

/// Tracks the request for the drain, and answers 503 in its place once the grace period is over.
pub(crate) async fn track_in_flight(State(drain): State<Drain>, request: Request, next: Next) -> Response {
    let _in_flight = InFlight::enter(&drain.in_flight);
    *drain.last_arrival.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
    // Biased: once the cut-off fires it wins, even over a response that became ready at once.
    tokio::select! {
        biased;
        () = drain.cut_off.cancelled() => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({ "error": "the server shut down before this request finished" })),
        )
            .into_response(),
        response = next.run(request) => response,
    }
}
