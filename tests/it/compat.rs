//! A drop-in for tokio's `UnixListener`: upstream tests ported with as
//! little change as the crate allows (each names the file it comes from),
//! the kernel's name for the socket, and handing the socket to another
//! framework without losing its cleanup.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use futures_util::future::try_join;
use safe_unix_listener::{Builder, SafeUnixListener, UnixAddr};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::net::unix::SocketAddr;

use crate::support::{
    Holder, Outcome, assert_panicked_without_io_at, helper, runtime, tempdir, tempdir_with_mode,
};

// ---- tokio 1.54, tests/uds_stream.rs ----

#[tokio::test]
async fn accept_read_write() -> std::io::Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("tokio-uds-tests")
        .tempdir()
        .unwrap();
    let sock_path = dir.path().join("connect.sock");

    let listener = SafeUnixListener::bind(&sock_path)?;

    let accept = listener.accept();
    let connect = UnixStream::connect(&sock_path);
    let ((mut server, _), mut client) = try_join(accept, connect).await?;

    // Write to the client.
    client.write_all(b"hello").await?;
    drop(client);

    // Read from the server.
    let mut buf = vec![];
    server.read_to_end(&mut buf).await?;
    assert_eq!(&buf, b"hello");
    let len = server.read(&mut buf).await?;
    assert_eq!(len, 0);
    Ok(())
}

#[tokio::test]
async fn accept_read_write_socketaddr() -> std::io::Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("tokio-uds-tests")
        .tempdir()
        .unwrap();
    let sock_path = dir.path().join("connect.sock");
    let addr = std::os::unix::net::SocketAddr::from_pathname(&sock_path)?.into();

    let listener = SafeUnixListener::bind_addr(&addr)?;

    let accept = listener.accept();
    let connect = UnixStream::connect(&sock_path);
    let ((mut server, _), mut client) = try_join(accept, connect).await?;

    // Write to the client.
    client.write_all(b"hello").await?;
    drop(client);

    // Read from the server.
    let mut buf = vec![];
    server.read_to_end(&mut buf).await?;
    assert_eq!(&buf, b"hello");
    let len = server.read(&mut buf).await?;
    assert_eq!(len, 0);
    Ok(())
}

// test for https://github.com/tokio-rs/tokio/issues/6767
// (the name is made unique: test processes run side by side here)
#[tokio::test]
#[cfg(any(target_os = "linux", target_os = "android"))]
async fn abstract_socket_name() {
    let socket_path = format!("\0aaa-{}", std::process::id());
    let listener = SafeUnixListener::bind(&socket_path).unwrap();

    let accept = listener.accept();
    let connect = UnixStream::connect(&socket_path);

    let ((stream, _), _) = try_join(accept, connect).await.unwrap();

    let local_addr = stream.into_std().unwrap().local_addr().unwrap();
    use std::os::linux::net::SocketAddrExt;
    let abstract_path_name = local_addr.as_abstract_name().unwrap();

    // `as_abstract_name` removes leading zero bytes
    assert_eq!(abstract_path_name, &socket_path.as_bytes()[1..]);
}

// ---- tokio 1.54, tests/uds_cred.rs ----

#[tokio::test]
async fn test_listener() {
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("connect.sock");
    let listener = SafeUnixListener::bind(&sock_path).unwrap();

    let ((server, _), client) = try_join(listener.accept(), UnixStream::connect(&sock_path))
        .await
        .unwrap();

    assert_peer_cred(&server, &client);
}

fn assert_peer_cred(a: &UnixStream, b: &UnixStream) {
    let cred_a = a.peer_cred().unwrap();
    let cred_b = b.peer_cred().unwrap();
    assert_eq!(cred_a, cred_b);

    let uid = nix::unistd::geteuid().as_raw();
    let gid = nix::unistd::getegid().as_raw();

    assert_eq!(cred_a.uid(), uid);
    assert_eq!(cred_a.gid(), gid);
}

// ---- tokio 1.54, tests/net_panic.rs ----
// The panic is caught in a child process here: a panic hook is global to
// the process, and `cargo test` runs tests on threads of one process.

#[test]
fn unix_listener_bind_panic_caller() {
    let out = helper("compat::helper_bind_without_io", None)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The panic location should be in this file
    assert!(
        stderr.contains(&format!("panicked at {}:", file!())),
        "{stderr}"
    );
    assert!(
        stderr.contains("A Tokio 1.x context was found, but IO is disabled"),
        "{stderr}"
    );
}

