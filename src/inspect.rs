//! [`inspect`]: what is at a socket address, who owns it, whether anyone
//! listens, and what a bind would do, found without changing anything; and
//! [`clean_stale`], which removes a provably stale socket as a bind would.
//!
//! Both use the bind's own steps, in the bind's own code
//! ([`crate::bind::open`]): the directory opened once and checked
//! ([`crate::parent`]), the lock ([`crate::lock`]), and the one
//! classification of what is at the path ([`crate::classify`]), so an
//! inspection predicts what a bind then does by construction.

use std::fmt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::unistd::geteuid;

use crate::access;
use crate::addr::{AddrView, UnixAddr};
use crate::bind;
use crate::classify::{FileInfo, Found, Next, found_by_probe};
use crate::error::{BindError, BindErrorKind, Op};
use crate::lock::{self, LockState};
use crate::probe::{Probe, SocketType, probe};
use crate::sys;

/// Looks at `addr` the way a bind would, and changes nothing.
///
/// It looks at the path without following a link, and may open one
/// connection to a socket there, closing it at once, to see whether anyone
/// listens (the server sees a connection that closes without a byte). It
/// tries a shared `flock` on `<path>.lock` and releases it at once, to see
/// whether a bind holds it. It never creates or removes anything.
///
/// ```
/// use safe_unix_listener::SafeUnixListener;
/// use safe_unix_listener::diagnosis::{Found, inspect};
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
///     report.bind().map_err(|e| e.kind()),
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
/// With [`Parents::Check`] it refuses, with
/// [`InsecureParent`](BindErrorKind::InsecureParent) and the reason, a path
/// another user could redirect: a directory on the way (or a symbolic
/// link, or the directory holding one) that is not owned by root or us, or
/// that others may write without the sticky bit (OpenSSH's StrictModes
/// rule, as [`Builder::check_parent`](crate::Builder::check_parent)).
/// Removing a file on behalf of a path someone else can re-point is how a
/// live socket elsewhere gets deleted. [`Parents::Trust`] skips that
/// check.
///
/// # Blocking
///
/// Waits at most 5 s for a bind lock another process holds; see
/// [Blocking](crate#blocking).
///
/// ```
/// use safe_unix_listener::BindErrorKind;
/// use safe_unix_listener::diagnosis::{Parents, clean_stale};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("app.sock");
/// drop(std::os::unix::net::UnixListener::bind(&path)?); // a dead server's socket
/// assert_eq!(clean_stale(&path.clone().try_into()?, Parents::Check)?, true);
/// assert!(!path.exists());
///
/// std::fs::write(&path, "data")?;
/// let err = clean_stale(&path.clone().try_into()?, Parents::Check).unwrap_err();
/// assert_eq!(err.kind(), BindErrorKind::NotASocket);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn clean_stale(addr: &UnixAddr, parents: Parents) -> Result<bool, BindError> {
    match addr.view() {
        AddrView::Path(path) => bind::clean_path(path, parents == Parents::Trust),
        AddrView::Abstract(_) => Ok(false),
    }
}

/// Whether [`clean_stale`] checks the directories above the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Parents {
    /// Refuse a path another user could redirect (OpenSSH's StrictModes
    /// rule). The default, and `sul clean`'s.
    #[default]
    Check,
    /// Trust them, having decided to (`sul clean --trust-parents`).
    ///
    /// What still holds: the directory is resolved once, and the probe,
    /// the lock and the removal all go through what was opened, so a
    /// socket that a server listens on is never removed, whatever the links
    /// on the way do meanwhile (where `/proc` is missing and the probe must
    /// go by path, a directory replaced during it makes this fail with
    /// [`InUse`](BindErrorKind::InUse)). What does not: which directory the
    /// path led to. A user who can re-point a link on the way decides whose
    /// stale socket is removed.
    Trust,
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
    /// A line for each ACL on the socket file and its directory.
    acls: Vec<String>,
    leftovers: Vec<Leftover>,
}

/// What an interrupted bind left beside the socket path, which
/// [`Inspection::leftovers`] reports with who left it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Leftover {
    /// What it is.
    pub kind: LeftoverKind,
    /// Where it is.
    pub path: PathBuf,
    /// Who made it: the owner's uid. A bind run as this uid removes it
    /// (for [`LeftoverKind::LockFile`] and [`LeftoverKind::PrivateDir`]).
    pub uid: u32,
}

