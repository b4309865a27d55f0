//! The bind sequence, read top to bottom in [`bind_path`]:
//!
//! 1. the directory: created when asked (never following a link), then
//!    resolved once, one component at a time, with OpenSSH's StrictModes
//!    rule applied to every step ([`crate::parent`]); every later step works
//!    through its descriptor, on the socket's name in it as one value
//!    ([`EntryRef`], which decides the route to the name and whether a file
//!    is still the one we made). Steps 1 to 3 are [`open`] and its
//!    [`Opened`], taken alike by the bind, `clean_stale` and `inspect`;
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
//!    can be redirected: with nothing asked of its access, as any bind
//!    makes it; with a mode, owner or group, closed ([`Creation::Closed`]:
//!    no permission bits, so nobody can connect or send), then proven to
//!    be the file our socket is bound to and given its access through the
//!    descriptor that pins it, never by name (Linux, with `/proc`). Before
//!    it listens, on every route, the file's access is what was asked for
//!    and no more ([`crate::access`]): an ACL inherited from a default
//!    ACL, or a group from a setgid directory, is undone. The kernel then
//!    names the socket by the path that was asked for, and a file bound
//!    there that the bind cannot finish (an error, or a panic of Tokio's
//!    registration) is removed again ([`Unfinished`]). Anywhere else (a
//!    takeover, a path that can be redirected, no `/proc`, other
//!    platforms) it is bound in a private 0700 directory beside the path
//!    ([`crate::private`]), where nobody else can reach it, and
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
use nix::sys::socket::{self, Backlog};
use nix::sys::stat::{FchmodatFlags, FileStat, fchmodat};
use nix::unistd::{Gid, Uid, fchownat};
use tokio::net::UnixListener;

use crate::access;
use crate::addr::UnixAddr;
use crate::classify::{Classified, Next, classify};
use crate::entry::{Entry, EntryRef, Made, NotMade, Reach};
use crate::error::{BindError, Op};
use crate::escape::shown;
use crate::guard::{Unfinished, UnlinkGuard};
use crate::kind::{Finish, Kind};
use crate::lock::{self, BindLock, LOCK_TIMEOUT, LockState};
use crate::parent::{self, Dir};
use crate::place;
use crate::private::PrivateDir;
use crate::stat::{parent_dir, same_inode};
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
/// let _listener = SafeUnixListener::builder("/run/app/app.sock")
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
    /// The listen queue's length; `None`, the most the platform allows.
    pub(crate) backlog: Option<u32>,
}

impl Options {
    /// The access asked for, as [`access`] checks it.
    fn asked(&self) -> access::Asked {
        access::Asked {
            mode: self.mode,
            owner: self.owner,
            group: self.group,
            any: self.mode.is_some() || self.owner.is_some() || self.group.is_some(),
        }
    }

    /// The listen queue asked for, at most `SOMAXCONN` (the kernel caps it
    /// again, at `net.core.somaxconn` on Linux).
    pub(crate) fn backlog(&self) -> Backlog {
        self.backlog
            .and_then(|n| Backlog::new(i32::try_from(n).unwrap_or(i32::MAX)).ok())
            .unwrap_or(Backlog::MAXCONN)
    }
}

/// Binds and listens on `path`, safely (see the module docs). Returns the
/// listener and the guard that removes the socket file on drop.
#[track_caller]
pub(crate) fn bind_path<K: Kind>(path: &Path, o: &Options) -> Result<(K, UnlinkGuard), BindError> {
    let path = &*resolved(path)?;
    // 1. The directory, made when asked, and opened.
    if let Some(mode) = o.create_parents {
        parent::create_missing(path, parent_dir(path), mode)?;
    }
    let mut opened = open(path)?;
    if o.check_parent {
        if let Some(unsafe_step) = opened.dir.unsafe_step.take() {
            return Err(unsafe_step);
        }
    }
    // 2. The lock, until the socket is in place, and 3. what is there.
    let at = opened.at();
    let takeover = o.on_existing == OnExisting::TakeOver;
    let (lock, next) = opened.lock_and_classify(takeover)?;
    crate::private::clear_leftover(at);
    match next {
        Next::Create | Next::Replace => {}
        Next::RemoveStale(..) if o.on_existing == OnExisting::Fail => {
            return Err(BindError::stale_kept(path));
        }
        Next::RemoveStale(st, _) => remove_stale(at, &st)?,
    }
    // 4. and 5. The socket, listening, in place.
    let (listener, made) = match bind_route(&opened.dir, at, o, takeover)? {
        BindAt::Path(addr, creation) => match bind_at_path(at, &addr, creation, o) {
            // A filter refused fchownat: the filesystem gid may still give
            // the group, the route that works.
            // Where that is refused too, the first refusal is the one to
            // report.
            Err(e) => match fsgid_instead(&e, creation, o) {
                Some(fsgid) => {
                    bind_at_path(at, &addr, Creation::Closed { fsgid }, o).map_err(|_| e)?
                }
                None => return Err(e),
            },
            bound => bound?,
        },
        BindAt::PrivateDir => bind_in_private_dir(at, o, takeover)?,
    };
    // 6. The private directory went with its scope; the lock goes now.
    drop(lock);
    let at = Entry::new(opened.dir.fd, opened.name.to_owned(), path.to_owned());
    Ok((listener, UnlinkGuard::new(at, made)))
}

