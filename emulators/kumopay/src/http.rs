//! Just enough HTTP/1.1 for the emulator: one request per connection, `Content-Length` bodies,
//! `Connection: close` replies.

use crate::{Engine, Request};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Requests larger than this are refused: the protocol's bodies are a few hundred bytes.
const MAX_REQUEST: usize = 64 * 1024;

pub(crate) async fn serve(
    listener: TcpListener,
    engine: Arc<Engine>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let engine = Arc::clone(&engine);
                tokio::spawn(async move {
                    if let Err(e) = connection(stream, &engine).await {
                        tracing::debug!(error = %e, "Kumo Pay emulator connection failed");
                    }
                });
            }
            // Sender dropped or set: the emulator is gone.
            _ = stop.changed() => return,
        }
    }
}

async fn connection(mut stream: TcpStream, engine: &Engine) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let request = loop {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > MAX_REQUEST {
            return write(&mut stream, 413, b"{}").await;
        }
        if let Some(r) = parse(&buf)? {
            break r;
        }
    };
    let (status, doc) = engine.handle(&request);
    let body = serde_json::to_vec(&doc).unwrap_or_default();
    write(&mut stream, status, &body).await
}

fn bad(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string())
}

/// A complete request, `None` while more bytes are needed.
fn parse(buf: &[u8]) -> std::io::Result<Option<Request>> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut head = httparse::Request::new(&mut headers);
    let httparse::Status::Complete(head_len) = head.parse(buf).map_err(bad)? else {
        return Ok(None);
    };
    let headers: Vec<(String, String)> = head
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_owned(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    let length = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.trim().parse::<usize>().map_err(bad))
        .transpose()?
        .unwrap_or(0);
    if buf.len() < head_len + length {
        return Ok(None);
    }
    let target = head.path.unwrap_or("/");
    Ok(Some(Request {
        method: head.method.unwrap_or("").to_owned(),
        path: target.split('?').next().unwrap_or(target).to_owned(),
        headers,
        body: buf[head_len..head_len + length].to_vec(),
    }))
}

async fn write(stream: &mut TcpStream, status: u16, body: &[u8]) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        201 => "Created",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        404 => "Not Found",
        409 => "Conflict",
        413 => "Payload Too Large",
        _ => "Error",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.shutdown().await
}
