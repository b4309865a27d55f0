//! One datagram with its sender's credentials, on Linux, Android and
//! FreeBSD: `recvmsg(2)` read by hand, so that what any sender attaches is
//! handled here and never fails the receive.
//!
//! - The control buffer has room for the credentials record and nothing
//!   more, so the kernel keeps the descriptors a sender attaches
//!   (`SCM_RIGHTS`) out of our descriptor table: it drops its references
//!   to them and flags the datagram `MSG_CTRUNC`. Closing a descriptor is
//!   not free of effects (it releases the process's POSIX record locks on
//!   that file, and runs the file's flush, which on FUSE the filesystem's
//!   owner answers when it likes), so none is ever installed if it can be
//!   helped.
//! - Any descriptor that arrives all the same (when no credentials record
//!   takes the room) comes close-on-exec (`MSG_CMSG_CLOEXEC`) and is closed
//!   here, at once.
//! - nix refuses to read control data flagged `MSG_CTRUNC` (`ENOBUFS`);
//!   the kernel writes only whole headers within the buffer, so it is read
//!   here with the `CMSG_*` macros, each record bounded by the buffer.

#![allow(unsafe_code)]

use std::io::{self, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::libc::{self, c_int, c_uint};
use nix::sys::socket::{SockaddrLike, UnixAddr};

use super::Cred;

/// What one `recvmsg` gave, before its address is made a std one.
#[derive(Debug)]
pub(super) struct Raw {
    /// Bytes written to the buffer.
    pub(super) len: usize,
    /// The datagram's own length, where the kernel says it (Linux); else
    /// `len`.
    pub(super) sent: usize,
    /// The datagram was longer than the buffer (`MSG_TRUNC`).
    pub(super) truncated: bool,
    /// More control data came than the buffer holds (`MSG_CTRUNC`): on
    /// these sockets, descriptors.
    pub(super) control_truncated: bool,
    /// Descriptors that arrived, all closed already.
    pub(super) descriptors: usize,
    pub(super) cred: Option<Cred>,
    pub(super) addr: Option<UnixAddr>,
}

/// Room for the largest control record we keep, in 8-byte words, so that
/// the headers in it are aligned.
const ROOM: usize = 32;

/// One datagram from `fd` into `buf`, with a control buffer of room for
/// `cred_len` bytes of credentials, which `cred_of(level, type, data)`
/// reads; every descriptor that arrives is closed. `WouldBlock` when none
/// is waiting.
pub(super) fn recv(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    cred_len: usize,
    cred_of: impl Fn(c_int, c_int, &[u8]) -> Option<Cred>,
) -> io::Result<Raw> {
    let mut control = [0u64; ROOM];
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(cred_len as c_uint) } as usize;
    let space = space.min(std::mem::size_of_val(&control));
    // SAFETY: all zeroes is a valid sockaddr_un and msghdr.
    let mut name: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    let mut iov = [IoSliceMut::new(buf)];
    let capacity = iov[0].len();
    // SAFETY: as above.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = (&raw mut name).cast();
    msg.msg_namelen = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
    // IoSliceMut is an iovec on Unix.
    msg.msg_iov = iov.as_mut_ptr().cast();
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // On Linux, MSG_TRUNC makes the call return the datagram's own length.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let flags = libc::MSG_CMSG_CLOEXEC | libc::MSG_TRUNC;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let flags = libc::MSG_CMSG_CLOEXEC;
    // SAFETY: `msg` points at the name, the one iovec (over `buf`) and the
    // control buffer, all alive and writable for the lengths given; the
    // kernel writes no further, and sets the lengths it used.
    let n = unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, flags) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let sent = n as usize;
    let mut raw = Raw {
        len: sent.min(capacity),
        sent,
        truncated: msg.msg_flags & libc::MSG_TRUNC != 0,
        control_truncated: msg.msg_flags & libc::MSG_CTRUNC != 0,
        descriptors: 0,
        cred: None,
        addr: None,
    };
    if !cfg!(any(target_os = "linux", target_os = "android")) {
        raw.sent = raw.len;
    }
    let start = control.as_ptr() as usize;
    let end = start + (msg.msg_controllen as usize).min(space);
    // SAFETY: `msg` describes the control buffer as the kernel left it;
    // CMSG_FIRSTHDR and CMSG_NXTHDR return a header inside it, or null.
    let mut header = unsafe { libc::CMSG_FIRSTHDR(&msg) };
    while !header.is_null() {
        // SAFETY: a header CMSG_FIRSTHDR or CMSG_NXTHDR returned lies
        // whole within the buffer, which is aligned for it.
        let (level, kind, len, data) = unsafe {
            let h = &*header;
            (
                h.cmsg_level,
                h.cmsg_type,
                h.cmsg_len as usize,
                libc::CMSG_DATA(header),
            )
        };
        let data_start = data as usize;
        let data_len = (header as usize + len).min(end).saturating_sub(data_start);
        // SAFETY: `data_len` bytes from `data` lie within the control
        // buffer (bounded by `end` above), which lives until we return.
        let bytes = unsafe { std::slice::from_raw_parts(data.cast_const(), data_len) };
        if level == libc::SOL_SOCKET && kind == libc::SCM_RIGHTS {
            for word in bytes.chunks_exact(std::mem::size_of::<c_int>()) {
                let mut ne = [0; std::mem::size_of::<c_int>()];
                ne.copy_from_slice(word);
                let fd = c_int::from_ne_bytes(ne);
                if fd >= 0 {
                    // SAFETY: the kernel has just installed this
                    // descriptor in our table for this call; nothing else
                    // knows its number. It is closed here, once.
                    drop(unsafe { OwnedFd::from_raw_fd(fd) });
                    raw.descriptors += 1;
                }
            }
        } else if raw.cred.is_none() {
            raw.cred = cred_of(level, kind, bytes);
        }
        // SAFETY: as for CMSG_FIRSTHDR.
        header = unsafe { libc::CMSG_NXTHDR(&msg, header) };
    }
    // SAFETY: the kernel wrote `msg_namelen` bytes of a sockaddr_un at
    // `name`, which is large enough for any.
    raw.addr = unsafe {
        UnixAddr::from_raw(
            (&raw const name).cast(),
            Some(
                msg.msg_namelen
                    .min(std::mem::size_of::<libc::sockaddr_un>() as _),
            ),
        )
    };
    Ok(raw)
}
