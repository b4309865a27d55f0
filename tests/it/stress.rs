//! Stress and fault tests, each bounded to a few seconds on 2 cores:
//! restarts after `kill -9`, many racing processes, and descriptor leaks.
//! (Accept under descriptor exhaustion is in tests/accept.rs.)

use std::fs;

use crate::support::{
    Holder, Outcome, exists, helper, make_stale, signal, spawn_example, tempdir, wait_listening,
};
use nix::sys::signal::Signal;
use safe_unix_listener::SafeUnixListener;

#[test]
fn two_hundred_kill_9_restarts_on_one_path_never_fail_to_start() {
    let dir = tempdir();
    let path = dir.path().join("echo.sock");
    let shown = path.display().to_string();
    for cycle in 0..200 {
        let mut server = spawn_example("echo", &[&shown]);
        let first = wait_listening(&mut server);
        assert!(first.contains(&shown), "cycle {cycle}: {first}");
        signal(&server, Signal::SIGKILL);
        server.wait().unwrap();
        assert!(
            exists(&path),
            "cycle {cycle}: kill -9 leaves the socket behind"
        );
    }
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["echo.sock"], "only the last stale socket is left");
}

#[test]
fn sixteen_processes_twenty_rounds_exactly_one_winner_each() {
    let dir = tempdir();
    let path = dir.path().join("race.sock");
    for round in 0..20 {
        if round % 2 == 1 {
            make_stale(&path);
        }
        let starters = Holder::race(16, &path);
        let mut winners = 0;
        for h in &starters {
            match &h.outcome {
                Outcome::Bound { .. } => winners += 1,
                Outcome::Failed { kind, message } => {
                    assert_eq!(kind, "InUse", "round {round}: {message}")
                }
            }
        }
        assert_eq!(winners, 1, "round {round}");
        for h in starters {
            assert!(
                h.release(),
                "round {round}: a starter failed to exit cleanly"
            );
        }
        assert!(!exists(&path), "round {round}: the winner cleaned up");
    }
}

fn open_fds() -> usize {
    fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
#[ignore = "helper: run in a child process by the other tests"]
fn helper_ten_thousand_connections() {
    if std::env::var_os("SUL_HELPER").is_none() {
        return;
    }
    let dir = tempdir();
    let path = dir.path().join("leak.sock");
    let rt = crate::support::runtime();
    rt.block_on(async {
        let listener = SafeUnixListener::bind(&path).unwrap();
        let before = open_fds();
        for _ in 0..10_000 {
            let client = tokio::net::UnixStream::connect(&path).await.unwrap();
            let (server, _) = listener.accept().await.unwrap();
            drop((client, server));
        }
        println!("\nFDS {before} {}", open_fds());
    });
}

#[test]
fn no_descriptor_leaks_after_ten_thousand_connections() {
    let out = helper("stress::helper_ten_thousand_connections", None)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("FDS "))
        .expect("a count");
    let (before, after) = line.split_once(' ').unwrap();
    assert_eq!(
        before, after,
        "descriptors open before and after 10,000 connections"
    );
}
