//! Throwaway sockets for tests: [`bind_temp`] makes a new private directory
//! and binds `s` in it, and [`TempSocket`] removes both on drop (and when
//! the bind fails after the directory was made, by an error or a panic).
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
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::Flock;
use nix::sys::socket::Backlog;

use crate::addr::UnixAddr;
use crate::bind::{Creation, Named, listen_on};
use crate::entry::{Entry, EntryRef, Removal};
use crate::error::{BindError, Op};
use crate::escape::shown;
use crate::guard::{Ours, Unlinked};
use crate::kind::Kind;
use crate::private::{OwnDirError, make_own_dir, sweep_once};
use crate::sys;

const PREFIX: &str = "sul-";
const SOCKET: &str = "s";

/// Binds and listens on `s` in a new private directory. Returns the
/// listener, its address and what removes both on drop.
#[track_caller]
pub(crate) fn bind_temp<K: Kind>() -> Result<(K, UnixAddr, TempSocket), BindError> {
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

#[track_caller]
fn bind_in<K: Kind>(base_path: &Path) -> Result<(K, UnixAddr, TempSocket), Errno> {
    let walked = crate::parent::open_dir(base_path, base_path)
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(Errno::ENOENT as i32)))?;
    // Nobody else can move our directory or redirect its path: bound by
    // the path, so that the kernel names the socket by it.
    let by_path = walked.only_ours && !walked.redirectable;
    let base = walked.fd;
    sweep_once(base.as_fd(), base_path, PREFIX);
    let (name, dir) = make_own_dir(base.as_fd(), base_path, PREFIX).map_err(|e| match e {
        OwnDirError::Os(errno) | OwnDirError::Raced(errno) => errno,
    })?;
    let dir_path = base_path.join(&name);
    let path = dir_path.join(SOCKET);
    let mut made = TempSocket {
        at: Entry::new(base, name, dir_path),
        dir,
        ours: None,
    };
    let socket = EntryRef::new(made.dir.as_fd(), OsStr::new(SOCKET), &path);
    // Else through `/proc/self/fd` where there is one: in a base
    // directory others may write, our directory can be renamed away and a
    // link put in its place, and a bind by path would follow it.
    let addr = socket.reach(by_path).address()?;
    let errno = |e: BindError| Errno::from_raw(e.raw_os_error().unwrap_or(Errno::EIO as i32));
    let (listener, made_socket) = listen_on(
        &addr,
        Named::Path(&path),
        Creation::Plain,
        Backlog::MAXCONN,
        |_| {
            // Elsewhere the bind goes by path, and a redirected one is caught
            // here: nobody else can put a socket in our directory.
            socket
                .made_socket(None)
                .map_err(|_| BindError::os(Op::Bind, &path, Errno::EBUSY))
        },
    )
    .map_err(errno)?;
    made.ours = Some(Ours::new(made_socket));
    let addr = UnixAddr::from_path(&path).map_err(|_| Errno::ENAMETOOLONG)?;
    Ok((listener, addr, made))
}

/// Removes a temporary socket and its directory on drop: the socket only if
/// it is still the one bound, the directory only if it is still the one
/// made and empty, and neither in a forked child nor when disarmed.
#[derive(Debug)]
pub(crate) struct TempSocket {
    /// Our directory's name in the base directory.
    at: Entry<OwnedFd>,
    /// Locked while the socket is in use: an unlocked directory is a
    /// leftover, which the next sweep removes.
    dir: Flock<OwnedFd>,
    /// The socket, once bound.
    ours: Option<Ours>,
}

impl TempSocket {
    pub(crate) fn ours(&mut self) -> Option<&mut Ours> {
        self.ours.as_mut()
    }

    pub(crate) fn is_armed(&self) -> bool {
        self.ours.as_ref().is_some_and(Ours::is_armed)
    }
}

impl TempSocket {
    /// Removes the socket and the directory now, as the drop would, and
    /// disarms: the drop does nothing more. What happened to the socket.
    pub(crate) fn unlink_now(&mut self) -> Unlinked {
        let done = self.remove();
        if let Some(ours) = &mut self.ours {
            ours.set_armed(false);
        }
        done
    }

    fn remove(&self) -> Unlinked {
        let dir = self.at.at();
        let path = dir.path().join(SOCKET);
        let socket = EntryRef::new(self.dir.as_fd(), OsStr::new(SOCKET), &path);
        let done = match &self.ours {
            Some(ours) if ours.may_remove() => ours.remove_from(socket),
            // Disarmed, or a forked child: both stay.
            Some(ours) => return ours.remove_from(socket),
            // The bind failed (or panicked): any socket it made goes too;
            // nobody else can enter our directory.
            None => Unlinked::from(socket.remove_if_still(None)),
        };
        match dir.remove_dir_if_still(&*self.dir) {
            Removal::Removed => {}
            Removal::Failed(errno) => {
                tracing::warn!(dir = %shown(dir.path()), %errno, "temporary socket directory left in place");
            }
            Removal::Replaced | Removal::Gone | Removal::Unchecked(_) => {
                tracing::warn!(dir = %shown(dir.path()), "temporary socket directory was moved away; left alone")
            }
        }
        done
    }
}

impl Drop for TempSocket {
    fn drop(&mut self) {
        self.remove();
    }
}
