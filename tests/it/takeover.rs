//! Zero-downtime takeover: a new instance renames its socket over the path,
//! clients never see a refused connection, and the old instance's drop
//! leaves the new socket alone.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;

use crate::support::{
    Fixture, exists, finish, in_runtime, in_syscall, ino, signal, spawn_example, tempdir,
    traced_helper, wait_listening, wait_until,
};
use nix::sys::signal::Signal;
use safe_unix_listener::{BindErrorKind, OnExisting, SafeUnixListener};

fn take_over(path: &Path) -> safe_unix_listener::Builder {
    SafeUnixListener::builder(path).on_existing(OnExisting::TakeOver)
}

#[test]
fn a_hammering_client_is_never_refused_during_a_takeover() {
    let dir = tempdir();
    let path = dir.path().join("echo.sock");
    let shown = path.display().to_string();
    let mut old = spawn_example("echo", &[&shown]);
    wait_listening(&mut old);

    let stop = Arc::new(AtomicBool::new(false));
    let (ok, refused) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let hammer = thread::spawn({
        let (path, stop, ok, refused) = (path.clone(), stop.clone(), ok.clone(), refused.clone());
        move || {
            let mut first_error = None;
            while !stop.load(Ordering::Relaxed) {
                match UnixStream::connect(&path) {
                    Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
                    Err(e) => {
                        first_error.get_or_insert(e);
                        refused.fetch_add(1, Ordering::Relaxed)
                    }
                };
            }
            first_error
        }
    });
    let connects = || ok.load(Ordering::Relaxed);
    let wait_for_more = |n: u64| {
        let target = connects() + n;
        while connects() < target {
            thread::yield_now();
        }
    };

    wait_for_more(200);
    let mut new = spawn_example("echo", &["--takeover", &shown]);
    wait_listening(&mut new);
    wait_for_more(200);
    signal(&old, Signal::SIGTERM);
    let old_exit = finish(old);
    wait_for_more(200);
    stop.store(true, Ordering::Relaxed);
    let first_error = hammer.join().unwrap();

    assert_eq!(
        refused.load(Ordering::Relaxed),
        0,
        "first failure: {first_error:?}"
    );
    assert_eq!(old_exit.status.code(), Some(0));
    assert!(
        exists(&path),
        "the old instance left the new socket in place"
    );
    assert_eq!(
        crate::support::echo_line(&path, "ping"),
        "ping\n",
        "the new instance serves"
    );
    let leftovers: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers,
        ["echo.sock"],
        "no temporary name or lock file is left"
    );

    signal(&new, Signal::SIGTERM);
    assert_eq!(finish(new).status.code(), Some(0));
    assert!(!exists(&path));
}

#[test]
fn takeover_in_process_keeps_old_connections_and_reports_the_real_path() {
    Fixture::new().run(|Fixture { path, rt, .. }| {
        let old = SafeUnixListener::bind(path).unwrap();
        let mut old_client = UnixStream::connect(path).unwrap();
        let (mut old_conn, _) = rt.block_on(old.accept()).unwrap();

        let new = take_over(path).mode(0o600).bind().unwrap();
        assert_eq!(new.addr().to_string(), path.display().to_string());
        let new_ino = ino(path);
        assert_eq!(
            fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777,
            0o600
        );

        // The old connection still works.
        old_client.write_all(b"x").unwrap();
        let mut b = [0];
        rt.block_on(tokio::io::AsyncReadExt::read_exact(&mut old_conn, &mut b))
            .unwrap();
        assert_eq!(&b, b"x");

        // New clients reach the new listener.
        let _c = UnixStream::connect(path).unwrap();
        rt.block_on(new.accept()).unwrap();

        drop(old);
        assert_eq!(ino(path), new_ino, "the old drop left the new socket");
        drop(new);
        assert!(!exists(path));
    });
}

#[test]
fn takeover_refuses_a_regular_file_and_binds_a_free_path() {
    let dir = tempdir();
    in_runtime(|_| {
        let file = dir.path().join("notes.sock");
        fs::write(&file, b"precious").unwrap();
        let err = take_over(&file).bind().unwrap_err();
        assert_eq!(err.kind(), BindErrorKind::NotASocket);
        assert_eq!(fs::read(&file).unwrap(), b"precious");

        let free = dir.path().join("free.sock");
        let l = take_over(&free).bind().unwrap();
        assert!(exists(&free));
        drop(l);
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, ["notes.sock"]);
    });
}

/// Puts a new regular file holding `text` at `path`, in one rename.
fn replace_with_file(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, text).unwrap();
    fs::rename(&tmp, path).unwrap();
}

/// Two regular files put at the path during a takeover in a directory
/// others may write: the first is swapped into our private directory,
/// put back, and the second, put at the path meanwhile, takes its place
/// there. Neither is lost, and the error names where the second is kept by
/// the path an operator can use (`DIR/.app.sock.sul/s`), not the
/// `/proc/self/fd/N/s` only the failed process could reach. Each
/// `renameat2` is held 1.5 s by strace, and the files are put there while
/// the takeover waits in it.
#[test]
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
#[cfg_attr(sul_no_strace, ignore = "needs strace")]
fn a_file_stranded_by_a_takeover_is_named_by_its_real_path() {
    const RENAMEAT2: i64 = 316;
    let dir = crate::support::tempdir_with_mode(0o777);
    let path = dir.path().join("app.sock");
    let _old = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let helper = crate::support::helper_holding("renameat2", "helper_bind")
        .env("SUL_ADDR", &path)
        .env("SUL_TAKEOVER", "1")
        .spawn()
        .unwrap();
    let pid = traced_helper(&helper);
    // The swap waits: the path holds the old socket, checked just before.
    wait_until("the swap", || in_syscall(pid, RENAMEAT2));
    replace_with_file(&path, "first");
    // The swap brought our socket to the path, and the first file into the
    // private directory; the put-back waits.
    wait_until("the swap done", || {
        fs::symlink_metadata(&path)
            .is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()))
    });
    replace_with_file(&path, "second");
    let out = helper.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let outcome = stdout
        .lines()
        .find_map(crate::support::Outcome::parse)
        .unwrap_or_else(|| panic!("{stdout}"));
    let message = outcome.expect_failed("NotASocket");
    let kept = dir.path().join(".app.sock.sul").join("s");
    assert!(
        message.contains(&format!("it is kept at {}", kept.display())),
        "{message}"
    );
    assert!(
        message.contains(&format!("mv {} {}", kept.display(), path.display())),
        "{message}"
    );
    assert!(!message.contains("/proc/self/fd"), "{message}");
    assert_eq!(fs::read_to_string(&path).unwrap(), "first");
    assert_eq!(fs::read_to_string(&kept).unwrap(), "second");
}
