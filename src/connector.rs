//! [`UnixConnector`]: a hyper-util client connector that reaches one
//! [`UnixAddr`], whatever the request's host.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper::Uri;
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;

use crate::addr::UnixAddr;

/// Connects every request of a [`hyper_util::client::legacy::Client`] to
/// one Unix socket, a path or an abstract name. The URI's scheme and host
/// only go into the request (`Host:`); its path is the path requested.
///
/// HTTP/1 by default; `Client::builder(…).http2_only(true)` speaks HTTP/2
/// with prior knowledge, as servers over a Unix socket expect.
///
/// ```
/// use http_body_util::Empty;
/// use hyper::body::Bytes;
/// use hyper_util::client::legacy::Client;
/// use hyper_util::rt::TokioExecutor;
/// use safe_unix_listener::SafeUnixListener;
/// use safe_unix_listener::http::{HyperServer, UnixConnector};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let listener = SafeUnixListener::bind_temp()?;
/// # let addr = listener.addr().clone();
/// # let hello = hyper::service::service_fn(|_| async {
/// #     Ok::<_, std::convert::Infallible>(hyper::Response::new(http_body_util::Full::new(Bytes::from("hi"))))
/// # });
/// # tokio::spawn(HyperServer::new(listener).serve(hello, std::future::pending()));
/// let client = Client::builder(TokioExecutor::new())
///     .build::<_, Empty<Bytes>>(UnixConnector::new(addr));
/// let response = client.get("http://localhost/".parse()?).await?;
/// assert_eq!(response.status(), 200);
/// # Ok(()) }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
#[derive(Clone)]
pub struct UnixConnector {
    addr: Arc<UnixAddr>,
}

impl UnixConnector {
    /// A connector to `addr`.
    ///
    /// ```
    /// # use safe_unix_listener::http::UnixConnector;
    /// let connector = UnixConnector::new("@app".parse()?);
    /// assert_eq!(connector.addr().to_string(), "@app");
    /// # Ok::<_, safe_unix_listener::BindError>(())
    /// ```
    pub fn new(addr: UnixAddr) -> Self {
        Self {
            addr: Arc::new(addr),
        }
    }

    /// The address every connection goes to.
    pub fn addr(&self) -> &UnixAddr {
        &self.addr
    }
}

impl fmt::Debug for UnixConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("UnixConnector").field(&*self.addr).finish()
    }
}

impl tower_service::Service<Uri> for UnixConnector {
    type Response = TokioIo<UnixStream>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<TokioIo<UnixStream>>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Uri) -> Self::Future {
        let addr = Arc::clone(&self.addr);
        Box::pin(async move { addr.connect().await.map(TokioIo::new) })
    }
}