/// Steps 4 and 5 through a private directory beside `at`: bound there,
/// given its access ([`access::settle`]), its mode and owner, listening,
/// then moved into place (swapped with the socket there for a `takeover`).
#[track_caller]
fn bind_in_private_dir<K: Kind>(
    at: EntryRef<'_>,
    o: &Options,
    takeover: bool,
) -> Result<(K, Made), BindError> {
    let path = at.path();
    let private = PrivateDir::create(at)?;
    let socket = private.socket();
    let addr = socket
        .reach(false)
        .address()
        .map_err(|e| BindError::os(Op::Bind, path, e))?;
    let (listener, made) = listen_on(
        &addr,
        Named::Path(path),
        Creation::Plain,
        o.backlog(),
        |_| {
            // The bind went elsewhere if the directory's path was
            // redirected: nobody else can put a socket in it.
            let made = made_socket(socket, path, None)?;
            access::settle(socket, false, &made, o.asked(), path)?;
            set_mode_and_owner(socket, path, o)?;
            Ok(made)
        },
    )?;
    if takeover {
        place::swap_in(&private, at)?;
    } else {
        place::move_in(&private, at)?;
    }
    Ok((listener, made))
}

/// Steps 1 to 3 alone, for `clean_stale`: removes a provably stale socket
/// at `path`. `Ok(true)` if it removed one, `Ok(false)` if nothing was
/// there. A directory on the way that another user could redirect is
/// refused, with the StrictModes reason, unless `trust_parents`.
pub(crate) fn clean_path(path: &Path, trust_parents: bool) -> Result<bool, BindError> {
    let path = &*resolved(path)?;
    let mut opened = open(path)?;
    if let (Some(unsafe_step), false) = (opened.dir.unsafe_step.take(), trust_parents) {
        return Err(unsafe_step.refused_clean());
    }
    let (lock, next) = opened.lock_and_classify(false)?;
    crate::private::clear_leftover(opened.at());
    let removed = match next {
        Next::RemoveStale(st, _) => remove_stale(opened.at(), &st).map(|()| true),
        Next::Create | Next::Replace => Ok(false),
    };
    drop(lock);
    removed
}

/// Step 1's result: the directory of a socket path, opened, and the name
/// of the socket in it. Steps 2 and 3 are its methods, so that the bind,
/// `clean_stale` and `inspect` take them alike.
#[derive(Debug)]
pub(crate) struct Opened<'p> {
    pub(crate) dir: Dir,
    name: &'p OsStr,
    path: &'p Path,
}

impl Opened<'_> {
    /// The socket's name in the opened directory.
    pub(crate) fn at(&self) -> EntryRef<'_> {
        EntryRef::new(self.dir.fd(), self.name, self.path)
    }

    /// Steps 2 and 3: the bind lock, taken (with the directory's own for a
    /// `takeover`), then what is at the path and what a bind does next.
    pub(crate) fn lock_and_classify(
        &self,
        takeover: bool,
    ) -> Result<(Option<BindLock<'_>>, Next), BindError> {
        let at = self.at();
        let lock = lock::acquire(at, LOCK_TIMEOUT, takeover)?;
        let next = classify(at, takeover).next?;
        Ok((lock, next))
    }

    /// Steps 2 and 3 as `inspect` takes them, changing nothing: the lock
    /// looked at (with the error a bind would give when it cannot be
    /// used), then what is at the path.
    pub(crate) fn look_and_classify(&self) -> (LockState, Option<BindError>, Classified) {
        let at = self.at();
        let (lock, lock_error) = lock::look(at);
        (lock, lock_error, classify(at, false))
    }
}

