//! The plain `tools/call` lines of a stdio session that are answered beside rmcp's service.
//!
//! Once the server has sent its `initialize` result for a version before 2026-07-28, rmcp does
//! nothing with a plain call ([`crate::plain`]) but run the handler and shape the result. From
//! then on such a call runs here, on a task of its own as rmcp would run it, and its answer is
//! written as rmcp writes it ([`crate::plain_answer`]), with the typed result written to JSON
//! once: each call is spared rmcp's per-request task, its channel hops and a second
//! serialization. What rmcp does around a call is kept: a `notifications/cancelled` stops the
//! call it names, and calls still running when the session ends may answer for as long as rmcp
//! lets its own ([`DRAIN_AFTER_END_OF_INPUT`]), and are then stopped. Before that, and for
//! 2026-07-28 peers, a plain call is only read here, into the message rmcp would have built.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, ClientJsonRpcMessage, ClientRequest, ErrorData, ProtocolVersion, Request,
    RequestId,
};
use rmcp::service::{RoleServer, RxJsonRpcMessage};
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::plain::PlainCall;
use crate::plain_answer::legacy_lifecycle;
use crate::server::McpServer;

/// How long calls still running when the session ends may take to answer before they are
/// stopped: what rmcp gives its own, counted from the end of stdin, or from a shutdown.
pub(crate) const DRAIN_AFTER_END_OF_INPUT: Duration = Duration::from_secs(5);
const DRAIN_AFTER_SHUTDOWN: Duration = Duration::from_secs(2);

/// The calls of one stdio session that are answered here, and what they need.
pub(crate) struct Answering {
    server: McpServer,
    /// Set once the server has sent an `initialize` result for a version before 2026-07-28.
    ready: AtomicBool,
    /// The calls running here: a sequence number, the request id, and what stops the call.
    in_flight: Mutex<Vec<(u64, RequestId, CancellationToken)>>,
    next_call: AtomicU64,
    tasks: TaskTracker,
    /// When stdin ended, if it has.
    input_ended: OnceLock<Instant>,
    /// Where answers go: the transport's writer.
    lines: mpsc::Sender<Vec<u8>>,
}

/// What became of a line the sieve read.
#[allow(
    clippy::large_enum_variant,
    reason = "returned once per line and matched at once; boxing would add an allocation to every call rmcp reads"
)]
pub(crate) enum Sieved {
    /// A plain call, answered here.
    Answered,
    /// A plain call, read here for rmcp to handle.
    Read(RxJsonRpcMessage<RoleServer>),
    /// Anything else: rmcp reads it.
    Passed,
}

impl Answering {
    /// Answers for `server`, queueing each answer on `lines`.
    pub(crate) fn new(server: McpServer, lines: mpsc::Sender<Vec<u8>>) -> Self {
        Self {
            server,
            ready: AtomicBool::new(false),
            in_flight: Mutex::new(Vec::new()),
            next_call: AtomicU64::new(0),
            tasks: TaskTracker::new(),
            input_ended: OnceLock::new(),
            lines,
        }
    }

    /// Notes the `initialize` result the server sends: from one for a version before
    /// 2026-07-28 on, rmcp would do nothing more on a plain call than this module does.
    pub(crate) fn initialized(&self, version: &ProtocolVersion) {
        if legacy_lifecycle(version) {
            self.ready.store(true, Ordering::Release);
        }
    }

    /// Notes that stdin has ended, which starts the time calls still running have to answer.
    pub(crate) fn input_ended(&self) {
        let _ = self.input_ended.set(Instant::now());
    }

