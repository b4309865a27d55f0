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

//!
//! # Under systemd
//!
//! Two ways, and the examples support both.
//!
//! **Socket activation.** systemd creates the socket with the mode and owner you give it, and passes it to the service. `SafeUnixListener::from_activation()` (or `from_activation_named("api")` for `FileDescriptorName=api`, or `from_activation_all()` for every passed socket with its name) adopts it. The variables are read once and checked before anything is adopted: `LISTEN_PID` must name this process or be missing (systemfd `--no-pid`), and `LISTEN_FDS` must fit the descriptor table. Every passed descriptor is made close-on-exec at once, taken or not, so no child inherits one. A descriptor is adopted only if it is a listening `AF_UNIX` stream socket, and only once; it is made non-blocking. The `LISTEN_*` variables are left in the environment, because removing them while other threads may read it is undefined behaviour; a child ignores them anyway (their `LISTEN_PID` names its parent, or, without one, descriptor 3 is closed in it). Call [`receive_activation`] first thing in `main`, before the program opens descriptors of its own. A passed socket belongs to systemd and **is never unlinked**. `Builder::activation_or_bind()` uses the passed socket when there is one and binds the address otherwise:
//!
//! ```ini
//! # /etc/systemd/system/app.socket
//! [Socket]
//! ListenStream=/run/app/app.sock
//! SocketMode=0660
//! SocketGroup=www-data
//!
//! [Install]
//! WantedBy=sockets.target
//! ```
//!
//! ```ini
//! # /etc/systemd/system/app.service
//! [Service]
//! ExecStart=/usr/local/bin/app
//! User=app
//! ```
//!
//! Try it without systemd: `systemd-socket-activate -l /tmp/app.sock target/debug/examples/axum_hello`.
//!
//! **Readiness (`Type=notify`).** `Builder::notify_ready(true)` sends `READY=1` to `$NOTIFY_SOCKET` (a path or an `@abstract` name) as soon as the socket listens, so units ordered after the service never race its socket. `notify_ready()`, `notify_ready_main_pid()`, `notify_stopping()` and `notify_status("…")` send the messages by hand; each does nothing when the variable is unset. `HyperServer` and the examples send `STOPPING=1` when shutdown starts, and the examples send `READY=1`:
//!
//! ```ini
//! [Service]
//! Type=notify
//! ExecStart=/usr/local/bin/app /run/app/app.sock
//! RuntimeDirectory=app
//! ```
//!
//! **A runtime directory.** Without activation, let systemd make a directory that belongs to the service, so no stale root-owned socket or foreign file can be in the way:
//!
//! ```ini
//! [Service]
//! User=app
//! RuntimeDirectory=app
//! RuntimeDirectoryMode=0750
//! ExecStart=/usr/local/bin/app /run/app/app.sock
//! ```
//!
//! `Builder::check_parent(true)` makes that advice checkable, with OpenSSH's StrictModes rule (see [Against a hostile user](crate#against-a-hostile-user-of-the-same-machine)).
//!
//! # Zero-downtime restart
//!
//! `OnExisting::TakeOver` binds the new socket in a private directory beside the path, applies mode and owner, listens, then swaps it with the socket at the path (`renameat2(RENAME_EXCHANGE)` on Linux). The path always answers: a client connecting in a loop is never refused. To restart:
//!
//! 1. start the new instance with the policy (the examples take `--takeover`: `axum_hello --takeover /run/app/app.sock`);
//! 2. once it prints that it listens, send the old one SIGTERM.
//!
//! The old instance keeps the connections it has and finishes them. Its drop leaves the new socket in place, because the path now names another inode. Anything at the path that is not a socket is still refused, even a file that appears during the takeover: it is swapped back.
//!
//! # Restart recipes
//!
//! Both are tested end to end in `tests/it/restart.rs`, with two client threads sending requests throughout.
//!
//! 1. **A `Type=notify` service that binds its own socket.** Start the new instance with `--takeover` (`OnExisting::TakeOver`) and `NotifyAccess=all`. It swaps its socket in and sends `READY=1`. Then send the old instance SIGTERM; it sends `STOPPING=1`, finishes what it has, and leaves the new socket alone. Measured: 417 requests answered, 0 refused, 0 failed.
//! 2. **A socket that outlives the server.** systemd (`.socket` unit), or in development `systemfd --no-pid -s unix::/tmp/app.sock -- cargo watch -x run`, holds the socket and passes it to each new server (`LISTEN_FDS` without `LISTEN_PID` is accepted, as listenfd does). While the server restarts, new connections wait in the socket's backlog and are served by the next instance. Measured over 3 restarts: 497 requests answered, 0 refused. 2 connections were reset: the old server had accepted them and then stopped before reading a request, which hyper's graceful shutdown closes.

pub use crate::activation::{NotUsed, receive_activation};
pub use crate::listener::Activated;
pub use crate::notify::{notify_ready, notify_ready_main_pid, notify_status, notify_stopping};
