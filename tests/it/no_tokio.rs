//! The bind without Tokio: `Builder::bind_std` and
//! `Builder::bind_datagram_std` in a process with no Tokio runtime at all,
//! served by a std thread and by another runtime (async-io), and the
//! socket file removed when the guard drops.

use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use safe_unix_listener::{Builder, SafeUnixDatagram, UnlinkOnDrop};

use crate::support::{exists, helper, make_stale_with_mode, tempdir};

/// Runs `helper` in a child process (this test binary, that test alone:
/// no Tokio runtime exists in it) with `SUL_PATH=path`; returns its output.
fn run(name: &str, path: &Path) -> String {
    let out = helper(&format!("no_tokio::{name}"), None)
        .env("SUL_PATH", path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// `$SUL_PATH`, in a helper with no runtime; `None` in the ordinary run.
fn helper_path() -> Option<PathBuf> {
    let path = PathBuf::from(std::env::var_os("SUL_PATH")?);
    assert!(
        tokio::runtime::Handle::try_current().is_err(),
        "the helper runs with no Tokio runtime"
    );
    Some(path)
}

/// The socket file's mode, and whether its guard will remove it.
fn report(path: &Path, unlink: &UnlinkOnDrop) {
    let meta = std::fs::symlink_metadata(path).unwrap();
    assert!(meta.file_type().is_socket(), "{path:?}");
    println!(
        "\nMODE {:o} ARMED {}",
        meta.permissions().mode() & 0o7777,
        unlink.is_armed()
    );
}

#[test]
#[ignore = "helper: run in a child process by the other tests"]
fn helper_std_thread() {
    let Some(path) = helper_path() else { return };
    let (listener, unlink) = Builder::new(&path).mode(0o600).bind_std().unwrap();
    assert!(!is_nonblocking(&listener), "left blocking, as std's own");
    report(&path, &unlink);
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut line = [0; 5];
        stream.read_exact(&mut line).unwrap();
        stream.write_all(&line).unwrap();
    });
    let mut client = UnixStream::connect(&path).unwrap();
    client.write_all(b"hello").unwrap();
    let mut echoed = String::new();
    client.read_to_string(&mut echoed).unwrap();
    server.join().unwrap();
    println!("ECHO {echoed}");
    drop(unlink);
    println!("GONE {}", !path.exists());
}

#[test]
#[ignore = "helper: run in a child process by the other tests"]
fn helper_async_io() {
    let Some(path) = helper_path() else { return };
    let (listener, unlink) = Builder::new(&path).bind_std().unwrap();
    report(&path, &unlink);
    async_io::block_on(async {
        use futures_lite::{AsyncReadExt, AsyncWriteExt};
        let listener = async_io::Async::new(listener).unwrap();
        let client = std::thread::spawn({
            let path = path.clone();
            move || {
                let mut client = UnixStream::connect(&path).unwrap();
                client.write_all(b"hello").unwrap();
                let mut echoed = String::new();
                client.read_to_string(&mut echoed).unwrap();
                echoed
            }
        });
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut line = [0; 5];
        stream.read_exact(&mut line).await.unwrap();
        stream.write_all(&line).await.unwrap();
        drop(stream);
        println!("ECHO {}", client.join().unwrap());
    });
    drop(unlink);
    println!("GONE {}", !path.exists());
}

#[test]
#[ignore = "helper: run in a child process by the other tests"]
fn helper_datagram_std() {
    let Some(path) = helper_path() else { return };
    let (rx, unlink) = SafeUnixDatagram::builder(&path)
        .mode(0o620)
        .bind_datagram_std()
        .unwrap();
    report(&path, &unlink);
    UnixDatagram::unbound()
        .unwrap()
        .send_to(b"requests:1|c", &path)
        .unwrap();
    let mut buf = [0; 64];
    let n = rx.recv(&mut buf).unwrap();
    println!("GOT {}", String::from_utf8_lossy(&buf[..n]));
    drop(unlink);
    println!("GONE {}", !path.exists());
}

fn is_nonblocking(listener: &UnixListener) -> bool {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    let flags = fcntl(listener, FcntlArg::F_GETFL).unwrap();
    OFlag::from_bits_truncate(flags).contains(OFlag::O_NONBLOCK)
}

/// A stale socket, mode 0777, where a crashed run left it: a bind replaces
/// it, as a Tokio bind does.
fn stale_at(dir: &Path) -> PathBuf {
    let path = dir.join("app.sock");
    make_stale_with_mode(&path, 0o777);
    path
}

fn field<'a>(out: &'a str, key: &str) -> &'a str {
    out.split_whitespace()
        .skip_while(|w| *w != key)
        .nth(1)
        .unwrap_or_else(|| panic!("no {key} in {out}"))
}

#[test]
fn bind_std_serves_a_std_thread_and_its_guard_removes_the_file() {
    let dir = tempdir();
    let path = stale_at(dir.path());
    let out = run("helper_std_thread", &path);
    assert_eq!(
        field(&out, "MODE"),
        "600",
        "the stale 0777 one replaced: {out}"
    );
    assert_eq!(field(&out, "ARMED"), "true", "{out}");
    assert_eq!(field(&out, "ECHO"), "hello", "{out}");
    assert_eq!(field(&out, "GONE"), "true", "{out}");
    assert!(!exists(&path));
}

#[test]
fn bind_std_serves_async_io_and_its_guard_removes_the_file() {
    let dir = tempdir();
    let path = stale_at(dir.path());
    let out = run("helper_async_io", &path);
    assert_eq!(field(&out, "ECHO"), "hello", "{out}");
    assert_eq!(field(&out, "GONE"), "true", "{out}");
    assert!(!exists(&path));
}

#[test]
fn bind_datagram_std_receives_and_its_guard_removes_the_file() {
    let dir = tempdir();
    let path = dir.path().join("metrics.sock");
    let out = run("helper_datagram_std", &path);
    assert_eq!(field(&out, "MODE"), "620", "{out}");
    assert_eq!(field(&out, "GOT"), "requests:1|c", "{out}");
    assert_eq!(field(&out, "GONE"), "true", "{out}");
    assert!(!exists(&path));
}

/// A live server at the path is refused without Tokio as with it, and
/// left alone.
#[test]
fn bind_std_refuses_a_live_socket_and_leaves_it() {
    let dir = tempdir();
    let path = dir.path().join("app.sock");
    let _live = UnixListener::bind(&path).unwrap();
    let before = std::fs::symlink_metadata(&path).unwrap().ino();
    let err = Builder::new(&path).bind_std().unwrap_err();
    assert_eq!(
        err.kind(),
        safe_unix_listener::BindErrorKind::InUse,
        "{err}"
    );
    assert!(err.to_string().contains("is listening on it"), "{err}");
    assert_eq!(std::fs::symlink_metadata(&path).unwrap().ino(), before);
}
