//! `SafeUnixDatagram`: the listener's guarantees for a datagram receiver,
//! the sender's credentials per datagram, and real clients (`logger`,
//! `socat`) sending to it.
#![cfg(any(target_os = "linux", target_os = "android"))]

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram as StdDatagram;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use safe_unix_listener::{BindErrorKind, Builder, SafeUnixDatagram, SafeUnixListener};

use crate::support::{
    Holder, NOBODY, Outcome, exists, helper, in_runtime, ino, listing, make_stale_with_mode,
    run_helper, runtime, tempdir, tempdir_with_mode,
};

/// A stale datagram socket: bound by a receiver that is gone.
fn stale_datagram(path: &Path) -> u64 {
    drop(StdDatagram::bind(path).unwrap());
    ino(path)
}

/// The next datagram on `rx`, with a 20 s limit.
async fn next(rx: &SafeUnixDatagram) -> (Vec<u8>, safe_unix_listener::PeerInfo) {
    let mut buf = vec![0; 4096];
    let (n, peer) = tokio::time::timeout(Duration::from_secs(20), rx.recv_with_peer(&mut buf))
        .await
        .expect("a datagram within 20 s")
        .unwrap();
    buf.truncate(n);
    (buf, peer)
}

#[test]
fn a_stale_datagram_socket_is_replaced_and_drop_removes_only_ours() {
    let dir = tempdir();
    let path = dir.path().join("metrics.sock");
    let stale = stale_datagram(&path);
    let rt = runtime();
    rt.block_on(async {
        let rx = SafeUnixDatagram::bind(&path).unwrap();
        let _ = stale; // (tmpfs may reuse the inode number: the receive shows it was replaced)
        StdDatagram::unbound()
            .unwrap()
            .send_to(b"a:1|c", &path)
            .unwrap();
        let (data, _) = next(&rx).await;
        assert_eq!(data, b"a:1|c");
        // A successor's socket at the path is left alone by our drop.
        std::fs::remove_file(&path).unwrap();
        let successor = StdDatagram::bind(&path).unwrap();
        let theirs = ino(&path);
        drop(rx);
        assert_eq!(ino(&path), theirs, "our drop left the successor's socket");
        drop(successor);
        std::fs::remove_file(&path).unwrap();
        let rx = SafeUnixDatagram::bind(&path).unwrap();
        drop(rx);
        assert!(!exists(&path), "our own socket is removed on drop");
    });
}

