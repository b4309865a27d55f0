//! Wherever servers run: the echo example on each filesystem and in each
//! sandbox, for real, every case in a mount namespace of its own
//! (`unshare -m`), so that nothing it mounts is seen outside.
//!
//! Where a bind can work, each case runs the same life twice, in a
//! directory only we write (the socket is bound at the path) and in one
//! every user may write (it is bound in a private directory and moved into
//! place): start, a round trip with socat, kill -9 and a restart that
//! replaces the stale socket, a takeover while a client keeps connecting,
//! a stop, and an empty directory at the end. Where it cannot, the exact
//! words of the error, and the directory unchanged.
#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use nix::sys::signal::Signal;

use crate::support::{
    NOBODY, Running, example_bin, executable_by_all, finish, listing, signal, tempdir_with_mode,
};

/// One row of the matrix: where the echo example runs, and what its bind
/// does there. Each case names its mount and what it expects; the fields
/// it leaves to `Case::default()` mean nothing run before the bind or
/// after the case, as root, and the example without flags.
#[derive(Default)]
struct Case {
    /// The filesystem mounted at `$M`.
    mount: Mount,
    /// Shell lines run once `$M/own` (0755) and `$M/shared` (0777) exist,
    /// before the bind: to fill the filesystem or remount it.
    before_bind: &'static str,
    /// Shell lines run at the end, whatever happened.
    teardown: &'static str,
    /// Run as this uid, in a user namespace of its own (`unshare -Urm`),
    /// as a rootless container is; as root if `None` (`unshare -m`).
    user_namespace_of: Option<u32>,
    /// The echo example's flags, before the path.
    echo_flags: &'static str,
    /// What the bind does there.
    expect: Expect,
}

