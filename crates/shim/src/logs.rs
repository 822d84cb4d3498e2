//! The container's log: Docker's json-file format, byte for byte.
//!
//! Lines are split as moby's `logger.Copier` does: every complete line is
//! one record whose `log` ends in `\n`; a line is held back until its
//! newline arrives, unless 16 KiB accumulate without one, in which case
//! those 16 KiB are written as a *partial* record (no trailing newline) and
//! the rest of the line follows in further records sharing the first
//! partial's timestamp. Whatever is left when the stream ends is written as
//! a partial record. Records are encoded as moby's `jsonlog.JSONLogs`
//! (`{"log":…,"stream":…,"time":…}`, Go's string escaping, `time` in Go's
//! RFC 3339 nano layout) and the file rotates as moby's `loggerutils`
//! does: before a write, once the file has reached `max_size`.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::config::{LogConfig, LogDriver};
use crate::protocol::Stream;
use crate::timefmt::{Fraction, rfc3339};

/// moby's copier buffer: a line longer than this is split into partial
/// records of exactly this size.
pub const LINE_BUF: usize = 16 * 1024;

/// Splits one output stream into log records.
#[derive(Debug, Default)]
struct LineSplitter {
    /// The current line's bytes not yet logged (never holds a newline).
    pending: Vec<u8>,
    /// Set while a line is being logged in pieces: the first piece's time.
    partial_time: Option<SystemTime>,
}

impl LineSplitter {
    /// Feeds output; calls `emit(line, complete, time)` per record.
    fn feed(&mut self, mut data: &[u8], emit: &mut dyn FnMut(&[u8], bool, SystemTime)) {
        while !data.is_empty() {
            let room = LINE_BUF - self.pending.len();
            let window = &data[..data.len().min(room)];
            if let Some(i) = window.iter().position(|&b| b == b'\n') {
                let time = self.partial_time.take().unwrap_or_else(SystemTime::now);
                if self.pending.is_empty() {
                    emit(&data[..i], true, time);
                } else {
                    self.pending.extend_from_slice(&data[..i]);
                    emit(&self.pending, true, time);
                    self.pending.clear();
                }
                data = &data[i + 1..];
            } else if window.len() == room {
                // The buffer fills without a newline: log it as a partial.
                self.pending.extend_from_slice(window);
                let time = *self.partial_time.get_or_insert_with(SystemTime::now);
                emit(&self.pending, false, time);
                self.pending.clear();
                data = &data[room..];
            } else {
                self.pending.extend_from_slice(window);
                data = &[];
            }
        }
    }

    /// The stream ended: log what is left as a partial record.
    fn finish(&mut self, emit: &mut dyn FnMut(&[u8], bool, SystemTime)) {
        if !self.pending.is_empty() {
            let time = *self.partial_time.get_or_insert_with(SystemTime::now);
            emit(&self.pending, false, time);
            self.pending.clear();
        }
        self.partial_time = None;
        self.pending.shrink_to_fit();
    }
}

/// Appends one json-file record (with its final newline) to `out`.
pub fn encode_record(out: &mut Vec<u8>, line: &[u8], complete: bool, stream: Stream, time: SystemTime) {
    out.extend_from_slice(b"{\"log\":\"");
    escape_go_json(out, line);
    if complete {
        out.extend_from_slice(b"\\n");
    }
    out.extend_from_slice(b"\",\"stream\":\"");
    out.extend_from_slice(stream.name().as_bytes());
    out.extend_from_slice(b"\",\"time\":\"");
    out.extend_from_slice(rfc3339(time, Fraction::GoNano).as_bytes());
    out.extend_from_slice(b"\"}\n");
}

/// Writes `s` as the inside of a JSON string the way moby's
/// `ffjsonWriteJSONBytesAsString` does: `<`, `>`, `&` and control bytes as
/// `\u00XX` (only `\n`, `\r`, `\\` and `\"` get short escapes), each byte of
/// invalid UTF-8 as `\ufffd`, U+2028 and U+2029 escaped.
pub fn escape_go_json(out: &mut Vec<u8>, s: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for chunk in s.utf8_chunks() {
        let valid = chunk.valid();
        let bytes = valid.as_bytes();
        let mut start = 0;
        for (i, c) in valid.char_indices() {
            let escape: Option<&[u8]> = match c {
                '\\' => Some(b"\\\\"),
                '"' => Some(b"\\\""),
                '\n' => Some(b"\\n"),
                '\r' => Some(b"\\r"),
                '\u{2028}' => Some(b"\\u2028"),
                '\u{2029}' => Some(b"\\u2029"),
                '<' | '>' | '&' => Some(b""),
                c if (c as u32) < 0x20 => Some(b""),
                _ => None,
            };
            let Some(escape) = escape else { continue };
            out.extend_from_slice(&bytes[start..i]);
            if escape.is_empty() {
                let b = c as u8;
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 0xf) as usize]);
            } else {
                out.extend_from_slice(escape);
            }
            start = i + c.len_utf8();
        }
        out.extend_from_slice(&bytes[start..]);
        for _ in chunk.invalid() {
            out.extend_from_slice(b"\\ufffd");
        }
    }
}

