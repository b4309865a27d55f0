//! Linux and Android system calls: 108-byte `sun_path`, the abstract
//! namespace, `renameat2`, `/proc/self/fd` and `SO_PEERCRED`. What `/proc`
//! says for messages is read in `procfs.rs`.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::AtFlags;
use nix::sys::socket::{self, AddressFamily, SockFlag, SockType, sockopt};
use nix::unistd::{AccessFlags, faccessat};

use super::PeerCred;

/// Longest path in bytes: `sun_path` is 108 bytes, one of them the NUL.
pub(crate) const MAX_PATH_LEN: usize = 107;
/// Whether a longer path can be bound and reached: through the directory's
/// descriptor, as `/proc/self/fd/N/name`, when `/proc` is mounted.
pub(crate) const LONG_PATHS: bool = true;
/// No `bindat`/`connectat` here: the route through a directory is
/// `/proc/self/fd/N/name` ([`fd_path`]).
pub(crate) const AT_CALLS: bool = false;
/// The longest last component of a path longer than [`MAX_PATH_LEN`]: what
/// fits after `/proc/self/fd/N/` with the largest descriptor number.
pub(crate) const MAX_LONG_PATH_NAME: usize = MAX_PATH_LEN - "/proc/self/fd/2147483647/".len();
/// Longest abstract name in bytes: 108 less the leading NUL.
pub(crate) const MAX_ABSTRACT_LEN: usize = 107;

/// A new close-on-exec, non-blocking `AF_UNIX` stream socket.
pub(crate) fn stream_socket() -> nix::Result<OwnedFd> {
    unix_socket(SockType::Stream)
}

/// A new close-on-exec, non-blocking `AF_UNIX` socket of type `ty`.
pub(crate) fn unix_socket(ty: SockType) -> nix::Result<OwnedFd> {
    socket::socket(
        AddressFamily::Unix,
        ty,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    )
}

/// The socket address of an abstract name; `None` where there are none.
pub(crate) fn abstract_sockaddr(name: &[u8]) -> Option<socket::UnixAddr> {
    socket::UnixAddr::new_abstract(name).ok()
}

/// Who is at the other end of a connected socket (`SO_PEERCRED`).
pub(crate) fn peer_cred(fd: &OwnedFd) -> PeerCred {
    match socket::getsockopt(fd, sockopt::PeerCredentials) {
        Ok(cred) => PeerCred {
            pid: Some(cred.pid()).filter(|&pid| pid > 0),
            uid: Some(cred.uid()),
            gid: Some(cred.gid()),
        },
        Err(_) => PeerCred::default(),
    }
}

/// The abstract name a socket address holds, if it holds one.
pub(crate) fn abstract_name_of(addr: &socket::UnixAddr) -> Option<&[u8]> {
    addr.as_abstract()
}

/// `renameat2(RENAME_NOREPLACE)`: EEXIST if anything is at `to`. EINVAL
/// where the filesystem does not support it.
pub(crate) fn rename_noreplace(
    from_dir: BorrowedFd<'_>,
    from: &Path,
    to_dir: BorrowedFd<'_>,
    to: &Path,
) -> nix::Result<()> {
    renameat2(from_dir, from, to_dir, to, RENAME_NOREPLACE)
}

/// `renameat2(RENAME_EXCHANGE)`: swaps the two names atomically; ENOENT if
/// either is missing. EINVAL where the filesystem does not support it.
pub(crate) fn rename_exchange(
    from_dir: BorrowedFd<'_>,
    from: &Path,
    to_dir: BorrowedFd<'_>,
    to: &Path,
) -> nix::Result<()> {
    renameat2(from_dir, from, to_dir, to, RENAME_EXCHANGE)
}

/// `renameat2`'s flags, from the kernel's `<linux/fs.h>`.
const RENAME_NOREPLACE: nix::libc::c_uint = 1;
const RENAME_EXCHANGE: nix::libc::c_uint = 2;

