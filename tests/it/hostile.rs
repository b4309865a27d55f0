//! A hostile user of the same machine, for real: uid 65534 owns or can
//! write the directory, squats on names, and races the bind. Nothing the
//! crate did not create may be changed or removed, and every refusal says
//! what is wrong.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use nix::sys::stat::Mode;
use nix::unistd::mkfifo;
use safe_unix_listener::{BindErrorKind, OnExisting, SafeUnixListener};

use crate::support::{
    Fixture, NOBODY, Outcome, Running, helper, helper_under_strace, in_runtime, ino, listing,
    lock_file, make_stale, run_helper, run_injected, tempdir_with_mode,
};

/// A directory owned by uid 65534, as an attacker's own directory is.
fn nobodys_dir(parent: &Path, name: &str) -> std::path::PathBuf {
    let dir = parent.join(name);
    fs::create_dir(&dir).unwrap();
    std::os::unix::fs::chown(&dir, Some(NOBODY), Some(NOBODY)).unwrap();
    dir
}

/// A root-owned 0600 file with content, in a root-owned directory: what the
/// attacker wants us to change.
fn victim(parent: &Path) -> std::path::PathBuf {
    let dir = parent.join("victim");
    fs::create_dir(&dir).unwrap();
    let file = dir.join("secret");
    fs::write(&file, b"root only").unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
    file
}

/// uid 65534 renaming away every name it sees in `dir` (but the lock file)
/// and putting a symbolic link in its place: to the victim's directory for
/// our private directories, to `victim` for anything else. Its links are
/// removed on its next pass, so that binds keep coming. Runs until killed.
fn attacker(dir: &Path, victim: &Path) -> Running {
    const SCRIPT: &str = r#"
import os, sys
d, victim, victim_dir = sys.argv[1], sys.argv[2], os.path.dirname(sys.argv[2])
n = 0
while True:
    try:
        names = os.listdir(d)
    except OSError:
        continue
    for name in names:
        path = os.path.join(d, name)
        if name.startswith("junk") or name.endswith(".lock"):
            continue
        if os.path.islink(path):
            try:
                os.unlink(path)
            except OSError:
                pass
            continue
        junk = os.path.join(d, "junk%d" % n)
        n += 1
        try:
            os.rename(path, junk)
            os.symlink(victim_dir if name.startswith(".sul-") or name.endswith(".sul") else victim, path)
        except OSError:
            pass
        for remove in (os.unlink, os.rmdir):
            try:
                remove(junk)
            except OSError:
                pass
"#;
    nobody_python(SCRIPT, dir, victim)
}

/// `python3 -c script first second`, as uid 65534.
fn nobody_python(script: &str, first: &Path, second: &Path) -> Running {
    let child: Child = Command::new("python3")
        .args(["-c", script])
        .arg(first)
        .arg(second)
        .uid(NOBODY)
        .gid(NOBODY)
        .stdin(Stdio::null())
        .spawn()
        .expect("python3 is installed");
    child.into()
}

fn assert_untouched(victim: &Path) {
    let m = fs::metadata(victim).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o600, "the victim's mode was changed");
    assert_eq!((m.uid(), m.gid()), (0, 0), "the victim's owner was changed");
    assert_eq!(fs::read(victim).unwrap(), b"root only");
    let names: Vec<_> = listing(victim.parent().unwrap())
        .into_iter()
        .map(|e| e.0)
        .collect();
    assert_eq!(names, ["secret"], "nothing was created beside the victim");
}

/// Binds `SUL_ADDR` `SUL_REPEAT` times with mode 0666 (and
/// `create_parents(0o777)` with `SUL_CREATE_PARENTS`), removing what
/// `create_parents` made each time; prints how many binds succeeded.
#[test]
#[ignore = "helper: run in a child process by the other tests"]
fn helper_bind_repeatedly() {
    if std::env::var_os("SUL_HELPER").is_none() {
        return;
    }
    let path = std::path::PathBuf::from(std::env::var("SUL_ADDR").unwrap());
    let repeat: usize = std::env::var("SUL_REPEAT").unwrap().parse().unwrap();
    let create = std::env::var_os("SUL_CREATE_PARENTS").is_some();
    in_runtime(|_| {
        let mut bound = 0;
        for _ in 0..repeat {
            let mut builder = SafeUnixListener::builder(&path).mode(0o666);
            if create {
                builder = builder.create_parents(0o777);
            }
            let done = match std::env::var_os("SUL_DATAGRAM") {
                Some(_) => builder.bind_datagram().map(drop),
                None => builder.bind().map(drop),
            };
            match done {
                Ok(()) => bound += 1,
                Err(e) => assert_ne!(e.kind(), BindErrorKind::Other, "{e}"),
            }
            if create {
                let _ = fs::remove_dir_all(path.parent().unwrap());
            }
        }
        println!("\nBOUND {bound} of {repeat}");
    });
}

