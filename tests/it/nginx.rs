//! The README's "Behind nginx" recipe, run for real: nginx (when
//! installed; `.ci/run` installs it) with its own configuration in a temp
//! directory, workers running as `nobody`, proxying to `axum_hello` on a
//! Unix socket. nginx itself listens on a Unix socket too, so nothing
//! leaves the machine and no port can collide.
#![cfg(all(feature = "axum", feature = "hyper"))]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use nix::sys::signal::Signal;
use safe_unix_listener::http::UnixConnector;

use crate::support::{
    NOBODY, Running, curl, finish, signal, spawn_example, tempdir_with_mode, wait_for_file,
    wait_listening,
};

/// nginx, started with a configuration of its own; stopped on drop.
struct Nginx {
    master: Running,
    /// Where nginx listens.
    socket: PathBuf,
    error_log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM: the master stops its workers, then exits.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.master.id() as i32),
            Signal::SIGTERM,
        );
        let _ = self.master.wait();
    }
}

/// The group of uid 65534, which nginx's workers run in (`nogroup` on
/// Debian).
fn nobody_group() -> String {
    let user = nix::unistd::User::from_uid(NOBODY.into()).unwrap().unwrap();
    nix::unistd::Group::from_gid(user.gid)
        .unwrap()
        .unwrap()
        .name
}

/// nginx in front of the socket `app` (the tests that call it are ignored
/// where nginx is missing or we are not root).
fn nginx_for(app: &Path) -> Nginx {
    let nginx = ["nginx", "/usr/sbin/nginx"]
        .into_iter()
        .find(|n| Command::new(n).arg("-v").output().is_ok())
        .expect("nginx is installed (apt-get install nginx-light)");
    let dir = tempdir_with_mode(0o755);
    let d = dir.path().display();
    let config = format!(
        "daemon off;
worker_processes 1;
user nobody {group};
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
{upstream}
    server {{
        listen unix:{d}/nginx.sock;
        location / {{
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
        }}
    }}
}}
",
        group = nobody_group(),
        upstream = upstream_block(app),
    );
    std::fs::write(dir.path().join("nginx.conf"), config).unwrap();
    let error_log = dir.path().join("error.log");
    let master = Command::new(nginx)
        .arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(dir.path().join("nginx.conf"))
        .arg("-e")
        .arg(&error_log)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let socket = dir.path().join("nginx.sock");
    wait_for_file(&socket);
    Nginx {
        master: master.into(),
        socket,
        error_log,
        _dir: dir,
    }
}

/// The upstream block of the README's "Behind nginx" section.
fn upstream_block(app: &Path) -> String {
    format!(
        "    upstream app {{
        server unix:{};
        keepalive 16;
    }}",
        app.display()
    )
}

/// The lines a child writes to stderr, as they come.
fn stderr_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for a line containing `needle`, and returns it.
fn wait_for_line(lines: &mpsc::Receiver<String>, needle: &str) -> String {
    loop {
        match lines.recv_timeout(Duration::from_secs(20)) {
            Ok(line) if line.contains(needle) => return line,
            Ok(_) => {}
            Err(e) => panic!("no line with {needle:?}: {e}"),
        }
    }
}

/// `axum_hello` on `app` with `args`, listening.
fn app(app: &Path, args: &[&str]) -> (Running, mpsc::Receiver<String>) {
    let shown = app.display().to_string();
    let mut all = args.to_vec();
    all.push(&shown);
    let mut server = spawn_example("axum_hello", &all);
    let lines = stderr_lines(&mut server);
    wait_listening(&mut server);
    (server, lines)
}

