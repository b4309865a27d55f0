//! [`inspect`]: what is at a socket address, who owns it, whether anyone
//! listens, and what a bind would do, found without changing anything; and
//! [`clean_stale`], which removes a provably stale socket as a bind would.
//!
//! Both use the bind's own steps and rules ([`crate::bind`],
//! [`crate::probe`], [`crate::lock`], [`crate::parent`]), so an inspection
//! predicts what a bind then does.

use std::ffi::OsStr;
use std::fmt;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::sys::socket;
use nix::sys::stat::FileStat;
use nix::unistd::geteuid;

use crate::addr::{AddrView, UnixAddr};
use crate::error::{BindError, BindErrorKind, Op, parent_dir};
use crate::probe::{Probe, probe};
use crate::stat::{describe, is_socket, lstat_at, permissions};
use crate::{bind, lock, parent, sys};

/// Looks at `addr` the way a bind would, and changes nothing.
///
/// It looks at the path without following a link, and may open one
/// connection to a socket there, closing it at once, to see whether anyone
/// listens (the server sees a connection that closes without a byte). It
/// tries a shared `flock` on `<path>.lock` and releases it at once, to see
/// whether a bind holds it. It never creates or removes anything.
///
/// ```
/// use safe_unix_listener::{Found, SafeUnixListener, inspect};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let addr = dir.path().join("app.sock").try_into()?;
/// assert_eq!(inspect(&addr).found(), &Found::Free);
///
/// let listener = SafeUnixListener::builder(addr.clone()).bind()?;
/// let report = inspect(&addr);
/// assert!(matches!(report.found(), Found::Live(_)));
/// assert_eq!(
///     report.predicted_bind(),
///     Err(safe_unix_listener::BindErrorKind::InUse)
/// );
/// println!("{report}");
/// # drop(listener);
/// # Ok(()) }
/// ```
pub fn inspect(addr: &UnixAddr) -> Inspection {
    match addr.view() {
        AddrView::Path(path) => inspect_path(addr, path),
        AddrView::Abstract(name) => inspect_abstract(addr, name),
    }
}

/// Removes the socket at `addr` if it is provably stale, under the bind lock
/// and with the same checks as a bind: `Ok(true)` if it removed one,
/// `Ok(false)` if nothing was there (or `addr` is an abstract name, which
/// has no file). A live socket, anything that is not a socket, and a socket
/// we may not remove are left alone, with the [`BindError`] a bind would
/// give.
///
/// ```
/// use safe_unix_listener::{BindErrorKind, clean_stale};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("app.sock");
/// drop(std::os::unix::net::UnixListener::bind(&path)?); // a dead server's socket
/// assert_eq!(clean_stale(&path.clone().try_into()?)?, true);
/// assert!(!path.exists());
///
/// std::fs::write(&path, "data")?;
/// let err = clean_stale(&path.clone().try_into()?).unwrap_err();
/// assert_eq!(err.kind(), BindErrorKind::NotASocket);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn clean_stale(addr: &UnixAddr) -> Result<bool, BindError> {
    match addr.view() {
        AddrView::Path(path) => bind::clean_path(path),
        AddrView::Abstract(_) => Ok(false),
    }
}

/// What [`inspect`] found at an address, the facts behind it, and what a
/// bind with the default options would do. `Display` is a short report.
#[derive(Debug)]
pub struct Inspection {
    addr: UnixAddr,
    found: Found,
    bind_error: Option<BindError>,
    parent_error: Option<BindError>,
    lock: LockState,
}

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
        /// [`bind_error`](Inspection::bind_error) says why.
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
    /// Something else went wrong; [`bind_error`](Inspection::bind_error)
    /// says what.
    Unknown,
}

/// A file's type, owner and permission bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileInfo {
    /// "socket", "regular file", "symbolic link", "directory", "FIFO", …
    pub file_type: &'static str,
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
    /// Its command line, arguments joined by spaces, from `/proc`.
    pub command: Option<String>,
}

/// The bind lock at `<path>.lock`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LockState {
    /// There is no lock file (or the address is an abstract name).
    None,
    /// A lock file, not held.
    Free,
    /// A lock file held by another process: a bind in progress, or
    /// something holding it on purpose.
    Held,
    /// Something other than a regular file is at the lock's path; a bind
    /// fails with [`LockFile`](BindErrorKind::LockFile).
    Unusable,
}

/// What [`Inspection::verdict`] sums up, for scripts: the `sul inspect`
/// exit code.
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

impl Inspection {
    /// The address inspected.
    pub fn addr(&self) -> &UnixAddr {
        &self.addr
    }

    /// What is at the address.
    pub fn found(&self) -> &Found {
        &self.found
    }

    /// Free, stale, live or blocked.
    pub fn verdict(&self) -> Verdict {
        match self.found {
            Found::Free => Verdict::Free,
            Found::Stale { .. } => Verdict::Stale,
            Found::Live(_) | Found::QueueFull => Verdict::Live,
            _ => Verdict::Blocked,
        }
    }

