//! tokio-util 0.7: `SafeUnixListener` as a [`tokio_util::net::Listener`],
//! for code written over any listener.

use std::io;
use std::task::{Context, Poll};

use tokio::net::UnixStream;
use tokio::net::unix::SocketAddr;

use crate::listener::SafeUnixListener;

/// `fn serve<L: tokio_util::net::Listener>(l: L)` takes it as is, with
/// the rules of [`SafeUnixListener::poll_accept`] and
/// [`SafeUnixListener::local_addr`].
///
/// ```
/// use safe_unix_listener::SafeUnixListener;
/// use tokio_util::net::Listener;
///
/// async fn first_peer<L: Listener>(mut listener: L) -> std::io::Result<L::Addr> {
///     Ok(listener.accept().await?.1)
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let listener = SafeUnixListener::bind_temp()?;
/// let _client = listener.addr().connect().await?;
/// let peer = first_peer(listener).await?;
/// assert!(peer.is_unnamed());
/// # Ok(()) }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "tokio-util")))]
impl tokio_util::net::Listener for SafeUnixListener {
    type Io = UnixStream;
    type Addr = SocketAddr;

    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<(UnixStream, SocketAddr)>> {
        SafeUnixListener::poll_accept(self, cx)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        SafeUnixListener::local_addr(self)
    }
}