    /// What becomes of a line read from stdin (its newline included).
    pub(crate) fn sieve(self: &Arc<Self>, line: &[u8]) -> Sieved {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        // Most other lines are told apart before any parsing.
        if contains(line, b"tools")
            && let Some(request) = crate::plain::read(line)
            && let PlainCall::Tool(params) = request.call
        {
            if self.ready.load(Ordering::Acquire) && !self.tasks.is_closed() {
                self.answer(request.id, params);
                return Sieved::Answered;
            }
            return Sieved::Read(ClientJsonRpcMessage::request(
                ClientRequest::CallToolRequest(Request::new(params)),
                request.id,
            ));
        }
        if contains(line, b"cancelled") {
            self.cancel(line);
        }
        Sieved::Passed
    }

    /// Runs the call on a task of its own and queues its answer, unless it is cancelled first.
    fn answer(self: &Arc<Self>, id: RequestId, params: CallToolRequestParams) {
        let call = self.next_call.fetch_add(1, Ordering::Relaxed);
        let stop = CancellationToken::new();
        if let Ok(mut in_flight) = self.in_flight.lock() {
            in_flight.push((call, id.clone(), stop.clone()));
        }
        let this = Arc::clone(self);
        self.tasks.spawn(async move {
            let answered = async {
                let answer = tokio::select! {
                    biased;
                    () = stop.cancelled() => return,
                    answer = this.server.answer_for(params, None) => answer,
                };
                let line = crate::plain_answer::tool_call(id.clone(), answer).or_else(|error| {
                    tracing::error!(error = %error, "could not write a tool call's answer");
                    let error =
                        ErrorData::internal_error(format!("the answer could not be written: {error}"), None);
                    crate::plain_answer::tool_call(id, Err(error))
                });
                match line {
                    Ok(mut line) => {
                        line.push(b'\n');
                        // Waits while the queue is full (a client that does not read), but not
                        // past the call being stopped; fails only once stdout is gone, when
                        // there is no one left to answer.
                        tokio::select! {
                            biased;
                            () = stop.cancelled() => {}
                            _ = this.lines.send(line) => {}
                        }
                    }
                    Err(error) => tracing::error!(error = %error, "could not write a tool call's error"),
                }
            };
            answered.await;
            // Only now: until its answer is queued, the call can still be stopped.
            if let Ok(mut in_flight) = this.in_flight.lock() {
                in_flight.retain(|(running, ..)| *running != call);
            }
        });
    }

    /// Stops the call a `notifications/cancelled` line names, if that call runs here.
    fn cancel(&self, line: &[u8]) {
        #[derive(Deserialize)]
        struct Notification {
            method: String,
            params: Option<Cancelled>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Cancelled {
            request_id: RequestId,
        }
        let Ok(Notification {
            method,
            params: Some(Cancelled { request_id }),
        }) = serde_json::from_slice(line)
        else {
            return;
        };
        if method != "notifications/cancelled" {
            return;
        }
        if let Ok(in_flight) = self.in_flight.lock() {
            for (_, id, stop) in in_flight.iter() {
                if *id == request_id {
                    stop.cancel();
                }
            }
        }
    }

    /// Once the session is over: gives the calls still running here as long as rmcp gives its
    /// own to answer, then stops the rest, as rmcp does.
    pub(crate) async fn drain(&self) {
        self.tasks.close();
        let deadline = match self.input_ended.get() {
            Some(ended) => *ended + DRAIN_AFTER_END_OF_INPUT,
            None => Instant::now() + DRAIN_AFTER_SHUTDOWN,
        };
        if tokio::time::timeout_at(deadline, self.tasks.wait())
            .await
            .is_err()
        {
            let stopped = self.in_flight.lock().map_or(0, |in_flight| {
                in_flight.iter().for_each(|(.., stop)| stop.cancel());
                in_flight.len()
            });
            tracing::warn!(stopped, "stopped tool calls still running when the session ended");
            self.tasks.wait().await;
        }
        tracing::debug!(answered = self.taken(), "stdio session over");
    }

    /// How many calls were taken here rather than by rmcp.
    pub(crate) fn taken(&self) -> u64 {
        self.next_call.load(Ordering::Relaxed)
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}