/// A relative `path`, resolved once against the working directory as the
/// bind starts: every later step (the walk from `/`, the bind by the
/// path's string, the removal at the drop) uses the absolute path, so
/// that another thread's `chdir` during the bind changes nothing. The
/// kernel names the socket by the absolute path.
fn resolved(path: &Path) -> Result<std::borrow::Cow<'_, Path>, BindError> {
    if path.is_absolute() {
        return Ok(path.into());
    }
    std::path::absolute(path)
        .map(Into::into)
        .map_err(|e| BindError::io(Op::LookUpDir, Path::new("."), e))
}

/// Step 1: the directory of `path`, opened, and the file name.
pub(crate) fn open(path: &Path) -> Result<Opened<'_>, BindError> {
    let Some(name) = path.file_name() else {
        return Err(BindError::invalid_address(
            path.display(),
            "the path does not end in a file name",
        ));
    };
    let dir = parent::open_dir(path, parent_dir(path))?;
    Ok(Opened { dir, name, path })
}

/// Where step 4 binds, and how the mode and owner are applied.
enum BindAt<'a> {
    /// At the path itself (by the path's own string where nobody else can
    /// redirect it, so that the kernel names the socket by it; else
    /// through the directory's descriptor).
    Path(Where<'a>, Creation),
    /// In a private directory, then moved to the path (step 5).
    PrivateDir,
}

/// How the mode and owner are applied to a socket bound at the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Creation {
    /// Set by name after the bind, before the socket listens: only where
    /// nobody else can replace a name we create in the directory.
    Plain,
    /// Where others may write the directory, with nothing asked of the
    /// file's access: bound as any bind is, then checked to be ours.
    Shared,
    /// Where others may write the directory, with a mode, owner or group
    /// asked for: the file is made with no permission bits, so that nobody
    /// can connect or send to it ([`sys::close_before_bind`], in the group
    /// `fsgid` where only that can give it), checked to be ours, then given
    /// its access through the descriptor that pins it
    /// ([`access::set_pinned`]), since any step by name could reach a file
    /// others put there.
    Closed { fsgid: Option<u32> },
}

/// Step 4's route to `at`, in `dir`. At the path itself where nobody else
/// can replace a name we create in the directory; also where others may
/// write it, when the path cannot be redirected and, if any access is
/// asked for, it can be set through the file's pinned descriptor
/// (`/proc/self/fd`, Linux); a takeover, and every other case, through a
/// private directory, since `bind(2)` cannot replace a file.
fn bind_route<'a>(
    dir: &Dir,
    at: EntryRef<'a>,
    o: &Options,
    takeover: bool,
) -> Result<BindAt<'a>, BindError> {
    if takeover {
        return Ok(BindAt::PrivateDir);
    }
    let through_proc = sys::fd_path(dir.fd()).is_some();
    if dir.only_ours && (through_proc || !dir.redirectable) {
        let addr = bind_address(at, !dir.redirectable)?;
        return Ok(BindAt::Path(addr, Creation::Plain));
    }
    let long = at.path().as_os_str().len() > sys::MAX_PATH_LEN;
    let asked = o.asked().any;
    if dir.redirectable || long || (asked && !through_proc) {
        return Ok(BindAt::PrivateDir);
    }
    let creation = if asked {
        Creation::Closed {
            fsgid: fsgid_for(o.group),
        }
    } else {
        Creation::Shared
    };
    Ok(match at.reach(true).address() {
        Ok(addr) => BindAt::Path(addr, creation),
        Err(_) => BindAt::PrivateDir,
    })
}

/// The filesystem gid a closed bind takes so that the file is made in
/// `group`: only where `fchown` could not give it after (no `CAP_CHOWN`,
/// not a member) and `setfsgid` can (`CAP_SETGID`, or our real gid).
fn fsgid_for(group: Option<u32>) -> Option<u32> {
    use sys::{Cap, Caps};
    let gid = group?;
    let caps = Caps::now();
    let by_chown = caps.has(Cap::Chown) || sys::in_group(gid);
    let by_fsgid = caps.has(Cap::Setgid) || gid == nix::unistd::getgid().as_raw();
    (!by_chown && by_fsgid).then_some(gid)
}

