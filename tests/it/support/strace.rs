//! Fault injection with `strace -e inject`: which invocation of a system
//! call to fail is found by tracing a first run, so that the tests name the
//! call by what it touches, not by a count that changes with the code.

use std::fs;
use std::path::Path;
use std::process::Output;

use super::helper::helper_via;

/// The invocation number (counted per thread, as strace's `when=` does)
/// of the `nth` (from 1) call of `syscall` whose line contains `needle`, in
/// a traced run of `helper` with `env` and the `inject` specs.
pub fn invocation(
    helper: &str,
    env: &[(&str, &Path)],
    inject: &[String],
    (syscall, needle, nth): (&str, &str, usize),
) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace");
    let trace_arg = trace.display().to_string();
    // A call is only injected into when it is traced.
    let injected = inject.iter().filter_map(|s| s.split(':').next());
    let filter = format!(
        "trace={}",
        std::iter::once(syscall)
            .chain(injected)
            .collect::<Vec<_>>()
            .join(",")
    );
    let mut args = vec!["-e", "signal=none", "-e", &filter, "-o", &trace_arg];
    let specs: Vec<String> = inject.iter().map(|s| format!("inject={s}")).collect();
    for spec in &specs {
        args.extend(["-e", spec]);
    }
    let out = strace(helper, env, &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = fs::read_to_string(&trace).unwrap();
    let call = format!("{syscall}(");
    // "<tid> call(args) = result"; the resumed halves of calls are not calls.
    let calls: Vec<(&str, &str)> = text
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(tid, l)| (tid, l.trim_start()))
        .filter(|(_, l)| l.starts_with(&call))
        .collect();
    let (at, (tid, _)) = calls
        .iter()
        .enumerate()
        .filter(|(_, (_, l))| l.contains(needle))
        .nth(nth - 1)
        .unwrap_or_else(|| panic!("no call {nth} of {syscall} with {needle:?} in:\n{text}"));
    calls[..=at].iter().filter(|(t, _)| t == tid).count()
}

/// `helper` run with `env` under `strace -e inject=SPEC` (several specs may
/// be given); returns its stdout.
pub fn run_injected(helper: &str, env: &[(&str, &Path)], inject: &[String]) -> String {
    let specs: Vec<String> = inject.iter().map(|s| format!("inject={s}")).collect();
    let mut args = vec!["-o", "/dev/null"];
    for spec in &specs {
        args.extend(["-e", spec]);
    }
    String::from_utf8_lossy(&strace(helper, env, &args).stdout).into_owned()
}

/// `helper` as a command run under `strace -f -qq -o /dev/null`, with
/// `-e SPEC` for each of `specs` (`trace=…`, `inject=…`).
pub fn helper_under_strace(helper: &str, specs: &[&str]) -> std::process::Command {
    let mut wrapper = vec!["strace", "-f", "-qq", "-o", "/dev/null"];
    for spec in specs {
        wrapper.extend(["-e", spec]);
    }
    helper_via(&wrapper, helper)
}

fn strace(helper: &str, env: &[(&str, &Path)], args: &[&str]) -> Output {
    let mut wrapper = vec!["strace", "-f", "-qq"];
    wrapper.extend(args);
    helper_via(&wrapper, helper)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// The pid of the helper a `strace` process runs (its child that is the
/// test binary; strace's own test children come and go first).
pub fn traced_helper(strace: &std::process::Child) -> u32 {
    let children = format!("/proc/{0}/task/{0}/children", strace.id());
    let exe = std::env::current_exe().unwrap();
    let traced = || {
        let children = fs::read_to_string(&children).ok()?;
        children.split_whitespace().find_map(|pid| {
            let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let argv0 = cmdline.split(|&b| b == 0).next()?;
            (argv0 == exe.as_os_str().as_encoded_bytes()).then(|| pid.parse::<u32>().ok())?
        })
    };
    wait_until("the helper starts", || traced().is_some());
    traced().unwrap()
}

/// Whether a thread of `pid` is in system call `nr` now (stopped at its
/// entry by strace's `delay_enter`).
pub fn in_syscall(pid: u32, nr: i64) -> bool {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().any(|task| {
        fs::read_to_string(task.path().join("syscall"))
            .is_ok_and(|s| s.split_whitespace().next() == Some(&nr.to_string()))
    })
}

/// Waits (at most 20 s) until `ready` holds.
pub fn wait_until(what: &str, ready: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !ready() {
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// `helper` under strace, each call of `call` held 1.5 s at its entry,
/// its stdout piped: a window another process then acts in, once
/// [`in_syscall`] says the helper waits there.
pub fn helper_holding(call: &str, helper: &str) -> std::process::Command {
    let trace = format!("trace={call}");
    let hold = format!("inject={call}:delay_enter=1500000");
    let mut cmd = helper_via(
        &[
            "strace",
            "-f",
            "-qq",
            "-o",
            "/dev/null",
            "-e",
            &trace,
            "-e",
            &hold,
        ],
        helper,
    );
    cmd.stdout(std::process::Stdio::piped());
    cmd
}
