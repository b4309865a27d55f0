//! [`BindError`] and [`BindErrorKind`]: what went wrong, where, why, and how
//! to fix it, and the one table from an OS error to a kind and to an
//! [`io::ErrorKind`]. The sentences themselves are composed in `explain.rs`.

use std::error::Error;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use crate::escape::{shown, text};

/// The step of the bind sequence that failed, written into a
/// [`BindError`]'s message as "cannot <step> <target>".
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
    Clean,
    Lock,
    OpenLock,
    CreateSocket,
    PassCredentials,
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
            Op::Clean => "clean",
            Op::Lock => "take bind lock",
            Op::OpenLock => "open bind lock",
            Op::CreateSocket => "create socket for",
            Op::PassCredentials => "ask for the senders' credentials on",
            Op::SetMode => "set mode of",
            Op::ChangeOwner => "change owner of",
            Op::Listen => "listen on",
            Op::Register => "register with Tokio the socket at",
            Op::MoveIntoPlace => "move the new socket to",
            Op::TakeOver => "take over",
            Op::UseActivation => "use the socket passed by",
        }
    }

    fn public(self) -> Operation {
        match self {
            Op::UseAddress | Op::UsePath | Op::UseName => Operation::CheckAddress,
            Op::LookUp | Op::LookUpDir => Operation::LookUp,
            Op::CreateDir | Op::CreatePrivateDir | Op::CreateTempDir => Operation::CreateDirectory,
            Op::ProbeSocket => Operation::Probe,
            Op::RemoveStale | Op::Clean => Operation::RemoveStale,
            Op::Lock | Op::OpenLock => Operation::Lock,
            Op::CreateSocket | Op::PassCredentials | Op::Bind | Op::Listen | Op::Register => {
                Operation::Bind
            }
            Op::SetMode | Op::ChangeOwner => Operation::SetPermissions,
            Op::MoveIntoPlace | Op::TakeOver => Operation::MoveIntoPlace,
            Op::UseActivation => Operation::Activation,
        }
    }
}

/// The step of the bind sequence that a [`BindError`] reports, for
/// programs; the message says it in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// Checking the address itself (its length, its bytes).
    CheckAddress,
    /// Looking up the socket's directory or what is at the path.
    LookUp,
    /// Creating a directory: a missing parent, the private directory a
    /// socket is made in, or a temporary socket directory.
    CreateDirectory,
    /// Taking or opening the bind lock, `<path>.lock`.
    Lock,
    /// Connecting to a socket at the path to see whether anyone listens.
    Probe,
    /// Removing a stale socket.
    RemoveStale,
    /// Creating, binding, listening on or registering the new socket.
    Bind,
    /// Setting the socket's mode, owner or group.
    SetPermissions,
    /// Moving the new socket into place, or swapping it in (takeover).
    MoveIntoPlace,
    /// Using a socket passed by the service manager.
    Activation,
}

/// What kind of failure a [`BindError`] is.
///
/// Match on this, not on the message. It converts to
/// [`io::ErrorKind`] as listed on each variant.
///
/// An OS error that a step of the bind gets back is sorted into a kind,
/// and converted into an [`io::ErrorKind`], by this one table:
///
/// | OS error | `BindErrorKind` | `io::ErrorKind` |
/// |---|---|---|
/// | `EADDRINUSE` | [`InUse`](Self::InUse) | [`AddrInUse`](io::ErrorKind::AddrInUse) |
/// | `EACCES`, `EPERM` | [`PermissionDenied`](Self::PermissionDenied) | [`PermissionDenied`](io::ErrorKind::PermissionDenied) |
/// | `EROFS` | [`PermissionDenied`](Self::PermissionDenied): the fix is the same, bind elsewhere | [`ReadOnlyFilesystem`](io::ErrorKind::ReadOnlyFilesystem) |
/// | `ENOENT` | [`ParentMissing`](Self::ParentMissing) | [`NotFound`](io::ErrorKind::NotFound) |
/// | `ENOTDIR` | [`ParentMissing`](Self::ParentMissing): a step of the path is not a directory | [`NotADirectory`](io::ErrorKind::NotADirectory) |
/// | `ENAMETOOLONG` | [`PathTooLong`](Self::PathTooLong) | [`InvalidInput`](io::ErrorKind::InvalidInput) |
/// | `EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`, `EAGAIN` (no thread could be started) | [`ResourceExhausted`](Self::ResourceExhausted) | the OS error's own |
/// | any other | [`Other`](Self::Other) | the OS error's own |
///
/// A failure this crate finds itself (a live server at the path, a file
/// in the way, a path too long) has the kind that says so, and the
/// `io::ErrorKind` listed on it. An error from Tokio that has no OS error
/// number (its runtime is shutting down, say) is [`Other`](Self::Other),
/// and converts back into Tokio's own `io::Error`, unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BindErrorKind {
    /// A live socket is bound to the address, or another starter holds the
    /// bind lock. Nothing was removed. ([`io::ErrorKind::AddrInUse`])
    InUse,
    /// The operating system refused an operation (EACCES or EPERM); the
    /// message names the owner, our effective uid and a fix. Also a
    /// read-only filesystem (EROFS).
    /// ([`io::ErrorKind::PermissionDenied`];
    /// [`io::ErrorKind::ReadOnlyFilesystem`] for EROFS)
    PermissionDenied,
    /// Something other than a socket (a regular file, directory, FIFO,
    /// symbolic link, device) is at the path. It was left untouched.
    /// ([`io::ErrorKind::AlreadyExists`])
    NotASocket,
    /// The path or abstract name is longer than the platform allows.
    /// ([`io::ErrorKind::InvalidInput`])
    PathTooLong,
    /// The directory that should hold the socket does not exist, or is not
    /// a directory. ([`io::ErrorKind::NotFound`];
    /// [`io::ErrorKind::NotADirectory`] for ENOTDIR)
    ParentMissing,
    /// The address is empty or contains a NUL byte.
    /// ([`io::ErrorKind::InvalidInput`])
    InvalidAddress,
    /// The platform has no such feature (abstract names outside Linux and
    /// Android). ([`io::ErrorKind::Unsupported`])
    Unsupported,
    /// The process or system ran out of file descriptors, memory or tasks
    /// (EMFILE, ENFILE, ENOBUFS, ENOMEM; EAGAIN where a thread could not
    /// be started). (the OS error's own kind)
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
    /// Anything else; the message names the OS error, and
    /// [`BindError::raw_os_error`] gives its number.
    /// (the OS error's own kind; for an error of Tokio's, Tokio's
    /// `io::Error` itself)
    Other,
}

