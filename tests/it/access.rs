//! Access control by peer credentials: a rejected peer is closed at once,
//! logged at `warn`, and never reaches the caller. The clients run for real
//! as uid 65534.
#![cfg(any(target_os = "linux", target_os = "android"))]

use std::io::{Read, Write};
use std::os::unix::net::UnixStream as StdStream;
use std::sync::Arc;

use std::os::linux::net::SocketAddrExt;

use crate::support::{NOBODY, helper, tempdir};
use futures_util::StreamExt;
use safe_unix_listener::SafeUnixListener;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

#[test]
#[ignore = "helper: run in a child process by the other tests"]
fn helper_client() {
    if std::env::var_os("SUL_HELPER").is_none() {
        return;
    }
    let addr = std::env::var("SUL_ADDR").unwrap();
    let mut c = match addr.strip_prefix('@') {
        Some(name) => {
            let a = std::os::unix::net::SocketAddr::from_abstract_name(name).unwrap();
            StdStream::connect_addr(&a).unwrap()
        }
        None => StdStream::connect(&addr).unwrap(),
    };
    let _ = c.write_all(b"hi");
    let mut reply = Vec::new();
    let result = c.read_to_end(&mut reply);
    println!(
        "\nREPLY {:?} {}",
        String::from_utf8_lossy(&reply),
        result.is_ok()
    );
}

/// Starts a client as uid 65534 that sends "hi" and reads until EOF.
fn nobody_client(addr: &str) -> std::process::Child {
    helper("access::helper_client", Some(NOBODY))
        .env("SUL_ADDR", addr)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Drives the listener's Stream in a task; what reaches the caller comes
/// out of the channel.
fn drive(mut listener: SafeUnixListener) -> mpsc::UnboundedReceiver<tokio::net::UnixStream> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(Ok(stream)) = listener.next().await {
            if tx.send(stream).is_err() {
                break;
            }
        }
    });
    rx
}

