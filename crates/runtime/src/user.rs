//! Resolving Docker's `--user` and `--group-add` against the image's own
//! `/etc/passwd` and `/etc/group`, with runc's rules and error texts.
//!
//! The files belong to the (untrusted) image, so they are opened with
//! `openat2(RESOLVE_IN_ROOT)`: a symlinked `/etc/passwd` pointing at
//! `/../../etc/shadow` resolves inside the rootfs, never on the host.

use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags};

use crate::spec::User;

/// Largest passwd/group file we read; real ones are a few KiB.
const MAX_FILE: u64 = 8 << 20;

/// Highest uid/gid accepted in numeric form (runc's limit).
const MAX_ID: u64 = i32::MAX as u64;

/// Why a user could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// `--user name` with no such user.
    #[error("unable to find user {0}: no matching entries in passwd file")]
    NoSuchUser(String),
    /// `--user x:name` or `--group-add name` with no such group.
    #[error("unable to find group {0}: no matching entries in group file")]
    NoSuchGroup(String),
    /// A numeric id beyond 2^31-1.
    #[error("uids and gids must be in range 0-{MAX_ID}: {0}")]
    Range(String),
    /// The passwd or group file exists but cannot be read.
    #[error("reading {}: {source}", path.display())]
    Read {
        /// The file, inside the rootfs.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

struct PasswdEntry {
    name: String,
    uid: u32,
    gid: u32,
    home: String,
}

struct GroupEntry {
    name: String,
    gid: u32,
    members: Vec<String>,
}

/// The result of a user lookup, with the home directory Docker puts in `HOME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    /// The ids.
    pub user: User,
    /// Home directory from passwd, `/` when unknown.
    pub home: String,
}

/// Resolves a Docker user spec (`""`, `name`, `uid`, `uid:gid`, `name:group`,
/// `uid:group`, `name:gid`) plus `--group-add` entries against the files in
/// `rootfs`.
///
/// Rules (runc's `GetExecUser`): an empty user is uid 0; a name must exist;
/// a number need not. When the user matched a passwd entry and no group was
/// given, the primary group comes from passwd and the supplementary groups
/// are those listing the user as a member; an explicit group replaces the
/// primary group and adds no supplementary ones. `group_add` entries must
/// exist when they are names.
pub fn resolve_user(rootfs: &Path, spec: &str, group_add: &[String]) -> Result<User, UserError> {
    resolve(rootfs, spec, group_add).map(|r| r.user)
}

/// Like [`resolve_user`], also returning the home directory.
pub fn resolve(rootfs: &Path, spec: &str, group_add: &[String]) -> Result<ResolvedUser, UserError> {
    let root = rustix::fs::open(rootfs, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| UserError::Read { path: rootfs.to_path_buf(), source: e.into() })?;
    let passwd = read_in_root(&root, "etc/passwd")?;
    let group = read_in_root(&root, "etc/group")?;
    resolve_from(spec, group_add, passwd.as_deref(), group.as_deref())
}

/// Reads a file inside `root`; `None` if it does not exist.
fn read_in_root(root: &OwnedFd, path: &str) -> Result<Option<String>, UserError> {
    let err = |source: std::io::Error| UserError::Read { path: Path::new("/").join(path), source };
    let fd = match rustix::fs::openat2(
        root.as_fd(),
        path,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    ) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT | rustix::io::Errno::NOTDIR) => return Ok(None),
        Err(e) => return Err(err(e.into())),
    };
    let mut data = Vec::new();
    std::fs::File::from(fd).take(MAX_FILE).read_to_end(&mut data).map_err(err)?;
    Ok(Some(String::from_utf8_lossy(&data).into_owned()))
}

fn parse_id(s: &str) -> Result<Option<u32>, UserError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    match s.parse::<u64>() {
        Ok(v) if v <= MAX_ID => Ok(Some(v as u32)),
        _ => Err(UserError::Range(s.to_string())),
    }
}

fn parse_passwd(data: &str) -> Vec<PasswdEntry> {
    data.lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                return None;
            }
            let f: Vec<&str> = line.split(':').collect();
            Some(PasswdEntry {
                name: f.first()?.to_string(),
                uid: f.get(2)?.parse().ok()?,
                gid: f.get(3)?.parse().ok()?,
                home: f.get(5).copied().unwrap_or("").to_string(),
            })
        })
        .collect()
}

