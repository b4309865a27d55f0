//! [`BindError`] and [`BindErrorKind`]: what went wrong, where, why, and how
//! to fix it.
//!
//! Every sentence a user can read is composed in this file, so the wording
//! of all failures can be reviewed in one place.

use std::error::Error;
use std::fmt;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

/// The advice for anything that a shared directory makes hard.
const OWN_DIR_FIX: &str = "bind under a directory this service owns, such as \
     $XDG_RUNTIME_DIR or a systemd RuntimeDirectory=";

/// The operation a [`BindError`] reports, written into its message as
/// "cannot <operation> <target>".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    UseAddress,
    UsePath,
    UseName,
    Bind,
    LookUp,
    LookUpDir,
    CreateDir,
    CreatePrivateDir,
    CreateTempDir,
    ProbeSocket,
    RemoveStale,
    Lock,
    OpenLock,
    CreateSocket,
    SetMode,
    ChangeOwner,
    Listen,
    Register,
    MoveIntoPlace,
    TakeOver,
    UseActivation,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Op::UseAddress => "use address",
            Op::UsePath => "use socket path",
            Op::UseName => "use abstract name",
            Op::Bind => "bind",
            Op::LookUp => "look up",
            Op::LookUpDir => "look up directory",
            Op::CreateDir => "create directory",
            Op::CreatePrivateDir => "create a private directory for",
            Op::CreateTempDir => "create a temporary socket directory in",
            Op::ProbeSocket => "probe socket",
            Op::RemoveStale => "remove stale socket",
            Op::Lock => "take bind lock",
            Op::OpenLock => "open bind lock",
            Op::CreateSocket => "create socket for",
            Op::SetMode => "set mode of",
            Op::ChangeOwner => "change owner of",
            Op::Listen => "listen on",
            Op::Register => "register with Tokio the socket at",
            Op::MoveIntoPlace => "move the new socket to",
            Op::TakeOver => "take over",
            Op::UseActivation => "use the socket passed by",
        }
    }
}

/// What kind of failure a [`BindError`] is.
///
/// Match on this, not on the message. It converts to
/// [`io::ErrorKind`] as listed on each variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BindErrorKind {
    /// A live socket is bound to the address, or another starter holds the
    /// bind lock. Nothing was removed. ([`io::ErrorKind::AddrInUse`])
    InUse,
    /// The operating system refused an operation (EACCES or EPERM); the
    /// message names the owner, our effective uid and a fix.
    /// ([`io::ErrorKind::PermissionDenied`])
    PermissionDenied,
    /// Something other than a socket (a regular file, directory, FIFO,
    /// symbolic link, device) is at the path. It was left untouched.
    /// ([`io::ErrorKind::AlreadyExists`])
    NotASocket,
    /// The path or abstract name is longer than the platform allows.
    /// ([`io::ErrorKind::InvalidInput`])
    PathTooLong,
    /// The directory that should hold the socket does not exist, or is not
    /// a directory. ([`io::ErrorKind::NotFound`])
    ParentMissing,
    /// The address is empty or contains a NUL byte.
    /// ([`io::ErrorKind::InvalidInput`])
    InvalidAddress,
    /// The platform has no such feature (abstract names outside Linux and
    /// Android). ([`io::ErrorKind::Unsupported`])
    Unsupported,
    /// The process or system ran out of file descriptors or memory
    /// (EMFILE, ENFILE, ENOBUFS, ENOMEM). (the OS error's own kind)
    ResourceExhausted,
    /// The parent directory would let another user replace the socket
    /// (with [`Builder::check_parent`](crate::Builder::check_parent)).
    /// ([`io::ErrorKind::PermissionDenied`])
    InsecureParent,
    /// The socket passed by the service manager cannot be used: malformed
    /// `LISTEN_*` variables, or not one listening Unix stream socket.
    /// ([`io::ErrorKind::InvalidInput`])
    InvalidActivation,
    /// Something other than a regular file (a symbolic link, directory,
    /// FIFO, device) is at the bind lock's path, `<path>.lock`. It was left
    /// untouched. ([`io::ErrorKind::AlreadyExists`])
    LockFile,
    /// Anything else; [`Error::source`] holds the OS error.
    /// (the OS error's own kind)
    Other,
}