/// Runs [`helper_bind_repeatedly`] on `path` with every chmod delayed by
/// 2 ms (`strace -e inject`), which holds the window a path-based chmod
/// would leave open, while `attacker` races it.
fn bind_under_attack(path: &Path, create_parents: bool) -> String {
    bind_under_attack_with(path, create_parents, &[])
}

/// [`bind_under_attack`], with more variables for the helper.
fn bind_under_attack_with(path: &Path, create_parents: bool, env: &[(&str, &str)]) -> String {
    let mut cmd = helper_under_strace(
        "hostile::helper_bind_repeatedly",
        &["inject=chmod,fchmodat,fchmod:delay_enter=2000"],
    );
    cmd.env("SUL_ADDR", path)
        .env("SUL_REPEAT", "300")
        .envs(env.iter().copied());
    if create_parents {
        cmd.env("SUL_CREATE_PARENTS", "1");
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .find(|l| l.starts_with("BOUND "))
        .unwrap()
        .to_owned()
}

/// uid 65534 sweeping `dir` every millisecond: each temporary directory
/// (`sul-…`) it finds is renamed away and replaced by a link to the
/// victim's directory, and its links from the sweep before are removed.
/// Between sweeps a new directory survives long enough to reach `bind`.
fn temp_dir_swapper(dir: &Path, victim: &Path) -> Running {
    const SCRIPT: &str = r#"
import os, sys, time
d, victim_dir = sys.argv[1], os.path.dirname(sys.argv[2])
n = 0
while True:
    time.sleep(0.001)
    for name in os.listdir(d):
        path = os.path.join(d, name)
        if os.path.islink(path):
            try:
                os.unlink(path)
            except OSError:
                pass
        elif name.startswith("sul-"):
            n += 1
            try:
                os.rename(path, os.path.join(d, "junk%d" % n))
                os.symlink(victim_dir, path)
            except OSError:
                pass
"#;
    nobody_python(SCRIPT, dir, victim)
}

/// Binds `SUL_REPEAT` temporary sockets one after the other, checking
/// that each accepts a connection at its address, and prints how many
/// landed in `$TMPDIR` and how many in `/tmp`.
#[test]
#[ignore = "helper: run in a child process by the other tests"]
fn helper_bind_temp_repeatedly() {
    if std::env::var_os("SUL_HELPER").is_none() {
        return;
    }
    let repeat: usize = std::env::var("SUL_REPEAT").unwrap().parse().unwrap();
    let tmpdir = std::path::PathBuf::from(std::env::var_os("TMPDIR").unwrap());
    in_runtime(|_| {
        let (mut in_tmpdir, mut in_tmp) = (0, 0);
        for _ in 0..repeat {
            let listener = SafeUnixListener::bind_temp().unwrap();
            let path = listener.addr().as_path().unwrap().to_owned();
            match path.parent().and_then(Path::parent) {
                Some(base) if base == tmpdir => in_tmpdir += 1,
                Some(base) if base == Path::new("/tmp") => in_tmp += 1,
                _ => panic!("bound at {}", path.display()),
            }
            // The attacker may have moved the directory away by now; when it
            // has not, the socket there is ours and listening.
            if let Err(e) = std::os::unix::net::UnixStream::connect(&path) {
                assert_eq!(
                    e.kind(),
                    std::io::ErrorKind::NotFound,
                    "{}: {e}",
                    path.display()
                );
            }
        }
        println!("\nBOUND {in_tmpdir} IN TMPDIR {in_tmp} IN /tmp");
    });
}

/// `bind_temp` in a `$TMPDIR` that uid 65534 owns, while it renames away
/// every temporary directory it sees and puts a link to a root-owned
/// directory in its place, with every `bind` delayed by 5 ms to hold the
/// window between making the directory and binding in it. A bind by path
/// would put a socket in the victim's directory; binding through the
/// directory's descriptor cannot.
#[test]
#[cfg_attr(sul_no_strace, ignore = "needs strace")]
#[cfg_attr(sul_not_root, ignore = "needs root: racing a uid 65534 attacker")]
fn a_racing_user_cannot_redirect_a_temporary_socket() {
    let f = Fixture::new();
    let dir = nobodys_dir(f.dir.path(), "tmp");
    let victim = victim(f.dir.path());
    let _attacker = temp_dir_swapper(&dir, &victim);
    let env = [
        ("TMPDIR", dir.as_path()),
        ("XDG_RUNTIME_DIR", dir.as_path()),
        ("SUL_REPEAT", Path::new("300")),
    ];
    let inject = ["bind:delay_enter=5000".to_owned()];
    let stdout = run_injected("hostile::helper_bind_temp_repeatedly", &env, &inject);
    let bound = stdout
        .lines()
        .find_map(|l| l.strip_prefix("BOUND "))
        .unwrap_or_else(|| panic!("the helper failed:\n{stdout}"));
    eprintln!("{bound} under attack");
    let in_tmpdir: usize = bound.split(' ').next().unwrap().parse().unwrap();
    assert!(
        in_tmpdir > 0,
        "the attacker's directory was never bound in: {bound}"
    );
    assert_untouched(&victim);
}

/// The sweep of what killed `bind_temp` processes left takes only a
/// directory that is ours, unlocked, and holds nothing but a stale socket.
/// uid 65534 squats on names that look like leftovers in a `$TMPDIR` it
/// owns; we have left a regular file and a live socket in look-alikes too.
#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: names squatted by uid 65534")]
fn the_temp_sweep_takes_only_our_own_dead_leftovers() {
    let f = Fixture::new();
    let dir = nobodys_dir(f.dir.path(), "tmp");
    let victim = victim(f.dir.path());
    // Theirs: a directory with a stale socket, and a link to the victim's.
    let squat = r#"
import os, socket, sys
d, victim_dir = sys.argv[1], os.path.dirname(sys.argv[2])
os.mkdir(os.path.join(d, "sul-aaaaaaaa"), 0o700)
s = socket.socket(socket.AF_UNIX)
s.bind(os.path.join(d, "sul-aaaaaaaa", "s"))
s.close()
os.symlink(victim_dir, os.path.join(d, "sul-bbbbbbbb"))
"#;
    let mut squatter = nobody_python(squat, &dir, &victim);
    assert!(squatter.wait().unwrap().success());
    // Ours: a regular file, a live socket, and a real leftover.
    let ours = |name: &str| {
        let d = dir.join(name);
        fs::create_dir(&d).unwrap();
        fs::set_permissions(&d, fs::Permissions::from_mode(0o700)).unwrap();
        d.join("s")
    };
    fs::write(ours("sul-cccccccc"), "keep").unwrap();
    let _live = std::os::unix::net::UnixListener::bind(ours("sul-dddddddd")).unwrap();
    make_stale(&ours("sul-eeeeeeee"));

    let out = helper("temp::helper_temp_binds", None)
        .env("TMPDIR", &dir)
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let names: Vec<_> = listing(&dir).into_iter().map(|e| e.0).collect();
    assert_eq!(
        names,
        [
            "sul-aaaaaaaa",
            "sul-bbbbbbbb",
            "sul-cccccccc",
            "sul-dddddddd"
        ],
        "only the real leftover (and the helper's own) went"
    );
    assert_eq!(
        fs::read_to_string(dir.join("sul-cccccccc/s")).unwrap(),
        "keep"
    );
    assert!(dir.join("sul-aaaaaaaa/s").exists());
    assert_untouched(&victim);
}

/// Item 1: with `chmod` by path, uid 65534 swapping the fresh socket for a
/// link made a root-owned 0600 file 0666 within a few thousand binds.
#[test]
#[cfg_attr(sul_no_strace, ignore = "needs strace")]
#[cfg_attr(sul_not_root, ignore = "needs root: racing a uid 65534 attacker")]
fn a_racing_user_cannot_redirect_the_mode_or_the_bind() {
    let f = Fixture::new();
    let dir = nobodys_dir(f.dir.path(), "shared");
    binds_under_attack_leave_the_victim_alone(f.dir.path(), &dir);
}

/// 300 binds of `dir/app.sock` with mode 0666 while uid 65534 renames,
/// links and swaps in `dir`; a root-only victim beside it stays untouched.
fn binds_under_attack_leave_the_victim_alone(root: &Path, dir: &Path) {
    let victim = victim(root);
    let _attacker = attacker(dir, &victim);
    let _swapper = swapper(&dir.join("app.sock"), &victim);
    let bound = bind_under_attack(&dir.join("app.sock"), false);
    eprintln!("{bound} under attack");
    assert_untouched(&victim);
}

/// The same race against datagram receivers: the one bind sequence.
#[test]
#[cfg_attr(sul_no_strace, ignore = "needs strace")]
#[cfg_attr(sul_not_root, ignore = "needs root: racing a uid 65534 attacker")]
fn a_racing_user_cannot_redirect_the_mode_of_a_datagram_receiver() {
    let f = Fixture::new();
    let dir = nobodys_dir(f.dir.path(), "shared");
    let victim = victim(f.dir.path());
    let _attacker = attacker(&dir, &victim);
    let _swapper = swapper(&dir.join("app.sock"), &victim);
    let bound = bind_under_attack_with(&dir.join("app.sock"), false, &[("SUL_DATAGRAM", "1")]);
    eprintln!("{bound} datagram receivers under attack");
    assert_untouched(&victim);
}

/// A foreign lock file in front of a datagram receiver: a regular one is
/// used and kept with its content, a FIFO is refused and left alone.
#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: files made by uid 65534")]
fn a_datagram_receiver_keeps_lock_files_it_did_not_create() {
    Fixture::with_mode(0o1777).run(|f| {
        let lock = lock_file(&f.path);
        fs::write(&lock, b"theirs").unwrap();
        std::os::unix::fs::lchown(&lock, Some(NOBODY), Some(NOBODY)).unwrap();
        drop(safe_unix_listener::SafeUnixDatagram::bind(&f.path).unwrap());
        assert_eq!(fs::read(&lock).unwrap(), b"theirs");
        fs::remove_file(&lock).unwrap();
        mkfifo(&lock, Mode::from_bits_truncate(0o644)).unwrap();
        let err = safe_unix_listener::SafeUnixDatagram::bind(&f.path).unwrap_err();
        assert_eq!(err.kind(), BindErrorKind::LockFile, "{err}");
        assert!(err.to_string().contains("a FIFO"), "{err}");
        assert!(exists_fifo(&lock), "the FIFO is left alone");
    });
}

fn exists_fifo(p: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_fifo())
}

