//! The probe: is anybody listening on a socket? One non-blocking
//! `connect`, closed at once. Only a socket that refuses the connection is
//! stale; the classification ([`crate::classify`]) and the leftover sweep
//! both apply this one rule.
//!
//! A socket in a directory is reached through the directory's descriptor
//! ([`probe_at`]), never by its path again: on Linux through
//! `/proc/self/fd/N/name`, on FreeBSD with `connectat`. Where neither
//! route exists (no `/proc`, macOS, NetBSD), the path is probed and the directory's identity checked
//! afterwards, and a directory that was swapped meanwhile is reported as
//! [`Probe::Redirected`] rather than trusted.

use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::sys::socket::UnixAddr;
use nix::sys::stat::{Mode, fstat};

use crate::stat::same_inode;
use crate::sys::{self, PeerCred, Where};

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
    /// The directory's path named another directory by the time the probe
    /// by path was made: what answered is not what we opened.
    Redirected,
}

/// Probes the socket `name` in the directory open as `dir` (whose path,
/// for the route without `/proc`, is `dir_path`). `held_here`: a live
/// listener of this process holds it, so an answer from this process is
/// final.
pub(crate) fn probe_at(
    dir: BorrowedFd<'_>,
    dir_path: &Path,
    name: &OsStr,
    held_here: bool,
) -> nix::Result<Probe> {
    let probe = |at: &Where<'_>| match held_here {
        true => connect_once(at),
        false => probe(at),
    };
    if let Some(through) = sys::through_dir(dir, name) {
        return probe(&through);
    }
    let found = probe(&Where::Addr(UnixAddr::new(&dir_path.join(name))?))?;
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let same = open(dir_path, flags, Mode::empty())
        .and_then(|now| Ok(same_inode(&fstat(&now)?, &fstat(dir)?)))
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
        let ours = matches!(&found, Probe::Live(p) if p.pid == Some(std::process::id() as i32));
        if !ours || pause > Duration::from_millis(16) {
            return Ok(found);
        }
        std::thread::sleep(pause);
        pause *= 2;
    }
}

fn connect_once(at: &Where<'_>) -> nix::Result<Probe> {
    let fd = sys::stream_socket()?;
    Ok(match sys::connect(fd.as_fd(), at) {
        Ok(()) | Err(Errno::EINPROGRESS) => Probe::Live(sys::peer_cred(&fd)),
        Err(Errno::EAGAIN) => Probe::QueueFull,
        Err(Errno::ECONNREFUSED) => Probe::Stale,
        Err(Errno::ENOENT) => Probe::Gone,
        Err(errno) => Probe::Failed(errno),
    })
}
