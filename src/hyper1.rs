//! hyper 1: [`HyperServer`], serving HTTP/1 and HTTP/2 on a
//! `SafeUnixListener` with graceful shutdown.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::time::Duration;

use hyper::body::{Body, Incoming};
use hyper::service::Service;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;

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
/// When `shutdown` resolves, the server stops accepting and drops the
/// listener, so the socket file goes away at once and new clients are
/// refused; then it waits for in-flight connections, up to the
/// [grace period](Self::grace_period), and returns. Connections still open
/// then are left to finish on their own tasks.
///
/// ```no_run
/// use std::convert::Infallible;
///
/// use http_body_util::Full;
/// use hyper::body::Bytes;
/// use hyper::{Request, Response, service::service_fn};
/// use safe_unix_listener::{HyperServer, PeerInfo, SafeUnixListener, shutdown_signal};
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
}

impl HyperServer {
    /// Serves on `listener`, with a 30 s grace period.
    ///
    /// ```no_run
    /// # use safe_unix_listener::{HyperServer, SafeUnixListener};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let server = HyperServer::new(SafeUnixListener::bind("/run/app/app.sock")?);
    /// # drop(server); Ok(()) }
    /// ```
    pub fn new(listener: SafeUnixListener) -> Self {
        Self {
            listener,
            grace: Duration::from_secs(30),
        }
    }

    /// How long to wait for in-flight connections after shutdown.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use safe_unix_listener::{HyperServer, SafeUnixListener};
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
    /// # use safe_unix_listener::{HyperServer, SafeUnixListener, shutdown_signal};
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
        let Self { listener, grace } = self;
        let builder = auto::Builder::new(TokioExecutor::new());
        let graceful = GracefulShutdown::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                conn = listener.accept() => match conn {
                    Ok((stream, addr)) => {
                        let service = WithPeer { peer: PeerInfo::new(&stream, addr), inner: service.clone() };
                        let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                        let conn = graceful.watch(conn.into_owned());
                        tokio::spawn(async move {
                            if let Err(e) = conn.await {
                                tracing::debug!(error = %e, "connection ended with an error");
                            }
                        });
                    }
                    // The listener backs off before its next accept.
                    Err(e) => tracing::error!(error = %e, "accept failed; retrying after a pause"),
                },
            }
        }

        let addr = listener.local_addr().clone();
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
            .finish()
    }
}

/// Puts the connection's [`PeerInfo`] into each request's extensions.
#[derive(Clone)]
struct WithPeer<S> {
    peer: PeerInfo,
    inner: S,
}

impl<S: Service<Request<Incoming>>> Service<Request<Incoming>> for WithPeer<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn call(&self, mut req: Request<Incoming>) -> Self::Future {
        req.extensions_mut().insert(self.peer.clone());
        self.inner.call(req)
    }
}