/// The same in a sticky directory owned by root, as `/tmp` is: there the
/// socket is bound at the path itself (uid 65534 can neither rename nor
/// remove what root creates there), and its mode is set before it listens.
/// The attacker renames, links and swaps all the same.
#[test]
#[cfg_attr(sul_no_strace, ignore = "needs strace")]
#[cfg_attr(sul_not_root, ignore = "needs root: racing a uid 65534 attacker")]
fn a_racing_user_cannot_redirect_the_mode_in_a_sticky_directory() {
    let f = Fixture::new();
    let dir = f.dir.path().join("sticky");
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o1777)).unwrap();
    binds_under_attack_leave_the_victim_alone(f.dir.path(), &dir);
}

/// The same for `create_parents`: each directory it makes is changed only
/// through a descriptor opened without following links.
#[test]
#[cfg_attr(sul_no_strace, ignore = "needs strace")]
#[cfg_attr(sul_not_root, ignore = "needs root: racing a uid 65534 attacker")]
fn a_racing_user_cannot_redirect_create_parents() {
    let f = Fixture::new();
    let dir = nobodys_dir(f.dir.path(), "shared");
    let victim = victim(f.dir.path());
    let _swapper = swapper(&dir.join("new"), &victim);
    let bound = bind_under_attack(&dir.join("new/app.sock"), true);
    eprintln!("{bound} under attack");
    assert_untouched(&victim);
}