#[test]
#[ignore = "helper: run in a child process by the other tests"]
fn helper_bind_without_io() {
    if std::env::var_os("SUL_HELPER").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("socket");
    let rt = runtime_without_io();
    rt.block_on(async {
        let _ = SafeUnixListener::bind(&sock_path);
    });
}

#[test]
fn unix_listener_from_std_panic_caller() {
    let out = helper("compat::helper_from_std_without_io", None)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("panicked at {}:", file!())),
        "{stderr}"
    );
}

#[test]
#[ignore = "helper: run in a child process by the other tests"]
fn helper_from_std_without_io() {
    if std::env::var_os("SUL_HELPER").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("socket");
    let std_listener = std::os::unix::net::UnixListener::bind(sock_path).unwrap();
    let rt = runtime_without_io();
    rt.block_on(async {
        let _ = SafeUnixListener::from_std(std_listener);
    });
}

// ---- tokio 1.54, tests/net_panic.rs, unix_listener_bind_panic_caller ----
// The same case, and what tokio's own bind leaves behind: nothing. Tokio
// registers the socket before it binds it; here the file is bound first,
// so the panic of the registration must take it away again. The directory
// is made here and checked after the child has panicked.

#[test]
fn unix_listener_bind_panic_leaves_nothing_behind() {
    let dir = tempdir();
    let out = helper("compat::helper_bind_without_io_in", None)
        .env("SUL_DIR", dir.path())
        .output()
        .unwrap();
    assert_panicked_without_io_at(&out, file!());
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "a failed bind left {left:?}");
}

#[test]
#[ignore = "helper: run in a child process by the other tests"]
fn helper_bind_without_io_in() {
    let Some(dir) = std::env::var_os("SUL_DIR") else {
        return;
    };
    let sock_path = Path::new(&dir).join("socket");
    let rt = runtime_without_io();
    rt.block_on(async {
        let _ = SafeUnixListener::bind(&sock_path);
    });
}

// Runtime without `enable_io` so it has no IO driver set.
fn runtime_without_io() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

// ---- tokio 1.54, tests/rt_handle_block_on.rs ----
// Upstream runs the test under each runtime of its `rt_test!` macro, and
// ignores it there; here it runs, once per runtime.

mod current_thread_scheduler {
    use super::*;

    #[test]
    fn unix_listener_bind_after_shutdown() {
        bind_after_shutdown(tokio::runtime::Builder::new_current_thread());
    }
}

mod threaded_scheduler_4_threads {
    use super::*;

    #[test]
    fn unix_listener_bind_after_shutdown() {
        let mut rt = tokio::runtime::Builder::new_multi_thread();
        rt.worker_threads(4);
        bind_after_shutdown(rt);
    }
}

mod threaded_scheduler_1_thread {
    use super::*;

    #[test]
    fn unix_listener_bind_after_shutdown() {
        let mut rt = tokio::runtime::Builder::new_multi_thread();
        rt.worker_threads(1);
        bind_after_shutdown(rt);
    }
}

/// A bind in the context of a runtime that has shut down fails with
/// Tokio's own error, which Tokio's own check recognises.
fn bind_after_shutdown(mut rt: tokio::runtime::Builder) {
    let rt = rt.enable_all().build().unwrap();
    let _enter = rt.enter();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("socket");

    rt.shutdown_timeout(std::time::Duration::from_secs(1000));

    let err = SafeUnixListener::bind(&path).unwrap_err();
    // Ours: the sentence names the step and the path, Tokio's error is the
    // source, and nothing is left behind.
    assert_eq!(
        err.to_string(),
        format!(
            "cannot register with Tokio the socket at {}: Tokio refused it",
            path.display()
        )
    );
    assert!(std::error::Error::source(&err).is_some());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    let err: io::Error = err.into();

    assert_eq!(err.kind(), std::io::ErrorKind::Other);
    assert_eq!(
        err.get_ref().unwrap().to_string(),
        "A Tokio 1.x context was found, but it is being shutdown.",
    );
    assert!(tokio::runtime::is_rt_shutdown_err(&err), "{err:?}");
}

// ---- what compiles against tokio's listener compiles against ours ----

fn is_send_sync_unpin_unwind_safe<T: Send + Sync + Unpin + std::panic::UnwindSafe>() {}

