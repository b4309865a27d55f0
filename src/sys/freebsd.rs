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
use nix::sys::socket::{self, ControlMessageOwned, MsgFlags, SockaddrLike, UnixAddr};

use super::Cred;

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

/// One datagram into `buf`, with its sender's credentials (`SCM_CREDS2`)
/// and address; `WouldBlock` when none is waiting.
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
