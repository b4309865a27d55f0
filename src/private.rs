//! The private directory a new socket is made in before it is moved into
//! place.
//!
//! It is created with mode 0700 beside the socket path and checked to be
//! ours after it is opened. Nobody else can enter it, so the socket made in
//! it cannot be swapped, and its mode and owner are set through the
//! directory's descriptor on the one file in it. While in use the directory
//! is `flock`ed: a directory whose lock is free belongs to a process that
//! died mid-bind.
//!
//! Its name is derived from the socket's (`.app.sock.sul` for `app.sock`),
//! and made only under the bind lock, so a leftover of a bind that died is
//! found by that one name, with no directory listing, and removed by the
//! next bind of the same socket. When another user has taken that name, a
//! random one is used (`.sul-` and eight random characters), and leftovers
//! of those are swept once per process and directory.

use std::ffi::{OsStr, OsString};
use std::hash::{BuildHasher, Hasher, RandomState};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use std::sync::Mutex;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg, OFlag, openat};
use nix::sys::stat::{Mode, fstat, mkdirat};
use nix::unistd::{UnlinkatFlags, geteuid, unlinkat};

use crate::entry::{Entry, EntryRef, Reach, Removal};
use crate::error::{BindError, Op};
use crate::probe::{Probe, probe_at};
use crate::stat::is_socket;
use crate::sys;

pub(crate) const PREFIX: &str = ".sul-";
const RANDOM_LEN: usize = 8;
const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
/// The socket's name inside the private directory.
pub(crate) const SOCKET: &str = "s";
/// How many bytes binding in a random private directory by its path adds
/// to the parent's path: `/`, the directory's name, `/s`.
const EXTRA_LEN: usize = 1 + PREFIX.len() + RANDOM_LEN + 1 + SOCKET.len();

/// A private directory in use, removed with whatever socket is still in it
/// when dropped.
#[derive(Debug)]
pub(crate) struct PrivateDir<'d> {
    fd: Flock<OwnedFd>,
    /// Its name beside the socket.
    at: Entry<BorrowedFd<'d>>,
    /// `<its path>/s`, for messages.
    socket: PathBuf,
}

impl<'d> PrivateDir<'d> {
    /// Creates, opens, checks and locks a new private directory beside
    /// `socket`, for it. Call it under the bind lock.
    pub(crate) fn create(socket: EntryRef<'d>) -> Result<Self, BindError> {
        let (parent, parent_path) = (socket.dir(), socket.dir_path());
        // Without a route through the directory (no /proc; macOS, NetBSD)
        // the bind goes by path, which must fit.
        let by_path = matches!(socket.reach(false), Reach::Path(_));
        let fits = |dir_name_len: usize| {
            !by_path
                || parent_path.as_os_str().len() + 1 + dir_name_len + 1 + SOCKET.len()
                    <= sys::MAX_PATH_LEN
        };
        let own = socket.beside(own_name(socket.name()));
        if fits(own.at().name().len()) {
            let made = match make_named(own.at()) {
                Err(Errno::EEXIST) => {
                    // A bind that died; we hold the bind lock, so no live
                    // bind of this socket uses it.
                    remove_leftover(own.at());
                    make_named(own.at())
                }
                made => made,
            };
            match made {
                Ok(fd) => return Ok(Self::at(fd, own)),
                Err(
                    errno @ (Errno::EACCES
                    | Errno::EPERM
                    | Errno::EROFS
                    | Errno::ENOSPC
                    | Errno::EDQUOT),
                ) => {
                    return Err(socket.os_error_in_dir(Op::Bind, errno));
                }
                // Taken by someone else: a random name instead.
                Err(_) => sweep_once(parent, parent_path, PREFIX),
            }
        }
        let needed = parent_path.as_os_str().len() + EXTRA_LEN;
        if !fits(PREFIX.len() + RANDOM_LEN) {
            return Err(BindError::no_room_for_private_dir(
                socket.path(),
                needed,
                sys::MAX_PATH_LEN,
            ));
        }
        match make_own_dir(parent, parent_path, PREFIX) {
            Ok((name, fd)) => Ok(Self::at(fd, socket.beside(name))),
            // Reported as what it is to the user: the bind failing.
            Err(OwnDirError::Os(errno)) => Err(socket.os_error_in_dir(Op::Bind, errno)),
            Err(OwnDirError::Raced(errno)) => Err(BindError::raced(
                Op::CreatePrivateDir,
                socket.path(),
                crate::explain::Race::PrivateDirsReplaced(errno),
            )),
        }
    }

