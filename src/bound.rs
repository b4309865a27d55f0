//! [`Bound`]: what a listener and a datagram receiver are made of, written
//! once for both kinds of socket ([`crate::kind`]): the Tokio socket, the
//! address it was asked to bind, what removes its file on drop, and who may
//! use it.
//!
//! Every way to make one starts here, so the rules of making one exist
//! once and apply to every kind: what the kind needs (a Tokio runtime) is
//! checked before anything is created ([`Kind::can_make`]), a bound
//! file's removal is armed as the builder said, the service manager is
//! told when the socket is ready (`notify_ready`), and an adopted socket
//! is never unlinked. [`SafeUnixListener`](crate::SafeUnixListener) and
//! [`SafeUnixDatagram`](crate::SafeUnixDatagram) add only what their kind
//! does with it: accepting connections, receiving datagrams; the std
//! kinds are handed out as they are, with their [`UnlinkOnDrop`].

use std::fmt;

use tokio::net::UnixListener;

use crate::activation::{self, NotUsed};
use crate::addr::{AddrView, UnixAddr};
use crate::bind::{self, Options};
use crate::cleanup::{Cleanup, UnlinkOnDrop};
use crate::error::BindError;
use crate::guard::Unlinked;
use crate::kind::Kind;
use crate::peer::PeerFilter;
use crate::temp;

/// What a [`Builder`](crate::Builder) says about a bind, for either kind.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// How the bind to a path goes: mode, owner, parents, policy.
    pub(crate) options: Options,
    /// Whether the file is removed on drop: the builder's
    /// `unlink_on_drop`.
    pub(crate) armed: bool,
    /// Whether `READY=1` is sent once the socket is ready.
    pub(crate) notify_ready: bool,
    /// Who may connect or send.
    pub(crate) access: PeerFilter,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            options: Options::default(),
            armed: true,
            notify_ready: false,
            access: PeerFilter::default(),
        }
    }
}

impl Settings {
    /// `READY=1`, if asked for: the socket listens (or receives) now.
    fn ready(&self) {
        if self.notify_ready {
            if let Err(e) = crate::notify::notify_ready() {
                tracing::warn!(error = %e, "ready, but the service manager was not told");
            }
        }
    }
}

/// The passed listeners, each with its name, and the other descriptors.
pub(crate) type AllPassed = (Vec<(Option<String>, Bound<UnixListener>)>, Vec<NotUsed>);

/// A socket of kind `K`, bound (or adopted), with its cleanup and its
/// access filter.
pub(crate) struct Bound<K> {
    // Declared before `socket`, so it drops first: the identity check and
    // unlink happen while the socket is still open.
    cleanup: Cleanup,
    pub(crate) socket: K,
    pub(crate) addr: UnixAddr,
    pub(crate) access: PeerFilter,
}

impl<K: Kind> Bound<K> {
    fn new(socket: K, addr: UnixAddr, cleanup: Cleanup, access: PeerFilter) -> Self {
        tracing::debug!(%addr, "bound");
        Self {
            cleanup,
            socket,
            addr,
            access,
        }
    }

    /// Binds `addr` as `settings` say: the one terminal step of every
    /// `Builder::bind*` and of the plain `bind`s of both types.
    #[track_caller]
    pub(crate) fn bind(addr: UnixAddr, settings: Settings) -> Result<Self, BindError> {
        K::can_make(&addr)?;
        let (socket, cleanup) = match addr.view() {
            AddrView::Path(path) => {
                let (socket, mut guard) = bind::bind_path::<K>(path, &settings.options)?;
                guard.ours().set_armed(settings.armed);
                (socket, Cleanup::Socket(guard))
            }
            AddrView::Abstract(name) => (
                bind::bind_abstract::<K>(name, &addr, settings.options.backlog())?,
                Cleanup::Nothing,
            ),
        };
        settings.ready();
        Ok(Self::new(socket, addr, cleanup, settings.access))
    }

    /// The socket the service manager passed, if there is one, with these
    /// settings' access filter; else [`bind`](Self::bind).
    #[track_caller]
    pub(crate) fn activation_or_bind(
        addr: UnixAddr,
        settings: Settings,
    ) -> Result<Self, BindError> {
        match Self::activated(None)? {
            Some(mut passed) => {
                settings.ready();
                passed.access = settings.access;
                Ok(passed)
            }
            None => Self::bind(addr, settings),
        }
    }

    /// The passed socket of this kind named `name`, or the only one.
    #[track_caller]
    pub(crate) fn activated(name: Option<&str>) -> Result<Option<Self>, BindError> {
        K::can_make(&"the passed socket")?;
        Ok(activation::take::<K>(name)?.map(|(socket, addr, _)| Self::adopted(socket, addr)))
    }

    /// A throwaway socket in a new private directory, removed with it.
    #[track_caller]
    pub(crate) fn temp() -> Result<Self, BindError> {
        K::can_make(&"a temporary socket")?;
        let (socket, addr, temp) = temp::bind_temp::<K>()?;
        Ok(Self::new(
            socket,
            addr,
            Cleanup::TempDir(temp),
            PeerFilter::default(),
        ))
    }

    /// A socket made elsewhere: never unlinked, its file is not ours.
    pub(crate) fn adopted(socket: K, addr: UnixAddr) -> Self {
        Self::new(socket, addr, Cleanup::Nothing, PeerFilter::default())
    }

    /// Turns the removal of the file on drop off or back on.
    pub(crate) fn set_armed(&mut self, armed: bool) {
        self.cleanup.set_armed(armed);
    }

    /// Whether a drop will remove the file (if it is still ours then).
    pub(crate) fn is_armed(&self) -> bool {
        self.cleanup.is_armed()
    }

    /// Removes the file now, if it is still ours, and disarms.
    pub(crate) fn unlink_now(&mut self) -> Unlinked {
        self.cleanup.unlink_now()
    }

    /// The Tokio socket and what removes its file.
    pub(crate) fn into_parts(self) -> (K, UnlinkOnDrop) {
        (self.socket, UnlinkOnDrop::new(self.cleanup))
    }
}

impl Bound<UnixListener> {
    /// Linux autobind: a free abstract name chosen by the kernel.
    #[track_caller]
    pub(crate) fn abstract_auto() -> Result<Self, BindError> {
        UnixListener::can_make(&"an abstract name chosen by the kernel")?;
        let (listener, addr) = bind::bind_abstract_auto()?;
        Ok(Self::new(
            listener,
            addr,
            Cleanup::Nothing,
            PeerFilter::default(),
        ))
    }

    /// Every passed descriptor not taken yet: the Unix stream listeners,
    /// adopted with the names they were passed under, and the others.
    #[track_caller]
    pub(crate) fn all_activated() -> Result<AllPassed, BindError> {
        UnixListener::can_make(&"the passed sockets")?;
        let (adopted, others) = activation::take_all()?;
        let listeners = adopted
            .into_iter()
            .map(|(listener, addr, name)| (name, Self::adopted(listener, addr)))
            .collect();
        Ok((listeners, others))
    }
}

impl<K> fmt::Debug for Bound<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bound")
            .field("addr", &self.addr)
            .field("unlink_on_drop", &self.cleanup.is_armed())
            .finish_non_exhaustive()
    }
}
