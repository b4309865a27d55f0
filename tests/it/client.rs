//! `UnixAddr::connect`, the client side: a path, an abstract name, and
//! errors that name the address.

use std::io::ErrorKind;

use safe_unix_listener::{SafeUnixListener, UnixAddr};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{NOBODY, helper, make_stale, tempdir, tempdir_with_mode};

/// A round trip through `connect` to `listener`.
async fn round_trip(listener: &SafeUnixListener) {
    let mut client = listener.addr().connect().await.unwrap();
    let (mut server, _) = listener.accept().await.unwrap();
    client.write_all(b"ping").await.unwrap();
    let mut buf = [0; 4];
    server.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"ping");
}

#[tokio::test]
async fn connect_reaches_a_path_and_an_abstract_name() {
    let dir = tempdir();
    round_trip(&SafeUnixListener::bind(dir.path().join("app.sock")).unwrap()).await;
    if cfg!(any(target_os = "linux", target_os = "android")) {
        let name = format!("sul-client-test-{}", std::process::id());
        round_trip(&SafeUnixListener::bind_abstract(&name).unwrap()).await;
    }
}

#[tokio::test]
async fn connect_errors_name_the_address() {
    let dir = tempdir();
    let missing: UnixAddr = dir.path().join("missing.sock").try_into().unwrap();
    let err = missing.connect().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(
        err.to_string()
            .starts_with(&format!("cannot connect to {missing}: ")),
        "{err}"
    );

    let stale = dir.path().join("stale.sock");
    make_stale(&stale);
    let stale: UnixAddr = stale.try_into().unwrap();
    let err = stale.connect().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    assert!(
        err.to_string()
            .starts_with(&format!("cannot connect to {stale}: ")),
        "{err}"
    );

    if cfg!(any(target_os = "linux", target_os = "android")) {
        let nobody: UnixAddr = format!("@sul-client-nobody-{}", std::process::id())
            .parse()
            .unwrap();
        let err = nobody.connect().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
        assert!(err.to_string().contains(&nobody.to_string()), "{err}");
    }
}

/// Connects to `SUL_ADDR` and prints the error's kind and message.
#[test]
#[ignore = "helper: run in a child process by the other tests"]
fn helper_connect() {
    if std::env::var_os("SUL_HELPER").is_none() {
        return;
    }
    let addr: UnixAddr = std::env::var("SUL_ADDR").unwrap().parse().unwrap();
    let rt = crate::support::runtime();
    match rt.block_on(addr.connect()) {
        Ok(_) => println!("\nCONNECTED"),
        Err(e) => println!("\nERROR {:?} {e}", e.kind()),
    }
}

#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: connecting as uid 65534")]
fn a_permission_refusal_names_the_address() {
    let dir = tempdir_with_mode(0o755);
    let path = dir.path().join("private.sock");
    let rt = crate::support::runtime();
    let _listener =
        rt.block_on(async { SafeUnixListener::builder(&path).mode(0o600).bind().unwrap() });
    let out = helper("client::helper_connect", Some(NOBODY))
        .env("SUL_ADDR", &path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "ERROR PermissionDenied cannot connect to {}: ",
            path.display()
        )),
        "{stdout}"
    );
}

#[tokio::test]
async fn autobind_gets_a_fresh_name_that_connect_reaches() {
    if !cfg!(any(target_os = "linux", target_os = "android")) {
        let err = SafeUnixListener::bind_abstract_auto().unwrap_err();
        assert_eq!(err.kind(), safe_unix_listener::BindErrorKind::Unsupported);
        return;
    }
    let first = SafeUnixListener::bind_abstract_auto().unwrap();
    let second = SafeUnixListener::bind_abstract_auto().unwrap();
    let name = first.addr().as_abstract_name().unwrap().to_vec();
    assert_eq!(
        name.len(),
        5,
        "the kernel's five hex digits: {}",
        first.addr()
    );
    assert!(name.iter().all(u8::is_ascii_hexdigit), "{}", first.addr());
    assert_ne!(first.addr(), second.addr());
    round_trip(&first).await;
    round_trip(&second).await;
    assert!(!first.unlink_on_drop(), "no file to remove");
}

/// `GET /` through a hyper-util client with `UnixConnector`: the status,
/// the HTTP version spoken and the body.
#[cfg(feature = "hyper")]
fn get_through_connector(addr: &UnixAddr, http2: bool) -> (u16, hyper::Version, String) {
    use http_body_util::{BodyExt, Empty};
    use hyper::body::Bytes;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    use safe_unix_listener::http::UnixConnector;

    crate::support::runtime().block_on(async {
        let client = Client::builder(TokioExecutor::new())
            .http2_only(http2)
            .build::<_, Empty<Bytes>>(UnixConnector::new(addr.clone()));
        let response = client
            .get("http://localhost/".parse().unwrap())
            .await
            .unwrap();
        let (status, version) = (response.status().as_u16(), response.version());
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, version, String::from_utf8(body.to_vec()).unwrap())
    })
}

#[cfg(feature = "hyper")]
#[test]
fn unix_connector_gets_200_from_the_examples_over_http1_and_http2() {
    use crate::support::{finish, signal, spawn_example, wait_listening};
    use hyper::Version;

    let dir = tempdir();
    let mut servers = vec![(
        "hyper_hello",
        dir.path().join("hyper.sock").display().to_string(),
    )];
    if cfg!(feature = "axum") {
        servers.push((
            "axum_hello",
            dir.path().join("axum.sock").display().to_string(),
        ));
    }
    if cfg!(any(target_os = "linux", target_os = "android")) {
        let name = format!("@sul-connector-test-{}", std::process::id());
        servers.push(("hyper_hello", name));
    }
    for (example, addr) in servers {
        let mut server = spawn_example(example, &[&addr]);
        wait_listening(&mut server);
        let addr: UnixAddr = addr.parse().unwrap();
        for (http2, version) in [(false, Version::HTTP_11), (true, Version::HTTP_2)] {
            let (status, spoken, body) = get_through_connector(&addr, http2);
            assert_eq!((status, spoken), (200, version), "{example} at {addr}");
            let from = example.trim_end_matches("_hello");
            assert!(
                body.starts_with(&format!("hello from {from} over a Unix socket"))
                    && body.ends_with("uid 0\n"),
                "{example}: {body}"
            );
        }
        signal(&server, nix::sys::signal::Signal::SIGTERM);
        assert_eq!(finish(server).status.code(), Some(0), "{example}");
    }
}

#[cfg(feature = "hyper")]
#[test]
fn unix_connector_errors_name_the_address() {
    use http_body_util::Empty;
    use hyper::body::Bytes;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    use safe_unix_listener::http::UnixConnector;

    let dir = tempdir();
    let missing: UnixAddr = dir.path().join("missing.sock").try_into().unwrap();
    let err = crate::support::runtime().block_on(async {
        Client::builder(TokioExecutor::new())
            .build::<_, Empty<Bytes>>(UnixConnector::new(missing.clone()))
            .get("http://localhost/".parse().unwrap())
            .await
            .unwrap_err()
    });
    assert!(err.is_connect(), "{err:?}");
    let cause = std::error::Error::source(&err)
        .expect("a cause")
        .to_string();
    assert!(
        cause.starts_with(&format!("cannot connect to {missing}: ")),
        "{cause}"
    );
}
