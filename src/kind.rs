//! The kinds of socket the one bind sequence makes: a stream listener or a
//! datagram receiver, each as a Tokio type ([`tokio::net::UnixListener`],
//! [`tokio::net::UnixDatagram`]) or as a std one, blocking, for a program
//! without Tokio. They differ in the socket type, in whether the socket
//! listens, and in what it is adopted as; everything else in
//! [`crate::bind`] is the same for all four.

use std::fmt;
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::net as std_net;

use nix::errno::Errno;
use nix::sys::socket::{self, Backlog, SockType};

use crate::error::BindError;

/// A kind of socket a bind makes.
pub(crate) trait Kind: Sized {
    /// The socket type to create.
    const TYPE: SockType;
    /// Whether it listens (a passed one must be listening already).
    const LISTENS: bool;
    /// What a passed socket of this kind is, for messages.
    const PASSED: &'static str;

    /// Fails, naming `shown`, where a socket of this kind cannot be made:
    /// a Tokio kind outside a Tokio runtime. Checked before anything is
    /// created. (In a runtime without IO, the registration panics as
    /// tokio's own does.)
    fn can_make(_shown: &dyn fmt::Display) -> Result<(), BindError> {
        Ok(())
    }

    /// Readies the new socket before it is bound, so that nothing it can
    /// receive misses what the kind needs: a datagram receiver asks for
    /// each sender's credentials here (`SO_PASSCRED`,
    /// `LOCAL_CREDS_PERSISTENT`), so that no datagram is queued without
    /// them. A failure fails the bind.
    fn before_bind(_fd: BorrowedFd<'_>) -> nix::Result<()> {
        Ok(())
    }

    /// Makes a socket of this kind of the descriptor: a passed one, already
    /// checked, or one of ours, finished (registered with Tokio, or, for a
    /// std kind, made blocking).
    #[track_caller]
    fn adopt(fd: OwnedFd) -> io::Result<Self>;

    /// Makes the bound socket usable, once its mode and owner are set, and
    /// registers it with Tokio. A stream socket listens first: epoll
    /// reports one that is neither connected nor listening as hung up, and
    /// Tokio would keep that forever, spinning on accept.
    #[track_caller]
    fn finish(fd: OwnedFd, backlog: Backlog) -> Result<Self, Finish> {
        if Self::LISTENS {
            socket::listen(&fd, backlog).map_err(Finish::Listen)?;
        }
        Self::adopt(fd).map_err(Finish::Register)
    }
}

/// Why [`Kind::finish`] failed.
#[derive(Debug)]
pub(crate) enum Finish {
    /// `listen(2)`.
    Listen(Errno),
    /// The registration with Tokio.
    Register(io::Error),
}

impl Kind for tokio::net::UnixListener {
    const TYPE: SockType = SockType::Stream;
    const LISTENS: bool = true;
    const PASSED: &'static str = "listening Unix stream socket";

    fn can_make(shown: &dyn fmt::Display) -> Result<(), BindError> {
        in_runtime(shown)
    }

    #[track_caller]
    fn adopt(fd: OwnedFd) -> io::Result<Self> {
        Self::from_std(std_net::UnixListener::from(fd))
    }
}

impl Kind for tokio::net::UnixDatagram {
    const TYPE: SockType = SockType::Datagram;
    const LISTENS: bool = false;
    const PASSED: &'static str = "Unix datagram socket";

    fn can_make(shown: &dyn fmt::Display) -> Result<(), BindError> {
        in_runtime(shown)
    }

    /// The receiver of [`SafeUnixDatagram`](crate::SafeUnixDatagram):
    /// credentials on every datagram, and descriptors refused at the
    /// sender where the kernel can.
    fn before_bind(fd: BorrowedFd<'_>) -> nix::Result<()> {
        crate::sys::pass_credentials(fd)?;
        crate::sys::refuse_descriptors(fd).map(drop)
    }

    #[track_caller]
    fn adopt(fd: OwnedFd) -> io::Result<Self> {
        Self::from_std(std_net::UnixDatagram::from(fd))
    }
}

/// Blocking, as std's own `bind` leaves it.
impl Kind for std_net::UnixListener {
    const TYPE: SockType = SockType::Stream;
    const LISTENS: bool = true;
    const PASSED: &'static str = "listening Unix stream socket";

    fn adopt(fd: OwnedFd) -> io::Result<Self> {
        let listener = Self::from(fd);
        listener.set_nonblocking(false)?;
        Ok(listener)
    }
}

/// Blocking, as std's own `bind` leaves it.
impl Kind for std_net::UnixDatagram {
    const TYPE: SockType = SockType::Datagram;
    const LISTENS: bool = false;
    const PASSED: &'static str = "Unix datagram socket";

    fn adopt(fd: OwnedFd) -> io::Result<Self> {
        let socket = Self::from(fd);
        socket.set_nonblocking(false)?;
        Ok(socket)
    }
}

/// Fails, naming `shown`, outside a Tokio runtime: the one place that
/// checks.
fn in_runtime(shown: &dyn fmt::Display) -> Result<(), BindError> {
    match tokio::runtime::Handle::try_current() {
        Ok(_) => Ok(()),
        Err(_) => Err(BindError::no_runtime(shown)),
    }
}