/// A live datagram receiver keeps its socket and keeps receiving; live
/// stream and seqpacket listeners are refused with their type named; a
/// regular file is kept byte for byte.
#[test]
fn live_sockets_of_any_type_and_files_are_left_alone() {
    let dir = tempdir();
    in_runtime(|_| {
        let path = dir.path().join("live.sock");
        let live = StdDatagram::bind(&path).unwrap();
        let before = ino(&path);
        for e in [
            SafeUnixDatagram::bind(&path).unwrap_err(),
            SafeUnixListener::bind(&path).unwrap_err(),
        ] {
            assert_eq!(e.kind(), BindErrorKind::InUse, "{e}");
            assert!(
                e.to_string()
                    .contains("a live datagram socket is bound there (a receiver"),
                "{e}"
            );
        }
        assert_eq!(ino(&path), before);
        StdDatagram::unbound()
            .unwrap()
            .send_to(b"still", &path)
            .unwrap();
        let mut buf = [0; 8];
        assert_eq!(live.recv(&mut buf).unwrap(), 5, "it still receives");

        let stream = dir.path().join("stream.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&stream).unwrap();
        let e = SafeUnixDatagram::bind(&stream).unwrap_err();
        assert_eq!(e.kind(), BindErrorKind::InUse);
        assert!(e.to_string().contains(") is listening on it"), "{e}");

        let seqpacket = dir.path().join("seq.sock");
        let fd = nix::sys::socket::socket(
            nix::sys::socket::AddressFamily::Unix,
            nix::sys::socket::SockType::SeqPacket,
            nix::sys::socket::SockFlag::empty(),
            None,
        )
        .unwrap();
        nix::sys::socket::bind(
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            &nix::sys::socket::UnixAddr::new(&seqpacket).unwrap(),
        )
        .unwrap();
        nix::sys::socket::listen(&fd, nix::sys::socket::Backlog::new(128).unwrap()).unwrap();
        let e = SafeUnixDatagram::bind(&seqpacket).unwrap_err();
        assert!(
            e.to_string()
                .contains("is listening on it with a seqpacket socket"),
            "{e}"
        );

        let file = dir.path().join("file.sock");
        std::fs::write(&file, b"keep me").unwrap();
        let e = SafeUnixDatagram::bind(&file).unwrap_err();
        assert_eq!(e.kind(), BindErrorKind::NotASocket);
        assert_eq!(std::fs::read(&file).unwrap(), b"keep me");
    });
}

/// The Ergo case for a datagram receiver: a root-owned stale socket in a
/// sticky directory, and a restart as uid 65534.
#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: the Ergo case as uid 65534")]
fn the_ergo_case_for_a_datagram_receiver_names_the_owner_and_eperm() {
    let dir = tempdir_with_mode(0o1777);
    let path = dir.path().join("syslog.sock");
    let before = make_stale_with_mode(&path, 0o777);
    let (outcome, _, _) = run_helper(
        helper("helper_bind", Some(NOBODY))
            .env("SUL_ADDR", &path)
            .env("SUL_DATAGRAM", "1"),
    );
    let msg = outcome.expect_failed("PermissionDenied");
    for words in [
        "owned by uid 0",
        "we run as uid 65534",
        "is sticky, so only the owner may remove it (EPERM)",
    ] {
        assert!(msg.contains(words), "{words:?} missing from: {msg}");
    }
    assert_eq!(ino(&path), before, "nothing was changed");
}

#[test]
fn six_racing_receivers_one_wins() {
    let dir = tempdir();
    let path = dir.path().join("race.sock");
    let holders = Holder::race_with(6, &path, &[("SUL_DATAGRAM", "1")]);
    let won = holders
        .iter()
        .filter(|h| matches!(h.outcome, Outcome::Bound { .. }))
        .count();
    assert_eq!(
        won,
        1,
        "{:?}",
        holders.iter().map(|h| &h.outcome).collect::<Vec<_>>()
    );
    for h in holders {
        h.release();
    }
    assert_eq!(listing(dir.path()), vec![], "nothing is left");
}

/// The sender's uid, gid and pid per datagram, from root and from uid
/// 65534; with `allow_uids([0])`, uid 65534's datagrams never arrive.
#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: sends as uid 65534")]
fn each_datagram_names_its_sender_and_allow_uids_drops_the_others() {
    let dir = tempdir_with_mode(0o755);
    let path = dir.path().join("creds.sock");
    let send_as = |uid: Option<u32>, text: &str| {
        let mut cmd = Command::new("python3");
        cmd.args([
            "-c",
            "import socket, sys, os\n\
             s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n\
             s.sendto(sys.argv[2].encode(), sys.argv[1])\n\
             print(os.getpid())",
        ])
        .arg(&path)
        .arg(text);
        if let Some(uid) = uid {
            cmd.uid(uid).gid(uid);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse::<i32>()
            .unwrap()
    };
    let rt = runtime();
    rt.block_on(async {
        let rx = SafeUnixDatagram::builder(&path)
            .mode(0o622)
            .bind_datagram()
            .unwrap();
        let nobody = send_as(Some(NOBODY), "from nobody");
        let (data, peer) = next(&rx).await;
        assert_eq!(data, b"from nobody");
        assert_eq!(
            (peer.uid(), peer.gid(), peer.pid()),
            (Some(NOBODY), Some(NOBODY), Some(nobody))
        );
        let root = send_as(None, "from root");
        let (data, peer) = next(&rx).await;
        assert_eq!(data, b"from root");
        assert_eq!(
            (peer.uid(), peer.gid(), peer.pid()),
            (Some(0), Some(0), Some(root))
        );
        drop(rx);

        let rx = Builder::new(&path)
            .mode(0o622)
            .allow_uids([0])
            .bind_datagram()
            .unwrap();
        send_as(Some(NOBODY), "dropped");
        send_as(None, "kept");
        let (data, peer) = next(&rx).await;
        assert_eq!(data, b"kept", "uid 65534's datagram never reached us");
        assert_eq!(peer.uid(), Some(0));
    });
    let mode = std::fs::metadata(&path).map(|m| m.permissions().mode());
    assert!(mode.is_err(), "removed on drop");
}

/// Real clients nobody here wrote: util-linux `logger -u` (syslog) and
/// `socat UNIX-SENDTO`.
#[test]
fn logger_and_socat_reach_the_receiver() {
    let dir = tempdir();
    let path = dir.path().join("log.sock");
    let rt = runtime();
    rt.block_on(async {
        let rx = SafeUnixDatagram::bind(&path).unwrap();
        let out = Command::new("logger")
            .args(["-u"])
            .arg(&path)
            .args(["-t", "sul-test", "hello from logger"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (data, peer) = next(&rx).await;
        let line = String::from_utf8_lossy(&data);
        assert!(
            line.contains("sul-test") && line.ends_with("hello from logger"),
            "{line}"
        );
        assert_eq!(peer.uid(), Some(nix::unistd::geteuid().as_raw()));

        let mut socat = Command::new("socat")
            .args(["-", &format!("UNIX-SENDTO:{}", path.display())])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut socat.stdin.take().unwrap(), b"requests:1|c").unwrap();
        assert!(socat.wait().unwrap().success());
        let (data, _) = next(&rx).await;
        assert_eq!(data, b"requests:1|c");
    });
}

/// Run by `systemd-socket-activate`: adopts the passed datagram socket and
/// prints the first datagram, or what went wrong.
#[test]
#[ignore = "helper: run in a child process by the other tests"]
fn helper_datagram_activation() {
    if std::env::var_os("SUL_HELPER").is_none() {
        return;
    }
    let rt = runtime();
    rt.block_on(async {
        match SafeUnixDatagram::from_activation() {
            Ok(Some(rx)) => {
                let (data, _) = next(&rx).await;
                println!("\nGOT {}", String::from_utf8_lossy(&data));
                println!("\nUNLINK {}", rx.unlink_on_drop());
            }
            Ok(None) => println!("\nNONE"),
            Err(e) => println!("\nFAILED {:?} {e}", e.kind()),
        }
    });
}

/// `systemd-socket-activate` with `--datagram` or without, running the
/// helper above; returns its output.
fn activated(datagram: bool, path: &Path) -> String {
    let cmd = helper("datagram::helper_datagram_activation", None);
    let mut activate = Command::new("systemd-socket-activate");
    if datagram {
        activate.arg("--datagram");
    }
    activate
        .arg("-l")
        .arg(path)
        .args(["-E", "SUL_HELPER=1"])
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = crate::support::Running::from(activate.spawn().unwrap());
    crate::support::wait_for_file(path);
    // The first datagram, or connection, starts the helper.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let sent = match datagram {
            true => StdDatagram::unbound()
                .unwrap()
                .send_to(b"hello", path)
                .map(drop),
            false => std::os::unix::net::UnixStream::connect(path).map(drop),
        };
        if sent.is_ok() || std::time::Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = crate::support::finish(child);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
#[cfg_attr(
    sul_no_socket_activate,
    ignore = "needs systemd-socket-activate (systemd)"
)]
fn a_passed_datagram_socket_is_adopted_and_a_stream_one_refused() {
    let dir = tempdir();
    let path = dir.path().join("log.sock");
    let out = activated(true, &path);
    assert!(out.contains("GOT hello"), "{out}");
    assert!(
        out.contains("UNLINK false"),
        "a passed socket is never unlinked: {out}"
    );
    assert!(exists(&path));

    let path = dir.path().join("stream.sock");
    let out = activated(false, &path);
    assert!(
        out.contains(
            "FAILED InvalidActivation cannot use the socket passed by the service manager: 1 descriptor(s) were passed, but none is a Unix datagram socket"
        ),
        "{out}"
    );
}

/// The metrics example, as a user runs it: counters from socat summed and
/// printed, and its socket gone after SIGTERM.
#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: gives the socket to group 100")]
fn the_metrics_example_sums_what_socat_sends_and_cleans_up() {
    use std::io::BufRead;
    let dir = tempdir();
    let path = dir.path().join("metrics.sock");
    let mut server: crate::support::Running = Command::new(crate::support::example_bin("metrics"))
        .arg(&path)
        .args(["--mode", "0622", "--group", "100"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap()
        .into();
    let mut out = std::io::BufReader::new(server.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, format!("metrics receiver on {}\n", path.display()));
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o622);
    assert_eq!(std::os::unix::fs::MetadataExt::gid(&meta), 100);
    for _ in 0..3 {
        let mut socat = Command::new("socat")
            .args(["-", &format!("UNIX-SENDTO:{}", path.display())])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut socat.stdin.take().unwrap(), b"requests:2|c\n").unwrap();
        assert!(socat.wait().unwrap().success());
    }
    let uid = nix::unistd::geteuid().as_raw();
    let wanted = format!("requests 6 (from uids [{uid}])\n");
    // A report a second: 20 of them at most.
    for report in 0.. {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "it exited early");
        if line == wanted {
            break;
        }
        assert!(report < 20, "never summed to 6: {line}");
    }
    crate::support::signal(&server, nix::sys::signal::Signal::SIGTERM);
    let status = server.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(!exists(&path), "its socket went with it");
}
