//! macOS and the BSDs: 104-byte `sun_path`, no abstract namespace, no
//! `renameat2`, no `/proc`. FreeBSD's own calls are in `freebsd.rs`.

use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, FcntlArg, FdFlag, OFlag, fcntl};
use nix::sys::socket::{self, AddressFamily, SockFlag, SockType};
use nix::sys::stat::FileStat;
use nix::unistd::{AccessFlags, faccessat};

use super::PeerCred;

/// Longest path in bytes: `sun_path` is 104 bytes, one of them the NUL.
pub(crate) const MAX_PATH_LEN: usize = 103;
/// Names are checked as on Linux; binding one reports `Unsupported`.
pub(crate) const MAX_ABSTRACT_LEN: usize = 107;
/// Whether a longer path can be bound and reached: on FreeBSD, by
/// `bindat(2)` and `connectat(2)` relative to the directory's descriptor;
/// not on macOS, NetBSD and the others.
pub(crate) const LONG_PATHS: bool = cfg!(target_os = "freebsd");
/// `bindat` and `connectat` exist ([`bind_in`], [`connect_in`]): FreeBSD.
pub(crate) const AT_CALLS: bool = LONG_PATHS;
/// The longest last component of a longer path: with `bindat`, the name
/// alone is in `sun_path`.
pub(crate) const MAX_LONG_PATH_NAME: usize = MAX_PATH_LEN;

/// A new close-on-exec, non-blocking `AF_UNIX` stream socket.
pub(crate) fn stream_socket() -> nix::Result<OwnedFd> {
    unix_socket(SockType::Stream)
}

/// A new close-on-exec, non-blocking `AF_UNIX` socket of type `ty`.
pub(crate) fn unix_socket(ty: SockType) -> nix::Result<OwnedFd> {
    let fd = socket::socket(AddressFamily::Unix, ty, SockFlag::empty(), None)?;
    fcntl(&fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))?;
    fcntl(&fd, FcntlArg::F_SETFL(OFlag::O_NONBLOCK))?;
    Ok(fd)
}

/// There is no abstract namespace here.
pub(crate) fn abstract_sockaddr(_name: &[u8]) -> Option<socket::UnixAddr> {
    None
}

/// Who is at the other end of a connected socket: `getpeereid` gives the
/// uid and gid; no pid.
pub(crate) fn peer_cred(fd: &OwnedFd) -> PeerCred {
    #[cfg(any(
        target_vendor = "apple",
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "dragonfly"
    ))]
    if let Ok((uid, gid)) = nix::unistd::getpeereid(fd) {
        return PeerCred {
            pid: None,
            uid: Some(uid.as_raw()),
            gid: Some(gid.as_raw()),
        };
    }
    let _ = fd;
    PeerCred::default()
}

/// There are no abstract names here.
pub(crate) fn abstract_name_of(_addr: &socket::UnixAddr) -> Option<&[u8]> {
    None
}

/// There is no `renameat2` here: ENOSYS, and the caller links instead.
pub(crate) fn rename_noreplace(
    _from_dir: BorrowedFd<'_>,
    _from: &Path,
    _to_dir: BorrowedFd<'_>,
    _to: &Path,
) -> nix::Result<()> {
    Err(Errno::ENOSYS)
}

/// There is no `renameat2` here: ENOSYS, and the caller checks, then
/// renames.
pub(crate) fn rename_exchange(
    _from_dir: BorrowedFd<'_>,
    _from: &Path,
    _to_dir: BorrowedFd<'_>,
    _to: &Path,
) -> nix::Result<()> {
    Err(Errno::ENOSYS)
}

/// No `/proc/self/fd` here: the directory is named by its path.
pub(crate) fn fd_path(_dir: BorrowedFd<'_>) -> Option<PathBuf> {
    None
}

/// Not reported here: access control sees the primary gid only.
pub(crate) fn peer_groups(_fd: BorrowedFd<'_>) -> Option<Vec<u32>> {
    None
}

