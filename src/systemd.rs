//! systemd: socket activation and the readiness protocol.
//!
//! A socket the service manager passed is taken with
//! [`SafeUnixListener::from_activation`](crate::SafeUnixListener::from_activation)
//! (or [`Builder::activation_or_bind`](crate::Builder::activation_or_bind),
//! which binds when none was passed); it is checked, made close-on-exec,
//! and never unlinked: it belongs to the service manager.
//! [`receive_activation`] reads the variables first thing in `main`.
//!
//! Readiness: [`notify_ready`] (or
//! [`Builder::notify_ready`](crate::Builder::notify_ready), as soon as the
//! socket listens) and [`notify_stopping`] at shutdown, for `Type=notify`.

pub use crate::activation::{NotUsed, receive_activation};
pub use crate::listener::Activated;
pub use crate::notify::{notify_ready, notify_ready_main_pid, notify_status, notify_stopping};