/// What is mounted at `$M`, in a mount namespace of the case's own.
#[derive(Default)]
enum Mount {
    /// `mount -t tmpfs tmpfs "$M"`.
    #[default]
    Tmpfs,
    /// A filesystem made by `mkfs` on a sparse file of `size` in `$R`,
    /// mounted through a loop device.
    Loop {
        mkfs: &'static str,
        size: &'static str,
    },
    /// These shell lines, which mount something at `$M` (with `$R` a
    /// scratch directory beside it).
    Script(&'static str),
}

impl Mount {
    /// The shell lines that mount it.
    fn script(&self) -> String {
        match self {
            Mount::Tmpfs => "mount -t tmpfs tmpfs \"$M\"".to_owned(),
            Mount::Loop { mkfs, size } => format!(
                "truncate -s {size} \"$R/img\"\n{mkfs} \"$R/img\" >/dev/null\nmount -o loop \"$R/img\" \"$M\""
            ),
            Mount::Script(lines) => (*lines).to_owned(),
        }
    }
}

/// What a case expects of a bind there.
#[derive(Default)]
enum Expect {
    /// The whole life works, in both directories.
    #[default]
    Works,
    /// The bind fails, with these words in its one line.
    Fails(&'static str),
}

/// Runs `case`: mounts its filesystem at `$M` (with `$R` a scratch
/// directory beside it) in a new mount namespace, makes `own` (0755) and
/// `shared` (0777) in it, runs `before_bind`, then the helper below on
/// both, as the case's uid if it names one; `teardown` runs whatever
/// happened.
fn check(case: Case) {
    let Case {
        mount,
        before_bind,
        teardown,
        user_namespace_of: uid,
        echo_flags: flags,
        expect,
    } = case;
    let setup = mount.script();
    let started = Instant::now();
    let root = tempdir_with_mode(0o755);
    let (r, m) = (root.path().join("r"), root.path().join("m"));
    std::fs::create_dir(&r).unwrap();
    std::fs::create_dir(&m).unwrap();
    if let Some(uid) = uid {
        std::os::unix::fs::chown(&r, Some(uid), Some(uid)).unwrap();
    }
    let helper = executable_by_all(&std::env::current_exe().unwrap());
    let echo = executable_by_all(&example_bin("echo"));
    let script = format!(
        "set -e\n{setup}\nmkdir -p \"$M/own\" \"$M/shared\"\nchmod 0755 \"$M/own\"\nchmod 0777 \"$M/shared\"\n\
         {before_bind}\nset +e\n\"$HELPER\" filesystems::helper_life --exact --ignored --nocapture --test-threads=1\n\
         rc=$?\n{teardown}\nexit $rc\n"
    );
    let mut cmd = Command::new("unshare");
    match uid {
        Some(uid) => cmd.arg("-Urm").uid(uid).gid(uid),
        None => cmd.arg("-m"),
    };
    let out = cmd
        .args(["--propagation", "private", "sh", "-c", &script])
        .env("R", &r)
        .env("M", &m)
        .env("HELPER", &helper)
        .env("SUL_HELPER", "1")
        .env("SUL_ECHO", &echo)
        .env("SUL_FLAGS", flags)
        .env(
            "SUL_EXPECT",
            match expect {
                Expect::Works => "works".to_owned(),
                Expect::Fails(words) => format!("fails:{words}"),
            },
        )
        .current_dir("/")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success() && stdout.contains("LIFE OK own") && stdout.contains("LIFE OK shared"),
        "{}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    eprintln!(
        "{}: done in {:.2} s",
        std::thread::current().name().unwrap_or("case"),
        started.elapsed().as_secs_f64()
    );
}

/// Runs in the namespace: the life of a socket in `$M/own` and
/// `$M/shared`, or, for a failing case, the failure in each.
#[test]
#[ignore = "helper: run in a mount namespace by the other tests"]
fn helper_life() {
    if std::env::var_os("SUL_HELPER").is_none() {
        return;
    }
    let m = PathBuf::from(std::env::var_os("M").unwrap());
    let echo = PathBuf::from(std::env::var_os("SUL_ECHO").unwrap());
    let flags: Vec<String> = std::env::var("SUL_FLAGS")
        .unwrap()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let expect = std::env::var("SUL_EXPECT").unwrap();
    for dir in ["own", "shared"] {
        let dir = m.join(dir);
        match expect.strip_prefix("fails:") {
            None => life(&echo, &flags, &dir),
            Some(words) => failure(&echo, &flags, &dir, words),
        }
        println!("\nLIFE OK {}", dir.file_name().unwrap().to_string_lossy());
    }
}

/// Starts echo on `path` and waits for its "listening" line.
fn start(echo: &Path, flags: &[String], path: &Path, more: &[&str]) -> Running {
    let mut child: Running = Command::new(echo)
        .args(flags)
        .args(more)
        .arg(path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
        .into();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    if !line.contains(" listening on ") {
        let mut err = String::new();
        child
            .stderr
            .as_mut()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        panic!("echo did not listen on {}: {line}{err}", path.display());
    }
    child
}

/// A round trip with a real client, socat.
fn round_trip(path: &Path, line: &str) {
    let mut socat = Command::new("socat")
        .arg("-")
        .arg(format!("UNIX-CONNECT:{}", path.display()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    socat
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{line}\n").as_bytes())
        .unwrap();
    let out = finish(socat);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{line}\n"),
        "socat to {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn life(echo: &Path, flags: &[String], dir: &Path) {
    let path = dir.join("e.sock");
    let first = start(echo, flags, &path, &[]);
    round_trip(&path, "first");

    // kill -9 leaves a stale socket; the restart replaces it.
    signal(&first, Signal::SIGKILL);
    drop(finish(first));
    assert!(
        std::os::unix::net::UnixStream::connect(&path).is_err(),
        "a stale socket is left"
    );
    // (ext4 may give the new socket the same inode number: the round trip
    // is what shows the stale one was replaced.)
    let second = start(echo, flags, &path, &[]);
    round_trip(&path, "second");

    // A takeover while a client keeps connecting: never refused.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, refused) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let client = std::thread::spawn({
        let (stop, ok, refused, path) = (stop.clone(), ok.clone(), refused.clone(), path.clone());
        move || {
            while !stop.load(Ordering::Relaxed) {
                match std::os::unix::net::UnixStream::connect(&path) {
                    Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
                    Err(_) => refused.fetch_add(1, Ordering::Relaxed),
                };
            }
        }
    });
    let third = start(echo, flags, &path, &["--takeover"]);
    signal(&second, Signal::SIGTERM);
    let out = finish(second);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stop.store(true, Ordering::Relaxed);
    client.join().unwrap();
    assert_eq!(
        refused.load(Ordering::Relaxed),
        0,
        "a client was refused during the takeover"
    );
    assert!(ok.load(Ordering::Relaxed) > 0);
    round_trip(&path, "third");

    signal(&third, Signal::SIGTERM);
    let out = finish(third);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(listing(dir), vec![], "nothing is left in {}", dir.display());
}

fn failure(echo: &Path, flags: &[String], dir: &Path, words: &str) {
    let before = listing(dir);
    let out = Command::new(echo)
        .args(flags)
        .arg(dir.join("e.sock"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "one sentence: {err}");
    // "cannot bind …", or, in the shared directory, "cannot open bind
    // lock ….lock": the first file the bind makes there.
    assert!(
        err.starts_with("echo: cannot ")
            && err.contains(&format!("{}", dir.join("e.sock").display())),
        "{err}"
    );
    assert!(err.contains(words), "{words:?} missing from: {err}");
    assert_eq!(listing(dir), before, "the directory is unchanged");
}

#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: mounts in a mount namespace")]
#[cfg_attr(sul_no_socat, ignore = "needs socat (apt-get install socat)")]
fn tmpfs() {
    check(Case {
        mount: Mount::Tmpfs,
        expect: Expect::Works,
        ..Case::default()
    });
}

#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: mounts in a mount namespace")]
#[cfg_attr(sul_no_socat, ignore = "needs socat (apt-get install socat)")]
#[cfg_attr(
    sul_no_mkfs_ext4,
    ignore = "needs mkfs.ext4 (apt-get install e2fsprogs)"
)]
fn ext4_on_a_loop_device() {
    check(Case {
        mount: Mount::Loop {
            mkfs: "mkfs.ext4 -q -F",
            size: "32M",
        },
        expect: Expect::Works,
        ..Case::default()
    });
}

#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: mounts in a mount namespace")]
#[cfg_attr(sul_no_socat, ignore = "needs socat (apt-get install socat)")]
#[cfg_attr(sul_no_mkfs_xfs, ignore = "needs mkfs.xfs (apt-get install xfsprogs)")]
fn xfs_on_a_loop_device() {
    check(Case {
        mount: Mount::Loop {
            mkfs: "mkfs.xfs -q",
            size: "320M",
        },
        expect: Expect::Works,
        ..Case::default()
    });
}

#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: mounts in a mount namespace")]
#[cfg_attr(sul_no_socat, ignore = "needs socat (apt-get install socat)")]
#[cfg_attr(
    sul_no_mkfs_btrfs,
    ignore = "needs mkfs.btrfs (apt-get install btrfs-progs)"
)]
fn btrfs_on_a_loop_device() {
    check(Case {
        mount: Mount::Loop {
            mkfs: "mkfs.btrfs -q",
            size: "128M",
        },
        expect: Expect::Works,
        ..Case::default()
    });
}

