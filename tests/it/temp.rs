//! `bind_temp`: throwaway sockets whose path always fits, that never
//! collide, and that leave nothing behind.

use std::collections::HashSet;
use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use safe_unix_listener::{BindErrorKind, SafeUnixListener};

use crate::support::{
    assert_panicked_without_io_at, helper, helper_via, in_runtime, listing, tempdir,
};

/// A directory under `root` whose path is exactly `len` bytes.
fn dir_of_len(root: &Path, len: usize) -> PathBuf {
    let base = root.as_os_str().len() + 1;
    assert!(len > base, "{} is already too long", root.display());
    let dir = root.join("d".repeat(len - base));
    fs::create_dir(&dir).unwrap();
    assert_eq!(dir.as_os_str().len(), len);
    dir
}

/// Runs `helper_temp_binds` with these base directories (`None`: unset),
/// and returns the paths it bound, in order.
fn temp_paths(cmd: &mut Command, xdg: Option<&Path>, tmpdir: Option<&Path>) -> Vec<PathBuf> {
    for (var, value) in [("XDG_RUNTIME_DIR", xdg), ("TMPDIR", tmpdir)] {
        match value {
            Some(v) => cmd.env(var, v),
            None => cmd.env_remove(var),
        };
    }
    stdout_of(cmd)
        .lines()
        .filter_map(|l| l.strip_prefix("BOUND "))
        .map(PathBuf::from)
        .collect()
}

/// Runs a helper that must succeed, and returns what it printed.
fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    stdout
}

#[test]
fn a_thousand_binds_from_eight_threads_fit_never_collide_and_leave_nothing() {
    let root = tempdir();
    // $XDG_RUNTIME_DIR is too long for any socket in it; $TMPDIR takes a
    // socket path of 105 bytes, two under Linux's limit.
    let xdg = dir_of_len(root.path(), 100);
    let tmpdir = dir_of_len(root.path(), 90);
    let mut cmd = helper("temp::helper_temp_binds", None);
    cmd.env("SUL_THREADS", "8").env("SUL_PER_THREAD", "125");
    let paths = temp_paths(&mut cmd, Some(&xdg), Some(&tmpdir));

    assert_eq!(paths.len(), 1000);
    let unique: HashSet<_> = paths.iter().collect();
    assert_eq!(unique.len(), 1000, "two binds got the same path");
    for path in &paths {
        assert_eq!(path.parent().unwrap().parent(), Some(tmpdir.as_path()));
        assert!(path.as_os_str().len() <= 107, "{}", path.display());
    }
    assert_eq!(listing(&tmpdir), vec![], "left in $TMPDIR");
    assert_eq!(listing(&xdg), vec![], "left in $XDG_RUNTIME_DIR");
}

#[test]
fn the_first_base_where_the_path_fits_is_used() {
    let root = tempdir();
    let short = dir_of_len(root.path(), 40);
    let long = dir_of_len(root.path(), 95);

    let one = || helper("temp::helper_temp_binds", None);
    let first = |paths: Vec<PathBuf>| paths[0].parent().unwrap().parent().unwrap().to_owned();
    assert_eq!(first(temp_paths(&mut one(), Some(&short), None)), short);
    assert_eq!(
        first(temp_paths(&mut one(), Some(&long), Some(&short))),
        short
    );
    assert_eq!(
        first(temp_paths(&mut one(), None, Some(&long))),
        Path::new("/tmp")
    );
    // A relative value would make the path depend on the working directory,
    // even where it names a directory that exists there.
    fs::create_dir(root.path().join("relative")).unwrap();
    let mut in_root = one();
    in_root.current_dir(root.path());
    assert_eq!(
        first(temp_paths(&mut in_root, Some(Path::new("relative")), None)),
        Path::new("/tmp")
    );
    assert_eq!(listing(&root.path().join("relative")), vec![]);
    assert_eq!(listing(&short), vec![]);
}

