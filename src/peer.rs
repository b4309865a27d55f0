//! Who is at the other end of an accepted connection: [`PeerInfo`], and
//! the access control by peer credentials that decides which connections
//! reach the caller.
//!
//! An abstract socket has no file permissions, and a path socket's
//! permissions are easy to get wrong, so the kernel's record of who
//! connected is the dependable check.

use std::fmt;
use std::os::fd::AsFd;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::net::UnixStream;
use tokio::net::unix::{SocketAddr, UCred};

use crate::addr::UnixAddr;
use crate::sys;

/// The credentials and address of a connected peer.
///
/// The kernel records the peer's uid, gid and pid when it connects, so they
/// cannot be forged by the client. With the `axum` feature this is axum's
/// connect-info type; with the `hyper` feature it is in every request's
/// extensions.
///
/// ```no_run
/// use safe_unix_listener::{PeerInfo, SafeUnixListener};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let listener = SafeUnixListener::bind("/run/app/app.sock")?;
/// let (stream, addr) = listener.accept().await?;
/// let peer = PeerInfo::new(&stream, addr);
/// if peer.uid() != Some(0) {
///     drop(stream); // root only
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct PeerInfo {
    cred: Option<sys::Cred>,
    // Shared, so that a clone per request (hyper's extensions) is cheap.
    groups: Option<std::sync::Arc<[u32]>>,
    addr: SocketAddr,
}

impl PeerInfo {
    /// Reads the peer credentials of an accepted `stream`, whose peer
    /// address is `addr` (as returned by `accept`).
    ///
    /// ```no_run
    /// # use safe_unix_listener::{PeerInfo, SafeUnixListener};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// # let listener = SafeUnixListener::bind("/run/app/app.sock")?;
    /// let (stream, addr) = listener.accept().await?;
    /// println!("{:?}", PeerInfo::new(&stream, addr));
    /// # Ok(()) }
    /// ```
    pub fn new(stream: &UnixStream, addr: SocketAddr) -> Self {
        Self {
            cred: stream.peer_cred().ok().map(cred_of),
            groups: sys::peer_groups(stream.as_fd()).map(Into::into),
            addr,
        }
    }

    /// The sender of a datagram: the credentials it came with, and its
    /// address.
    pub(crate) fn of_datagram(cred: Option<sys::Cred>, addr: SocketAddr) -> Self {
        Self {
            cred,
            groups: None,
            addr,
        }
    }

    /// The peer's user id; `None` if the OS did not say.
    pub fn uid(&self) -> Option<u32> {
        self.cred.map(|c| c.uid)
    }

    /// The peer's group id; `None` if the OS did not say.
    pub fn gid(&self) -> Option<u32> {
        self.cred.map(|c| c.gid)
    }

    /// The peer's supplementary groups, as the kernel recorded them when it
    /// connected (`SO_PEERGROUPS`, Linux 4.13 and later); `None` where the
    /// platform does not report them.
    pub fn groups(&self) -> Option<&[u32]> {
        self.groups.as_deref()
    }

    /// The peer's process id, where the platform reports it.
    pub fn pid(&self) -> Option<i32> {
        self.cred.and_then(|c| c.pid)
    }

    /// The peer's socket address (usually unnamed: clients rarely bind).
    pub fn addr(&self) -> &SocketAddr {
        &self.addr
    }
}

/// The uids and gids allowed to connect; both empty means everyone.
#[derive(Debug, Clone, Default)]
pub(crate) struct PeerFilter {
    uids: Vec<u32>,
    gids: Vec<u32>,
    log: RejectionLog,
}

impl PeerFilter {
    pub(crate) fn allow_uids(&mut self, uids: impl IntoIterator<Item = u32>) {
        self.uids.extend(uids);
    }

    pub(crate) fn allow_gids(&mut self, gids: impl IntoIterator<Item = u32>) {
        self.gids.extend(gids);
    }

    /// Whether `stream`'s peer may talk to us: its uid is allowed, or its
    /// primary gid or (where the platform reports them) one of its
    /// supplementary groups is.
    /// Rejections are logged with `addr`, the listener's address.
    pub(crate) fn admits(&self, stream: &UnixStream, addr: &UnixAddr) -> bool {
        if self.admits_everyone() {
            return true;
        }
        match stream.peer_cred() {
            Ok(cred) => self.admits_cred(
                Some(cred_of(cred)),
                || sys::peer_groups(stream.as_fd()),
                addr,
            ),
            Err(e) => {
                self.log
                    .rejected(addr, format_args!("its credentials are unknown ({e})"));
                false
            }
        }
    }

    /// Logs a datagram dropped for what came with it, in the same
    /// rate-limited log as the rejected senders.
    pub(crate) fn dropped(&self, addr: &UnixAddr, why: fmt::Arguments<'_>) {
        self.log.log(addr, "dropped a datagram", why);
    }

    /// Whether no list was given.
    pub(crate) fn admits_everyone(&self) -> bool {
        self.uids.is_empty() && self.gids.is_empty()
    }

    /// The rule itself, for a connection's or a datagram's credentials
    /// (`None`: the kernel did not say, which is refused), with the
    /// supplementary groups looked up only when a gid list needs them.
    pub(crate) fn admits_cred(
        &self,
        cred: Option<sys::Cred>,
        groups: impl FnOnce() -> Option<Vec<u32>>,
        addr: &UnixAddr,
    ) -> bool {
        if self.admits_everyone() {
            return true;
        }
        let Some(cred) = cred else {
            self.log
                .rejected(addr, format_args!("its credentials are unknown"));
            return false;
        };
        if self.uids.contains(&cred.uid) || self.gids.contains(&cred.gid) {
            return true;
        }
        let groups = if self.gids.is_empty() { None } else { groups() };
        if groups
            .as_deref()
            .is_some_and(|g| g.iter().any(|g| self.gids.contains(g)))
        {
            return true;
        }
        self.log.rejected(
            addr,
            format_args!(
                "pid {}, uid {}, gid {}, groups {:?}: not allowed",
                cred.pid.unwrap_or(0),
                cred.uid,
                cred.gid,
                groups.unwrap_or_default()
            ),
        );
        false
    }
}

/// tokio's credentials, as this crate keeps them.
fn cred_of(c: UCred) -> sys::Cred {
    sys::Cred {
        uid: c.uid(),
        gid: c.gid(),
        pid: c.pid(),
    }
}

/// The log of rejected peers: each at `debug`, and at most one `warn` a
/// second per listener, which counts those it did not show, so that a
/// flood of connections cannot flood the log.
#[derive(Debug, Default)]
struct RejectionLog(Mutex<(Option<Instant>, u64)>);

impl Clone for RejectionLog {
    /// Each listener counts its own rejections.
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl RejectionLog {
    fn rejected(&self, addr: &UnixAddr, why: fmt::Arguments<'_>) {
        self.log(addr, "rejected a connection", why);
    }

    /// Logs `what` happened (and why) at `debug`, and at most once a
    /// second at `warn`.
    fn log(&self, addr: &UnixAddr, what: &str, why: fmt::Arguments<'_>) {
        tracing::debug!(%addr, "{what}: {why}");
        let now = Instant::now();
        let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let (last, quiet) = &mut *state;
        if last.is_some_and(|t| now.duration_since(t) < Duration::from_secs(1)) {
            *quiet += 1;
            return;
        }
        *last = Some(now);
        let suppressed = std::mem::take(quiet);
        drop(state);
        tracing::warn!(
            %addr,
            suppressed,
            "{what}: {why} (and {suppressed} more since the last warning, logged at debug)"
        );
    }
}