/// `renameat2(2)` by its system call number, so that it works on every
/// Linux libc (glibc before 2.28, musl and older Android have no wrapper);
/// ENOSYS on kernels before 3.15.
fn renameat2(
    from_dir: BorrowedFd<'_>,
    from: &Path,
    to_dir: BorrowedFd<'_>,
    to: &Path,
    flags: nix::libc::c_uint,
) -> nix::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = |p: &Path| std::ffi::CString::new(p.as_os_str().as_bytes());
    let (from, to) = (c_path(from), c_path(to));
    let (Ok(from), Ok(to)) = (from, to) else {
        return Err(Errno::EINVAL);
    };
    // SAFETY: both paths are NUL-terminated strings that live until the
    // call returns, both descriptors are borrowed and open, and the kernel
    // reads nothing else and writes nothing.
    #[allow(unsafe_code)]
    let rc = unsafe {
        nix::libc::syscall(
            nix::libc::SYS_renameat2,
            from_dir.as_raw_fd(),
            from.as_ptr(),
            to_dir.as_raw_fd(),
            to.as_ptr(),
            flags,
        )
    };
    Errno::result(rc).map(drop)
}

/// A path that leads to the file open as `dir` (a directory, or a pinned
/// socket file) whatever happens to its name: `/proc/self/fd/N`, where
/// `/proc` is mounted.
pub(crate) fn fd_path(dir: BorrowedFd<'_>) -> Option<PathBuf> {
    use std::sync::atomic::{AtomicU8, Ordering};
    // Whether /proc works, found on first use: 0 unknown, 1 yes, 2 no.
    static PROC: AtomicU8 = AtomicU8::new(0);
    let path = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
    match PROC.load(Ordering::Relaxed) {
        1 => Some(path),
        2 => None,
        _ => {
            let works = Path::new("/proc/self/fd").is_dir();
            PROC.store(if works { 1 } else { 2 }, Ordering::Relaxed);
            works.then_some(path)
        }
    }
}

/// `SO_PEERGROUPS`: 59 on every architecture but SPARC.
const SO_PEERGROUPS: nix::libc::c_int = if cfg!(any(target_arch = "sparc", target_arch = "sparc64"))
{
    0x3d
} else {
    59
};

/// The supplementary groups of the process at the other end of a
/// connected socket, as recorded when it connected; `None` on kernels
/// before 4.13.
#[allow(unsafe_code)]
pub(crate) fn peer_groups(fd: BorrowedFd<'_>) -> Option<Vec<u32>> {
    use nix::libc::{SOL_SOCKET, gid_t, socklen_t};
    const GID: usize = std::mem::size_of::<gid_t>();
    let mut groups: Vec<gid_t> = vec![0; 32];
    loop {
        let mut len = (groups.len() * GID) as socklen_t;
        // SAFETY: the buffer is valid for writes of `len` bytes, and the
        // kernel writes at most `len` bytes, then sets `len` to the size it
        // used, or (with ERANGE) to the size it needs.
        let r = unsafe {
            nix::libc::getsockopt(
                fd.as_raw_fd(),
                SOL_SOCKET,
                SO_PEERGROUPS,
                groups.as_mut_ptr().cast(),
                &mut len,
            )
        };
        let len = len as usize / GID;
        match (r, Errno::last()) {
            (0, _) => {
                groups.truncate(len);
                return Some(groups);
            }
            (_, Errno::ERANGE) if len > groups.len() => groups.resize(len, 0),
            _ => return None,
        }
    }
}

/// How many descriptors this process may have open (`RLIMIT_NOFILE`).
pub(crate) fn descriptor_limit() -> u64 {
    use nix::sys::resource::{Resource, getrlimit};
    getrlimit(Resource::RLIMIT_NOFILE).map_or(u64::MAX, |(soft, _)| soft)
}

/// The unnamed address that makes `bind` choose a free abstract name
/// (autobind).
pub(crate) fn autobind_sockaddr() -> Option<socket::UnixAddr> {
    Some(socket::UnixAddr::new_unnamed())
}

