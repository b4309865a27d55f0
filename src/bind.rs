//! The bind sequence, read top to bottom in [`bind_path`]:
//!
//! 1. the directory: created when asked (never following a link), then
//!    resolved once, one component at a time, with OpenSSH's StrictModes
//!    rule applied to every step ([`crate::parent`]); every later step works
//!    through its descriptor;
//! 2. the bind lock ([`crate::lock`]);
//! 3. what is at the path ([`crate::classify`]): nothing, or a socket, may
//!    be there. A socket is probed through the directory's descriptor; only
//!    one that refuses the connection is stale, and it is removed after
//!    checking that the name still leads to the same inode;
//! 4. the socket ([`listen_on`], the one sequence every route uses, for a
//!    stream listener or a datagram receiver alike, [`crate::kind`]): made,
//!    bound, given its mode and owner, then listening (a stream listener),
//!    then registered with Tokio. Where nobody else can replace a name we
//!    create in the directory (only we may write it, or it is sticky and
//!    owned by root or us, like `/tmp`), it is bound at the path itself,
//!    and its mode and owner set before it listens. Where others may write
//!    the directory it is bound at the path too, when nothing on the way
//!    can be redirected and the bind itself can give the file its mode and
//!    group ([`Creation::Set`]: on Linux, a helper thread with its own
//!    umask and filesystem gid); the file is then checked to be the one it
//!    made. Either way the kernel names the socket by the path that was
//!    asked for. Anywhere else (a takeover, another owner, a path that can
//!    be redirected, other platforms) it is bound in a private 0700
//!    directory beside the path ([`crate::private`]), where nobody else can
//!    reach it, and
//! 5. moved into place without replacing anything ([`crate::place`]:
//!    `renameat2(RENAME_NOREPLACE)`, or where a filesystem refuses it the
//!    `link` or `rename` found to keep a socket reachable there), so that a
//!    socket at the path is always already listening with its final mode;
//!    a takeover swaps it with the socket at the path
//!    (`renameat2(RENAME_EXCHANGE)`) and puts back anything that is not a
//!    socket;
//! 6. the private directory is removed, then the lock released.
//!
//! [`bind_abstract`] is the whole sequence for an abstract name: there is no
//! file, so nothing to look at, lock or remove.

use std::ffi::OsStr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::AtFlags;
use nix::sys::socket;
use nix::sys::stat::{FchmodatFlags, FileStat, fchmodat};
use nix::unistd::{Gid, Uid, UnlinkatFlags, fchownat, unlinkat};
use tokio::net::UnixListener;

use crate::addr::UnixAddr;
use crate::classify::{Next, classify};
use crate::error::{BindError, Op};
use crate::escape::shown;
use crate::guard::{Ours, UnlinkGuard};
use crate::kind::{Finish, Kind};
use crate::lock::{self, LOCK_TIMEOUT};
use crate::parent::{self, Dir};
use crate::place;
use crate::private::{PrivateDir, SOCKET};
use crate::stat::{self, is_socket, lstat_at, parent_dir, same_inode};
use crate::sys::{self, Where};

/// What to do when a file already exists at the socket path.
///
/// Whatever the policy, a live socket and anything that is not a socket
/// are never touched.
///
/// ```no_run
/// use safe_unix_listener::{OnExisting, SafeUnixListener};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), safe_unix_listener::BindError> {
/// let _listener = SafeUnixListener::builder("/run/app/app.sock".parse()?)
///     .on_existing(OnExisting::Fail)
///     .bind()?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OnExisting {
    /// Remove a socket that nobody listens on (the connection is refused),
    /// then bind. The default.
    #[default]
    RemoveStale,
    /// Remove nothing: fail with [`InUse`](crate::BindErrorKind::InUse) when
    /// any socket is at the path, stale or not.
    Fail,
    /// Zero-downtime restart: bind and listen in a private directory beside
    /// the path (with mode and owner applied), then swap the new socket with
    /// the one at the path, live or not. The path never goes missing, so
    /// clients connecting in a loop are never refused; the old server keeps
    /// the connections it has, and its drop leaves the new socket alone (it
    /// is another inode). Then send the old server SIGTERM.
    ///
    /// Anything at the path that is not a socket is still refused, even one
    /// that appears during the takeover: on Linux the swap is atomic
    /// (`renameat2(RENAME_EXCHANGE)`) and whatever came back is checked and
    /// swapped back if it is not a socket. Elsewhere the path is checked
    /// just before a plain `rename(2)`.
    TakeOver,
}

