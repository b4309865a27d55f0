//! Helper processes: this test binary run again, optionally as another
//! user or under strace, to bind in a process of its own. A helper is an
//! ignored test, run with `--exact --ignored`.

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use safe_unix_listener::{BindErrorKind, SafeUnixListener, UnixAddr};

use super::files::ino;
use super::fixture::{in_runtime, tempdir};

/// The uid tests drop to.
pub const NOBODY: u32 = 65534;

/// `exe`, where every user may execute it: in place when every directory
/// above it is searchable by others, else copied once to a temp directory
/// that is removed when this process exits.
pub fn executable_by_all(exe: &Path) -> PathBuf {
    static COPIES: Mutex<Vec<(PathBuf, PathBuf)>> = Mutex::new(Vec::new());
    extern "C" fn remove_copies() {
        if let Ok(copies) = COPIES.lock() {
            for (_, copy) in copies.iter() {
                let _ = fs::remove_dir_all(copy.parent().unwrap());
            }
        }
    }
    let others_may =
        |p: &Path, bits: u32| fs::metadata(p).is_ok_and(|m| m.permissions().mode() & bits == bits);
    if others_may(exe, 0o005) && exe.ancestors().skip(1).all(|d| others_may(d, 0o001)) {
        return exe.to_owned();
    }
    let mut copies = COPIES.lock().unwrap();
    if let Some((_, copy)) = copies.iter().find(|(original, _)| original == exe) {
        return copy.clone();
    }
    let copy = tempdir().keep().join(exe.file_name().unwrap());
    fs::copy(exe, &copy).unwrap();
    fs::set_permissions(&copy, fs::Permissions::from_mode(0o755)).unwrap();
    if copies.is_empty() {
        // SAFETY: registers a plain function to run at exit; it only
        // removes the directories made here.
        unsafe { nix::libc::atexit(remove_copies) };
    }
    copies.push((exe.to_owned(), copy.clone()));
    copy
}

/// This test binary, where every user may execute it.
fn helper_exe() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| executable_by_all(&std::env::current_exe().unwrap()))
}

/// A command that runs the ignored test `name` of this binary in a child
/// process, as `uid` (with its gid and no supplementary groups) if given.
pub fn helper(name: &str, uid: Option<u32>) -> Command {
    let mut cmd = helper_via(&[], name);
    if let Some(uid) = uid {
        cmd.uid(uid).gid(uid);
    }
    cmd
}

