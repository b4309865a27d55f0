//! FreeBSD's own calls, used by `other.rs` there: `bindat(2)` and
//! `connectat(2)` relative to a directory's descriptor, and the sender's
//! credentials with each datagram (`LOCAL_CREDS_PERSISTENT`, `SCM_CREDS2`).
//! Type-checked in CI, not run.

// The libc crate does not declare `bindat` and `connectat`, and nix does not
// offer `LOCAL_CREDS_PERSISTENT`.
#![allow(unsafe_code)]

use std::ffi::OsStr;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::net::SocketAddr;

use nix::errno::Errno;
use nix::libc::{self, c_int, sockaddr, socklen_t};
use nix::sys::socket::{SockaddrLike, UnixAddr};

use super::{Cred, Received};

unsafe extern "C" {
    fn bindat(fd: c_int, s: c_int, addr: *const sockaddr, addrlen: socklen_t) -> c_int;
    fn connectat(fd: c_int, s: c_int, addr: *const sockaddr, addrlen: socklen_t) -> c_int;
}

/// The signature `bindat` and `connectat` share.
type AtCall = unsafe extern "C" fn(c_int, c_int, *const sockaddr, socklen_t) -> c_int;

/// `f` (`bindat` or `connectat`) of `sock` to `name` in the directory open
/// as `dir`.
fn at_call(f: AtCall, sock: BorrowedFd<'_>, dir: BorrowedFd<'_>, name: &OsStr) -> nix::Result<()> {
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

/// `bindat(2)`: binds `sock` to `name` in the directory open as `dir`.
pub(crate) fn bind_in(sock: BorrowedFd<'_>, dir: BorrowedFd<'_>, name: &OsStr) -> nix::Result<()> {
    at_call(bindat, sock, dir, name)
}

/// `connectat(2)`: connects `sock` to `name` in the directory open as
/// `dir`.
pub(crate) fn connect_in(
    sock: BorrowedFd<'_>,
    dir: BorrowedFd<'_>,
    name: &OsStr,
) -> nix::Result<()> {
    at_call(connectat, sock, dir, name)
}

/// Asks the kernel to attach the sender's credentials to every datagram
/// this socket receives (`LOCAL_CREDS_PERSISTENT`).
pub(crate) fn pass_credentials(fd: BorrowedFd<'_>) -> nix::Result<()> {
    let on: c_int = 1;
    // SAFETY: `fd` is borrowed, so open; the option value is a c_int
    // that lives until the call returns, and its size is passed.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_LOCAL,
            libc::LOCAL_CREDS_PERSISTENT,
            (&raw const on).cast(),
            std::mem::size_of::<c_int>() as socklen_t,
        )
    };
    Errno::result(r).map(drop)
}

/// Whether every datagram this socket receives now carries its sender's
/// credentials. A datagram queued without them has no `SCM_CREDS2` record
/// at all here, so it is told apart by that: nothing to check.
pub(crate) fn passes_credentials(_fd: BorrowedFd<'_>) -> bool {
    true
}

/// A datagram without credentials has no record here ([`passes_credentials`]).
pub(crate) fn unrecorded(_cred: &Cred) -> bool {
    false
}

/// `struct sockcred2` with `CMGROUP_MAX` (16) groups, the most the kernel
/// attaches: version, pid, uid, euid, gid, egid, ngroups, then the groups.
const SOCKCRED2_MAX: usize = 7 * 4 + 16 * 4;

/// One datagram into `buf`, with its sender's credentials (`SCM_CREDS2`)
/// and address; `WouldBlock` when none is waiting. Descriptors attached to
/// it are closed (`cmsg.rs`).
pub(crate) fn recv_with_cred(fd: BorrowedFd<'_>, buf: &mut [u8]) -> std::io::Result<Received> {
    let raw = super::cmsg::recv(fd, buf, SOCKCRED2_MAX, |level, kind, data| {
        if level != libc::SOL_SOCKET || kind != libc::SCM_CREDS2 || data.len() < 24 {
            return None;
        }
        let field = |i: usize| {
            let b = &data[i * 4..i * 4 + 4];
            u32::from_ne_bytes([b[0], b[1], b[2], b[3]])
        };
        Some(Cred {
            pid: Some(field(1) as i32).filter(|&p| p > 0),
            uid: field(3),
            gid: field(5),
        })
    })?;
    let from = match raw.addr.and_then(|a| {
        (a.len() as usize > std::mem::size_of::<libc::sa_family_t>() + 1)
            .then(|| a.path().map(std::path::Path::to_path_buf))
            .flatten()
    }) {
        Some(path) => SocketAddr::from_pathname(path)?,
        None => std::os::unix::net::UnixDatagram::unbound()?.local_addr()?,
    };
    Ok(Received {
        len: raw.len,
        sent: raw.sent,
        truncated: raw.truncated,
        control_truncated: raw.control_truncated,
        descriptors: raw.descriptors,
        cred: raw.cred,
        from,
    })
}
