//! Identity is the socket we bound, not an inode number: a guard never
//! removes a successor's socket that took our freed inode number, and the
//! check after a bind refuses a socket that is not the one we bound, even
//! one with our owner, mode and group.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use safe_unix_listener::{BindErrorKind, SafeUnixListener};

use crate::support::{NOBODY, helper_under_strace, in_runtime, ino, run_helper, tempdir};

/// `into_parts`, the listener dropped, a successor binding the same path
/// (it removes our stale socket, and on ext4 and tmpfs often gets its
/// inode number), then our guard dropped: the successor's socket stays.
#[test]
fn the_guard_leaves_a_successor_that_got_our_inode_number_alone() {
    let dir = tempdir();
    let path = dir.path().join("app.sock");
    in_runtime(|_| {
        let mut reused = 0;
        for round in 0..100 {
            let (listener, unlink) = SafeUnixListener::bind(&path).unwrap().into_parts();
            let old = ino(&path);
            drop(listener);
            // Another test's child, between its fork and its exec, may
            // hold a copy of the listener for a moment: then it answers.
            let successor = (0..1000)
                .find_map(|_| match SafeUnixListener::bind(&path) {
                    Err(e) if e.kind() == BindErrorKind::InUse => {
                        std::thread::sleep(std::time::Duration::from_millis(1));
                        None
                    }
                    bound => Some(bound.unwrap()),
                })
                .expect("the successor binds");
            let new = ino(&path);
            reused += usize::from(new == old);
            drop(unlink);
            assert!(
                fs::symlink_metadata(&path).is_ok_and(|m| m.ino() == new),
                "round {round}: old socket ino={old}, successor socket ino={new}; the successor's socket file was REMOVED"
            );
            assert!(
                UnixStream::connect(&path).is_ok(),
                "round {round}: the successor is reachable"
            );
            drop(successor);
        }
        // With the inode pinned while the guard lives, the number is
        // never the successor's.
        assert_eq!(reused, 0, "the successor got our inode number");
    });
}

/// A 0770 root:G directory, uid 65534 in group G, root's service B on
/// `b.sock` (0660 root:G). Root's A binds `a.sock` with mode 660 and group
/// G, its bind held 1.5 s; the member renames A's socket away and B's to
/// `a.sock`. A must refuse B's socket, though owner, mode and group match,
/// and leave it where it is.
#[test]
#[cfg_attr(sul_no_strace, ignore = "needs strace")]
#[cfg_attr(sul_not_root, ignore = "needs root: a group member racing a root bind")]
fn a_group_member_cannot_hand_us_another_root_socket() {
    const G: u32 = 4242;
    const SCRIPT: &str = r#"
import os, sys, time
d = sys.argv[1]
a, b, stolen = os.path.join(d, "a.sock"), os.path.join(d, "b.sock"), os.path.join(d, "stolen")
open(os.path.join(d, "ready"), "w").close()
deadline = time.time() + 20
while not os.path.lexists(a):
    if time.time() > deadline:
        sys.exit(1)
os.rename(a, stolen)
os.rename(b, a)
"#;
    let dir = tempdir();
    let shared = dir.path().join("shared");
    fs::create_dir(&shared).unwrap();
    std::os::unix::fs::chown(&shared, Some(0), Some(G)).unwrap();
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o770)).unwrap();
    let b = shared.join("b.sock");
    let service_b = UnixListener::bind(&b).unwrap();
    fs::set_permissions(&b, fs::Permissions::from_mode(0o660)).unwrap();
    std::os::unix::fs::chown(&b, Some(0), Some(G)).unwrap();
    let b_ino = ino(&b);
    let mut member = Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(&shared)
        .uid(NOBODY)
        .gid(G)
        .stdin(Stdio::null())
        .spawn()
        .expect("python3 is installed");
    let ready = shared.join("ready");
    for _ in 0..2000 {
        if ready.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(ready.exists(), "the group member started");
    let a = shared.join("a.sock");
    let mut cmd = helper_under_strace("helper_bind", &["inject=bind:delay_exit=1500000"]);
    cmd.env("SUL_ADDR", &a)
        .env("SUL_MODE", "660")
        .env("SUL_GROUP", G.to_string());
    let (outcome, _, _) = run_helper(&mut cmd);
    assert!(member.wait().unwrap().success(), "the member made its swap");
    let msg = outcome.expect_failed("InUse");
    assert!(msg.contains("replaced the new socket"), "{msg}");
    assert_eq!(ino(&a), b_ino, "B's socket is left at a.sock");
    assert!(UnixStream::connect(&a).is_ok(), "B still answers at a.sock");
    drop(service_b);
}