/// Code written over any tokio-util listener.
async fn serve_one<L: tokio_util::net::Listener>(mut listener: L) -> io::Result<L::Addr>
where
    L::Io: Unpin,
{
    let (mut io, peer) = listener.accept().await?;
    io.write_all(b"hi").await?;
    Ok(peer)
}

#[tokio::test]
async fn tokio_listener_calls_compile_and_behave_as_tokio_s() -> io::Result<()> {
    is_send_sync_unpin_unwind_safe::<SafeUnixListener>();
    let dir = tempdir();
    let path = dir.path().join("app.sock");

    let listener = SafeUnixListener::bind(&path)?;
    let a: SocketAddr = listener.local_addr()?;
    assert_eq!(a.as_pathname(), Some(path.as_path()));
    assert!(listener.take_error()?.is_none());

    // into_std and from_std round trip; an adopted socket is never unlinked.
    let std_listener: std::os::unix::net::UnixListener = listener.into_std()?;
    let adopted = SafeUnixListener::from_std(std_listener)?;
    assert!(!adopted.unlink_on_drop());
    assert_eq!(adopted.addr().as_path(), Some(path.as_path()));
    let client = tokio::spawn({
        let path = path.clone();
        async move {
            let mut c = UnixStream::connect(path).await?;
            let mut buf = [0; 2];
            c.read_exact(&mut buf).await?;
            io::Result::Ok(buf)
        }
    });
    let peer = serve_one(adopted).await?;
    assert!(peer.is_unnamed());
    assert_eq!(&client.await.unwrap()?, b"hi");
    assert!(
        path.exists(),
        "an adopted socket's file is left to its owner"
    );

    // TryFrom, from std and from tokio: adopted too.
    std::fs::remove_file(&path)?;
    let std_listener = std::os::unix::net::UnixListener::bind(&path)?;
    let from_std = SafeUnixListener::try_from(std_listener)?;
    assert!(!from_std.unlink_on_drop());
    drop(from_std);
    assert!(path.exists());
    std::fs::remove_file(&path)?;
    let from_tokio = SafeUnixListener::try_from(tokio::net::UnixListener::bind(&path)?)?;
    assert!(!from_tokio.unlink_on_drop());
    drop(from_tokio);
    assert!(path.exists());

    // Something that is not a listening Unix socket is refused, and kept.
    let bound_only = nix::sys::socket::socket(
        nix::sys::socket::AddressFamily::Unix,
        nix::sys::socket::SockType::Stream,
        nix::sys::socket::SockFlag::empty(),
        None,
    )?;
    let err = SafeUnixListener::from_std(bound_only.into()).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("is not listening"), "{err}");
    Ok(())
}

#[tokio::test]
#[cfg(any(target_os = "linux", target_os = "android"))]
async fn a_leading_nul_is_an_abstract_name_as_in_tokio() -> io::Result<()> {
    let name = format!("sul-compat-{}", std::process::id());
    let addr: UnixAddr = format!("\0{name}").parse()?;
    assert_eq!(addr.as_abstract_name(), Some(name.as_bytes()));
    let listener = SafeUnixListener::bind(format!("\0{name}"))?;
    assert_eq!(listener.addr().to_string(), format!("@{name}"));
    let _client = listener.addr().connect().await?;
    Ok(())
}

// ---- the kernel's name is the path ----

/// Everything that reports the socket's name gives `path`: the listener,
/// an accepted stream, the client's `peer_addr`, and `ss -xlpn`, with our
/// pid.
async fn names_are_the_path(listener: SafeUnixListener, path: &Path) -> io::Result<()> {
    assert_eq!(listener.local_addr()?.as_pathname(), Some(path));
    assert_eq!(listener.as_ref().local_addr()?.as_pathname(), Some(path));
    let (accepted, client) = try_join(listener.accept(), UnixStream::connect(path)).await?;
    assert_eq!(accepted.0.local_addr()?.as_pathname(), Some(path));
    assert_eq!(client.peer_addr()?.as_pathname(), Some(path));
    let line = crate::support::ss_line(&path.display().to_string());
    let line = line.unwrap_or_else(|| panic!("ss -xlpn does not show {}", path.display()));
    assert!(
        line.contains(&format!("pid={},", std::process::id())),
        "{line}"
    );
    Ok(())
}

#[tokio::test]
async fn the_kernel_names_the_socket_by_its_path_in_a_directory_of_ours() -> io::Result<()> {
    let dir = tempdir();
    let path = dir.path().join("app.sock");
    let listener = Builder::new(&path).mode(0o600).bind()?;
    names_are_the_path(listener, &path).await
}

