//! Access is what the kernel enforces: after the bind and before the socket
//! listens, the new file's access is exactly what was asked for (owner,
//! group and mode), with nothing beyond them.
//!
//! Two things give a new file more than its mode shows:
//!
//! - **A default ACL on its directory.** The file inherits it as its access
//!   ACL, and its mode's group bits become the ACL's mask: a file that
//!   shows `0660` may still grant `user:65534:rw-`. The rule: the access
//!   ACL (`system.posix_acl_access`) of the new file is read, once, with
//!   `lgetxattr`, by the route the bind itself took: through the
//!   directory's descriptor (`/proc/self/fd/N/name`), or by the path's own
//!   string where the bind went by it (nobody else can redirect it then)
//!   or where `/proc` is missing (then every bind goes by the path).
//!   Where only we can reach the name (a directory only we may write, or
//!   our private 0700 directory), an ACL found is removed
//!   (`lremovexattr`), checked to be gone, and the mode set again after it,
//!   since the mask had become the group bits. A private directory made in
//!   a directory with a default ACL inherits it too, but with mode 0700 its
//!   mask grants nobody anything, and the socket in it is cleaned as above.
//! - **A setgid directory.** The file takes the directory's group, whatever
//!   our own. Where no group was asked for, a file whose group is not our
//!   effective gid is given ours (`fchownat`, never following a link),
//!   where only we can reach the name; a group asked for is set as asked.
//!
//! Where others may write the directory and the socket was bound at the
//! path itself ([`crate::bind::Creation::Closed`]), a name there can be
//! swapped between two calls, so nothing is changed by name: the file is
//! made with no permission bits at all, proven to be our socket's, and its
//! owner, group, ACL and mode are then set through the descriptor that
//! pins its inode ([`set_pinned`]).
//!
//! Only a bind that asks for a mode, an owner or a group is checked: with
//! none, the file gets what any file made there gets (the umask, or the
//! directory's default ACL and group), as with `bind(2)`.
//!
//! A filesystem without extended attributes or ACLs (ENOTSUP) has no ACL.
//! Outside Linux and Android, ACLs are not read (see `sys/other.rs`);
//! setgid directories are handled everywhere.

use std::path::{Path, PathBuf};

use std::os::unix::fs::PermissionsExt;

use nix::errno::Errno;
use nix::fcntl::AtFlags;
use nix::unistd::{Gid, Uid, fchownat, getegid, geteuid};

use crate::entry::{EntryRef, Made};
use crate::error::{BindError, Op};
use crate::sys::{self, Acl};

/// The access a bind asked for, and whether it asked for any at all (a
/// mode, an owner or a group); nothing is checked otherwise.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Asked {
    pub(crate) mode: Option<u32>,
    pub(crate) owner: Option<u32>,
    pub(crate) group: Option<u32>,
    pub(crate) any: bool,
}

impl Asked {
    /// The group the file must be in: the one asked for, else ours.
    fn gid(self) -> u32 {
        self.group.unwrap_or_else(|| getegid().as_raw())
    }
}

/// The route to the file at `at` for the xattr calls, the one the bind
/// took: by the path's own string where the bind went by it (`by_path`:
/// nobody else can redirect it, and it is the cheaper walk), else through
/// the directory's descriptor where there is `/proc`, else by the path.
fn route(at: EntryRef<'_>, by_path: bool) -> PathBuf {
    match sys::fd_path(at.dir()) {
        Some(dir) if !by_path => dir.join(at.name()),
        _ => at.path().to_owned(),
    }
}