/// uid 65534 in a tight loop: rename `path` away the moment it exists, put a
/// link to `victim` there, and remove the link a moment later.
fn swapper(path: &Path, victim: &Path) -> Running {
    const SCRIPT: &str = r#"
import os, sys, time
path, victim = sys.argv[1], sys.argv[2]
junk = path + ".junk"
while True:
    try:
        os.rename(path, junk)
    except OSError:
        continue
    try:
        os.symlink(victim, path)
        time.sleep(0.01)
        os.unlink(path)
    except OSError:
        pass
    for remove in (os.unlink, os.rmdir):
        try:
            remove(junk)
        except OSError:
            pass
"#;
    nobody_python(SCRIPT, path, victim)
}

/// Item 2: `check_parent` follows OpenSSH's StrictModes rule.
#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: directories owned by uid 65534")]
fn check_parent_refuses_every_way_around_it() {
    Fixture::new().run(|f| {
        let checked = |path: &Path| {
            SafeUnixListener::builder(path)
                .check_parent(true)
                .bind()
                .map(drop)
        };

        // A group-writable parent (root:nogroup 0775).
        let group = f.dir.path().join("group");
        fs::create_dir(&group).unwrap();
        std::os::unix::fs::chown(&group, Some(0), Some(NOBODY)).unwrap();
        fs::set_permissions(&group, fs::Permissions::from_mode(0o775)).unwrap();
        let err = checked(&group.join("app.sock")).unwrap_err();
        assert_eq!(err.kind(), BindErrorKind::InsecureParent);
        assert!(
            err.to_string().contains(&format!(
                "directory {} is writable by its group (gid {NOBODY}, mode 0775)",
                group.display()
            )),
            "{err}"
        );

        // A good directory under one uid 65534 owns: it could rename `good`.
        let att = nobodys_dir(f.dir.path(), "att");
        let good = att.join("good");
        fs::create_dir(&good).unwrap();
        let err = checked(&good.join("app.sock")).unwrap_err();
        assert_eq!(err.kind(), BindErrorKind::InsecureParent);
        assert!(
            err.to_string().contains(&format!(
                "directory {} is owned by uid {NOBODY}, and we run as uid 0",
                att.display()
            )),
            "{err}"
        );

        // A link in a directory uid 65534 owns, to a good directory: the link
        // could be re-pointed.
        let safe = f.dir.path().join("safe");
        fs::create_dir(&safe).unwrap();
        symlink(&safe, att.join("link")).unwrap();
        let err = checked(&att.join("link/app.sock")).unwrap_err();
        assert_eq!(err.kind(), BindErrorKind::InsecureParent);
        assert!(
            err.to_string()
                .contains(&format!("directory {}", att.display())),
            "{err}"
        );

        // A link in a safe directory to a safe directory passes; to one that
        // is not, the message names where it leads.
        symlink(&safe, f.dir.path().join("to-safe")).unwrap();
        checked(&f.dir.path().join("to-safe/app.sock")).unwrap();
        symlink(&group, f.dir.path().join("to-group")).unwrap();
        let err = checked(&f.dir.path().join("to-group/app.sock")).unwrap_err();
        assert!(
            err.to_string().contains("reached through the link at"),
            "{err}"
        );
        assert!(!group.join("app.sock").exists() && !safe.join("app.sock").exists());
    });
}

