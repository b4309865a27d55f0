//! The OS split, in one place: the `sun_path` limits, abstract names, how
//! a socket is created and asked for its peer, and how a new socket is
//! moved into place without replacing anything.
//!
//! The system calls are in `linux.rs` (Linux and Android) or `other.rs`
//! (macOS and the BSDs), which takes FreeBSD's own calls from `freebsd.rs`.
//! What `/proc` says for messages is read in `procfs.rs` (Linux and
//! Android); `other.rs` has its fallbacks. Everything above this module is
//! written once, against these items.

#[cfg_attr(any(target_os = "linux", target_os = "android"), path = "linux.rs")]
#[cfg_attr(
    not(any(target_os = "linux", target_os = "android")),
    path = "other.rs"
)]
mod imp;

#[cfg(target_os = "freebsd")]
mod freebsd;

#[cfg(any(target_os = "linux", target_os = "android"))]
mod procfs;

#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
mod cmsg;

pub(crate) use imp::{
    Acl, LONG_PATHS, MAX_ABSTRACT_LEN, MAX_LONG_PATH_NAME, MAX_PATH_LEN, abstract_name_of,
    abstract_name_of_tokio, abstract_sockaddr, autobind_sockaddr, bound_inode, chown_pinned,
    close_before_bind, create_linked, descriptor_limit, fd_path, has_acl, in_group, may_write_dir,
    open_dir_handle, pass_credentials, passes_credentials, peer_cred, peer_groups, pin_file,
    recv_with_cred, refuse_descriptors, remove_access_acl, rename_exchange, rename_noreplace,
    stream_socket, switch_fsgid, unix_socket, unrecorded,
};

#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) use imp::{ancestor_holding_flock, command_line, fs_type, id_mapped, umask};
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) use procfs::{ancestor_holding_flock, command_line, fs_type, id_mapped, umask};

/// A capability a decision of the bind rests on (its bit in the set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cap {
    /// Giving a file to another user, or to a group we are not in.
    Chown = 0,
    /// Writing a directory whatever its mode says (asked on Linux only,
    /// where `faccessat2` may be refused).
    #[cfg_attr(not(any(target_os = "linux", target_os = "android")), allow(dead_code))]
    DacOverride = 1,
    /// Removing another user's file from a sticky directory.
    Fowner = 3,
    /// Taking a filesystem gid other than ours.
    Setgid = 6,
}

/// What this process may do now, as the kernel grants it: the effective
/// capabilities (`capget`), read each time they are asked for, so that a
/// dropped privilege is seen. Where there are none to read (macOS, the
/// BSDs), root may do everything, and others nothing beyond their ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Caps(u64);

impl Caps {
    /// The effective set now.
    pub(crate) fn now() -> Self {
        match imp::effective_caps() {
            Some(set) => Self(set),
            None if nix::unistd::geteuid().is_root() => Self(u64::MAX),
            None => Self(0),
        }
    }

    pub(crate) fn has(self, cap: Cap) -> bool {
        self.0 & (1 << cap as u32) != 0
    }
}

/// A peer's or a datagram sender's credentials, as the kernel recorded
/// them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cred {
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) pid: Option<i32>,
}

/// One datagram received: how much of it is in the buffer, what came with
/// it, and who sent it. Descriptors that came with it are closed already.
#[derive(Debug)]
pub(crate) struct Received {
    /// Bytes in the buffer.
    pub(crate) len: usize,
    /// The datagram's own length where the OS says it (Linux, Android);
    /// else `len`.
    pub(crate) sent: usize,
    /// It was longer than the buffer (`MSG_TRUNC`): the rest is lost.
    pub(crate) truncated: bool,
    /// More control data came with it than there was room for
    /// (`MSG_CTRUNC`): descriptors, which the kernel discarded.
    pub(crate) control_truncated: bool,
    /// How many descriptors arrived with it (each closed at once).
    pub(crate) descriptors: usize,
    /// The sender's credentials, as the kernel recorded them.
    pub(crate) cred: Option<Cred>,
    /// The sender's address.
    pub(crate) from: std::os::unix::net::SocketAddr,
}

/// The credentials of a connected socket's peer, as far as the OS says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PeerCred {
    pub(crate) pid: Option<i32>,
    pub(crate) uid: Option<u32>,
    pub(crate) gid: Option<u32>,
}

/// Where a socket is bound or connected: an address, or a name in a
/// directory open as a descriptor, for `bindat`/`connectat` (FreeBSD).
#[derive(Debug)]
pub(crate) enum Where<'a> {
    Addr(nix::sys::socket::UnixAddr),
    In(std::os::fd::BorrowedFd<'a>, &'a std::ffi::OsStr),
}

/// `bind(2)` of `sock` to `at`.
pub(crate) fn bind(sock: std::os::fd::BorrowedFd<'_>, at: &Where<'_>) -> nix::Result<()> {
    use std::os::fd::AsRawFd;
    match at {
        Where::Addr(addr) => nix::sys::socket::bind(sock.as_raw_fd(), addr),
        Where::In(dir, name) => imp::bind_in(sock, *dir, name),
    }
}

/// `connect(2)` of `sock` to `at`.
pub(crate) fn connect(sock: std::os::fd::BorrowedFd<'_>, at: &Where<'_>) -> nix::Result<()> {
    use std::os::fd::AsRawFd;
    match at {
        Where::Addr(addr) => nix::sys::socket::connect(sock.as_raw_fd(), addr),
        Where::In(dir, name) => imp::connect_in(sock, *dir, name),
    }
}

/// The route to `name` in the directory open as `dir` that no rename of
/// the directory can redirect and no length of its path limits:
/// `/proc/self/fd/N/name` (Linux), or `bindat`/`connectat` (FreeBSD);
/// `None` where neither exists (no `/proc`, macOS, NetBSD).
pub(crate) fn through_dir<'a>(
    dir: std::os::fd::BorrowedFd<'a>,
    name: &'a std::ffi::OsStr,
) -> Option<Where<'a>> {
    match imp::fd_path(dir) {
        Some(through) => nix::sys::socket::UnixAddr::new(&through.join(name))
            .ok()
            .map(Where::Addr),
        None if imp::AT_CALLS => Some(Where::In(dir, name)),
        None => None,
    }
}
