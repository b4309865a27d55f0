//! Socket activation: adopting the listening sockets passed by systemd (or
//! anything that speaks its protocol: `LISTEN_PID`, `LISTEN_FDS`,
//! `LISTEN_FDNAMES`, descriptors from 3 on).
//!
//! The environment is read once per process ([`receive`]), and everything
//! in it is checked before anything is allocated or adopted:
//!
//! - `LISTEN_PID` must name this process, or be missing (as systemfd
//!   `--no-pid` and cargo-watch leave it; listenfd accepts that too); a
//!   `LISTEN_PID` of another process means the variables were inherited,
//!   and they are ignored;
//! - `LISTEN_FDS` must be a number that fits the descriptor table
//!   (`RLIMIT_NOFILE`);
//! - every passed descriptor is made close-on-exec at once, so that no
//!   child inherits one, whether it is ever taken or not.
//!
//! The variables are left in the environment. Removing them
//! (`std::env::remove_var`) is unsound while other threads may read the
//! environment, and the first `from_activation*` runs inside a Tokio
//! runtime, whose workers exist by then. Nor is it needed: a child sees a
//! `LISTEN_PID` that names its parent and ignores the variables, and where
//! `LISTEN_PID` is missing, a passed descriptor that is not open (it was
//! closed at the child's `exec`) marks the variables as inherited, and they
//! are ignored too.
//!
//! A descriptor is adopted only when taken, only if it is a listening Unix
//! stream socket, and at most once. This is the only module with `unsafe`
//! code for descriptors: a passed descriptor is a raw number that must be
//! taken over exactly once.

#![allow(unsafe_code)]

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Mutex, PoisonError};

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::libc;
use nix::sys::socket::{self, AddressFamily, SockaddrLike, SockaddrStorage, sockopt};

use crate::addr::UnixAddr;
use crate::error::BindError;
use crate::explain::{Activation, Unusable};
use crate::kind::Kind;
use crate::sys;

/// The first passed descriptor, by the protocol.
const FIRST_FD: RawFd = 3;
const VARS: [&str; 3] = ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"];

/// A descriptor passed to this process.
#[derive(Debug)]
struct Passed {
    fd: RawFd,
    name: Option<String>,
    /// Adopted already: no second `OwnedFd` may be made from it.
    taken: bool,
}

/// What the environment said, read on first use.
static PASSED: Mutex<Option<Result<Vec<Passed>, Activation>>> = Mutex::new(None);

/// Reads the activation variables now, if that was not done yet, and
/// returns how many descriptors were passed.
pub(crate) fn receive() -> Result<usize, BindError> {
    with_passed(|passed| Ok(passed.len()))
}

fn with_passed<T>(
    f: impl FnOnce(&mut Vec<Passed>) -> Result<T, BindError>,
) -> Result<T, BindError> {
    let mut guard = PASSED.lock().unwrap_or_else(PoisonError::into_inner);
    match guard.get_or_insert_with(read_environment) {
        Ok(passed) => f(passed),
        Err(why) => Err(BindError::activation(why.clone())),
    }
}

/// A passed listener, adopted: the Tokio listener, its address, and the
/// name it was passed under.
pub(crate) type Adopted<K = tokio::net::UnixListener> = (K, UnixAddr, Option<String>);

/// A passed descriptor that is not a Unix stream listener, from
/// [`SafeUnixListener::from_activation_all`](crate::SafeUnixListener::from_activation_all):
/// left open and untouched.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NotUsed {
    /// The descriptor's number.
    pub fd: RawFd,
    /// The name it was passed under (`FileDescriptorName=`, `--fdname`).
    pub name: Option<String>,
    /// What it is instead, in words: "is a TCP or UDP socket", say.
    pub what: String,
}

/// Takes the passed Unix listener: the one named `name`, or, without a
/// name, the only passed descriptor that is a listening Unix stream socket.
#[track_caller]
pub(crate) fn take<K: Kind>(name: Option<&str>) -> Result<Option<Adopted<K>>, BindError> {
    with_passed(|passed| {
        let mut open = passed.iter_mut().filter(|p| !p.taken).peekable();
        if open.peek().is_none() {
            return Ok(None);
        }
        let chosen = match name {
            Some(name) => match open.find(|p| p.name.as_deref() == Some(name)) {
                Some(p) => p,
                None => {
                    tracing::debug!(name, "no passed socket has this name");
                    return Ok(None);
                }
            },
            None => only_one::<K>(open.collect())?,
        };
        adopt::<K>(chosen).map(Some)
    })
}