/// The kinds of [`Leftover`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LeftoverKind {
    /// `<path>.lock` holding this crate's marker, and not held: a bind
    /// that did not finish made it (before the marker was written from its
    /// first instant, or on a filesystem without `O_TMPFILE`). The next
    /// bind as its owner removes it once it releases the lock.
    LockFile,
    /// An empty `<path>.lock`, not held: a bind killed between creating it
    /// and writing its marker (on a filesystem without `O_TMPFILE`), or a
    /// file somebody else made. No bind removes it, since both look the
    /// same; binds use it as the lock.
    EmptyLockFile,
    /// The private directory `.<name>.sul` beside the socket, not in use
    /// (its lock is free, so the process that made it is gone; to a user
    /// who may not open it, whenever it is there): a bind or takeover that
    /// did not finish. The next bind as its owner removes it
    /// if it holds nothing but a stale socket.
    PrivateDir,
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

    /// What a bind with the default options would do now: `Ok` if it
    /// would succeed (removing a stale socket first), or the error it
    /// would give, the same sentence, with the owner, our uid and a fix.
    pub fn bind(&self) -> Result<(), &BindError> {
        self.bind_error.as_ref().map_or(Ok(()), Err)
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

    /// What interrupted binds left beside the path: a lock file, a private
    /// directory, each with who left it.
    pub fn leftovers(&self) -> &[Leftover] {
        &self.leftovers
    }
}

impl fmt::Display for Leftover {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = crate::escape::shown(&self.path);
        let who = user_named(self.uid);
        match self.kind {
            LeftoverKind::LockFile => write!(
                f,
                "lock file {path}, left by a bind of {who} that did not finish; the next bind as {who} removes it"
            ),
            LeftoverKind::EmptyLockFile => write!(
                f,
                "empty lock file {path}, owned by {who}: left by a bind killed before it wrote its marker, or made by another program; no bind removes it (rm {path} if no other program made it)"
            ),
            LeftoverKind::PrivateDir => write!(
                f,
                "private directory {path}, left by a bind or takeover of {who} that did not finish; the next bind as {who} removes it if it holds nothing but a stale socket"
            ),
        }
    }
}

/// `uid N (name)`, or `uid N` where the uid has no name here.
fn user_named(uid: u32) -> String {
    match nix::unistd::User::from_uid(uid.into()) {
        Ok(Some(user)) => format!("uid {uid} ({})", user.name),
        _ => format!("uid {uid}"),
    }
}