/// The effective capability set (`capget(2)`, version 3), as the kernel
/// grants it now; `None` if it cannot be read.
pub(crate) fn effective_caps() -> Option<u64> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    let mut header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    #[allow(unsafe_code)]
    // SAFETY: capget reads `header` and writes two `Data` entries, which
    // version 3 defines and `data` holds; both outlive the call.
    let rc = unsafe {
        nix::libc::syscall(
            nix::libc::SYS_capget,
            &mut header as *mut Header,
            data.as_mut_ptr(),
        )
    };
    (rc == 0).then(|| u64::from(data[0].effective) | (u64::from(data[1].effective) << 32))
}

/// Whether we may create and remove names in `dir` (write and search
/// permission), checked for our effective ids.
pub(crate) fn may_write_dir(dir: BorrowedFd<'_>) -> nix::Result<()> {
    // Bionic's faccessat takes no flags: it checks the real ids, which are
    // the effective ones unless the program is set-id.
    #[cfg(target_os = "android")]
    let flags = AtFlags::empty();
    #[cfg(not(target_os = "android"))]
    let flags = AtFlags::AT_EACCESS;
    match faccessat(dir, ".", AccessFlags::W_OK | AccessFlags::X_OK, flags) {
        // A system-call filter that refuses faccessat2 (an older container
        // runtime's profile answers EPERM, where the call itself only
        // answers EACCES here): decide from the mode bits and the
        // capabilities instead, never from the refusal.
        Err(Errno::EPERM | Errno::ENOSYS) => may_write_by_mode(dir),
        other => other,
    }
}

/// Whether we are in group `gid`: our effective gid, or one of our
/// supplementary groups.
pub(crate) fn in_group(gid: u32) -> bool {
    use nix::unistd::{Gid, getegid, getgroups};
    getegid().as_raw() == gid || getgroups().is_ok_and(|g| g.contains(&Gid::from_raw(gid)))
}

/// [`may_write_dir`] from the directory's mode bits, our ids and
/// `CAP_DAC_OVERRIDE`, as the kernel decides it (ACLs aside).
fn may_write_by_mode(dir: BorrowedFd<'_>) -> nix::Result<()> {
    use nix::unistd::geteuid;
    if super::Caps::now().has(super::Cap::DacOverride) {
        return Ok(());
    }
    let st = nix::sys::stat::fstat(dir)?;
    let bits = if st.st_uid == geteuid().as_raw() {
        st.st_mode >> 6
    } else if in_group(st.st_gid) {
        st.st_mode >> 3
    } else {
        st.st_mode
    };
    if bits & 0o3 == 0o3 {
        Ok(())
    } else {
        Err(Errno::EACCES)
    }
}