#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: bind_temp as uid 65534")]
fn an_unwritable_base_is_passed_over_for_the_next() {
    let root = tempdir();
    let mine = dir_of_len(root.path(), 40); // root's, 0755: closed to uid 65534
    let mut cmd = helper("temp::helper_temp_binds", Some(crate::support::NOBODY));
    let paths = temp_paths(&mut cmd, Some(&mine), None);
    assert_eq!(paths[0].parent().unwrap().parent(), Some(Path::new("/tmp")));
    assert!(!paths[0].exists());
}

#[test]
#[cfg_attr(
    sul_not_root,
    ignore = "needs root: mounting a read-only /tmp in a mount namespace"
)]
fn no_usable_base_is_a_typed_error_that_names_each_one() {
    let root = tempdir();
    let long = dir_of_len(root.path(), 100);
    // /tmp becomes a read-only tmpfs for the helper alone. The helper is
    // opened first, since it may live under /tmp.
    let wrapper = [
        "unshare",
        "--mount",
        "sh",
        "-c",
        r#"exec 3<"$0" && mount -t tmpfs -o ro none /tmp && exec /proc/self/fd/3 "$@""#,
    ];
    let mut cmd = helper_via(&wrapper, "temp::helper_temp_binds");
    cmd.env("SUL_EXPECT_ERROR", "1")
        .env("XDG_RUNTIME_DIR", &long)
        .env_remove("TMPDIR");
    let stdout = stdout_of(&mut cmd);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("ERROR "))
        .expect("no error line");
    assert_eq!(
        line,
        format!(
            "PermissionDenied ReadOnlyFilesystem cannot create a temporary socket directory in $XDG_RUNTIME_DIR, \
             $TMPDIR or /tmp: $XDG_RUNTIME_DIR would make a 115-byte socket path, over the limit \
             of 107; $TMPDIR is unset; /tmp: EROFS: Read-only file system; set TMPDIR to a short \
             directory this user may write to, such as /tmp"
        )
    );
}