/// The options that shape a bind to a path.
#[derive(Debug, Clone, Default)]
pub(crate) struct Options {
    pub(crate) mode: Option<u32>,
    pub(crate) owner: Option<u32>,
    pub(crate) group: Option<u32>,
    pub(crate) create_parents: Option<u32>,
    pub(crate) on_existing: OnExisting,
    pub(crate) check_parent: bool,
}

/// Binds and listens on `path`, safely (see the module docs). Returns the
/// listener and the guard that removes the socket file on drop.
#[track_caller]
pub(crate) fn bind_path<K: Kind>(path: &Path, o: &Options) -> Result<(K, UnlinkGuard), BindError> {
    // 1. The directory, made when asked, and opened.
    let dir_path = parent_dir(path);
    if let Some(mode) = o.create_parents {
        parent::create_missing(path, dir_path, mode)?;
    }
    let (mut dir, name) = open(path)?;
    if o.check_parent {
        if let Some(unsafe_step) = dir.unsafe_step.take() {
            return Err(unsafe_step);
        }
    }
    // 2. The lock, until the socket is in place.
    let takeover = o.on_existing == OnExisting::TakeOver;
    let lock = lock::acquire(dir.fd(), dir_path, name, LOCK_TIMEOUT, takeover)?;
    // 3. What is there.
    match classify(dir.fd(), dir_path, path, name, takeover).next? {
        Next::Create | Next::Replace => {}
        Next::RemoveStale(..) if o.on_existing == OnExisting::Fail => {
            return Err(BindError::stale_kept(path));
        }
        Next::RemoveStale(st, _) => remove_stale(dir.fd(), path, name, &st)?,
    }
    // 4. and 5. The socket, listening, in place.
    let (listener, identity) = match route(&dir, path, name, o, takeover)? {
        Route::AtPath(at, creation) => bind_at_path(&dir, path, name, &at, creation, o)?,
        Route::Private => {
            let private = PrivateDir::create(dir.fd(), dir_path, path, name)?;
            let at = match sys::through_dir(private.fd(), OsStr::new(SOCKET)) {
                Some(through) => through,
                None => Where::Addr(
                    socket::UnixAddr::new(&private.socket_path())
                        .map_err(|e| BindError::os(Op::Bind, path, e))?,
                ),
            };
            let (listener, st) = listen_on(&at, Named::Path(path), Creation::Plain, || {
                // The bind went elsewhere if the directory's path was
                // redirected: nobody else can put a socket in it.
                let st = identity_of(private.fd(), OsStr::new(SOCKET), path)?;
                set_mode_and_owner(private.fd(), OsStr::new(SOCKET), path, o)?;
                Ok(st)
            })?;
            match takeover {
                true => place::swap_in(&private, dir.fd(), path, name)?,
                false => place::move_in(&private, dir.fd(), path, name)?,
            }
            (listener, st)
        }
    };
    // 6. The private directory went with its scope; the lock goes now.
    drop(lock);
    let guard = UnlinkGuard::new(dir.fd, dir_path.to_owned(), name, identity);
    Ok((listener, guard))
}

/// Steps 1 to 3 alone, for `clean_stale`: removes a provably stale socket
/// at `path`. `Ok(true)` if it removed one, `Ok(false)` if nothing was
/// there. A directory on the way that another user could redirect is
/// refused, with the StrictModes reason, unless `trust_parents`.
pub(crate) fn clean_path(path: &Path, trust_parents: bool) -> Result<bool, BindError> {
    let (mut dir, name) = open(path)?;
    if let (Some(unsafe_step), false) = (dir.unsafe_step.take(), trust_parents) {
        return Err(unsafe_step.during(Op::RemoveStale));
    }
    let dir_path = parent_dir(path);
    let lock = lock::acquire(dir.fd(), dir_path, name, LOCK_TIMEOUT, false)?;
    let removed = match classify(dir.fd(), dir_path, path, name, false).next? {
        Next::RemoveStale(st, _) => remove_stale(dir.fd(), path, name, &st).map(|()| true),
        Next::Create | Next::Replace => Ok(false),
    };
    drop(lock);
    removed
}

