//! The probe: is anybody listening on a socket? One non-blocking
//! `connect`, closed at once. Only a socket that refuses the connection is
//! stale; bind, `clean_stale` and `inspect` all apply this one rule.

use std::os::fd::AsRawFd;

use nix::errno::Errno;
use nix::sys::socket::{self, UnixAddr};

use crate::sys::{self, PeerCred};

/// What connecting to a socket address showed.
#[derive(Debug)]
pub(crate) enum Probe {
    /// Nothing is at the path any more.
    Gone,
    /// A server accepted the connection (or has it in its queue): who it is.
    Live(PeerCred),
    /// A server is listening but its accept queue is full.
    QueueFull,
    /// Nobody listens: the connection was refused.
    Stale,
    /// Anything else (EACCES, say): the socket is not provably stale.
    Failed(Errno),
}

/// Connects once to `addr` and closes the connection. `Err` only when no
/// socket could be made to probe with.
pub(crate) fn probe(addr: &UnixAddr) -> nix::Result<Probe> {
    let fd = sys::stream_socket()?;
    Ok(match socket::connect(fd.as_raw_fd(), addr) {
        Ok(()) | Err(Errno::EINPROGRESS) => Probe::Live(sys::peer_cred(&fd)),
        Err(Errno::EAGAIN) => Probe::QueueFull,
        Err(Errno::ECONNREFUSED) => Probe::Stale,
        Err(Errno::ENOENT) => Probe::Gone,
        Err(errno) => Probe::Failed(errno),
    })
}
