//! HTTP over a Unix socket (feature `hyper`): [`HyperServer`] serves a
//! hyper service over HTTP/1 and HTTP/2 with graceful shutdown, and
//! [`UnixConnector`] lets hyper-util's client, and tonic's, reach a Unix
//! socket.
//!
//! axum needs no module: with the `axum` feature, `axum::serve(listener,
//! app)` takes a [`SafeUnixListener`](crate::SafeUnixListener) as it is.

pub use crate::connector::UnixConnector;
pub use crate::hyper1::HyperServer;
