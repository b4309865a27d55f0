//! What a bound socket removes when it drops: nothing (an abstract name, a
//! passed socket), its file if it is still ours ([`UnlinkGuard`]), or that
//! and the temporary directory [`bind_temp`](crate::SafeUnixListener::bind_temp)
//! made. Shared by the listener and the datagram receiver.

use crate::guard::UnlinkGuard;
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
}
