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
//! # What it does
//!
//! The same for `SafeUnixListener::bind` and `SafeUnixDatagram::bind`: one sequence makes both.
//!
//! | at the path | what `bind` does | error kind (`io::ErrorKind`) |
//! |---|---|---|
//! | nothing | binds | |
//! | a stale socket of any type (connect is refused) | removes it, logs at `info`, binds | |
//! | a live socket of any type (a stream or seqpacket listener accepts, or its queue is full; a datagram socket takes a `connect`) | leaves it alone; names its type, and the pid when it is known | `InUse` (`AddrInUse`) |
//! | a regular file, directory, FIFO, device or symlink | leaves it alone, and never follows a link | `NotASocket` (`AlreadyExists`) |
//! | a stale socket we may not remove | fails at once and says why: owner, our uid, EACCES or EPERM, and a fix | `PermissionDenied` (`PermissionDenied`) |
//! | a socket we may not even connect to | cannot prove it stale, so leaves it alone and explains | `PermissionDenied` (`PermissionDenied`) |
//! | a missing parent directory | names the directory (or creates it with `create_parents(mode)`) | `ParentMissing` (`NotFound`) |
//! | a path over 107 bytes (103 on macOS/BSD) | on Linux, binds through the directory's descriptor (the last component at most 82 bytes, and clients not built on this crate cannot reach it, which is logged at `info`); elsewhere, or with a longer last component, refuses before touching anything, naming the length and the limit | `PathTooLong` (`InvalidInput`) where refused |
//! | an empty path, one with a NUL byte, or one ending in `/`, `.` or `..` | refuses | `InvalidAddress` (`InvalidInput`) |
//! | a symlink, directory, FIFO or device at `<path>.lock` | leaves it alone and names its type, owner and mode | `LockFile` (`AlreadyExists`) |
//! | `@name` (Linux abstract namespace) | binds; no file, nothing to remove | `InUse` if taken; `Unsupported` off Linux |
//!
//! And afterwards:
//!
//! - **One look at the path**: the socket's directory is resolved once, one component at a time, and every later step (the lock, the look at the path, the probe, the removal, the bind, the unlink at shutdown) goes through that descriptor. The probe connects through `/proc/self/fd/N/name`; without `/proc` it connects by path and fails if the directory's path no longer names the directory that was opened. `bind`, `clean_stale` and `inspect` share one classification of what is at the path, so `inspect` predicts the bind by construction.
//! - **Racing starters**: the probe-remove-bind sequence runs under an exclusive lock, held until the new socket is in place. Of N starters exactly one wins; the others get `InUse`. In a directory neither its group nor others may write, the lock is a `flock` on the directory itself, and nothing is created. In one others may write (`/tmp`, a group-writable `/run/app`), it is a `flock` on `<path>.lock`, since a lock on a shared directory would let any user hold up every bind in it. **Does the lock file stay on disk?** No, as a rule: a lock file this crate made (one it just created, or one a crashed bind of the same uid left, which holds the crate's marker) is removed when the lock is released. A lock file that was there before and is not the crate's (someone's regular file) is used as the lock but never removed.
//! - **Mode and owner**: where nobody else can replace a name we create in the directory (only we may write it, or it is sticky and owned by root or us, like `/tmp`), the socket is bound at the path itself, given `.mode(m)` exactly and `.owner(uid)` / `.group(gid)` through the directory's descriptor, and only then set listening: a client connecting before that is refused, never let in with looser permissions. Where others may write the directory, a name we create can be replaced before any later call reaches it, so nothing is changed by name there. On Linux (with `/proc`) the socket is bound at the path itself as well, so the kernel names it by its path in Docker's and Kubernetes' default profiles too; when a mode, owner or group is asked for it is made closed: the unbound socket gets no permission bits (`fchmod`, which Linux copies to the file it creates), so nobody can connect or send to it, the file at the path is proven to be the one the kernel says our socket is bound to (`sock_diag`), and its owner, group, ACL and mode are set through the `O_PATH` descriptor that pins it (`fchownat(AT_EMPTY_PATH)`, `/proc/self/fd/N`), all before it listens. No thread is started and no namespace call is made, so a task limit or a seccomp profile that refuses `unshare` changes nothing; a group that only `CAP_SETGID` can give (no `CAP_CHOWN`, not a member, or `fchownat` refused by a system-call filter) is given by switching the filesystem gid of the calling thread for the bind alone. A takeover, a path another user can redirect, no `/proc`, or a platform other than Linux goes the other way: the socket is bound in a private 0700 directory beside the path (`.<name>.sul`, or `.sul-` and 8 random characters if another user took that name), given its mode and owner there, set listening, and only then moved to the path without replacing anything, so a socket at the path is always already listening. A bind or takeover killed half-way leaves its private directory; every later bind of the same socket, whatever its route, looks it up by its name (one `fstatat`, no directory listing) and removes it once its lock shows the process is gone, and `sul inspect` reports it, with the uid that left it. The lock file of a directory others may write holds the crate's marker from its first instant (made unnamed with `O_TMPFILE`, written, then linked), so a crash never leaves an empty one; where the filesystem has no `O_TMPFILE` (FUSE) a crash between its creation and its write can, and since a user's own empty file looks the same, no bind removes it: `inspect` names it.
//! - **The kernel's name is the path**: the bind gives `bind(2)` the path as it was asked for (absolute when given absolute), so `ss -xlp`, `local_addr()`, an accepted stream's `local_addr()` and a client's `peer_addr()` all show it. It is not the path in three cases, where no `bind(2)` of that string keeps every guarantee: a takeover (the new socket is made beside the old one), a path that a directory on the way lets another user redirect (bound through the directory's descriptor, `/proc/self/fd/N/name`), and the private directory's route above. A path longer than `sun_path` is always named by the descriptor route.
//! - **Shutdown**: dropping the listener removes the file only if the path still names the inode it bound, checked while the socket is still open. It never removes a successor's socket or a file someone put there, and never runs from a forked child. It never panics. `unlink_on_drop(false)` turns it off. No drop runs when a program leaves through `std::process::exit` or an unhandled signal: `unlink_now()` removes the file first, by the same rules, and says what it did; a removal that fails (after a privilege drop, say) is logged at `warn` with the fix.
//! - **Accept errors**: per-connection errors (ECONNABORTED and the like) are skipped. Other errors (EMFILE, ENFILE, ENOBUFS, ENOMEM) are yielded, and the next accept waits 5 ms, doubling up to 1 s, so a loop never spins.
//! - **Shared listeners**: `accept(&self)` may be called by any number of tasks at once (an `Arc<SafeUnixListener>`), as with tokio's own: every connection goes to exactly one of them, and a back-off wakes them all. `poll_accept` and the `Stream` are for a single consumer, as tokio's `poll_accept` is.
//! - **Shutdown never blocks**: a drop takes the directory's `flock` without waiting (only a takeover, which swaps sockets without probing, can race a drop, and a takeover holds that lock too). If it is held, the socket is left in place, and the next bind finds it stale and removes it.
//! - **A bind's cost does not grow with the directory**: nothing lists the directory, except once per process and directory where random private names are in use. BENCHMARKS.md in the repository has the numbers.
//!
//! # Datagram receivers
//!
//! [`SafeUnixDatagram`] binds a metrics or log receiver (statsd, syslog)
//! by the same sequence, with the same guarantees, and
//! [`SafeUnixDatagram::recv_with_peer`] gives each datagram's sender.
//!
//! # Diagnosis
//!
//! [`inspect`](diagnosis::inspect) tells what is at an address and what a bind would do, and
//! changes nothing; [`clean_stale`](diagnosis::clean_stale) removes a provably stale socket, for
//! servers that do not use this crate. The [`diagnosis`] module has the `sul` command
//! and the Ergo case.
//!
//! # Serving axum, hyper or tonic
//!
//! hyper, and a client for tests, are in the `http` module (feature `hyper`).
//!
#![cfg_attr(
    feature = "axum",
    doc = r#"