/// Items 3 and 4: the lock file. One that was there is never removed, and
/// anything but a regular file is reported, with its type and owner, and
/// left alone.
#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: files made by uid 65534")]
fn lock_files_we_did_not_create_are_kept_and_explained() {
    Fixture::with_mode(0o1777).run(|f| {
        let lock = lock_file(&f.path);
        let as_nobody =
            |p: &Path| std::os::unix::fs::lchown(p, Some(NOBODY), Some(NOBODY)).unwrap();

        // A regular file with content (uid 65534's, in a sticky directory):
        // used as the lock, kept with its content.
        fs::write(&lock, b"theirs").unwrap();
        as_nobody(&lock);
        drop(SafeUnixListener::bind(&f.path).unwrap());
        assert_eq!(fs::read(&lock).unwrap(), b"theirs");
        fs::remove_file(&lock).unwrap();

        // A symbolic link, a directory, a FIFO: refused, named, left alone.
        type Make<'a> = &'a dyn Fn(&Path);
        let cases: [(&str, Make<'_>); 3] = [
            ("a symbolic link", &|p| symlink("/etc/passwd", p).unwrap()),
            ("a directory", &|p| fs::create_dir(p).unwrap()),
            ("a FIFO", &|p| {
                mkfifo(p, Mode::from_bits_truncate(0o644)).unwrap()
            }),
        ];
        for (what, make) in cases {
            make(&lock);
            as_nobody(&lock);
            let before = listing(f.dir.path());
            let err = SafeUnixListener::bind(&f.path).unwrap_err();
            assert_eq!(err.kind(), BindErrorKind::LockFile, "{what}: {err}");
            let msg = err.to_string();
            let expected = format!(
                "cannot open bind lock {}: {what} owned by uid {NOBODY}",
                lock.display()
            );
            assert!(msg.starts_with(&expected), "{msg}");
            assert!(msg.contains("never followed, opened or removed"), "{msg}");
            assert_eq!(listing(f.dir.path()), before, "{what} is left alone");
            let _ = fs::remove_file(&lock).or_else(|_| fs::remove_dir(&lock));
        }
    });
}

#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: binding as uid 65534")]
fn an_unreadable_lock_file_names_its_owner_not_the_directory() {
    let dir = tempdir_with_mode(0o1777);
    let path = dir.path().join("app.sock");
    let lock = lock_file(&path);
    fs::write(&lock, b"").unwrap();
    fs::set_permissions(&lock, fs::Permissions::from_mode(0o000)).unwrap();
    let (outcome, _, _) = run_helper(helper("helper_bind", Some(NOBODY)).env("SUL_ADDR", &path));
    let msg = outcome.expect_failed("PermissionDenied");
    assert!(
        msg.contains(&format!(
            "cannot open bind lock {}: this lock file is owned by uid 0 with mode 0000, and we run as uid {NOBODY}, who may not open it (EACCES)",
            lock.display()
        )),
        "{msg}"
    );
    assert!(lock.exists() && !path.exists());
}

/// Item 3: a path ending in `/` is refused before anything is touched.
#[test]
fn a_trailing_slash_is_refused_and_dot_lock_is_kept() {
    Fixture::new().run(|f| {
        let sub = f.dir.path().join("sub");
        fs::create_dir(&sub).unwrap();
        fs::write(sub.join(".lock"), b"mine").unwrap();
        let err = SafeUnixListener::bind(format!("{}/", sub.display())).unwrap_err();
        assert_eq!(err.kind(), BindErrorKind::InvalidAddress);
        assert!(
            err.to_string().contains("does not end in a file name"),
            "{err}"
        );
        assert_eq!(fs::read(sub.join(".lock")).unwrap(), b"mine");
    });
}

/// Item 5: a takeover killed between bind and move leaves its private
/// directory; the next takeover in the directory removes it and succeeds.
#[test]
#[cfg_attr(sul_no_strace, ignore = "needs strace")]
fn a_crashed_takeover_is_cleaned_up_by_the_next() {
    let f = Fixture::new();
    let old = f.run(|f| SafeUnixListener::bind(&f.path).unwrap());
    let out = helper_under_strace("helper_bind", &["inject=renameat2:signal=SIGKILL"])
        .env("SUL_ADDR", &f.path)
        .env("SUL_TAKEOVER", "1")
        .output()
        .unwrap();
    assert!(!out.status.success(), "the helper was killed mid-takeover");
    let left: Vec<_> = listing(f.dir.path())
        .into_iter()
        .filter(|e| e.0 == ".app.sock.sul")
        .collect();
    assert_eq!(left.len(), 1, "it left its private directory: {left:?}");

    f.run(|f| {
        let new = SafeUnixListener::builder(&f.path)
            .on_existing(OnExisting::TakeOver)
            .bind()
            .unwrap();
        let names: Vec<_> = listing(f.dir.path()).into_iter().map(|e| e.0).collect();
        assert_eq!(names, ["app.sock"], "the leftover is gone");
        drop(old);
        drop(new);
    });
}

/// Item 5: a regular file that appears at the path while a takeover is
/// under way (its exchange held 1 s) is swapped back, never replaced.
#[test]
#[cfg_attr(sul_no_strace, ignore = "needs strace")]
fn a_takeover_never_replaces_a_file_that_appears_during_it() {
    let f = Fixture::new();
    make_stale(&f.path);
    // The swap waits 1 s; the test puts a file at the path meanwhile.
    let mut child = takeover_at_its_swap(&f);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let tmp = f.dir.path().join("incoming");
    fs::write(&tmp, b"precious").unwrap();
    fs::rename(&tmp, &f.path).unwrap();

    let mut stdout = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut stdout).unwrap();
    let outcome = stdout.lines().find_map(Outcome::parse).expect("an outcome");
    let msg = outcome.expect_failed("NotASocket");
    // Swapped back (or, on a machine so slow that the file came before the
    // takeover looked at the path, refused at that look).
    assert!(
        msg.contains("a regular file appeared there while we were taking it over; it was put back, and only sockets are ever replaced")
            || msg.contains("a regular file is in the way"),
        "{msg}"
    );
    assert_eq!(fs::read(&f.path).unwrap(), b"precious");
    let names: Vec<_> = listing(f.dir.path()).into_iter().map(|e| e.0).collect();
    assert_eq!(names, ["app.sock"], "no private directory is left");
}

