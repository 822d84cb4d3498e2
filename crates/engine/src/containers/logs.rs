//! Reading a container's json-file logs (written by its shim) for
//! `docker logs`: across rotated files, with `tail`, `since`, `until` and
//! timestamps, and following new lines as they are written.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
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

/// One log file being read, and the start of a record not yet complete.
struct OpenLog {
    reader: BufReader<File>,
    ino: u64,
    pending: String,
}

impl OpenLog {
    fn open(path: &Path) -> io::Result<Option<OpenLog>> {
        match File::open(path) {
            Ok(f) => {
                let ino = f.metadata()?.ino();
                Ok(Some(OpenLog { reader: BufReader::new(f), ino, pending: String::new() }))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether the file was cut shorter than what was read of it.
    fn truncated(&mut self) -> io::Result<bool> {
        Ok(self.reader.get_ref().metadata()?.len() < self.reader.stream_position()?)
    }

    fn rewind(&mut self) -> io::Result<()> {
        self.reader.seek(SeekFrom::Start(0))?;
        self.pending.clear();
        Ok(())
    }

    /// Passes each complete record from here to the end of the file to
    /// `each`, until it returns false (then returns false too). A record
    /// still being written stays pending until a later call.
    fn records(&mut self, mut each: impl FnMut(Record) -> bool) -> io::Result<bool> {
        loop {
            let n = self.reader.read_line(&mut self.pending)?;
            if n == 0 || !self.pending.ends_with('\n') {
                return Ok(true);
            }
            let record = parse(&self.pending);
            self.pending.clear();
            if let Some(r) = record
                && !each(r)
            {
                return Ok(false);
            }
        }
    }
}

/// A container's log, opened: the rotated files and the live one, held by
/// descriptor so that what they hold stays readable when the container and
/// its log are removed meanwhile (`docker run` clients follow the log of a
/// container that they remove as soon as it exits).
pub struct LogReader {
    path: PathBuf,
    rotated: Vec<OpenLog>,
    live: Option<OpenLog>,
}

impl LogReader {
    pub fn open(path: &Path) -> io::Result<LogReader> {
        let mut rotated = Vec::new();
        for f in files(path) {
            if f != path
                && let Some(log) = OpenLog::open(&f)?
            {
                rotated.push(log);
            }
        }
        Ok(LogReader { path: path.to_path_buf(), rotated, live: OpenLog::open(path)? })
    }

    /// Every selected record the log holds now. `follow` goes on from there.
    pub fn read(&mut self, opts: &LogOptions) -> io::Result<Vec<Record>> {
        let mut records = Vec::new();
        for log in self.rotated.iter_mut().chain(self.live.as_mut()) {
            log.records(|r| {
                if opts.wants(&r) {
                    records.push(r);
                }
                true
            })?;
        }
        self.rotated.clear();
        if let Some(t) = opts.tail {
            let skip = records.len().saturating_sub(t);
            records.drain(..skip);
        }
        Ok(records)
    }

    /// Passes each new selected record to `emit` as the live file grows,
    /// until `emit` returns false, a record comes after `until`, or `stop`
    /// (checked between polls) says so and what was written until then is
    /// read. On rotation the old file is read to its end before the new one
    /// is read from its beginning.
    pub fn follow(
        mut self,
        opts: &LogOptions,
        mut emit: impl FnMut(&Record) -> bool,
        stop: impl Fn() -> bool,
    ) -> io::Result<()> {
        // Reads `log` to its end; false once nothing more is wanted.
        let mut pass = |log: &mut OpenLog| {
            log.records(|r| opts.until_nano.is_none_or(|u| r.time_nano <= u) && (!opts.wants(&r) || emit(&r)))
        };
        let mut last_pass = false;
        loop {
            if let Some(log) = &mut self.live {
                // With `max-file=1` the shim rotates by truncating in place.
                if log.truncated()? {
                    log.rewind()?;
                }
                if !pass(log)? {
                    return Ok(());
                }
            }
            let current = std::fs::metadata(&self.path).ok().map(|md| md.ino());
            if current.is_some() && current != self.live.as_ref().map(|l| l.ino) {
                // Rotated: what was appended just before the rename first.
                if let Some(log) = &mut self.live
                    && !pass(log)?
                {
                    return Ok(());
                }
                self.live = OpenLog::open(&self.path)?;
                continue;
            }
            if last_pass {
                return Ok(());
            }
            if stop() {
                // One more pass: lines written after the read above and
                // before the stop are still to come.
                last_pass = true;
                continue;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
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

    fn read(p: &Path, opts: &LogOptions) -> Vec<Record> {
        LogReader::open(p).unwrap().read(opts).unwrap()
    }

    /// What `follow` emits until `stop`.
    fn follow_all(logs: LogReader, opts: &LogOptions, stop: impl Fn() -> bool) -> Vec<String> {
        let mut seen = Vec::new();
        logs.follow(
            opts,
            |r| {
                seen.push(r.log.clone());
                true
            },
            stop,
        )
        .unwrap();
        seen
    }

    fn texts(records: &[Record]) -> Vec<&str> {
        records.iter().map(|r| r.log.as_str()).collect()
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
        assert_eq!(texts(&read(&p, &all)), ["a\n", "b\n", "c\n", "d\n"]);
        assert_eq!(texts(&read(&p, &LogOptions { tail: Some(2), ..all.clone() })), ["c\n", "d\n"]);
        let r = read(&p, &LogOptions { stdout: false, ..all.clone() });
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].stream, Stream::Stderr);
        let r =
            read(&p, &LogOptions { since_nano: Some(2_000_000_000), until_nano: Some(3_000_000_000), ..all });
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn an_open_log_stays_readable_after_removal() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c-json.log");
        std::fs::write(dir.path().join("c-json.log.1"), line("stdout", "a\n", 1)).unwrap();
        std::fs::write(&p, line("stdout", "b\n", 2)).unwrap();
        let mut logs = LogReader::open(&p).unwrap();
        std::fs::remove_dir_all(dir.path()).unwrap();
        let all = LogOptions { stdout: true, stderr: true, ..Default::default() };
        assert_eq!(texts(&logs.read(&all).unwrap()), ["a\n", "b\n"]);
    }

    #[test]
    fn follow_sees_appended_completed_and_rotated_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c-json.log");
        let new = line("stdout", "new\n", 2);
        let (head, tail) = new.split_at(10);
        std::fs::write(&p, line("stdout", "old\n", 1) + head).unwrap();
        let opts = LogOptions { stdout: true, stderr: true, ..Default::default() };
        let mut logs = LogReader::open(&p).unwrap();
        assert_eq!(texts(&logs.read(&opts).unwrap()), ["old\n"]);
        let writer = {
            let (p, tail) = (p.clone(), tail.to_string());
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(100));
                use std::io::Write;
                std::fs::OpenOptions::new()
                    .append(true)
                    .open(&p)
                    .unwrap()
                    .write_all(tail.as_bytes())
                    .unwrap();
                std::thread::sleep(std::time::Duration::from_millis(100));
                std::fs::rename(&p, p.with_extension("log.1")).unwrap();
                std::fs::write(&p, line("stderr", "rotated\n", 3)).unwrap();
            })
        };
        let mut seen = Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        logs.follow(
            &opts,
            |r| {
                seen.push(r.log.clone());
                seen.len() < 2
            },
            || std::time::Instant::now() > deadline,
        )
        .unwrap();
        writer.join().unwrap();
        assert_eq!(seen, ["new\n", "rotated\n"]);
    }