/// Why binding a [`SafeUnixListener`](crate::SafeUnixListener) failed.
///
/// It carries the [kind](BindError::kind), the
/// [operation](BindError::operation) that failed, the
/// [path](BindError::path), the OS error as [`Error::source`], and a
/// [fix](BindError::fix) where one exists. `Display` is one sentence a
/// sysadmin can act on:
///
/// ```text
/// cannot remove stale socket /tmp/ergo_websocket: it is owned by uid 0, we run as uid 65534, and /tmp is sticky, so only the owner may remove it (EPERM); remove it as uid 0, or bind under a directory this service owns, such as $XDG_RUNTIME_DIR or a systemd RuntimeDirectory=
/// ```
///
/// It converts into [`io::Error`] with a precise [`io::ErrorKind`] and the
/// same message.
///
/// # Examples
///
/// ```
/// use safe_unix_listener::{BindErrorKind, UnixAddr};
///
/// let err = "/tmp/a\0b".parse::<UnixAddr>().unwrap_err();
/// assert_eq!(err.kind(), BindErrorKind::InvalidAddress);
/// assert_eq!(err.path(), Some(std::path::Path::new("/tmp/a\0b")));
///
/// let io: std::io::Error = err.into();
/// assert_eq!(io.kind(), std::io::ErrorKind::InvalidInput);
/// ```
pub struct BindError(Box<Repr>);

/// Boxed, so that `Result<_, BindError>` stays one pointer wide.
struct Repr {
    kind: BindErrorKind,
    operation: Op,
    target: String,
    path: Option<PathBuf>,
    why: String,
    fix: Option<String>,
    source: Option<io::Error>,
}

impl BindError {
    /// What kind of failure this is.
    ///
    /// ```
    /// # use safe_unix_listener::{BindErrorKind, UnixAddr};
    /// let err = "@".parse::<UnixAddr>().unwrap_err();
    /// assert_eq!(err.kind(), BindErrorKind::InvalidAddress);
    /// ```
    pub fn kind(&self) -> BindErrorKind {
        self.0.kind
    }

    /// The filesystem path concerned, if the address is a path.
    ///
    /// ```
    /// # use safe_unix_listener::UnixAddr;
    /// let err = "@".parse::<UnixAddr>().unwrap_err();
    /// assert_eq!(err.path(), None);
    /// ```
    pub fn path(&self) -> Option<&Path> {
        self.0.path.as_deref()
    }

    /// The operation that failed, such as `"bind"` or
    /// `Op::RemoveStale`.
    ///
    /// ```
    /// # use safe_unix_listener::UnixAddr;
    /// let err = "".parse::<UnixAddr>().unwrap_err();
    /// assert_eq!(err.operation(), "use address");
    /// ```
    pub fn operation(&self) -> &str {
        self.0.operation.as_str()
    }

    /// What to do about it, when there is something to do.
    ///
    /// ```
    /// # use safe_unix_listener::UnixAddr;
    /// let err = UnixAddr::from_path("/x".repeat(100)).unwrap_err();
    /// assert!(err.fix().unwrap().contains("shorter path"));
    /// ```
    pub fn fix(&self) -> Option<&str> {
        self.0.fix.as_deref()
    }

    fn new(kind: BindErrorKind, operation: Op, target: impl fmt::Display) -> Self {
        Self(Box::new(Repr {
            kind,
            operation,
            target: target.to_string(),
            path: None,
            why: String::new(),
            fix: None,
            source: None,
        }))
    }

    fn at(mut self, path: &Path) -> Self {
        self.0.path = Some(path.to_owned());
        self
    }

    fn why(mut self, why: impl fmt::Display) -> Self {
        self.0.why = why.to_string();
        self
    }

    fn fix_with(mut self, fix: impl fmt::Display) -> Self {
        self.0.fix = Some(fix.to_string());
        self
    }

    fn caused_by(mut self, errno: Errno) -> Self {
        self.0.source = Some(io::Error::from_raw_os_error(errno as i32));
        self
    }

    // ---- address validation -------------------------------------------

    pub(crate) fn invalid_address(shown: impl fmt::Display, why: impl fmt::Display) -> Self {
        let shown = shown.to_string();
        let mut e = Self::new(
            BindErrorKind::InvalidAddress,
            Op::UseAddress,
            format!("{shown:?}"),
        )
        .why(why)
        .fix_with("give a non-empty path without NUL bytes, or @name for an abstract socket");
        if !shown.starts_with('@') {
            e.0.path = Some(PathBuf::from(shown));
        }
        e
    }