    /// The error a bind with the default options would give now, if it
    /// would fail: the same sentence, with the owner, our uid and a fix.
    pub fn bind_error(&self) -> Option<&BindError> {
        self.bind_error.as_ref()
    }

    /// What a bind with the default options would do now: `Ok` if it would
    /// succeed (removing a stale socket first), or the kind of its error.
    pub fn predicted_bind(&self) -> Result<(), BindErrorKind> {
        self.bind_error.as_ref().map_or(Ok(()), |e| Err(e.kind()))
    }

    /// Why [`Builder::check_parent`](crate::Builder::check_parent) would
    /// refuse the directories above the socket (OpenSSH's StrictModes
    /// rule), or `None` if they pass (or the address is abstract).
    pub fn parent_error(&self) -> Option<&BindError> {
        self.parent_error.as_ref()
    }

    /// The bind lock.
    pub fn lock(&self) -> LockState {
        self.lock
    }
}

impl fmt::Display for Inspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = |f: &mut fmt::Formatter<'_>, i: &FileInfo| {
            writeln!(
                f,
                "  file: {}, owner uid {}, group gid {}, mode {:04o}",
                i.file_type, i.uid, i.gid, i.mode
            )
        };
        write!(f, "{}: ", self.addr)?;
        match &self.found {
            Found::Free => writeln!(f, "free: nothing is there")?,
            Found::Stale { file: i, removable } => {
                writeln!(f, "a stale socket: nobody listens (connection refused)")?;
                file(f, i)?;
                match removable {
                    true => writeln!(f, "  removable: yes, by us (uid {})", geteuid())?,
                    false => writeln!(f, "  removable: no, not by us (uid {})", geteuid())?,
                }
            }
            Found::Live(server) => {
                writeln!(f, "a live server is listening")?;
                let id = |v: Option<u32>| v.map_or("?".to_owned(), |v| v.to_string());
                match server.pid {
                    Some(pid) => write!(f, "  server: pid {pid}")?,
                    None => write!(f, "  server: pid unknown")?,
                }
                write!(f, ", uid {}, gid {}", id(server.uid), id(server.gid))?;
                match &server.command {
                    Some(command) => writeln!(f, ": {command}")?,
                    None => writeln!(f)?,
                }
            }
            Found::QueueFull => writeln!(f, "a live server, with its accept queue full")?,
            Found::NotASocket(i) => {
                writeln!(
                    f,
                    "not a socket but a {}, which is never removed",
                    i.file_type
                )?;
                file(f, i)?;
            }
            Found::NoAccess => writeln!(f, "cannot be inspected by us (uid {})", geteuid())?,
            Found::ParentMissing => writeln!(f, "its directory does not exist")?,
            Found::Unknown => writeln!(f, "cannot tell what is there")?,
        }
        match self.lock {
            LockState::None => {}
            LockState::Free => writeln!(f, "  bind lock: free")?,
            LockState::Held => writeln!(f, "  bind lock: held by another process")?,
            LockState::Unusable => writeln!(f, "  bind lock: not a regular file")?,
        }
        if !self.addr.is_abstract() {
            match &self.parent_error {
                None => writeln!(f, "  directories above: safe (StrictModes)")?,
                Some(e) => writeln!(f, "  directories above: unsafe: {e}")?,
            }
        }
        match (&self.bind_error, &self.found) {
            (None, Found::Stale { .. }) => {
                write!(f, "  a bind now: removes the stale socket and succeeds")
            }
            (None, _) => write!(f, "  a bind now: succeeds"),
            (Some(e), _) => write!(f, "  a bind now: fails: {e}"),
        }
    }
}

fn inspect_abstract(addr: &UnixAddr, name: &[u8]) -> Inspection {
    let mut report = Inspection {
        addr: addr.clone(),
        found: Found::Free,
        bind_error: None,
        parent_error: None,
        lock: LockState::None,
    };
    let Some(sockaddr) = sys::abstract_sockaddr(name) else {
        report.found = Found::Unknown;
        report.bind_error = Some(BindError::unsupported_abstract(addr));
        return report;
    };
    let in_use = || Some(BindError::abstract_failed(addr, Errno::EADDRINUSE));
    match probe(&sockaddr) {
        // Refused: nobody listens. (A name bound by a socket that never
        // listens looks the same, and a bind would then fail.)
        Ok(Probe::Stale | Probe::Gone) => {}
        Ok(Probe::Live(peer)) => {
            report.found = Found::Live(server(peer));
            report.bind_error = in_use();
        }
        Ok(Probe::QueueFull) => {
            report.found = Found::QueueFull;
            report.bind_error = in_use();
        }
        Ok(Probe::Failed(errno)) | Err(errno) => {
            report.found = Found::Unknown;
            report.bind_error = Some(BindError::abstract_failed(addr, errno));
        }
    }
    report
}