/// A handle on the directory at `path` for connecting through it: opened
/// with `O_PATH`, which needs no read permission on it, only search.
pub(crate) fn open_dir_handle(path: &Path) -> nix::Result<OwnedFd> {
    use nix::fcntl::OFlag;
    nix::fcntl::open(
        path,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
}

/// `bindat(2)`: not on Linux, which goes through [`fd_path`] instead.
pub(crate) fn bind_in(
    _sock: BorrowedFd<'_>,
    _dir: BorrowedFd<'_>,
    _name: &std::ffi::OsStr,
) -> nix::Result<()> {
    Err(Errno::ENOSYS)
}

/// `connectat(2)`: not on Linux, which goes through [`fd_path`] instead.
pub(crate) fn connect_in(
    _sock: BorrowedFd<'_>,
    _dir: BorrowedFd<'_>,
    _name: &std::ffi::OsStr,
) -> nix::Result<()> {
    Err(Errno::ENOSYS)
}

/// Asks the kernel to attach the sender's credentials to every datagram
/// this socket receives (`SO_PASSCRED`).
pub(crate) fn pass_credentials(fd: BorrowedFd<'_>) -> nix::Result<()> {
    socket::setsockopt(&fd, sockopt::PassCred, &true)
}

/// Refuses descriptors at the sender (`SO_PASSRIGHTS` off, Linux 6.16 and
/// later): a datagram carrying `SCM_RIGHTS` to this socket fails to send
/// with EPERM, so no passed descriptor ever reaches the receiver. One that
/// did would be closed by the receiving thread as the datagram is read
/// (even when its control data is cut off), and the last close of a
/// socket can block: a TCP socket with `SO_LINGER` and unsent data holds
/// the thread for as long as its sender likes. `Ok(false)` where the
/// kernel has no such option.
#[allow(unsafe_code)]
pub(crate) fn refuse_descriptors(fd: BorrowedFd<'_>) -> nix::Result<bool> {
    // 83 in the generic socket options; the architectures with their own
    // numbering are left out.
    if !cfg!(any(
        target_arch = "x86",
        target_arch = "x86_64",
        target_arch = "arm",
        target_arch = "aarch64",
        target_arch = "riscv64",
        target_arch = "loongarch64",
        target_arch = "powerpc64",
        target_arch = "s390x"
    )) {
        return Ok(false);
    }
    const SO_PASSRIGHTS: nix::libc::c_int = 83;
    let off: nix::libc::c_int = 0;
    // SAFETY: the option value is a live c_int of the size passed.
    let rc = unsafe {
        nix::libc::setsockopt(
            fd.as_raw_fd(),
            nix::libc::SOL_SOCKET,
            SO_PASSRIGHTS,
            std::ptr::from_ref(&off).cast(),
            std::mem::size_of_val(&off) as nix::libc::socklen_t,
        )
    };
    match Errno::result(rc) {
        Ok(_) => Ok(true),
        Err(Errno::ENOPROTOOPT | Errno::EINVAL) => Ok(false),
        Err(errno) => Err(errno),
    }
}

/// Whether the kernel attaches the sender's credentials to every datagram
/// this socket receives now (`SO_PASSCRED`).
pub(crate) fn passes_credentials(fd: BorrowedFd<'_>) -> bool {
    socket::getsockopt(&fd, sockopt::PassCred).unwrap_or(false)
}

/// One datagram into `buf`, with its sender's credentials
/// (`SCM_CREDENTIALS`) and address; `WouldBlock` when none is waiting.
/// Descriptors attached to it are closed (`cmsg.rs`).
pub(crate) fn recv_with_cred(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
) -> std::io::Result<super::Received> {
    #[cfg(target_os = "android")]
    use std::os::android::net::SocketAddrExt;
    #[cfg(target_os = "linux")]
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::SocketAddr;

    // struct ucred: pid, uid, gid.
    let raw = super::cmsg::recv(
        fd,
        buf,
        std::mem::size_of::<nix::libc::ucred>(),
        |level, kind, data| {
            if level != nix::libc::SOL_SOCKET
                || kind != nix::libc::SCM_CREDENTIALS
                || data.len() < 12
            {
                return None;
            }
            let field = |i: usize| {
                let b = &data[i * 4..i * 4 + 4];
                u32::from_ne_bytes([b[0], b[1], b[2], b[3]])
            };
            Some(super::Cred {
                pid: Some(field(0) as i32).filter(|&p| p > 0),
                uid: field(1),
                gid: field(2),
            })
        },
    )?;
    // A sender that never bound has a zero-length address, which nix's
    // `path()` must not be asked about.
    let named = raw.addr.filter(|a| {
        socket::SockaddrLike::len(a) as usize > std::mem::size_of::<nix::libc::sa_family_t>()
    });
    let from = match named {
        Some(a) if a.path().is_some() => {
            SocketAddr::from_pathname(a.path().unwrap_or(Path::new("")))?
        }
        Some(a) if a.as_abstract().is_some() => {
            SocketAddr::from_abstract_name(a.as_abstract().unwrap_or_default())?
        }
        _ => unnamed()?,
    };
    Ok(super::Received {
        len: raw.len,
        sent: raw.sent,
        truncated: raw.truncated,
        control_truncated: raw.control_truncated,
        descriptors: raw.descriptors,
        cred: raw.cred,
        from,
    })
}

/// Whether `cred` is what the kernel gives for a datagram queued with no
/// credentials recorded (before the receiver asked for them): pid 0, and
/// the overflow uid and gid (`/proc/sys/kernel/overflowuid`, 65534 unless
/// changed). A sender outside our pid namespace whose ids are not mapped
/// in ours looks the same, and is no better known.
pub(crate) fn unrecorded(cred: &super::Cred) -> bool {
    static OVERFLOW: std::sync::OnceLock<(u32, u32)> = std::sync::OnceLock::new();
    let (uid, gid) = *OVERFLOW.get_or_init(|| {
        let read = |name: &str| {
            std::fs::read_to_string(format!("/proc/sys/kernel/{name}"))
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(65534)
        };
        (read("overflowuid"), read("overflowgid"))
    });
    cred.pid.is_none() && cred.uid == uid && cred.gid == gid
}

/// The address of an unnamed socket (a sender that never bound), which
/// std can only give as the address of such a socket: made once.
fn unnamed() -> std::io::Result<std::os::unix::net::SocketAddr> {
    static UNNAMED: std::sync::OnceLock<std::os::unix::net::SocketAddr> =
        std::sync::OnceLock::new();
    if let Some(addr) = UNNAMED.get() {
        return Ok(addr.clone());
    }
    let addr = std::os::unix::net::UnixDatagram::unbound()?.local_addr()?;
    Ok(UNNAMED.get_or_init(|| addr).clone())
}

/// Before the bind of `sock`: the file the bind makes gets no permission
/// bits at all, which Linux takes from the socket's own inode (the umask
/// only clears bits), so that nobody can connect or send to it before its
/// access is set through a descriptor of it
/// ([`crate::access::set_pinned`]).
pub(crate) fn close_before_bind(sock: BorrowedFd<'_>) -> nix::Result<()> {
    nix::sys::stat::fchmod(sock, nix::sys::stat::Mode::empty())
}

/// `fchownat(pin, "", AT_EMPTY_PATH)`: the owner and group of the file
/// open as the `O_PATH` descriptor `pin`, whatever its name is now.
pub(crate) fn chown_pinned(
    pin: BorrowedFd<'_>,
    uid: Option<nix::unistd::Uid>,
    gid: Option<nix::unistd::Gid>,
) -> nix::Result<()> {
    nix::unistd::fchownat(pin, "", uid, gid, AtFlags::AT_EMPTY_PATH)
}

/// The calling thread's filesystem gid, switched to `gid` (a per-thread
/// credential on Linux; it needs `CAP_SETGID`, or `gid` our real gid)
/// until the returned value is dropped, which switches it back: so a file
/// made meanwhile is made in that group.
pub(crate) fn switch_fsgid(gid: u32) -> nix::Result<Fsgid> {
    use nix::unistd::{Gid, setfsgid};
    let gid = Gid::from_raw(gid);
    // setfsgid answers with the old value, and fails silently.
    let before = setfsgid(gid);
    if setfsgid(gid) == gid {
        Ok(Fsgid(before))
    } else {
        setfsgid(before);
        Err(Errno::EPERM)
    }
}

/// The filesystem gid to switch back to ([`switch_fsgid`]).
#[derive(Debug)]
pub(crate) struct Fsgid(nix::unistd::Gid);

impl Drop for Fsgid {
    fn drop(&mut self) {
        nix::unistd::setfsgid(self.0);
    }
}

/// A new regular file `name` in `dir` (mode 0644, less the umask) that
/// holds `contents` from the first instant anyone can see it: made unnamed
/// (`O_TMPFILE`), written, then linked at `name` (`linkat` of
/// `/proc/self/fd/N`). A crash before the link leaves nothing. `EEXIST`
/// when `name` exists; `Ok(None)` where the filesystem has no `O_TMPFILE`
/// (FUSE, say) or there is no `/proc` to link it from.
pub(crate) fn create_linked(
    dir: BorrowedFd<'_>,
    name: &std::ffi::OsStr,
    contents: &[u8],
) -> nix::Result<Option<OwnedFd>> {
    use nix::fcntl::{OFlag, openat};
    let flags = OFlag::O_TMPFILE | OFlag::O_WRONLY | OFlag::O_CLOEXEC | OFlag::O_NOCTTY;
    let fd = match openat(
        dir,
        ".",
        flags,
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    ) {
        Ok(fd) => fd,
        Err(Errno::EOPNOTSUPP | Errno::EISDIR | Errno::EINVAL) => return Ok(None),
        Err(errno) => return Err(errno),
    };
    if nix::unistd::write(&fd, contents)? != contents.len() {
        return Err(Errno::EIO);
    }
    let Some(file) = fd_path(fd.as_fd()) else {
        return Ok(None);
    };
    nix::unistd::linkat(
        nix::fcntl::AT_FDCWD,
        &file,
        dir,
        name,
        AtFlags::AT_SYMLINK_FOLLOW,
    )?;
    Ok(Some(fd))
}

/// The abstract name a tokio socket address holds, if it is one.
pub(crate) fn abstract_name_of_tokio(addr: &tokio::net::unix::SocketAddr) -> Option<&[u8]> {
    addr.as_abstract_name()
}

/// Which POSIX ACL an extended attribute holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Acl {
    /// `system.posix_acl_access`: the access the kernel enforces on the
    /// file, beyond its mode.
    Access,
    /// `system.posix_acl_default`: what a directory gives each new file
    /// made in it.
    Default,
}