    pub(crate) fn path_too_long(path: &Path, len: usize, max: usize) -> Self {
        Self::new(BindErrorKind::PathTooLong, Op::UsePath, path.display())
            .at(path)
            .why(format_args!(
                "the path is {len} bytes, but this platform allows at most {max} \
                 ({} with the terminating NUL)",
                max + 1
            ))
            .fix_with("use a shorter path, such as one under $XDG_RUNTIME_DIR or /run")
    }

    pub(crate) fn name_too_long(shown: String, len: usize, max: usize) -> Self {
        Self::new(BindErrorKind::PathTooLong, Op::UseName, shown)
            .why(format_args!(
                "the name is {len} bytes, but at most {max} fit"
            ))
            .fix_with("use a shorter name")
    }

    pub(crate) fn unsupported_abstract(shown: impl fmt::Display) -> Self {
        Self::new(BindErrorKind::Unsupported, Op::Bind, shown)
            .why("abstract socket names exist only on Linux and Android")
            .fix_with("bind a filesystem path instead")
    }

    pub(crate) fn no_runtime(shown: impl fmt::Display) -> Self {
        Self::new(BindErrorKind::Other, Op::Bind, shown)
            .why("there is no Tokio runtime on this thread")
            .fix_with("call bind from inside a Tokio runtime, such as in #[tokio::main]")
    }

    // ---- what is at the path ------------------------------------------

    pub(crate) fn live(shown: impl fmt::Display, path: Option<&Path>, pid: Option<i32>) -> Self {
        let who = match pid {
            Some(pid) => format!("a server (pid {pid}) is listening on it"),
            None => "a server is listening on it".to_owned(),
        };
        let mut e = Self::new(BindErrorKind::InUse, Op::Bind, shown)
            .why(who)
            .fix_with("stop that server first, or choose another address")
            .caused_by(Errno::EADDRINUSE);
        e.0.path = path.map(Path::to_owned);
        e
    }

    pub(crate) fn backlog_full(path: &Path) -> Self {
        Self::new(BindErrorKind::InUse, Op::Bind, path.display())
            .at(path)
            .why("a server is listening on it (its accept queue is full)")
            .fix_with("stop that server first, or choose another path")
            .caused_by(Errno::EAGAIN)
    }

    pub(crate) fn abstract_failed(shown: impl fmt::Display, errno: Errno) -> Self {
        let e = Self::new(kind_of(errno), Op::Bind, shown).caused_by(errno);
        match errno {
            Errno::EADDRINUSE => e
                .why("another socket already holds this abstract name (EADDRINUSE)")
                .fix_with("stop that server first, or choose another name"),
            _ => e.why(errno),
        }
    }

    pub(crate) fn stale_kept(path: &Path) -> Self {
        Self::new(BindErrorKind::InUse, Op::Bind, path.display())
            .at(path)
            .why("a stale socket is there, and OnExisting::Fail forbids removing it")
            .fix_with("remove it by hand, or use OnExisting::RemoveStale")
            .caused_by(Errno::EADDRINUSE)
    }

    pub(crate) fn unprobeable(path: &Path, errno: Errno) -> Self {
        Self::new(BindErrorKind::InUse, Op::ProbeSocket, path.display())
            .at(path)
            .why(format_args!(
                "connecting to it failed with {}, so it is not provably stale and is left alone",
                errno
            ))
            .fix_with("remove it by hand if no server uses it, or choose another path")
            .caused_by(errno)
    }

    pub(crate) fn not_a_socket(path: &Path, file_type: &str) -> Self {
        Self::new(BindErrorKind::NotASocket, Op::Bind, path.display())
            .at(path)
            .why(format_args!(
                "{file_type} is in the way, and only stale sockets are ever removed"
            ))
            .fix_with("move it away by hand if it is not needed, or choose another path")
            .caused_by(Errno::EEXIST)
    }

    pub(crate) fn lock_busy(
        lock: &Path,
        waited: std::time::Duration,
        holder: Option<&str>,
    ) -> Self {
        let (why, fix) = match holder {
            Some(holder) => (
                format!(
                    "{holder} holds it, and a wrapper such as `flock FILE cmd` holds it for as \
                     long as we run"
                ),
                "do not wrap the service in `flock` on this file (lock another file, such as \
                 one beside it named differently)",
            ),
            None => (
                format!(
                    "another process has held it for over {} s",
                    waited.as_secs()
                ),
                "find the holder with `fuser` or `lsof` and stop it",
            ),
        };
        Self::new(BindErrorKind::InUse, Op::Lock, lock.display())
            .at(lock)
            .why(why)
            .fix_with(fix)
            .caused_by(Errno::EWOULDBLOCK)
    }