/// Takes every passed descriptor not taken yet: the Unix stream listeners
/// adopted, the others reported with what they are.
#[track_caller]
pub(crate) fn take_all() -> Result<(Vec<Adopted>, Vec<NotUsed>), BindError> {
    with_passed(|passed| {
        let (mut adopted, mut others) = (Vec::new(), Vec::new());
        for p in passed.iter_mut().filter(|p| !p.taken) {
            match check::<tokio::net::UnixListener>(p.fd) {
                Ok(_) => adopted.push(adopt(p)?),
                Err(why) => {
                    tracing::warn!(
                        fd = p.fd,
                        name = p.name.as_deref().unwrap_or(""),
                        "passed descriptor {why}; not used"
                    );
                    others.push(NotUsed {
                        fd: p.fd,
                        name: p.name.clone(),
                        what: why.to_string(),
                    });
                }
            }
        }
        Ok((adopted, others))
    })
}

fn only_one<K: Kind>(open: Vec<&mut Passed>) -> Result<&mut Passed, BindError> {
    let count = open.len();
    let mut unix: Vec<&mut Passed> = open
        .into_iter()
        .filter(|p| check::<K>(p.fd).is_ok())
        .collect();
    match unix.len() {
        1 => Ok(unix.remove(0)),
        0 => Err(BindError::activation(Activation::NoneOfKind {
            count,
            kind: K::PASSED,
        })),
        _ => Err(BindError::activation(Activation::SeveralOfKind {
            kind: K::PASSED,
            names: unix.iter().map(|p| p.name.clone()).collect(),
        })),
    }
}

/// Checks `p` and makes it ours, exactly once.
#[track_caller]
fn adopt<K: Kind>(p: &mut Passed) -> Result<Adopted<K>, BindError> {
    let addr = check::<K>(p.fd)
        .map_err(|why| BindError::activation(Activation::Unusable { fd: p.fd, why }))?;
    p.taken = true;
    // SAFETY: the service manager passed this descriptor to this process,
    // it is open (`check` just queried it), and `taken` guarantees that no
    // other OwnedFd is ever made from it by this crate.
    let fd = unsafe { OwnedFd::from_raw_fd(p.fd) };
    fcntl(&fd, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).map_err(|errno| {
        BindError::activation(Activation::NonBlocking {
            fd: fd.as_raw_fd(),
            errno,
        })
    })?;
    let socket = K::adopt(fd).map_err(|e| {
        BindError::from_io(e, |errno| {
            BindError::activation(Activation::Register(errno))
        })
    })?;
    tracing::info!(%addr, name = p.name.as_deref().unwrap_or(""), "using the socket passed by the service manager");
    Ok((socket, addr, p.name.clone()))
}

/// Reads and checks the activation variables, and makes every passed
/// descriptor close-on-exec. The environment is only read.
fn read_environment() -> Result<Vec<Passed>, Activation> {
    let [pid, fds, names] = VARS.map(|v| std::env::var(v).ok());
    let Some(fds) = fds else {
        return Ok(Vec::new());
    };
    let inherited_if_closed = pid.is_none();
    match pid.as_deref().map(str::parse::<u32>) {
        None => tracing::debug!("LISTEN_FDS without LISTEN_PID (systemfd --no-pid): using them"),
        Some(Ok(pid)) if pid == std::process::id() => {
            tracing::debug!("LISTEN_PID names this process: using LISTEN_FDS");
        }
        Some(Ok(pid)) => {
            tracing::debug!(pid, "LISTEN_PID names another process: ignoring LISTEN_FDS");
            return Ok(Vec::new());
        }
        Some(Err(_)) => return Err(Activation::PidNotANumber(pid.unwrap_or_default())),
    }
    let Ok(count) = fds.parse::<u32>() else {
        return Err(Activation::FdsNotANumber(fds));
    };
    let limit = sys::descriptor_limit();
    if u64::from(count) + FIRST_FD as u64 > limit {
        return Err(Activation::TooManyFds { count, limit });
    }
    if inherited_if_closed && count > 0 && close_on_exec(FIRST_FD).is_none() {
        tracing::debug!(
            count,
            "LISTEN_FDS without LISTEN_PID, and descriptor 3 is not open: inherited from a parent; ignoring LISTEN_FDS"
        );
        return Ok(Vec::new());
    }
    let mut names = names.as_deref().unwrap_or("").split(':').map(str::to_owned);
    (0..count as RawFd)
        .map(|i| {
            let fd = FIRST_FD + i;
            close_on_exec(fd).ok_or(Activation::FdNotOpen { count, fd })?;
            Ok(Passed {
                fd,
                name: names.next().filter(|n| !n.is_empty()),
                taken: false,
            })
        })
        .collect()
}

