//! hyper 1: [`HyperServer`], serving HTTP/1 and HTTP/2 on a
//! `SafeUnixListener` with graceful shutdown.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::{Body, Incoming};
use hyper::service::Service;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::UnixStream;
use tokio::sync::Semaphore;
use tokio::task::AbortHandle;

use crate::listener::SafeUnixListener;
use crate::peer::PeerInfo;

type BoxError = Box<dyn StdError + Send + Sync>;

/// Serves a hyper [`Service`] on a [`SafeUnixListener`]: HTTP/1 and HTTP/2
/// (detected per connection), one task per connection.
///
/// Each request carries the peer's [`PeerInfo`] in its extensions. A
/// `tower::Service` can be served through
/// `hyper_util::service::TowerToHyperService`.
///
/// When `shutdown` resolves, the server tells the service manager
/// (`STOPPING=1`, when `$NOTIFY_SOCKET` is set), stops accepting and drops
/// the listener, so the socket file goes away at once and new clients are
/// refused; then it waits for in-flight connections, up to the
/// [grace period](Self::grace_period), and returns. Connections still open
/// then are left to finish on their own tasks.
///
/// Limits, so that a local user cannot hold the server's descriptors:
///
/// | option | default | what it does |
/// |---|---|---|
/// | [`header_read_timeout`](Self::header_read_timeout) | 30 s | an HTTP/1 client must send a request's head within it of its first byte |
/// | [`idle_timeout`](Self::idle_timeout) | 60 s | a connection with no request in flight and no byte read or written for this long (checked every quarter of it) is closed (HTTP/1 and HTTP/2) |
/// | [`max_connections`](Self::max_connections) | 1024 | past it, new connections wait in the kernel's backlog: they are not accepted until one closes |
///
/// ```no_run
/// use std::convert::Infallible;
///
/// use http_body_util::Full;
/// use hyper::body::Bytes;
/// use hyper::{Request, Response, service::service_fn};
/// use safe_unix_listener::{PeerInfo, SafeUnixListener, shutdown_signal};
/// use safe_unix_listener::http::HyperServer;
///
/// async fn hello(req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
///     let uid = req.extensions().get::<PeerInfo>().and_then(PeerInfo::uid);
///     Ok(Response::new(Full::new(Bytes::from(format!("hello, uid {uid:?}\n")))))
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let listener = SafeUnixListener::bind("/run/app/app.sock")?;
/// HyperServer::new(listener)
///     .serve(service_fn(hello), shutdown_signal()?)
///     .await;
/// # Ok(()) }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
pub struct HyperServer {
    listener: SafeUnixListener,
    grace: Duration,
    header_read_timeout: Duration,
    idle_timeout: Duration,
    max_connections: usize,
    peer_info: bool,
}

impl HyperServer {
    /// Serves on `listener`, with a 30 s grace period.
    ///
    /// ```no_run
    /// # use safe_unix_listener::SafeUnixListener;
    /// # use safe_unix_listener::http::HyperServer;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let server = HyperServer::new(SafeUnixListener::bind("/run/app/app.sock")?);
    /// # drop(server); Ok(()) }
    /// ```
    pub fn new(listener: SafeUnixListener) -> Self {
        Self {
            listener,
            grace: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
            peer_info: true,
        }
    }

    /// Whether each request carries the connection's [`PeerInfo`] in its
    /// extensions (on by default). Inserting it costs two small
    /// allocations a request; a server that never reads it can turn it off.
    ///
    /// ```no_run
    /// # use safe_unix_listener::SafeUnixListener;
    /// # use safe_unix_listener::http::HyperServer;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let server = HyperServer::new(SafeUnixListener::bind("/run/app/app.sock")?)
    ///     .peer_info(false);
    /// # drop(server); Ok(()) }
    /// ```
    pub fn peer_info(mut self, on: bool) -> Self {
        self.peer_info = on;
        self
    }

