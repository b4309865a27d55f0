//! Bind a Unix-domain socket safely, with Tokio.
//!
//! A server that dies leaves its socket file behind, and the usual fix,
//! "remove the path, then bind", deletes live servers' sockets, regular
//! files, and successors' sockets, and turns a permission problem into a
//! misleading "Address already in use". [`SafeUnixListener`] instead:
//!
//! - removes only a socket that refuses connections (provably stale), under
//!   a lock, and never anything else at the path;
//! - explains each failure in one sentence: the path, the operation, who
//!   owns what, EACCES or EPERM, and a fix ([`BindError`]);
//! - removes its socket file on drop only if the path still names the
//!   socket it bound, and never from a forked child;
//! - binds Linux abstract names (`@name`), which have no file;
//! - yields plain [`tokio::net::UnixStream`]s, from
//!   [`accept`](SafeUnixListener::accept) or as a
//!   [`Stream`](futures_core::Stream).
//!
//! # Example
//!
//! ```no_run
//! use safe_unix_listener::{SafeUnixListener, shutdown_signal};
//! use tokio::io::AsyncWriteExt;
//!
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     // A stale socket from a crashed run is replaced; a live server, or a
//!     // file that is not a socket, is an error that says what to do.
//!     let listener = SafeUnixListener::bind("/tmp/app.sock")?;
//!     let mut stop = shutdown_signal()?;
//!     loop {
//!         tokio::select! {
//!             _ = &mut stop => break,
//!             conn = listener.accept() => {
//!                 let (mut stream, _) = conn?;
//!                 stream.write_all(b"hello\n").await?;
//!             }
//!         }
//!     }
//!     Ok(()) // the listener drops and removes /tmp/app.sock
//! }
//! ```
//!
//! What happens at each step, runnable:
//!
//! ```
//! use safe_unix_listener::{BindErrorKind, SafeUnixListener};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("app.sock");
//! drop(std::os::unix::net::UnixListener::bind(&path)?); // a crashed server's leftover
//!
//! let listener = SafeUnixListener::bind(&path)?; // stale: replaced
//! let err = SafeUnixListener::bind(&path).unwrap_err(); // live: refused, untouched
//! assert_eq!(err.kind(), BindErrorKind::InUse);
//!
//! std::fs::write(dir.path().join("notes.txt"), "data")?;
//! let err = SafeUnixListener::bind(dir.path().join("notes.txt")).unwrap_err();
//! assert_eq!(err.kind(), BindErrorKind::NotASocket); // and the file is kept
//!
//! drop(listener);
//! assert!(!path.exists()); // removed on drop, because it was still ours
//! # Ok(()) }
//! ```
//!
//! # Features
//!
//! - `axum`: `axum::serve(listener, app)` works as is, and [`PeerInfo`] is
//!   axum connect-info.
//! - `hyper`: `HyperServer` serves a hyper service over HTTP/1 and HTTP/2
//!   with graceful shutdown, and `UnixConnector` lets hyper-util's client
//!   reach a Unix socket.
//! - `tokio-util`: the listener is a `tokio_util::net::Listener`.
//! - `serde`: [`UnixAddr`] reads and writes as the string it parses from,
//!   for configuration files.
//! - `cli`: the `sul` command: `sul inspect`, `sul clean` and `sul wait`.
//!
//! # Datagram receivers
//!
//! [`SafeUnixDatagram`] binds a metrics or log receiver (statsd, syslog)
//! by the same sequence, with the same guarantees, and
//! [`SafeUnixDatagram::recv_with_peer`] gives each datagram's sender.
//!
//! # Diagnosis
//!
//! [`inspect`](diagnosis::inspect) tells what is at an address (free, a stale socket and
//! whether we may remove it, a live server of any socket type and its pid,
//! something else),
//! what a bind would do, and changes nothing. [`clean_stale`](diagnosis::clean_stale) removes a
//! provably stale socket, for servers that do not use this crate.
//!
//! tonic needs no feature: the listener is a `Stream` of
//! [`tokio::net::UnixStream`], which `serve_with_incoming` accepts.
//!
//! # Tests
//!
//! [`SafeUnixListener::bind_temp`] binds a throwaway socket whose path
//! always fits, and removes it with its directory on drop;
//! [`SafeUnixListener::bind_abstract_auto`] lets Linux choose a free
//! abstract name. [`UnixAddr::connect`] is the client for either.
//!
//! # The bind lock
//!
//! Probing, removing and binding happen under an exclusive `flock`, so
//! starters racing on one path end with exactly one winner. In a directory
//! neither its group nor others may write, the lock is the directory's
//! own, and nothing is created. Elsewhere it is `<path>.lock`: a lock file
//! the crate made is removed once the socket is in place; one that was
//! already there and is not the crate's is used but never removed, and
//! anything at that path that is not a regular file is an error
//! ([`BindErrorKind::LockFile`]). Where the directory is not writable no
//! lock is taken, since then nothing in it can be changed by us either.
//! The lock is waited for by sleeping the thread, at most 5 s, and only
//! while another process holds it: a bind in progress holds it for well
//! under a millisecond.
//!
//! # Against a hostile user of the same machine
//!
//! The directory is resolved once, and every later step goes through its
//! descriptor, the probe of a socket at the path included. Where another
//! user may write the directory, the mode and group are never applied by
//! name after the bind: on Linux, when nothing on the way can be
//! redirected, the bind itself gives the new file its mode and group (a
//! short-lived thread with its own umask and filesystem gid), and the file
//! is checked to be ours before the socket listens; otherwise (a takeover,
//! another owner, a path that can be redirected, other platforms) the
//! socket is made in a private 0700 directory beside the path, given its
//! mode and owner there, set listening, and only then moved to the path
//! without replacing anything. Either way that user cannot redirect the
//! mode or owner to another file, and never finds a half-made socket at
//! the path. The access the kernel then enforces is the access asked for:
//! an access ACL the directory's default ACL gave the new file is removed,
//! and a group a setgid directory gave it, where none was asked for, is
//! replaced by ours, before the socket listens (see [`Builder::mode`]).
//! Nothing the crate did not create is removed. [`Builder::check_parent`] applies OpenSSH's StrictModes rule
//! to every step of the resolution, links included, and [`clean_stale`](diagnosis::clean_stale)
//! always does. What is not guaranteed (denial of service in a directory
//! others can write, for one) is in the README.

