//! The stdio transport: rmcp's own, except that plain `tools/call` lines are read, and once the
//! session is set up answered, beside it ([`crate::stdio_calls`]).
//!
//! A `tools/call` line in its plain form ([`crate::plain`]) never goes through rmcp's untagged
//! reading: it is either answered beside rmcp or read into the message rmcp would have built. A
//! `notifications/cancelled` line is looked at for the calls answered here, and then reaches
//! rmcp too. Every other line (other methods, `_meta`, anything malformed, a line longer than
//! [`MAX_SIEVED_LINE`]) reaches rmcp byte for byte, so what happens to it is what rmcp does.
//!
//! Order is kept. rmcp's transport reads through a [`Sieve`], which takes a line from stdin only
//! when rmcp has taken every byte before it; after a `tools/call` line that rmcp is to handle it
//! hands the message over and reports nothing read yet, so the message reaches the service
//! before any later line is read. Every line written, rmcp's and ours, goes through one writer
//! task, one whole line at a time.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use rmcp::model::{JsonRpcResponse, ServerJsonRpcMessage, ServerResult};
use rmcp::service::{RoleServer, RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use rmcp::transport::async_rw::AsyncRwTransport;
use tokio::io::{AsyncBufRead, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, ReadBuf, Sink};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::server::McpServer;
use crate::stdio_calls::{Answering, Sieved};

/// Lines longer than this are not read here, only passed on: rmcp applies its own limit.
const MAX_SIEVED_LINE: usize = 64 * 1024;

/// Lines waiting for stdout; beyond this, whoever writes waits (rmcp's service, answered calls).
const QUEUED_LINES: usize = 64;

/// rmcp's stdio transport over `read`, with plain `tools/call` lines read (and, once the session
/// is set up, answered) here, and every line written through one writer task.
pub struct StdioTransport<R: AsyncRead + Unpin> {
    /// rmcp's transport, for reading only: it writes into a sink, since its `send` is ours.
    inner: AsyncRwTransport<RoleServer, Sieve<R>, Sink>,
    /// Messages the sieve read itself for rmcp; at most one is ever waiting.
    sieved: mpsc::UnboundedReceiver<RxJsonRpcMessage<RoleServer>>,
    answering: Arc<Answering>,
    /// A clone of the writer's queue, for rmcp's lines.
    lines: mpsc::Sender<Vec<u8>>,
    /// Tells the writer to write what is queued and stop.
    closing: CancellationToken,
    writer: Option<JoinHandle<std::io::Result<()>>>,
}

impl<R> StdioTransport<R>
where
    R: AsyncRead + Unpin + Send,
{
    /// Starts the writer task on the current tokio runtime.
    pub fn new<W>(read: R, write: W, server: McpServer) -> Self
    where
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let (sender, sieved) = mpsc::unbounded_channel();
        let (lines, queued) = mpsc::channel(QUEUED_LINES);
        let answering = Arc::new(Answering::new(server, lines.clone()));
        let closing = CancellationToken::new();
        let writer = tokio::spawn(write_lines(write, queued, closing.clone()));
        let sieve = Sieve {
            source: BufReader::new(read),
            line: Vec::new(),
            passing: None,
            passing_through: false,
            sieved: sender,
            answering: answering.clone(),
        };
        Self {
            inner: AsyncRwTransport::new_server(sieve, tokio::io::sink()),
            sieved,
            answering,
            lines,
            closing,
            writer: Some(writer),
        }
    }

    #[cfg(test)]
    fn answering(&self) -> Arc<Answering> {
        self.answering.clone()
    }
}

