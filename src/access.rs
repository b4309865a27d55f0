//! Access control by peer credentials: which connections reach the caller.
//!
//! An abstract socket has no file permissions, and a path socket's
//! permissions are easy to get wrong, so the kernel's record of who
//! connected is the dependable check.

use tokio::net::UnixStream;

/// The uids and gids allowed to connect; both empty means everyone.
#[derive(Debug, Clone, Default)]
pub(crate) struct PeerFilter {
    uids: Vec<u32>,
    gids: Vec<u32>,
}

impl PeerFilter {
    pub(crate) fn allow_uids(&mut self, uids: impl IntoIterator<Item = u32>) {
        self.uids.extend(uids);
    }

    pub(crate) fn allow_gids(&mut self, gids: impl IntoIterator<Item = u32>) {
        self.gids.extend(gids);
    }

    /// Whether `stream`'s peer may talk to us. Rejections are logged at
    /// `warn` with the peer's pid, uid and gid.
    pub(crate) fn admits(&self, stream: &UnixStream) -> bool {
        if self.uids.is_empty() && self.gids.is_empty() {
            return true;
        }
        match stream.peer_cred() {
            Ok(cred) if self.uids.contains(&cred.uid()) || self.gids.contains(&cred.gid()) => true,
            Ok(cred) => {
                tracing::warn!(
                    pid = cred.pid(),
                    uid = cred.uid(),
                    gid = cred.gid(),
                    "rejected a connection: its uid and gid are not allowed"
                );
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, "rejected a connection: its credentials are unknown");
                false
            }
        }
    }
}
