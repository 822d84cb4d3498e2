//! Processes run in the container next to its init (`docker exec`): each
//! has its own stdio, streamed to the client that started it, and an exit
//! status kept for `exec_state` after the process is gone.

use std::io;

use serde_json::{Value, json};

use crate::protocol::Request;
use crate::rt::{Runtime, RuntimeError};
use crate::stdio::ProcIo;

/// How many finished execs are remembered for `exec_state`; older ones are
/// forgotten so a container that is exec'ed into forever stays small.
pub const KEEP_FINISHED: usize = 128;

#[derive(Debug)]
pub struct Exec {
    pub id: String,
    pub pid: i32,
    pub tty: bool,
    pub io: ProcIo,
    pub exit_code: Option<i32>,
}

impl Exec {
    /// Creates the exec's stdio and runs it through the runtime.
    pub fn spawn<R: Runtime>(rt: &mut R, init_pid: i32, request: &Request) -> Result<Exec, RuntimeError> {
        let Request::Exec { id, spec, tty, stdin, detach, console_size } = request else {
            unreachable!("Exec::spawn takes exec requests");
        };
        let stdio_err = |e: io::Error| RuntimeError::other(format!("creating the exec's stdio: {e}"));
        let (io, stdio) = if *detach {
            ProcIo::null().map_err(stdio_err)?
        } else if *tty {
            ProcIo::pty_in(init_pid, *stdin).or_else(|_| ProcIo::pty(*stdin)).map_err(stdio_err)?
        } else {
            ProcIo::pipes(*stdin).map_err(stdio_err)?
        };
        if let Some([h, w]) = console_size.filter(|[h, w]| *tty && *h > 0 && *w > 0) {
            io.resize(h, w).map_err(stdio_err)?;
        }
        // The child's ends are dropped when `exec` returns, so the output
        // pipes reach end of file when the process (and its children) close
        // them.
        let pid = rt.exec(init_pid, spec, stdio)?;
        Ok(Exec { id: id.clone(), pid, tty: *tty, io, exit_code: None })
    }

    pub fn finished(&self) -> bool {
        self.exit_code.is_some() && self.io.done
    }

    /// The `exec_state` answer's fields.
    pub fn state(&self) -> Value {
        json!({
            "running": self.exit_code.is_none(),
            "pid": self.pid,
            "exit_code": self.exit_code,
        })
    }
}

/// Forgets the oldest finished execs beyond [`KEEP_FINISHED`], except those
/// `in_use` says a client still streams from.
pub fn prune(execs: &mut Vec<Exec>, in_use: impl Fn(&str) -> bool) {
    let finished = execs.iter().filter(|e| e.finished()).count();
    let mut excess = finished.saturating_sub(KEEP_FINISHED);
    execs.retain(|e| {
        if excess > 0 && e.finished() && !in_use(&e.id) {
            excess -= 1;
            false
        } else {
            true
        }
    });
}
