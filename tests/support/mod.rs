//! Helpers shared by the integration tests: temp dirs other users can
//! reach, stale sockets, and helper processes that re-run this test binary
//! (optionally as another user) to bind in a process of their own.
#![allow(dead_code, unreachable_pub)] // each test file uses a part

pub mod props;

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use safe_unix_listener::{BindErrorKind, SafeUnixListener, UnixAddr};

/// The uid tests drop to.
pub const NOBODY: u32 = 65534;

/// True (after printing why) when the test needs root and we are not.
pub fn skip_unless_root(what: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return false;
    }
    eprintln!("skipped: {what} needs root, to drop to uid {NOBODY} for real");
    true
}

/// A temp dir with the given mode, so a helper running as another user can
/// reach (or not reach) it.
pub fn tempdir_with_mode(mode: u32) -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix("sul-").tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(mode)).unwrap();
    dir
}

pub fn tempdir() -> tempfile::TempDir {
    tempdir_with_mode(0o755)
}

/// Leaves a stale socket at `path`: bound, listened, closed, not removed.
/// Returns its inode.
pub fn make_stale(path: &Path) -> u64 {
    drop(std::os::unix::net::UnixListener::bind(path).unwrap());
    ino(path)
}

pub fn ino(path: &Path) -> u64 {
    fs::symlink_metadata(path).unwrap().ino()
}

pub fn exists(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}

/// A runtime for the synchronous parts of a test.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

// ---- helper processes ----------------------------------------------------

/// This test binary, where every user may execute it: in place when every
/// directory above it is searchable by others, else copied once to a temp
/// directory that is removed when this process exits.
fn helper_exe() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    static COPY_DIR: OnceLock<PathBuf> = OnceLock::new();
    extern "C" fn remove_copy() {
        if let Some(dir) = COPY_DIR.get() {
            let _ = fs::remove_dir_all(dir);
        }
    }
    EXE.get_or_init(|| {
        let exe = std::env::current_exe().unwrap();
        let others_may = |p: &Path, bits: u32| {
            fs::metadata(p).is_ok_and(|m| m.permissions().mode() & bits == bits)
        };
        if others_may(&exe, 0o005) && exe.ancestors().skip(1).all(|d| others_may(d, 0o001)) {
            return exe;
        }
        let dir = tempdir().keep();
        let copy = dir.join("helper");
        fs::copy(&exe, &copy).unwrap();
        fs::set_permissions(&copy, fs::Permissions::from_mode(0o755)).unwrap();
        COPY_DIR.set(dir).unwrap();
        // SAFETY: registers a plain function to run at exit; it only
        // removes the directory made above.
        unsafe { nix::libc::atexit(remove_copy) };
        copy
    })
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
        let children: Vec<Child> = (0..n)
            .map(|_| {
                helper("helper_bind", None)
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
/// `SUL_UMASK` (octal) sets the umask first; `SUL_MODE` (octal) is passed to
/// `Builder::mode`.
pub fn helper_bind_main() {
    if std::env::var_os("SUL_HELPER").is_none() {
        return;
    }
    if let Some(mask) = octal_env("SUL_UMASK") {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask));
    }
    let addr: UnixAddr = std::env::var("SUL_ADDR").unwrap().parse().unwrap();
    let rt = runtime();
    let _enter = rt.enter();
    let mut builder = SafeUnixListener::builder(addr.clone());
    if let Some(mode) = octal_env("SUL_MODE") {
        builder = builder.mode(mode);
    }
    let listener = match builder.bind() {
        Ok(l) => l,
        Err(e) => {
            report_failure(e.kind(), &e.to_string());
            return;
        }
    };
    let ino = addr
        .as_path()
        .map(|p| ino(p).to_string())
        .unwrap_or_default();
    println!("\nOUTCOME BOUND {ino}");
    if std::env::var_os("SUL_HOLD").is_some() {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
    }
    drop(listener);
}

pub fn report_failure(kind: BindErrorKind, message: &str) {
    println!("\nOUTCOME FAILED {kind:?} {message}");
}

