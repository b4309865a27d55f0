//! Clients: curl over a Unix socket, optionally as another user.

use std::os::unix::process::CommandExt;
use std::process::Command;

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

/// The `ss -xlpn` line of the listening socket the kernel names `name`,
/// if any.
pub fn ss_line(name: &str) -> Option<String> {
    let out = Command::new("ss").arg("-xlpn").output().unwrap();
    assert!(out.status.success(), "ss failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.split_whitespace().any(|field| field == name))
        .map(str::to_owned)
}
