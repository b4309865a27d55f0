//! What a bound socket removes when it drops: nothing (an abstract name, a
//! passed socket), its file if it is still ours ([`UnlinkGuard`]), or that
//! and the temporary directory [`bind_temp`](crate::SafeUnixListener::bind_temp)
//! made. Shared by the listener and the datagram receiver.

use crate::guard::{UnlinkGuard, Unlinked};
use crate::temp::TempSocket;

/// What a listener or receiver removes when it drops.
#[derive(Debug)]
pub(crate) enum Cleanup {
    /// Nothing: an abstract name, or a socket the service manager passed.
    Nothing,
    /// The socket file, if it is still ours.
    Socket(UnlinkGuard),
    /// The socket and the temporary directory `bind_temp` made for it.
    TempDir(TempSocket),
}

impl Cleanup {
    /// Turns the removal off or back on.
    pub(crate) fn set_armed(&mut self, armed: bool) {
        match self {
            Cleanup::Nothing => {}
            Cleanup::Socket(guard) => guard.ours().set_armed(armed),
            Cleanup::TempDir(temp) => temp.ours().into_iter().for_each(|o| o.set_armed(armed)),
        }
    }

    pub(crate) fn is_armed(&self) -> bool {
        match self {
            Cleanup::Nothing => false,
            Cleanup::Socket(guard) => guard.is_armed(),
            Cleanup::TempDir(temp) => temp.is_armed(),
        }
    }

    /// Removes now what the drop would remove, and disarms.
    pub(crate) fn unlink_now(&mut self) -> Unlinked {
        match self {
            Cleanup::Nothing => Unlinked::NotArmed,
            Cleanup::Socket(guard) => guard.unlink_now(),
            Cleanup::TempDir(temp) => temp.unlink_now(),
        }
    }
}

/// Removes a socket file when it drops, by the same rules as the listener
/// it came from: only if the path still leads to the socket that was bound,
/// and never in a forked child. From
/// [`SafeUnixListener::into_parts`](crate::SafeUnixListener::into_parts).
#[derive(Debug)]
#[must_use = "dropping it at once removes the socket file"]
pub struct UnlinkOnDrop(Cleanup);

impl UnlinkOnDrop {
    pub(crate) fn new(cleanup: Cleanup) -> Self {
        Self(cleanup)
    }

    /// Whether dropping it will remove a file (if it is still the same
    /// inode then): not for an abstract name, an adopted socket, or a
    /// listener whose unlink on drop was turned off.
    pub fn is_armed(&self) -> bool {
        self.0.is_armed()
    }

    /// Turns the removal off or back on.
    pub fn set_armed(&mut self, armed: bool) {
        self.0.set_armed(armed);
    }

    /// Removes the socket file now, by the same rules as the drop (only if
    /// the path still leads to the socket that was bound, never in a forked
    /// child), and disarms, so that the drop does nothing more. Returns what
    /// it did.
    ///
    /// Drops do not run when a program leaves through
    /// [`std::process::exit`], or is ended by a signal it does not handle:
    /// call this first, from the shutdown handler or the panic hook.
    ///
    /// ```
    /// use safe_unix_listener::{SafeUnixListener, Unlinked};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.sock");
    /// let (_listener, mut unlink) = SafeUnixListener::bind(&path)?.into_parts();
    /// assert_eq!(unlink.unlink_now(), Unlinked::Removed);
    /// assert!(!path.exists());
    /// assert_eq!(unlink.unlink_now(), Unlinked::NotArmed); // done already
    /// # Ok(()) }
    /// ```
    pub fn unlink_now(&mut self) -> Unlinked {
        self.0.unlink_now()
    }
}