/// A takeover of `f.path` by a helper whose every `renameat2` is held 1 s,
/// returned once its private socket exists: its look at the path and its
/// exchange come next.
fn takeover_at_its_swap(f: &Fixture) -> Running {
    let child: Running = helper_under_strace(
        "helper_bind",
        &["trace=renameat2", "inject=renameat2:delay_enter=1000000"],
    )
    .env("SUL_ADDR", &f.path)
    .env("SUL_TAKEOVER", "1")
    .stdout(Stdio::piped())
    .spawn()
    .unwrap()
    .into();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !f.dir.path().join(".app.sock.sul/s").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the takeover never reached its swap"
        );
        std::thread::yield_now();
    }
    child
}

/// Item 5, raced by uid 65534 in a directory it may write: it puts its file
/// at the path just before the exchange and removes our socket just before
/// the swap-back, with each `renameat2` held 1 s. Its file used to stay
/// inside our private directory, under a "ParentMissing" error; it now
/// goes back to the path, and nothing is left behind.
#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: races uid 65534")]
#[cfg_attr(sul_no_strace, ignore = "needs strace")]
fn a_takeover_raced_by_another_user_puts_their_file_back() {
    // An attacker that came before the exchange was even looked at is
    // refused plainly ("is in the way"); that is retried, a few times.
    for _ in 0..4 {
        let f = Fixture::with_mode(0o777);
        let Some((msg, file_ino)) = takeover_raced_by_nobody(&f) else {
            continue;
        };
        assert!(
            msg.contains(&format!(
                "cannot take over {}: a regular file appeared there while we were taking it over; it was put back",
                f.path.display()
            )),
            "{msg}"
        );
        assert_eq!(ino(&f.path), file_ino, "their file is back at the path");
        assert_eq!(fs::read(&f.path).unwrap(), b"precious");
        let names: Vec<_> = listing(f.dir.path())
            .into_iter()
            .map(|e| e.0)
            .filter(|n| !n.ends_with(".lock"))
            .collect();
        assert_eq!(names, ["app.sock"], "no private directory is left");
        return;
    }
    panic!("the attacker never got between the check and the exchange");
}

