//! The kit's server seen from a raw TCP client: HTTP/1.1 framing as the emulators' clients send
//! it (the F-REGI emulator's hand-written server accepted all of this, so the kit must too), and
//! each byte-level fault as a client observes it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use renkei_emulator_kit::hyper::StatusCode;
use renkei_emulator_kit::{BodyError, Collected, ServeOptions, reply, run};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

const LIMIT: usize = 1024;
const PATIENCE: Duration = Duration::from_secs(5);

/// A server whose routes echo the request or misbehave; the flag is set by `/late` when its
/// delayed work runs.
async fn server(options: ServeOptions) -> (SocketAddr, watch::Sender<bool>, Arc<AtomicBool>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = watch::channel(false);
    let ran = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&ran);
    tokio::spawn(run(listener, stopped, options, move |request, conn| {
        let flag = Arc::clone(&flag);
        async move {
            let request = match Collected::read(request, LIMIT).await {
                Ok(request) => request,
                Err(BodyError::TooLarge { .. }) => {
                    return reply(StatusCode::PAYLOAD_TOO_LARGE, None, "");
                }
                Err(BodyError::Broken(_)) => return reply(StatusCode::BAD_REQUEST, None, ""),
            };
            match request.path.as_str() {
                "/cut" => conn.truncate(reply(StatusCode::OK, None, "0123456789"), 3),
                "/reset" => conn.reset(),
                "/hold" => conn.hold_unanswered(Duration::from_secs(30)).await,
                "/late" => {
                    let done = conn
                        .after_delay(Duration::from_millis(300), move || {
                            flag.store(true, Ordering::SeqCst)
                        })
                        .await;
                    reply(StatusCode::OK, None, format!("{done:?}"))
                }
                _ => {
                    let echo = format!(
                        "{} {} [{}] [{}]",
                        request.method,
                        request.path,
                        request.query,
                        String::from_utf8_lossy(&request.body)
                    );
                    reply(StatusCode::OK, Some("text/plain"), echo)
                }
            }
        }
    }));
    (addr, stop, ran)
}

#[derive(Debug, PartialEq, Eq)]
enum Ending {
    Eof,
    Reset,
    TimedOut,
}

/// Sends `request`, closes the sending side when `half_close`, and reads until the connection
/// ends or `patience` passes.
async fn exchange(
    addr: SocketAddr,
    request: &[u8],
    half_close: bool,
    patience: Duration,
) -> (String, Ending) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    if half_close {
        stream.shutdown().await.unwrap();
    }
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + patience;
    let ending = loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Err(_) => break Ending::TimedOut,
            Ok(Ok(0)) => break Ending::Eof,
            Ok(Ok(n)) => received.extend_from_slice(&chunk[..n]),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => break Ending::Reset,
            Ok(Err(e)) => panic!("unexpected socket error {e}"),
        }
    };
    (String::from_utf8_lossy(&received).into_owned(), ending)
}

#[tokio::test]
async fn pipelined_length_and_chunked_bodies() {
    let (addr, _stop, _) = server(ServeOptions::default()).await;
    let raw = b"POST /connect/sale.cgi?x=1 HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 5\r\n\r\nA=1&BPOST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nA=1\r\n2\r\n&B\r\n0\r\nX-Trailer: y\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    let (text, ending) = exchange(addr, raw, false, PATIENCE).await;
    assert_eq!(ending, Ending::Eof, "Connection: close on the last request");
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 3, "{text}");
    assert!(
        text.contains("POST /connect/sale.cgi [x=1] [A=1&B]"),
        "{text}"
    );
    assert!(text.contains("POST /c [] [A=1&B]"), "{text}");
    assert!(text.contains("GET /b [] []"), "{text}");
}

