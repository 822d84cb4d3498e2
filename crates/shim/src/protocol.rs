//! The control protocol on `shim.sock`: one JSON request line per
//! connection, one JSON answer line, and for attach and exec a byte stream
//! afterwards (see docs/shim.md).

use serde::Deserialize;
use serde_json::{Value, json};

/// The longest request line accepted (an exec spec with a large
/// environment fits easily).
pub const MAX_REQUEST: usize = 1024 * 1024;

fn yes() -> bool {
    true
}

fn sigkill() -> i32 {
    libc::SIGKILL
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    Attach {
        #[serde(default)]
        stdin: bool,
        #[serde(default = "yes")]
        stdout: bool,
        #[serde(default = "yes")]
        stderr: bool,
        /// Docker's `StdinOnce`: the client's end of input closes the
        /// container's stdin (the documented behaviour, and the default).
        /// `false` for a client that may detach and leave stdin open for
        /// the next one (`docker attach` to a `run -di` container).
        #[serde(default = "yes")]
        stdin_once: bool,
    },
    Start,
    Kill {
        #[serde(default = "sigkill")]
        signal: i32,
        #[serde(default)]
        all: bool,
    },
    /// Resizes the container's pty, or with `exec` that exec's pty (an
    /// addition to the documented request, for `POST /exec/{id}/resize`).
    Resize {
        height: u16,
        width: u16,
        #[serde(default)]
        exec: Option<String>,
    },
    Wait,
    State,
    Pause,
    Resume,
    Stats,
    Exec {
        id: String,
        spec: Value,
        #[serde(default)]
        tty: bool,
        #[serde(default)]
        stdin: bool,
        #[serde(default)]
        detach: bool,
        /// The tty's initial `[height, width]`.
        #[serde(default)]
        console_size: Option<[u16; 2]>,
    },
    ExecState {
        id: String,
    },
    /// Answered like `exec_state` once the exec has exited.
    ExecWait {
        id: String,
    },
    Shutdown,
}

impl Request {
    pub fn parse(line: &[u8]) -> Result<Request, String> {
        serde_json::from_slice(line).map_err(|e| format!("bad request: {e}"))
    }
}

/// An output stream of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    /// The stream id in Docker's multiplexed framing.
    pub fn id(self) -> u8 {
        match self {
            Stream::Stdout => 1,
            Stream::Stderr => 2,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }

    pub fn index(self) -> usize {
        self.id() as usize - 1
    }
}

/// Docker's stdcopy header: stream id, three zero bytes, big-endian length.
pub fn frame_header(stream: Stream, len: usize) -> [u8; 8] {
    let len = u32::try_from(len).expect("frames are smaller than 4 GiB");
    let l = len.to_be_bytes();
    [stream.id(), 0, 0, 0, l[0], l[1], l[2], l[3]]
}

/// `{"ok":true}` plus `fields`, as one line.
pub fn ok(fields: Value) -> Vec<u8> {
    let mut v = json!({"ok": true});
    if let (Value::Object(out), Value::Object(extra)) = (&mut v, fields) {
        out.extend(extra);
    }
    line(&v)
}

/// `{"error":message,"code":code}` as one line.
pub fn error(message: &str, code: i32) -> Vec<u8> {
    line(&json!({"error": message, "code": code}))
}

fn line(v: &Value) -> Vec<u8> {
    let mut out = serde_json::to_vec(v).expect("JSON values serialise");
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_from_the_doc() {
        assert_eq!(
            Request::parse(br#"{"op":"attach","stdin":true,"stdout":true,"stderr":false}"#).unwrap(),
            Request::Attach { stdin: true, stdout: true, stderr: false, stdin_once: true }
        );
        assert_eq!(
            Request::parse(br#"{"op":"attach"}"#).unwrap(),
            Request::Attach { stdin: false, stdout: true, stderr: true, stdin_once: true }
        );
        assert_eq!(
            Request::parse(br#"{"op":"kill","signal":15,"all":true}"#).unwrap(),
            Request::Kill { signal: 15, all: true }
        );
        assert_eq!(Request::parse(br#"{"op":"kill"}"#).unwrap(), Request::Kill { signal: 9, all: false });
        assert_eq!(
            Request::parse(br#"{"op":"resize","height":24,"width":80}"#).unwrap(),
            Request::Resize { height: 24, width: 80, exec: None }
        );
        assert_eq!(
            Request::parse(br#"{"op":"exec_state","id":"e1"}"#).unwrap(),
            Request::ExecState { id: "e1".into() }
        );
        let exec = Request::parse(
            br#"{"op":"exec","id":"e1","spec":{"args":["ls"]},"tty":false,"stdin":true,"detach":false}"#,
        )
        .unwrap();
        assert!(matches!(exec, Request::Exec { stdin: true, tty: false, detach: false, .. }));
        for op in ["start", "wait", "state", "pause", "resume", "stats", "shutdown"] {
            Request::parse(format!(r#"{{"op":"{op}"}}"#).as_bytes()).unwrap();
        }
        assert!(Request::parse(br#"{"op":"dance"}"#).is_err());
        assert!(Request::parse(b"not json").is_err());
    }

    #[test]
    fn frames_and_answers() {
        assert_eq!(frame_header(Stream::Stdout, 6), [1, 0, 0, 0, 0, 0, 0, 6]);
        assert_eq!(frame_header(Stream::Stderr, 0x01020304), [2, 0, 0, 0, 1, 2, 3, 4]);
        assert_eq!(ok(json!({})), b"{\"ok\":true}\n");
        assert_eq!(ok(json!({"pid": 3})), b"{\"ok\":true,\"pid\":3}\n");
        assert_eq!(error("no such file", 127), b"{\"code\":127,\"error\":\"no such file\"}\n");
    }
}