fn octal_env(name: &str) -> Option<u32> {
    std::env::var(name)
        .ok()
        .map(|v| u32::from_str_radix(&v, 8).unwrap())
}

/// `<path>.lock`, the bind lock file.
pub fn lock_file(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".lock");
    PathBuf::from(p)
}

// ---- the example programs -------------------------------------------------

/// `target/<profile>/examples/<name>`, which `cargo test` builds.
pub fn example_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name)
}

/// A child process that is killed if the test ends (or fails) first.
pub struct Running(Option<Child>);

impl From<Child> for Running {
    fn from(child: Child) -> Self {
        Self(Some(child))
    }
}

impl std::ops::Deref for Running {
    type Target = Child;
    fn deref(&self) -> &Child {
        self.0.as_ref().unwrap()
    }
}

impl std::ops::DerefMut for Running {
    fn deref_mut(&mut self) -> &mut Child {
        self.0.as_mut().unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts an example with piped stdout and stderr.
pub fn spawn_example(name: &str, args: &[&str]) -> Running {
    Command::new(example_bin(name))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
        .into()
}

/// Runs an example that must fail to bind: exit code 1, one line on
/// stderr, no panic or backtrace (even with `RUST_BACKTRACE=1`). Returns
/// that line.
pub fn expect_bind_failure(name: &str, args: &[&str]) -> String {
    let out = Command::new(example_bin(name))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "one sentence: {err}");
    assert!(err.starts_with(&format!("{name}: cannot ")), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
    err
}

/// Sends one line to an echo server at `path` and returns its answer.
pub fn echo_line(path: &Path, line: &str) -> String {
    let mut c = std::os::unix::net::UnixStream::connect(path).unwrap();
    std::io::Write::write_all(&mut c, format!("{line}\n").as_bytes()).unwrap();
    let mut answer = String::new();
    BufReader::new(c).read_line(&mut answer).unwrap();
    answer
}

/// Waits until the server prints its address (it listens by then), and
/// returns that line.
pub fn wait_listening(child: &mut Child) -> String {
    let mut first = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.contains(" listening on "), "{first:?}");
    first
}

/// Waits for the child to exit; kills it if it hangs, so the test fails
/// instead of blocking.
pub fn finish(child: impl Into<Running>) -> std::process::Output {
    let mut child = child.into().0.take().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

/// Sends `signal` to a child.
pub fn signal(child: &Child, signal: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal).unwrap();
}

/// Runs curl with `args` and a URL path on localhost; returns the HTTP
/// status (0 when no response came) and the body.
pub fn curl(args: &[&str], url_path: &str) -> (u16, String) {
    curl_as(None, args, url_path)
}

/// [`curl`], as `uid` if given.
pub fn curl_as(uid: Option<u32>, args: &[&str], url_path: &str) -> (u16, String) {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "--max-time", "30", "-w", "\n%{http_code}"])
        .args(args)
        .arg(format!("http://localhost{url_path}"))
        .current_dir("/");
    if let Some(uid) = uid {
        cmd.uid(uid).gid(uid);
    }
    let out = cmd.output().expect("curl is installed");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

/// Whether `systemd-socket-activate` is installed (after printing why the
/// test skips, when it is not).
pub fn have_socket_activate() -> bool {
    let found = Command::new("systemd-socket-activate")
        .arg("--version")
        .output()
        .is_ok();
    if !found {
        eprintln!("skipped: systemd-socket-activate is not installed");
    }
    found
}

/// Waits for `path` to appear (a server creating its socket); fails the
/// test after 20 s rather than hanging.
pub fn wait_for_file(path: &Path) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !exists(path) {
        assert!(
            std::time::Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

// ---- log capture -----------------------------------------------------------

#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Everything logged in this test process so far, at `info` and above.
/// The first call installs a global subscriber: one scoped to a thread can
/// miss events whose callsite another test thread registered first.
pub fn captured_log() -> String {
    static LOG: OnceLock<Captured> = OnceLock::new();
    let log = LOG.get_or_init(|| {
        let log = Captured::default();
        let writer = log.clone();
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .init();
        log
    });
    String::from_utf8_lossy(&log.0.lock().unwrap()).into_owned()
}