/// Step 1: the directory of `path`, opened, and the file name.
pub(crate) fn open(path: &Path) -> Result<(Dir, &OsStr), BindError> {
    let Some(name) = path.file_name() else {
        return Err(BindError::invalid_address(
            path.display(),
            "the path does not end in a file name",
        ));
    };
    Ok((parent::open_dir(path, parent_dir(path))?, name))
}

/// Where step 4 binds, and how the mode and owner are applied.
enum Route<'a> {
    /// At the path itself (by the path's own string where nobody else can
    /// redirect it, so that the kernel names the socket by it; else
    /// through the directory's descriptor).
    AtPath(Where<'a>, Creation),
    /// In a private directory, then moved to the path (step 5).
    Private,
}

/// How the mode and owner are applied to a socket bound at the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Creation {
    /// Set after the bind, before the socket listens: only where nobody
    /// else can replace a name we create in the directory.
    Plain,
    /// Given to the file as the bind creates it ([`sys::bind_creating`]):
    /// where others may write the directory, since any later step by name
    /// could reach a file they put there.
    Set { mode: Option<u32>, gid: Option<u32> },
}

/// Step 4's route. At the path itself where nobody else can replace a name
/// we create in the directory; also where others may write it, when the
/// path cannot be redirected and the bind itself can give the file its
/// mode and group (Linux); a takeover, and every other case, through a
/// private directory, since `bind(2)` cannot replace a file.
fn route<'a>(
    dir: &'a Dir,
    path: &Path,
    name: &'a OsStr,
    o: &Options,
    takeover: bool,
) -> Result<Route<'a>, BindError> {
    if takeover {
        return Ok(Route::Private);
    }
    if dir.only_ours && (sys::fd_path(dir.fd()).is_some() || !dir.redirectable) {
        let at = bind_address(dir.fd(), path, name, !dir.redirectable)?;
        return Ok(Route::AtPath(at, Creation::Plain));
    }
    let long = path.as_os_str().len() > sys::MAX_PATH_LEN;
    let euid = nix::unistd::geteuid().as_raw();
    let owner_ok = o.owner.is_none_or(|uid| uid == euid);
    Ok(
        match (
            dir.redirectable || long || !owner_ok,
            group_at_creation(dir, o.group),
        ) {
            // Nothing to give the file but what any bind gives it, or the
            // bind can give it the mode and group as it makes it.
            (false, Some(gid))
                if (o.mode.is_none() && gid.is_none()) || sys::creation_settings() =>
            {
                match socket::UnixAddr::new(path) {
                    Ok(addr) => {
                        Route::AtPath(Where::Addr(addr), Creation::Set { mode: o.mode, gid })
                    }
                    Err(_) => Route::Private,
                }
            }
            _ => Route::Private,
        },
    )
}

/// The filesystem gid a bind must take for the new file to be in `group`:
/// `Some(None)` when it is already (our gid, or the group of a setgid
/// directory), `Some(Some(gid))` when we may switch to it (root, or our
/// real gid), `None` when we may not.
fn group_at_creation(dir: &Dir, group: Option<u32>) -> Option<Option<u32>> {
    use nix::unistd::{getegid, geteuid, getgid};
    let Some(gid) = group else {
        return Some(None);
    };
    let inherited = nix::sys::stat::fstat(dir.fd())
        .is_ok_and(|st| st.st_mode & 0o2000 != 0 && st.st_gid == gid);
    if inherited || gid == getegid().as_raw() {
        Some(None)
    } else if geteuid().is_root() || gid == getgid().as_raw() {
        Some(Some(gid))
    } else {
        None
    }
}

