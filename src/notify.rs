//! The service manager's readiness protocol (`sd_notify`): one datagram of
//! `KEY=value` lines to the `AF_UNIX` socket named by `$NOTIFY_SOCKET`, a
//! path or an abstract name (`@…`). Nothing is sent, and nothing fails,
//! when the variable is unset.

use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixDatagram;

use nix::sys::socket::{self, MsgFlags};

use crate::addr::{AddrView, UnixAddr};

/// Tells the service manager that the service is ready (`READY=1`): under
/// `Type=notify`, units ordered after this one start only now. Returns
/// whether a message was sent (`false` when `$NOTIFY_SOCKET` is unset).
///
/// [`Builder::notify_ready`](crate::Builder::notify_ready) sends it as soon
/// as the socket listens.
///
/// # Errors
///
/// An [`io::Error`] of the OS's kind, whose message names the notification
/// socket: `WouldBlock` when the receiver's queue is full (nothing here
/// ever waits for it), `InvalidInput` for a `$NOTIFY_SOCKET` that is
/// neither an absolute path nor `@name`, or is longer than a socket
/// address holds (the message says by how much).
///
/// ```
/// // Without $NOTIFY_SOCKET (not under systemd), nothing is sent.
/// # // SAFETY: a doctest is a process of its own.
/// # unsafe { std::env::remove_var("NOTIFY_SOCKET") };
/// assert!(!safe_unix_listener::systemd::notify_ready()?);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn notify_ready() -> io::Result<bool> {
    notify("READY=1")
}

/// Like [`notify_ready`], and names this process as the service's main
/// process (`MAINPID=`), as a process that replaces another one under
/// `Type=notify` must (with `NotifyAccess=all` in the unit).
///
/// ```
/// # unsafe { std::env::remove_var("NOTIFY_SOCKET") };
/// assert!(!safe_unix_listener::systemd::notify_ready_main_pid()?);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn notify_ready_main_pid() -> io::Result<bool> {
    notify(&format!("READY=1\nMAINPID={}", std::process::id()))
}

/// Tells the service manager that the service is stopping (`STOPPING=1`).
/// `HyperServer` and the examples send it when shutdown starts.
///
/// ```
/// # unsafe { std::env::remove_var("NOTIFY_SOCKET") };
/// assert!(!safe_unix_listener::systemd::notify_stopping()?);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn notify_stopping() -> io::Result<bool> {
    notify("STOPPING=1")
}

/// A one-line status for `systemctl status` (`STATUS=`). Line breaks in
/// `status` are sent as spaces, so that it stays one field.
///
/// ```
/// # unsafe { std::env::remove_var("NOTIFY_SOCKET") };
/// assert!(!safe_unix_listener::systemd::notify_status("serving 3 clients")?);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn notify_status(status: &str) -> io::Result<bool> {
    notify(&format!("STATUS={}", status.replace('\n', " ")))
}

/// Sends `message` to `$NOTIFY_SOCKET`, if it is set, without ever
/// blocking: a receiver whose queue is full is an error at once
/// (`WouldBlock`), not a wait on the caller's thread.
fn notify(message: &str) -> io::Result<bool> {
    let Some(target) = std::env::var_os("NOTIFY_SOCKET") else {
        return Ok(false);
    };
    let shown = crate::escape::shown(target.as_ref());
    let fail = |e: io::Error| {
        io::Error::new(
            e.kind(),
            format!("cannot notify the service manager at NOTIFY_SOCKET={shown}: {e}"),
        )
    };
    let addr = notify_address(&target).map_err(fail)?;
    let socket = UnixDatagram::unbound().map_err(fail)?;
    socket.set_nonblocking(true).map_err(fail)?;
    let sent = match addr.view() {
        AddrView::Path(path) => socket.send_to(message.as_bytes(), path).map(drop),
        AddrView::Abstract(name) => match crate::sys::abstract_sockaddr(name) {
            Some(addr) => socket::sendto(
                socket.as_raw_fd(),
                message.as_bytes(),
                &addr,
                MsgFlags::empty(),
            )
            .map(drop)
            .map_err(io::Error::from),
            None => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "abstract socket names exist only on Linux and Android",
            )),
        },
    };
    sent.map_err(|e| match e.kind() {
        io::ErrorKind::WouldBlock => fail(io::Error::new(
            e.kind(),
            "its receive queue is full (the receiver is not reading); the message was not sent",
        )),
        _ => fail(e),
    })?;
    tracing::debug!(socket = %shown, message, "notified the service manager");
    Ok(true)
}

/// The address `$NOTIFY_SOCKET` names: an absolute path or `@name`, within
/// the platform's length limit.
fn notify_address(target: &std::ffi::OsStr) -> io::Result<UnixAddr> {
    let bytes = target.as_bytes();
    let addr = match bytes.first() {
        Some(b'@') => UnixAddr::from_abstract_name(&bytes[1..]),
        // Sent by path: it must fit in the socket address.
        Some(b'/') if bytes.len() > crate::sys::MAX_PATH_LEN => Err(
            crate::BindError::path_too_long(target.as_ref(), bytes.len(), crate::sys::MAX_PATH_LEN),
        ),
        Some(b'/') => UnixAddr::from_path(target),
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "it is neither an absolute path nor an abstract name (@…)",
            ));
        }
    };
    addr.map_err(io::Error::from)
}
