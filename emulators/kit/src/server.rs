//! The accept loop and per-connection serving: hyper's HTTP/1.1 over a [`FaultStream`], so that
//! a handler can sabotage the reply of its own request through [`Conn`].

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::transport::{ConnControl, FaultStream};

/// What every handler answers.
pub type HttpResponse = Response<Full<Bytes>>;

/// How connections are served.
#[derive(Clone, Copy, Debug)]
pub struct ServeOptions {
    /// Keep a connection open after a reply when the client wants it (HTTP/1.1 default); false
    /// answers every request with `Connection: close`.
    pub keep_alive: bool,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self { keep_alive: true }
    }
}

/// The connection a request arrived on, as its handler sees it: who sent it, the switch that
/// stops the emulator, and the faults that act on the reply.
#[derive(Clone)]
pub struct Conn {
    control: Arc<ConnControl>,
    peer: SocketAddr,
    shutdown: watch::Receiver<bool>,
}

impl Conn {
    /// The client's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The per-connection fault switch the reply is written through.
    pub fn control(&self) -> &ConnControl {
        &self.control
    }

    /// Resolves once the emulator is told to stop.
    pub async fn stopped(&self) {
        stopped(&mut self.shutdown.clone()).await;
    }

    /// Resets the TCP connection instead of replying.
    pub fn reset(&self) -> HttpResponse {
        self.control.reset();
        Response::new(Full::default())
    }

    /// Closes the connection (FIN) instead of replying.
    pub fn close_without_reply(&self) -> HttpResponse {
        self.control.close_without_reply();
        Response::new(Full::default())
    }

    /// Sends `reply` with its full `Content-Length` but only `bytes` bytes of its body, then
    /// closes the connection.
    pub fn truncate(&self, reply: HttpResponse, bytes: usize) -> HttpResponse {
        self.control.truncate_body_after(bytes);
        reply
    }

    /// No reply: holds the connection until the client gives up (hyper then drops this
    /// handler), `limit` passes or the emulator stops, then closes it unanswered.
    pub async fn hold_unanswered(&self, limit: Duration) -> HttpResponse {
        tokio::select! {
            () = tokio::time::sleep(limit) => {}
            () = self.stopped() => {}
        }
        self.close_without_reply()
    }

    /// Runs `work` after `delay` in a task of its own. A gateway does not notice a client
    /// hanging up: the request it holds is processed after the delay all the same, and the reply
    /// goes to a closed socket. hyper drops a handler when its client disconnects, so the work
    /// must not live in the handler. `None` if the emulator stopped first (nothing was run).
    pub async fn after_delay<T, W>(&self, delay: Duration, work: W) -> Option<T>
    where
        T: Send + 'static,
        W: FnOnce() -> T + Send + 'static,
    {
        let mut shutdown = self.shutdown.clone();
        let task = tokio::spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = stopped(&mut shutdown) => return None,
            }
            Some(work())
        });
        task.await.ok().flatten()
    }
}

/// Resolves once `shutdown` turns true (or its sender is gone).
pub async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    // The guard returned by `wait_for` is not Send; drop it before returning.
    let _ = shutdown.wait_for(|stop| *stop).await.map(|_| ());
}

/// Accepts connections on `listener` until `shutdown` turns true, serving each request with
/// `handler`. Every connection stops with the emulator.
pub async fn run<H, F>(
    listener: TcpListener,
    shutdown: watch::Receiver<bool>,
    options: ServeOptions,
    handler: H,
) where
    H: Fn(Request<Incoming>, Conn) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = HttpResponse> + Send + 'static,
{
    let mut stop = shutdown.clone();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    // Small request/reply exchanges: do not wait for Nagle.
                    let _ = stream.set_nodelay(true);
                    let conn = Conn {
                        control: Arc::new(ConnControl::default()),
                        peer,
                        shutdown: shutdown.clone(),
                    };
                    tokio::spawn(serve_connection(stream, conn, options, handler.clone()));
                }
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            () = stopped(&mut stop) => break,
        }
    }
}

async fn serve_connection<H, F>(stream: TcpStream, conn: Conn, options: ServeOptions, handler: H)
where
    H: Fn(Request<Incoming>, Conn) -> F + Send + Sync + 'static,
    F: Future<Output = HttpResponse> + Send + 'static,
{
    let io = TokioIo::new(FaultStream::new(stream, Arc::clone(&conn.control)));
    let mut shutdown = conn.shutdown.clone();
    let service = service_fn(move |request| {
        let reply = handler(request, conn.clone());
        async move { Ok::<_, Infallible>(reply.await) }
    });
    let connection = http1::Builder::new()
        .keep_alive(options.keep_alive)
        .serve_connection(io, service);
    tokio::select! {
        result = connection => {
            if let Err(error) = result {
                tracing::trace!(%error, "connection ended with an error");
            }
        }
        () = stopped(&mut shutdown) => {}
    }
}