/// Steps 4 and 5 in one: bound at the path, given its mode and owner
/// (`creation`), checked to be ours, listening.
#[track_caller]
fn bind_at_path<K: Kind>(
    dir: &Dir,
    path: &Path,
    name: &OsStr,
    at: &Where<'_>,
    creation: Creation,
    o: &Options,
) -> Result<(K, FileStat), BindError> {
    let mut made = None;
    let bound = listen_on(at, Named::In(path, dir.fd()), creation, || {
        let st = identity_of(dir.fd(), name, path)?;
        if let Creation::Set { .. } = creation {
            // Others may write the directory: the file there must be the
            // one this bind made, with what it was given.
            is_what_we_made(&st, path, o)?;
        }
        made = Some(Ours::new(st));
        if creation == Creation::Plain {
            set_mode_and_owner(dir.fd(), name, path, o)?;
        }
        Ok(st)
    });
    bound.map_err(|e| {
        // What we bound and could not finish goes again.
        if let Some(ours) = made {
            ours.remove_from(dir.fd(), name);
        }
        match e.raw_os_error() == Some(Errno::EADDRINUSE as i32) {
            true => BindError::raced(Op::Bind, path, crate::explain::Race::FilePutThere),
            false => e,
        }
    })
}

/// Whether the socket found at the path just after our bind, in a
/// directory others may write, is ours: owned by us, with the mode and
/// group it was created with. Another user cannot make such a file.
fn is_what_we_made(st: &FileStat, path: &Path, o: &Options) -> Result<(), BindError> {
    let ours = st.st_uid == nix::unistd::geteuid().as_raw()
        && o.mode.is_none_or(|mode| stat::permissions(st) == mode)
        && o.group.is_none_or(|gid| st.st_gid == gid);
    match ours {
        true => Ok(()),
        false => Err(BindError::raced(
            Op::Bind,
            path,
            crate::explain::Race::SocketReplaced,
        )),
    }
}

/// Where to bind `name` in `dir`: the path itself, as given, when nobody
/// else can redirect it (so the kernel names the socket by it), else
/// through the directory's descriptor.
fn bind_address<'a>(
    dir: BorrowedFd<'a>,
    path: &Path,
    name: &'a OsStr,
    chain_safe: bool,
) -> Result<Where<'a>, BindError> {
    let long = path.as_os_str().len() > sys::MAX_PATH_LEN;
    let by_path = chain_safe && !long;
    let at = match sys::through_dir(dir, name) {
        Some(through) if !by_path => through,
        None if long => return Err(BindError::long_path_without_proc(path)),
        _ => {
            Where::Addr(socket::UnixAddr::new(path).map_err(|e| BindError::os(Op::Bind, path, e))?)
        }
    };
    if long {
        tracing::info!(
            path = %shown(path),
            "the socket path is {} bytes, longer than the {} that clients not built on this crate (curl, nginx, Python) can reach",
            path.as_os_str().len(),
            sys::MAX_PATH_LEN
        );
    }
    Ok(at)
}

/// The socket just bound at `name` in `dir`, which only we can write.
fn identity_of(dir: BorrowedFd<'_>, name: &OsStr, path: &Path) -> Result<FileStat, BindError> {
    match lstat_at(dir, name) {
        Ok(Some(st)) if is_socket(&st) => Ok(st),
        _ => Err(BindError::raced(
            Op::Bind,
            path,
            crate::explain::Race::DirReplacedWhileBinding,
        )),
    }
}

/// The mode and owner asked for, on `name` in `dir`, where nobody else can
/// replace it: before the socket listens, so no client connects first.
fn set_mode_and_owner(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    path: &Path,
    o: &Options,
) -> Result<(), BindError> {
    if let Some(mode) = o.mode {
        fchmodat(dir, name, stat::mode(mode), FchmodatFlags::FollowSymlink)
            .map_err(|e| BindError::os(Op::SetMode, path, e))?;
    }
    if o.owner.is_some() || o.group.is_some() {
        let (uid, gid) = (o.owner.map(Uid::from_raw), o.group.map(Gid::from_raw));
        fchownat(dir, name, uid, gid, AtFlags::AT_SYMLINK_NOFOLLOW).map_err(|e| match e {
            Errno::EINVAL => BindError::unmapped_owner(path, dir, o.owner, o.group),
            _ => BindError::os_at(Op::ChangeOwner, path, e, dir, Some(name)),
        })?;
    }
    Ok(())
}

