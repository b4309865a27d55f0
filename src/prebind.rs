//! What happens before `bind(2)`, read top to bottom:
//!
//! 1. the parent directory must exist (or is created, when asked), and,
//!    when asked, must not let other users replace the socket;
//! 2. the bind lock is taken ([`crate::lock`]);
//! 3. the path is looked at with `lstat`, never following a link: nothing,
//!    or a socket, may be there; anything else is refused;
//! 4. a socket is probed with a non-blocking `connect`: a server that
//!    accepts, or whose queue is full, is live and is left alone;
//! 5. only a socket that refused the connection is stale, and it is removed
//!    after checking that the path still names the same inode.
//!
//! A takeover ([`OnExisting::TakeOver`]) skips 4 and 5: any socket at the
//! path will be replaced by a `rename(2)`, and [`takeover_name`] gives the
//! temporary name to bind first.
//!
//! The lock is returned and must be held until the new socket listens.

use std::fs::{self, DirBuilder, FileType, Metadata, Permissions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use nix::errno::Errno;
use nix::sys::socket;

use crate::builder::OnExisting;
use crate::error::{BindError, Facts, errno_of, parent_dir};
use crate::lock::{self, BindLock};
use crate::sys;

/// The builder's options that matter before bind.
#[derive(Debug)]
pub(crate) struct Options {
    pub(crate) create_parents: Option<u32>,
    pub(crate) on_existing: OnExisting,
    pub(crate) check_parent: bool,
}

/// Makes `path` free to bind, or says why it cannot be. Returns the bind
/// lock, if one could be taken.
pub(crate) fn prepare(path: &Path, options: &Options) -> Result<Option<BindLock>, BindError> {
    ensure_parent(path, options.create_parents)?;
    if options.check_parent {
        check_parent(path)?;
    }
    let lock = lock::acquire(path)?;
    clear(path, options.on_existing)?;
    Ok(lock)
}

/// A fresh name beside `path` to bind before renaming over it.
pub(crate) fn takeover_name(path: &Path) -> Result<PathBuf, BindError> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = format!(".sul-{}-{n}", std::process::id());
    let temp = parent_dir(path).join(name);
    let len = temp.as_os_str().len();
    if len > sys::MAX_PATH_LEN {
        return Err(BindError::takeover_too_long(path, &temp, sys::MAX_PATH_LEN));
    }
    Ok(temp)
}

/// tmux's rule: nobody but us or root may be able to swap the socket.
fn check_parent(path: &Path) -> Result<(), BindError> {
    let dir = parent_dir(path);
    let m = fs::metadata(dir)
        .map_err(|e| BindError::os("look up directory", dir, errno_of(&e), &Facts::about(dir)))?;
    let euid = nix::unistd::geteuid().as_raw();
    let (mode, owner) = (m.mode() & 0o7777, m.uid());
    if mode & 0o002 != 0 && mode & 0o1000 == 0 {
        return Err(BindError::insecure_parent(
            path,
            dir,
            format_args!(
                "is writable by every user and not sticky (mode {mode:04o}), so anyone could replace the socket"
            ),
        ));
    }
    if owner != euid && owner != 0 {
        return Err(BindError::insecure_parent(
            path,
            dir,
            format_args!("is owned by uid {owner}, and we run as uid {euid}"),
        ));
    }
    Ok(())
}

fn ensure_parent(path: &Path, create_mode: Option<u32>) -> Result<(), BindError> {
    let dir = parent_dir(path);
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(BindError::parent_missing(path, dir, "is not a directory")),
        Err(e) if e.kind() == io::ErrorKind::NotFound => match create_mode {
            Some(mode) => create_dirs(dir, mode),
            None => Err(BindError::parent_missing(path, dir, "does not exist")),
        },
        Err(e) => Err(BindError::os(
            "look up directory",
            dir,
            errno_of(&e),
            &Facts::about(dir),
        )),
    }
}