/// Sets `FD_CLOEXEC` on a passed descriptor; `None` if it is not open.
fn close_on_exec(fd: RawFd) -> Option<()> {
    // SAFETY: fcntl on a number only reads or sets the descriptor's flags;
    // it borrows nothing, and a number that is not open gives EBADF.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    // SAFETY: as above.
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) } < 0 {
        return None;
    }
    Some(())
}

/// The bound address, if `fd` is a Unix socket of kind `K` (a listening
/// stream socket, or a datagram socket); else what it is, for the message.
fn check<K: Kind>(fd: RawFd) -> Result<UnixAddr, Unusable> {
    socket::getsockname::<SockaddrStorage>(fd).map_err(Unusable::NotASocket)?;
    // SAFETY: getsockname just succeeded, so the descriptor is open; it is
    // only borrowed for the queries `checked` makes, while PASSED's lock is
    // held and before anything takes ownership of it.
    checked::<K>(unsafe { BorrowedFd::borrow_raw(fd) })
}

/// [`check`] for a descriptor we hold: a passed one, or a socket handed to
/// [`from_std`](crate::SafeUnixListener::from_std).
pub(crate) fn checked<K: Kind>(borrowed: BorrowedFd<'_>) -> Result<UnixAddr, Unusable> {
    let name: SockaddrStorage =
        socket::getsockname(borrowed.as_raw_fd()).map_err(Unusable::NotASocket)?;
    match name.family() {
        Some(AddressFamily::Unix) => {}
        Some(AddressFamily::Inet | AddressFamily::Inet6) => return Err(Unusable::Inet),
        other => return Err(Unusable::NotUnix(other)),
    }
    match socket::getsockopt(&borrowed, sockopt::SockType) {
        Ok(ty) if ty == K::TYPE => {}
        Ok(found) => {
            return Err(Unusable::WrongType {
                found,
                wanted: K::PASSED,
            });
        }
        Err(errno) => return Err(Unusable::NoType(errno)),
    }
    if K::LISTENS && socket::getsockopt(&borrowed, sockopt::AcceptConn) != Ok(true) {
        return Err(Unusable::NotListening);
    }
    let unix = name.as_unix_addr().ok_or(Unusable::NoAddress)?;
    UnixAddr::from_sockaddr(unix).ok_or(Unusable::Unnamed)
}

/// Reads the socket-activation variables (`LISTEN_PID`, `LISTEN_FDS`,
/// `LISTEN_FDNAMES`) now, checks them and marks every passed descriptor
/// close-on-exec; returns how many descriptors were passed. Needs no
/// runtime, and leaves the environment as it is (see the module's notes:
/// a child ignores the inherited variables by itself).
///
/// Call it first thing in `main`, before the runtime starts and before the
/// program opens any descriptor of its own: the protocol passes descriptors
/// by number from 3 on, and a lying `LISTEN_FDS` could otherwise name one
/// the program opened itself. The `from_activation*` functions call it on
/// first use.
///
/// # Errors
///
/// [`InvalidActivation`](crate::BindErrorKind::InvalidActivation) when
/// `LISTEN_PID` is not a number, `LISTEN_FDS` is not a number or is larger
/// than the descriptor table (`RLIMIT_NOFILE`), or a passed descriptor is
/// not open.
///
/// ```no_run
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let passed = safe_unix_listener::systemd::receive_activation()?;
///     let rt = tokio::runtime::Runtime::new()?;
///     rt.block_on(async {
///         let listener = match passed {
///             0 => safe_unix_listener::SafeUnixListener::bind("/run/app/app.sock")?,
///             _ => safe_unix_listener::SafeUnixListener::from_activation()?.expect("passed"),
///         };
///         drop(listener);
///         Ok(())
///     })
/// }
/// ```
pub fn receive_activation() -> Result<usize, BindError> {
    receive()
}