impl BindErrorKind {
    /// The kind of an OS error: the first two columns of the table above.
    pub(crate) fn of_errno(errno: Errno) -> Self {
        match errno {
            Errno::EADDRINUSE => Self::InUse,
            Errno::EACCES | Errno::EPERM | Errno::EROFS => Self::PermissionDenied,
            Errno::ENOENT | Errno::ENOTDIR => Self::ParentMissing,
            Errno::ENAMETOOLONG => Self::PathTooLong,
            Errno::EMFILE | Errno::ENFILE | Errno::ENOBUFS | Errno::ENOMEM | Errno::EAGAIN => {
                Self::ResourceExhausted
            }
            _ => Self::Other,
        }
    }

    /// The [`io::ErrorKind`] of an error of this kind caused by `errno`:
    /// the last column of the table above, and the kind listed on each
    /// variant. Decided here only, from both.
    pub(crate) fn io_kind(self, errno: Option<Errno>) -> io::ErrorKind {
        match (self, errno) {
            (Self::InUse, _) => io::ErrorKind::AddrInUse,
            (Self::PermissionDenied, Some(Errno::EROFS)) => io::ErrorKind::ReadOnlyFilesystem,
            (Self::PermissionDenied | Self::InsecureParent, _) => io::ErrorKind::PermissionDenied,
            (Self::NotASocket | Self::LockFile, _) => io::ErrorKind::AlreadyExists,
            (Self::PathTooLong | Self::InvalidAddress | Self::InvalidActivation, _) => {
                io::ErrorKind::InvalidInput
            }
            (Self::ParentMissing, Some(Errno::ENOTDIR)) => io::ErrorKind::NotADirectory,
            (Self::ParentMissing, _) => io::ErrorKind::NotFound,
            (Self::Unsupported, _) => io::ErrorKind::Unsupported,
            (Self::ResourceExhausted | Self::Other, Some(errno)) => io::Error::from(errno).kind(),
            (Self::ResourceExhausted | Self::Other, None) => io::ErrorKind::Other,
        }
    }
}

/// Why binding a [`SafeUnixListener`](crate::SafeUnixListener) failed.
///
/// It carries the [kind](BindError::kind), the
/// [operation](BindError::operation) that failed, the
/// [path](BindError::path), the [OS error](BindError::raw_os_error), and a
/// [fix](BindError::fix) where one exists. `Display` is one sentence a
/// sysadmin can act on:
///
/// ```text
/// cannot remove stale socket /tmp/ergo_websocket: it is owned by uid 0, we run as uid 65534, and /tmp is sticky, so only the owner may remove it (EPERM); remove it as uid 0, or bind under a directory this service owns, such as $XDG_RUNTIME_DIR or a systemd RuntimeDirectory=
/// ```
///
/// It converts into [`io::Error`] with a precise [`io::ErrorKind`] and the
/// same message; an error of Tokio's that has no OS error number (its
/// runtime is shutting down, say) is its [`source`](Error::source), and
/// converts back into that very `io::Error`, so that Tokio's own checks,
/// such as `tokio::runtime::is_rt_shutdown_err`, recognise it.
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
pub struct BindError(pub(crate) Box<Repr>);