#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: nginx with workers as uid 65534")]
#[cfg_attr(sul_no_nginx, ignore = "needs nginx (apt-get install nginx-light)")]
fn behind_nginx_the_right_mode_and_group_work_a_wrong_mode_is_named_and_sigterm_drains() {
    let dir = tempdir_with_mode(0o755);
    let sock = dir.path().join("app.sock");
    let nginx = nginx_for(&sock);
    let nginx_socket = nginx.socket.display().to_string();
    let via_nginx = ["--unix-socket", nginx_socket.as_str()];
    let group = nobody_group();

    // The recipe: --mode 0660 --group <the workers' group>.
    let (server, lines) = app(&sock, &["--mode", "0660", "--group", &group]);
    let said = wait_for_line(&lines, "can connect to");
    assert!(
        said.contains(&format!(
            "only root (uid 0) and members of group {group} (gid {NOBODY}) can connect to {} (mode 0660)",
            sock.display()
        )),
        "{said}"
    );
    let (code, body) = curl(&via_nginx, "/");
    assert_eq!(
        (code, body.as_str()),
        (200, "hello from axum over a Unix socket, uid 65534\n"),
        "the request reached the app from an nginx worker, uid 65534"
    );

    // A request in flight when SIGTERM arrives completes.
    let slow = {
        let via_nginx = ["--unix-socket".to_owned(), nginx_socket.clone()];
        std::thread::spawn(move || curl(&[&via_nginx[0], &via_nginx[1]], "/slow"))
    };
    wait_for_line(&lines, "slow request started");
    signal(&server, Signal::SIGTERM);
    assert_eq!(
        slow.join().unwrap(),
        (200, "slow response done\n".to_owned())
    );
    assert_eq!(finish(server).status.code(), Some(0));

    // The wrong mode: the app says so at start-up, and nginx gets EACCES.
    let (server, lines) = app(&sock, &["--mode", "0755"]);
    let said = wait_for_line(&lines, "can connect to");
    assert!(
        said.contains(&format!(
            "WARN axum_hello: only root (uid 0) can connect to {} (mode 0755); other \
             users, such as a proxy's workers, get EACCES: give their group access with \
             --mode 0660 --group NAME",
            sock.display()
        )),
        "{said}"
    );
    let (code, _) = curl(&via_nginx, "/");
    assert_eq!(code, 502);
    let log = std::fs::read_to_string(&nginx.error_log).unwrap();
    assert!(
        log.contains(&format!(
            "connect() to unix:{} failed (13: Permission denied)",
            sock.display()
        )),
        "{log}"
    );
    signal(&server, Signal::SIGTERM);
    assert_eq!(finish(server).status.code(), Some(0));
}

#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: nginx with workers as uid 65534")]
#[cfg_attr(sul_no_nginx, ignore = "needs nginx (apt-get install nginx-light)")]
fn behind_nginx_a_takeover_under_load_answers_every_request() {
    let dir = tempdir_with_mode(0o755);
    let sock = dir.path().join("app.sock");
    let nginx = nginx_for(&sock);
    let group = nobody_group();
    let recipe = ["--mode", "0660", "--group", group.as_str()];
    let (old, _old_lines) = app(&sock, &recipe);

    // 16 clients, each with its own connection to nginx, request in a loop
    // until told to stop.
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let stop = Arc::new(AtomicBool::new(false));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let clients: Vec<_> = (0..16)
        .map(|_| {
            let (ok, failed, stop) = (ok.clone(), failed.clone(), stop.clone());
            let connector = UnixConnector::new(nginx.socket.clone().try_into().unwrap());
            rt.spawn(async move {
                let client = Client::builder(TokioExecutor::new())
                    .pool_max_idle_per_host(1)
                    .build::<_, Empty<Bytes>>(connector);
                while !stop.load(Ordering::Relaxed) {
                    match client.get("http://localhost/".parse().unwrap()).await {
                        Ok(r) if r.status() == 200 => ok.fetch_add(1, Ordering::Relaxed),
                        Ok(r) => {
                            eprintln!("status {}", r.status());
                            failed.fetch_add(1, Ordering::Relaxed)
                        }
                        Err(e) => {
                            eprintln!("request failed: {e:?}");
                            failed.fetch_add(1, Ordering::Relaxed)
                        }
                    };
                }
            })
        })
        .collect();
    let answered_at_least = |n: usize| {
        while ok.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed) < n {
            std::thread::sleep(Duration::from_millis(10));
        }
    };

    answered_at_least(2_000);
    let mut with_takeover = vec!["--takeover"];
    with_takeover.extend(recipe);
    let (new, _new_lines) = app(&sock, &with_takeover);
    let before_stop = ok.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed);
    signal(&old, Signal::SIGTERM);
    assert_eq!(finish(old).status.code(), Some(0));
    answered_at_least(before_stop + 4_000);
    stop.store(true, Ordering::Relaxed);
    rt.block_on(async {
        for client in clients {
            client.await.unwrap();
        }
    });

    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    eprintln!("through nginx across a takeover: {ok} answered 200, {failed} other");
    assert_eq!(failed, 0, "{ok} answered 200");
    signal(&new, Signal::SIGTERM);
    assert_eq!(finish(new).status.code(), Some(0));
}
