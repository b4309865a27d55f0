//! Diagnosis: what is at a socket address, and what a bind would do about
//! it, for any server, whether it uses this crate or not.
//!
//! [`inspect`] looks and changes nothing: free, a stale socket (and
//! whether we may remove it), a live server of any socket type (and its
//! pid and command), or something else in the way; the bind lock; whether
//! the directories above pass OpenSSH's StrictModes rule; and the very
//! error a bind would give. It is built on the bind's own steps, so what it
//! predicts is what a bind does. [`clean_stale`] removes a provably stale
//! socket as a bind would, for a server that does not use this crate. The
//! `sul` command (feature `cli`) is both, from a shell.
//!
//! ```
//! use safe_unix_listener::diagnosis::{Found, Parents, Verdict, clean_stale, inspect};
//!
//! let dir = tempfile::tempdir()?;
//! let addr = dir.path().join("app.sock").try_into()?;
//! assert_eq!(inspect(&addr).found(), &Found::Free);
//!
//! drop(std::os::unix::net::UnixListener::bind(dir.path().join("app.sock"))?); // a crash
//! let report = inspect(&addr);
//! assert_eq!(report.found().verdict(), Verdict::Stale);
//! assert!(report.bind().is_ok(), "a bind would remove it and succeed");
//! assert!(clean_stale(&addr, Parents::Check)?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

//!
//! # When some other server says "address already in use"
//!
//! nginx, PostgreSQL, a Go or Python service: they all leave the same stale, root-owned or live sockets, with the same unhelpful message. `sul` answers what is at the path, who owns it, whether anyone listens, and whether you may remove it, for any server. It uses the rules a bind of this crate uses, and changes nothing:
//!
//! ```sh
//! cargo install safe-unix-listener --features cli
//! ```
//!
//! The Ergo case: a run as root left `/tmp/ergo_websocket`, and the service now starts as an ordinary user.
//!
//! ```console
//! $ sul inspect /tmp/ergo_websocket            # as the service user, uid 65534
//! /tmp/ergo_websocket: a stale socket: nobody listens (connection refused)
//!   file: socket, owner uid 0, group gid 0, mode 0777
//!   removable: no, not by us (uid 65534)
//!   directories above: safe (StrictModes)
//!   a bind now: fails: cannot remove stale socket /tmp/ergo_websocket: it is owned by uid 0, we run as uid 65534, and /tmp is sticky, so only the owner may remove it (EPERM); remove it as uid 0, or bind under a directory this service owns, such as $XDG_RUNTIME_DIR or a systemd RuntimeDirectory=
//! $ sul clean /tmp/ergo_websocket              # still uid 65534: refused, nothing changed
//! sul: cannot remove stale socket /tmp/ergo_websocket: it is owned by uid 0, …
//! $ sudo sul clean /tmp/ergo_websocket
//! removed the stale socket /tmp/ergo_websocket
//! ```
//!
//! For a live server it names the process, from the probe connection's peer credentials (and `/proc` for the command line), and `sul clean` refuses:
//!
//! ```console
//! $ sul inspect /run/app/app.sock
//! /run/app/app.sock: a live server is listening
//!   server: pid 4242, uid 0, gid 0: python3 app.py
//!   …
//! ```
//!
//! - `sul inspect ADDR [--json]` exits with 0 when the address is free, 3 when a stale socket is there, 4 when a server listens, and 5 when something else is in the way (not a socket, no access, no directory). `--json` gives the same facts to scripts.
//! - `sul clean ADDR` removes the socket only if it is provably stale, under the bind lock and with the bind's identity check. Otherwise it prints why and what to do, and exits with 1.
//! - `sul wait ADDR [--timeout 10s]` exits with 0 as soon as a server accepts at ADDR, and with 1 and the last reason at the timeout. It is meant for scripts, `ExecStartPost=` and test harnesses.
//!
//! ADDR is a path, `unix:/path` or `@name`. In a program, `safe_unix_listener::diagnosis::inspect(&addr)` returns the same report as an `Inspection`, and `clean_stale(&addr, Parents::Check)` does what `sul clean` does. The probe may open one connection to a socket at the path and close it at once. `tests/it/inspect.rs` checks, for every row of the table in [What it does](crate#what-it-does), that `inspect` changes nothing and predicts what the bind then does, with the same message.

pub use crate::classify::{FileInfo, Found, LiveServer, Verdict};
pub use crate::inspect::{Inspection, Leftover, LeftoverKind, Parents, clean_stale, inspect};
pub use crate::lock::LockState;
pub use crate::probe::SocketType;
pub use crate::stat::FileType;
