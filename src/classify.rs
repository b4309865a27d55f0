//! What is at a socket path, and what a bind does about it: the one
//! classification that the bind, [`clean_stale`](crate::diagnosis::clean_stale) and
//! [`inspect`](crate::diagnosis::inspect) all use, so that an inspection predicts the
//! bind by construction.
//!
//! Everything is looked at through the directory's descriptor, without
//! following a link, and a socket is probed through that descriptor too
//! ([`crate::probe`]). What a probe showed becomes a [`Found`] in one
//! function, [`found_by_probe`], which `inspect` uses for abstract names
//! too.

use std::os::fd::BorrowedFd;

use nix::errno::Errno;
use nix::sys::stat::{FileStat, fstat};
use nix::unistd::geteuid;

use crate::entry::EntryRef;
use crate::error::{BindError, Op};
use crate::escape;
use crate::guard;
use crate::probe::{Probe, SocketType, probe_at};
use crate::stat::{FileType, describe, is_socket, permissions};
use crate::sys::{self, Cap, Caps};

/// What is at the address.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Found {
    /// Nothing: a bind would take the address.
    Free,
    /// A socket nobody listens on (a connection is refused).
    Stale {
        /// The socket file.
        file: FileInfo,
        /// Whether we may remove it; if not,
        /// [`bind`](crate::diagnosis::Inspection::bind) says why.
        removable: bool,
    },
    /// A server accepted the probe connection.
    Live(LiveServer),
    /// A server is listening, but its accept queue is full.
    QueueFull,
    /// Something other than a socket; it is never removed.
    NotASocket(FileInfo),
    /// We may not look at the path, or not connect to the socket there
    /// (EACCES or EPERM): it cannot be proved stale.
    NoAccess,
    /// The directory that should hold the socket does not exist.
    ParentMissing,
    /// Something else went wrong;
    /// [`bind`](crate::diagnosis::Inspection::bind) says what.
    Unknown,
}

impl Found {
    /// Free, stale, live or blocked.
    pub fn verdict(&self) -> Verdict {
        match self {
            Found::Free => Verdict::Free,
            Found::Stale { .. } => Verdict::Stale,
            Found::Live(_) | Found::QueueFull => Verdict::Live,
            _ => Verdict::Blocked,
        }
    }
}

/// What [`Found::verdict`] sums up, for scripts: the `sul inspect` exit
/// code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// Nothing at the address.
    Free,
    /// A stale socket, removable or not.
    Stale,
    /// A server listens (or its queue is full).
    Live,
    /// Something else is in the way: not a socket, no access, no parent
    /// directory.
    Blocked,
}

/// A file's type, owner and permission bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileInfo {
    /// A socket, a regular file, a symbolic link, …
    pub file_type: FileType,
    /// The owner's uid.
    pub uid: u32,
    /// The group's gid.
    pub gid: u32,
    /// The permission bits, such as `0o755`.
    pub mode: u32,
}

/// The server behind a live socket, from the probe connection's peer
/// credentials, as far as the platform tells (the pid and command line on
/// Linux; the uid and gid on macOS and the BSDs too).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LiveServer {
    /// Its process id.
    pub pid: Option<i32>,
    /// Its effective uid when it bound the socket.
    pub uid: Option<u32>,
    /// Its effective gid when it bound the socket.
    pub gid: Option<u32>,
    /// Its command line, arguments joined by spaces, from `/proc`: at most
    /// the first 4 KiB, with ` …(cut)` where it was longer, and escaped as
    /// every text from another process is (control and format characters,
    /// invalid UTF-8).
    pub command: Option<String>,
    /// The type of its socket. A datagram socket tells no pid, uid or gid.
    pub socket_type: SocketType,
}

/// What a bind does next.
#[derive(Debug)]
pub(crate) enum Next {
    /// Nothing is there: bind.
    Create,
    /// A stale socket is there: remove it (if the path still names it),
    /// then bind. With whether we may remove it, as far as permissions
    /// tell without trying.
    RemoveStale(FileStat, Result<(), Errno>),
    /// A takeover: a socket is there, live or not, and is swapped out.
    Replace,
}

/// What is at a name in a directory we opened, and what a bind does next,
/// or the error it gives.
#[derive(Debug)]
pub(crate) struct Classified {
    pub(crate) found: Found,
    pub(crate) next: Result<Next, BindError>,
}

