//! A stale socket (nobody listening) is removed and replaced,
//! and the removal is logged at `info` with the path.

use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixStream;

use crate::support::{Fixture, exists, in_runtime, ino, make_stale, tempdir};
use safe_unix_listener::{BindErrorKind, OnExisting, SafeUnixListener};

#[test]
fn stale_socket_is_replaced_and_the_removal_logged() {
    let dir = tempdir();
    let path = dir.path().join("app.sock");
    let stale_ino = make_stale(&path);
    // A second link keeps the stale inode alive, so its number cannot be
    // reused for the new socket and the comparison below means something.
    std::fs::hard_link(&path, dir.path().join("stale-link")).unwrap();
    assert!(
        UnixStream::connect(&path).is_err(),
        "the stale socket refuses connections"
    );

    crate::support::captured_log();
    in_runtime(|rt| {
        let listener =
            SafeUnixListener::bind(&path).expect("a stale socket must not block the bind");

        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert!(meta.file_type().is_socket());
        assert_ne!(ino(&path), stale_ino, "a new socket replaced the stale one");
        assert!(
            !exists(&crate::support::lock_file(&path)),
            "the lock file is removed after bind"
        );

        let client = UnixStream::connect(&path).expect("the new socket accepts");
        let (server, _) = rt.block_on(listener.accept()).unwrap();
        assert_eq!(
            server.peer_cred().unwrap().pid(),
            Some(std::process::id() as i32)
        );
        drop(client);

        let log = crate::support::captured_log();
        let line = log
            .lines()
            .find(|l| l.contains("removed stale socket") && l.contains(&path.display().to_string()))
            .unwrap_or_else(|| panic!("no removal of {} logged in:\n{log}", path.display()));
        assert!(line.contains("INFO"), "{line}");
    });
}

#[test]
fn fail_policy_keeps_even_a_stale_socket() {
    let dir = tempdir();
    let path = dir.path().join("app.sock");
    let stale_ino = make_stale(&path);
    in_runtime(|_| {
        let err = SafeUnixListener::builder(&path)
            .on_existing(OnExisting::Fail)
            .bind()
            .unwrap_err();
        assert_eq!(err.kind(), BindErrorKind::InUse);
        assert!(err.to_string().contains("OnExisting::Fail"), "{err}");
        assert_eq!(ino(&path), stale_ino, "the stale socket is untouched");
    });
}

#[test]
fn stale_socket_is_replaced_again_and_again() {
    Fixture::new().run(|Fixture { dir, path, .. }| {
        make_stale(path);
        for round in 0..20 {
            let keep = dir.path().join(format!("stale-{round}"));
            std::fs::hard_link(path, &keep).unwrap();
            let listener = SafeUnixListener::bind(path).unwrap();
            assert_ne!(ino(path), ino(&keep), "round {round}: a new socket");
            UnixStream::connect(path).expect("the new socket accepts");
            // Leave it behind as if the process had died.
            drop(listener.into_inner());
            assert!(exists(path), "into_inner leaves the file in place");
        }
    });
}

/// Another thread spawning children while a listener is closed and its path
/// bound again: each child holds a copy of the closed listener between its
/// `fork` and its `exec`, and that copy answers the probe for a moment. The
/// bind tells it from a live listener of ours (none holds the socket) and
/// probes again until the copy is gone, so every rebind succeeds.
#[test]
fn a_closed_listener_held_by_a_spawning_child_is_not_taken_for_live() {
    Fixture::new().run(|Fixture { path, .. }| {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let spawner = std::thread::spawn({
            let stop = stop.clone();
            move || {
                let mut children = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    std::process::Command::new("true").status().unwrap();
                    children += 1;
                }
                children
            }
        });
        for round in 0..300 {
            let listener =
                SafeUnixListener::bind(path).unwrap_or_else(|e| panic!("round {round}: {e}"));
            // Closed, and the file left, as a crashed server leaves it.
            drop(listener.into_inner());
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(
            spawner.join().unwrap() > 0,
            "children were spawned meanwhile"
        );
    });
}