#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: mounts in a mount namespace")]
#[cfg_attr(sul_no_socat, ignore = "needs socat (apt-get install socat)")]
fn overlayfs() {
    check(Case {
        mount: Mount::Script(
            "mount -t tmpfs tmpfs \"$R\"\nmkdir \"$R/lower\" \"$R/upper\" \"$R/work\"\n\
             mount -t overlay overlay -o \"lowerdir=$R/lower,upperdir=$R/upper,workdir=$R/work\" \"$M\"",
        ),
        expect: Expect::Works,
        ..Case::default()
    });
}

/// FUSE: a hard link there is a new inode no socket is bound to, and
/// `renameat2`'s flags are refused. The bind used to report "listening"
/// with every client refused.
#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: mounts in a mount namespace")]
#[cfg_attr(sul_no_socat, ignore = "needs socat (apt-get install socat)")]
#[cfg_attr(sul_no_bindfs, ignore = "needs bindfs (apt-get install bindfs fuse3)")]
fn fuse_through_bindfs() {
    check(Case {
        mount: Mount::Script("mount -t tmpfs tmpfs \"$R\"\nbindfs \"$R\" \"$M\""),
        teardown: "fusermount3 -u \"$M\" 2>/dev/null || umount \"$M\"",
        expect: Expect::Works,
        ..Case::default()
    });
}

/// A sandbox without `/proc`: an empty tmpfs over it.
#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: mounts in a mount namespace")]
#[cfg_attr(sul_no_socat, ignore = "needs socat (apt-get install socat)")]
fn an_empty_tmpfs_over_proc() {
    check(Case {
        mount: Mount::Tmpfs,
        before_bind: "mount -t tmpfs tmpfs /proc",
        expect: Expect::Works,
        ..Case::default()
    });
}

#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: mounts in a mount namespace")]
fn a_read_only_mount() {
    check(Case {
        mount: Mount::Tmpfs,
        before_bind: "mount -o remount,ro \"$M\"",
        expect: Expect::Fails(
            "the filesystem (tmpfs) is mounted read-only (EROFS); bind under a directory on a writable filesystem",
        ),
        ..Case::default()
    });
}

