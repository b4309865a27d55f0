//! HTTP over a Unix socket (feature `hyper`): [`HyperServer`] serves a
//! hyper service over HTTP/1 and HTTP/2 with graceful shutdown, and
//! [`UnixConnector`] lets hyper-util's client, and tonic's, reach a Unix
//! socket.
//!
//! axum needs no module: with the `axum` feature, `axum::serve(listener,
//! app)` takes a [`SafeUnixListener`](crate::SafeUnixListener) as it is.

//!
//! # Serving hyper
//!
//! **hyper** (feature `hyper`): `HyperServer` serves a hyper `Service` over HTTP/1 and HTTP/2, one task per connection, with the peer's `PeerInfo` in each request's extensions. On shutdown it stops accepting and drops the listener, so the socket file is gone at once. It then waits for requests in flight, up to a grace period (30 s by default). So that a local user cannot hold its descriptors, it has a header-read timeout (30 s), an idle timeout (60 s: no request in flight and no byte moved), and a connection limit (1024; past it, new connections wait in the kernel's backlog), each a builder option.
//!
//! ```rust,no_run
//! use http_body_util::Full;
//! use hyper::body::{Bytes, Incoming};
//! use hyper::{Request, Response};
//! use safe_unix_listener::{SafeUnixListener, shutdown_signal};
//! use safe_unix_listener::http::HyperServer;
//!
//! async fn handler(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
//!     Ok(Response::new(Full::new(Bytes::from("hello\n"))))
//! }
//!
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     HyperServer::new(SafeUnixListener::bind("/run/app/app.sock")?)
//!         .grace_period(std::time::Duration::from_secs(10))
//!         .serve(hyper::service::service_fn(handler), shutdown_signal()?)
//!         .await;
//!     Ok(())
//! }
//! ```
//!
//! # Testing your server
//!
#![cfg_attr(
    feature = "axum",
    doc = r#"
With the `hyper` feature, `UnixConnector` connects hyper-util's client to one `UnixAddr`, whatever the URI's host, over HTTP/1 or (with `http2_only(true)`) HTTP/2. An axum app, tested end to end (this is `tests/it/axum.rs`):

```rust
use axum::{Router, routing::get};
use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use safe_unix_listener::SafeUnixListener;
use safe_unix_listener::http::UnixConnector;

fn app() -> Router {
    Router::new().route("/", get(|| async { "hello" }))
}

#[tokio::main] // #[tokio::test] in a test file
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = SafeUnixListener::bind_temp()?;
    let connector = UnixConnector::new(listener.addr().clone());
    tokio::spawn(async move { axum::serve(listener, app()).await });

    let client = Client::builder(TokioExecutor::new()).build::<_, Empty<Bytes>>(connector);
    let response = client.get("http://localhost/".parse()?).await?;
    assert_eq!(response.status(), 200);
    Ok(())
}
```

The same connector works for a tonic client: `Endpoint::from_static("http://localhost").connect_with_connector(UnixConnector::new(addr))`. `tests/it/grpc.rs` serves tonic's gRPC health service on a `bind_temp()` socket and checks that it answers `SERVING`.
"#
)]
//!
//! # Behind nginx
//!
//! nginx's workers run as another user (`www-data` on Debian), and connecting to a Unix socket needs write permission on it. With the umask's mode 0755 every request gets 502, and nginx's error log says `connect() to unix:/tmp/app.sock failed (13: Permission denied)`. Give the socket to nginx's group:
//!
//! ```sh
//! cargo run --example axum_hello --features axum -- --mode 0660 --group www-data /tmp/app.sock
//! ```
//!
//! In code, that is `.mode(0o660).group(gid)` on the builder. At start-up the examples say who can connect, and warn when nobody but the owner can:
//!
//! ```text
//! INFO only root (uid 0) and members of group www-data (gid 33) can connect to /tmp/app.sock (mode 0660)
//! WARN only root (uid 0) can connect to /tmp/app.sock (mode 0755); other users, such as a proxy's workers, get EACCES: give their group access with --mode 0660 --group NAME
//! ```
//!
//! The nginx side, complete and minimal:
//!
//! ```nginx
//! upstream app {
//!     server unix:/tmp/app.sock;
//!     keepalive 16;                     # reuse connections to the app
//! }
//!
//! server {
//!     listen 80;
//!     location / {
//!         proxy_pass http://app;
//!         proxy_http_version 1.1;       # keepalive needs HTTP/1.1 to the app,
//!         proxy_set_header Connection ""; # and no "Connection: close"
//!     }
//! }
//! ```
//!
//! Under systemd, either let systemd make the socket with `SocketMode=0660` and `SocketGroup=www-data` in the `.socket` unit (see [`systemd`](crate::systemd)), or let the service bind it: `ExecStart=/usr/local/bin/app --mode 0660 --group www-data /run/app/app.sock` with `RuntimeDirectory=app`. A service that does not run as root may only give its socket to a group it is in, so add `SupplementaryGroups=www-data` next to `User=`.
//!
//! `tests/it/nginx.rs` runs this with the real nginx (workers as `nobody`, its own configuration in a temp directory; it skips, saying so, when nginx is not installed; `.ci/run` installs `nginx-light`). It checks that a request returns 200 and reaches the app from the worker's uid. It checks that a wrong mode gives a 502, with EACCES in nginx's log and the app's warning at start-up. It checks that a request in flight at SIGTERM completes with 200. Finally, it runs a `--takeover` restart while 16 clients send requests through nginx: about 6,000 requests a run, every one answered 200.

pub use crate::connector::UnixConnector;
pub use crate::hyper1::HyperServer;