async fn wait(child: std::process::Child) -> String {
    let out = tokio::task::spawn_blocking(move || crate::support::finish(child))
        .await
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
#[cfg_attr(sul_not_root, ignore = "needs root: a client as uid 65534")]
async fn a_peer_whose_uid_is_not_allowed_never_reaches_the_stream() {
    crate::support::captured_log();
    let name = format!("safe-unix-listener-access-{}", std::process::id());
    let listener = SafeUnixListener::builder(
        format!("@{name}")
            .parse::<safe_unix_listener::UnixAddr>()
            .unwrap(),
    )
    .allow_uids([0])
    .bind()
    .unwrap();
    let mut reached = drive(listener);

    let rejected = nobody_client(&format!("@{name}"));
    let rejected_pid = rejected.id();
    let stdout = wait(rejected).await;
    assert!(
        stdout.contains("REPLY \"\""),
        "closed at once, with no data: {stdout}"
    );

    // An allowed client: the first stream the caller sees is this one.
    let a = std::os::unix::net::SocketAddr::from_abstract_name(&name).unwrap();
    let _root = StdStream::connect_addr(&a).unwrap();
    let first = reached.recv().await.unwrap();
    assert_eq!(
        first.peer_cred().unwrap().uid(),
        0,
        "only the allowed peer reaches the caller"
    );
    assert_eq!(
        first.peer_cred().unwrap().pid(),
        Some(std::process::id() as i32)
    );

    let log = crate::support::captured_log();
    let line = log
        .lines()
        .find(|l| {
            l.contains("rejected a connection") && l.contains(&format!("pid {rejected_pid},"))
        })
        .unwrap_or_else(|| panic!("no rejection logged:\n{log}"));
    assert!(
        line.contains("WARN") && line.contains("uid 65534, gid 65534"),
        "{line}"
    );
}

#[tokio::test]
#[cfg_attr(sul_not_root, ignore = "needs root: a client as uid 65534")]
async fn an_allowed_gid_admits_the_peer_and_others_are_closed() {
    let dir = tempdir();
    let path = dir.path().join("g.sock");
    let listener = SafeUnixListener::builder(&path)
        .mode(0o666)
        .allow_gids([NOBODY])
        .bind()
        .unwrap();
    let mut reached = drive(listener);

    // Root (gid 0) is not in the set: closed at once.
    let mut root = tokio::net::UnixStream::connect(&path).await.unwrap();
    let mut buf = Vec::new();
    assert_eq!(root.read_to_end(&mut buf).await.unwrap(), 0, "EOF at once");

    let client = nobody_client(&path.display().to_string());
    let mut stream = reached.recv().await.unwrap();
    assert_eq!(stream.peer_cred().unwrap().gid(), NOBODY);
    let mut hi = [0; 2];
    stream.read_exact(&mut hi).await.unwrap();
    drop(stream);
    assert!(wait(client).await.contains("REPLY \"\" true"));
    assert!(reached.try_recv().is_err(), "root never reached the caller");
}

#[cfg(feature = "axum")]
#[tokio::test]
async fn a_rejected_peer_never_reaches_an_axum_handler() {
    use axum::{Router, routing::get};
    let dir = tempdir();
    let path = dir.path().join("a.sock");
    let listener = SafeUnixListener::builder(&path)
        .allow_uids([NOBODY]) // not us
        .bind()
        .unwrap();
    let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let app = Router::new().route(
        "/",
        get({
            let hits = hits.clone();
            move || async move {
                hits.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                "hi"
            }
        }),
    );
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let shown = path.display().to_string();
    let (code, _) =
        tokio::task::spawn_blocking(move || crate::support::curl(&["--unix-socket", &shown], "/"))
            .await
            .unwrap();
    assert_eq!(code, 0, "curl got no HTTP response");
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
    server.abort();
}

/// `allow_gids` admits a peer by a supplementary group (`SO_PEERGROUPS`):
/// uid and gid 65534, in group 33 only as a supplementary group. It used to
/// be refused, since only the primary gid was checked.
#[tokio::test]
#[cfg_attr(
    sul_not_root,
    ignore = "needs root: a client as uid 65534 with a supplementary group"
)]
async fn a_supplementary_group_is_admitted() {
    let dir = tempdir();
    let path = dir.path().join("groups.sock");
    let listener = SafeUnixListener::builder(&path)
        .mode(0o666)
        .allow_gids([33])
        .bind()
        .unwrap();
    let setpriv = ["setpriv", "--reuid=65534", "--regid=65534", "--groups=33"];
    let client = crate::support::helper_via(&setpriv, "access::helper_client")
        .env("SUL_ADDR", &path)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (stream, addr) = listener.accept().await.unwrap();
    let peer = safe_unix_listener::PeerInfo::new(&stream, addr);
    assert_eq!((peer.uid(), peer.gid()), (Some(NOBODY), Some(NOBODY)));
    assert_eq!(peer.groups(), Some(&[33][..]));
    drop(stream);
    assert!(wait(client).await.contains("REPLY"));
}

/// A flood of rejected peers: each is logged at debug, and at most one
/// `warn` a second per listener, which counts the ones it did not show.
#[tokio::test]
async fn a_flood_of_rejected_peers_does_not_flood_the_log() {
    let dir = tempdir();
    let path = dir.path().join("flood.sock");
    let listener = SafeUnixListener::builder(&path)
        .allow_uids([NOBODY]) // not us
        .bind()
        .unwrap();
    crate::support::captured_log();
    let server = tokio::spawn(async move { listener.accept().await.map(drop) });
    let reject = |n: usize| {
        let path = path.clone();
        tokio::task::spawn_blocking(move || {
            for _ in 0..n {
                let mut c = StdStream::connect(&path).unwrap();
                assert_eq!(c.read(&mut [0]).unwrap(), 0, "closed at once");
            }
        })
    };
    let start = std::time::Instant::now();
    reject(300).await.unwrap();
    // Past the one-second window, the next warning counts the quiet ones.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    reject(1).await.unwrap();
    let seconds = start.elapsed().as_secs();
    server.abort();

    let shown = format!("addr={}", path.display());
    let log = crate::support::captured_log();
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("WARN") && l.contains(&shown))
        .collect();
    // One at the start of each second that saw a rejection, at most.
    assert!(
        warnings.len() >= 2 && warnings.len() as u64 <= seconds + 2,
        "301 rejections in {seconds} s, at most one warning a second: {warnings:#?}"
    );
    let counted: u64 = warnings
        .iter()
        .filter_map(|l| {
            l.split("suppressed=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum();
    assert_eq!(counted + warnings.len() as u64, 301, "{warnings:#?}");
}