    /// Something other than a regular file is at the lock path.
    pub(crate) fn lock_unusable(lock: &Path, what: &str) -> Self {
        let owner = Facts::about(lock)
            .file
            .map(|(uid, mode)| format!(" owned by uid {uid} (mode {:04o})", mode & 0o7777))
            .unwrap_or_default();
        Self::new(BindErrorKind::LockFile, Op::OpenLock, lock.display())
            .at(lock)
            .why(format_args!(
                "{what}{owner} is there instead of a lock file; it is never followed, opened or removed"
            ))
            .fix_with(format_args!(
                "remove it if nobody put it there on purpose, or {OWN_DIR_FIX}"
            ))
            .caused_by(Errno::EEXIST)
    }

    pub(crate) fn parent_missing(path: &Path, dir: &Path, why: &str) -> Self {
        Self::new(BindErrorKind::ParentMissing, Op::Bind, path.display())
            .at(path)
            .why(format_args!("directory {} {why}", dir.display()))
            .fix_with(
                "create the directory first (for a systemd service, RuntimeDirectory=), \
                 or use Builder::create_parents",
            )
            .caused_by(Errno::ENOENT)
    }

    pub(crate) fn insecure_parent(path: &Path, dir: &Path, why: impl fmt::Display) -> Self {
        Self::new(BindErrorKind::InsecureParent, Op::Bind, path.display())
            .at(path)
            .why(format_args!("directory {} {why}", dir.display()))
            .fix_with(format_args!(
                "{OWN_DIR_FIX}, or make {} owned by root or us and not writable by others",
                dir.display()
            ))
    }

    pub(crate) fn no_room_for_private_dir(path: &Path, needed: usize, max: usize) -> Self {
        Self::new(BindErrorKind::PathTooLong, Op::Bind, path.display())
            .at(path)
            .why(format_args!(
                "the socket is made in a private directory beside it first, and that path \
                 would be {needed} bytes, over the limit of {max}"
            ))
            .fix_with("use a directory with a shorter path, or a longer socket file name")
    }

    pub(crate) fn no_temp_dir(tried: &str, errno: Option<Errno>) -> Self {
        let kind = errno.map_or(BindErrorKind::PathTooLong, kind_of);
        let mut e = Self::new(kind, Op::CreateTempDir, "$XDG_RUNTIME_DIR, $TMPDIR or /tmp")
            .why(tried)
            .fix_with("set TMPDIR to a short directory this user may write to, such as /tmp");
        if let Some(errno) = errno {
            e = e.caused_by(errno);
        }
        e
    }

    /// Something at a path we were using changed under us: another process
    /// raced us, and whatever it put there is left alone.
    pub(crate) fn raced(operation: Op, path: &Path, what: &str) -> Self {
        Self::new(BindErrorKind::InUse, operation, path.display())
            .at(path)
            .why(format_args!("{what}, so it is left alone"))
            .fix_with("find out which other program uses this path, or choose another path")
            .caused_by(Errno::EBUSY)
    }

    pub(crate) fn activation(why: String) -> Self {
        Self::new(
            BindErrorKind::InvalidActivation,
            Op::UseActivation,
            "the service manager",
        )
        .why(why)
        .fix_with(
            "check the .socket unit (ListenStream=, FileDescriptorName=) or the LISTEN_* variables",
        )
    }

    // ---- the operating system said no -----------------------------------

    /// A failed system call `operation` on `path`, explained with who owns
    /// the path and its directory (looked up now, without following links).
    pub(crate) fn os(operation: Op, path: &Path, errno: Errno) -> Self {
        Self::explained(operation, path, errno, &Facts::about(path))
    }

