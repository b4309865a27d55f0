//! The public API: auto traits, conversions and Debug output.

use std::fmt::Debug;

use crate::support::{Fixture, in_runtime};
use safe_unix_listener::{
    BindError, BindErrorKind, Builder, OnExisting, SafeUnixListener, ShutdownSignal, UnixAddr,
};

fn is_send_sync_unpin<T: Send + Sync + Unpin + Debug>() {}

#[test]
fn public_types_are_send_sync_unpin_and_debug() {
    is_send_sync_unpin::<SafeUnixListener>();
    is_send_sync_unpin::<UnixAddr>();
    is_send_sync_unpin::<BindError>();
    is_send_sync_unpin::<BindErrorKind>();
    is_send_sync_unpin::<Builder>();
    is_send_sync_unpin::<OnExisting>();
    fn send_unpin<T: Send + Unpin + Debug>() {}
    send_unpin::<ShutdownSignal>();
}

#[test]
fn the_listener_is_a_stream_of_tokio_unix_streams() {
    fn stream<S: futures_core::Stream<Item = std::io::Result<tokio::net::UnixStream>>>() {}
    stream::<SafeUnixListener>();
}

#[test]
fn debug_shows_the_address_and_the_unlink_state() {
    Fixture::new().run(|Fixture { path, .. }| {
        let l = SafeUnixListener::bind(path).unwrap();
        let shown = format!("{l:?}");
        assert!(shown.contains(&path.display().to_string()), "{shown}");
        assert!(shown.contains("unlink_on_drop: true"), "{shown}");
        assert_eq!(l.addr().as_path(), Some(path.as_path()));
    });
}

#[test]
fn bind_errors_become_io_errors_with_the_same_words() {
    in_runtime(|_| {
        let err = SafeUnixListener::bind("").unwrap_err();
        let words = err.to_string();
        let io: std::io::Error = err.into();
        assert_eq!(io.kind(), std::io::ErrorKind::InvalidInput);
        assert_eq!(io.to_string(), words);
        let inner = io
            .get_ref()
            .and_then(|e| e.downcast_ref::<BindError>())
            .unwrap();
        assert_eq!(inner.kind(), BindErrorKind::InvalidAddress);
    });
}

#[test]
fn shutdown_signal_outside_a_runtime_is_an_error() {
    let err = safe_unix_listener::shutdown_signal().unwrap_err();
    assert!(err.to_string().contains("inside a Tokio runtime"), "{err}");
}