    fn at(fd: Flock<OwnedFd>, at: Entry<BorrowedFd<'d>>) -> Self {
        let socket = at.at().path().join(SOCKET);
        Self { fd, at, socket }
    }

    /// The descriptor of the directory, for the `*at` calls on the socket.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The directory's path, for messages.
    pub(crate) fn path(&self) -> &Path {
        self.at.at().path()
    }

    /// The socket `s` in the directory.
    pub(crate) fn socket(&self) -> EntryRef<'_> {
        EntryRef::new(self.fd(), OsStr::new(SOCKET), &self.socket)
    }
}

impl Drop for PrivateDir<'_> {
    fn drop(&mut self) {
        // Only we can create anything in here; a socket left in it is one we
        // made (or, after a takeover, the one we replaced).
        if let Removal::Failed(errno) = self.socket().remove_if_still(None) {
            tracing::warn!(dir = %self.path().display(), %errno, "could not remove the socket in our private directory");
        }
        match self.at.at().remove_dir_if_still(&*self.fd) {
            Removal::Removed => {}
            Removal::Failed(errno) => {
                tracing::warn!(dir = %self.path().display(), %errno, "could not remove our private directory; the next bind here will");
            }
            Removal::Replaced | Removal::Gone | Removal::Unchecked(_) => {
                tracing::warn!(dir = %self.path().display(), "our private directory was moved away by another process")
            }
        }
    }
}

/// Why [`make_own_dir`] failed.
#[derive(Debug)]
pub(crate) enum OwnDirError {
    /// `mkdir` failed.
    Os(Errno),
    /// Each new directory was swapped or removed by someone else before it
    /// could be locked; the last reason.
    Raced(Errno),
}

/// `.<socket name>.sul`: the private directory of the socket `name`.
pub(crate) fn own_name(name: &OsStr) -> OsString {
    let mut own = OsString::from(".");
    own.push(name);
    own.push(".sul");
    own
}

/// Makes, opens, checks and locks the new directory `at`.
fn make_named(at: EntryRef<'_>) -> Result<Flock<OwnedFd>, Errno> {
    mkdirat(at.dir(), at.name(), Mode::S_IRWXU)?;
    // Swapped since mkdir: that directory is not ours to touch.
    open_ours(at).map_err(|_| Errno::EBUSY)
}

/// Removes the private directory of the socket `socket` (`.<name>.sul`)
/// left by a bind or takeover that did not finish, where there is one:
/// found by that one name, with no listing (one `fstatat` when there is
/// none), and removed only if ours, not in use (its lock is free: the
/// process that made it is gone) and holding nothing but a stale socket.
/// Every bind calls it under the bind lock.
pub(crate) fn clear_leftover(socket: EntryRef<'_>) {
    let own = socket.beside(own_name(socket.name()));
    if own.at().lstat().is_ok_and(|st| st.is_some()) {
        remove_leftover(own.at());
    }
}

/// Once per base directory and process: removes the leftovers there whose
/// names are `prefix` and eight random characters (ours, unlocked, holding
/// nothing but a stale socket). This lists the directory, so it runs only
/// where random names are in use.
pub(crate) fn sweep_once(parent: BorrowedFd<'_>, parent_path: &Path, prefix: &str) {
    static SWEPT: Mutex<Vec<(PathBuf, String)>> = Mutex::new(Vec::new());
    let Ok(mut swept) = SWEPT.lock() else {
        return;
    };
    if !swept.iter().any(|(p, q)| p == parent_path && q == prefix) {
        swept.push((parent_path.to_owned(), prefix.to_owned()));
        drop(swept);
        remove_leftovers(parent, parent_path, prefix);
    }
}