    #[test]
    fn follow_starts_over_when_the_log_is_truncated_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c-json.log");
        std::fs::write(&p, line("stdout", "a long first line\n", 1)).unwrap();
        let opts = LogOptions { stdout: true, stderr: true, ..Default::default() };
        let mut logs = LogReader::open(&p).unwrap();
        assert_eq!(texts(&logs.read(&opts).unwrap()), ["a long first line\n"]);
        // `max-file=1`: the shim empties the file and writes on.
        let calls = std::cell::Cell::new(0);
        let stop = || {
            calls.set(calls.get() + 1);
            if calls.get() == 1 {
                std::fs::write(&p, line("stdout", "b\n", 2)).unwrap();
            }
            calls.get() > 1
        };
        assert_eq!(follow_all(logs, &opts, stop), ["b\n"]);
    }

    #[test]
    fn follow_reads_what_was_written_before_the_stop_even_if_removed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c-json.log");
        std::fs::write(&p, line("stdout", "first\n", 1)).unwrap();
        let opts = LogOptions { stdout: true, stderr: true, ..Default::default() };
        // The container writes its last line and exits, and is removed with
        // its log, between a read and the check for the exit.
        let stop = || {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
            f.write_all(line("stdout", "last\n", 2).as_bytes()).unwrap();
            std::fs::remove_file(&p).unwrap();
            true
        };
        assert_eq!(follow_all(LogReader::open(&p).unwrap(), &opts, stop), ["first\n", "last\n"]);
    }
}
