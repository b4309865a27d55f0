//! Throwaway sockets for tests: [`bind_temp`] makes a new private directory
//! and binds `s` in it, and [`TempSocket`] removes both on drop.
//!
//! The directory is `sul-` and eight random characters, mode 0700, made in
//! the first of `$XDG_RUNTIME_DIR`, `$TMPDIR` and `/tmp` where the socket's
//! whole path fits the platform's limit and the directory can be made. A
//! name already taken is never reused, so threads and processes never
//! collide, and nobody else can enter the directory, so the bind needs no
//! lock or stale-socket check.
//!
//! The directory is `flock`ed while in use, as the bind's private
//! directories are ([`crate::private`]). The first `bind_temp` of a process
//! in a base directory removes the unlocked ones there: those a killed
//! process left, holding nothing but a stale socket.

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use nix::errno::Errno;
use nix::fcntl::{Flock, OFlag, open};
use nix::sys::socket::{self, Backlog};
use nix::sys::stat::{FileStat, Mode};
use nix::unistd::{UnlinkatFlags, unlinkat};
use tokio::net::UnixListener;

use crate::addr::UnixAddr;
use crate::error::{BindError, errno_of};
use crate::private::{OwnDirError, make_own_dir, remove_leftovers};
use crate::stat::{is_socket, lstat_at, same_file, same_inode};
use crate::sys;

const PREFIX: &str = "sul-";
const SOCKET: &str = "s";

/// Binds and listens on `s` in a new private directory. Returns the
/// listener, its address and what removes both on drop.
pub(crate) fn bind_temp() -> Result<(UnixListener, UnixAddr, TempSocket), BindError> {
    let mut skipped = Vec::new();
    let mut last_errno = None;
    for (shown, base) in bases() {
        let Some(base) = base else {
            skipped.push(format!("{shown} is unset"));
            continue;
        };
        let len = Path::new(&base)
            .join(format!("{PREFIX}xxxxxxxx/{SOCKET}"))
            .as_os_str()
            .len();
        if len > sys::MAX_PATH_LEN {
            skipped.push(format!(
                "{shown} would make a {len}-byte socket path, over the limit of {}",
                sys::MAX_PATH_LEN
            ));
            continue;
        }
        match bind_in(Path::new(&base)) {
            Ok(bound) => return Ok(bound),
            Err(errno) => {
                tracing::debug!(base = %Path::new(&base).display(), %errno, "cannot make a temporary socket directory here");
                skipped.push(format!("{}: {errno}", Path::new(&base).display()));
                last_errno = Some(errno);
            }
        }
    }
    Err(BindError::no_temp_dir(&skipped.join("; "), last_errno))
}

/// The base directories to try, in order, named for messages. A relative
/// or empty value counts as unset: the socket's path must not depend on
/// the working directory.
fn bases() -> [(&'static str, Option<OsString>); 3] {
    let var = |name| std::env::var_os(name).filter(|v| v.as_bytes().starts_with(b"/"));
    [
        ("$XDG_RUNTIME_DIR", var("XDG_RUNTIME_DIR")),
        ("$TMPDIR", var("TMPDIR")),
        ("/tmp", Some("/tmp".into())),
    ]
}

fn bind_in(base_path: &Path) -> Result<(UnixListener, UnixAddr, TempSocket), Errno> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let base = open(base_path, flags, Mode::empty())?;
    sweep_once(base.as_fd(), base_path);
    let (name, dir) = make_own_dir(base.as_fd(), PREFIX).map_err(|e| match e {
        OwnDirError::Os(errno) | OwnDirError::Raced(errno) => errno,
    })?;
    let dir_path = base_path.join(&name);
    let path = dir_path.join(SOCKET);
    let mut made = TempSocket {
        base,
        dir,
        name,
        dir_path,
        identity: None,
        pid: std::process::id(),
        armed: true,
    };
    let fd = sys::stream_socket()?;
    // Through `/proc/self/fd` where there is one: in a base directory
    // others may write, our directory can be renamed away and a link put
    // in its place, and a bind by path would follow it.
    let at = sys::fd_path(made.dir.as_fd()).map_or_else(|| path.clone(), |d| d.join(SOCKET));
    socket::bind(fd.as_raw_fd(), &socket::UnixAddr::new(&at)?)?;
    // Elsewhere the bind goes by path, and a redirected one is caught here:
    // nobody else can put a socket in our directory.
    match lstat_at(made.dir.as_fd(), OsStr::new(SOCKET))? {
        Some(st) if is_socket(&st) => made.identity = Some(st),
        _ => return Err(Errno::EBUSY),
    }
    socket::listen(&fd, Backlog::MAXCONN)?;
    let listener = UnixListener::from_std(fd.into()).map_err(|e| errno_of(&e))?;
    let addr = UnixAddr::from_path(&path).map_err(|_| Errno::ENAMETOOLONG)?;
    Ok((listener, addr, made))
}

/// Once per base directory and process: removes the directories that
/// processes killed while holding a temporary socket left behind (ours,
/// unlocked, holding nothing but a stale socket).
fn sweep_once(base: BorrowedFd<'_>, base_path: &Path) {
    static SWEPT: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
    let Ok(mut swept) = SWEPT.lock() else {
        return;
    };
    if !swept.iter().any(|p| p == base_path) {
        swept.push(base_path.to_owned());
        drop(swept);
        remove_leftovers(base, base_path, PREFIX);
    }
}

/// Removes a temporary socket and its directory on drop: the socket only if
/// it is still the one bound, the directory only if it is still the one
/// made and empty, and neither in a forked child nor when disarmed.
#[derive(Debug)]
pub(crate) struct TempSocket {
    base: OwnedFd,
    /// Locked while the socket is in use: an unlocked directory is a
    /// leftover, which the next sweep removes.
    dir: Flock<OwnedFd>,
    name: OsString,
    /// For messages.
    dir_path: PathBuf,
    identity: Option<FileStat>,
    pid: u32,
    /// Off: both are left in place (see `set_unlink_on_drop`).
    armed: bool,
}

impl TempSocket {
    pub(crate) fn set_armed(&mut self, armed: bool) {
        self.armed = armed;
    }

    pub(crate) fn is_armed(&self) -> bool {
        self.armed
    }
}

impl Drop for TempSocket {
    fn drop(&mut self) {
        if !self.armed || std::process::id() != self.pid {
            return;
        }
        let socket = OsStr::new(SOCKET);
        if let (Ok(Some(st)), Some(identity)) = (lstat_at(self.dir.as_fd(), socket), &self.identity)
        {
            if same_inode(&st, identity) && is_socket(&st) {
                let _ = unlinkat(self.dir.as_fd(), socket, UnlinkatFlags::NoRemoveDir);
            }
        }
        match lstat_at(self.base.as_fd(), &self.name) {
            Ok(Some(st)) if same_file(&*self.dir, &st) => {
                if let Err(errno) = unlinkat(
                    self.base.as_fd(),
                    self.name.as_os_str(),
                    UnlinkatFlags::RemoveDir,
                ) {
                    tracing::warn!(dir = %self.dir_path.display(), %errno, "temporary socket directory left in place");
                }
            }
            _ => {
                tracing::warn!(dir = %self.dir_path.display(), "temporary socket directory was moved away; left alone")
            }
        }
    }
}