/// For a socket bound at the path where others may write the directory,
/// made closed (no permission bits, [`sys::close_before_bind`]): its owner,
/// group and mode set as asked (`o`), and an access ACL the directory gave
/// it removed, each through the descriptor that pins the file `made`
/// (`fchownat` with `AT_EMPTY_PATH`, and `/proc/self/fd/N` for the ACL and
/// the mode), never by name: a name there can be swapped between two
/// calls, the pinned inode cannot. The ACL goes before the mode, whose
/// group bits would otherwise become its mask. Returns the file as it is
/// now. `at` names it in messages.
pub(crate) fn set_pinned(at: EntryRef<'_>, made: &Made, o: Asked) -> Result<Made, BindError> {
    let path = at.path();
    let no_pin = |errno| BindError::os(Op::SetMode, path, errno);
    let pin = made.pin().ok_or_else(|| no_pin(Errno::EMFILE))?;
    let file = sys::fd_path(pin).ok_or_else(|| no_pin(Errno::ENOENT))?;
    let ours = getegid().as_raw();
    // A group from a setgid directory, where none was asked for, is undone;
    // a group the file was made in (the filesystem gid) needs no change.
    let gid = o.group.or(Some(ours)).filter(|&gid| gid != made.gid());
    if o.owner.is_some() || gid.is_some() {
        let (uid, gid) = (o.owner.map(Uid::from_raw), gid.map(Gid::from_raw));
        sys::chown_pinned(pin, uid, gid).map_err(|e| match e {
            Errno::EINVAL => BindError::unmapped_owner(path, at.dir(), o.owner, o.group),
            _ if o.group.is_none() && o.owner.is_none() => BindError::setgid_group(path, ours, e),
            _ => BindError::chown_refused(path, e, o.owner, o.group, at.dir()),
        })?;
    }
    remove_acl(&file, true, path)?;
    let mode = o.mode.unwrap_or_else(|| 0o777 & !sys::umask());
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode))
        .map_err(|e| BindError::io(Op::SetMode, path, e))?;
    let now = made.restat().map_err(no_pin)?;
    let owner = o.owner.unwrap_or_else(|| geteuid().as_raw());
    if now.is_as(mode, owner, gid.unwrap_or(made.gid())) {
        Ok(now)
    } else {
        Err(BindError::os(Op::SetMode, path, Errno::EPERM))
    }
}

/// For a socket only we can reach at `at` (a directory only we may write,
/// or our private directory; bound by the path's string if `by_path`):
/// removes an access ACL the directory gave the file `made`, and a group a
/// setgid directory gave it where none was asked for. Call it before the mode and owner are set, which set the
/// mode again after the ACL's mask changed it. `path` names the socket in
/// messages.
pub(crate) fn settle(
    at: EntryRef<'_>,
    by_path: bool,
    made: &Made,
    o: Asked,
    path: &Path,
) -> Result<(), BindError> {
    if !o.any {
        return Ok(());
    }
    if o.group.is_none() && !made.is_as_made(None, Some(o.gid())) {
        let ours = getegid();
        fchownat(
            at.dir(),
            at.name(),
            None,
            Some(ours),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|errno| BindError::setgid_group(path, ours.as_raw(), errno))?;
        tracing::debug!(path = %path.display(), gid = ours.as_raw(), "gave the socket our group, not the setgid directory's");
    }
    remove_acl(&route(at, by_path), false, path)
}

/// Removes the access ACL of `file` (followed if `follow`: the
/// `/proc/self/fd/N` of a pin) if it has one, and checks that it is gone.
fn remove_acl(file: &Path, follow: bool, path: &Path) -> Result<(), BindError> {
    match sys::has_acl(file, Acl::Access, follow) {
        Ok(false) => return Ok(()),
        Ok(true) => {}
        Err(errno) => return Err(BindError::os(Op::SetMode, path, errno)),
    }
    sys::remove_access_acl(file, follow)
        .map_err(|errno| BindError::acl_not_removed(path, errno))?;
    match sys::has_acl(file, Acl::Access, follow) {
        Ok(false) => {
            tracing::debug!(path = %path.display(), "removed the access ACL the directory's default ACL gave the socket");
            Ok(())
        }
        Ok(true) => Err(BindError::default_acl_grants(path)),
        Err(errno) => Err(BindError::acl_not_removed(path, errno)),
    }
}

/// What `inspect` reports of the ACLs on a socket file at `at` and on its
/// directory: a line each, for those that carry one.
pub(crate) fn describe(at: EntryRef<'_>) -> Vec<String> {
    let mut lines = Vec::new();
    let dir = sys::fd_path(at.dir()).map_or_else(|| at.dir_path().to_owned(), |d| d.join("."));
    let shown = |p: &Path| crate::escape::shown(p).to_string();
    if sys::has_acl(&route(at, false), Acl::Access, false) == Ok(true) {
        lines.push(format!(
            "the socket file carries an access ACL, which may grant more than its mode shows (getfacl {})",
            shown(at.path())
        ));
    }
    for (which, what) in [
        (
            Acl::Default,
            "a default ACL, which every new file there inherits",
        ),
        (
            Acl::Access,
            "an access ACL, which may grant more than its mode shows",
        ),
    ] {
        if sys::has_acl(&dir, which, false) == Ok(true) {
            lines.push(format!(
                "its directory carries {what} (getfacl {})",
                shown(at.dir_path())
            ));
        }
    }
    lines
}