impl Acl {
    fn xattr(self) -> &'static [u8] {
        match self {
            Acl::Access => b"system.posix_acl_access\0",
            Acl::Default => b"system.posix_acl_default\0",
        }
    }
}

/// Whether the file at `file` carries the ACL `which` (`lgetxattr`; with
/// `follow`, `getxattr`, for the `/proc/self/fd/N` of a pinned file). A
/// filesystem without extended attributes or ACLs (ENOTSUP) has none.
#[allow(unsafe_code)]
pub(crate) fn has_acl(file: &Path, which: Acl, follow: bool) -> nix::Result<bool> {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c_file) = std::ffi::CString::new(file.as_os_str().as_bytes()) else {
        return Err(Errno::EINVAL);
    };
    let get = if follow {
        nix::libc::getxattr
    } else {
        nix::libc::lgetxattr
    };
    // SAFETY: both strings are NUL-terminated and live until the call
    // returns; with a size of 0 the kernel writes nothing and answers with
    // the value's size.
    let rc = unsafe {
        get(
            c_file.as_ptr(),
            which.xattr().as_ptr().cast(),
            std::ptr::null_mut(),
            0,
        )
    };
    match Errno::result(rc) {
        Ok(_) => Ok(true),
        Err(Errno::ENODATA | Errno::EOPNOTSUPP) => Ok(false),
        Err(errno) => Err(errno),
    }
}

