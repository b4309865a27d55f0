//! Who is at the other end of an accepted connection: [`PeerInfo`], and
//! the access control by peer credentials that decides which connections
//! reach the caller.
//!
//! An abstract socket has no file permissions, and a path socket's
//! permissions are easy to get wrong, so the kernel's record of who
//! connected is the dependable check.

use tokio::net::UnixStream;
use tokio::net::unix::{SocketAddr, UCred};

/// The credentials and address of a connected peer.
///
/// The kernel records the peer's uid, gid and pid when it connects, so they
/// cannot be forged by the client. With the `axum` feature this is axum's
/// connect-info type; with the `hyper` feature it is in every request's
/// extensions.
///
/// ```no_run
/// use safe_unix_listener::{PeerInfo, SafeUnixListener};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let listener = SafeUnixListener::bind("/run/app/app.sock")?;
/// let (stream, addr) = listener.accept().await?;
/// let peer = PeerInfo::new(&stream, addr);
/// if peer.uid() != Some(0) {
///     drop(stream); // root only
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct PeerInfo {
    cred: Option<UCred>,
    addr: SocketAddr,
}

impl PeerInfo {
    /// Reads the peer credentials of an accepted `stream`, whose peer
    /// address is `addr` (as returned by `accept`).
    ///
    /// ```no_run
    /// # use safe_unix_listener::{PeerInfo, SafeUnixListener};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// # let listener = SafeUnixListener::bind("/run/app/app.sock")?;
    /// let (stream, addr) = listener.accept().await?;
    /// println!("{:?}", PeerInfo::new(&stream, addr));
    /// # Ok(()) }
    /// ```
    pub fn new(stream: &UnixStream, addr: SocketAddr) -> Self {
        Self {
            cred: stream.peer_cred().ok(),
            addr,
        }
    }

    /// The peer's user id; `None` if the OS did not say.
    ///
    /// ```no_run
    /// # use safe_unix_listener::{PeerInfo, SafeUnixListener};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// # let listener = SafeUnixListener::bind("/run/app/app.sock")?;
    /// # let (stream, addr) = listener.accept().await?;
    /// let _is_root = PeerInfo::new(&stream, addr).uid() == Some(0);
    /// # Ok(()) }
    /// ```
    pub fn uid(&self) -> Option<u32> {
        self.cred.map(|c| c.uid())
    }

    /// The peer's group id; `None` if the OS did not say.
    ///
    /// ```no_run
    /// # use safe_unix_listener::{PeerInfo, SafeUnixListener};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// # let listener = SafeUnixListener::bind("/run/app/app.sock")?;
    /// # let (stream, addr) = listener.accept().await?;
    /// let _gid = PeerInfo::new(&stream, addr).gid();
    /// # Ok(()) }
    /// ```
    pub fn gid(&self) -> Option<u32> {
        self.cred.map(|c| c.gid())
    }

    /// The peer's process id, where the platform reports it.
    ///
    /// ```no_run
    /// # use safe_unix_listener::{PeerInfo, SafeUnixListener};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// # let listener = SafeUnixListener::bind("/run/app/app.sock")?;
    /// # let (stream, addr) = listener.accept().await?;
    /// let _pid = PeerInfo::new(&stream, addr).pid();
    /// # Ok(()) }
    /// ```
    pub fn pid(&self) -> Option<i32> {
        self.cred.and_then(|c| c.pid())
    }

    /// The peer's socket address (usually unnamed: clients rarely bind).
    ///
    /// ```no_run
    /// # use safe_unix_listener::{PeerInfo, SafeUnixListener};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// # let listener = SafeUnixListener::bind("/run/app/app.sock")?;
    /// # let (stream, addr) = listener.accept().await?;
    /// let _unnamed = PeerInfo::new(&stream, addr).addr().is_unnamed();
    /// # Ok(()) }
    /// ```
    pub fn addr(&self) -> &SocketAddr {
        &self.addr
    }
}

/// The uids and gids allowed to connect; both empty means everyone.
#[derive(Debug, Clone, Default)]
pub(crate) struct PeerFilter {
    uids: Vec<u32>,
    gids: Vec<u32>,
}

impl PeerFilter {
    pub(crate) fn allow_uids(&mut self, uids: impl IntoIterator<Item = u32>) {
        self.uids.extend(uids);
    }

    pub(crate) fn allow_gids(&mut self, gids: impl IntoIterator<Item = u32>) {
        self.gids.extend(gids);
    }

    /// Whether `stream`'s peer may talk to us. Rejections are logged at
    /// `warn` with the peer's pid, uid and gid.
    pub(crate) fn admits(&self, stream: &UnixStream) -> bool {
        if self.uids.is_empty() && self.gids.is_empty() {
            return true;
        }
        match stream.peer_cred() {
            Ok(cred) if self.uids.contains(&cred.uid()) || self.gids.contains(&cred.gid()) => true,
            Ok(cred) => {
                tracing::warn!(
                    pid = cred.pid(),
                    uid = cred.uid(),
                    gid = cred.gid(),
                    "rejected a connection: its uid and gid are not allowed"
                );
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, "rejected a connection: its credentials are unknown");
                false
            }
        }
    }
}
