//! [`SafeUnixDatagram`]: a datagram receiver (statsd, syslog, metrics
//! sockets) bound by the same sequence as the listener, and the sender's
//! credentials per datagram.
//!
//! # What any sender may send
//!
//! A receiver that any user may reach (`mode(0o622)`) gets whatever they
//! send, and [`SafeUnixDatagram::recv_with_peer`] survives all of it: no
//! datagram ends the receive loop.
//!
//! - **Credentials, always.** The socket asks for each sender's
//!   credentials (`SO_PASSCRED`; `LOCAL_CREDS_PERSISTENT` on FreeBSD)
//!   before it is bound, so every datagram it can receive has them. If the
//!   kernel refuses, the bind fails. A passed socket (systemd) is asked
//!   when it is adopted; datagrams queued before that carry none, and are
//!   reported as having none (never as the overflow uid 65534 the kernel
//!   shows): set `PassCredentials=yes` in the socket unit to avoid that.
//!   A datagram without credentials is never admitted by
//!   [`Builder::allow_uids`](crate::Builder::allow_uids) or
//!   [`Builder::allow_gids`](crate::Builder::allow_gids).
//! - **Descriptors are refused at the sender** where the kernel can
//!   (`SO_PASSRIGHTS` off, Linux 6.16 and later): a `sendmsg` with
//!   `SCM_RIGHTS` to the receiver fails with EPERM. This matters beyond
//!   the descriptor table: the receiving thread makes the last close of a
//!   passed descriptor as it reads the datagram, and the last close of a
//!   TCP socket with `SO_LINGER` and unsent data blocks for as long as its
//!   sender likes. On older kernels, and on a socket passed by systemd
//!   (where the option is set when it is adopted), a sender the mode lets
//!   in can stall the receive loop that way: keep the mode to the senders
//!   you trust.
//! - **Descriptors are dropped with their datagram.** The control buffer
//!   has room for the credentials alone, so the kernel discards the
//!   descriptors a sender attaches (`SCM_RIGHTS`) without putting them in
//!   our descriptor table, and flags the datagram `MSG_CTRUNC`. Any that
//!   arrive all the same are closed at once. Either way the datagram is
//!   dropped: its payload may speak of descriptors we no longer have
//!   (journald drops them on its syslog socket too).
//! - **A datagram longer than the buffer is dropped**, not cut short
//!   (`MSG_TRUNC`): a truncated line could be counted as another. Give
//!   `recv_with_peer` a buffer of the largest datagram you accept (64 KiB
//!   holds any a default socket sends).
//!
//! Each dropped datagram is logged at `debug`, and at `warn` at most once
//! a second per receiver, with a count of those not shown, as rejected
//! senders are.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::path::Path;

use tokio::io::Interest;
use tokio::net::UnixDatagram;

use crate::addr::UnixAddr;
use crate::bound::{Bound, Settings};
use crate::error::BindError;
use crate::guard::Unlinked;
use crate::peer::PeerInfo;
use crate::sys;