impl<R> Transport<RoleServer> for StdioTransport<R>
where
    R: AsyncRead + Unpin + Send + 'static,
{
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        // Noted before the next line can be read, which rmcp does only after this.
        if let ServerJsonRpcMessage::Response(JsonRpcResponse {
            result: ServerResult::InitializeResult(result),
            ..
        }) = &item
        {
            self.answering.initialized(&result.protocol_version);
        }
        // The bytes rmcp's own codec writes: the message and a newline.
        let line = serde_json::to_vec(&item).map(|mut line| {
            line.push(b'\n');
            line
        });
        let lines = self.lines.clone();
        async move {
            let line = line.map_err(std::io::Error::other)?;
            lines.send(line).await.map_err(|_| stdout_closed())
        }
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleServer>> {
        // rmcp's receive is safe to drop mid-read: a partly read line stays in its buffer.
        tokio::select! {
            biased;
            Some(message) = self.sieved.recv() => Some(message),
            message = self.inner.receive() => message,
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.answering.drain().await;
        self.closing.cancel();
        let read = self.inner.close().await;
        if let Some(writer) = self.writer.take() {
            writer.await.map_err(std::io::Error::other)??;
        }
        read
    }
}

fn stdout_closed() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::BrokenPipe, "stdout is closed")
}

/// Writes whole lines to `out` in the order they were queued, flushing whenever the queue is
/// empty; once `closing` fires, writes what is queued and shuts `out` down.
async fn write_lines<W: AsyncWrite + Unpin>(
    mut out: W,
    mut queued: mpsc::Receiver<Vec<u8>>,
    closing: CancellationToken,
) -> std::io::Result<()> {
    loop {
        let line = tokio::select! {
            biased;
            line = queued.recv() => line,
            () = closing.cancelled() => queued.try_recv().ok(),
        };
        let Some(line) = line else {
            break;
        };
        out.write_all(&line).await?;
        if queued.is_empty() {
            out.flush().await?;
        }
    }
    out.flush().await?;
    out.shutdown().await
}

/// stdin as rmcp's transport reads it, less the lines read here.
struct Sieve<R> {
    source: BufReader<R>,
    /// The line being gathered, up to its newline.
    line: Vec<u8>,
    /// Set while `line` is being handed to rmcp: how much of it has been.
    passing: Option<usize>,
    /// The rest of an over-long line goes to rmcp as it comes, up to its newline.
    passing_through: bool,
    sieved: mpsc::UnboundedSender<RxJsonRpcMessage<RoleServer>>,
    answering: Arc<Answering>,
}

