//! Linux and Android: 108-byte `sun_path`, the abstract namespace, and
//! `SO_PEERCRED`.

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::socket::{self, AddressFamily, SockFlag, SockType, sockopt};
use rustix::fs::{RenameFlags, renameat_with};

/// Longest path in bytes: `sun_path` is 108 bytes, one of them the NUL.
pub(crate) const MAX_PATH_LEN: usize = 107;
/// Longest abstract name in bytes: 108 less the leading NUL.
pub(crate) const MAX_ABSTRACT_LEN: usize = 107;

/// A new close-on-exec, non-blocking `AF_UNIX` stream socket.
pub(crate) fn stream_socket() -> nix::Result<OwnedFd> {
    socket::socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    )
}

/// The socket address of an abstract name; `None` where there are none.
pub(crate) fn abstract_sockaddr(name: &[u8]) -> Option<socket::UnixAddr> {
    socket::UnixAddr::new_abstract(name).ok()
}

/// The pid of the process at the other end of a connected socket.
pub(crate) fn peer_pid(fd: &OwnedFd) -> Option<i32> {
    socket::getsockopt(fd, sockopt::PeerCredentials)
        .ok()
        .map(|cred| cred.pid())
        .filter(|&pid| pid > 0)
}

/// Our address for a bound socket's name: a path or an abstract name.
pub(crate) fn unix_addr_of(name: &socket::UnixAddr) -> Option<crate::UnixAddr> {
    match (name.path(), name.as_abstract()) {
        (Some(path), _) => crate::UnixAddr::from_path(path).ok(),
        (_, Some(abstract_name)) => crate::UnixAddr::from_abstract_name(abstract_name).ok(),
        _ => None,
    }
}

/// `renameat2(RENAME_NOREPLACE)`: EEXIST if anything is at `to`. EINVAL
/// where the filesystem does not support it.
pub(crate) fn rename_noreplace(
    from_dir: BorrowedFd<'_>,
    from: &Path,
    to_dir: BorrowedFd<'_>,
    to: &Path,
) -> nix::Result<()> {
    renameat_with(from_dir, from, to_dir, to, RenameFlags::NOREPLACE)
        .map_err(|e| Errno::from_raw(e.raw_os_error()))
}

/// `renameat2(RENAME_EXCHANGE)`: swaps the two names atomically; ENOENT if
/// either is missing. EINVAL where the filesystem does not support it.
pub(crate) fn rename_exchange(
    from_dir: BorrowedFd<'_>,
    from: &Path,
    to_dir: BorrowedFd<'_>,
    to: &Path,
) -> nix::Result<()> {
    renameat_with(from_dir, from, to_dir, to, RenameFlags::EXCHANGE)
        .map_err(|e| Errno::from_raw(e.raw_os_error()))
}

/// A path that leads to the directory open as `dir` whatever happens to its
/// name: `/proc/self/fd/N`, where `/proc` is mounted.
pub(crate) fn fd_path(dir: BorrowedFd<'_>) -> Option<PathBuf> {
    let path = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
    path.is_dir().then_some(path)
}