/// A Unix-domain datagram socket that was bound safely and cleans up after
/// itself: what a metrics or log receiver binds.
///
/// The bind is the listener's, step for step: under the bind lock, a socket
/// left by a dead receiver is removed (one that refuses a datagram
/// `connect`), and nothing else is: a live socket of any type, a regular
/// file or a directory at the path fails the bind with a [`BindError`]
/// that says why. Mode and owner are set before any sender can reach it.
/// Dropping it removes the file, only if the path still names the socket
/// it bound, and never in a forked child.
///
/// Receiving is Tokio's own, through [`AsRef<UnixDatagram>`]
/// (`recv`, `recv_from`, `send_to`, readiness): nothing is wrapped on the
/// data path. [`recv_with_peer`](Self::recv_with_peer) adds who sent each
/// datagram, and applies [`Builder::allow_uids`](crate::Builder::allow_uids) and
/// [`Builder::allow_gids`](crate::Builder::allow_gids).
///
/// ```
/// use safe_unix_listener::SafeUnixDatagram;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("metrics.sock");
/// let rx = SafeUnixDatagram::bind(&path)?;
///
/// let tx = std::os::unix::net::UnixDatagram::unbound()?;
/// tx.send_to(b"requests:1|c", &path)?;
/// let mut buf = [0; 64];
/// let n = rx.as_ref().recv(&mut buf).await?;
/// assert_eq!(&buf[..n], b"requests:1|c");
/// drop(rx);
/// assert!(!path.exists());
/// # Ok(()) }
/// ```
///
/// Metrics and log receivers (statsd, syslog inputs, `/dev/log`-style
/// sockets) have the same stale-socket bug as servers, usually "fixed" by
/// the same blind `remove` before `bind`. The sender's uid, gid and pid come
/// per datagram (`SCM_CREDENTIALS` on Linux and Android, `SCM_CREDS2` on
/// FreeBSD; `Unsupported` on macOS and NetBSD), and datagrams from senders
/// that `allow_uids` / `allow_gids` do not admit are dropped:
///
/// ```rust,no_run
/// use safe_unix_listener::Builder;
///
/// #[tokio::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let rx = Builder::new("/run/app/metrics.sock")
///         .mode(0o622) // any local user may send
///         .allow_uids([0, 1000])
///         .bind_datagram()?;
///     let mut buf = [0; 65536];
///     loop {
///         let (n, peer) = rx.recv_with_peer(&mut buf).await?;
///         println!("{:?} from uid {:?}", String::from_utf8_lossy(&buf[..n]), peer.uid());
///     }
/// }
/// ```
///
/// `logger -u /run/app/metrics.sock` and `socat - UNIX-SENDTO:/run/app/metrics.sock` reach it (`tests/it/datagram.rs`). The probe tells socket types apart: a live datagram or seqpacket socket is reported as live and named by its type, by both kinds of bind and by `sul inspect` (`"server": {"type": "datagram"}` in `--json`), and a stale socket of any type is replaced.
pub struct SafeUnixDatagram {
    bound: Bound<UnixDatagram>,
    /// Whether the socket asked for credentials before any datagram could
    /// be queued (ours: before the bind), so that every one has them.
    creds_from_start: bool,
}

impl SafeUnixDatagram {
    /// Binds a receiver at `path`, safely. Call it inside a Tokio runtime.
    ///
    /// # Errors
    ///
    /// As [`SafeUnixListener::bind`](crate::SafeUnixListener::bind): the
    /// [`BindError`] names the path, what is in the way, and what to do.
    ///
    /// # Panics
    ///
    /// In a Tokio runtime without IO enabled, as tokio's own `bind`; the
    /// panic names the caller's line.
    ///
    /// # Blocking
    ///
    /// Waits at most 5 s for a bind lock another process holds; see
    /// [Blocking](crate#blocking).
    #[track_caller]
    pub fn bind(path: impl AsRef<Path>) -> Result<Self, BindError> {
        Bound::bind(UnixAddr::from_path(path)?, Settings::default()).map(Self::from_bound)
    }

    /// Binds a name in the Linux abstract namespace (no file, nothing to
    /// remove). Elsewhere it fails with
    /// [`Unsupported`](crate::BindErrorKind::Unsupported).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), safe_unix_listener::BindError> {
    /// # if cfg!(any(target_os = "linux", target_os = "android")) {
    /// let name = format!("sul-doc-metrics-{}", std::process::id());
    /// let rx = safe_unix_listener::SafeUnixDatagram::bind_abstract(&name)?;
    /// assert_eq!(rx.addr().to_string(), format!("@{name}"));
    /// # }
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn bind_abstract(name: impl AsRef<[u8]>) -> Result<Self, BindError> {
        Bound::bind(UnixAddr::from_abstract_name(name)?, Settings::default()).map(Self::from_bound)
    }

    /// A throwaway receiver for tests: `s` in a new directory only we may
    /// enter, as [`SafeUnixListener::bind_temp`](crate::SafeUnixListener::bind_temp)
    /// makes; dropping it removes both.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), safe_unix_listener::BindError> {
    /// let rx = safe_unix_listener::SafeUnixDatagram::bind_temp()?;
    /// let path = rx.addr().as_path().unwrap().to_owned();
    /// drop(rx);
    /// assert!(!path.parent().unwrap().exists());
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn bind_temp() -> Result<Self, BindError> {
        Bound::temp().map(Self::from_bound)
    }