/// How many descriptors this process may have open (`RLIMIT_NOFILE`);
/// `rlim_t` is signed on the BSDs.
pub(crate) fn descriptor_limit() -> u64 {
    use nix::sys::resource::{Resource, getrlimit};
    #[allow(clippy::useless_conversion)] // unsigned on macOS
    getrlimit(Resource::RLIMIT_NOFILE).map_or(u64::MAX, |(soft, _)| {
        u64::try_from(soft).unwrap_or(u64::MAX)
    })
}

/// No abstract namespace here, so no autobind.
pub(crate) fn autobind_sockaddr() -> Option<socket::UnixAddr> {
    None
}

/// Whether we may create and remove names in `dir` (write and search
/// permission), checked for our effective ids.
pub(crate) fn may_write_dir(dir: BorrowedFd<'_>) -> nix::Result<()> {
    faccessat(
        dir,
        ".",
        AccessFlags::W_OK | AccessFlags::X_OK,
        AtFlags::AT_EACCESS,
    )
}

/// A handle on the directory at `path` for connecting through it.
pub(crate) fn open_dir_handle(path: &Path) -> nix::Result<OwnedFd> {
    nix::fcntl::open(
        path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
}

/// `bindat(2)`, `connectat(2)` and the sender's credentials with each
/// datagram: FreeBSD's (`freebsd.rs`).
#[cfg(target_os = "freebsd")]
pub(crate) use super::freebsd::{
    bind_in, connect_in, pass_credentials, passes_credentials, recv_with_cred, unrecorded,
};

/// There is no `bindat(2)` here: ENOSYS. Never called where [`AT_CALLS`]
/// is false.
#[cfg(not(target_os = "freebsd"))]
pub(crate) fn bind_in(
    _sock: BorrowedFd<'_>,
    _dir: BorrowedFd<'_>,
    _name: &std::ffi::OsStr,
) -> nix::Result<()> {
    Err(Errno::ENOSYS)
}

/// There is no `connectat(2)` here: ENOSYS. Never called where
/// [`AT_CALLS`] is false.
#[cfg(not(target_os = "freebsd"))]
pub(crate) fn connect_in(
    _sock: BorrowedFd<'_>,
    _dir: BorrowedFd<'_>,
    _name: &std::ffi::OsStr,
) -> nix::Result<()> {
    Err(Errno::ENOSYS)
}

/// The sender's credentials do not come with a datagram here: nothing to
/// ask for.
#[cfg(not(target_os = "freebsd"))]
pub(crate) fn pass_credentials(_fd: BorrowedFd<'_>) -> nix::Result<()> {
    Ok(())
}

/// The sender's credentials do not come with a datagram here:
/// `Unsupported`.
#[cfg(not(target_os = "freebsd"))]
pub(crate) fn recv_with_cred(
    _fd: BorrowedFd<'_>,
    _buf: &mut [u8],
) -> std::io::Result<super::Received> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "the sender's credentials come with a datagram only on Linux, Android \
         (SCM_CREDENTIALS) and FreeBSD (SCM_CREDS2)",
    ))
}

/// Nothing is received with credentials here ([`recv_with_cred`]).
#[cfg(not(target_os = "freebsd"))]
pub(crate) fn passes_credentials(_fd: BorrowedFd<'_>) -> bool {
    true
}

/// Nothing is received with credentials here ([`recv_with_cred`]).
#[cfg(not(target_os = "freebsd"))]
pub(crate) fn unrecorded(_cred: &super::Cred) -> bool {
    false
}

/// Never called: with no `/proc/self/fd` ([`fd_path`]) a bind in a
/// directory others may write goes through a private directory.
pub(crate) fn close_before_bind(_sock: BorrowedFd<'_>) -> nix::Result<()> {
    Err(Errno::ENOSYS)
}

/// Never called: the access of a file is set through its pin only where
/// there is `/proc/self/fd` ([`fd_path`]).
pub(crate) fn chown_pinned(
    _pin: BorrowedFd<'_>,
    _uid: Option<nix::unistd::Uid>,
    _gid: Option<nix::unistd::Gid>,
) -> nix::Result<()> {
    Err(Errno::ENOSYS)
}

/// No filesystem gid here.
pub(crate) fn switch_fsgid(_gid: u32) -> nix::Result<Fsgid> {
    Err(Errno::ENOSYS)
}