#[tokio::test]
async fn http_1_0_closes_after_the_reply_and_1_1_keeps_the_connection() {
    let (addr, _stop, _) = server(ServeOptions::default()).await;
    let (text, ending) = exchange(addr, b"GET /b HTTP/1.0\r\n\r\n", false, PATIENCE).await;
    assert_eq!(ending, Ending::Eof);
    assert!(text.starts_with("HTTP/1.0 200 OK\r\n") || text.starts_with("HTTP/1.1 200 OK\r\n"));
    let patience = Duration::from_millis(300);
    let (text, ending) =
        exchange(addr, b"GET /b HTTP/1.1\r\nHost: a\r\n\r\n", false, patience).await;
    assert_eq!(ending, Ending::TimedOut, "kept open: {text}");
    assert!(text.contains("GET /b [] []"));
}

#[tokio::test]
async fn without_keep_alive_every_reply_closes_the_connection() {
    let (addr, _stop, _) = server(ServeOptions { keep_alive: false }).await;
    let (text, ending) =
        exchange(addr, b"GET /b HTTP/1.1\r\nHost: a\r\n\r\n", false, PATIENCE).await;
    assert_eq!(ending, Ending::Eof);
    assert!(
        text.to_ascii_lowercase().contains("connection: close"),
        "{text}"
    );
}

#[tokio::test]
async fn broken_requests_are_refused() {
    let (addr, _stop, _) = server(ServeOptions::default()).await;
    let (text, _) = exchange(addr, b"NOT HTTP\r\n\r\n", true, PATIENCE).await;
    assert!(text.starts_with("HTTP/1.1 400 "), "{text}");
    let too_long = b"POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n";
    let (text, _) = exchange(addr, too_long, true, PATIENCE).await;
    assert!(text.starts_with("HTTP/1.1 413 "), "{text}");
    let cut = b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc";
    let (text, _) = exchange(addr, cut, true, PATIENCE).await;
    assert!(
        !text.contains("200 OK"),
        "a cut body is never processed: {text}"
    );
}

#[tokio::test]
async fn a_truncated_reply_announces_the_full_length_and_sends_fewer_bytes() {
    let (addr, _stop, _) = server(ServeOptions::default()).await;
    let (text, ending) = exchange(
        addr,
        b"GET /cut HTTP/1.1\r\nHost: a\r\n\r\n",
        false,
        PATIENCE,
    )
    .await;
    assert_eq!(ending, Ending::Eof);
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"));
    assert!(head.contains("content-length: 10\r\n"), "{head}");
    assert_eq!(body, "012");
}

#[tokio::test]
async fn reset_sends_a_rst_and_no_byte() {
    let (addr, _stop, _) = server(ServeOptions::default()).await;
    let (text, ending) = exchange(
        addr,
        b"GET /reset HTTP/1.1\r\nHost: a\r\n\r\n",
        false,
        PATIENCE,
    )
    .await;
    assert_eq!((text.as_str(), ending), ("", Ending::Reset));
}

#[tokio::test]
async fn hold_sends_nothing_until_the_emulator_stops() {
    let (addr, stop, _) = server(ServeOptions::default()).await;
    let request = b"GET /hold HTTP/1.1\r\nHost: a\r\n\r\n";
    let patience = Duration::from_millis(300);
    let (text, ending) = exchange(addr, request, false, patience).await;
    assert_eq!((text.as_str(), ending), ("", Ending::TimedOut));
    let held = tokio::spawn(async move { exchange(addr, request, false, PATIENCE).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.send(true).unwrap();
    let (text, ending) = held.await.unwrap();
    assert_eq!(text, "");
    assert_ne!(ending, Ending::TimedOut, "closed when the emulator stopped");
}

#[tokio::test]
async fn delayed_work_runs_even_after_the_client_has_gone() {
    let (addr, _stop, ran) = server(ServeOptions::default()).await;
    let request = b"GET /late HTTP/1.1\r\nHost: a\r\n\r\n";
    let (text, ending) = exchange(addr, request, false, Duration::from_millis(50)).await;
    assert_eq!((text.as_str(), ending), ("", Ending::TimedOut));
    assert!(!ran.load(Ordering::SeqCst), "not yet");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        ran.load(Ordering::SeqCst),
        "the work was dropped with its client"
    );
    let request = b"GET /late HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    let (text, _) = exchange(addr, request, false, PATIENCE).await;
    assert!(text.ends_with("Some(())"), "{text}");
}
