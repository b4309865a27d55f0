//! axum 0.8: `SafeUnixListener` as an [`axum::serve::Listener`], and
//! [`PeerInfo`] as connect-info.

use std::io;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::net::UnixStream;
use tokio::net::unix::SocketAddr;

use crate::listener::SafeUnixListener;
use crate::peer::PeerInfo;

/// `axum::serve(listener, app)` works as is.
///
/// Connection errors are retried at once. Other errors (EMFILE and the
/// like) are logged at `error` and retried after the listener's back-off
/// (5 ms, doubling up to 1 s): never a hang, never a busy loop.
///
/// ```no_run
/// use axum::{Router, extract::ConnectInfo, routing::get};
/// use safe_unix_listener::{PeerInfo, SafeUnixListener, shutdown_signal};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let app = Router::new().route(
///     "/",
///     get(|ConnectInfo(peer): ConnectInfo<PeerInfo>| async move {
///         format!("hello, uid {:?}\n", peer.uid())
///     }),
/// );
/// let listener = SafeUnixListener::bind("/run/app/app.sock")?;
/// axum::serve(listener, app.into_make_service_with_connect_info::<PeerInfo>())
///     .with_graceful_shutdown(shutdown_signal()?)
///     .await
/// # }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
impl Listener for SafeUnixListener {
    type Io = UnixStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (UnixStream, SocketAddr) {
        loop {
            match SafeUnixListener::accept(self).await {
                Ok(conn) => return conn,
                Err(e) => {
                    tracing::error!(addr = %self.addr(), error = %e, "accept failed; retrying after a pause")
                }
            }
        }
    }

    /// The address the listener was asked to bind, as
    /// [`SafeUnixListener::addr`] (the kernel's own name differs in the
    /// cases [`SafeUnixListener::local_addr`] lists).
    fn local_addr(&self) -> io::Result<SocketAddr> {
        match self.addr().as_path() {
            Some(path) => Ok(std::os::unix::net::SocketAddr::from_pathname(path)?.into()),
            None => self.as_ref().local_addr(),
        }
    }
}

/// For `into_make_service_with_connect_info::<PeerInfo>()`.
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
impl Connected<IncomingStream<'_, SafeUnixListener>> for PeerInfo {
    fn connect_info(stream: IncomingStream<'_, SafeUnixListener>) -> Self {
        PeerInfo::new(stream.io(), stream.remote_addr().clone())
    }
}