/// Never made ([`switch_fsgid`]).
#[derive(Debug)]
pub(crate) struct Fsgid;

/// No way to refuse descriptors at the sender here.
pub(crate) fn refuse_descriptors(_fd: BorrowedFd<'_>) -> nix::Result<bool> {
    Ok(false)
}

/// No `O_TMPFILE` here: the lock file is created, then written.
pub(crate) fn create_linked(
    _dir: BorrowedFd<'_>,
    _name: &std::ffi::OsStr,
    _contents: &[u8],
) -> nix::Result<Option<OwnedFd>> {
    Ok(None)
}

/// No abstract names here.
pub(crate) fn abstract_name_of_tokio(_addr: &tokio::net::unix::SocketAddr) -> Option<&[u8]> {
    None
}

// What `procfs.rs` reads from `/proc` on Linux, for messages: not known
// here.

/// Never asked: only the bind that sets access through `/proc` reads it.
pub(crate) fn umask() -> u32 {
    0o077
}

/// No `/proc` to read it from.
pub(crate) fn command_line(_pid: i32) -> Option<(Vec<u8>, bool)> {
    None
}

/// Not known here: a busy lock is waited for, then reported as busy.
pub(crate) fn ancestor_holding_flock(_st: &FileStat) -> Option<String> {
    None
}

/// The type of the filesystem `fd` is on: not known here.
pub(crate) fn fs_type(_fd: BorrowedFd<'_>) -> Option<String> {
    None
}

/// Whether `id` is mapped in this user namespace: there are none here.
pub(crate) fn id_mapped(_which: &str, _id: u32) -> Option<(bool, String)> {
    None
}

/// No capability sets here: root may do everything, others nothing more
/// than their ids allow ([`super::Caps::now`] decides from the uid).
pub(crate) fn effective_caps() -> Option<u64> {
    None
}

/// Which POSIX ACL an extended attribute holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Acl {
    /// The access the kernel enforces on the file, beyond its mode.
    Access,
    /// What a directory gives each new file made in it.
    Default,
}

/// Not read here: the BSDs' and macOS's ACLs have calls of their own
/// (`acl_get_link_np`), which this crate does not use yet; a file is taken
/// to carry none.
pub(crate) fn has_acl(_file: &Path, _which: Acl, _follow: bool) -> nix::Result<bool> {
    Ok(false)
}

/// Never called where [`has_acl`] finds none.
pub(crate) fn remove_access_acl(_file: &Path, _follow: bool) -> nix::Result<()> {
    Err(Errno::ENOSYS)
}

/// An `O_PATH` descriptor of `name` in `dir`, never following a link: while
/// it is open, the file's inode is not freed, so its number is not given
/// to another file (FreeBSD). macOS and NetBSD have no `O_PATH` and cannot
/// open a socket file: `ENOTSUP`, and identity is the device and inode
/// number.
pub(crate) fn pin_file(dir: BorrowedFd<'_>, name: &std::ffi::OsStr) -> nix::Result<OwnedFd> {
    #[cfg(target_os = "freebsd")]
    {
        let flags = OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        nix::fcntl::openat(dir, name, flags, nix::sys::stat::Mode::empty())
    }
    #[cfg(not(target_os = "freebsd"))]
    {
        let _ = (dir, name);
        Err(Errno::ENOTSUP)
    }
}

/// The file a socket is bound to, as the kernel says: no call for it here
/// (Linux has `sock_diag`).
pub(crate) fn bound_inode(_sock: BorrowedFd<'_>) -> Option<u32> {
    None
}

/// Whether we are in group `gid`: our effective gid, or one of our
/// supplementary groups (macOS: the effective gid only, as nix offers no
/// `getgroups` there).
pub(crate) fn in_group(gid: u32) -> bool {
    use nix::unistd::{Gid, getegid};
    #[cfg(not(target_vendor = "apple"))]
    let supplementary = nix::unistd::getgroups().is_ok_and(|g| g.contains(&Gid::from_raw(gid)));
    #[cfg(target_vendor = "apple")]
    let supplementary = false;
    getegid() == Gid::from_raw(gid) || supplementary
}