#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: mounts in a mount namespace")]
fn a_tmpfs_out_of_inodes() {
    check(Case {
        mount: Mount::Script("mount -t tmpfs -o nr_inodes=8 tmpfs \"$M\""),
        before_bind: "i=0; while touch \"$M/own/f$i\" 2>/dev/null; do i=$((i+1)); done",
        expect: Expect::Fails(
            "the filesystem (tmpfs) has no free inodes left, though it may have space (ENOSPC: No space left on device); free some space or inodes there",
        ),
        ..Case::default()
    });
}

/// A rootless container: uid 65534 makes a user namespace (`unshare -Ur`)
/// in which it is root, and mounts a tmpfs there.
#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: runs as uid 65534")]
#[cfg_attr(sul_no_socat, ignore = "needs socat (apt-get install socat)")]
fn a_user_namespace_made_by_uid_65534() {
    check(Case {
        mount: Mount::Tmpfs,
        user_namespace_of: Some(NOBODY),
        expect: Expect::Works,
        ..Case::default()
    });
}

/// The same, asked for a group the namespace does not map. It used to say
/// only `cannot change owner of DIR/e.sock: EINVAL: Invalid argument`.
#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: runs as uid 65534")]
fn a_group_not_mapped_in_a_user_namespace_is_named() {
    check(Case {
        mount: Mount::Tmpfs,
        user_namespace_of: Some(NOBODY),
        echo_flags: "--mode 0660 --group 100",
        expect: Expect::Fails(
            "gid 100 is not mapped in this user namespace (EINVAL), which maps only gids 0 (/proc/self/gid_map), as in a rootless container; choose a gid that is mapped",
        ),
        ..Case::default()
    });
}

/// With a mode and a group: in the directory everyone may write, the
/// socket is made with no permission bits and set through the descriptor
/// that pins it (Linux, with `/proc`), on a local filesystem and on FUSE;
/// without `/proc`, through the private directory.
#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: mounts in a mount namespace")]
#[cfg_attr(sul_no_socat, ignore = "needs socat (apt-get install socat)")]
fn tmpfs_with_a_mode_and_group() {
    check(Case {
        mount: Mount::Tmpfs,
        echo_flags: "--mode 0660 --group 100",
        expect: Expect::Works,
        ..Case::default()
    });
}

#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: mounts in a mount namespace")]
#[cfg_attr(sul_no_socat, ignore = "needs socat (apt-get install socat)")]
#[cfg_attr(sul_no_bindfs, ignore = "needs bindfs (apt-get install bindfs fuse3)")]
fn fuse_through_bindfs_with_a_mode_and_group() {
    check(Case {
        mount: Mount::Script("mount -t tmpfs tmpfs \"$R\"\nbindfs \"$R\" \"$M\""),
        teardown: "fusermount3 -u \"$M\" 2>/dev/null || umount \"$M\"",
        echo_flags: "--mode 0660 --group 100",
        expect: Expect::Works,
        ..Case::default()
    });
}

#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: mounts in a mount namespace")]
#[cfg_attr(sul_no_socat, ignore = "needs socat (apt-get install socat)")]
fn an_empty_tmpfs_over_proc_with_a_mode_and_group() {
    check(Case {
        mount: Mount::Tmpfs,
        before_bind: "mount -t tmpfs tmpfs /proc",
        echo_flags: "--mode 0660 --group 100",
        expect: Expect::Works,
        ..Case::default()
    });
}

#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: mounts in a mount namespace")]
#[cfg_attr(sul_no_socat, ignore = "needs socat (apt-get install socat)")]
fn overlayfs_with_a_mode_and_group() {
    check(Case {
        mount: Mount::Script(
            "mount -t tmpfs tmpfs \"$R\"\nmkdir \"$R/lower\" \"$R/upper\" \"$R/work\"\n\
             mount -t overlay overlay -o \"lowerdir=$R/lower,upperdir=$R/upper,workdir=$R/work\" \"$M\"",
        ),
        echo_flags: "--mode 0660 --group 100",
        expect: Expect::Works,
        ..Case::default()
    });
}

/// A rootless container with a mode: the socket is made closed and set
/// through its pin there too, as uid 65534 made root of its namespace.
#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: runs as uid 65534")]
#[cfg_attr(sul_no_socat, ignore = "needs socat (apt-get install socat)")]
fn a_user_namespace_made_by_uid_65534_with_a_mode() {
    check(Case {
        mount: Mount::Tmpfs,
        user_namespace_of: Some(NOBODY),
        echo_flags: "--mode 0660",
        expect: Expect::Works,
        ..Case::default()
    });
}