/// What a socket is named in messages.
#[derive(Clone, Copy)]
pub(crate) enum Named<'a> {
    Path(&'a Path),
    /// A path in the directory open as the descriptor, which explains
    /// EACCES and EPERM.
    In(&'a Path, BorrowedFd<'a>),
    Abstract(&'a dyn std::fmt::Display),
}

impl Named<'_> {
    fn os(self, op: Op, errno: Errno) -> BindError {
        match self {
            Named::Path(path) => BindError::os(op, path, errno),
            Named::In(path, dir) => BindError::os_at(op, path, errno, dir, None),
            Named::Abstract(shown) => BindError::abstract_failed(shown, errno),
        }
    }
}

/// The one sequence every bind route ends in: a new socket of kind `K`,
/// bound to `at`, then `prepare` (the identity check, mode and owner:
/// before any client can connect or send), then listening (for a stream
/// listener), then registered with Tokio ([`Kind::finish`]).
#[track_caller]
pub(crate) fn listen_on<K: Kind, T>(
    at: &Where<'_>,
    named: Named<'_>,
    creation: Creation,
    prepare: impl FnOnce() -> Result<T, BindError>,
) -> Result<(K, T), BindError> {
    let fd = sys::unix_socket(K::TYPE).map_err(|e| named.os(Op::CreateSocket, e))?;
    K::before_bind(fd.as_fd()).map_err(|e| named.os(Op::PassCredentials, e))?;
    match creation {
        Creation::Plain
        | Creation::Set {
            mode: None,
            gid: None,
        } => sys::bind(fd.as_fd(), at),
        Creation::Set { mode, gid } => sys::bind_creating(fd.as_fd(), at, mode, gid),
    }
    .map_err(|e| named.os(Op::Bind, e))?;
    let prepared = prepare()?;
    let socket = K::finish(fd).map_err(|e| match e {
        Finish::Listen(errno) => named.os(Op::Listen, errno),
        Finish::Register(e) => BindError::from_io(e, |errno| named.os(Op::Register, errno)),
    })?;
    Ok((socket, prepared))
}

fn remove_stale(
    dir: BorrowedFd<'_>,
    path: &Path,
    name: &OsStr,
    probed: &FileStat,
) -> Result<(), BindError> {
    match lstat_at(dir, name).map_err(|e| BindError::os_at(Op::LookUp, path, e, dir, Some(name)))? {
        None => return Ok(()),
        Some(now) if !same_inode(&now, probed) => {
            return Err(BindError::raced(
                Op::RemoveStale,
                path,
                crate::explain::Race::ReplacedWhileChecked,
            ));
        }
        Some(_) => {}
    }
    match unlinkat(dir, name, UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => {
            tracing::info!(path = %shown(path), "removed stale socket");
            Ok(())
        }
        Err(errno) => Err(BindError::os_at(
            Op::RemoveStale,
            path,
            errno,
            dir,
            Some(name),
        )),
    }
}
/// The whole sequence for an abstract name (`shown` in messages).
#[track_caller]
pub(crate) fn bind_abstract<K: Kind>(
    name: &[u8],
    shown: &dyn std::fmt::Display,
) -> Result<K, BindError> {
    let Some(sockaddr) = sys::abstract_sockaddr(name) else {
        return Err(BindError::unsupported_abstract(shown));
    };
    Ok(listen_on(
        &Where::Addr(sockaddr),
        Named::Abstract(shown),
        Creation::Plain,
        || Ok(()),
    )?
    .0)
}

/// Linux autobind: binding an unnamed address makes the kernel choose a
/// free abstract name. Returns the listener and the name it got.
#[track_caller]
pub(crate) fn bind_abstract_auto() -> Result<(UnixListener, UnixAddr), BindError> {
    let shown = &"an abstract name chosen by the kernel";
    let Some(unnamed) = sys::autobind_sockaddr() else {
        return Err(BindError::unsupported_abstract(shown));
    };
    let (listener, ()): (UnixListener, ()) = listen_on(
        &Where::Addr(unnamed),
        Named::Abstract(shown),
        Creation::Plain,
        || Ok(()),
    )?;
    let fail = |e| BindError::abstract_failed(shown, e);
    let bound: socket::UnixAddr = socket::getsockname(listener.as_raw_fd()).map_err(fail)?;
    let addr = UnixAddr::from_sockaddr(&bound).ok_or_else(|| fail(Errno::EADDRNOTAVAIL))?;
    Ok((listener, addr))
}