/// Where `fchownat` of a closed bind's group was refused though we may
/// change it (`CAP_CHOWN`, or membership: a system-call filter such as
/// systemd's `SystemCallFilter=~@privileged`), the filesystem gid that
/// gives the group instead, if we may take it (`CAP_SETGID`, or our real
/// gid) and only the group was asked to change.
fn fsgid_instead(e: &BindError, creation: Creation, o: &Options) -> Option<Option<u32>> {
    let gid = o.group?;
    let refused = e.0.operation == Op::ChangeOwner && e.raw_os_error() == Some(Errno::EPERM as i32);
    let first_try = creation == Creation::Closed { fsgid: None };
    let may = sys::Caps::now().has(sys::Cap::Setgid) || gid == nix::unistd::getgid().as_raw();
    (refused && first_try && o.owner.is_none() && may).then_some(Some(gid))
}

/// Steps 4 and 5 in one: bound at the path, given its mode and owner
/// (`creation`), checked to be ours and to carry nothing beyond what was
/// asked for ([`crate::access`]), listening. What it bound and could not
/// finish is removed, on an error and on a panic alike ([`Unfinished`]).
#[track_caller]
fn bind_at_path<K: Kind>(
    at: EntryRef<'_>,
    addr: &Where<'_>,
    creation: Creation,
    o: &Options,
) -> Result<(K, Made), BindError> {
    let path = at.path();
    // Whether the bind went by the path's own string, for the route to
    // the file it made.
    let by_path = matches!(addr, Where::Addr(a) if a.path() == Some(path));
    let mut unfinished = Unfinished::new(at);
    let bound = listen_on(
        addr,
        Named::In(path, at.dir()),
        creation,
        o.backlog(),
        |sock| match creation {
            Creation::Plain => {
                let made = made_socket(at, path, None)?;
                unfinished.made(made.clone());
                access::settle(at, by_path, &made, o.asked(), path)?;
                set_mode_and_owner(at, path, o)?;
                Ok(made)
            }
            // Others may write the directory: the file there must be the
            // one our socket is bound to (where the kernel says), as this
            // bind made it, and nothing is changed by name there.
            Creation::Shared | Creation::Closed { .. } => {
                let made = made_socket(at, path, Some(sock))?;
                let closed = matches!(creation, Creation::Closed { .. });
                is_what_we_made(&made, path, closed.then_some(0))?;
                unfinished.made(made.clone());
                if closed {
                    access::set_pinned(at, &made, o.asked())
                } else {
                    Ok(made)
                }
            }
        },
    );
    match bound {
        Ok(bound) => {
            unfinished.finished();
            Ok(bound)
        }
        Err(e) => {
            // What we bound and could not finish goes again.
            drop(unfinished);
            if e.raw_os_error() == Some(Errno::EADDRINUSE as i32) {
                Err(BindError::raced(
                    Op::Bind,
                    path,
                    crate::explain::Race::FilePutThere,
                ))
            } else {
                Err(e)
            }
        }
    }
}

/// Whether the socket found at the path just after our bind, in a
/// directory others may write, is ours: owned by us, with the `mode` it was
/// made with (none, for a closed bind). Another user cannot make such a
/// file.
fn is_what_we_made(made: &Made, path: &Path, mode: Option<u32>) -> Result<(), BindError> {
    if made.is_as_made(mode, None) {
        Ok(())
    } else {
        Err(BindError::raced(
            Op::Bind,
            path,
            crate::explain::Race::SocketReplaced,
        ))
    }
}