    /// The datagram socket passed by systemd (`ListenDatagram=`, or
    /// `systemd-socket-activate --datagram`), if exactly one was passed;
    /// `Ok(None)` if none was. Checked like the listener's
    /// ([`SafeUnixListener::from_activation`](crate::SafeUnixListener::from_activation)):
    /// a stream listener passed instead is an
    /// [`InvalidActivation`](crate::BindErrorKind::InvalidActivation) error
    /// that says so. A passed socket belongs to the service manager: it is
    /// never unlinked.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), safe_unix_listener::BindError> {
    /// let rx = match safe_unix_listener::SafeUnixDatagram::from_activation()? {
    ///     Some(rx) => rx,
    ///     None => safe_unix_listener::SafeUnixDatagram::bind("/run/app/log.sock")?,
    /// };
    /// # drop(rx); Ok(()) }
    /// ```
    #[track_caller]
    pub fn from_activation() -> Result<Option<Self>, BindError> {
        Ok(Bound::activated(None)?.map(Self::from_bound))
    }

    /// Like [`from_activation`](Self::from_activation), for the socket
    /// passed under `name` (`FileDescriptorName=`, `--fdname`).
    #[track_caller]
    pub fn from_activation_named(name: &str) -> Result<Option<Self>, BindError> {
        Ok(Bound::activated(Some(name))?.map(Self::from_bound))
    }

    /// A bound receiver, or an adopted one: a socket of ours asked for
    /// credentials before its bind ([`Kind::before_bind`](crate::kind::Kind)); a passed
    /// one is asked now, and datagrams queued before are reported as
    /// having none.
    pub(crate) fn from_bound(bound: Bound<UnixDatagram>) -> Self {
        if let Err(errno) = sys::refuse_descriptors(bound.socket.as_fd()) {
            tracing::warn!(addr = %bound.addr, %errno, "cannot refuse passed descriptors (SO_PASSRIGHTS)");
        }
        let creds_from_start = sys::passes_credentials(bound.socket.as_fd());
        if !creds_from_start {
            if let Err(errno) = sys::pass_credentials(bound.socket.as_fd()) {
                tracing::warn!(
                    addr = %bound.addr, %errno,
                    "cannot ask for the senders' credentials (SO_PASSCRED): datagrams will name no sender"
                );
            }
        }
        Self {
            bound,
            creds_from_start,
        }
    }

    /// The address this receiver was asked to bind.
    pub fn addr(&self) -> &UnixAddr {
        &self.bound.addr
    }

    /// The socket's name as the kernel has it, as tokio's
    /// `UnixDatagram::local_addr`: the path that was bound, but in the
    /// cases [`SafeUnixListener::local_addr`](crate::SafeUnixListener::local_addr)
    /// lists.
    ///
    /// # Errors
    ///
    /// What `getsockname(2)` returns.
    ///
    /// ```
    /// # use safe_unix_listener::SafeUnixDatagram;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("metrics.sock");
    /// let rx = SafeUnixDatagram::bind(&path)?;
    /// assert_eq!(rx.local_addr()?.as_pathname(), Some(path.as_path()));
    /// # Ok(()) }
    /// ```
    pub fn local_addr(&self) -> io::Result<tokio::net::unix::SocketAddr> {
        self.bound.socket.local_addr()
    }