/// The log file being written, with its rotation state.
#[derive(Debug)]
struct LogFile {
    path: PathBuf,
    file: File,
    size: u64,
    max_size: Option<u64>,
    max_file: u32,
}

impl LogFile {
    fn open(path: &Path, max_size: Option<u64>, max_file: u32) -> io::Result<LogFile> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = open_log(path, false)?;
        let size = file.metadata()?.len();
        Ok(LogFile { path: path.to_path_buf(), file, size, max_size, max_file })
    }

    /// Writes records, rotating between them as moby does: before writing a
    /// record, if the file has reached `max_size`.
    fn write_records(&mut self, records: &[u8]) -> io::Result<()> {
        let Some(max) = self.max_size else {
            return self.append(records);
        };
        let mut rest = records;
        while !rest.is_empty() {
            if self.size >= max {
                self.rotate()?;
            }
            // Take whole records until the file would reach the limit.
            let mut take = 0;
            let mut size = self.size;
            for line in rest.split_inclusive(|&b| b == b'\n') {
                if take > 0 && size >= max {
                    break;
                }
                take += line.len();
                size += line.len() as u64;
            }
            self.append(&rest[..take])?;
            rest = &rest[take..];
        }
        Ok(())
    }

    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        let result = self.file.write_all(bytes);
        // Count what was attempted even on a short write (ENOSPC), so a
        // full disk still triggers rotation, which frees space.
        self.size += bytes.len() as u64;
        result
    }

    /// `path.N-1` is dropped, `path.i` becomes `path.i+1`, `path` becomes
    /// `path.1`, and a new empty `path` is opened. With `max_file` 1 the
    /// file is truncated.
    fn rotate(&mut self) -> io::Result<()> {
        if self.max_file >= 2 {
            let name = |i: u32| {
                let mut p = self.path.clone().into_os_string();
                p.push(format!(".{i}"));
                PathBuf::from(p)
            };
            let _ = std::fs::remove_file(name(self.max_file - 1));
            for i in (2..self.max_file).rev() {
                ignore_not_found(std::fs::rename(name(i - 1), name(i)))?;
            }
            ignore_not_found(std::fs::rename(&self.path, name(1)))?;
        }
        self.file = open_log(&self.path, true)?;
        self.size = 0;
        Ok(())
    }
}

