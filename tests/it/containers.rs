//! Containers, for real: the echo example in pid and mount namespaces of
//! its own (`unshare -mp`), with procfs mounted as a hardened container or
//! systemd's `ProtectProc=`/`ProcSubset=` mounts it, and two such
//! "containers" sharing a directory.

use std::os::unix::fs::MetadataExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::support::{Running, echo_line, example_bin, exists, tempdir_with_mode, wait_listening};
use nix::sys::signal::Signal;

/// The echo example with `args`, in new pid and mount namespaces where
/// procfs is mounted with `proc_options`; SIGTERM to the returned process
/// (`unshare`) reaches echo.
fn echo_in_container(proc_options: &str, args: &[&str]) -> Running {
    let script = format!("mount -t proc -o {proc_options} proc /proc && exec \"$0\" \"$@\"");
    let mut child: Running = Command::new("unshare")
        .args(["-m", "-p", "--kill-child=SIGTERM", "sh", "-c", &script])
        .arg(example_bin("echo"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
        .into();
    wait_listening(&mut child);
    child
}

/// Stops a container started by [`echo_in_container`]: SIGTERM to echo
/// (`unshare` itself ignores it while it waits), then waits for its socket
/// to go if `gone`.
fn stop(container: Running, path: &Path, gone: bool) {
    let children = format!("/proc/{0}/task/{0}/children", container.id());
    let echo: i32 = std::fs::read_to_string(children)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(echo), Signal::SIGTERM).unwrap();
    let out = crate::support::finish(container);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while gone && exists(path) {
        assert!(
            std::time::Instant::now() < deadline,
            "socket never removed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// procfs as `ProtectProc=invisible` (`hidepid=invisible`) and
/// `ProcSubset=pid` (`subset=pid`) mount it, in a pid namespace: a bind
/// with a mode and group in a directory everyone may write is set through
/// `/proc/self/fd`, which both keep, and the kernel names the socket by
/// its path.
#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: makes pid and mount namespaces")]
fn in_a_pid_namespace_with_a_restricted_procfs_the_socket_gets_its_access_at_its_path() {
    for options in ["hidepid=invisible", "subset=pid"] {
        let dir = tempdir_with_mode(0o777);
        let path = dir.path().join("app.sock");
        let shown = path.to_str().unwrap();
        let container = echo_in_container(options, &["--mode", "0660", "--group", "33", shown]);
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert_eq!((meta.mode() & 0o7777, meta.gid()), (0o660, 33), "{options}");
        assert_eq!(echo_line(&path, "hello"), "hello\n", "{options}");
        assert!(
            crate::support::ss_line(shown).is_some(),
            "{options}: ss -xlpn names the socket by its path"
        );
        stop(container, &path, true);
    }
}

/// Two containers (pid and mount namespaces of their own) share a
/// directory everyone may write: while a client connects in a loop, the
/// second takes over from the first; no connection is refused, the first's
/// stop leaves the second's socket, and the second's stop removes it.
#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: makes pid and mount namespaces")]
fn a_takeover_between_two_containers_sharing_a_directory_refuses_no_client() {
    let dir = tempdir_with_mode(0o777);
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let path = dir.path().join("app.sock");
    let shown = path.to_str().unwrap();
    let first = echo_in_container("hidepid=invisible", &["--mode", "0666", shown]);
    let stop_clients = Arc::new(AtomicBool::new(false));
    let (connected, refused) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let clients = {
        let (stop, connected, refused, path) = (
            stop_clients.clone(),
            connected.clone(),
            refused.clone(),
            path.clone(),
        );
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match std::os::unix::net::UnixStream::connect(&path) {
                    Ok(_) => connected.fetch_add(1, Ordering::Relaxed),
                    Err(_) => refused.fetch_add(1, Ordering::Relaxed),
                };
            }
        })
    };
    while connected.load(Ordering::Relaxed) < 100 {
        std::thread::yield_now();
    }
    let second = echo_in_container("subset=pid", &["--takeover", "--mode", "0666", shown]);
    let before = connected.load(Ordering::Relaxed);
    while connected.load(Ordering::Relaxed) < before + 100 {
        std::thread::yield_now();
    }
    stop_clients.store(true, Ordering::Relaxed);
    clients.join().unwrap();
    assert_eq!(refused.load(Ordering::Relaxed), 0, "no client refused");
    let ino = std::fs::symlink_metadata(&path).unwrap().ino();
    stop(first, &path, false);
    assert_eq!(
        std::fs::symlink_metadata(&path).unwrap().ino(),
        ino,
        "the first container's stop leaves the second's socket"
    );
    assert_eq!(echo_line(&path, "still here"), "still here\n");
    stop(second, &path, true);
}