fn parse_group(data: &str) -> Vec<GroupEntry> {
    data.lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                return None;
            }
            let f: Vec<&str> = line.split(':').collect();
            Some(GroupEntry {
                name: f.first()?.to_string(),
                gid: f.get(2)?.parse().ok()?,
                members: f
                    .get(3)
                    .map(|m| {
                        m.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

fn resolve_from(
    spec: &str,
    group_add: &[String],
    passwd: Option<&str>,
    group: Option<&str>,
) -> Result<ResolvedUser, UserError> {
    let (user_part, group_part) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let group_part = group_part.filter(|g| !g.is_empty());
    let users = passwd.map(parse_passwd).unwrap_or_default();
    let groups = group.map(parse_group).unwrap_or_default();

    let mut user = User::default();
    let mut home = "/".to_string();
    let user_id = parse_id(user_part)?;
    let found = if user_part.is_empty() {
        users.iter().find(|u| u.uid == 0)
    } else {
        users.iter().find(|u| match user_id {
            Some(id) => u.uid == id,
            None => u.name == user_part,
        })
    };
    let matched_name = match found {
        Some(entry) => {
            user.uid = entry.uid;
            user.gid = entry.gid;
            if !entry.home.is_empty() {
                home = entry.home.clone();
            }
            Some(entry.name.as_str())
        }
        None if user_part.is_empty() => None,
        None => match user_id {
            Some(id) => {
                user.uid = id;
                None
            }
            None => return Err(UserError::NoSuchUser(user_part.to_string())),
        },
    };

    // Like containerd (and so Docker), the primary group is also the first
    // supplementary group: `id` in a container shows `groups=0(root),...`.
    let mut gids: Vec<u32> = Vec::new();
    match group_part {
        Some(g) => {
            let gid = parse_id(g)?;
            let found = groups.iter().find(|e| match gid {
                Some(id) => e.gid == id,
                None => e.name == g,
            });
            user.gid = match (found, gid) {
                (Some(e), _) => e.gid,
                (None, Some(id)) => id,
                (None, None) => return Err(UserError::NoSuchGroup(g.to_string())),
            };
            gids.push(user.gid);
        }
        None => {
            gids.push(user.gid);
            if let Some(name) = matched_name {
                gids.extend(groups.iter().filter(|g| g.members.iter().any(|m| m == name)).map(|g| g.gid));
            }
        }
    }

    for extra in group_add {
        let gid = parse_id(extra)?;
        let found = groups.iter().find(|e| match gid {
            Some(id) => e.gid == id,
            None => e.name == *extra,
        });
        let gid = match (found, gid) {
            (Some(e), _) => e.gid,
            (None, Some(id)) => id,
            (None, None) => return Err(UserError::NoSuchGroup(extra.clone())),
        };
        gids.push(gid);
    }
    for gid in gids {
        if !user.additional_gids.contains(&gid) {
            user.additional_gids.push(gid);
        }
    }
    Ok(ResolvedUser { user, home })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
        daemon:x:1:1:daemon:/usr/sbin:/bin/false\n\
        # a comment\n\
        app:x:1000:1000:App:/home/app:/bin/sh\n\
        nobody:x:65534:65534:nobody:/home:/bin/false\n";
    const GROUP: &str = "root:x:0:\nwheel:x:10:root\napp:x:1000:\ndocker:x:999:app,other\nstaff:x:50:\n";

    fn r(spec: &str, add: &[&str]) -> Result<ResolvedUser, UserError> {
        let add: Vec<String> = add.iter().map(|s| s.to_string()).collect();
        resolve_from(spec, &add, Some(PASSWD), Some(GROUP))
    }

    fn ids(spec: &str) -> (u32, u32, Vec<u32>) {
        let u = r(spec, &[]).unwrap().user;
        (u.uid, u.gid, u.additional_gids)
    }

    #[test]
    fn docker_user_forms() {
        assert_eq!(ids(""), (0, 0, vec![0, 10]), "root with its supplementary groups");
        assert_eq!(ids("root"), (0, 0, vec![0, 10]));
        assert_eq!(ids("app"), (1000, 1000, vec![1000, 999]));
        assert_eq!(ids("1000"), (1000, 1000, vec![1000, 999]));
        assert_eq!(ids("app:staff"), (1000, 50, vec![50]), "explicit group: no member groups");
        assert_eq!(ids("app:50"), (1000, 50, vec![50]));
        assert_eq!(ids("1234"), (1234, 0, vec![0]), "unknown numeric uid is allowed");
        assert_eq!(ids("1234:4321"), (1234, 4321, vec![4321]));
        assert_eq!(r("app", &[]).unwrap().home, "/home/app");
        assert_eq!(r("1234", &[]).unwrap().home, "/");
    }

    #[test]
    fn errors_match_runc() {
        assert_eq!(
            r("ghost", &[]).unwrap_err().to_string(),
            "unable to find user ghost: no matching entries in passwd file"
        );
        assert_eq!(
            r("app:ghosts", &[]).unwrap_err().to_string(),
            "unable to find group ghosts: no matching entries in group file"
        );
        assert!(matches!(r("99999999999", &[]), Err(UserError::Range(_))));
    }

    #[test]
    fn group_add() {
        let u = r("app", &["staff", "4242", "docker"]).unwrap().user;
        assert_eq!(u.additional_gids, vec![1000, 999, 50, 4242]);
        assert!(matches!(r("app", &["nope"]), Err(UserError::NoSuchGroup(_))));
    }

    #[test]
    fn missing_files_fall_back_to_ids() {
        let u = resolve_from("", &[], None, None).unwrap().user;
        assert_eq!((u.uid, u.gid), (0, 0));
        let u = resolve_from("5:6", &[], None, None).unwrap().user;
        assert_eq!((u.uid, u.gid), (5, 6));
        assert!(resolve_from("app", &[], None, None).is_err());
    }

    #[test]
    fn files_are_read_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(dir.path().join("passwd"), "evil:x:0:0::/:/bin/sh\n").unwrap();
        std::fs::write(root.join("real-passwd"), "app:x:7:8::/app:/bin/sh\n").unwrap();
        // An absolute symlink and a `..` escape both stay inside `root`.
        std::os::unix::fs::symlink("/real-passwd", root.join("etc/passwd")).unwrap();
        std::os::unix::fs::symlink("../../../../group", root.join("etc/group")).unwrap();
        std::fs::write(dir.path().join("group"), "evil:x:0:app\n").unwrap();
        let u = resolve(&root, "app", &[]).unwrap();
        assert_eq!((u.user.uid, u.user.gid, u.user.additional_gids.clone()), (7, 8, vec![8]));
        assert_eq!(u.home, "/app");
        assert!(resolve_user(&root, "evil", &[]).is_err());
    }
}