fn ignore_not_found(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

fn open_log(path: &Path, truncate: bool) -> io::Result<File> {
    // Rust opens files O_CLOEXEC; 0640 as Docker.
    OpenOptions::new().create(true).append(true).truncate(false).mode(0o640).open(path).and_then(|f| {
        if truncate {
            f.set_len(0)?;
        }
        Ok(f)
    })
}

/// The container's logger: one splitter per stream and the file.
#[derive(Debug)]
pub struct Logger {
    file: Option<LogFile>,
    splitters: [LineSplitter; 2],
    scratch: Vec<u8>,
    /// The last write error, kept for diagnostics; logging never stops the
    /// container.
    pub last_error: Option<String>,
}

impl Logger {
    /// Opens the log as configured (`none` opens nothing).
    pub fn open(config: &LogConfig) -> io::Result<Logger> {
        let file = match (config.driver, &config.path) {
            (LogDriver::None, _) => None,
            (_, Some(path)) => Some(LogFile::open(path, config.max_size(), config.max_file())?),
            (_, None) => {
                return Err(io::Error::new(io::ErrorKind::InvalidInput, "log path missing"));
            }
        };
        Ok(Logger { file, splitters: Default::default(), scratch: Vec::new(), last_error: None })
    }

    /// Logs output of `stream`.
    pub fn write(&mut self, stream: Stream, data: &[u8]) {
        if self.file.is_none() {
            return;
        }
        let mut out = std::mem::take(&mut self.scratch);
        self.splitters[stream.index()]
            .feed(data, &mut |line, complete, time| encode_record(&mut out, line, complete, stream, time));
        self.flush(out);
    }

    /// The stream ended: logs its unterminated last line.
    pub fn finish(&mut self, stream: Stream) {
        if self.file.is_none() {
            return;
        }
        let mut out = std::mem::take(&mut self.scratch);
        self.splitters[stream.index()]
            .finish(&mut |line, complete, time| encode_record(&mut out, line, complete, stream, time));
        self.flush(out);
    }

    fn flush(&mut self, mut out: Vec<u8>) {
        if !out.is_empty()
            && let Some(file) = &mut self.file
            && let Err(e) = file.write_records(&out)
        {
            self.last_error = Some(e.to_string());
        }
        out.clear();
        // Keep a modest buffer around, not the largest burst ever seen.
        if out.capacity() > 4 * LINE_BUF {
            out = Vec::new();
        }
        self.scratch = out;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(chunks: &[&[u8]]) -> Vec<(Vec<u8>, bool)> {
        let mut s = LineSplitter::default();
        let mut got = Vec::new();
        for c in chunks {
            s.feed(c, &mut |l, complete, _| got.push((l.to_vec(), complete)));
        }
        s.finish(&mut |l, complete, _| got.push((l.to_vec(), complete)));
        got
    }

    #[test]
    fn lines_are_records_and_partials_wait_for_their_newline() {
        assert_eq!(
            records(&[b"a\nb", b"c\n\nd"]),
            vec![(b"a".to_vec(), true), (b"bc".to_vec(), true), (b"".to_vec(), true), (b"d".to_vec(), false)]
        );
        assert!(records(&[]).is_empty());
    }

    #[test]
    fn long_lines_split_at_16k_whatever_the_chunking() {
        let mut line = vec![b'x'; LINE_BUF * 2 + 100];
        line.push(b'\n');
        line.extend_from_slice(b"tail");
        let expect = vec![
            (vec![b'x'; LINE_BUF], false),
            (vec![b'x'; LINE_BUF], false),
            (vec![b'x'; 100], true),
            (b"tail".to_vec(), false),
        ];
        assert_eq!(records(&[&line]), expect);
        let chunks: Vec<&[u8]> = line.chunks(1000).collect();
        assert_eq!(records(&chunks), expect);
        let chunks: Vec<&[u8]> = line.chunks(7).collect();
        assert_eq!(records(&chunks), expect);
    }

    #[test]
    fn pieces_of_a_line_share_the_first_pieces_time() {
        let mut s = LineSplitter::default();
        let mut times = Vec::new();
        s.feed(&vec![b'y'; LINE_BUF], &mut |_, _, t| times.push(t));
        std::thread::sleep(std::time::Duration::from_millis(5));
        s.feed(b"end\nnext\n", &mut |_, _, t| times.push(t));
        assert_eq!(times.len(), 3);
        assert_eq!(times[0], times[1]);
        assert!(times[2] > times[1]);
    }

    #[test]
    fn escapes_like_go() {
        let mut out = Vec::new();
        escape_go_json(&mut out, b"a\tb\"c\\d<e>&f\r\n\x01\x7f\xc3\xa9\xe2\x80\xa8\xff\xe2\x82z");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a\\u0009b\\\"c\\\\d\\u003ce\\u003e\\u0026f\\r\\n\\u0001\x7fé\\u2028\\ufffd\\ufffd\\ufffdz"
        );
    }

    #[test]
    fn record_layout() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::new(1_795_495_259, 161_905_040);
        let mut out = Vec::new();
        encode_record(&mut out, b"hello", true, Stream::Stdout, t);
        encode_record(&mut out, b"part", false, Stream::Stderr, t);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"log\":\"hello\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-24T04:40:59.16190504Z\"}\n\
             {\"log\":\"part\",\"stream\":\"stderr\",\"time\":\"2026-11-24T04:40:59.16190504Z\"}\n"
        );
    }

    #[test]
    fn rotation_keeps_max_file_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        let config = LogConfig {
            driver: LogDriver::JsonFile,
            path: Some(path.clone()),
            max_size: Some(500),
            max_file: Some(3),
        };
        let mut log = Logger::open(&config).unwrap();
        for i in 0..200 {
            log.write(Stream::Stdout, format!("line {i}\n").as_bytes());
        }
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["c-json.log", "c-json.log.1", "c-json.log.2"]);
        // Each rotated file passed the limit by less than one record, and
        // the newest record is in the live file.
        for name in &names[1..] {
            let len = std::fs::metadata(dir.path().join(name)).unwrap().len();
            assert!((500..600).contains(&len), "{name}: {len}");
        }
        let live = std::fs::read_to_string(&path).unwrap();
        assert!(live.ends_with("\"}\n") && live.contains("line 199\\n"));
        let older = std::fs::read_to_string(dir.path().join("c-json.log.1")).unwrap();
        let n_last_old: u32 = last_number(&older);
        let n_first_live: u32 = first_number(&live);
        assert_eq!(n_last_old + 1, n_first_live);
    }

    #[test]
    fn one_file_means_truncate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l");
        let config = LogConfig {
            driver: LogDriver::JsonFile,
            path: Some(path.clone()),
            max_size: Some(300),
            max_file: Some(1),
        };
        let mut log = Logger::open(&config).unwrap();
        for i in 0..50 {
            log.write(Stream::Stdout, format!("line {i}\n").as_bytes());
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        assert!(std::fs::metadata(&path).unwrap().len() < 400);
    }

    fn numbers(s: &str) -> impl Iterator<Item = u32> + '_ {
        s.lines().map(|l| {
            let start = l.find("line ").unwrap() + 5;
            let end = l[start..].find('\\').unwrap() + start;
            l[start..end].parse().unwrap()
        })
    }
    fn first_number(s: &str) -> u32 {
        numbers(s).next().unwrap()
    }
    fn last_number(s: &str) -> u32 {
        numbers(s).last().unwrap()
    }
}