    /// How long an HTTP/1 client has to send a request's head, from its
    /// first byte (30 s by default). Like the idle timeout it is checked
    /// by one watchdog per connection, not by a timer per request, so the
    /// connection closes between this and a quarter more after that byte.
    /// A kept-alive connection waiting for its next request is the idle
    /// timeout's business.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use safe_unix_listener::SafeUnixListener;
    /// # use safe_unix_listener::http::HyperServer;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let server = HyperServer::new(SafeUnixListener::bind("/run/app/app.sock")?)
    ///     .header_read_timeout(Duration::from_secs(10));
    /// # drop(server); Ok(()) }
    /// ```
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// How long a connection may stay with no request in flight and no
    /// byte read or written before it is closed (60 s by default). It is
    /// checked every quarter of it, so the connection closes between this
    /// and a quarter more after its last activity.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use safe_unix_listener::SafeUnixListener;
    /// # use safe_unix_listener::http::HyperServer;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let server = HyperServer::new(SafeUnixListener::bind("/run/app/app.sock")?)
    ///     .idle_timeout(Duration::from_secs(75));
    /// # drop(server); Ok(()) }
    /// ```
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// How many connections are served at once (1024 by default, at least
    /// 1). Past it, new connections are not accepted: they wait in the
    /// kernel's backlog until one closes.
    ///
    /// ```no_run
    /// # use safe_unix_listener::SafeUnixListener;
    /// # use safe_unix_listener::http::HyperServer;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let server = HyperServer::new(SafeUnixListener::bind("/run/app/app.sock")?)
    ///     .max_connections(256);
    /// # drop(server); Ok(()) }
    /// ```
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max.max(1);
        self
    }

    /// How long to wait for in-flight connections after shutdown.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use safe_unix_listener::SafeUnixListener;
    /// # use safe_unix_listener::http::HyperServer;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let server = HyperServer::new(SafeUnixListener::bind("/run/app/app.sock")?)
    ///     .grace_period(Duration::from_secs(5));
    /// # drop(server); Ok(()) }
    /// ```
    pub fn grace_period(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Serves `service` until `shutdown` resolves, then shuts down
    /// gracefully (see [`HyperServer`]).
    ///
    /// ```no_run
    /// # use std::convert::Infallible;
    /// # use safe_unix_listener::{SafeUnixListener, shutdown_signal};
    /// # use safe_unix_listener::http::HyperServer;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let ok = hyper::service::service_fn(|_req| async {
    ///     Ok::<_, Infallible>(hyper::Response::new(http_body_util::Empty::<hyper::body::Bytes>::new()))
    /// });
    /// HyperServer::new(SafeUnixListener::bind("/run/app/app.sock")?)
    ///     .serve(ok, shutdown_signal()?)
    ///     .await;
    /// # Ok(()) }
    /// ```
    pub async fn serve<S, B>(self, service: S, shutdown: impl Future<Output = ()>)
    where
        S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let Self {
            listener,
            grace,
            header_read_timeout,
            idle_timeout,
            max_connections,
            peer_info,
        } = self;
        // No timer for hyper: the connection's watchdog times the head.
        let builder = auto::Builder::new(TokioExecutor::new());
        let limits = Limits {
            header_read: header_read_timeout,
            idle: idle_timeout,
        };
        let graceful = GracefulShutdown::new();
        let slots = Arc::new(Semaphore::new(max_connections));
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            // A slot first: past the limit, connections wait in the backlog.
            let slot = tokio::select! {
                () = &mut shutdown => break,
                slot = slots.clone().acquire_owned() => slot.expect("never closed"),
            };
            tokio::select! {
                () = &mut shutdown => break,
                conn = listener.accept() => match conn {
                    Ok((stream, addr)) => {
                        let activity = Arc::new(Activity::default());
                        let service = WithPeer {
                            peer: peer_info.then(|| PeerInfo::new(&stream, addr)),
                            activity: activity.clone(),
                            inner: service.clone(),
                        };
                        let io = TokioIo::new(Tracked {
                            inner: stream,
                            activity: activity.clone(),
                            protocol: Protocol::Unknown,
                        });
                        let conn = builder.serve_connection_with_upgrades(io, service);
                        let conn = graceful.watch(conn.into_owned());
                        let served = tokio::spawn(async move {
                            if let Err(e) = conn.await {
                                tracing::debug!(error = %e, "connection ended with an error");
                            }
                            drop(slot);
                        });
                        // The watchdog is a task of its own, so that serving
                        // never polls a timer; it aborts a connection that
                        // overstays a limit.
                        let served = served.abort_handle();
                        tokio::spawn(async move {
                            if let Some(why) = activity.watch(limits, &served).await {
                                served.abort();
                                tracing::debug!("closed a connection: {why}");
                            }
                        });
                    }
                    // The listener backs off before its next accept.
                    Err(e) => tracing::error!(error = %e, "accept failed; retrying after a pause"),
                },
            }
        }

        if let Err(e) = crate::systemd::notify_stopping() {
            tracing::warn!(error = %e, "stopping, but the service manager was not told");
        }
        let addr = listener.addr().clone();
        drop(listener);
        tracing::info!(%addr, in_flight = graceful.count(), "stopped accepting; draining connections");
        if tokio::time::timeout(grace, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!(%addr, grace_secs = grace.as_secs_f64(), "grace period over; connections left open");
        }
    }
}

impl fmt::Debug for HyperServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HyperServer")
            .field("listener", &self.listener)
            .field("grace", &self.grace)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("max_connections", &self.max_connections)
            .field("peer_info", &self.peer_info)
            .finish()
    }
}

/// The two timeouts a connection's watchdog enforces.
#[derive(Debug, Clone, Copy)]
struct Limits {
    header_read: Duration,
    idle: Duration,
}

