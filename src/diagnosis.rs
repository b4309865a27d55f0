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

pub use crate::classify::{FileInfo, Found, LiveServer, Verdict};
pub use crate::inspect::{Inspection, Parents, clean_stale, inspect};
pub use crate::lock::LockState;
pub use crate::probe::SocketType;
pub use crate::stat::FileType;
