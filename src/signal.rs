//! [`shutdown_signal`]: a future that resolves on SIGINT or SIGTERM, so a
//! server returns from `main` and its listener's drop removes the socket.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::signal::unix::{Signal, SignalKind, signal};

/// Listens for SIGINT and SIGTERM from now on; the returned future resolves
/// at the first of them.
///
/// Without it, either signal ends the process at once, Drop never runs, and
/// the socket file is left behind. Call it early, inside a Tokio runtime,
/// so that a signal sent during start-up is not lost.
///
/// # Errors
///
/// The OS error, if a handler cannot be installed, or
/// [`io::ErrorKind::Other`] outside a Tokio runtime.
///
/// ```no_run
/// use futures_util::StreamExt;
/// use safe_unix_listener::{SafeUnixListener, shutdown_signal};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let mut listener = SafeUnixListener::bind("/run/app/app.sock")?;
/// let mut stop = shutdown_signal()?;
/// loop {
///     tokio::select! {
///         _ = &mut stop => break,
///         Some(conn) = listener.next() => drop(conn?),
///     }
/// }
/// // `listener` drops here and its socket file is removed.
/// # Ok(()) }
/// ```
pub fn shutdown_signal() -> io::Result<ShutdownSignal> {
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(io::Error::other(
            "shutdown_signal must be called inside a Tokio runtime",
        ));
    }
    Ok(ShutdownSignal {
        interrupt: signal(SignalKind::interrupt())?,
        terminate: signal(SignalKind::terminate())?,
    })
}

/// Resolves on SIGINT or SIGTERM; from [`shutdown_signal`].
#[must_use = "futures do nothing unless polled"]
pub struct ShutdownSignal {
    interrupt: Signal,
    terminate: Signal,
}

impl Future for ShutdownSignal {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.interrupt.poll_recv(cx).is_ready() {
            tracing::info!("received SIGINT, shutting down");
            return Poll::Ready(());
        }
        if self.terminate.poll_recv(cx).is_ready() {
            tracing::info!("received SIGTERM, shutting down");
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

impl fmt::Debug for ShutdownSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ShutdownSignal(SIGINT | SIGTERM)")
    }
}