/// The lock file and the private directory of the socket `at`, where an
/// interrupted bind left them: found by their names, with no listing.
fn leftovers(at: crate::entry::EntryRef<'_>, lock: LockState) -> Vec<Leftover> {
    use nix::fcntl::{Flock, FlockArg, OFlag, openat};
    use nix::sys::stat::Mode;
    let mut found = Vec::new();
    let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
    if lock == LockState::Free {
        let file = at.beside(lock::lock_name(at.name()));
        let file = file.at();
        if let (Ok(Some(st)), Ok(fd)) = (
            file.lstat(),
            openat(
                at.dir(),
                file.name(),
                flags | OFlag::O_NOCTTY,
                Mode::empty(),
            ),
        ) {
            let kind = if lock::holds_marker(&fd) {
                Some(LeftoverKind::LockFile)
            } else {
                (st.st_size == 0).then_some(LeftoverKind::EmptyLockFile)
            };
            if let Some(kind) = kind {
                found.push(Leftover {
                    kind,
                    path: file.path().to_owned(),
                    uid: st.st_uid,
                });
            }
        }
    }
    let dir = at.beside(crate::private::own_name(at.name()));
    let dir = dir.at();
    if let Ok(Some(st)) = dir.lstat() {
        // Another user's 0700 directory cannot be opened to try its lock; a
        // bind holds one for well under a millisecond, so it is reported.
        let free = match openat(
            at.dir(),
            dir.name(),
            flags | OFlag::O_DIRECTORY,
            Mode::empty(),
        ) {
            Ok(fd) => Flock::lock(fd, FlockArg::LockSharedNonblock).is_ok(),
            Err(errno) => matches!(errno, Errno::EACCES | Errno::EPERM),
        };
        if crate::stat::file_type(&st) == nix::sys::stat::SFlag::S_IFDIR && free {
            found.push(Leftover {
                kind: LeftoverKind::PrivateDir,
                path: dir.path().to_owned(),
                uid: st.st_uid,
            });
        }
    }
    found
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
        write!(f, "{}: ", self.addr.escaped())?;
        match &self.found {
            Found::Free => writeln!(f, "free: nothing is there")?,
            Found::Stale { file: i, removable } => {
                writeln!(f, "a stale socket: nobody listens (connection refused)")?;
                file(f, i)?;
                match (removable, &self.parent_error) {
                    (true, None) => writeln!(f, "  removable: yes, by us (uid {})", geteuid())?,
                    (true, Some(_)) => writeln!(
                        f,
                        "  removable: by a bind, yes; by clean_stale or sul clean, no: a directory above is unsafe"
                    )?,
                    (false, _) => writeln!(f, "  removable: no, not by us (uid {})", geteuid())?,
                }
            }
            Found::Live(server) => {
                match server.socket_type {
                    SocketType::Datagram => writeln!(f, "a live datagram socket is bound there")?,
                    SocketType::SeqPacket => {
                        writeln!(f, "a live server is listening (a seqpacket socket)")?;
                    }
                    _ => writeln!(f, "a live server is listening")?,
                }
                let id = |v: Option<u32>| v.map_or("?".to_owned(), |v| v.to_string());
                match server.pid {
                    Some(pid) => write!(f, "  server: pid {pid}")?,
                    None => write!(f, "  server: pid unknown")?,
                }
                write!(f, ", uid {}, gid {}", id(server.uid), id(server.gid))?;
                match &server.command {
                    // Escaped when it was read.
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
        for acl in &self.acls {
            writeln!(f, "  acl: {acl}")?;
        }
        for leftover in &self.leftovers {
            writeln!(f, "  leftover: {leftover}")?;
        }
        match self.lock {
            LockState::NoLockFile => {}
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
        lock: LockState::NoLockFile,
        acls: Vec::new(),
        leftovers: Vec::new(),
    };
    let Some(sockaddr) = sys::abstract_sockaddr(name) else {
        report.found = Found::Unknown;
        report.bind_error = Some(BindError::unsupported_abstract(addr));
        return report;
    };
    let probed = probe(&sys::Where::Addr(sockaddr));
    // Refused: nobody listens, and there is no file. (A name bound by a
    // socket that never listens looks the same, and a bind would then
    // fail.)
    report.found = found_by_probe(&probed, || Found::Free);
    report.bind_error = match probed {
        Ok(Probe::Stale | Probe::Gone) => None,
        Ok(Probe::Live(..) | Probe::QueueFull) => {
            Some(BindError::abstract_failed(addr, Errno::EADDRINUSE))
        }
        // Only a probe through a directory can be redirected.
        Ok(Probe::Redirected) => None,
        Ok(Probe::Failed(errno)) | Err(errno) => Some(BindError::abstract_failed(addr, errno)),
    };
    report
}

fn inspect_path(addr: &UnixAddr, path: &Path) -> Inspection {
    let mut report = Inspection {
        addr: addr.clone(),
        found: Found::Unknown,
        bind_error: None,
        parent_error: None,
        lock: LockState::NoLockFile,
        acls: Vec::new(),
        leftovers: Vec::new(),
    };
    let mut opened = match bind::open(path) {
        Ok(opened) => opened,
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
    report.parent_error = opened.dir.unsafe_step.take();
    let (lock, lock_error, classified) = opened.look_and_classify();
    report.lock = lock;
    report.found = classified.found;
    let at = opened.at();
    report.acls = access::describe(at);
    report.leftovers = leftovers(at, lock);
    let error = match classified.next {
        Err(e) => Some(e),
        Ok(Next::RemoveStale(_, Err(errno))) => Some(at.os_error(Op::RemoveStale, errno)),
        Ok(Next::Create | Next::RemoveStale(_, Ok(())) | Next::Replace) => {
            sys::may_write_dir(at.dir())
                .map_err(|e| at.os_error_in_dir(Op::Bind, e))
                .err()
        }
    };
    // The bind takes the lock before it looks at the path.
    report.bind_error = lock_error.or(error);
    if report.lock == LockState::Held && report.bind_error.is_none() {
        let lock_path = at.dir_path().join(lock::lock_name(at.name()));
        report.bind_error = Some(BindError::lock_busy(&lock_path, lock::LOCK_TIMEOUT, None));
    }
    report
}