/// One round of the race above: the takeover's message and the inode of
/// the attacker's file, or `None` if the attacker came too early.
fn takeover_raced_by_nobody(f: &Fixture) -> Option<(String, u64)> {
    const SCRIPT: &str = r#"
import os, stat, sys
path, incoming, old = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(incoming, "w") as f:
    f.write("precious")
print("ready", flush=True)
sys.stdin.readline()
os.rename(incoming, path)
while True:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        continue
    if stat.S_ISSOCK(st.st_mode) and st.st_ino != old:
        os.unlink(path)
        break
print("removed", flush=True)
"#;
    let old = make_stale(&f.path);
    let incoming = f.dir.path().join("incoming");
    let mut attacker: Running = Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(&f.path)
        .arg(&incoming)
        .arg(old.to_string())
        .uid(NOBODY)
        .gid(NOBODY)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 is installed")
        .into();
    let mut said = std::io::BufReader::new(attacker.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut said, &mut line).unwrap();
    assert_eq!(line, "ready\n");
    let file_ino = ino(&incoming);

    let mut child = takeover_at_its_swap(f);
    std::thread::sleep(std::time::Duration::from_millis(300));
    std::io::Write::write_all(attacker.stdin.as_mut().unwrap(), b"go\n").unwrap();

    let mut stdout = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut stdout).unwrap();
    let msg = stdout
        .lines()
        .find_map(Outcome::parse)
        .expect(&stdout)
        .expect_failed("NotASocket");
    if msg.contains("is in the way") {
        return None;
    }
    line.clear();
    std::io::BufRead::read_line(&mut said, &mut line).unwrap();
    assert_eq!(line, "removed\n", "the attacker removed our new socket");
    Some((msg, file_ino))
}

