//! The kinds of socket the one bind sequence makes: a stream listener
//! ([`tokio::net::UnixListener`]) or a datagram receiver
//! ([`tokio::net::UnixDatagram`]). They differ in the socket type, in
//! whether the socket listens, and in the Tokio type it is registered as;
//! everything else in [`crate::bind`] is the same for both.

use std::io;
use std::os::fd::OwnedFd;

use nix::errno::Errno;
use nix::sys::socket::{self, Backlog, SockType};

/// A kind of socket a bind makes.
pub(crate) trait Kind: Sized {
    /// The socket type to create.
    const TYPE: SockType;
    /// Whether it listens (a passed one must be listening already).
    const LISTENS: bool;
    /// What a passed socket of this kind is, for messages.
    const PASSED: &'static str;

    /// Registers a socket with Tokio: a passed one, already checked, or
    /// one of ours, finished.
    #[track_caller]
    fn adopt(fd: OwnedFd) -> io::Result<Self>;

    /// Makes the bound socket usable, once its mode and owner are set, and
    /// registers it with Tokio. A stream socket listens first: epoll
    /// reports one that is neither connected nor listening as hung up, and
    /// Tokio would keep that forever, spinning on accept.
    #[track_caller]
    fn finish(fd: OwnedFd) -> Result<Self, Finish> {
        if Self::LISTENS {
            socket::listen(&fd, Backlog::MAXCONN).map_err(Finish::Listen)?;
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

    #[track_caller]
    fn adopt(fd: OwnedFd) -> io::Result<Self> {
        Self::from_std(std::os::unix::net::UnixListener::from(fd))
    }
}

impl Kind for tokio::net::UnixDatagram {
    const TYPE: SockType = SockType::Datagram;
    const LISTENS: bool = false;
    const PASSED: &'static str = "Unix datagram socket";

    #[track_caller]
    fn adopt(fd: OwnedFd) -> io::Result<Self> {
        Self::from_std(std::os::unix::net::UnixDatagram::from(fd))
    }
}
