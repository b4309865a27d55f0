//! Socket activation: adopting a listening socket passed by systemd (or
//! anything that speaks its protocol: `LISTEN_PID`, `LISTEN_FDS`,
//! `LISTEN_FDNAMES`, descriptors from 3 on).
//!
//! This is the only module with `unsafe` code: a passed descriptor is a raw
//! number that must be taken over exactly once. The environment is read
//! once per process, the variables are then removed so that children do
//! not inherit them, and each descriptor is handed out at most once.

#![allow(unsafe_code)]

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Mutex, PoisonError};

use nix::fcntl::{FcntlArg, FdFlag, OFlag, fcntl};
use nix::sys::socket::{self, AddressFamily, SockType, SockaddrLike, SockaddrStorage, sockopt};

use crate::addr::UnixAddr;
use crate::error::BindError;
use crate::sys;

/// The first passed descriptor, by the protocol.
const FIRST_FD: RawFd = 3;
const VARS: [&str; 3] = ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"];

/// A descriptor passed to this process, until it is taken.
#[derive(Debug)]
struct Passed {
    fd: RawFd,
    name: Option<String>,
    taken: bool,
}

/// What the environment said, read on first use.
static PASSED: Mutex<Option<Result<Vec<Passed>, String>>> = Mutex::new(None);

/// Takes the passed Unix listener: the one named `name`, or, without a
/// name, the only passed descriptor that is a listening Unix stream socket.
pub(crate) fn take(
    name: Option<&str>,
) -> Result<Option<(tokio::net::UnixListener, UnixAddr)>, BindError> {
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(BindError::no_runtime("the passed socket"));
    }
    let mut guard = PASSED.lock().unwrap_or_else(PoisonError::into_inner);
    let passed = match guard.get_or_insert_with(read_environment) {
        Ok(passed) => passed,
        Err(why) => return Err(BindError::activation(why.clone())),
    };
    let open: Vec<&mut Passed> = passed.iter_mut().filter(|p| !p.taken).collect();
    if open.is_empty() {
        return Ok(None);
    }
    let chosen = match name {
        Some(name) => match open.into_iter().find(|p| p.name.as_deref() == Some(name)) {
            Some(p) => p,
            None => {
                tracing::debug!(name, "no passed socket has this name");
                return Ok(None);
            }
        },
        None => {
            let count = open.len();
            let mut unix: Vec<&mut Passed> =
                open.into_iter().filter(|p| check(p.fd).is_ok()).collect();
            match unix.len() {
                1 => unix.remove(0),
                0 => {
                    return Err(BindError::activation(format!(
                        "{count} descriptor(s) were passed, but none is a listening Unix stream socket"
                    )));
                }
                n => {
                    let names: Vec<&str> = unix
                        .iter()
                        .map(|p| p.name.as_deref().unwrap_or("?"))
                        .collect();
                    return Err(BindError::activation(format!(
                        "{n} Unix listeners were passed ({}); pick one with from_activation_named",
                        names.join(", ")
                    )));
                }
            }
        }
    };
    let addr = check(chosen.fd)
        .map_err(|why| BindError::activation(format!("descriptor {} {why}", chosen.fd)))?;
    chosen.taken = true;
    // SAFETY: the service manager passed this descriptor to this process,
    // it is open (`check` just queried it), and `taken` guarantees that no
    // other OwnedFd is ever made from it.
    let fd = unsafe { OwnedFd::from_raw_fd(chosen.fd) };
    let fail = |e| BindError::activation(format!("descriptor {}: {e}", fd.as_raw_fd()));
    fcntl(&fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).map_err(fail)?;
    fcntl(&fd, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).map_err(fail)?;
    let listener =
        tokio::net::UnixListener::from_std(std::os::unix::net::UnixListener::from(fd))
            .map_err(|e| BindError::activation(format!("cannot register it with Tokio: {e}")))?;
    tracing::info!(%addr, name = chosen.name.as_deref().unwrap_or(""), "using the socket passed by the service manager");
    Ok(Some((listener, addr)))
}

/// Reads and removes the activation variables.
fn read_environment() -> Result<Vec<Passed>, String> {
    let values = VARS.map(|v| std::env::var(v).ok());
    for (var, value) in VARS.iter().zip(&values) {
        if value.is_some() {
            // SAFETY: `remove_var` races with C code reading the environment
            // on other threads. It runs once per process, only when the
            // variables are set, and from_activation is documented to be
            // called at start-up.
            unsafe { std::env::remove_var(var) };
        }
    }
    let [pid, fds, names] = values;
    let Some(pid) = pid else {
        return Ok(Vec::new());
    };
    match pid.parse::<u32>() {
        Ok(pid) if pid == std::process::id() => {}
        Ok(_) => return Ok(Vec::new()), // meant for another process
        Err(_) => return Err(format!("LISTEN_PID={pid:?} is not a process id")),
    }
    let count: RawFd = match fds.as_deref().map(str::parse) {
        Some(Ok(n)) => n,
        _ => {
            return Err(format!(
                "LISTEN_FDS={:?} is not a number",
                fds.unwrap_or_default()
            ));
        }
    };
    let mut names = names.as_deref().unwrap_or("").split(':').map(str::to_owned);
    Ok((FIRST_FD..FIRST_FD.saturating_add(count))
        .map(|fd| Passed {
            fd,
            name: names.next().filter(|n| !n.is_empty()),
            taken: false,
        })
        .collect())
}

/// The bound address, if `fd` is a listening Unix stream socket.
fn check(fd: RawFd) -> Result<UnixAddr, String> {
    let name: SockaddrStorage =
        socket::getsockname(fd).map_err(|e| format!("is not a socket ({e})"))?;
    // SAFETY: getsockname just succeeded, so the descriptor is open; it is
    // only borrowed for the queries below, while PASSED's lock is held and
    // before anything takes ownership of it.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    if name.family() != Some(AddressFamily::Unix) {
        return Err(format!("is not a Unix socket ({:?})", name.family()));
    }
    if socket::getsockopt(&borrowed, sockopt::SockType).ok() != Some(SockType::Stream) {
        return Err("is not a stream socket".to_owned());
    }
    if socket::getsockopt(&borrowed, sockopt::AcceptConn) != Ok(true) {
        return Err("is not listening".to_owned());
    }
    let unix = name.as_unix_addr().ok_or("has no Unix address")?;
    sys::unix_addr_of(unix).ok_or_else(|| "is not bound to a name".to_owned())
}