/// Boxed, so that `Result<_, BindError>` stays one pointer wide.
pub(crate) struct Repr {
    pub(crate) kind: BindErrorKind,
    pub(crate) operation: Op,
    pub(crate) target: Target,
    pub(crate) why: String,
    pub(crate) fix: Option<String>,
    /// The OS error, which the sentence names.
    pub(crate) errno: Option<Errno>,
    /// An error from elsewhere (Tokio's) that has no OS error number: the
    /// `source()`, which the sentence does not repeat, and what converting
    /// into `io::Error` gives back.
    pub(crate) cause: Option<io::Error>,
}

/// What the message names: a path, or anything else (an abstract name,
/// "the service manager").
pub(crate) enum Target {
    Path(PathBuf),
    /// A path that is not valid as one: shown quoted.
    Quoted(PathBuf),
    Other(String),
}

impl BindError {
    /// What kind of failure this is.
    pub fn kind(&self) -> BindErrorKind {
        self.0.kind
    }

    /// The filesystem path concerned, if the address is a path.
    pub fn path(&self) -> Option<&Path> {
        match &self.0.target {
            Target::Path(path) | Target::Quoted(path) => Some(path),
            Target::Other(_) => None,
        }
    }

    /// The step that failed.
    pub fn operation(&self) -> Operation {
        self.0.operation.public()
    }

    /// The OS error number behind this error, if there is one (`EPERM`,
    /// `EADDRINUSE`, …). The message already names it.
    pub fn raw_os_error(&self) -> Option<i32> {
        self.0.errno.map(|e| e as i32)
    }

    /// What to do about it, when there is something to do.
    pub fn fix(&self) -> Option<&str> {
        self.0.fix.as_deref()
    }

    /// The sentence without its opening "cannot OPERATION ADDRESS: ": why
    /// it failed, and what to do. For a caller that names the operation
    /// and the address in its own words, so that they are not said twice.
    ///
    /// ```
    /// use safe_unix_listener::SafeUnixListener;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("notes.txt");
    /// std::fs::write(&path, "data")?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # let _enter = rt.enter();
    /// let err = SafeUnixListener::bind(&path).unwrap_err();
    /// assert_eq!(
    ///     err.reason().to_string(),
    ///     "a regular file is in the way, and only stale sockets are ever removed; \
    ///      move it away by hand if it is not needed, or choose another path"
    /// );
    /// assert_eq!(err.to_string(), format!("cannot bind {}: {}", path.display(), err.reason()));
    /// # Ok(()) }
    /// ```
    pub fn reason(&self) -> impl fmt::Display + fmt::Debug + '_ {
        Reason(&self.0)
    }

    pub(crate) fn new(kind: BindErrorKind, operation: Op, target: impl fmt::Display) -> Self {
        Self(Box::new(Repr {
            kind,
            operation,
            target: Target::Other(target.to_string()),
            why: String::new(),
            fix: None,
            errno: None,
            cause: None,
        }))
    }

    pub(crate) fn at(kind: BindErrorKind, operation: Op, path: &Path) -> Self {
        let mut e = Self::new(kind, operation, "");
        e.0.target = Target::Path(path.to_owned());
        e
    }

    pub(crate) fn why(mut self, why: impl fmt::Display) -> Self {
        self.0.why = why.to_string();
        self
    }

    pub(crate) fn fix_with(mut self, fix: impl fmt::Display) -> Self {
        self.0.fix = Some(fix.to_string());
        self
    }

    pub(crate) fn caused_by(mut self, errno: Errno) -> Self {
        self.0.errno = Some(errno);
        self
    }
}

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot {} ", self.0.operation.as_str())?;
        match &self.0.target {
            Target::Path(path) => write!(f, "{}", shown(path))?,
            Target::Quoted(path) => write!(f, "{:?}", path.as_os_str())?,
            Target::Other(what) => write!(f, "{}", text(what))?,
        }
        write!(f, ": {}", Reason(&self.0))
    }
}

/// [`BindError::reason`]: why, and the fix.
struct Reason<'a>(&'a Repr);

impl fmt::Debug for Reason<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Reason").field(&self.to_string()).finish()
    }
}

impl fmt::Display for Reason<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.why)?;
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
            .field("path", &self.path())
            .field("message", &self.to_string())
            .field("errno", &self.0.errno)
            .field("cause", &self.0.cause)
            .finish()
    }
}

/// The OS error is part of the sentence, so it is not a `source()` too; an
/// error of Tokio's without an OS error number is the `source()`, and the
/// sentence does not repeat it: an error chain names each cause once.
impl Error for BindError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.0.cause.as_ref().map(|e| e as _)
    }
}

impl From<BindError> for io::Error {
    fn from(mut e: BindError) -> Self {
        match e.0.cause.take() {
            Some(tokio_s) => tokio_s,
            None => io::Error::new(e.0.kind.io_kind(e.0.errno), e),
        }
    }
}