/// In a directory others may write, the socket is bound at the path with
/// its mode given at creation. uid 65534 renames it away the moment it
/// exists and binds a socket of its own there, with the very mode we ask
/// for: the bind must see that the file is not the one it made (not our
/// uid), fail, and leave that socket alone, never recording it as ours.
#[test]
#[cfg_attr(sul_no_strace, ignore = "needs strace")]
#[cfg_attr(sul_not_root, ignore = "needs root: racing a uid 65534 attacker")]
fn a_socket_swapped_in_right_after_the_bind_is_never_taken_for_ours() {
    use std::os::unix::fs::FileTypeExt;
    const SCRIPT: &str = r#"
import os, socket, sys, time
path, stolen = sys.argv[1], sys.argv[2]
open(stolen + ".ready", "w").close()
deadline = time.time() + 20
while not os.path.lexists(path):
    if time.time() > deadline:
        sys.exit(1)
os.rename(path, stolen)
os.umask(0)
s = socket.socket(socket.AF_UNIX)
os.fchmod(s.fileno(), 0o660)
s.bind(path)
time.sleep(60)
"#;
    let f = Fixture::with_mode(0o777);
    let stolen = f.dir.path().join("stolen");
    let _attacker = nobody_python(SCRIPT, &f.path, &stolen);
    let ready = f.dir.path().join("stolen.ready");
    for _ in 0..2000 {
        if ready.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(ready.exists(), "the attacker started");
    // The bind returns 1 s late: the attacker's window.
    let mut cmd = helper_under_strace("helper_bind", &["inject=bind:delay_exit=1000000"]);
    cmd.env("SUL_ADDR", &f.path).env("SUL_MODE", "660");
    let (outcome, _, _) = run_helper(&mut cmd);
    let msg = outcome.expect_failed("InUse");
    assert!(msg.contains("replaced the new socket"), "{msg}");
    let theirs = fs::symlink_metadata(&f.path).unwrap();
    assert!(
        theirs.file_type().is_socket() && theirs.uid() == NOBODY,
        "their socket is left at the path"
    );
    assert_eq!(
        fs::symlink_metadata(&stolen).unwrap().uid(),
        0,
        "ours was moved away"
    );
}

/// The directory is uid 65534's own, in a sticky directory (as its own
/// directory in `/tmp` is): its owner may rename it and put a link to a
/// directory of its choosing in its place while root binds there. The
/// bind goes through the descriptor of the directory it opened, never by
/// the path's string, so nothing of root's lands in the linked directory,
/// even a root-only one, and root's socket goes where the directory went.
/// It used to bind by the string and leave `s--------- root root a.sock`
/// in the linked directory.
#[test]
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
#[cfg_attr(sul_not_root, ignore = "needs root: runs the attacker as uid 65534")]
#[cfg_attr(sul_no_strace, ignore = "needs strace")]
fn a_directory_its_owner_swaps_during_the_bind_never_gets_roots_socket_elsewhere() {
    const BIND: i64 = 49;
    let root = tempdir_with_mode(0o1777);
    let dir = nobodys_dir(root.path(), "d");
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
    let elsewhere = root.path().join("root-only");
    fs::create_dir(&elsewhere).unwrap();
    fs::set_permissions(&elsewhere, fs::Permissions::from_mode(0o700)).unwrap();
    let moved = root.path().join("d.old");
    let helper = crate::support::helper_holding("bind", "helper_bind")
        .env("SUL_ADDR", dir.join("a.sock"))
        .env("SUL_MODE", "660")
        .spawn()
        .unwrap();
    let pid = crate::support::traced_helper(&helper);
    crate::support::wait_until("the bind", || crate::support::in_syscall(pid, BIND));
    // uid 65534 moves its directory away and links the root-only one in.
    let as_nobody = |args: &[&std::ffi::OsStr]| {
        let status = Command::new(args[0])
            .args(&args[1..])
            .uid(NOBODY)
            .gid(NOBODY)
            .status();
        assert!(status.unwrap().success(), "{args:?}");
    };
    as_nobody(&["mv".as_ref(), dir.as_os_str(), moved.as_os_str()]);
    as_nobody(&[
        "ln".as_ref(),
        "-s".as_ref(),
        elsewhere.as_os_str(),
        dir.as_os_str(),
    ]);
    let out = helper.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let outcome = stdout.lines().find_map(Outcome::parse);
    assert!(matches!(outcome, Some(Outcome::Bound { .. })), "{stdout}");
    assert_eq!(
        listing(&elsewhere),
        vec![],
        "nothing in the linked directory"
    );
    assert_eq!(
        listing(&moved),
        vec![],
        "the socket went with its directory, and its drop removed it"
    );
}

/// A link uid 65534 owns in a sticky directory every user may write (its
/// own in `/tmp`), leading to a root-only directory: the kernel does not
/// follow it for root (`fs.protected_symlinks`), and neither does the
/// bind, which walks links itself. Nothing is made in the root-only
/// directory. It used to bind there, through the link.
#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: the link is uid 65534's")]
fn a_link_of_another_user_in_a_sticky_directory_is_never_followed() {
    let root = tempdir_with_mode(0o1777);
    let elsewhere = root.path().join("root-only");
    fs::create_dir(&elsewhere).unwrap();
    fs::set_permissions(&elsewhere, fs::Permissions::from_mode(0o700)).unwrap();
    let link = root.path().join("d");
    symlink(&elsewhere, &link).unwrap();
    nix::unistd::fchownat(
        nix::fcntl::AT_FDCWD,
        &link,
        Some(NOBODY.into()),
        Some(NOBODY.into()),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .unwrap();
    let (outcome, _, _) = run_helper(
        helper("helper_bind", None)
            .env("SUL_ADDR", link.join("a.sock"))
            .env("SUL_MODE", "660"),
    );
    let message = outcome.expect_failed("InsecureParent");
    assert!(
        message.contains(&format!(
            "the symbolic link {} is owned by uid {NOBODY} and sits in a sticky directory every user may write",
            link.display()
        )),
        "{message}"
    );
    assert_eq!(
        listing(&elsewhere),
        vec![],
        "nothing in the linked directory"
    );
}
