//! Properties of `UnixAddr`, shared by tests/properties.rs and the fuzz
//! targets in fuzz/ (which include this file by path).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use safe_unix_listener::{BindErrorKind, UnixAddr};

/// Any bytes, as a path, an abstract name or a string: never a panic, and
/// what parses from a string displays as a string that parses back to it.
pub fn parse_never_panics_and_round_trips(data: &[u8]) {
    let _ = UnixAddr::from_path(OsStr::from_bytes(data));
    let _ = UnixAddr::from_abstract_name(data);
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(addr) = s.parse::<UnixAddr>() else {
        return;
    };
    let shown = addr.to_string();
    let again: UnixAddr = shown
        .parse()
        .unwrap_or_else(|e| panic!("{s:?} displays as {shown:?}, which does not parse: {e}"));
    assert_eq!(again, addr, "{s:?} displays as {shown:?}");
}

/// The up-front path checks agree with the kernel: `dir/name` is accepted
/// by `UnixAddr::from_path` only if the kernel binds it, and refused only
/// if the kernel refuses it too, except where we are stricter on purpose:
/// an empty path (the kernel would autobind an abstract name), a NUL byte
/// (the kernel would silently bind the prefix before it), a path of
/// exactly `sun_path`'s size with no room for the NUL, and the last
/// component of a longer path, which we keep within what fits after
/// `/proc/self/fd/N/` for any descriptor number N.
pub fn path_verdict_matches_kernel(dir: &Path, name: &[u8]) {
    let mut bytes = dir.as_os_str().as_bytes().to_vec();
    bytes.push(b'/');
    bytes.extend_from_slice(name);
    let ours = UnixAddr::from_path(OsStr::from_bytes(&bytes));
    // A path longer than sun_path is bound through its directory's
    // descriptor: ask the kernel about that route.
    let long = bytes.len() >= SUN_PATH && cfg!(target_os = "linux");
    let kernel = match long {
        true => {
            let d = std::fs::File::open(dir).unwrap();
            let mut through =
                format!("/proc/self/fd/{}/", std::os::fd::AsRawFd::as_raw_fd(&d)).into_bytes();
            through.extend_from_slice(name);
            kernel_bind(&through)
        }
        false => kernel_bind(&bytes),
    };
    if kernel.is_ok() && !bytes.contains(&0) {
        let _ = std::fs::remove_file(OsStr::from_bytes(&bytes));
    }
    match (&ours, kernel) {
        (Ok(_), Err(errno)) => assert!(
            !matches!(errno, nix::libc::EINVAL | nix::libc::ENAMETOOLONG),
            "we accept {bytes:?} but the kernel refuses the address: errno {errno}"
        ),
        (Err(e), Ok(())) => {
            let stricter = bytes.contains(&0)
                || (e.kind() == BindErrorKind::PathTooLong && bytes.len() == SUN_PATH)
                || (e.kind() == BindErrorKind::PathTooLong && long);
            assert!(
                stricter,
                "we refuse {bytes:?} ({e}) but the kernel binds it"
            );
        }
        _ => {}
    }
}

/// `sun_path`'s size on Linux.
const SUN_PATH: usize = 108;

/// What the kernel says to binding exactly these bytes, unterminated.
fn kernel_bind(bytes: &[u8]) -> Result<(), i32> {
    use nix::libc;
    if bytes.len() > SUN_PATH {
        return Err(libc::EINVAL); // does not even fit the structure
    }
    // SAFETY: plain socket calls on a descriptor this function owns and
    // closes, and a zeroed sockaddr_un filled within its bounds.
    unsafe {
        let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket() failed");
        let mut addr: libc::sockaddr_un = std::mem::zeroed();
        addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (dst, &src) in addr.sun_path.iter_mut().zip(bytes) {
            *dst = src as libc::c_char;
        }
        let len = std::mem::size_of::<libc::sa_family_t>() + bytes.len();
        let r = libc::bind(fd, (&raw const addr).cast(), len as libc::socklen_t);
        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        libc::close(fd);
        if r == 0 { Ok(()) } else { Err(errno) }
    }
}
