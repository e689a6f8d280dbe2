//! Connection hygiene over real sockets: a client that never finishes its headers, one that
//! sits idle, one that never sends its body, and more connections than the cap.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use runtime::connections::ConnectionLimits;
use runtime::serve::{HttpSettings, serve_http};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use crate::support::TestServer;

const LIMITS: ConnectionLimits = ConnectionLimits {
    max_connections: 4,
    header_read_timeout: Duration::from_millis(600),
    body_read_timeout: Duration::from_millis(600),
};

async fn serve(limits: ConnectionLimits) -> (SocketAddr, CancellationToken) {
    let server = TestServer::offline().build();
    let shutdown = CancellationToken::new();
    let (ready, address) = tokio::sync::oneshot::channel();
    let token = shutdown.clone();
    tokio::spawn(async move {
        let settings = HttpSettings::default().with_connection_limits(limits);
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        let _ = serve_http(server, loopback, &settings, token, move |addr| {
            let _ = ready.send(addr);
        })
        .await;
    });
    (address.await.expect("listening"), shutdown)
}

/// Reads until the server closes the connection; what it sent, or `None` if it stayed open
/// for `wait`.
async fn read_until_closed(stream: &mut TcpStream, wait: Duration) -> Option<String> {
    let mut received = Vec::new();
    let deadline = Instant::now() + wait;
    loop {
        let mut buffer = [0u8; 4096];
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(String::from_utf8_lossy(&received).into_owned()),
            Ok(Ok(read)) => received.extend_from_slice(&buffer[..read]),
            Err(_) => return None,
        }
    }
}

const HEALTH: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";

#[tokio::test]
async fn a_connection_that_never_finishes_its_headers_is_closed() {
    let (addr, shutdown) = serve(LIMITS).await;
    let mut slow = TcpStream::connect(addr).await.expect("connect");
    slow.write_all(b"POST /mcp HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .expect("write");
    let started = Instant::now();
    let closed = read_until_closed(&mut slow, Duration::from_secs(5)).await;
    assert!(closed.is_some(), "still open after 5 s");
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    shutdown.cancel();
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_and_a_busy_one_is_not() {
    let (addr, shutdown) = serve(LIMITS).await;
    let mut idle = TcpStream::connect(addr).await.expect("connect");
    idle.write_all(HEALTH).await.expect("write");
    let mut answer = [0u8; 512];
    let read = idle.read(&mut answer).await.expect("read");
    assert!(String::from_utf8_lossy(&answer[..read]).starts_with("HTTP/1.1 200"));
    let closed = read_until_closed(&mut idle, Duration::from_secs(5)).await;
    assert_eq!(closed.as_deref(), Some(""), "the idle connection stayed open");

    // A keep-alive connection used more often than the timeout stays open.
    let mut busy = TcpStream::connect(addr).await.expect("connect");
    for _ in 0..4 {
        busy.write_all(HEALTH)
            .await
            .expect("the connection is still open");
        let read = busy.read(&mut answer).await.expect("read");
        assert!(String::from_utf8_lossy(&answer[..read]).starts_with("HTTP/1.1 200"));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    shutdown.cancel();
}

#[tokio::test]
async fn a_body_that_never_arrives_gets_408() {
    let (addr, shutdown) = serve(LIMITS).await;
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(b"POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: 100\r\n\r\n{\"jsonrpc\"")
        .await
        .expect("write");
    let answer = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    let mut buffer = [0u8; 1024];
    let text = match answer {
        Some(text) => text,
        None => {
            let read = stream.read(&mut buffer).await.expect("read");
            String::from_utf8_lossy(&buffer[..read]).into_owned()
        }
    };
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    shutdown.cancel();
}

#[tokio::test]
async fn beyond_the_cap_the_longest_idle_connection_makes_room() {
    let limits = ConnectionLimits {
        header_read_timeout: Duration::from_secs(30),
        ..LIMITS
    };
    let (addr, shutdown) = serve(limits).await;
    let mut idle = Vec::new();
    for _ in 0..limits.max_connections {
        idle.push(TcpStream::connect(addr).await.expect("connect"));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Every slot is held by a connection that sent nothing; a new client is still served.
    let mut fresh = TcpStream::connect(addr).await.expect("connect");
    fresh.write_all(HEALTH).await.expect("write");
    let mut answer = [0u8; 512];
    let read = tokio::time::timeout(Duration::from_secs(5), fresh.read(&mut answer))
        .await
        .expect("answered in time")
        .expect("read");
    assert!(String::from_utf8_lossy(&answer[..read]).starts_with("HTTP/1.1 200"));
    // The first (longest idle) was closed to make room; the last one is still open.
    assert!(
        read_until_closed(&mut idle[0], Duration::from_secs(2))
            .await
            .is_some()
    );
    assert!(
        read_until_closed(&mut idle[3], Duration::from_millis(300))
            .await
            .is_none()
    );
    shutdown.cancel();
}