/// Makes, opens, checks and locks a new directory `prefix` and eight random
/// characters in `parent` (`parent_path` in messages), mode 0700, under a
/// name nobody used before.
pub(crate) fn make_own_dir(
    parent: BorrowedFd<'_>,
    parent_path: &Path,
    prefix: &str,
) -> Result<(OsString, Flock<OwnedFd>), OwnDirError> {
    let mut last = Errno::EEXIST;
    for _ in 0..16 {
        let name = random_name(prefix);
        match mkdirat(parent, name.as_os_str(), Mode::S_IRWXU) {
            Ok(()) => {}
            Err(Errno::EEXIST) => continue,
            Err(errno) => return Err(OwnDirError::Os(errno)),
        }
        let path = parent_path.join(&name);
        match open_ours(EntryRef::new(parent, &name, &path)) {
            Ok(fd) => return Ok((name, fd)),
            // Swapped or removed by someone else since mkdir (or taken for
            // a leftover by another process's sweep): that directory is
            // not ours to touch; use another name.
            Err(errno) => last = errno,
        }
    }
    Err(OwnDirError::Raced(last))
}

/// Opens `at` without following a link, checks that it is a directory
/// only we may enter, locks it, and checks that the name still leads to
/// it. A directory whose lock is taken is in use.
fn open_ours(at: EntryRef<'_>) -> Result<Flock<OwnedFd>, Errno> {
    let fd = open_own_dir(at.dir(), at.name())?;
    let fd = Flock::lock(fd, FlockArg::LockExclusiveNonblock).map_err(|(_, e)| e)?;
    if at.leads_to(&*fd)? {
        Ok(fd)
    } else {
        Err(Errno::ENOENT)
    }
}

/// Removes the directories `prefix` and eight random characters in
/// `parent` that are ours and whose lock is free (their process died), with
/// the stale socket in them. Anything else is left alone, and every
/// failure only means a leftover stays for a later bind.
fn remove_leftovers(parent: BorrowedFd<'_>, parent_path: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(parent_path) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let random = name.as_bytes().strip_prefix(prefix.as_bytes());
        if random.is_some_and(|r| r.len() == RANDOM_LEN && r.iter().all(|b| ALPHABET.contains(b))) {
            let path = parent_path.join(&name);
            remove_leftover(EntryRef::new(parent, &name, &path));
        }
    }
}

/// Removes the leftover private directory `at`, if it is ours, its lock is
/// free, and it holds nothing but a stale socket.
fn remove_leftover(at: EntryRef<'_>) {
    // Ours, a directory, and not in use: its lock is free.
    let Ok(fd) = open_ours(at) else {
        return;
    };
    let path = at.path();
    let socket_path = path.join(SOCKET);
    let socket = EntryRef::new(fd.as_fd(), OsStr::new(SOCKET), &socket_path);
    if let Ok(Some(st)) = socket.lstat() {
        let stale = matches!(probe_at(socket, false), Ok(Probe::Stale));
        if !is_socket(&st) || !stale {
            return;
        }
        if socket.unlink().is_err() {
            return;
        }
    }
    match unlinkat(at.dir(), at.name(), UnlinkatFlags::RemoveDir) {
        Ok(()) => {
            tracing::info!(dir = %path.display(), "removed a private directory left by an interrupted bind")
        }
        Err(errno) => {
            tracing::debug!(dir = %path.display(), %errno, "left a private directory in place")
        }
    }
}

/// Opens the directory `name` in `parent` without following a link, and
/// checks that only we may enter it: owned by our effective uid, no access
/// for group or others.
fn open_own_dir(parent: BorrowedFd<'_>, name: &OsStr) -> Result<OwnedFd, Errno> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = openat(parent, name, flags, Mode::empty())?;
    let st = fstat(&fd)?;
    if st.st_uid != geteuid().as_raw() || st.st_mode & 0o077 != 0 {
        return Err(Errno::EPERM);
    }
    Ok(fd)
}

/// `prefix` and eight random characters from `[a-z0-9]`.
fn random_name(prefix: &str) -> OsString {
    // RandomState's keys come from the OS's randomness, and differ for
    // every RandomState made.
    let mut bits = RandomState::new().build_hasher().finish();
    let mut name = prefix.to_owned();
    for _ in 0..RANDOM_LEN {
        name.push(ALPHABET[(bits % ALPHABET.len() as u64) as usize] as char);
        bits /= ALPHABET.len() as u64;
    }
    name.into()
}