/// What a connection is doing, for its watchdog: requests in flight,
/// whether a byte moved since the watchdog last looked, and since which of
/// its ticks an HTTP/1 request head has been arriving. Noting a read or a
/// write is a relaxed store or two, so the data path stays as fast as
/// hyper's own.
#[derive(Debug, Default)]
struct Activity {
    in_flight: AtomicUsize,
    moved: AtomicBool,
    /// The tick at which a head's first byte arrived; 0 while none is.
    head_since: AtomicU32,
    /// The watchdog's tick, from 1.
    tick: AtomicU32,
}

/// How many ticks the shorter timeout is split into: a connection is
/// closed between a timeout and a quarter more.
const TICKS: u32 = 4;

impl Activity {
    fn touch(&self) {
        self.moved.store(true, Ordering::Relaxed);
    }

    /// Bytes arrived while no request is in flight: a head is arriving.
    fn head_arriving(&self) {
        if self.head_since.load(Ordering::Relaxed) == 0
            && self.in_flight.load(Ordering::Relaxed) == 0
        {
            // Counted from the next tick, so never less than the timeout.
            let next = self.tick.load(Ordering::Relaxed) + 1;
            self.head_since.store(next, Ordering::Relaxed);
        }
    }

    /// Resolves, with the reason, once a head has been arriving for
    /// `limits.header_read`, or once no request has been in flight and no
    /// byte has moved for `limits.idle`.
    /// `None` once the connection ended by itself.
    async fn watch(&self, limits: Limits, served: &AbortHandle) -> Option<&'static str> {
        let tick = limits.header_read.min(limits.idle) / TICKS;
        let ticks = |d: Duration| (d.as_nanos() / tick.as_nanos().max(1)) as u32;
        let (header_ticks, idle_ticks) = (ticks(limits.header_read), ticks(limits.idle));
        let mut quiet = 0;
        loop {
            tokio::time::sleep(tick).await;
            if served.is_finished() {
                return None;
            }
            let now = self.tick.fetch_add(1, Ordering::Relaxed) + 1;
            let since = self.head_since.load(Ordering::Relaxed);
            if since != 0 && now.saturating_sub(since) >= header_ticks {
                return Some("the request head did not arrive within the header read timeout");
            }
            let busy = self.moved.swap(false, Ordering::AcqRel)
                || self.in_flight.load(Ordering::Acquire) > 0;
            quiet = if busy { 0 } else { quiet + 1 };
            if quiet >= idle_ticks {
                return Some("idle for the idle timeout");
            }
        }
    }
}

/// What a connection speaks, told by its first bytes: the header read
/// timeout is HTTP/1's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Unknown,
    Http1,
    Http2,
}

/// The connection's stream, noting each read and write.
struct Tracked {
    inner: UnixStream,
    activity: Arc<Activity>,
    protocol: Protocol,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let done = Pin::new(&mut self.inner).poll_read(cx, buf);
        if done.is_ready() {
            self.activity.touch();
            let got = &buf.filled()[before..];
            if self.protocol == Protocol::Unknown && !got.is_empty() {
                // HTTP/2's connection preface starts "PRI * HTTP/2.0".
                self.protocol = match got.starts_with(b"PRI ") {
                    true => Protocol::Http2,
                    false => Protocol::Http1,
                };
            }
            if self.protocol == Protocol::Http1 && !got.is_empty() {
                self.activity.head_arriving();
            }
        }
        done
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let done = Pin::new(&mut self.inner).poll_write(cx, buf);
        if done.is_ready() {
            self.activity.touch();
        }
        done
    }

    /// hyper writes a response's head and body in one `writev` when the
    /// stream says it can.
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let done = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if done.is_ready() {
            self.activity.touch();
        }
        done
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Puts the connection's [`PeerInfo`] into each request's extensions, and
/// counts the requests in flight.
#[derive(Clone)]
struct WithPeer<S> {
    peer: Option<PeerInfo>,
    activity: Arc<Activity>,
    inner: S,
}

impl<S> Service<Request<Incoming>> for WithPeer<S>
where
    S: Service<Request<Incoming>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = InFlight<S::Future>;

    fn call(&self, mut req: Request<Incoming>) -> Self::Future {
        if let Some(peer) = &self.peer {
            req.extensions_mut().insert(peer.clone());
        }
        self.activity.in_flight.fetch_add(1, Ordering::AcqRel);
        self.activity.head_since.store(0, Ordering::Relaxed);
        InFlight {
            inner: self.inner.call(req),
            counted: Counted(self.activity.clone()),
        }
    }
}

pin_project_lite::pin_project! {
    /// A request's response future, counted in flight until it completes
    /// or is dropped: no box per request.
    struct InFlight<F> {
        #[pin]
        inner: F,
        counted: Counted,
    }
}

impl<F: Future> Future for InFlight<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.project().inner.poll(cx)
    }
}

/// One request in flight; it ends when this drops (the response is done,
/// or the connection went away first).
struct Counted(Arc<Activity>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.0.touch();
    }
}
