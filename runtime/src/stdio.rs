//! The stdio transport: rmcp's own, except that plain `tools/call` lines are read here.
//!
//! A `tools/call` line in its plain form ([`crate::plain`]) is read here into the message rmcp
//! would have built from it, which saves rmcp's untagged reading. Every other line (other
//! methods, `_meta`, anything malformed, a line longer than [`MAX_SIEVED_LINE`]) reaches rmcp's
//! transport byte for byte, so what happens to it is what rmcp does.
//!
//! Order is kept. rmcp's transport reads through a [`Sieve`], which takes a line from stdin
//! only when rmcp has taken every byte before it; after a `tools/call` line it hands the message
//! over and reports nothing read yet, so the message reaches the service before any later line
//! is read.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use rmcp::model::{ClientJsonRpcMessage, ClientRequest, Request};
use rmcp::service::{RoleServer, RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use rmcp::transport::async_rw::AsyncRwTransport;
use tokio::io::{AsyncBufRead, AsyncRead, AsyncWrite, BufReader, ReadBuf};
use tokio::sync::mpsc;

use crate::plain::PlainCall;

/// Lines longer than this are not read here, only passed on: rmcp applies its own limit.
const MAX_SIEVED_LINE: usize = 64 * 1024;

/// rmcp's stdio transport over `read` and `write`, with `tools/call` lines read directly.
pub struct StdioTransport<R: AsyncRead + Unpin, W: AsyncWrite> {
    inner: AsyncRwTransport<RoleServer, Sieve<R>, W>,
    /// Messages the sieve read itself; at most one is ever waiting.
    sieved: mpsc::UnboundedReceiver<RxJsonRpcMessage<RoleServer>>,
}

impl<R, W> StdioTransport<R, W>
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    pub fn new(read: R, write: W) -> Self {
        let (sender, sieved) = mpsc::unbounded_channel();
        let sieve = Sieve {
            source: BufReader::new(read),
            line: Vec::new(),
            passing: None,
            passing_through: false,
            sieved: sender,
        };
        Self {
            inner: AsyncRwTransport::new_server(sieve, write),
            sieved,
        }
    }
}

impl<R, W> Transport<RoleServer> for StdioTransport<R, W>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        self.inner.send(item)
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
        self.inner.close().await
    }
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
            if let Some(message) = plain_tool_call(&this.line)
                && this.sieved.send(message).is_ok()
            {
                this.line.clear();
                // Nothing for rmcp yet: the service takes the message first, then reads on.
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            this.passing = Some(0);
        }
    }
}

/// The message rmcp would read from `line`, when `line` is a plain `tools/call`; `None` for
/// anything else, which rmcp then reads itself.
fn plain_tool_call(line: &[u8]) -> Option<RxJsonRpcMessage<RoleServer>> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    // Most other lines are told apart before any parsing.
    if !contains(line, b"tools") {
        return None;
    }
    let request = crate::plain::read(line)?;
    let PlainCall::Tool(params) = request.call else {
        return None;
    };
    Some(ClientJsonRpcMessage::request(
        ClientRequest::CallToolRequest(Request::new(params)),
        request.id,
    ))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_tool_call_is_read_as_rmcp_reads_it() {
        for line in crate::plain::PLAIN_TOOL_CALLS {
            let ours = plain_tool_call(line.as_bytes()).expect("read here");
            let theirs = crate::plain::rmcp_reads(line);
            assert_eq!(format!("{ours:?}"), format!("{theirs:?}"), "{line}");
            assert_eq!(
                serde_json::to_value(&ours).expect("serializes"),
                serde_json::to_value(&theirs).expect("serializes"),
                "{line}"
            );
        }
    }

    #[test]
    fn anything_else_is_left_to_rmcp() {
        // What `crate::plain` reads but this transport leaves to rmcp, and what it does not read.
        for line in [
            r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","_meta":{"progressToken":1}}}"#,
            "not json",
            "",
        ] {
            assert!(plain_tool_call(line.as_bytes()).is_none(), "{line}");
        }
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
        let mut transport = StdioTransport::new(server_in, server_out);
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
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
        let mut transport = StdioTransport::new(server_in, server_out);
        let input = format!("{long}\n{short}\n");
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
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
}