/// Removes the access ACL of the file at `file` (`lremovexattr`; with
/// `follow`, `removexattr`, for the `/proc/self/fd/N` of a pinned file);
/// its mode keeps the group bits the ACL's mask gave it. `Ok` too when
/// there was none.
#[allow(unsafe_code)]
pub(crate) fn remove_access_acl(file: &Path, follow: bool) -> nix::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c_file) = std::ffi::CString::new(file.as_os_str().as_bytes()) else {
        return Err(Errno::EINVAL);
    };
    let remove = if follow {
        nix::libc::removexattr
    } else {
        nix::libc::lremovexattr
    };
    // SAFETY: both strings are NUL-terminated and live until the call
    // returns; the kernel reads nothing else and writes nothing.
    let rc = unsafe { remove(c_file.as_ptr(), Acl::Access.xattr().as_ptr().cast()) };
    match Errno::result(rc) {
        Ok(_) | Err(Errno::ENODATA) => Ok(()),
        Err(errno) => Err(errno),
    }
}

/// An `O_PATH` descriptor of `name` in `dir`, never following a link: while
/// it is open, the file's inode is not freed, so its number is not given
/// to another file.
pub(crate) fn pin_file(dir: BorrowedFd<'_>, name: &std::ffi::OsStr) -> nix::Result<OwnedFd> {
    use nix::fcntl::{OFlag, openat};
    let flags = OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    openat(dir, name, flags, nix::sys::stat::Mode::empty())
}