/// Where to bind `at`: the path itself, as given, when nobody else can
/// redirect it (`chain_safe`, so the kernel names the socket by it), else
/// through the directory's descriptor ([`EntryRef::reach`]).
fn bind_address(at: EntryRef<'_>, chain_safe: bool) -> Result<Where<'_>, BindError> {
    let path = at.path();
    let long = path.as_os_str().len() > sys::MAX_PATH_LEN;
    let by_path = chain_safe && !long;
    let addr = match at.reach(by_path) {
        // No route through the descriptor, and the path does not fit.
        Reach::Path(_) if long => return Err(BindError::long_path_without_proc(path)),
        reach => reach
            .address()
            .map_err(|e| BindError::os(Op::Bind, path, e))?,
    };
    if long {
        tracing::info!(
            path = %shown(path),
            "the socket path is {} bytes, longer than the {} that clients not built on this crate (curl, nginx, Python) can reach",
            path.as_os_str().len(),
            sys::MAX_PATH_LEN
        );
    }
    Ok(addr)
}

/// The socket just bound at `at` (`path` in messages); with `bound`, the
/// file must be the one the kernel says that socket is bound to.
fn made_socket(
    at: EntryRef<'_>,
    path: &Path,
    bound: Option<BorrowedFd<'_>>,
) -> Result<Made, BindError> {
    at.made_socket(bound).map_err(|not| {
        let race = match not {
            NotMade::NoSocket => crate::explain::Race::DirReplacedWhileBinding,
            NotMade::NotOurs => crate::explain::Race::SocketReplaced,
        };
        BindError::raced(Op::Bind, path, race)
    })
}

/// The mode and owner asked for, on `at` (`path` in messages), where nobody
/// else can replace it: before the socket listens, so no client connects
/// first.
fn set_mode_and_owner(at: EntryRef<'_>, path: &Path, o: &Options) -> Result<(), BindError> {
    let (dir, name) = (at.dir(), at.name());
    if let Some(mode) = o.mode {
        fchmodat(
            dir,
            name,
            crate::stat::mode(mode),
            FchmodatFlags::FollowSymlink,
        )
        .map_err(|e| BindError::os(Op::SetMode, path, e))?;
    }
    if o.owner.is_some() || o.group.is_some() {
        let (uid, gid) = (o.owner.map(Uid::from_raw), o.group.map(Gid::from_raw));
        fchownat(dir, name, uid, gid, AtFlags::AT_SYMLINK_NOFOLLOW).map_err(|e| match e {
            Errno::EINVAL => BindError::unmapped_owner(path, dir, o.owner, o.group),
            _ => BindError::chown_refused(path, e, o.owner, o.group, dir),
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
    /// The filesystem gid `gid` could not be taken for the bind.
    fn fsgid_refused(self, gid: u32, errno: Errno) -> BindError {
        match self {
            Named::Path(path) | Named::In(path, _) => BindError::fsgid_refused(path, gid, errno),
            Named::Abstract(_) => self.os(Op::Bind, errno),
        }
    }

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
    backlog: Backlog,
    prepare: impl FnOnce(BorrowedFd<'_>) -> Result<T, BindError>,
) -> Result<(K, T), BindError> {
    let fd = sys::unix_socket(K::TYPE).map_err(|e| named.os(Op::CreateSocket, e))?;
    K::before_bind(fd.as_fd()).map_err(|e| named.os(Op::PassCredentials, e))?;
    let mut _fsgid = None;
    if let Creation::Closed { fsgid } = creation {
        sys::close_before_bind(fd.as_fd()).map_err(|e| named.os(Op::Bind, e))?;
        if let Some(gid) = fsgid {
            let switched = sys::switch_fsgid(gid).map_err(|e| named.fsgid_refused(gid, e))?;
            _fsgid = Some(switched);
        }
    }
    sys::bind(fd.as_fd(), at).map_err(|e| named.os(Op::Bind, e))?;
    drop(_fsgid);
    let prepared = prepare(fd.as_fd())?;
    let socket = K::finish(fd, backlog).map_err(|e| match e {
        Finish::Listen(errno) => named.os(Op::Listen, errno),
        Finish::Register(e) => BindError::from_io(e, |errno| named.os(Op::Register, errno)),
    })?;
    Ok((socket, prepared))
}

/// Removes the stale socket at `at`, if the name still leads to the file
/// `probed`.
fn remove_stale(at: EntryRef<'_>, probed: &FileStat) -> Result<(), BindError> {
    let path = at.path();
    match at.lstat().map_err(|e| at.os_error(Op::LookUp, e))? {
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
    match at.unlink() {
        Ok(()) | Err(Errno::ENOENT) => {
            tracing::info!(path = %shown(path), "removed stale socket");
            Ok(())
        }
        Err(errno) => Err(at.os_error(Op::RemoveStale, errno)),
    }
}

/// The whole sequence for an abstract name (`shown` in messages).
#[track_caller]
pub(crate) fn bind_abstract<K: Kind>(
    name: &[u8],
    shown: &dyn std::fmt::Display,
    backlog: Backlog,
) -> Result<K, BindError> {
    let Some(sockaddr) = sys::abstract_sockaddr(name) else {
        return Err(BindError::unsupported_abstract(shown));
    };
    Ok(listen_on(
        &Where::Addr(sockaddr),
        Named::Abstract(shown),
        Creation::Plain,
        backlog,
        |_| Ok(()),
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
        Backlog::MAXCONN,
        |_| Ok(()),
    )?;
    let fail = |e| BindError::abstract_failed(shown, e);
    let bound: socket::UnixAddr = socket::getsockname(listener.as_raw_fd()).map_err(fail)?;
    let addr = UnixAddr::from_sockaddr(&bound).ok_or_else(|| fail(Errno::EADDRNOTAVAIL))?;
    Ok((listener, addr))
}
