//! Socket activation: a passed listener is used as it is, checked, never
//! unlinked, and the `LISTEN_*` variables are removed.

use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};

use crate::support::{Outcome, curl, exists, finish, helper, ino, signal, tempdir};
use nix::sys::signal::Signal;
use nix::sys::socket::{self, AddressFamily, Backlog, SockFlag, SockType};
use safe_unix_listener::SafeUnixListener;

/// Puts `fd` at descriptor 3, as a service manager would.
fn pass_as_fd3(fd: OwnedFd) {
    if fd.as_raw_fd() == 3 {
        let _ = fd.into_raw_fd();
        return;
    }
    // SAFETY: dup2 onto 3 in this single-purpose helper process, before
    // any runtime exists; the original is closed afterwards.
    assert_eq!(unsafe { nix::libc::dup2(fd.as_raw_fd(), 3) }, 3);
}

fn unix_socket(ty: SockType) -> OwnedFd {
    socket::socket(AddressFamily::Unix, ty, SockFlag::empty(), None).unwrap()
}

/// Sets up what `SUL_CASE` names at descriptor 3 and in `LISTEN_*`, then
/// reports what `from_activation` made of it.
#[test]
#[ignore = "helper: run in a child process by the other tests"]
fn helper_activation_case() {
    let Ok(case) = std::env::var("SUL_CASE") else {
        return;
    };
    let dir = std::env::var("SUL_DIR").unwrap();
    let path = format!("{dir}/passed.sock");
    let mut pid = std::process::id().to_string();
    let mut fds = "1".to_owned();
    match case.as_str() {
        "listening" | "wrong-pid" | "bad-fds" => {
            let fd = unix_socket(SockType::Stream);
            socket::bind(
                fd.as_raw_fd(),
                &socket::UnixAddr::new(path.as_str()).unwrap(),
            )
            .unwrap();
            socket::listen(&fd, Backlog::new(16).unwrap()).unwrap();
            pass_as_fd3(fd);
            if case == "wrong-pid" {
                pid = "1".to_owned();
            }
            if case == "bad-fds" {
                fds = "one".to_owned();
            }
        }
        "not-listening" => {
            let fd = unix_socket(SockType::Stream);
            socket::bind(
                fd.as_raw_fd(),
                &socket::UnixAddr::new(path.as_str()).unwrap(),
            )
            .unwrap();
            pass_as_fd3(fd);
        }
        "datagram" => {
            let fd = unix_socket(SockType::Datagram);
            socket::bind(
                fd.as_raw_fd(),
                &socket::UnixAddr::new(path.as_str()).unwrap(),
            )
            .unwrap();
            pass_as_fd3(fd);
        }
        "tcp" => {
            let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            pass_as_fd3(OwnedFd::from(tcp));
        }
        other => panic!("unknown case {other}"),
    }
    // SAFETY: this helper process has no other threads using the environment.
    unsafe {
        std::env::set_var("LISTEN_PID", pid);
        std::env::set_var("LISTEN_FDS", fds);
        std::env::set_var("LISTEN_FDNAMES", "web");
    }

    let rt = crate::support::runtime();
    let _enter = rt.enter();
    let outcome = SafeUnixListener::from_activation();
    let left =
        ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"].map(|v| std::env::var_os(v).is_some());
    println!("\nENV_LEFT {left:?}");
    match outcome {
        Ok(Some(l)) => {
            let flags = nix::fcntl::fcntl(&l, nix::fcntl::FcntlArg::F_GETFL).unwrap();
            let fd_flags = nix::fcntl::fcntl(&l, nix::fcntl::FcntlArg::F_GETFD).unwrap();
            println!("\nNONBLOCK {}", flags & nix::libc::O_NONBLOCK != 0);
            println!("\nCLOEXEC {}", fd_flags & nix::libc::FD_CLOEXEC != 0);
            println!("\nADDR {} UNLINK {}", l.local_addr(), l.unlink_on_drop());
            println!(
                "\nAGAIN {}",
                SafeUnixListener::from_activation().unwrap().is_none()
            );
            drop(l);
            println!("\nAFTER_DROP exists={}", exists(path.as_ref()));
            println!("\nOUTCOME BOUND");
        }
        Ok(None) => println!("\nOUTCOME NONE"),
        Err(e) => crate::support::report_failure(e.kind(), &e.to_string()),
    }
}

