//! Socket paths longer than `sun_path` (107 bytes): bound, reached,
//! inspected, cleaned and removed through the directory's descriptor, on
//! Linux, with every step of the bind sequence as for a short path.
#![cfg(any(target_os = "linux", target_os = "android"))]

use std::path::{Path, PathBuf};

use safe_unix_listener::diagnosis::{Found, inspect};
use safe_unix_listener::{BindErrorKind, SafeUnixListener, UnixAddr};

use crate::support::{exists, in_runtime, ino, runtime, tempdir};

/// `len` bytes of path under `root`: nested directories of 200-byte
/// names, made, and `app.sock` at the end.
fn long_path(root: &Path, len: usize) -> PathBuf {
    let mut dir = root.to_owned();
    while dir.as_os_str().len() + 1 + "app.sock".len() < len {
        let left = len - dir.as_os_str().len() - 1 - "app.sock".len() - 1;
        dir.push("d".repeat(left.clamp(1, 200)));
    }
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("app.sock");
    assert!(path.as_os_str().len() >= len, "{}", path.display());
    path
}

/// Bind, a round trip through `UnixAddr::connect`, a live bind refused,
/// a stale socket replaced, `inspect` and a drop, at `len` bytes.
fn the_life_of_a_long_path(len: usize) {
    let dir = tempdir();
    let path = long_path(dir.path(), len);
    let addr = UnixAddr::from_path(&path).unwrap();
    let rt = runtime();
    rt.block_on(async {
        let listener = SafeUnixListener::bind(&path).unwrap();
        let bound = ino(&path);
        let client = addr.connect().await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        client.try_write(b"ping").unwrap();
        server.readable().await.unwrap();
        let mut buf = [0; 4];
        assert_eq!(server.try_read(&mut buf).unwrap(), 4);
        assert_eq!(&buf, b"ping");

        let e = SafeUnixListener::bind(&path).unwrap_err();
        assert_eq!(e.kind(), BindErrorKind::InUse, "{e}");
        assert!(matches!(inspect(&addr).found(), Found::Live(_)));
        assert_eq!(ino(&path), bound, "the live socket was left alone");

        // A dead server's socket: no unlink at drop.
        let mut listener = listener;
        listener.set_unlink_on_drop(false);
        drop(listener);
        assert!(matches!(inspect(&addr).found(), Found::Stale { .. }));
        let again = SafeUnixListener::bind(&path).unwrap();
        let _client = addr.connect().await.unwrap();
        drop(again);
        assert!(!exists(&path), "the drop removed it");
    });
}

#[test]
fn a_300_byte_path_is_bound_reached_replaced_and_removed() {
    crate::support::captured_log();
    the_life_of_a_long_path(300);
    let log = crate::support::captured_log();
    assert!(
        log.contains("longer than the 107 that clients not built on this crate (curl, nginx, Python) can reach"),
        "{log}"
    );
}

#[test]
fn a_3000_byte_path_is_bound_reached_replaced_and_removed() {
    the_life_of_a_long_path(3000);
}

#[test]
fn a_long_path_with_a_long_last_component_names_it() {
    let dir = tempdir();
    let short = long_path(dir.path(), 300);
    let path = short.with_file_name("n".repeat(108));
    let e = UnixAddr::from_path(&path).unwrap_err();
    assert_eq!(e.kind(), BindErrorKind::PathTooLong);
    let msg = e.to_string();
    assert!(
        msg.contains("which leaves at most 82 bytes for its last component, and that is 108 bytes"),
        "{msg}"
    );
    // And past PATH_MAX, nothing is tried.
    let huge = PathBuf::from(format!("/tmp/{}", "x/".repeat(2100)));
    let e = UnixAddr::from_path(huge.join("s")).unwrap_err();
    assert_eq!(e.kind(), BindErrorKind::PathTooLong);
}

/// In a directory every user may write, the socket goes through the
/// private directory, at any depth too.
#[test]
fn a_long_path_in_a_shared_directory_goes_through_the_private_directory() {
    let dir = tempdir();
    let path = long_path(dir.path(), 400);
    std::fs::set_permissions(
        path.parent().unwrap(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let rt = runtime();
    rt.block_on(async {
        let listener = SafeUnixListener::builder(&path).mode(0o600).bind().unwrap();
        let _client = UnixAddr::from_path(&path).unwrap().connect().await.unwrap();
        let _ = listener.accept().await.unwrap();
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::symlink_metadata(&path).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
    });
}

#[cfg(feature = "hyper")]
#[test]
fn hyper_reaches_a_server_at_a_long_path() {
    use http_body_util::{BodyExt, Empty};
    use hyper::body::Bytes;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;

    let dir = tempdir();
    let path = long_path(dir.path(), 500);
    let rt = runtime();
    rt.block_on(async {
        let listener = SafeUnixListener::bind(&path).unwrap();
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let service = hyper::service::service_fn(|_req| async {
                Ok::<_, std::convert::Infallible>(hyper::Response::new(http_body_util::Full::new(
                    Bytes::from_static(b"deep"),
                )))
            });
            hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await
                .unwrap();
        });
        let connector =
            safe_unix_listener::http::UnixConnector::new(UnixAddr::from_path(&path).unwrap());
        let client: Client<_, Empty<Bytes>> =
            Client::builder(TokioExecutor::new()).build(connector);
        let response = client
            .get("http://localhost/".parse().unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"deep");
        drop(client);
        server.abort();
    });
}

/// `sul inspect` and `sul clean` at a long path.
#[cfg(feature = "cli")]
#[test]
fn sul_inspects_and_cleans_a_long_path() {
    let dir = tempdir();
    let path = long_path(dir.path(), 600);
    in_runtime(|_| {
        let mut listener = SafeUnixListener::bind(&path).unwrap();
        let sul = |args: &[&str]| {
            std::process::Command::new(env!("CARGO_BIN_EXE_sul"))
                .args(args)
                .output()
                .unwrap()
        };
        let shown = path.display().to_string();
        let out = sul(&["inspect", &shown]);
        assert_eq!(out.status.code(), Some(4), "live");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.starts_with(&format!("{shown}: a live server is listening")),
            "{stdout}"
        );
        listener.set_unlink_on_drop(false);
        drop(listener);
        let out = sul(&["inspect", &shown]);
        assert_eq!(out.status.code(), Some(3), "stale");
        let out = sul(&["clean", &shown]);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("removed the stale socket {shown}\n")
        );
        assert!(!exists(&path));
    });
}