**axum** (feature `axum`): the listener is an `axum::serve::Listener`, and `PeerInfo` is connect-info.

```rust,no_run
use axum::{Router, extract::ConnectInfo, routing::get};
use safe_unix_listener::{PeerInfo, SafeUnixListener, shutdown_signal};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let app = Router::new().route("/", get(|ConnectInfo(peer): ConnectInfo<PeerInfo>| async move {
        format!("hello, uid {:?}\n", peer.uid())
    }));
    let listener = SafeUnixListener::bind("/run/app/app.sock")?;
    axum::serve(listener, app.into_make_service_with_connect_info::<PeerInfo>())
        .with_graceful_shutdown(shutdown_signal()?)
        .await
}
```

Accept errors follow axum's rule: connection errors are retried at once, others are logged and retried after a back-off.
"#
)]
//!
//! **tonic** needs no glue, because the listener is a `Stream` of `tokio::net::UnixStream`, which tonic already accepts:
//!
//! ```rust,no_run
//! use safe_unix_listener::{SafeUnixListener, shutdown_signal};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let (_reporter, health) = tonic_health::server::health_reporter();
//!     tonic::transport::Server::builder()
//!         .add_service(health)
//!         .serve_with_incoming_shutdown(SafeUnixListener::bind("/run/app/grpc.sock")?, shutdown_signal()?)
//!         .await?;
//!     Ok(())
//! }
//! ```
//!
//! # Access control by peer credentials
//!
//! An abstract socket has no file permissions: any process in the network namespace can connect. A path socket's permissions are easy to get wrong. The kernel records who connected, so check that:
//!
//! ```rust,no_run
//! use safe_unix_listener::SafeUnixListener;
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let listener = SafeUnixListener::builder("@app".parse::<safe_unix_listener::UnixAddr>()?)
//!         .allow_uids([0, 1000])       // root and the service user
//!         .allow_gids([33])            // or anyone in group 33
//!         .bind()?;
//!     let (_stream, _) = listener.accept().await?; // only those reach accept
//!     Ok(())
//! }
//! ```
//!
//! A peer is in a group if it is its primary gid or, on Linux 4.13 and later, one of its supplementary groups as the kernel recorded them when it connected (`SO_PEERGROUPS`, also in `PeerInfo::groups`); elsewhere only the primary gid counts. A rejected peer is closed at once and logged at `debug` with its pid, uid, gid and groups, and at `warn` at most once a second per listener, with a count of those not shown, so a flood of connections cannot flood the log. It never reaches `accept`, the `Stream`, axum or hyper. For finer rules, read the credentials yourself: `stream.peer_cred()?` (uid, gid, pid), or `PeerInfo` in axum (connect-info) and hyper (request extensions).
//!
//! # Clients and throwaway sockets
//!
//! `UnixAddr::connect().await` gives a `tokio::net::UnixStream` to a path or an abstract name, with errors that name the address. `UnixAddr::view()` returns `AddrView::Path` or `AddrView::Abstract`, to match on with no other arm.
//!
//! For tests, two constructors make a socket nobody else uses and that leaves nothing behind:
//!
//! - `SafeUnixListener::bind_temp()` binds `s` in a new directory only you may enter (`sul-` and eight random characters, mode 0700). It uses the first of `$XDG_RUNTIME_DIR`, `$TMPDIR` and `/tmp` where the socket's whole path fits the platform's limit, so a long macOS `$TMPDIR` or a deep CI checkout never makes it fail. Names never collide between threads or processes (a test binds 1,000 from 8 threads at once). Dropping the listener removes the socket and the directory.
//! - On Linux, `SafeUnixListener::bind_abstract_auto()` lets the kernel pick a free abstract name (autobind). There is no file at all.
//!
//! `addr()` gives the address of either, and `connect()` reaches it:
//!
//! ```rust
//! use safe_unix_listener::SafeUnixListener;
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     let listener = SafeUnixListener::bind_temp()?;
//!     let mut client = listener.addr().connect().await?;
//!     let (mut server, _) = listener.accept().await?;
//!     client.write_all(b"ping").await?;
//!     let mut buf = [0; 4];
//!     server.read_exact(&mut buf).await?;
//!     assert_eq!(&buf, b"ping");
//!     Ok(())
//! }
//! ```
//!
//! `UnixAddr` is a clap argument as it is (it implements `FromStr`). With the `serde` feature it reads and writes as the same string it parses from, for configuration files: `cargo run --example config_file --features serde -- --config app.json` reads `{ "listen": "unix:/run/app/app.sock" }`.
//!
//! Throwaway sockets cost what hand-made ones do: `bind_temp()` plus drop takes 1.00× the time of `tempfile::tempdir()`, a tokio bind and the cleanup (BENCHMARKS.md in the repository). A process killed while holding one leaves its directory; the next process's first `bind_temp` in that base directory removes it.
//!
//! # Compared with `tokio::net::UnixListener`
//!
//! It is a drop-in: `accept`, `poll_accept`, `local_addr() -> io::Result<SocketAddr>`, `take_error`, `bind_addr`, `from_std`, `into_std`, `bind("\0name")` for an abstract name, `TryFrom` a std or tokio listener, `AsRef<UnixListener>` and `AsFd` work as tokio's do, and `#[track_caller]` puts a panic for a runtime without IO at your line. The address you asked for is `addr()`. An adopted socket (`from_std`, `TryFrom`, socket activation) is never unlinked. To hand the socket to a framework that takes its own listener and keep the cleanup, `into_parts()` gives the tokio listener and an `UnlinkOnDrop` guard:
//!
//! ```rust
//! use safe_unix_listener::SafeUnixListener;
//! use tokio_stream::wrappers::UnixListenerStream;
//!
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     let dir = tempfile::tempdir()?;
//!     let path = dir.path().join("app.sock");
//!     let (listener, unlink) = SafeUnixListener::bind(&path)?.into_parts();
//!     let incoming = UnixListenerStream::new(listener); // or actix-web's listen_uds(listener.into_std()?)
//!     drop(incoming);
//!     drop(unlink); // removes the file, if it is still the socket that was bound
//!     assert!(!path.exists());
//!     Ok(())
//! }
//! ```
//!
//! A framework may also remove the file by itself, without those checks: actix-server removes the path `getsockname` gives when it stops, so after a takeover it would remove the successor's socket. Stop it before a successor takes over, or use `tokio_stream`'s wrapper, which removes nothing.
//!
//! # Against a hostile user of the same machine
//!
//! Another uid that can write the socket's directory, squat on names and race the bind. Each line is run for real in `tests/it/hostile.rs` (uid 65534 racing, `strace -e inject` holding windows open) and `tests/it/faults.rs` (every system call of the bind failed once):
//!
//! - **Guaranteed**: mode, owner and group apply only to our own socket, and a bind cannot be redirected into another directory; `create_parents` never changes a directory or file swapped in by someone else (each directory is opened without following links and checked to be ours); nothing the crate did not create is removed (a foreign lock file, a file that appears during a takeover, which is swapped back); a failing system call leaves nothing of ours behind, except a private directory that the next bind removes.
//! - **Access is what the kernel enforces** (`tests/it/acl.rs`, with `setfacl` and a real uid 65534 client): where a mode, owner or group is asked for, the socket listens with exactly that access. A default ACL on the directory (which its owner may set) gives a new file an access ACL whose entries the mode does not show; it is removed before `listen`, and the mode set again. A setgid directory gives a new file its own group; where no group was asked for, the socket is given ours. Where only we can reach the name (a directory only we write, our private directory) this is done through the directory's descriptor; where others may write the directory, nothing is changed by name: it is done through the descriptor that pins the file, which is proven to be our socket's. An ACL or group that cannot be set refuses the bind, naming the directory and the fix (`setfacl -k DIR`, `chmod g-s DIR`). Not covered: ACLs outside Linux and Android (not read there); a bind with no mode, owner or group, which gets what any new file there gets; and a default ACL on a directory that lets another user write it, which `check_parent` does not yet weigh. `sul inspect` shows an ACL on the socket and on its directory.
//! - **Identity is the socket we bound** (`tests/it/identity.rs`): in a directory others may write, the file found at the path right after the bind must be the one the kernel says our socket is bound to (`sock_diag`, Linux), so a socket of the same owner, mode and group swapped in by a group member is refused (`InUse`) and left alone; where netlink is refused, the owner, mode and group check stands alone. The file's inode is pinned by an `O_PATH` descriptor for as long as something may remove it (Linux, FreeBSD), so a successor that gets the freed inode number is never taken for ours, by the listener's drop or by `into_parts`' `UnlinkOnDrop`. On macOS and NetBSD the identity is the device and inode number.
//! - **A datagram's sender is the kernel's word** (`tests/it/datagram.rs`): a receiver asks for credentials before its bind, so every datagram it can receive carries them; one without (queued before an adopted socket asked) is never admitted by `allow_uids`/`allow_gids`. A datagram with descriptors attached, or truncated, is dropped with a rate-limited warning and never ends the receive loop; passed descriptors never stay open.
//! - **With `check_parent(true)`**: OpenSSH's StrictModes rule, over every step of the one resolution that is then used: every directory passed through (from `/`, or from the working directory and everything above it), every symbolic link on the way (its owner must be root or us, since its owner can re-point it), and the directory holding each link, for every link of a chain. Each must be owned by root or us, and no directory may be writable by group or others unless sticky. Otherwise the bind fails with `InsecureParent`, naming the step nearest the socket that fails, its owner and mode, and why.
//! - **`clean_stale`, `inspect` and `sul`** resolve the directory once too, and decide on what they opened: the probe connects through the opened directory (`/proc/self/fd/N/name`; without `/proc`, by path, and a directory replaced meanwhile makes it `InUse`), and the lock, the `lstat` and the unlink go through it. `clean_stale` and `sul clean` also refuse, with the reason, a path that fails the rule above: removing a file on behalf of a path someone else can re-point is how a live socket elsewhere gets deleted. `clean_stale(addr, Parents::Trust)` and `sul clean --trust-parents` skip that refusal: a live socket is still never removed, but whoever can re-point a link on the way chooses whose stale socket goes. `inspect` reports such a path as `directories above: unsafe`, and says that `clean` would refuse it.
//! - **Takeovers lose nothing**: a file that appears at the path during a takeover is swapped back, and if our new socket was removed meanwhile it is moved back with a rename that replaces nothing. Only if two files race for the path does one stay in the private directory, and the error says where.
//! - **Nothing waits on another process for long**: readiness and `STOPPING=1` are sent without blocking (a receiver that never reads gives `WouldBlock`, logged as a warning by `notify_ready(true)` and `HyperServer`); the only wait is for a held bind lock, at most 5 s, see [Blocking](#blocking).
//! - **Printed text is escaped**: paths, names and command lines come from the file system or other processes, so messages, `Display` and `sul` print control characters, format characters (such as U+202E) and invalid UTF-8 as escapes (`\e`, `\u{202e}`, `\xff`), and a backslash as `\\`. A live server's command line is read up to 4 KiB, and ` …(cut)` marks a longer one.
//! - **Not guaranteed**: that another user cannot deny service in a directory they can write (hold `<path>.lock`, or put a FIFO there: the bind then fails with a message naming it); that a user who may write the directory cannot swap another socket there under our name between the check and the unlink at shutdown, which are two calls by name (no system call unlinks a name only if it is a given inode), so that we remove that socket: such a user could remove it anyway; that a server not using this crate, caught between its own `bind` and `listen`, is not taken for stale; anything when an ancestor directory is writable by the attacker and `check_parent` is off. Bind under a directory only the service can write, such as `$XDG_RUNTIME_DIR` or a systemd `RuntimeDirectory=`.
//!
//! # Where it runs
//!
//! Rust 1.85 or newer (`rust-version` in Cargo.toml). Linux is the tested platform. CI also type-checks the crate with all features for `x86_64-apple-darwin`, `x86_64-unknown-freebsd`, `x86_64-unknown-netbsd`, `aarch64-linux-android` and `x86_64-unknown-linux-musl` (Alpine-based containers), and builds everything with Rust 1.85 (`ci/cross-check`; see CONTRIBUTING.md in the repository). What each platform gets:
//!
//! | | Linux | Android | macOS, FreeBSD, NetBSD |
//! |---|---|---|---|
//! | path limit | 107 bytes | 107 bytes | 103 bytes |
//! | long paths (deeper than `sun_path`) | up to `PATH_MAX`, through the directory's descriptor (`/proc/self/fd/N/name`; the last component at most 82 bytes); bind, connect, `inspect`, `clean` and `sul` work; clients not built on this crate need a path that fits, and the kernel (`ss -xl`) names the socket by the descriptor route | same | FreeBSD: `bindat`/`connectat` relative to the directory (type-checked in CI, not run); macOS, NetBSD: `PathTooLong` |
//! | abstract names (`@name`) | yes | yes | `Unsupported` |
//! | moving the new socket into place | `renameat2(RENAME_NOREPLACE)`; where a filesystem refuses it, `link`, or (FUSE) a `rename` checked just before, whichever keeps a socket reachable there (see [Where it runs](#where-it-runs)) | same | `link` + `unlink` (never replaces either), when it keeps a socket reachable |
//! | takeover | atomic swap (`RENAME_EXCHANGE`), anything not a socket swapped back | same | checked just before a plain `rename` |
//! | bind in the private directory (and in `bind_temp`'s) | through `/proc/self/fd`, cannot be redirected | same | by path; a swapped directory is detected and the bind fails |
//! | the probe of a socket at the path | through `/proc/self/fd` | same | FreeBSD: `connectat` through the directory; macOS, NetBSD: by path, then the directory's identity checked: a swap fails the bind |
//! | peer uid and gid (`PeerInfo`, `allow_uids`) | `SO_PEERCRED` | `SO_PEERCRED` | `getpeereid` (through tokio) |
//! | a datagram's sender (`SafeUnixDatagram::recv_with_peer`) | uid, gid and pid (`SO_PASSCRED`, `SCM_CREDENTIALS`) | same | FreeBSD: `LOCAL_CREDS_PERSISTENT`, `SCM_CREDS2` (type-checked in CI, not run); macOS, NetBSD: `Unsupported` |
//! | peer pid (in `InUse` messages, `PeerInfo::pid`) | yes | yes | macOS: `LOCAL_PEERPID` through tokio for `PeerInfo`; not named in messages; BSDs: none |
//!
//! Each row runs for real in `tests/it/filesystems.rs`, in a mount namespace of its own (`unshare -m`), as root unless it says otherwise. Where a bind can work, the echo example goes through start, a round trip with `socat`, `kill -9` and a restart that replaces the stale socket, a takeover while a client keeps connecting (none refused), and a stop that leaves the directory empty. It does this twice: in a directory only it writes and in one everyone may write (bound at the path in both on Linux, with `/proc`; the takeover through a private directory, then swapped into place).
//!
//! | filesystem or sandbox | what works | how the socket is placed | limits |
//! |---|---|---|---|
//! | tmpfs, ext4, xfs, btrfs (loop devices) | everything | at the path, or `renameat2(RENAME_NOREPLACE)` from the private directory | none seen |
//! | overlayfs (a container's root) | everything | the same | the socket lives in the upper layer |
//! | FUSE (bindfs; also sshfs, mergerfs, desktop container file sharing) | everything | at the path; from the private directory by a `rename` checked just before, under the lock. A hard link on FUSE is a new inode that no socket is bound to, and `renameat2`'s flags are refused, so the way that keeps a socket reachable is found once per filesystem with a throwaway socket | a file put at the path by a program that ignores the lock, between the check and the rename, is replaced: its name is gone (a live socket there keeps its server, unreachable at the path; a regular file with no other link is lost). Only a user who may write the directory can do it, and only where the private directory is used there (a takeover, or a directory others may write). A review that looped as fast as it could, as uid 65534, against a bindfs directory for 15 s won 1 of 3,296 tries in one run and 0 of 3,720 in another. Bind where only the service writes, or use `check_parent`, on such filesystems; a network filesystem's socket reaches only processes on the host that bound it |
//! | no `/proc` (an empty tmpfs over it: chroots, minimal sandboxes) | everything | by path; with a mode or group where others may write, through the private directory; the probe checks that the directory was not swapped | a directory replaced while being probed fails the bind with `InUse` |
//! | a user namespace made by an unprivileged user (`unshare -Ur`, rootless containers) | everything | the same as the host | an `--owner`/`--group` that is not mapped fails, naming the id and the namespace's map (`/proc/self/gid_map`), instead of a bare EINVAL |
//! | Docker's and Kubernetes' default seccomp profile and capabilities (`unshare` refused, no `CAP_SYS_ADMIN`) | everything | at the path; with a mode or group where others may write, made closed and set through the pinned file, so the kernel names the socket by its path (`tests/it/seccomp.rs`, under a real seccomp filter refusing `unshare`, `setns` and `mount`; `tests/it/privilege.rs`, with new threads refused too) | none seen |
//! | systemd `RestrictNamespaces=`, or a task limit reached (`LimitNPROC=`, `TasksMax=`, `--pids-limit`) | everything | the same: a bind starts no thread and calls no namespace system call | none |
//! | systemd `RestrictAddressFamilies=AF_UNIX` (no netlink, so no `sock_diag`) | everything | the same | a file swapped in for ours is told apart by its owner and the mode 000 it was made with, not by the kernel's word |
//! | systemd `ProtectProc=invisible`, `ProcSubset=pid` (procfs `hidepid=invisible`, `subset=pid`), in a pid namespace | everything | the same, through `/proc/self/fd`, which both keep (`tests/it/containers.rs`) | pids in messages are as seen in our namespace |
//! | a read-only mount | fails | — | "the filesystem (tmpfs) is mounted read-only (EROFS)", with a fix |
//! | a filesystem out of inodes or space | fails | — | says which of the two runs out (from `statvfs`) and names the filesystem |
//!
//! # Blocking
//!
//! A bind is synchronous, and one thing in it can wait: while another
//! process holds the bind lock (a bind of the same path in progress, or
//! something holding it on purpose), a bind of a path waits for it by
//! sleeping the calling thread, for at most 5 s, then fails with
//! [`InUse`](BindErrorKind::InUse). A bind in progress holds it for well
//! under a millisecond. A probe answered by this very process for a socket
//! none of its listeners holds is repeated for up to 31 ms. Every bind
//! ([`SafeUnixListener::bind`], [`Builder::bind`], [`Builder::bind_std`],
//! [`SafeUnixDatagram::bind`], …) and [`clean_stale`](diagnosis::clean_stale)
//! and [`inspect`](diagnosis::inspect) wait this way; the drop of a listener never
//! waits: if the lock is held, the socket is left for the next bind, which
//! finds it stale.

#![deny(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]
// `unsafe` is allowed in four places only, each block with a SAFETY note:
// adopting the descriptors passed by the service manager (activation.rs),
// reading the peer's groups with getsockopt, calling renameat2 and capget
// by their system call numbers, which not every Linux libc wraps, and
// reading and removing a file's ACL with lgetxattr and lremovexattr, which
// nix does not offer (sys/linux.rs), and FreeBSD's
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
