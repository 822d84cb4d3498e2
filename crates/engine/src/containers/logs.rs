//! Reading a container's json-file logs (written by its shim) for
//! `docker logs`: across rotated files, with `tail`, `since`, `until` and
//! timestamps, and following new lines as they are written.

use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Which output stream a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout = 1,
    Stderr = 2,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub stream: Stream,
    pub time_nano: i128,
    /// The text as the container wrote it (a line with its newline, or a
    /// partial line).
    pub log: String,
}

#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    pub stdout: bool,
    pub stderr: bool,
    pub since_nano: Option<i128>,
    pub until_nano: Option<i128>,
    /// Only the last N records (of those selected); `None` for all.
    pub tail: Option<usize>,
}

#[derive(Deserialize)]
struct Line {
    log: String,
    stream: String,
    time: String,
}

fn parse(line: &str) -> Option<Record> {
    let l: Line = serde_json::from_str(line).ok()?;
    let time = time::OffsetDateTime::parse(&l.time, &time::format_description::well_known::Rfc3339).ok()?;
    let stream = match l.stream.as_str() {
        "stdout" => Stream::Stdout,
        "stderr" => Stream::Stderr,
        _ => return None,
    };
    Some(Record { stream, time_nano: time.unix_timestamp_nanos(), log: l.log })
}

impl LogOptions {
    fn wants(&self, r: &Record) -> bool {
        (match r.stream {
            Stream::Stdout => self.stdout,
            Stream::Stderr => self.stderr,
        }) && self.since_nano.is_none_or(|s| r.time_nano >= s)
            && self.until_nano.is_none_or(|u| r.time_nano <= u)
    }
}

/// The log files of a container, oldest first: `path.N` … `path.1`, `path`.
fn files(path: &Path) -> Vec<PathBuf> {
    let mut rotated: Vec<(u32, PathBuf)> = Vec::new();
    if let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let fname = e.file_name();
            let Some(f) = fname.to_str() else { continue };
            if let Some(n) =
                f.strip_prefix(name).and_then(|s| s.strip_prefix('.')).and_then(|s| s.parse().ok())
            {
                rotated.push((n, e.path()));
            }
        }
    }
    rotated.sort_by_key(|r| std::cmp::Reverse(r.0));
    let mut out: Vec<PathBuf> = rotated.into_iter().map(|(_, p)| p).collect();
    out.push(path.to_path_buf());
    out
}

/// Every selected record currently in the logs, and where the live file
/// ends (to follow from there).
pub fn read(path: &Path, opts: &LogOptions) -> std::io::Result<(Vec<Record>, u64)> {
    let mut records = Vec::new();
    let mut end = 0;
    for f in files(path) {
        let file = match std::fs::File::open(&f) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let mut reader = BufReader::new(file);
        let mut line = String::new();
        loop {
            line.clear();
            let n = reader.read_line(&mut line)?;
            if n == 0 || !line.ends_with('\n') {
                break; // a record still being written is read when following
            }
            if f == path {
                end += n as u64;
            }
            if let Some(r) = parse(&line)
                && opts.wants(&r)
            {
                records.push(r);
            }
        }
    }
    if let Some(t) = opts.tail {
        let skip = records.len().saturating_sub(t);
        records.drain(..skip);
    }
    Ok((records, end))
}

/// Follows the live log file from `offset`, calling `emit` for each new
/// selected record, until `stop` says so (checked between polls). Handles
/// rotation: when the file shrinks or is replaced, reading restarts at its
/// beginning.
pub fn follow(
    path: &Path,
    mut offset: u64,
    opts: &LogOptions,
    mut emit: impl FnMut(&Record) -> bool,
    stop: impl Fn() -> bool,
) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let mut ino = std::fs::metadata(path).map(|m| m.ino()).unwrap_or(0);
    let mut pending = String::new();
    loop {
        let md = std::fs::metadata(path);
        if let Ok(md) = &md {
            if md.ino() != ino || md.len() < offset {
                ino = md.ino();
                offset = 0;
                pending.clear();
            }
            if md.len() > offset {
                let mut f = std::fs::File::open(path)?;
                f.seek(SeekFrom::Start(offset))?;
                let mut reader = BufReader::new(f);
                loop {
                    let mut chunk = String::new();
                    let n = reader.read_line(&mut chunk)?;
                    if n == 0 {
                        break;
                    }
                    offset += n as u64;
                    pending.push_str(&chunk);
                    if pending.ends_with('\n') {
                        if let Some(r) = parse(&pending) {
                            if opts.until_nano.is_some_and(|u| r.time_nano > u) {
                                return Ok(());
                            }
                            if opts.wants(&r) && !emit(&r) {
                                return Ok(());
                            }
                        }
                        pending.clear();
                    }
                }
            }
        }
        if stop() {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// `2026-11-24T04:41:48.166039519Z`: the fixed-width RFC 3339 Docker prints with `-t`.
pub fn timestamp(nanos: i128) -> String {
    let t =
        time::OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    t.format(time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:9]Z"
    ))
    .expect("format")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(stream: &str, text: &str, secs: i64) -> String {
        format!(
            "{}\n",
            serde_json::json!({"log": text, "stream": stream, "time": timestamp(secs as i128 * 1_000_000_000)})
        )
    }

    #[test]
    fn reads_rotated_files_in_order_with_tail_and_streams() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c-json.log");
        std::fs::write(dir.path().join("c-json.log.2"), line("stdout", "a\n", 1)).unwrap();
        std::fs::write(dir.path().join("c-json.log.1"), line("stderr", "b\n", 2) + &line("stdout", "c\n", 3))
            .unwrap();
        std::fs::write(&p, line("stdout", "d\n", 4) + "{\"log\":\"partial").unwrap();
        let all = LogOptions { stdout: true, stderr: true, ..Default::default() };
        let (r, _) = read(&p, &all).unwrap();
        assert_eq!(r.iter().map(|r| r.log.as_str()).collect::<Vec<_>>(), ["a\n", "b\n", "c\n", "d\n"]);
        let (r, _) = read(&p, &LogOptions { tail: Some(2), ..all.clone() }).unwrap();
        assert_eq!(r.iter().map(|r| r.log.as_str()).collect::<Vec<_>>(), ["c\n", "d\n"]);
        let (r, _) = read(&p, &LogOptions { stdout: false, ..all.clone() }).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].stream, Stream::Stderr);
        let (r, _) =
            read(&p, &LogOptions { since_nano: Some(2_000_000_000), until_nano: Some(3_000_000_000), ..all })
                .unwrap();
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn follow_sees_appended_and_rotated_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c-json.log");
        std::fs::write(&p, line("stdout", "old\n", 1)).unwrap();
        let opts = LogOptions { stdout: true, stderr: true, ..Default::default() };
        let (_, end) = read(&p, &opts).unwrap();
        let writer = {
            let p = p.clone();
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(100));
                use std::io::Write;
                std::fs::OpenOptions::new()
                    .append(true)
                    .open(&p)
                    .unwrap()
                    .write_all(line("stdout", "new\n", 2).as_bytes())
                    .unwrap();
                std::thread::sleep(std::time::Duration::from_millis(100));
                std::fs::rename(&p, p.with_extension("log.1")).unwrap();
                std::fs::write(&p, line("stderr", "rotated\n", 3)).unwrap();
            })
        };
        let mut seen = Vec::new();
        follow(
            &p,
            end,
            &opts,
            |r| {
                seen.push(r.log.clone());
                seen.len() < 2
            },
            || false,
        )
        .unwrap();
        writer.join().unwrap();
        assert_eq!(seen, ["new\n", "rotated\n"]);
    }
}