/// Classifies what is at `at`. A takeover does not probe: any socket is
/// replaced, and `found` is then [`Found::Unknown`].
pub(crate) fn classify(at: EntryRef<'_>, takeover: bool) -> Classified {
    let (dir, path) = (at.dir(), at.path());
    let done = |found, next| Classified { found, next };
    let st = match at.lstat() {
        Ok(None) => return done(Found::Free, Ok(Next::Create)),
        Ok(Some(st)) => st,
        Err(errno) => {
            let found = match errno {
                Errno::EACCES | Errno::EPERM => Found::NoAccess,
                _ => Found::Unknown,
            };
            return done(found, Err(at.os_error(Op::LookUp, errno)));
        }
    };
    if !is_socket(&st) {
        let e = BindError::not_a_socket(path, describe(&st));
        return done(Found::NotASocket(file_info(&st)), Err(e));
    }
    if takeover {
        return done(Found::Unknown, Ok(Next::Replace));
    }
    let probed = probe_at(at, guard::held_here(&st));
    let mut removal = Ok(());
    let found = found_by_probe(&probed, || {
        removal = may_remove(dir, &st);
        Found::Stale {
            file: file_info(&st),
            removable: removal.is_ok(),
        }
    });
    let next = match probed {
        Ok(Probe::Gone) => Ok(Next::Create),
        Ok(Probe::Stale) => Ok(Next::RemoveStale(st, removal)),
        Ok(Probe::Live(peer, ty)) => Err(BindError::live(path.display(), Some(path), peer.pid, ty)),
        Ok(Probe::QueueFull) => Err(BindError::backlog_full(path)),
        Ok(Probe::Failed(errno @ (Errno::EACCES | Errno::EPERM))) => {
            Err(at.os_error(Op::ProbeSocket, errno))
        }
        Ok(Probe::Failed(errno)) => Err(BindError::unprobeable(path, errno)),
        Ok(Probe::Redirected) => Err(BindError::raced(
            Op::ProbeSocket,
            path,
            crate::explain::Race::DirReplacedWhileProbed,
        )),
        Err(errno) => Err(BindError::os(Op::ProbeSocket, path, errno)),
    };
    done(found, next)
}

/// What a probe showed, as [`Found`]: the one mapping, for a socket file
/// and an abstract name alike. `stale` is what a refused connection means
/// there: a stale socket file, or, for an abstract name, which has no
/// file, a free name.
pub(crate) fn found_by_probe(probed: &nix::Result<Probe>, stale: impl FnOnce() -> Found) -> Found {
    match probed {
        Ok(Probe::Gone) => Found::Free,
        Ok(Probe::Stale) => stale(),
        Ok(Probe::Live(peer, ty)) => Found::Live(server(*peer, *ty)),
        Ok(Probe::QueueFull) => Found::QueueFull,
        Ok(Probe::Failed(Errno::EACCES | Errno::EPERM)) => Found::NoAccess,
        // Not provably anything; a probe by path that reached another
        // directory than the one opened says nothing either.
        Ok(Probe::Failed(_) | Probe::Redirected) | Err(_) => Found::Unknown,
    }
}

/// Whether we may remove the file `st` from `dir`, without trying: write
/// and search on the directory (else EACCES, or EROFS), and in a sticky
/// directory, owning the file or the directory, or holding `CAP_FOWNER`
/// (else EPERM): what the kernel grants, not whether we are uid 0.
fn may_remove(dir: BorrowedFd<'_>, st: &FileStat) -> Result<(), Errno> {
    sys::may_write_dir(dir)?;
    let dir_st = fstat(dir)?;
    let euid = geteuid().as_raw();
    let sticky = dir_st.st_mode & 0o1000 != 0;
    let owner = euid == st.st_uid || euid == dir_st.st_uid;
    if sticky && !owner && !Caps::now().has(Cap::Fowner) {
        return Err(Errno::EPERM);
    }
    Ok(())
}

fn file_info(st: &FileStat) -> FileInfo {
    FileInfo {
        file_type: FileType::of(st),
        uid: st.st_uid,
        gid: st.st_gid,
        mode: permissions(st),
    }
}

/// The server behind a probe connection.
fn server(peer: sys::PeerCred, socket_type: SocketType) -> LiveServer {
    let command = peer.pid.and_then(sys::command_line).map(|(raw, cut)| {
        let args: Vec<String> = raw
            .split(|&b| b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| escape::Shown(a).to_string())
            .collect();
        let mut line = args.join(" ");
        if cut {
            line.push_str(" …(cut)");
        }
        line
    });
    LiveServer {
        socket_type,
        pid: peer.pid,
        uid: peer.uid,
        gid: peer.gid,
        command: command.filter(|c| !c.is_empty()),
    }
}