fn run_case(case: &str) -> (Option<Outcome>, String) {
    let dir = tempdir();
    let out = helper("activation::helper_activation_case", None)
        .env("SUL_CASE", case)
        .env("SUL_DIR", dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (stdout.lines().find_map(Outcome::parse), stdout)
}

#[test]
fn a_passed_listener_is_adopted_and_never_unlinked() {
    let (outcome, out) = run_case("listening");
    assert_eq!(outcome, Some(Outcome::Bound { ino: None }), "{out}");
    assert!(out.contains("ENV_LEFT [false, false, false]"), "{out}");
    assert!(
        out.contains("NONBLOCK true") && out.contains("CLOEXEC true"),
        "{out}"
    );
    assert!(out.contains("passed.sock UNLINK false"), "{out}");
    assert!(
        out.contains("AGAIN true"),
        "each descriptor is handed out once: {out}"
    );
    assert!(out.contains("AFTER_DROP exists=true"), "{out}");
}

#[test]
fn nothing_passed_or_passed_to_another_pid_is_none() {
    let (outcome, out) = run_case("wrong-pid");
    assert!(out.contains("OUTCOME NONE"), "{outcome:?} {out}");
    assert!(out.contains("ENV_LEFT [false, false, false]"), "{out}");

    let rt = crate::support::runtime();
    let _enter = rt.enter();
    // This test process was started with no LISTEN_* variables.
    assert!(SafeUnixListener::from_activation().unwrap().is_none());
}

#[test]
fn a_wrong_descriptor_is_a_clear_error() {
    for (case, words) in [
        ("tcp", "none is a listening Unix stream socket"),
        ("datagram", "none is a listening Unix stream socket"),
        ("not-listening", "none is a listening Unix stream socket"),
        ("bad-fds", "LISTEN_FDS=\"one\" is not a number"),
    ] {
        let (outcome, out) = run_case(case);
        let msg = outcome.expect(&out).expect_failed("InvalidActivation");
        assert!(
            msg.contains("cannot use the socket passed by the service manager"),
            "{case}: {msg}"
        );
        assert!(msg.contains(words), "{case}: {msg}");
        assert!(msg.contains("ListenStream="), "{case}: {msg}");
    }
}

#[test]
fn systemd_socket_activate_runs_axum_hello_on_its_socket() {
    if !cfg!(feature = "axum") {
        eprintln!("skipped: needs the axum feature for axum_hello");
        return;
    }
    if !crate::support::have_socket_activate() {
        return;
    }
    let dir = tempdir();
    let path = dir.path().join("activated.sock");
    let shown = path.display().to_string();
    // It creates the socket, and execs the server on the first connection.
    let server = Command::new("systemd-socket-activate")
        .args(["-l", &shown])
        .arg(crate::support::example_bin("axum_hello"))
        .arg(dir.path().join("never-bound.sock"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let server = crate::support::Running::from(server);
    crate::support::wait_for_file(&path);
    let passed_ino = ino(&path);

    let (code, body) = curl(&["--unix-socket", &shown], "/");
    assert_eq!(
        (code, body.as_str()),
        (200, "hello from axum over a Unix socket, uid 0\n")
    );
    assert!(
        !dir.path().join("never-bound.sock").exists(),
        "ADDR was not bound"
    );

    signal(&server, Signal::SIGTERM);
    let out = finish(server);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("listening on {shown}")));
    let meta = std::fs::symlink_metadata(&path).expect("a passed socket is never unlinked");
    assert_eq!(meta.ino(), passed_ino);
}

#[test]
fn a_named_socket_is_found_by_its_name() {
    // from_activation_named through systemd-socket-activate --fdname.
    if !crate::support::have_socket_activate() {
        return;
    }
    let dir = tempdir();
    let path = dir.path().join("named.sock");
    let cmd = helper("activation::helper_named", None);
    let program = cmd.get_program().to_owned();
    let args: Vec<_> = cmd.get_args().map(ToOwned::to_owned).collect();
    let mut activate = Command::new("systemd-socket-activate");
    activate
        .arg("-l")
        .arg(&path)
        .args(["--fdname=api", "-E", "SUL_HELPER=1"])
        .arg(program)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = crate::support::Running::from(activate.spawn().unwrap());
    crate::support::wait_for_file(&path);
    // The first connection starts the helper.
    let _client = std::os::unix::net::UnixStream::connect(&path).unwrap();
    let out = finish(child);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("OTHER_NAME none"), "{stdout}");
    assert!(
        stdout.contains(&format!("NAMED {}", path.display())),
        "{stdout}"
    );
    assert!(exists(&path));
}

#[test]
#[ignore = "helper: run in a child process by the other tests"]
fn helper_named() {
    if std::env::var_os("SUL_HELPER").is_none() {
        return;
    }
    let rt = crate::support::runtime();
    let _enter = rt.enter();
    let other = SafeUnixListener::from_activation_named("admin").unwrap();
    println!(
        "\nOTHER_NAME {}",
        if other.is_none() { "none" } else { "some" }
    );
    let api = SafeUnixListener::from_activation_named("api")
        .unwrap()
        .expect("the api socket");
    println!("\nNAMED {}", api.local_addr());
}