/// The inode number of the file the socket `sock` is bound to, as the
/// kernel says through `sock_diag` (`UDIAG_SHOW_VFS`); `None` where it
/// does not say (netlink refused by a seccomp filter or
/// `RestrictAddressFamilies=`, no `unix_diag`). The device it gives too is
/// the superblock's, which is not what `stat` says on a btrfs subvolume,
/// so it is not returned. The number is the low 32 bits of it, all that
/// `struct unix_diag_vfs` has room for.
pub(crate) fn bound_inode(sock: BorrowedFd<'_>) -> Option<u32> {
    const SOCK_DIAG_BY_FAMILY: u16 = 20;
    const NLM_F_REQUEST: u16 = 1;
    const NLMSG_ERROR: u16 = 2;
    const UDIAG_SHOW_VFS: u32 = 2;
    const UNIX_DIAG_VFS: u16 = 1;
    let ino = u32::try_from(nix::sys::stat::fstat(sock).ok()?.st_ino).ok()?;
    let diag = socket::socket(
        AddressFamily::Netlink,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        socket::SockProtocol::NetlinkSockDiag,
    )
    .ok()?;
    // struct nlmsghdr, then struct unix_diag_req, in native byte order.
    let mut req = Vec::with_capacity(40);
    req.extend_from_slice(&40u32.to_ne_bytes());
    req.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    req.extend_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    req.extend_from_slice(&[0; 8]); // seq, pid
    req.extend_from_slice(&[libc_af_unix(), 0, 0, 0]); // family, protocol, pad
    req.extend_from_slice(&u32::MAX.to_ne_bytes()); // every state
    req.extend_from_slice(&ino.to_ne_bytes());
    req.extend_from_slice(&UDIAG_SHOW_VFS.to_ne_bytes());
    req.extend_from_slice(&[0xff; 8]); // no cookie
    socket::send(diag.as_raw_fd(), &req, socket::MsgFlags::empty()).ok()?;
    let mut buf = [0u8; 256];
    let n = socket::recv(diag.as_raw_fd(), &mut buf, socket::MsgFlags::empty()).ok()?;
    let buf = &buf[..n];
    let u16_at = |at: usize| {
        buf.get(at..at + 2)
            .map(|b| u16::from_ne_bytes([b[0], b[1]]))
    };
    let u32_at = |at: usize| {
        buf.get(at..at + 4)
            .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    };
    let len = (u32_at(0)? as usize).min(n);
    // struct unix_diag_msg: family, type, state, pad, ino, cookie[2].
    if u16_at(4)? == NLMSG_ERROR || u32_at(16 + 4)? != ino {
        return None;
    }
    let mut at = 16 + 16;
    while at + 4 <= len {
        let (attr_len, attr_type) = (u16_at(at)? as usize, u16_at(at + 2)?);
        if attr_len < 4 {
            return None;
        }
        if attr_type == UNIX_DIAG_VFS {
            // struct unix_diag_vfs: ino, then dev.
            return u32_at(at + 4);
        }
        at += (attr_len + 3) & !3;
    }
    None
}

/// `AF_UNIX`, as the byte `sdiag_family` holds.
fn libc_af_unix() -> u8 {
    AddressFamily::Unix as u8
}
