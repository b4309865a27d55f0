//! macOS and the BSDs: 104-byte `sun_path`, no abstract namespace.

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
/// `bindat` and `connectat` exist ([`bind_in`], [`connect_in`]).
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

/// No `/proc` to read it from.
pub(crate) fn command_line(_pid: i32) -> Option<(Vec<u8>, bool)> {
    None
}

/// There are no abstract names here.
pub(crate) fn abstract_name_of(_name: &socket::UnixAddr) -> Option<&[u8]> {
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

/// Not known here: a busy lock is waited for, then reported as busy.
pub(crate) fn ancestor_holding_flock(_st: &FileStat) -> Option<String> {
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

/// The type of the filesystem `fd` is on: not known here.
pub(crate) fn fs_type(_fd: BorrowedFd<'_>) -> Option<String> {
    None
}

/// Whether `id` is mapped in this user namespace: there are none here.
pub(crate) fn id_mapped(_which: &str, _id: u32) -> Option<(bool, String)> {
    None
}

/// A handle on the directory at `path` for connecting through it.
pub(crate) fn open_dir_handle(path: &Path) -> nix::Result<OwnedFd> {
    nix::fcntl::open(
        path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
}

#[cfg(target_os = "freebsd")]
mod at {
    #![allow(unsafe_code)]

    use std::ffi::OsStr;
    use std::os::fd::{AsRawFd, BorrowedFd};

    use nix::errno::Errno;
    use nix::libc::{c_int, sockaddr, socklen_t};
    use nix::sys::socket::{SockaddrLike, UnixAddr};

    unsafe extern "C" {
        fn bindat(fd: c_int, s: c_int, addr: *const sockaddr, addrlen: socklen_t) -> c_int;
        fn connectat(fd: c_int, s: c_int, addr: *const sockaddr, addrlen: socklen_t) -> c_int;
    }

    type Call = unsafe extern "C" fn(c_int, c_int, *const sockaddr, socklen_t) -> c_int;

    fn call(f: Call, sock: BorrowedFd<'_>, dir: BorrowedFd<'_>, name: &OsStr) -> nix::Result<()> {
        let addr = UnixAddr::new(name)?;
        // SAFETY: both descriptors are borrowed, so open for the call; the
        // address is a valid sockaddr_un of `addr.len()` bytes that lives
        // until the call returns; the kernel only reads it.
        let r = unsafe {
            f(
                dir.as_raw_fd(),
                sock.as_raw_fd(),
                addr.as_ptr().cast(),
                addr.len(),
            )
        };
        Errno::result(r).map(drop)
    }

    pub(crate) fn bind_in(
        sock: BorrowedFd<'_>,
        dir: BorrowedFd<'_>,
        name: &OsStr,
    ) -> nix::Result<()> {
        call(bindat, sock, dir, name)
    }

    pub(crate) fn connect_in(
        sock: BorrowedFd<'_>,
        dir: BorrowedFd<'_>,
        name: &OsStr,
    ) -> nix::Result<()> {
        call(connectat, sock, dir, name)
    }
}

#[cfg(not(target_os = "freebsd"))]
mod at {
    use std::ffi::OsStr;
    use std::os::fd::BorrowedFd;

    use nix::errno::Errno;

    pub(crate) fn bind_in(
        _sock: BorrowedFd<'_>,
        _dir: BorrowedFd<'_>,
        _name: &OsStr,
    ) -> nix::Result<()> {
        Err(Errno::ENOSYS)
    }

    pub(crate) fn connect_in(
        _sock: BorrowedFd<'_>,
        _dir: BorrowedFd<'_>,
        _name: &OsStr,
    ) -> nix::Result<()> {
        Err(Errno::ENOSYS)
    }
}

/// `bindat(2)` and `connectat(2)`: `name` relative to `dir` (FreeBSD);
/// `ENOSYS` elsewhere.
pub(crate) use at::{bind_in, connect_in};

/// FreeBSD: the kernel attaches the sender's credentials to every datagram
/// (`LOCAL_CREDS_PERSISTENT`, read as `SCM_CREDS2`). Type-checked in CI,
/// not run. Elsewhere (macOS, NetBSD): not offered.
#[cfg(target_os = "freebsd")]
mod creds {
    #![allow(unsafe_code)]

    use std::os::fd::{AsRawFd, BorrowedFd};
    use std::os::unix::net::SocketAddr;

    use nix::errno::Errno;
    use nix::libc;
    use nix::sys::socket::{self, ControlMessageOwned, MsgFlags, SockaddrLike, UnixAddr};

    use crate::sys::Cred;

    pub(crate) fn pass_credentials(fd: BorrowedFd<'_>) -> nix::Result<()> {
        let on: libc::c_int = 1;
        // SAFETY: `fd` is borrowed, so open; the option value is a c_int
        // that lives until the call returns, and its size is passed.
        let r = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_LOCAL,
                libc::LOCAL_CREDS_PERSISTENT,
                (&raw const on).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        Errno::result(r).map(drop)
    }

    pub(crate) fn recv_with_cred(
        fd: BorrowedFd<'_>,
        buf: &mut [u8],
    ) -> std::io::Result<(usize, Option<Cred>, SocketAddr)> {
        let mut iov = [std::io::IoSliceMut::new(buf)];
        let mut space = vec![0u8; 512];
        let msg = socket::recvmsg::<UnixAddr>(
            fd.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::empty(),
        )?;
        // struct sockcred2: version, pid, uid, euid, gid, egid, ngroups, …
        let cred = msg.cmsgs()?.find_map(|c| match c {
            ControlMessageOwned::Unknown(u)
                if u.cmsg_header.cmsg_level == libc::SOL_SOCKET
                    && u.cmsg_header.cmsg_type == libc::SCM_CREDS2
                    && u.data_bytes.len() >= 24 =>
            {
                let field = |i: usize| {
                    let b = &u.data_bytes[i * 4..i * 4 + 4];
                    u32::from_ne_bytes([b[0], b[1], b[2], b[3]])
                };
                Some(Cred {
                    pid: Some(field(1) as i32).filter(|&p| p > 0),
                    uid: field(3),
                    gid: field(5),
                })
            }
            _ => None,
        });
        let from = match msg.address.and_then(|a| {
            (a.len() as usize > std::mem::size_of::<libc::sa_family_t>() + 1)
                .then(|| a.path().map(std::path::Path::to_path_buf))
                .flatten()
        }) {
            Some(path) => SocketAddr::from_pathname(path)?,
            None => std::os::unix::net::UnixDatagram::unbound()?.local_addr()?,
        };
        Ok((msg.bytes, cred, from))
    }
}

#[cfg(not(target_os = "freebsd"))]
mod creds {
    use std::os::fd::BorrowedFd;

    use crate::sys::Cred;

    pub(crate) fn pass_credentials(_fd: BorrowedFd<'_>) -> nix::Result<()> {
        Ok(())
    }

    pub(crate) fn recv_with_cred(
        _fd: BorrowedFd<'_>,
        _buf: &mut [u8],
    ) -> std::io::Result<(usize, Option<Cred>, std::os::unix::net::SocketAddr)> {
        Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "the sender's credentials come with a datagram only on Linux, Android \
             (SCM_CREDENTIALS) and FreeBSD (SCM_CREDS2)",
        ))
    }
}

/// The sender's credentials with each datagram: `SO_PASSCRED`'s
/// counterpart, and one datagram read with them.
pub(crate) use creds::{pass_credentials, recv_with_cred};

/// No per-thread umask here: a bind in a directory others may write goes
/// through a private directory instead.
pub(crate) fn creation_settings() -> bool {
    false
}

/// Never called where [`creation_settings`] is false.
pub(crate) fn bind_creating(
    _sock: BorrowedFd<'_>,
    _at: &super::Where<'_>,
    _mode: Option<u32>,
    _gid: Option<u32>,
) -> nix::Result<()> {
    Err(Errno::ENOSYS)
}

/// No abstract names here.
pub(crate) fn abstract_name_of_tokio(_addr: &tokio::net::unix::SocketAddr) -> Option<&[u8]> {
    None
}
