//! The drain on shutdown: which requests are in flight, and the signal that cuts them off once
//! the grace period is over.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pin_project_lite::pin_project;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tower::Service;

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

/// Tracks every request the inner service serves for the drain, and answers 503 in its place
/// once the grace period is over.
///
/// A tower service rather than an axum `from_fn` middleware: that one clones the service
/// behind it and boxes a future for every request, a few thousand instructions each time.
#[derive(Clone)]
pub(crate) struct TrackInFlight<S> {
    drain: Drain,
    inner: S,
}

impl<S> TrackInFlight<S> {
    pub(crate) fn new(drain: Drain, inner: S) -> Self {
        Self { drain, inner }
    }
}

impl<S> Service<Request> for TrackInFlight<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Tracked<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let in_flight = InFlight::enter(&self.drain.in_flight);
        *self
            .drain
            .last_arrival
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Instant::now();
        Tracked {
            cut_off: self.drain.cut_off.clone().cancelled_owned(),
            response: self.inner.call(request),
            _in_flight: in_flight,
        }
    }
}

pin_project! {
    /// A response on its way, counted in flight until it is ready or dropped.
    pub(crate) struct Tracked<F> {
        #[pin]
        cut_off: WaitForCancellationFutureOwned,
        #[pin]
        response: F,
        _in_flight: InFlight,
    }
}

impl<F: Future<Output = Result<Response, Infallible>>> Future for Tracked<F> {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        // The cut-off first: once it fires it wins, even over a response that became ready at
        // once.
        if this.cut_off.poll(cx).is_ready() {
            return Poll::Ready(Ok((
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(
                    serde_json::json!({ "error": "the server shut down before this request finished" }),
                ),
            )
                .into_response()));
        }
        this.response.poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;

    use axum::body::Body;
    use axum::routing::get;
    use tokio::sync::Notify;

    use super::*;

    /// A router whose one route answers only once `release` is notified.
    fn held_until(release: Arc<Notify>) -> axum::Router {
        axum::Router::new().route(
            "/",
            get(move || {
                let release = release.clone();
                async move {
                    release.notified().await;
                    "done"
                }
            }),
        )
    }

    async fn call<S>(service: &mut TrackInFlight<S>) -> Tracked<S::Future>
    where
        S: Service<Request, Response = Response, Error = Infallible>,
    {
        poll_fn(|cx| service.poll_ready(cx)).await.expect("ready");
        service.call(Request::new(Body::empty()))
    }

    #[tokio::test]
    async fn a_request_is_in_flight_until_it_is_answered_or_dropped() {
        let drain = Drain::new();
        let release = Arc::new(Notify::new());
        let mut service = TrackInFlight::new(drain.clone(), held_until(release.clone()));

        let answered = tokio::spawn(call(&mut service).await);
        assert_eq!(drain.in_flight(), 1);
        release.notify_one();
        let response = answered.await.expect("task").expect("infallible");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(drain.in_flight(), 0);

        // A client that goes away drops the response future: it is no longer in flight.
        let abandoned = call(&mut service).await;
        assert_eq!(drain.in_flight(), 1);
        drop(abandoned);
        assert_eq!(drain.in_flight(), 0);
    }

    #[tokio::test]
    async fn after_the_cut_off_a_request_gets_503_even_when_its_answer_is_ready() {
        let drain = Drain::new();
        let release = Arc::new(Notify::new());
        release.notify_one();
        let mut service = TrackInFlight::new(drain.clone(), held_until(release));
        let pending = call(&mut service).await;
        drain.cut_off.cancel();
        let response = pending.await.expect("infallible");
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(drain.in_flight(), 0);
    }
}