/// Where others may write the directory, the mode and group are given as
/// the socket is created, at the path itself.
#[tokio::test]
async fn the_kernel_names_the_socket_by_its_path_in_a_directory_others_may_write() -> io::Result<()>
{
    use std::os::unix::fs::MetadataExt;
    for mode in [0o777, 0o1777, 0o770] {
        let dir = tempdir_with_mode(mode);
        let path = dir.path().join("app.sock");
        let gid = nix::unistd::getegid().as_raw();
        let listener = Builder::new(&path).mode(0o660).group(gid).bind()?;
        let st = std::fs::symlink_metadata(&path)?;
        assert_eq!(
            (st.mode() & 0o7777, st.gid()),
            (0o660, gid),
            "in a {mode:o} directory"
        );
        names_are_the_path(listener, &path).await?;
    }
    Ok(())
}

/// A relative path is resolved once, as the bind starts, against the
/// working directory (whose every ancestor is checked), and the kernel
/// names the socket by the absolute path that resolved to: what `ss -xlpn`
/// shows is a path an operator can use from anywhere. (Tokio's own bind
/// keeps the relative string, which only means something in the
/// directory the process was in when it bound.)
#[test]
fn a_relative_path_is_named_by_the_absolute_path_it_resolved_to() {
    let dir = tempdir();
    let mut cmd = helper("helper_bind", None);
    cmd.env("SUL_ADDR", "rel.sock").current_dir(dir.path());
    let held = Holder::spawn(&mut cmd);
    assert!(
        matches!(held.outcome, Outcome::Bound { .. }),
        "{:?}",
        held.outcome
    );
    let absolute = dir.path().join("rel.sock").display().to_string();
    let line =
        crate::support::ss_line(&absolute).expect("ss -xlpn does not show the absolute path");
    assert!(
        line.contains(&format!("pid={},", held.child.id())),
        "{line}"
    );
    assert!(held.release());
    assert!(!dir.path().join("rel.sock").exists());
}

// ---- handing the socket to another framework keeps its cleanup ----

/// tokio-stream's wrapper takes the tokio listener; the guard removes the
/// file when it drops, and only then.
#[tokio::test]
async fn a_unix_listener_stream_keeps_the_cleanup() -> io::Result<()> {
    use futures_util::StreamExt;
    let dir = tempdir();
    let path = dir.path().join("app.sock");
    let (listener, unlink) = SafeUnixListener::bind(&path)?.into_parts();
    assert!(unlink.is_armed());
    let mut incoming = tokio_stream::wrappers::UnixListenerStream::new(listener);
    let (accepted, _client) = tokio::join!(incoming.next(), UnixStream::connect(&path));
    assert_eq!(
        accepted.unwrap()?.local_addr()?.as_pathname(),
        Some(path.as_path())
    );
    drop(incoming);
    assert!(path.exists(), "the file stays while the guard lives");
    drop(unlink);
    assert!(!path.exists(), "the guard removed it");
    Ok(())
}

/// actix-web 4 serves through `listen_uds`, and the file is gone once the
/// server stops and the guard drops.
#[test]
fn actix_web_listen_uds_keeps_the_cleanup() {
    use actix_web::{App, HttpServer, web};
    let dir = tempdir();
    let path: PathBuf = dir.path().join("actix.sock");
    let rt = runtime();
    let (listener, unlink) = {
        let _enter = rt.enter();
        SafeUnixListener::bind(&path).unwrap().into_parts()
    };
    let std_listener = listener.into_std().unwrap();
    let (handle_tx, handle_rx) = std::sync::mpsc::channel();
    let server = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(|| {
                App::new().route("/", web::get().to(|| async { "hello from actix\n" }))
            })
            .workers(1)
            .disable_signals()
            .listen_uds(std_listener)?
            .run();
            handle_tx.send(server.handle()).unwrap();
            server.await
        })
    });
    let handle = handle_rx.recv().unwrap();
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--unix-socket"])
        .arg(&path)
        .arg("http://localhost/")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello from actix\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    rt.block_on(handle.stop(true));
    server.join().unwrap().unwrap();
    // actix-server itself removes the file named by `getsockname` when it
    // deregisters the listener: now the path. The guard finds it gone.
    drop(unlink);
    assert!(
        !path.exists(),
        "the socket file is gone after the server stopped"
    );
}