    fn explained(operation: Op, path: &Path, errno: Errno, facts: &Facts) -> Self {
        let e = Self::new(kind_of(errno), operation, path.display())
            .at(path)
            .caused_by(errno);
        match errno {
            Errno::EACCES | Errno::EPERM => permission(e, errno, facts),
            Errno::EROFS => e
                .why("the filesystem is mounted read-only (EROFS)")
                .fix_with(OWN_DIR_FIX),
            Errno::EMFILE | Errno::ENFILE => e
                .why(format_args!("we are out of file descriptors ({})", errno))
                .fix_with(
                    "raise the open-file limit (ulimit -n, or LimitNOFILE= in a systemd unit), \
                     or close descriptors this process does not need",
                ),
            Errno::ENOBUFS | Errno::ENOMEM => e
                .why(format_args!("the system is out of memory ({})", errno))
                .fix_with("free memory, then try again"),
            Errno::ENAMETOOLONG => e
                .why("a component of the path is too long (ENAMETOOLONG)")
                .fix_with("use shorter directory and file names"),
            Errno::EADDRINUSE => e
                .why("another socket took the path while we were binding (EADDRINUSE)")
                .fix_with("stop the other server, or choose another path"),
            Errno::ENOENT | Errno::ENOTDIR => e
                .why(format_args!(
                    "a directory on the way to it is missing or was replaced ({})",
                    errno
                ))
                .fix_with("check that no other program moves or removes this directory"),
            _ => e.why(errno),
        }
    }
}

/// What is known about who owns what, for explaining EACCES and EPERM.
#[derive(Debug, Default)]
struct Facts {
    /// Our effective uid.
    euid: u32,
    /// Owner and mode of the file at the path, when there is one.
    file: Option<(u32, u32)>,
    /// The directory that holds the path.
    dir: PathBuf,
    /// Owner and mode of that directory, when it could be read.
    dir_owner_mode: Option<(u32, u32)>,
}

impl Facts {
    /// Looks up who owns `path` and its directory. Whatever cannot be read
    /// is left out of the message.
    fn about(path: &Path) -> Self {
        let owner_mode = |p: &Path, follow: bool| {
            let m = if follow {
                std::fs::metadata(p)
            } else {
                std::fs::symlink_metadata(p)
            };
            m.ok().map(|m| (m.uid(), m.mode()))
        };
        let dir = parent_dir(path).to_owned();
        Self {
            euid: nix::unistd::geteuid().as_raw(),
            file: owner_mode(path, false),
            dir_owner_mode: owner_mode(&dir, true),
            dir,
        }
    }
}

/// The directory a socket path lives in (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The OS error number behind an `io::Error`.
pub(crate) fn errno_of(e: &io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(0))
}

fn permission(e: BindError, errno: Errno, f: &Facts) -> BindError {
    let dir = f.dir.display();
    let us = f.euid;
    let sticky = f.dir_owner_mode.is_some_and(|(_, m)| m & 0o1000 != 0);
    let dir_state = match f.dir_owner_mode {
        Some((uid, mode)) => format!(
            "directory {dir} (owner uid {uid}, mode {:04o})",
            mode & 0o7777
        ),
        None => format!("directory {dir}"),
    };
    let name = errno_name(errno);
    let (why, fix) = match (e.0.operation, f.file) {
        (Op::ProbeSocket, Some((owner, mode))) => (
            format!(
                "connecting needs write permission on it, but it is owned by uid {owner} with \
                 mode {:04o} and we run as uid {us} ({name}), so it is not provably stale",
                mode & 0o7777
            ),
            format!("if no server uses it, remove it as uid {owner}, or {OWN_DIR_FIX}"),
        ),
        (Op::OpenLock, Some((owner, mode))) => (
            format!(
                "this lock file is owned by uid {owner} with mode {:04o}, and we run as uid \
                 {us}, who may not open it ({name}); it was left alone",
                mode & 0o7777
            ),
            format!("remove it as uid {owner} if no bind is under way, or {OWN_DIR_FIX}"),
        ),
        (Op::ChangeOwner, _) => (
            format!(
                "giving a file to another user or to a group we are not in needs privilege \
                 (CAP_CHOWN), and we run as uid {us} ({name})"
            ),
            "run with that privilege, or leave the owner alone and grant access with \
             Builder::group and Builder::mode"
                .to_owned(),
        ),
        (Op::RemoveStale, Some((owner, _))) if errno == Errno::EPERM && sticky => (
            format!(
                "it is owned by uid {owner}, we run as uid {us}, and {dir} is sticky, \
                 so only the owner may remove it ({name})"
            ),
            format!("remove it as uid {owner}, or {OWN_DIR_FIX}"),
        ),
        (_, Some((owner, _))) => (
            format!(
                "it is owned by uid {owner}, we run as uid {us}, and {dir_state} \
                 does not let us change it ({name})"
            ),
            format!("remove it as uid {owner}, or {OWN_DIR_FIX}"),
        ),
        (_, None) => (
            format!("{dir_state} does not let uid {us} create or look up files in it ({name})"),
            format!("run as a user who may write to {dir}, or {OWN_DIR_FIX}"),
        ),
    };
    e.why(why).fix_with(fix)
}