/// A helper holding one temporary socket in `tmpdir`, and its path.
fn holder(tmpdir: &Path) -> (std::process::Child, PathBuf) {
    let mut child = helper("temp::helper_temp_binds", None)
        .env("SUL_HOLD", "1")
        .env("TMPDIR", tmpdir)
        .env_remove("XDG_RUNTIME_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let path = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("BOUND ").map(PathBuf::from))
        .unwrap();
    // libtest writes more at exit; keep reading so that it can.
    std::thread::spawn(move || lines.for_each(drop));
    (child, path)
}

#[test]
fn what_a_killed_process_left_is_removed_by_the_next_one_and_a_live_one_is_kept() {
    let root = tempdir();
    let tmpdir = dir_of_len(root.path(), 40);
    let (mut killed, left) = holder(&tmpdir);
    let (mut live, kept) = holder(&tmpdir);
    killed.kill().unwrap(); // SIGKILL: no drop runs
    killed.wait().unwrap();
    assert!(fs::symlink_metadata(&left).unwrap().file_type().is_socket());

    let paths = temp_paths(
        &mut helper("temp::helper_temp_binds", None),
        None,
        Some(&tmpdir),
    );
    assert_eq!(paths.len(), 1);
    assert!(!left.parent().unwrap().exists(), "the leftover is gone");
    std::os::unix::net::UnixStream::connect(&kept).expect("the live one is kept");

    drop(live.stdin.take()); // the holder drops its listener and exits
    assert!(live.wait().unwrap().success());
    assert_eq!(listing(&tmpdir), vec![]);
}

#[tokio::test]
async fn drop_removes_only_what_it_made() {
    let listener = SafeUnixListener::bind_temp().unwrap();
    let path = listener.addr().as_path().unwrap().to_owned();
    let dir = path.parent().unwrap().to_owned();
    assert_eq!(
        fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let _client = listener.addr().connect().await.unwrap();
    // Something else of ours in the directory: the socket goes, the
    // directory and that file stay.
    fs::write(dir.join("notes"), "mine").unwrap();
    drop(listener);
    assert!(!path.exists());
    assert_eq!(fs::read_to_string(dir.join("notes")).unwrap(), "mine");
    fs::remove_dir_all(&dir).unwrap();

    let mut kept = SafeUnixListener::bind_temp().unwrap();
    let path = kept.addr().as_path().unwrap().to_owned();
    assert!(kept.unlink_on_drop());
    kept.set_unlink_on_drop(false);
    drop(kept);
    assert!(fs::symlink_metadata(&path).unwrap().file_type().is_socket());
    fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[test]
fn outside_a_runtime_it_says_so() {
    let err = SafeUnixListener::bind_temp().unwrap_err();
    assert_eq!(err.kind(), BindErrorKind::Other);
    assert!(err.to_string().contains("no Tokio runtime"), "{err}");
}

/// Binds `SUL_THREADS` × `SUL_PER_THREAD` (default 1 × 1) temporary
/// sockets, each thread holding all of its own until every thread is done,
/// checks that each accepts a connection, and prints `BOUND <path>` for
/// each. With `SUL_HOLD`, binds one and keeps it until stdin closes. With
/// `SUL_EXPECT_ERROR`, prints `ERROR <kind> <io kind> <message>`
/// instead.
#[test]
#[ignore = "helper: run in a child process by the other tests"]
fn helper_temp_binds() {
    if std::env::var_os("SUL_HELPER").is_none() {
        return;
    }
    let count = |var| std::env::var(var).map_or(1, |v| v.parse().unwrap());
    let (threads, per_thread): (usize, usize) = (count("SUL_THREADS"), count("SUL_PER_THREAD"));
    if std::env::var_os("SUL_HOLD").is_some() {
        return in_runtime(|_| {
            let held = SafeUnixListener::bind_temp().unwrap();
            println!("\nBOUND {}", held.addr());
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new()).unwrap();
        });
    }
    if std::env::var_os("SUL_EXPECT_ERROR").is_some() {
        return in_runtime(|_| {
            let err = SafeUnixListener::bind_temp().unwrap_err();
            let (kind, message) = (err.kind(), err.to_string());
            let io_kind = std::io::Error::from(err).kind();
            println!("\nERROR {kind:?} {io_kind:?} {message}");
        });
    }
    // Three descriptors per socket, all held at once.
    let (_, hard) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
    nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, hard, hard).unwrap();
    let barrier = std::sync::Barrier::new(threads);
    let paths: Vec<PathBuf> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    in_runtime(|_| {
                        let held: Vec<_> = (0..per_thread)
                            .map(|_| SafeUnixListener::bind_temp().unwrap())
                            .collect();
                        let paths: Vec<PathBuf> = held
                            .iter()
                            .map(|l| l.addr().as_path().unwrap().to_owned())
                            .collect();
                        for path in &paths {
                            std::os::unix::net::UnixStream::connect(path).unwrap();
                        }
                        barrier.wait();
                        paths
                    })
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    // After libtest's "test … " with no line break.
    println!();
    for path in paths {
        println!("BOUND {}", path.display());
    }
}

/// A `bind_temp` whose registration with Tokio panics (a runtime without
/// IO) points at its caller, and leaves nothing in the base directory:
/// neither the socket nor the directory made for it.
#[test]
fn a_bind_temp_that_panics_leaves_nothing_behind() {
    let base = tempdir();
    let out = helper("temp::helper_bind_temp_without_io", None)
        .env("XDG_RUNTIME_DIR", base.path())
        .output()
        .unwrap();
    assert_panicked_without_io_at(&out, file!());
    assert_eq!(
        listing(base.path()),
        vec![],
        "a failed bind_temp left these"
    );
}

#[test]
#[ignore = "helper: run in a child process by the other tests"]
fn helper_bind_temp_without_io() {
    if std::env::var_os("SUL_HELPER").is_none() {
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let _ = SafeUnixListener::bind_temp();
    });
}
