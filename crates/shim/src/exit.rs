//! The container's exit status: Docker's exit code convention and
//! `exit.json`, written so that a reader (the daemon, possibly restarted
//! after a crash) sees either no file or a complete one.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::time::SystemTime;

use rustix::process::WaitStatus;
use serde::Serialize;

use crate::timefmt::{Fraction, rfc3339};

/// Docker's exit code for a wait status: the exit status, or 128 + the
/// signal number for a process killed by a signal.
pub fn exit_code(status: WaitStatus) -> i32 {
    exit_code_raw(status.as_raw())
}

/// [`exit_code`] for a raw `waitpid` status.
pub fn exit_code_raw(status: i32) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        // Stopped/continued statuses are never asked for (no WUNTRACED).
        255
    }
}

/// The content of `exit.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExitInfo {
    pub exit_code: i32,
    pub oom_killed: bool,
    pub finished_at: String,
    pub error: String,
}

impl ExitInfo {
    pub fn new(exit_code: i32, oom_killed: bool, finished: SystemTime, error: String) -> ExitInfo {
        ExitInfo { exit_code, oom_killed, finished_at: rfc3339(finished, Fraction::Fixed), error }
    }

    /// Writes `<bundle>/exit.json` atomically.
    pub fn write(&self, bundle: &Path) -> io::Result<()> {
        let mut bytes = serde_json::to_vec(self).map_err(io::Error::other)?;
        bytes.push(b'\n');
        write_atomic(bundle, "exit.json", &bytes)
    }
}

/// Replaces `dir/name` with `bytes` so that it survives a crash and is
/// never seen half-written: temp file, fsync, rename, fsync the directory.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, dir.join(name))?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn docker_exit_codes() {
        assert_eq!(exit_code_raw(3 << 8), 3);
        assert_eq!(exit_code_raw(0), 0);
        assert_eq!(exit_code_raw(libc::SIGTERM), 143);
        assert_eq!(exit_code_raw(libc::SIGKILL), 137);
        // Killed by SIGSEGV with a core dump.
        assert_eq!(exit_code_raw(libc::SIGSEGV | 0x80), 139);
    }

    #[test]
    fn exit_json_is_replaced_never_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("exit.json");
        std::fs::write(&path, "old").unwrap();
        let before = std::fs::metadata(&path).unwrap().ino();
        // A reader holding the old file keeps seeing the whole old content.
        let old = File::open(&path).unwrap();
        let info = ExitInfo::new(137, true, SystemTime::UNIX_EPOCH, String::new());
        info.write(dir.path()).unwrap();
        assert_ne!(std::fs::metadata(&path).unwrap().ino(), before);
        assert_eq!(old.metadata().unwrap().len(), 3);
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"exit_code": 137, "oom_killed": true,
                "finished_at": "1970-01-01T00:00:00.000000000Z", "error": ""})
        );
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["exit.json"]);
    }

    #[test]
    fn failed_write_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        // The target is a non-empty directory: rename fails.
        std::fs::create_dir(dir.path().join("exit.json")).unwrap();
        std::fs::write(dir.path().join("exit.json/x"), "").unwrap();
        assert!(write_atomic(dir.path(), "exit.json", b"{}").is_err());
        assert!(!dir.path().join(".exit.json.tmp").exists());
    }
}
