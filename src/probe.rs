//! The probe: is anybody listening on a socket? One non-blocking
//! `connect`, closed at once. Only a socket that refuses the connection is
//! stale; the classification ([`crate::classify`]) and the leftover sweep
//! both apply this one rule.
//!
//! A socket in a directory is reached through the directory's descriptor
//! ([`probe_at`], by the route [`EntryRef::reach`] decides), never by its
//! path again: on Linux through `/proc/self/fd/N/name`, on FreeBSD with
//! `connectat`. Where neither route exists (no `/proc`, macOS, NetBSD),
//! the path is probed and the directory's identity checked afterwards,
//! and a directory that was swapped meanwhile is reported as
//! [`Probe::Redirected`] rather than trusted.

use std::os::fd::AsFd;
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::sys::socket;
use nix::sys::stat::{Mode, fstat};

use crate::entry::{EntryRef, Reach};
use crate::stat::same_inode;
use crate::sys::{self, PeerCred, Where};

/// The type of a live socket: what a probe connection of that type
/// reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SocketType {
    /// `SOCK_STREAM`: a listening server.
    Stream,
    /// `SOCK_DGRAM`: a bound receiver (a log or metrics daemon, `/dev/log`).
    Datagram,
    /// `SOCK_SEQPACKET`: a listening server of records.
    SeqPacket,
}

impl SocketType {
    /// "stream", "datagram" or "seqpacket".
    pub fn as_str(self) -> &'static str {
        match self {
            SocketType::Stream => "stream",
            SocketType::Datagram => "datagram",
            SocketType::SeqPacket => "seqpacket",
        }
    }

    fn sock_type(self) -> socket::SockType {
        match self {
            SocketType::Stream => socket::SockType::Stream,
            SocketType::Datagram => socket::SockType::Datagram,
            SocketType::SeqPacket => socket::SockType::SeqPacket,
        }
    }
}

/// What connecting to a socket address showed.
#[derive(Debug)]
pub(crate) enum Probe {
    /// Nothing is at the path any more.
    Gone,
    /// A socket of this type took the connection (or has it in its queue):
    /// who it is, as far as its type tells (a datagram socket does not).
    Live(PeerCred, SocketType),
    /// A server is listening but its accept queue is full.
    QueueFull,
    /// Nobody listens: the connection was refused.
    Stale,
    /// Anything else (EACCES, say): the socket is not provably stale.
    Failed(Errno),
    /// The directory's path named another directory by the time the probe
    /// by path was made: what answered is not what we opened.
    Redirected,
}

/// Probes the socket at `socket` (by its path only where there is no
/// route through the directory's descriptor, [`EntryRef::reach`]).
/// `held_here`: a live listener of this process holds it, so an answer
/// from this process is final.
pub(crate) fn probe_at(socket: EntryRef<'_>, held_here: bool) -> nix::Result<Probe> {
    let probe = |at: &Where<'_>| {
        if held_here {
            connect_once(at)
        } else {
            probe(at)
        }
    };
    let by_path = match socket.reach(false) {
        Reach::Descriptor(through) => return probe(&through),
        by_path @ Reach::Path(_) => by_path,
    };
    let found = probe(&by_path.address()?)?;
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let same = open(socket.dir_path(), flags, Mode::empty())
        .and_then(|now| Ok(same_inode(&fstat(&now)?, &fstat(socket.dir())?)))
        .unwrap_or(false);
    Ok(if same { found } else { Probe::Redirected })
}

/// Connects once to `addr` and closes the connection. `Err` only when no
/// socket could be made to probe with.
///
/// A listener of this very process that answers is probed again for a few
/// milliseconds (up to 31 ms): a child spawned by another thread holds a
/// copy of every listener between its `fork` and its `exec`, including one
/// this process has just closed, and that copy answers for it until the
/// `exec`.
pub(crate) fn probe(at: &Where<'_>) -> nix::Result<Probe> {
    let mut pause = Duration::from_millis(1);
    loop {
        let found = connect_once(at)?;
        let ours = matches!(&found, Probe::Live(p, _) if p.pid == Some(std::process::id() as i32));
        if !ours || pause > Duration::from_millis(16) {
            return Ok(found);
        }
        std::thread::sleep(pause);
        pause *= 2;
    }
}

/// A stream connection first; a socket of another type refuses it with
/// EPROTOTYPE, and is tried as a datagram, then a seqpacket socket. A
/// socket file nobody holds refuses every type: stale, whatever its type.
fn connect_once(at: &Where<'_>) -> nix::Result<Probe> {
    for kind in [
        SocketType::Stream,
        SocketType::Datagram,
        SocketType::SeqPacket,
    ] {
        let fd = sys::unix_socket(kind.sock_type())?;
        return Ok(match sys::connect(fd.as_fd(), at) {
            Err(Errno::EPROTOTYPE) => continue,
            Ok(()) | Err(Errno::EINPROGRESS) => Probe::Live(
                match kind {
                    // SO_PEERCRED names the peer of a connection only.
                    SocketType::Datagram => PeerCred::default(),
                    _ => sys::peer_cred(&fd),
                },
                kind,
            ),
            Err(Errno::EAGAIN) => Probe::QueueFull,
            Err(Errno::ECONNREFUSED) => Probe::Stale,
            Err(Errno::ENOENT) => Probe::Gone,
            Err(errno) => Probe::Failed(errno),
        });
    }
    Ok(Probe::Failed(Errno::EPROTOTYPE))
}