impl<R: AsyncRead + Unpin> AsyncRead for Sieve<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        loop {
            if let Some(done) = &mut this.passing {
                let count = (this.line.len() - *done).min(buf.remaining());
                buf.put_slice(&this.line[*done..*done + count]);
                *done += count;
                if *done == this.line.len() {
                    this.passing = None;
                    this.line.clear();
                }
                return Poll::Ready(Ok(()));
            }
            let available = ready!(Pin::new(&mut this.source).poll_fill_buf(cx))?;
            if available.is_empty() {
                this.answering.input_ended();
                if this.line.is_empty() {
                    return Poll::Ready(Ok(()));
                }
                // End of input inside a line: rmcp sees the same unfinished bytes.
                this.passing = Some(0);
                continue;
            }
            let newline = available.iter().position(|byte| *byte == b'\n');
            if this.passing_through {
                let end = newline.map_or(available.len(), |at| at + 1);
                let count = end.min(buf.remaining());
                buf.put_slice(&available[..count]);
                Pin::new(&mut this.source).consume(count);
                this.passing_through = !(newline.is_some() && count == end);
                return Poll::Ready(Ok(()));
            }
            let Some(at) = newline else {
                let count = available.len();
                this.line.extend_from_slice(available);
                Pin::new(&mut this.source).consume(count);
                if this.line.len() > MAX_SIEVED_LINE {
                    this.passing = Some(0);
                    this.passing_through = true;
                }
                continue;
            };
            this.line.extend_from_slice(&available[..=at]);
            Pin::new(&mut this.source).consume(at + 1);
            match this.answering.sieve(&this.line) {
                Sieved::Answered => {
                    this.line.clear();
                    continue;
                }
                Sieved::Read(message) => {
                    if this.sieved.send(message).is_ok() {
                        this.line.clear();
                        // Nothing for rmcp yet: the service takes the message first, then reads on.
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                }
                Sieved::Passed => {}
            }
            this.passing = Some(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rmcp::ServiceExt;
    use serde_json::{Value, json};
    use tokio::io::{AsyncBufReadExt, DuplexStream, Lines};
    use tokio::time::Instant;

    use super::*;
    use crate::stdio_calls::DRAIN_AFTER_END_OF_INPUT;

    fn transport(read: DuplexStream, write: DuplexStream) -> StdioTransport<DuplexStream> {
        StdioTransport::new(read, write, crate::test_server::server())
    }

    #[tokio::test]
    async fn a_plain_tool_call_is_read_as_rmcp_reads_it() {
        let (_client, server_in) = tokio::io::duplex(64);
        let (server_out, _client_out) = tokio::io::duplex(64);
        let answering = transport(server_in, server_out).answering();
        for line in crate::plain::PLAIN_TOOL_CALLS {
            let Sieved::Read(ours) = answering.sieve(line.as_bytes()) else {
                panic!("{line} is read here");
            };
            let theirs = crate::plain::rmcp_reads(line);
            assert_eq!(format!("{ours:?}"), format!("{theirs:?}"), "{line}");
            assert_eq!(
                serde_json::to_value(&ours).expect("serializes"),
                serde_json::to_value(&theirs).expect("serializes"),
                "{line}"
            );
        }
    }

    #[tokio::test]
    async fn anything_else_is_left_to_rmcp() {
        let (_client, server_in) = tokio::io::duplex(64);
        let (server_out, _client_out) = tokio::io::duplex(64);
        let answering = transport(server_in, server_out).answering();
        // What `crate::plain` reads but this transport leaves to rmcp, and what it does not read.
        for line in [
            r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","_meta":{"progressToken":1}}}"#,
            r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}"#,
            "not json",
            "",
        ] {
            assert!(
                matches!(answering.sieve(line.as_bytes()), Sieved::Passed),
                "{line}"
            );
        }
        assert_eq!(answering.taken(), 0);
    }

    fn id_and_method(message: &RxJsonRpcMessage<RoleServer>) -> (String, String) {
        let value = serde_json::to_value(message).expect("serializes");
        (
            value["id"].to_string(),
            value["method"].as_str().unwrap_or("").to_owned(),
        )
    }

    #[tokio::test]
    async fn messages_arrive_in_the_order_they_were_sent_whoever_reads_them() {
        let lines = [
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"}}"#,
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"b","_meta":{"progressToken":"p"}}}"#,
            r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"c"}}"#,
            "this is not JSON",
            r#"{"jsonrpc":"2.0","id":4,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"d"}}"#,
        ];
        let (mut client, server_in) = tokio::io::duplex(64);
        let (server_out, _client_out) = tokio::io::duplex(4096);
        let mut transport = transport(server_in, server_out);
        let writer = tokio::spawn(async move {
            // Small writes, so lines arrive split across reads.
            for line in lines {
                for chunk in format!("{line}\n").as_bytes().chunks(5) {
                    client.write_all(chunk).await.expect("writes");
                }
            }
        });
        let mut seen = Vec::new();
        while let Some(message) = transport.receive().await {
            seen.push(id_and_method(&message));
            if seen.len() == 6 {
                break;
            }
        }
        writer.await.expect("the writer finishes");
        let expected: Vec<(String, String)> = [
            ("1", "tools/call"),
            ("null", "notifications/initialized"),
            ("2", "tools/call"),
            ("3", "tools/call"),
            ("4", "ping"),
            ("5", "tools/call"),
        ]
        .iter()
        .map(|(id, method)| ((*id).to_owned(), (*method).to_owned()))
        .collect();
        assert_eq!(seen, expected);
    }

    #[tokio::test]
    async fn an_over_long_line_still_reaches_rmcp_whole() {
        let padding = "x".repeat(MAX_SIEVED_LINE * 2);
        let long = format!(
            r#"{{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{{"name":"n","arguments":{{"pad":"{padding}"}}}}}}"#
        );
        let short = r#"{"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"m"}}"#;
        let (mut client, server_in) = tokio::io::duplex(8192);
        let (server_out, _client_out) = tokio::io::duplex(4096);
        let mut transport = transport(server_in, server_out);
        let input = format!("{long}\n{short}\n");
        let writer = tokio::spawn(async move {
            client.write_all(input.as_bytes()).await.expect("writes");
        });
        let first = transport.receive().await.expect("the long call");
        let second = transport.receive().await.expect("the short call");
        writer.await.expect("the writer finishes");
        let first = serde_json::to_value(&first).expect("serializes");
        assert_eq!(first["id"], 9);
        assert_eq!(
            first["params"]["arguments"]["pad"].as_str().map(str::len),
            Some(padding.len())
        );
        assert_eq!(id_and_method(&second), ("10".to_owned(), "tools/call".to_owned()));
    }

    /// A client's end of a whole session with the test server over this transport.
    struct Session {
        input: DuplexStream,
        output: Lines<BufReader<DuplexStream>>,
        answering: Arc<Answering>,
        served: JoinHandle<()>,
    }

    impl Session {
        fn start() -> Self {
            Self::start_with_output(64 * 1024)
        }

        /// With room for only `bytes` of the server's output until the client reads it.
        fn start_with_output(bytes: usize) -> Self {
            let (input, server_in) = tokio::io::duplex(64 * 1024);
            let (server_out, output) = tokio::io::duplex(bytes);
            let server = crate::test_server::server();
            let transport = StdioTransport::new(server_in, server_out, server.clone());
            let answering = transport.answering();
            let served = tokio::spawn(async move {
                if let Ok(running) = server.serve(transport).await {
                    let _ = running.waiting().await;
                }
            });
            Self {
                input,
                output: BufReader::new(output).lines(),
                answering,
                served,
            }
        }

        async fn send(&mut self, message: &str) {
            self.input
                .write_all(format!("{message}\n").as_bytes())
                .await
                .expect("writes");
        }

        /// Sends a plain `tools/call` of `tool` with `arguments`.
        async fn call(&mut self, id: Value, tool: &str, arguments: Value) {
            let call = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                              "params": {"name": tool, "arguments": arguments}});
            self.send(&call.to_string()).await;
        }

        /// The next message the server writes.
        async fn answer(&mut self) -> Value {
            serde_json::from_str(&self.line().await).expect("JSON")
        }

        /// The next line the server writes, as it was written.
        async fn line(&mut self) -> String {
            tokio::time::timeout(Duration::from_secs(5), self.output.next_line())
                .await
                .expect("an answer in time")
                .expect("reads")
                .expect("a line")
        }

        async fn initialize(&mut self, version: &str) {
            self.send(
                &json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
                    "protocolVersion": version,
                    "capabilities": {},
                    "clientInfo": {"name": "test", "version": "0"},
                }})
                .to_string(),
            )
            .await;
            let answer = self.answer().await;
            assert_eq!(answer["result"]["protocolVersion"], version, "{answer}");
            self.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
                .await;
        }

        async fn end_input(&mut self) {
            self.input.shutdown().await.expect("closes");
        }

        /// Closes stdin; every line the server writes from here to the end.
        async fn finish(mut self) -> Vec<String> {
            self.end_input().await;
            drop(self.input);
            let mut rest = Vec::new();
            while let Ok(Ok(Some(line))) =
                tokio::time::timeout(Duration::from_secs(5), self.output.next_line()).await
            {
                rest.push(line);
            }
            self.served.await.expect("the session ends");
            rest
        }
    }

    /// `request` with `"_meta": {}` among its params: no longer plain, so rmcp answers it.
    fn for_rmcp(request: &Value) -> String {
        let mut request = request.clone();
        request["params"]["_meta"] = json!({});
        request.to_string()
    }

    #[tokio::test]
    async fn once_initialized_plain_calls_are_answered_here_as_rmcp_answers_them() {
        let mut session = Session::start();
        session.initialize("2025-06-18").await;
        let requests = [
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                   "params": {"name": "echo", "arguments": {"text": "Zoë \"Z\"\n\u{2028}", "n": [1, 2.5, null]}}}),
            json!({"jsonrpc": "2.0", "id": "two", "method": "tools/call", "params": {"name": "echo"}}),
            json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "no_such_tool", "arguments": {}}}),
        ];
        for request in &requests {
            session.send(&request.to_string()).await;
            let ours = session.line().await;
            session.send(&for_rmcp(request)).await;
            let theirs = session.line().await;
            assert_eq!(ours, theirs, "{request}");
        }
        assert_eq!(session.answering.taken(), 3);
        assert!(session.finish().await.is_empty());
    }

    /// A client that stopped reading: answers wait for room, but not past the end of the drain.
    #[tokio::test(start_paused = true)]
    async fn calls_stopped_when_the_session_ends_do_not_wait_for_room_to_answer() {
        let mut session = Session::start_with_output(1024);
        session.initialize("2025-06-18").await;
        // Far more answers than the pipe and the writer's queue hold, none read yet.
        let calls = 200;
        for id in 0..calls {
            session
                .call(json!(id), "echo", json!({"pad": "x".repeat(200)}))
                .await;
        }
        session.end_input().await;
        tokio::time::sleep(DRAIN_AFTER_END_OF_INPUT * 6).await;
        let answered = session.finish().await.len();
        assert!(answered > 0 && answered < calls, "{answered} of {calls}");
    }

    #[tokio::test]
    async fn before_initialize_rmcp_answers_everything() {
        let mut session = Session::start();
        session
            .send(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}"#)
            .await;
        let answer = session.answer().await;
        // rmcp's answer to a request that neither initializes nor carries 2026-07-28 metadata.
        assert_eq!(answer["id"], 1);
        assert!(answer["error"].is_object(), "{answer}");
        assert_eq!(session.answering.taken(), 0);
        session.initialize("2025-06-18").await;
        session.call(json!(2), "echo", json!({})).await;
        let answer = session.answer().await;
        assert_eq!(answer["result"]["structuredContent"], json!({}), "{answer}");
        assert_eq!(session.answering.taken(), 1);
        session.finish().await;
    }

    #[tokio::test]
    async fn a_cancelled_call_is_not_answered_and_the_session_goes_on() {
        let mut session = Session::start();
        session.initialize("2025-11-25").await;
        session.call(json!("slow"), "wait", json!({"ms": 300})).await;
        session
            .send(r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"slow","reason":"no longer needed"}}"#)
            .await;
        session.call(json!(2), "wait", json!({"ms": 600})).await;
        // Answered after the cancelled call would have been.
        let answer = session.answer().await;
        assert_eq!(answer["id"], 2, "{answer}");
        assert_eq!(session.answering.taken(), 2);
        assert!(session.finish().await.is_empty());
    }

    /// As rmcp does with its own: a call still running when stdin ends may answer for a while,
    /// and is then stopped. On tokio's paused clock, so the minute-long call costs no time.
    #[tokio::test(start_paused = true)]
    async fn calls_still_running_when_stdin_ends_answer_for_a_while_then_stop() {
        let mut session = Session::start();
        session.initialize("2025-06-18").await;
        session.call(json!("minute"), "wait", json!({"ms": 60_000})).await;
        session.call(json!("second"), "wait", json!({"ms": 1000})).await;
        session.call(json!("now"), "echo", json!({})).await;
        let answer = session.answer().await;
        assert_eq!(answer["id"], "now", "{answer}");
        let started = Instant::now();
        let rest = session.finish().await;
        let ids: Vec<Value> = rest
            .iter()
            .map(|line| serde_json::from_str::<Value>(line).expect("JSON")["id"].clone())
            .collect();
        assert_eq!(ids, [json!("second")]);
        let ended = started.elapsed();
        assert!(
            ended >= DRAIN_AFTER_END_OF_INPUT && ended < Duration::from_secs(60),
            "{ended:?}"
        );
    }
}