    /// Receives one datagram into `buf`, with who sent it: the sender's
    /// uid, gid and pid as the kernel recorded them (`SCM_CREDENTIALS` on
    /// Linux, `SCM_CREDS2` on FreeBSD; they cannot be forged), and its
    /// address.
    ///
    /// Some datagrams are dropped here, never returned, and logged at a
    /// rate-limited `warn`, with a count of those not shown:
    /// - from a sender that [`Builder::allow_uids`](crate::Builder::allow_uids)
    ///   and [`Builder::allow_gids`](crate::Builder::allow_gids) do not
    ///   admit, or with no credentials when a list is set;
    /// - with descriptors attached (`SCM_RIGHTS`, and `MSG_CTRUNC` when
    ///   more came than there was room for): any that arrived are closed
    ///   at once;
    /// - longer than `buf` (`MSG_TRUNC`).
    ///
    /// None of these is an error: a loop that ends on an error keeps
    /// serving whatever a sender sends.
    ///
    /// # Errors
    ///
    /// The OS error of `recvmsg` on the socket itself, not caused by any
    /// one datagram; `Unsupported` on macOS and NetBSD, where datagrams
    /// carry no credentials. (On FreeBSD they come as `SCM_CREDS2`, with
    /// `LOCAL_CREDS_PERSISTENT`: type-checked, not run in CI.)
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a datagram is either returned, dropped as above, or
    /// left in the queue.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # if cfg!(any(target_os = "linux", target_os = "android")) {
    /// let rx = safe_unix_listener::SafeUnixDatagram::bind_temp()?;
    /// let tx = std::os::unix::net::UnixDatagram::unbound()?;
    /// tx.send_to(b"hello", rx.addr().as_path().unwrap())?;
    /// let mut buf = [0; 16];
    /// let (n, peer) = rx.recv_with_peer(&mut buf).await?;
    /// assert_eq!(&buf[..n], b"hello");
    /// assert_eq!(peer.pid(), Some(std::process::id() as i32));
    /// # }
    /// # Ok(()) }
    /// ```
    pub async fn recv_with_peer(&self, buf: &mut [u8]) -> io::Result<(usize, PeerInfo)> {
        let addr = &self.bound.addr;
        let access = &self.bound.access;
        loop {
            let got = self
                .bound
                .socket
                .async_io(Interest::READABLE, || {
                    sys::recv_with_cred(self.bound.socket.as_fd(), buf)
                })
                .await?;
            // Queued before the socket asked for credentials: none.
            let cred = got
                .cred
                .filter(|c| self.creds_from_start || !sys::unrecorded(c));
            if !access.admits_cred(cred, || None, addr) {
                continue;
            }
            let sender = cred.map_or(0, |c| c.uid);
            if got.descriptors > 0 || got.control_truncated {
                access.dropped(
                    addr,
                    format_args!(
                        "uid {sender} attached descriptors to it ({} arrived, closed{})",
                        got.descriptors,
                        if got.control_truncated {
                            "; the kernel discarded the rest"
                        } else {
                            ""
                        }
                    ),
                );
                continue;
            }
            if got.truncated {
                access.dropped(
                    addr,
                    format_args!(
                        "uid {sender} sent {} bytes, more than the buffer of {} holds",
                        got.sent,
                        buf.len()
                    ),
                );
                continue;
            }
            return Ok((got.len, PeerInfo::of_datagram(cred, got.from.into())));
        }
    }

    /// Turns the removal of the socket file on drop off or back on, as
    /// [`SafeUnixListener::set_unlink_on_drop`](crate::SafeUnixListener::set_unlink_on_drop).
    pub fn set_unlink_on_drop(&mut self, unlink: bool) {
        self.bound.set_armed(unlink);
    }

    /// Whether dropping this receiver will remove its socket file (if it
    /// is still the same inode then).
    pub fn unlink_on_drop(&self) -> bool {
        self.bound.is_armed()
    }

    /// Removes the socket file now, if it is still the one this receiver
    /// bound, and turns the unlink on drop off, as
    /// [`SafeUnixListener::unlink_now`](crate::SafeUnixListener::unlink_now)
    /// does. Returns what it did.
    pub fn unlink_now(&mut self) -> Unlinked {
        self.bound.unlink_now()
    }

    /// The Tokio socket inside. The socket file is then left in place:
    /// nothing removes it on drop.
    pub fn into_inner(mut self) -> UnixDatagram {
        self.set_unlink_on_drop(false);
        self.bound.into_parts().0
    }
}

impl AsRef<UnixDatagram> for SafeUnixDatagram {
    fn as_ref(&self) -> &UnixDatagram {
        &self.bound.socket
    }
}

impl AsFd for SafeUnixDatagram {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.bound.socket.as_fd()
    }
}

impl AsRawFd for SafeUnixDatagram {
    fn as_raw_fd(&self) -> RawFd {
        self.bound.socket.as_raw_fd()
    }
}

impl fmt::Debug for SafeUnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SafeUnixDatagram")
            .field("addr", self.addr())
            .field("fd", &self.bound.socket.as_raw_fd())
            .field("unlink_on_drop", &self.unlink_on_drop())
            .finish()
    }
}