/// Like [`helper`], run through `wrapper` (such as `strace` and its flags).
pub fn helper_via(wrapper: &[&str], name: &str) -> Command {
    let exe = helper_exe();
    let mut cmd = match wrapper.split_first() {
        Some((program, args)) => {
            let mut cmd = Command::new(program);
            cmd.args(args).arg(exe);
            cmd
        }
        None => Command::new(exe),
    };
    cmd.args([
        name,
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("SUL_HELPER", "1")
    .current_dir("/")
    .stdin(Stdio::null());
    cmd
}

/// What a helper reported about its bind.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    Bound { ino: Option<u64> },
    Failed { kind: String, message: String },
}

impl Outcome {
    pub fn parse(line: &str) -> Option<Self> {
        let rest = line.strip_prefix("OUTCOME ")?;
        if let Some(ino) = rest.strip_prefix("BOUND") {
            return Some(Self::Bound {
                ino: ino.trim().parse().ok(),
            });
        }
        let (kind, message) = rest.strip_prefix("FAILED ")?.split_once(' ')?;
        Some(Self::Failed {
            kind: kind.to_owned(),
            message: message.to_owned(),
        })
    }

    pub fn expect_failed(self, kind: &str) -> String {
        match self {
            Self::Failed { kind: k, message } if k == kind => message,
            other => panic!("expected a {kind} failure, got {other:?}"),
        }
    }
}

/// Runs a helper to completion and returns its outcome and exit status.
pub fn run_helper(cmd: &mut Command) -> (Outcome, std::process::ExitStatus, String) {
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let outcome = stdout.lines().find_map(Outcome::parse).unwrap_or_else(|| {
        panic!(
            "helper reported nothing; stdout:\n{stdout}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (outcome, out.status, stdout)
}

/// A helper that keeps its listener until its stdin closes.
pub struct Holder {
    pub child: Child,
    pub outcome: Outcome,
    stdout: BufReader<std::process::ChildStdout>,
}

impl Holder {
    pub fn spawn(cmd: &mut Command) -> Self {
        Self::adopt(
            cmd.env("SUL_HOLD", "1")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap(),
        )
    }

    /// Waits for the outcome of a helper spawned with `SUL_HOLD` and piped
    /// stdin and stdout. Spawn several first, then adopt them, to race them.
    pub fn adopt(mut child: Child) -> Self {
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let outcome = (&mut stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|l| Outcome::parse(&l))
            .expect("helper exited without reporting");
        Self {
            child,
            outcome,
            stdout,
        }
    }

    /// Starts `n` helpers binding `path` at once, then waits for each
    /// outcome: a race.
    pub fn race(n: usize, path: &Path) -> Vec<Self> {
        Self::race_with(n, path, &[])
    }

    /// [`race`](Self::race), with more variables for the helpers.
    pub fn race_with(n: usize, path: &Path, env: &[(&str, &str)]) -> Vec<Self> {
        let children: Vec<Child> = (0..n)
            .map(|_| {
                helper("helper_bind", None)
                    .envs(env.iter().copied())
                    .env("SUL_ADDR", path)
                    .env("SUL_HOLD", "1")
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        children.into_iter().map(Self::adopt).collect()
    }

    /// Closes stdin, so the helper drops its listener and exits; returns
    /// whether it exited with 0.
    pub fn release(mut self) -> bool {
        drop(self.child.stdin.take());
        let _ = self.stdout.read_to_end(&mut Vec::new());
        self.child.wait().unwrap().success()
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The body of the `helper_bind` test each file declares: binds `SUL_ADDR`
/// with the options in the environment, prints an `OUTCOME` line, and with
/// `SUL_HOLD` keeps the listener until stdin closes.
///
/// `SUL_UMASK` (octal) sets the umask first; `SUL_MODE` and
/// `SUL_CREATE_PARENTS` (octal) and `SUL_GROUP` are passed to the builder,
/// and `SUL_TAKEOVER` and `SUL_CHECK_PARENT` turn those options on;
/// `SUL_DATAGRAM` binds a datagram receiver instead of a listener.
pub fn helper_bind_main() {
    if std::env::var_os("SUL_HELPER").is_none() {
        return;
    }
    if let Some(mask) = octal_env("SUL_UMASK") {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask));
    }
    let addr: UnixAddr = std::env::var("SUL_ADDR").unwrap().parse().unwrap();
    in_runtime(|_| {
        let mut builder = SafeUnixListener::builder(addr.clone());
        if let Some(mode) = octal_env("SUL_MODE") {
            builder = builder.mode(mode);
        }
        if let Ok(gid) = std::env::var("SUL_GROUP") {
            builder = builder.group(gid.parse::<u32>().unwrap());
        }
        if let Some(mode) = octal_env("SUL_CREATE_PARENTS") {
            builder = builder.create_parents(mode);
        }
        if std::env::var_os("SUL_TAKEOVER").is_some() {
            builder = builder.on_existing(safe_unix_listener::OnExisting::TakeOver);
        }
        if std::env::var_os("SUL_CHECK_PARENT").is_some() {
            builder = builder.check_parent(true);
        }
        // SUL_DATAGRAM binds a datagram receiver instead.
        let bound: Result<Box<dyn std::any::Any>, _> = match std::env::var_os("SUL_DATAGRAM") {
            Some(_) => builder
                .bind_datagram()
                .map(|d| Box::new(d) as Box<dyn std::any::Any>),
            None => builder
                .bind()
                .map(|l| Box::new(l) as Box<dyn std::any::Any>),
        };
        let listener = match bound {
            Ok(l) => l,
            Err(e) => {
                report_failure(e.kind(), &e.to_string());
                return;
            }
        };
        // Nothing where the path now leads elsewhere (a swapped directory).
        let ino = addr
            .as_path()
            .filter(|p| super::files::exists(p))
            .map(|p| ino(p).to_string())
            .unwrap_or_default();
        println!("\nOUTCOME BOUND {ino}");
        if std::env::var_os("SUL_HOLD").is_some() {
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
        }
        drop(listener);
    });
}

pub fn report_failure(kind: BindErrorKind, message: &str) {
    println!("\nOUTCOME FAILED {kind:?} {message}");
}

fn octal_env(name: &str) -> Option<u32> {
    std::env::var(name)
        .ok()
        .map(|v| u32::from_str_radix(&v, 8).unwrap())
}

/// Asserts that a helper's bind panicked as tokio's own does in a runtime
/// without IO, at a line of `file` (the caller's, not the crate's).
#[track_caller]
pub fn assert_panicked_without_io_at(out: &std::process::Output, file: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains(&format!("panicked at {file}:")), "{stderr}");
    assert!(
        stderr.contains("A Tokio 1.x context was found, but IO is disabled"),
        "{stderr}"
    );
}