/// Creates `dir` and its missing ancestors, each with exactly `mode`.
fn create_dirs(dir: &Path, mode: u32) -> Result<(), BindError> {
    let missing: Vec<&Path> = dir
        .ancestors()
        .take_while(|d| !d.as_os_str().is_empty() && !d.exists())
        .collect();
    for d in missing.into_iter().rev() {
        let made = DirBuilder::new()
            .mode(mode)
            .create(d)
            .and_then(|()| fs::set_permissions(d, Permissions::from_mode(mode & 0o7777)));
        match made {
            Ok(()) => {
                tracing::info!(dir = %d.display(), mode = format_args!("{mode:04o}"), "created directory")
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && d.is_dir() => {}
            Err(e) => {
                return Err(BindError::os(
                    "create directory",
                    d,
                    errno_of(&e),
                    &Facts::about(d),
                ));
            }
        }
    }
    Ok(())
}

/// Steps 3 to 5: leaves the path empty, or fails without touching it.
fn clear(path: &Path, on_existing: OnExisting) -> Result<(), BindError> {
    let Some(found) = lstat(path)? else {
        return Ok(());
    };
    if !found.file_type().is_socket() {
        return Err(BindError::not_a_socket(path, describe(found.file_type())));
    }
    if on_existing == OnExisting::TakeOver {
        return Ok(());
    }
    match probe(path)? {
        Probe::Gone => Ok(()),
        Probe::Live(pid) => Err(BindError::live(path.display(), Some(path), pid)),
        Probe::QueueFull => Err(BindError::backlog_full(path)),
        Probe::Failed(errno @ (Errno::EACCES | Errno::EPERM)) => Err(BindError::os(
            "probe socket",
            path,
            errno,
            &Facts::about(path),
        )),
        Probe::Failed(errno) => Err(BindError::unprobeable(path, errno)),
        Probe::Stale if on_existing == OnExisting::Fail => Err(BindError::stale_kept(path)),
        Probe::Stale => remove_stale(path, &found),
    }
}

enum Probe {
    /// Nothing is at the path any more.
    Gone,
    /// A server accepted the connection; its pid when it can be known.
    Live(Option<i32>),
    /// A server is listening but its accept queue is full.
    QueueFull,
    /// Nobody listens: the connection was refused.
    Stale,
    /// Anything else: the socket is not provably stale.
    Failed(Errno),
}

fn probe(path: &Path) -> Result<Probe, BindError> {
    let fd = sys::stream_socket()
        .map_err(|errno| BindError::os("probe socket", path, errno, &Facts::about(path)))?;
    let addr = socket::UnixAddr::new(path).map_err(|errno| BindError::unprobeable(path, errno))?;
    Ok(match socket::connect(fd.as_raw_fd(), &addr) {
        Ok(()) | Err(Errno::EINPROGRESS) => Probe::Live(sys::peer_pid(&fd)),
        Err(Errno::EAGAIN) => Probe::QueueFull,
        Err(Errno::ECONNREFUSED) => Probe::Stale,
        Err(Errno::ENOENT) => Probe::Gone,
        Err(errno) => Probe::Failed(errno),
    })
}

fn remove_stale(path: &Path, probed: &Metadata) -> Result<(), BindError> {
    let Some(now) = lstat(path)? else {
        return Ok(());
    };
    if now.dev() != probed.dev() || now.ino() != probed.ino() {
        // Another process replaced it since the probe: not ours to judge.
        return Err(BindError::changed(path));
    }
    match fs::remove_file(path) {
        Ok(()) => {
            tracing::info!(path = %path.display(), "removed stale socket");
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(BindError::os(
            "remove stale socket",
            path,
            errno_of(&e),
            &Facts::about(path),
        )),
    }
}

/// What is at `path`, without following a link; `None` for nothing.
fn lstat(path: &Path) -> Result<Option<Metadata>, BindError> {
    match fs::symlink_metadata(path) {
        Ok(m) => Ok(Some(m)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(BindError::os(
            "look up",
            path,
            errno_of(&e),
            &Facts::about(path),
        )),
    }
}

/// "a regular file", "a FIFO", … for the `NotASocket` message.
fn describe(t: FileType) -> &'static str {
    if t.is_file() {
        "a regular file"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_symlink() {
        "a symbolic link"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        "a file that is not a socket"
    }
}