fn inspect_path(addr: &UnixAddr, path: &Path) -> Inspection {
    let dir_path = parent_dir(path);
    let mut report = Inspection {
        addr: addr.clone(),
        found: Found::Unknown,
        bind_error: None,
        parent_error: parent::check_chain(path, dir_path).err(),
        lock: LockState::None,
    };
    let Some(name) = path.file_name() else {
        return report;
    };
    let dir = match parent::open_dir(path, dir_path) {
        Ok(dir) => dir,
        Err(e) => {
            report.found = match e.kind() {
                BindErrorKind::ParentMissing => Found::ParentMissing,
                BindErrorKind::PermissionDenied => Found::NoAccess,
                _ => Found::Unknown,
            };
            report.bind_error = Some(e);
            return report;
        }
    };
    let dir = dir.as_fd();
    let lock_error;
    (report.lock, lock_error) = lock::look(dir, dir_path, name);
    let (found, error) = look_at_path(dir, path, name);
    report.found = found;
    // The bind takes the lock before it looks at the path.
    report.bind_error = lock_error.or(error);
    if report.lock == LockState::Held && report.bind_error.is_none() {
        let lock_path = dir_path.join(lock::lock_name(name));
        report.bind_error = Some(BindError::lock_busy(&lock_path, lock::LOCK_TIMEOUT, None));
    }
    report
}

/// What is at `name` in `dir`, and the error a bind would give.
fn look_at_path(dir: BorrowedFd<'_>, path: &Path, name: &OsStr) -> (Found, Option<BindError>) {
    let st = match lstat_at(dir, name) {
        Ok(Some(st)) => st,
        Ok(None) => return (Found::Free, may_create(dir, path).err()),
        Err(errno) => {
            return (
                no_access_or_unknown(errno),
                Some(BindError::os(Op::LookUp, path, errno)),
            );
        }
    };
    if !is_socket(&st) {
        return (
            Found::NotASocket(file_info(&st)),
            Some(BindError::not_a_socket(path, describe(&st))),
        );
    }
    let probed = socket::UnixAddr::new(path).and_then(|a| probe(&a));
    match probed {
        Ok(Probe::Gone) => (Found::Free, may_create(dir, path).err()),
        Ok(Probe::Live(peer)) => (
            Found::Live(server(peer)),
            Some(BindError::live(path.display(), Some(path), peer.pid)),
        ),
        Ok(Probe::QueueFull) => (Found::QueueFull, Some(BindError::backlog_full(path))),
        Ok(Probe::Failed(errno @ (Errno::EACCES | Errno::EPERM))) => (
            Found::NoAccess,
            Some(BindError::os(Op::ProbeSocket, path, errno)),
        ),
        Ok(Probe::Failed(errno)) => (Found::Unknown, Some(BindError::unprobeable(path, errno))),
        Err(errno) => (
            Found::Unknown,
            Some(BindError::os(Op::ProbeSocket, path, errno)),
        ),
        Ok(Probe::Stale) => {
            let removal = may_remove(dir, &st).map_err(|e| BindError::os(Op::RemoveStale, path, e));
            let removed = removal.is_ok();
            let error = removal.err().or_else(|| may_create(dir, path).err());
            let found = Found::Stale {
                file: file_info(&st),
                removable: removed,
            };
            (found, error)
        }
    }
}

fn no_access_or_unknown(errno: Errno) -> Found {
    match errno {
        Errno::EACCES | Errno::EPERM => Found::NoAccess,
        _ => Found::Unknown,
    }
}

/// Whether we may create a file in `dir` (the private directory a bind
/// makes), as the bind would be told.
fn may_create(dir: BorrowedFd<'_>, path: &Path) -> Result<(), BindError> {
    sys::may_write_dir(dir).map_err(|e| BindError::os(Op::Bind, path, e))
}

/// Whether we may remove the file `st` from `dir`: write and search on the
/// directory (else EACCES, or EROFS), and in a sticky directory, owning the
/// file or the directory, or being root (else EPERM).
fn may_remove(dir: BorrowedFd<'_>, st: &FileStat) -> Result<(), Errno> {
    sys::may_write_dir(dir)?;
    let dir_st = nix::sys::stat::fstat(dir)?;
    let euid = geteuid().as_raw();
    let sticky = dir_st.st_mode & 0o1000 != 0;
    if sticky && euid != 0 && euid != st.st_uid && euid != dir_st.st_uid {
        return Err(Errno::EPERM);
    }
    Ok(())
}

fn file_info(st: &FileStat) -> FileInfo {
    FileInfo {
        file_type: describe(st)
            .trim_start_matches("a ")
            .trim_start_matches("an "),
        uid: st.st_uid,
        gid: st.st_gid,
        mode: permissions(st),
    }
}

fn server(peer: sys::PeerCred) -> LiveServer {
    LiveServer {
        pid: peer.pid,
        uid: peer.uid,
        gid: peer.gid,
        command: peer.pid.and_then(sys::command_line),
    }
}
