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
use std::task::{Context, Poll, ready};
use std::time::Duration;

use nix::errno::Errno;
use tokio::time::Sleep;

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

/// The pause imposed after an error that is not a connection error.
#[derive(Debug)]
pub(crate) struct Backoff {
    next_delay: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl Backoff {
    pub(crate) fn new() -> Self {
        Self {
            next_delay: FIRST_DELAY,
            sleep: None,
        }
    }

    /// Ready once the current pause, if any, is over.
    pub(crate) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(sleep) = &mut self.sleep {
            ready!(sleep.as_mut().poll(cx));
            self.sleep = None;
        }
        Poll::Ready(())
    }

    /// Starts a pause, longer than the last one.
    pub(crate) fn failed(&mut self) {
        self.sleep = Some(Box::pin(tokio::time::sleep(self.next_delay)));
        self.next_delay = (self.next_delay * 2).min(MAX_DELAY);
    }

    pub(crate) fn succeeded(&mut self) {
        self.next_delay = FIRST_DELAY;
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
        let mut b = Backoff::new();
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
}