#![deny(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]
// `unsafe` is allowed in four places only, each block with a SAFETY note:
// adopting the descriptors passed by the service manager (activation.rs),
// reading the peer's groups with getsockopt, calling renameat2 by its
// system call number, which not every Linux libc wraps, and reading and
// removing a file's ACL with lgetxattr and lremovexattr, which nix does not
// offer (sys/linux.rs), and FreeBSD's
// bindat and connectat, which the libc crate does not declare, and its
// LOCAL_CREDS_PERSISTENT option, which nix does not offer (sys/freebsd.rs).
#![deny(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc(test(attr(deny(warnings))))]

// The README's Rust examples are compiled and run as doctests (they use
// every feature).
#[cfg(all(doctest, feature = "axum", feature = "hyper", feature = "serde"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[cfg(not(unix))]
compile_error!("safe-unix-listener supports Unix platforms only");

mod access;
mod activation;
mod addr;
#[cfg(feature = "serde")]
mod addr_serde;
#[cfg(feature = "axum")]
mod axum08;
mod backoff;
mod bind;
mod bound;
mod builder;
mod classify;
mod cleanup;
#[cfg(feature = "hyper")]
mod connector;
mod datagram;
pub mod diagnosis;
mod entry;
mod error;
mod escape;
mod explain;
mod guard;
#[cfg(feature = "hyper")]
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
pub mod http;
#[cfg(feature = "hyper")]
mod hyper1;
mod inspect;
mod kind;
mod listener;
mod lock;
mod notify;
mod parent;
mod peer;
mod place;
mod private;
mod probe;
mod signal;
mod stat;
mod sys;
pub mod systemd;
mod temp;
#[cfg(feature = "tokio-util")]
mod tokio_util07;

pub use addr::{AddrView, UnixAddr};
pub use bind::OnExisting;
pub use builder::Builder;
pub use cleanup::UnlinkOnDrop;
pub use datagram::SafeUnixDatagram;
pub use error::{BindError, BindErrorKind, Operation};
pub use guard::Unlinked;
pub use listener::SafeUnixListener;
pub use peer::PeerInfo;
pub use signal::{ShutdownSignal, shutdown_signal};
