//! Starters racing on one path, with or without a stale socket
//! there, end with exactly one winner; the others get `InUse`, and nobody
//! unlinks the socket the winner has just bound.

use std::os::unix::net::UnixStream;
use std::sync::{Arc, Barrier};
use std::thread;

use crate::support::{Holder, Outcome, exists, ino, make_stale, runtime, tempdir};
use safe_unix_listener::{BindErrorKind, SafeUnixListener};

#[test]
fn sixteen_threads_race_and_each_round_has_one_winner() {
    const STARTERS: usize = 16;
    let dir = tempdir();
    let path = dir.path().join("app.sock");
    let rt = runtime();
    // The mode widens the window between bind and listen, in which an
    // unlocked starter would see a refused connection, take the new socket
    // for stale and remove it: without the bind lock this fails in a few
    // dozen rounds.
    for round in 0..100 {
        if round % 2 == 0 {
            make_stale(&path);
        }
        let barrier = Arc::new(Barrier::new(STARTERS));
        let results: Vec<_> = (0..STARTERS)
            .map(|_| {
                let (barrier, path, handle) = (barrier.clone(), path.clone(), rt.handle().clone());
                thread::spawn(move || {
                    let _enter = handle.enter();
                    barrier.wait();
                    SafeUnixListener::builder(&path).mode(0o600).bind()
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect();

        let (won, lost): (Vec<_>, Vec<_>) = results.into_iter().partition(Result::is_ok);
        assert_eq!(
            won.len(),
            1,
            "round {round}: exactly one winner; losers: {lost:?}"
        );
        for e in lost.iter().map(|r| r.as_ref().unwrap_err()) {
            assert_eq!(e.kind(), BindErrorKind::InUse, "round {round}: {e}");
        }
        // The winner's socket is at the path and answers.
        UnixStream::connect(&path)
            .unwrap_or_else(|e| panic!("round {round}: winner unreachable: {e}"));
        drop(won);
        assert!(!exists(&path), "round {round}: the winner cleaned up");
    }
}

#[test]
fn six_processes_race_on_a_stale_socket() {
    let dir = tempdir();
    let path = dir.path().join("app.sock");
    make_stale(&path);

    let starters = Holder::race(6, &path);

    let winners: Vec<&Holder> = starters
        .iter()
        .filter(|h| matches!(h.outcome, Outcome::Bound { .. }))
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "{:?}",
        starters.iter().map(|h| &h.outcome).collect::<Vec<_>>()
    );
    assert_eq!(
        winners[0].outcome,
        Outcome::Bound {
            ino: Some(ino(&path))
        },
        "the winner's socket is at the path"
    );
    for h in &starters {
        if let Outcome::Failed { kind, message } = &h.outcome {
            assert_eq!(kind, "InUse", "{message}");
            assert!(message.contains("is listening on it"), "{message}");
        }
    }
    UnixStream::connect(&path).expect("the winner answers");
    for h in starters {
        assert!(h.release(), "every starter exits cleanly");
    }
    assert!(!exists(&path), "the winner removed its socket on exit");
}
