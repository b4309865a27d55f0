//! Facts about the machine for the integration tests alone, found at build
//! time so that a test that cannot run here is reported as ignored, with
//! the reason, and never counted as passed: whether the build runs as root
//! (`sul_not_root`), and which outside programs are missing
//! (`sul_no_strace`, `sul_no_nginx`, `sul_no_systemfd`,
//! `sul_no_socket_activate`, and for the filesystem matrix `sul_no_socat`,
//! `sul_no_mkfs_ext4`, `sul_no_mkfs_xfs`, `sul_no_mkfs_btrfs`,
//! `sul_no_bindfs`; for ACLs, `sul_no_setfacl`; for the seccomp loader, cc
//! and libseccomp's header, `sul_no_libseccomp`). The library uses none of
//! them. Install a program, then `touch build.rs` to look again.

use std::path::Path;

fn main() {
    for cfg in [
        "sul_not_root",
        "sul_no_strace",
        "sul_no_nginx",
        "sul_no_systemfd",
        "sul_no_socket_activate",
        "sul_no_socat",
        "sul_no_mkfs_ext4",
        "sul_no_mkfs_xfs",
        "sul_no_mkfs_btrfs",
        "sul_no_bindfs",
        "sul_no_setfacl",
        "sul_no_libseccomp",
    ] {
        println!("cargo:rustc-check-cfg=cfg({cfg})");
    }
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PATH");
    if !runs_as_root() {
        println!("cargo:rustc-cfg=sul_not_root");
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<_> = std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .collect();
    // The seccomp loader of tests/it/seccomp.rs is built with cc and
    // libseccomp (Debian's libseccomp-dev).
    let has_header = ["/usr/include/seccomp.h", "/usr/local/include/seccomp.h"]
        .iter()
        .any(|h| Path::new(h).is_file());
    if !has_header || !dirs.iter().any(|d| d.join("cc").is_file()) {
        println!("cargo:rustc-cfg=sul_no_libseccomp");
    }
    for (program, cfg) in [
        ("strace", "sul_no_strace"),
        ("nginx", "sul_no_nginx"),
        ("systemfd", "sul_no_systemfd"),
        ("systemd-socket-activate", "sul_no_socket_activate"),
        ("socat", "sul_no_socat"),
        ("mkfs.ext4", "sul_no_mkfs_ext4"),
        ("mkfs.xfs", "sul_no_mkfs_xfs"),
        ("mkfs.btrfs", "sul_no_mkfs_btrfs"),
        ("bindfs", "sul_no_bindfs"),
        ("setfacl", "sul_no_setfacl"),
    ] {
        if !dirs.iter().any(|d| d.join(program).is_file()) {
            println!("cargo:rustc-cfg={cfg}");
        }
    }
}

/// A file this build creates is owned by its effective uid.
fn runs_as_root() -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let out = std::env::var_os("OUT_DIR").unwrap_or_default();
        let probe = Path::new(&out).join("euid");
        std::fs::write(&probe, b"").is_ok() && std::fs::metadata(&probe).is_ok_and(|m| m.uid() == 0)
    }
    #[cfg(not(unix))]
    false
}
