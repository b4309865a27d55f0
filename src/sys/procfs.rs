//! Linux and Android: what `/proc` says about other processes, mounts and
//! user namespaces. Nothing here decides a bind; it only fills in messages.

use std::os::fd::BorrowedFd;

use nix::sys::stat::FileStat;

/// How much of another process's command line is read.
const COMMAND_LINE_MAX: usize = 4096;

/// The first [`COMMAND_LINE_MAX`] bytes of the
/// command line of process `pid`, NUL-separated, and whether it was longer.
pub(crate) fn command_line(pid: i32) -> Option<(Vec<u8>, bool)> {
    use std::io::Read;
    let file = std::fs::File::open(format!("/proc/{pid}/cmdline")).ok()?;
    let mut raw = Vec::with_capacity(256);
    let max = COMMAND_LINE_MAX as u64;
    file.take(max + 1).read_to_end(&mut raw).ok()?;
    let cut = raw.len() as u64 > max;
    raw.truncate(COMMAND_LINE_MAX);
    Some((raw, cut))
}

/// The nearest of our ancestor processes that holds a `flock` on the file
/// `st` describes, as "our parent process 123 (flock)", read from
/// `/proc/locks` and `/proc/<pid>/stat`: a wrapper such as `flock FILE cmd`,
/// which holds the lock for as long as we run.
pub(crate) fn ancestor_holding_flock(st: &FileStat) -> Option<String> {
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    #[allow(clippy::unnecessary_cast)] // `dev_t` is narrower on some targets
    let (major, minor) = major_minor(st.st_dev as u64);
    let file = format!("{major:02x}:{minor:02x}:{}", st.st_ino);
    // "1: FLOCK  ADVISORY  WRITE 1234 00:1f:5678 0 EOF"; waiters have "->".
    let holders: Vec<u32> = locks
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|f| f.get(1) == Some(&"FLOCK") && f.get(5) == Some(&file.as_str()))
        .filter_map(|f| f.get(4)?.parse().ok())
        .collect();
    let mut pid = std::process::id();
    for generation in ["parent", "grandparent"]
        .into_iter()
        .chain(std::iter::repeat("ancestor"))
    {
        let (parent, _) = parent_and_command(pid)?;
        if parent <= 1 {
            return None;
        }
        if holders.contains(&parent) {
            let (_, command) = parent_and_command(parent)?;
            return Some(format!("our {generation} process {parent} ({command})"));
        }
        pid = parent;
    }
    None
}

/// The parent pid and command name of `pid`, from `/proc/<pid>/stat`.
fn parent_and_command(pid: u32) -> Option<(u32, String)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid …"; comm may hold spaces and parentheses.
    let (head, tail) = stat.rsplit_once(')')?;
    let command = head.split_once('(')?.1.to_owned();
    let ppid = tail.split_whitespace().nth(1)?.parse().ok()?;
    Some((ppid, command))
}

/// The type of the filesystem `fd` is on, as `mount` names it (`ext4`,
/// `fuse.bindfs`, `overlay`): from `/proc/self/mountinfo`, by device
/// number; else from `fstatfs`'s magic number, for the common ones.
pub(crate) fn fs_type(fd: BorrowedFd<'_>) -> Option<String> {
    #[allow(clippy::unnecessary_cast)] // dev_t is u32 on some targets
    let (major, minor) = major_minor(nix::sys::stat::fstat(fd).ok()?.st_dev as u64);
    let wanted = format!("{major}:{minor}");
    let from_mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
        .ok()
        .and_then(|info| {
            // "id parent major:minor root mountpoint options ... - type source ..."
            info.lines().find_map(|line| {
                let mut fields = line.split(' ');
                if fields.nth(2)? != wanted {
                    return None;
                }
                let mut after = line.split(" - ").nth(1)?.split(' ');
                after.next().map(str::to_owned)
            })
        });
    from_mountinfo.or_else(|| {
        let magic = nix::sys::statfs::fstatfs(fd).ok()?.filesystem_type().0 as i64;
        let name = match magic {
            0x0102_1994 => "tmpfs",
            0xEF53 => "ext4",
            0x5846_5342 => "xfs",
            0x9123_683E => "btrfs",
            0x794C_7630 => "overlay",
            0x6573_5546 => "fuse",
            0x6969 => "nfs",
            0xFF53_4D42 | 0xFE53_4D42 => "smb",
            0x0102_1997 => "9p",
            _ => return Some(format!("type {magic:#x}")),
        };
        Some(name.to_owned())
    })
}

/// The major and minor numbers of a device number, in the kernel's
/// encoding (glibc's `major(3)` and `minor(3)`), as `/proc` prints them.
fn major_minor(dev: u64) -> (u64, u64) {
    (
        ((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0xfff),
        ((dev >> 12) & 0xffff_ff00) | (dev & 0xff),
    )
}

/// Whether `id` is mapped in this user namespace, from
/// `/proc/self/uid_map` or `gid_map` (`which` is "uid" or "gid"), with the
/// map's ranges for the message; `None` when the map cannot be read.
pub(crate) fn id_mapped(which: &str, id: u32) -> Option<(bool, String)> {
    let map = std::fs::read_to_string(format!("/proc/self/{which}_map")).ok()?;
    let mut mapped = false;
    let mut ranges = Vec::new();
    for line in map.lines() {
        let n: Vec<u64> = line
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        if let [inside, _, count] = n[..] {
            mapped |= (inside..inside + count).contains(&u64::from(id));
            ranges.push(match count {
                1 => format!("{inside}"),
                _ => format!("{inside}-{}", inside + count - 1),
            });
        }
    }
    Some((mapped, ranges.join(", ")))
}

/// The process's umask, as `/proc/self/status` gives it (Linux 4.7 and
/// later); `0o077`, the strictest that still lets the owner in, where it
/// does not. Read, never set: `umask(2)` would change it for every thread.
pub(crate) fn umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("Umask:"))?;
            u32::from_str_radix(line["Umask:".len()..].trim(), 8).ok()
        })
        .unwrap_or(0o077)
}

#[cfg(test)]
mod tests {
    use super::major_minor;

    #[test]
    fn major_minor_decodes_the_kernel_encoding() {
        // makedev(8, 1), makedev(0, 0x1f), and a major and minor past the
        // old 8-bit limits: makedev(0x1234, 0x56789).
        assert_eq!(major_minor(0x0801), (8, 1));
        assert_eq!(major_minor(0x001f), (0, 0x1f));
        let dev = (0x1234u64 & 0xfff) << 8
            | (0x1234u64 & !0xfff) << 32
            | (0x56789u64 & 0xff)
            | (0x56789u64 & !0xff) << 12;
        assert_eq!(major_minor(dev), (0x1234, 0x56789));
    }
}