fn errno_name(errno: Errno) -> &'static str {
    match errno {
        Errno::EPERM => "EPERM",
        Errno::EACCES => "EACCES",
        _ => "error",
    }
}

fn kind_of(errno: Errno) -> BindErrorKind {
    match errno {
        Errno::EADDRINUSE => BindErrorKind::InUse,
        Errno::EACCES | Errno::EPERM | Errno::EROFS => BindErrorKind::PermissionDenied,
        Errno::ENOENT | Errno::ENOTDIR => BindErrorKind::ParentMissing,
        Errno::ENAMETOOLONG => BindErrorKind::PathTooLong,
        Errno::EMFILE | Errno::ENFILE | Errno::ENOBUFS | Errno::ENOMEM => {
            BindErrorKind::ResourceExhausted
        }
        _ => BindErrorKind::Other,
    }
}

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot {} {}: {}",
            self.0.operation.as_str(),
            self.0.target,
            self.0.why
        )?;
        if let Some(fix) = &self.0.fix {
            write!(f, "; {fix}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BindError")
            .field("kind", &self.0.kind)
            .field("operation", &self.0.operation)
            .field("path", &self.0.path)
            .field("message", &self.to_string())
            .field("source", &self.0.source)
            .finish()
    }
}

impl Error for BindError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.0.source.as_ref().map(|e| e as _)
    }
}

impl From<BindError> for io::Error {
    fn from(e: BindError) -> Self {
        let kind = match e.0.kind {
            BindErrorKind::InUse => io::ErrorKind::AddrInUse,
            BindErrorKind::PermissionDenied | BindErrorKind::InsecureParent => {
                io::ErrorKind::PermissionDenied
            }
            BindErrorKind::InvalidActivation => io::ErrorKind::InvalidInput,
            BindErrorKind::NotASocket | BindErrorKind::LockFile => io::ErrorKind::AlreadyExists,
            BindErrorKind::PathTooLong | BindErrorKind::InvalidAddress => {
                io::ErrorKind::InvalidInput
            }
            BindErrorKind::ParentMissing => io::ErrorKind::NotFound,
            BindErrorKind::Unsupported => io::ErrorKind::Unsupported,
            BindErrorKind::ResourceExhausted | BindErrorKind::Other => {
                e.0.source
                    .as_ref()
                    .map_or(io::ErrorKind::Other, io::Error::kind)
            }
        };
        io::Error::new(kind, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(file: Option<(u32, u32)>, dir_mode: u32) -> Facts {
        Facts {
            euid: 65534,
            file,
            dir: PathBuf::from("/tmp"),
            dir_owner_mode: Some((0, dir_mode)),
        }
    }

    #[test]
    fn sticky_eperm_names_owner_us_and_fix() {
        let f = facts(Some((0, 0o755)), 0o1777);
        let e = BindError::explained(
            Op::RemoveStale,
            Path::new("/tmp/ergo_websocket"),
            Errno::EPERM,
            &f,
        );
        assert_eq!(e.kind(), BindErrorKind::PermissionDenied);
        assert_eq!(
            e.to_string(),
            "cannot remove stale socket /tmp/ergo_websocket: it is owned by uid 0, we run as \
             uid 65534, and /tmp is sticky, so only the owner may remove it (EPERM); remove it \
             as uid 0, or bind under a directory this service owns, such as $XDG_RUNTIME_DIR \
             or a systemd RuntimeDirectory="
        );
    }

    #[test]
    fn io_kinds_are_precise() {
        let f = facts(None, 0o755);
        let cases = [
            (Errno::EADDRINUSE, io::ErrorKind::AddrInUse),
            (Errno::EACCES, io::ErrorKind::PermissionDenied),
            (Errno::ENOENT, io::ErrorKind::NotFound),
            (Errno::ENAMETOOLONG, io::ErrorKind::InvalidInput),
        ];
        for (errno, kind) in cases {
            let e = BindError::explained(Op::Bind, Path::new("/x"), errno, &f);
            let msg = e.to_string();
            let io: io::Error = e.into();
            assert_eq!(io.kind(), kind, "{errno}");
            assert_eq!(io.to_string(), msg);
        }
        let io: io::Error =
            BindError::explained(Op::Bind, Path::new("/x"), Errno::EMFILE, &f).into();
        assert_eq!(io.raw_os_error(), None, "the message is kept, wrapped");
        assert!(io.to_string().contains("EMFILE"), "{io}");
    }
}
