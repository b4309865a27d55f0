//! The OS split, in one place: the `sun_path` limits, abstract names, how
//! a socket is created and asked for its peer, and how a new socket is
//! moved into place without replacing anything.
//!
//! Everything above this module is written once, against these items.

#[cfg_attr(any(target_os = "linux", target_os = "android"), path = "linux.rs")]
#[cfg_attr(
    not(any(target_os = "linux", target_os = "android")),
    path = "other.rs"
)]
mod imp;

pub(crate) use imp::{
    LONG_PATHS, MAX_ABSTRACT_LEN, MAX_LONG_PATH_NAME, MAX_PATH_LEN, abstract_name_of,
    abstract_sockaddr, ancestor_holding_flock, autobind_sockaddr, command_line, descriptor_limit,
    fd_path, fs_type, id_mapped, may_write_dir, open_dir_handle, peer_cred, peer_groups,
    rename_exchange, rename_noreplace, stream_socket,
};

/// The credentials of a connected socket's peer, as far as the OS says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PeerCred {
    pub(crate) pid: Option<i32>,
    pub(crate) uid: Option<u32>,
    pub(crate) gid: Option<u32>,
}
