//! What an accept error means, and the back-off after one that is not about
//! a single connection.
//!
//! A connection error (the client went away before we accepted it) says
//! nothing about the listener: it is skipped and the next connection is
//! accepted at once. Any other error (EMFILE, ENFILE, ENOBUFS, ENOMEM, …)
//! would come back at once if retried, since the connection is still queued
//! and the socket stays readable; so it is handed to the caller and the next
//! accept waits, 5 ms at first, doubling up to 1 s, until one succeeds.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use nix::errno::Errno;
use tokio::time::{Instant, Sleep};

const FIRST_DELAY: Duration = Duration::from_millis(5);
const MAX_DELAY: Duration = Duration::from_secs(1);

/// Whether `e` concerns one connection only, so the next accept may follow
/// at once.
pub(crate) fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
    ) || e.raw_os_error() == Some(Errno::EPROTO as i32)
}

/// The pause imposed after an error that is not a connection error, shared
/// by every task accepting on one listener.
///
/// The pause is a deadline, not a timer: each task waiting in
/// [`wait`](Self::wait) sleeps on a timer of its own, so all of them wake
/// when it is over. [`poll_ready`](Self::poll_ready), for the single
/// consumer of `poll_accept`, keeps one timer.
#[derive(Debug)]
pub(crate) struct Backoff(Mutex<State>);

#[derive(Debug)]
struct State {
    until: Option<Instant>,
    next_delay: Duration,
    timer: Option<Pin<Box<Sleep>>>,
}

impl Backoff {
    pub(crate) fn new() -> Self {
        Self(Mutex::new(State {
            until: None,
            next_delay: FIRST_DELAY,
            timer: None,
        }))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Returns once the current pause, if any, is over.
    pub(crate) async fn wait(&self) {
        let until = self.state().until;
        if let Some(until) = until {
            tokio::time::sleep_until(until).await;
        }
    }

    /// Ready once the current pause, if any, is over.
    pub(crate) fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.state();
        let Some(until) = state.until else {
            return Poll::Ready(());
        };
        let timer = state
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(until)));
        if timer.deadline() != until {
            timer.as_mut().reset(until);
        }
        timer.as_mut().poll(cx)
    }

    /// Starts a pause, longer than the last one.
    pub(crate) fn failed(&self) {
        let mut state = self.state();
        state.until = Some(Instant::now() + state.next_delay);
        state.next_delay = (state.next_delay * 2).min(MAX_DELAY);
    }

    /// Ends the pause and resets its length.
    pub(crate) fn succeeded(&self) {
        let mut state = self.state();
        state.until = None;
        state.next_delay = FIRST_DELAY;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_errors() {
        for kind in [
            io::ErrorKind::ConnectionAborted,
            io::ErrorKind::ConnectionReset,
        ] {
            assert!(is_connection_error(&io::Error::from(kind)));
        }
        assert!(is_connection_error(&io::Error::from_raw_os_error(
            Errno::EPROTO as i32
        )));
        for errno in [
            Errno::EMFILE,
            Errno::ENFILE,
            Errno::ENOBUFS,
            Errno::ENOMEM,
            Errno::EBADF,
        ] {
            let e = io::Error::from_raw_os_error(errno as i32);
            assert!(!is_connection_error(&e), "{errno}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn delay_doubles_up_to_a_second_and_resets() {
        let b = Backoff::new();
        let mut seen = Vec::new();
        for _ in 0..10 {
            b.failed();
            let start = tokio::time::Instant::now();
            std::future::poll_fn(|cx| b.poll_ready(cx)).await;
            seen.push(start.elapsed().as_millis());
        }
        assert_eq!(seen, [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        b.succeeded();
        b.failed();
        let start = tokio::time::Instant::now();
        std::future::poll_fn(|cx| b.poll_ready(cx)).await;
        assert_eq!(start.elapsed().as_millis(), 5);
    }

    #[tokio::test(start_paused = true)]
    async fn every_waiting_task_wakes_when_the_pause_ends() {
        let b = std::sync::Arc::new(Backoff::new());
        b.failed();
        let start = Instant::now();
        let waiters: Vec<_> = (0..4)
            .map(|_| {
                let b = b.clone();
                tokio::spawn(async move { b.wait().await })
            })
            .collect();
        for w in waiters {
            w.await.unwrap();
        }
        assert_eq!(start.elapsed().as_millis(), 5);
    }
}
