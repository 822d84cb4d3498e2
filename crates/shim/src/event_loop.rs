//! The shim's single-threaded event loop: one poll(2) over the control
//! socket, its connections, every process's stdio and the SIGCHLD pipe.
//!
//! Nothing in the loop blocks: sockets and the shim's ends of pipes are
//! non-blocking, each client has its own output buffer, and a client that
//! falls more than [`CLIENT_LIMIT`] behind is dropped, so the container's
//! output is always drained (into the log) whatever the clients do.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::io::Errno;
use rustix::net::{SendFlags, send};
use rustix::process::{WaitOptions, wait};
use serde_json::{Value, json};

use crate::exec::{self, Exec};
use crate::exit::{ExitInfo, exit_code};
use crate::logs::Logger;
use crate::protocol::{self, MAX_REQUEST, Request, Stream, frame_header};
use crate::rt::Runtime;
use crate::signals::ChildSignals;
use crate::stdio::{self, ProcIo, Read, STDIN_LIMIT};
use crate::timefmt::{Fraction, rfc3339};

/// A client this far behind on output is dropped rather than letting its
/// buffer grow or blocking the container.
pub const CLIENT_LIMIT: usize = 1024 * 1024;

/// After a process exits, how long its outputs may stay open (held by
/// orphaned children) before its clients' streams are ended anyway.
const EXIT_GRACE: Duration = Duration::from_millis(500);

/// After `shutdown`, how long clients get to take their remaining output.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(5);

/// Quiet time after client activity before the shim drops the code and
/// data pages that activity faulted in ([`crate::trim`]).
const IDLE_TRIM: Duration = Duration::from_secs(2);

/// Most connections open at once; more are closed on accept.
const MAX_CONNS: usize = 1024;

/// Bytes read from a process per readiness event, before others get a turn.
const READ_BUDGET: usize = 256 * 1024;

const READ_CHUNK: usize = 32 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Created,
    Running,
    Paused,
    Exited,
}

impl Status {
    fn name(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Exited => "exited",
        }
    }
}

/// Whose stdio a stream belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Init,
    Exec(String),
}

#[derive(Debug)]
enum Mode {
    /// Reading the request line.
    Request,
    /// The answer is queued; close once it is sent.
    Reply,
    /// A `wait`: answered when the init exits.
    Wait,
    /// An `exec_wait`: answered when that exec exits.
    ExecWait(String),
    /// Attached to a process's stdio (attach, or a non-detached exec).
    Stream {
        target: Target,
        stdin: bool,
        stdout: bool,
        stderr: bool,
        /// The client's end of input closes the process's stdin.
        stdin_once: bool,
    },
}

#[derive(Debug)]
struct Conn {
    sock: OwnedFd,
    mode: Mode,
    inbuf: Vec<u8>,
    out: Vec<u8>,
    out_pos: usize,
    read_eof: bool,
    close_when_flushed: bool,
    dead: bool,
}

impl Conn {
    fn new(sock: OwnedFd) -> Conn {
        Conn {
            sock,
            mode: Mode::Request,
            inbuf: Vec::new(),
            out: Vec::new(),
            out_pos: 0,
            read_eof: false,
            close_when_flushed: false,
            dead: false,
        }
    }

    fn pending(&self) -> usize {
        self.out.len() - self.out_pos
    }

    /// Queues bytes, sending at once what the socket takes; a client that
    /// is too far behind is dropped.
    fn send(&mut self, bytes: &[u8]) {
        if self.dead {
            return;
        }
        let mut bytes = bytes;
        if self.pending() == 0 {
            match send_nb(&self.sock, bytes) {
                Ok(n) => bytes = &bytes[n..],
                Err(()) => {
                    self.dead = true;
                    return;
                }
            }
        }
        if !bytes.is_empty() {
            if self.pending() + bytes.len() > CLIENT_LIMIT {
                self.dead = true;
                return;
            }
            self.out.extend_from_slice(bytes);
        }
    }

    /// Sends queued output; closes when done if asked to.
    fn flush(&mut self) {
        while self.pending() > 0 {
            match send_nb(&self.sock, &self.out[self.out_pos..]) {
                Ok(0) => break,
                Ok(n) => self.out_pos += n,
                Err(()) => {
                    self.dead = true;
                    return;
                }
            }
        }
        if self.pending() == 0 {
            self.out.clear();
            self.out_pos = 0;
            if self.out.capacity() > 64 * 1024 {
                self.out = Vec::new();
            }
            if self.close_when_flushed {
                self.dead = true;
            }
        } else if self.out_pos > self.out.len() / 2 {
            self.out.drain(..self.out_pos);
            self.out_pos = 0;
        }
    }

    /// Reads and drops what the client sent and the shim never read: a
    /// unix socket closed with unread input resets the connection, and the
    /// client would get ECONNRESET instead of a clean end of stream.
    fn discard_input(&self, buf: &mut [u8]) {
        let mut budget = CLIENT_LIMIT;
        while budget > 0 {
            match stdio::read(self.sock.as_fd(), buf) {
                Read::Data(n) => budget = budget.saturating_sub(n),
                Read::WouldBlock | Read::Eof => return,
            }
        }
    }

    /// Queues a final answer.
    fn reply(&mut self, line: Vec<u8>) {
        self.mode = Mode::Reply;
        self.close_when_flushed = true;
        self.send(&line);
        if self.pending() == 0 {
            self.dead = true;
        }
    }

    fn streams(&self, target: &Target, stream: Stream) -> bool {
        match &self.mode {
            Mode::Stream { target: t, stdout, stderr, .. } => {
                !self.dead
                    && t == target
                    && match stream {
                        Stream::Stdout => *stdout,
                        Stream::Stderr => *stderr,
                    }
            }
            _ => false,
        }
    }
}

/// Sends without blocking and without SIGPIPE: `Ok(0)` when the socket is
/// full, `Err` when the peer is gone.
fn send_nb(sock: &OwnedFd, bytes: &[u8]) -> Result<usize, ()> {
    loop {
        match send(sock, bytes, SendFlags::NOSIGNAL | SendFlags::DONTWAIT) {
            Ok(n) => return Ok(n),
            Err(Errno::INTR) => continue,
            Err(Errno::AGAIN) => return Ok(0),
            Err(_) => return Err(()),
        }
    }
}

/// Identifies a polled fd.
#[derive(Debug, Clone, Copy)]
enum Token {
    Signals,
    Listener,
    Conn(usize),
    Output(Owner, usize),
    Stdin(Owner),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Init,
    Exec(usize),
}

/// Everything the shim knows about its container.
pub struct Shim<R: Runtime> {
    pub(crate) rt: R,
    pub(crate) bundle: PathBuf,
    pub(crate) listener: UnixListener,
    pub(crate) signals: ChildSignals,
    pub(crate) tty: bool,
    pub(crate) init_pid: i32,
    pub(crate) init: ProcIo,
    pub(crate) logs: Logger,
    status: Status,
    started_at: Option<SystemTime>,
    exit: Option<ExitInfo>,
    start_error: Option<String>,
    conns: Vec<Conn>,
    execs: Vec<Exec>,
    shutdown: Option<Instant>,
    /// When to trim memory, set by client activity.
    trim_at: Option<Instant>,
    buf: Vec<u8>,
    frame: Vec<u8>,
}

impl<R: Runtime> Shim<R> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        rt: R,
        bundle: PathBuf,
        listener: UnixListener,
        signals: ChildSignals,
        tty: bool,
        init_pid: i32,
        init: ProcIo,
        logs: Logger,
    ) -> Shim<R> {
        Shim {
            rt,
            bundle,
            listener,
            signals,
            tty,
            init_pid,
            init,
            logs,
            status: Status::Created,
            started_at: None,
            exit: None,
            start_error: None,
            conns: Vec::new(),
            execs: Vec::new(),
            shutdown: None,
            trim_at: None,
            buf: vec![0; READ_CHUNK],
            frame: Vec::new(),
        }
    }

    /// Serves until `shutdown` (after the container exited); returns the
    /// shim's exit code.
    pub fn run(mut self) -> i32 {
        // A SIGCHLD may have arrived before the loop: reap first.
        self.reap();
        loop {
            self.housekeeping();
            if self.finished() {
                break;
            }
            let timeout = self.timeout();
            let events = match self.poll(timeout) {
                Ok(events) => events,
                Err(Errno::INTR) => continue,
                Err(_) => return 1,
            };
            let now = Instant::now();
            if self.trim_at.is_some_and(|t| t <= now) {
                self.trim_at = None;
                crate::trim::drop_clean_file_pages();
            }
            for (token, flags) in events {
                if matches!(token, Token::Listener | Token::Conn(_)) {
                    self.trim_at = Some(now + IDLE_TRIM);
                }
                self.handle(token, flags);
            }
        }
        let _ = self.rt.cleanup();
        let _ = std::fs::remove_file(self.bundle.join("shim.sock"));
        0
    }

    fn poll(&self, timeout: Option<Duration>) -> Result<Vec<(Token, PollFlags)>, Errno> {
        let mut fds = Vec::with_capacity(8 + self.conns.len());
        let mut tokens = Vec::with_capacity(fds.capacity());
        fds.push(PollFd::new(&self.signals.read, PollFlags::IN));
        tokens.push(Token::Signals);
        if self.shutdown.is_none() {
            fds.push(PollFd::from_borrowed_fd(self.listener.as_fd(), PollFlags::IN));
            tokens.push(Token::Listener);
        }
        for (i, c) in self.conns.iter().enumerate() {
            let mut flags = PollFlags::empty();
            if self.wants_read(c) {
                flags |= PollFlags::IN;
            }
            if c.pending() > 0 {
                flags |= PollFlags::OUT;
            }
            // Even with no interest, poll reports HUP and ERR.
            fds.push(PollFd::new(&c.sock, flags));
            tokens.push(Token::Conn(i));
        }
        let procs = std::iter::once((Owner::Init, &self.init))
            .chain(self.execs.iter().enumerate().map(|(i, e)| (Owner::Exec(i), &e.io)));
        for (owner, io) in procs {
            for (i, out) in io.outputs.iter().enumerate() {
                if let Some(out) = out {
                    fds.push(PollFd::new(&out.fd, PollFlags::IN));
                    tokens.push(Token::Output(owner, i));
                }
            }
            if let Some(sink) = &io.stdin
                && !sink.buf.is_empty()
            {
                fds.push(PollFd::new(&sink.fd, PollFlags::OUT));
                tokens.push(Token::Stdin(owner));
            }
        }
        let timeout =
            timeout.map(|d| Timespec { tv_sec: d.as_secs() as i64, tv_nsec: i64::from(d.subsec_nanos()) });
        poll(&mut fds, timeout.as_ref())?;
        Ok(fds
            .iter()
            .zip(tokens)
            .filter(|(fd, _)| !fd.revents().is_empty())
            .map(|(fd, t)| (t, fd.revents()))
            .collect())
    }

    fn wants_read(&self, c: &Conn) -> bool {
        if c.read_eof || c.dead {
            return false;
        }
        match &c.mode {
            Mode::Request => true,
            Mode::Stream { target, stdin: true, .. } => {
                match self.io(target).and_then(|io| io.stdin.as_ref()) {
                    // Back-pressure: stop reading while the process is behind.
                    Some(sink) => !sink.closing && sink.buf.len() < STDIN_LIMIT,
                    None => false,
                }
            }
            _ => false,
        }
    }

    fn io(&self, target: &Target) -> Option<&ProcIo> {
        match target {
            Target::Init => Some(&self.init),
            Target::Exec(id) => self.execs.iter().find(|e| &e.id == id).map(|e| &e.io),
        }
    }

    fn io_mut(&mut self, target: &Target) -> Option<&mut ProcIo> {
        match target {
            Target::Init => Some(&mut self.init),
            Target::Exec(id) => self.execs.iter_mut().find(|e| &e.id == id).map(|e| &mut e.io),
        }
    }

    fn owner_io(&mut self, owner: Owner) -> &mut ProcIo {
        match owner {
            Owner::Init => &mut self.init,
            Owner::Exec(i) => &mut self.execs[i].io,
        }
    }

    fn handle(&mut self, token: Token, flags: PollFlags) {
        match token {
            Token::Signals => {
                self.signals.drain();
                self.reap();
            }
            Token::Listener => self.accept(),
            Token::Conn(i) => {
                if flags.contains(PollFlags::HUP) {
                    // Gone: take everything it sent before it went.
                    while self.conn_readable(i) {}
                } else if flags.contains(PollFlags::IN) {
                    let _ = self.conn_readable(i);
                }
                if flags.contains(PollFlags::OUT) {
                    self.conns[i].flush();
                }
                if flags.intersects(PollFlags::HUP | PollFlags::ERR | PollFlags::NVAL) {
                    // The peer is gone both ways: nothing more can be sent.
                    self.conns[i].dead = true;
                }
            }
            Token::Output(owner, i) => self.output_readable(owner, i),
            Token::Stdin(owner) => {
                let io = self.owner_io(owner);
                if let Some(sink) = &mut io.stdin
                    && sink.flush()
                {
                    io.stdin = None;
                }
            }
        }
    }

    fn accept(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if self.conns.len() >= MAX_CONNS || stream.set_nonblocking(true).is_err() {
                        continue;
                    }
                    self.conns.push(Conn::new(stream.into()));
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }

    /// Reads once from a client; `true` if data came (there may be more).
    fn conn_readable(&mut self, i: usize) -> bool {
        if self.conns[i].read_eof || self.conns[i].dead {
            return false;
        }
        let mut buf = std::mem::take(&mut self.buf);
        let result = stdio::read(self.conns[i].sock.as_fd(), &mut buf);
        let got_data = matches!(result, Read::Data(_));
        match result {
            Read::WouldBlock => {}
            Read::Data(n) => {
                let data = &buf[..n];
                if matches!(self.conns[i].mode, Mode::Request) {
                    self.conns[i].inbuf.extend_from_slice(data);
                    self.try_request(i);
                } else {
                    self.forward_stdin(i, data);
                }
            }
            Read::Eof => {
                let c = &mut self.conns[i];
                c.read_eof = true;
                if matches!(c.mode, Mode::Request) {
                    if c.inbuf.is_empty() {
                        c.dead = true;
                    } else {
                        // A request without its newline: take it as is.
                        c.inbuf.push(b'\n');
                        self.try_request(i);
                    }
                } else {
                    self.stdin_eof(i);
                }
            }
        }
        self.buf = buf;
        got_data
    }

    /// Handles the request line once it is complete.
    fn try_request(&mut self, i: usize) {
        let c = &mut self.conns[i];
        let Some(end) = c.inbuf.iter().position(|&b| b == b'\n') else {
            if c.inbuf.len() > MAX_REQUEST {
                c.reply(protocol::error("request too long", 125));
            }
            return;
        };
        let rest = c.inbuf.split_off(end + 1);
        let line = std::mem::take(&mut c.inbuf);
        match Request::parse(&line[..end]) {
            Ok(request) => self.request(i, request),
            Err(message) => self.conns[i].reply(protocol::error(&message, 125)),
        }
        // Bytes after the request line are the client's first stdin bytes.
        if !rest.is_empty() && matches!(self.conns[i].mode, Mode::Stream { .. }) {
            self.forward_stdin(i, &rest);
        }
        if self.conns[i].read_eof && matches!(self.conns[i].mode, Mode::Stream { .. }) {
            self.stdin_eof(i);
        }
    }

    fn forward_stdin(&mut self, i: usize, data: &[u8]) {
        let Mode::Stream { target, stdin: true, .. } = &self.conns[i].mode else {
            return;
        };
        let target = target.clone();
        if let Some(io) = self.io_mut(&target)
            && let Some(sink) = &mut io.stdin
            && !sink.closing
        {
            sink.buf.extend_from_slice(data);
            if sink.flush() {
                io.stdin = None;
            }
        }
    }

    /// The client half-closed: the process's stdin is closed once what the
    /// client sent has been written.
    fn stdin_eof(&mut self, i: usize) {
        let Mode::Stream { target, stdin: true, stdin_once: true, .. } = &self.conns[i].mode else {
            return;
        };
        let target = target.clone();
        if let Some(io) = self.io_mut(&target)
            && let Some(sink) = &mut io.stdin
        {
            sink.closing = true;
            if sink.flush() {
                io.stdin = None;
            }
        }
    }

    fn request(&mut self, i: usize, request: Request) {
        let answer = match request {
            Request::Attach { stdin, stdout, stderr, stdin_once } => {
                let c = &mut self.conns[i];
                c.send(&protocol::ok(json!({})));
                c.mode = Mode::Stream { target: Target::Init, stdin, stdout, stderr, stdin_once };
                return;
            }
            Request::Start => self.start(),
            Request::Kill { signal, all } => self.kill(signal, all),
            Request::Resize { height, width, exec } => {
                let target = exec.map_or(Target::Init, Target::Exec);
                match self.io(&target).map(|io| io.resize(height, width)) {
                    Some(Ok(())) => protocol::ok(json!({})),
                    Some(Err(e)) => protocol::error(&format!("resize: {e}"), 125),
                    None => protocol::error("no such exec", 125),
                }
            }
            Request::Wait => {
                if let Some(exit) = &self.exit {
                    wait_answer(exit)
                } else {
                    self.conns[i].mode = Mode::Wait;
                    return;
                }
            }
            Request::State => protocol::ok(self.state()),
            Request::Pause => match self.status {
                Status::Running => match self.rt.pause() {
                    Ok(()) => {
                        self.status = Status::Paused;
                        protocol::ok(json!({}))
                    }
                    Err(e) => protocol::error(&e.message, e.code()),
                },
                Status::Paused => protocol::error("container is already paused", 125),
                _ => protocol::error("container is not running", 125),
            },
            Request::Resume => match self.status {
                Status::Paused => match self.rt.resume() {
                    Ok(()) => {
                        self.status = Status::Running;
                        protocol::ok(json!({}))
                    }
                    Err(e) => protocol::error(&e.message, e.code()),
                },
                _ => protocol::error("container is not paused", 125),
            },
            Request::Stats => match self.rt.stats() {
                Ok(stats) => protocol::ok(json!({ "stats": stats })),
                Err(e) => protocol::error(&e.message, e.code()),
            },
            ref exec @ Request::Exec { ref id, detach, .. } => {
                if self.status == Status::Paused {
                    protocol::error("container is paused", 125)
                } else if self.status != Status::Running {
                    protocol::error("container is not running", 125)
                } else if self.execs.iter().any(|e| &e.id == id && e.exit_code.is_none()) {
                    protocol::error(&format!("exec {id} is already running"), 125)
                } else {
                    match Exec::spawn(&mut self.rt, self.init_pid, exec) {
                        Ok(e) => {
                            let pid = e.pid;
                            // Replace a finished exec of that id in place:
                            // indices must not shift while events are handled.
                            match self.execs.iter().position(|old| &old.id == id) {
                                Some(slot) => self.execs[slot] = e,
                                None => self.execs.push(e),
                            }
                            let answer = protocol::ok(json!({ "pid": pid }));
                            if detach {
                                answer
                            } else {
                                let Request::Exec { stdin, .. } = exec else { unreachable!() };
                                let c = &mut self.conns[i];
                                c.send(&answer);
                                c.mode = Mode::Stream {
                                    target: Target::Exec(id.clone()),
                                    stdin: *stdin,
                                    stdout: true,
                                    stderr: true,
                                    stdin_once: true,
                                };
                                return;
                            }
                        }
                        Err(e) => protocol::error(&e.message, e.code()),
                    }
                }
            }
            Request::ExecState { id } => match self.execs.iter().find(|e| e.id == id) {
                Some(e) => protocol::ok(e.state()),
                None => protocol::error(&format!("no such exec: {id}"), 125),
            },
            Request::ExecWait { id } => match self.execs.iter().find(|e| e.id == id) {
                Some(e) if e.exit_code.is_some() => protocol::ok(e.state()),
                Some(_) => {
                    self.conns[i].mode = Mode::ExecWait(id);
                    return;
                }
                None => protocol::error(&format!("no such exec: {id}"), 125),
            },
            Request::Shutdown => {
                self.shutdown.get_or_insert_with(Instant::now);
                if self.status == Status::Created && self.exit.is_none() {
                    // Never started: nothing of the user's runs yet.
                    let _ = kill(self.init_pid, libc::SIGKILL);
                }
                protocol::ok(json!({}))
            }
        };
        self.conns[i].reply(answer);
    }

    fn start(&mut self) -> Vec<u8> {
        if self.exit.is_some() {
            return protocol::error("container has exited", 125);
        }
        if self.status != Status::Created || self.start_error.is_some() {
            return protocol::error("container already started", 125);
        }
        match self.rt.start() {
            Ok(()) => {
                self.started_at = Some(SystemTime::now());
                if self.exit.is_none() {
                    self.status = Status::Running;
                }
                protocol::ok(json!({}))
            }
            Err(e) => {
                self.start_error = Some(e.message.clone());
                protocol::error(&e.message, e.code())
            }
        }
    }

    fn kill(&mut self, signal: i32, all: bool) -> Vec<u8> {
        if !(1..=64).contains(&signal) {
            return protocol::error(&format!("invalid signal: {signal}"), 125);
        }
        let result = if all {
            self.rt.kill_all(signal).map_err(|e| e.message)
        } else if self.exit.is_some() {
            return protocol::error("container is not running", 125);
        } else {
            kill(self.init_pid, signal).map_err(|e| e.to_string())
        };
        // A frozen process cannot die: thaw after SIGKILL, as Docker does.
        if result.is_ok() && signal == libc::SIGKILL && self.status == Status::Paused {
            let _ = self.rt.resume();
            if self.exit.is_none() {
                self.status = Status::Running;
            }
        }
        match result {
            Ok(()) => protocol::ok(json!({})),
            Err(message) => protocol::error(&message, 125),
        }
    }

    fn state(&self) -> Value {
        let exit = self.exit.as_ref();
        json!({
            "status": self.status.name(),
            "pid": self.init_pid,
            "exit_code": exit.map_or(0, |e| e.exit_code),
            "oom_killed": exit.is_some_and(|e| e.oom_killed),
            "started_at": self.started_at.map(|t| rfc3339(t, Fraction::Fixed)),
            "finished_at": exit.map(|e| e.finished_at.clone()),
            "error": exit.map(|e| e.error.clone()).or_else(|| self.start_error.clone()).unwrap_or_default(),
        })
    }

    fn output_readable(&mut self, owner: Owner, i: usize) {
        let mut buf = std::mem::take(&mut self.buf);
        let mut budget = READ_BUDGET;
        while budget > 0 {
            let io = self.owner_io(owner);
            // An exec slot may have been reused since the poll: guard.
            let Some(Some(out)) = io.outputs.get(i) else { break };
            let stream = out.stream;
            match stdio::read(out.fd.as_fd(), &mut buf) {
                Read::Data(n) => {
                    budget = budget.saturating_sub(n);
                    self.dispatch(owner, stream, &buf[..n]);
                }
                Read::WouldBlock => break,
                Read::Eof => {
                    io.outputs[i] = None;
                    if owner == Owner::Init {
                        self.logs.finish(stream);
                    }
                    break;
                }
            }
        }
        self.buf = buf;
    }

    /// Reads what each of `owner`'s outputs holds now, without waiting.
    fn take_output(&mut self, owner: Owner) {
        let outputs = self.owner_io(owner).outputs.len();
        for i in 0..outputs {
            self.output_readable(owner, i);
        }
    }

    /// Output of a process: to the log (the init's), and to each client
    /// streaming it, framed unless the process has a tty.
    fn dispatch(&mut self, owner: Owner, stream: Stream, data: &[u8]) {
        let (target, tty) = match owner {
            Owner::Init => {
                self.logs.write(stream, data);
                (Target::Init, self.tty)
            }
            Owner::Exec(i) => (Target::Exec(self.execs[i].id.clone()), self.execs[i].tty),
        };
        if !self.conns.iter().any(|c| c.streams(&target, stream)) {
            return;
        }
        let bytes: &[u8] = if tty {
            data
        } else {
            self.frame.clear();
            self.frame.extend_from_slice(&frame_header(stream, data.len()));
            self.frame.extend_from_slice(data);
            &self.frame
        };
        for c in &mut self.conns {
            if c.streams(&target, stream) {
                c.send(bytes);
            }
        }
    }

    /// Reaps every child that exited: the init, execs, and orphans the
    /// shim inherited as subreaper.
    fn reap(&mut self) {
        loop {
            // wait(2), i.e. waitpid(-1): any child, whatever its process
            // group (rustix's `waitpid(None)` is waitpid(0), the caller's
            // group only, which containers have left).
            match wait(WaitOptions::NOHANG) {
                Ok(Some((pid, status))) => {
                    let pid = pid.as_raw_nonzero().get();
                    let code = exit_code(status);
                    if pid == self.init_pid && self.exit.is_none() {
                        self.init_exited(code);
                    } else if let Some(e) =
                        self.execs.iter_mut().find(|e| e.pid == pid && e.exit_code.is_none())
                    {
                        e.exit_code = Some(code);
                        e.io.exited_at = Some(Instant::now());
                        e.io.stdin = None;
                        let answer = protocol::ok(e.state());
                        for c in &mut self.conns {
                            if matches!(&c.mode, Mode::ExecWait(id) if *id == e.id) {
                                c.reply(answer.clone());
                            }
                        }
                    }
                }
                Ok(None) => return,
                Err(Errno::INTR) => {}
                Err(_) => return,
            }
        }
    }

    fn init_exited(&mut self, code: i32) {
        let now = SystemTime::now();
        self.status = Status::Exited;
        self.init.exited_at = Some(Instant::now());
        self.init.stdin = None;
        // Whatever the init wrote before it exited is in the pipes now: log
        // it before the exit is known, so that a reader who sees the exit
        // (`logs -f` ends on it) also sees every line.
        self.take_output(Owner::Init);
        let oom = self.rt.oom_killed();
        let exit = ExitInfo::new(code, oom, now, self.start_error.clone().unwrap_or_default());
        // The daemon learns the exit from this file if it is not connected;
        // if it cannot be written the waiters below still get the status.
        let _ = exit.write(&self.bundle);
        let answer = wait_answer(&exit);
        self.exit = Some(exit);
        for c in &mut self.conns {
            if matches!(c.mode, Mode::Wait) {
                c.reply(answer.clone());
            }
        }
    }

    /// Ends output streams whose process is done, and drops dead clients.
    fn housekeeping(&mut self) {
        let now = Instant::now();
        let mut newly_done = Vec::new();
        let owners: Vec<Owner> =
            std::iter::once(Owner::Init).chain((0..self.execs.len()).map(Owner::Exec)).collect();
        for owner in owners {
            let io = self.owner_io(owner);
            let Some(exited_at) = io.exited_at else { continue };
            if io.done {
                continue;
            }
            if io.all_closed() {
                io.done = true;
            } else if now >= exited_at + EXIT_GRACE {
                // Orphans hold the outputs open: take what is there and end
                // the clients' streams; the log keeps reading.
                self.take_output(owner);
                if owner == Owner::Init {
                    self.logs.finish(Stream::Stdout);
                    self.logs.finish(Stream::Stderr);
                }
                self.owner_io(owner).done = true;
            } else {
                continue;
            }
            newly_done.push(match owner {
                Owner::Init => Target::Init,
                Owner::Exec(i) => Target::Exec(self.execs[i].id.clone()),
            });
        }
        for target in newly_done {
            for c in &mut self.conns {
                if matches!(&c.mode, Mode::Stream { target: t, .. } if *t == target) {
                    c.close_when_flushed = true;
                    c.flush();
                }
            }
        }
        // An attach to a container whose output already ended.
        for c in &mut self.conns {
            if let Mode::Stream { target, .. } = &c.mode
                && !c.close_when_flushed
            {
                let done = match target {
                    Target::Init => self.init.done,
                    Target::Exec(id) => self.execs.iter().find(|e| &e.id == id).is_none_or(|e| e.finished()),
                };
                if done {
                    c.close_when_flushed = true;
                    c.flush();
                }
            }
        }
        let mut scratch = std::mem::take(&mut self.buf);
        self.conns.retain(|c| {
            if c.dead {
                c.discard_input(&mut scratch);
            }
            !c.dead
        });
        self.buf = scratch;
        let conns = &self.conns;
        exec::prune(&mut self.execs, |id| {
            conns.iter().any(|c| matches!(&c.mode, Mode::Stream { target: Target::Exec(t), .. } if t == id))
        });
    }

    fn timeout(&self) -> Option<Duration> {
        let now = Instant::now();
        let mut deadline: Option<Instant> = None;
        let mut consider = |t: Instant| deadline = Some(deadline.map_or(t, |d| d.min(t)));
        for io in std::iter::once(&self.init).chain(self.execs.iter().map(|e| &e.io)) {
            if let Some(at) = io.exited_at
                && !io.done
            {
                consider(at + EXIT_GRACE);
            }
        }
        if let Some(at) = self.trim_at {
            consider(at);
        }
        if let Some(at) = self.shutdown
            && self.exit.is_some()
            && self.init.done
        {
            consider(at + SHUTDOWN_FLUSH);
        }
        deadline.map(|d| d.saturating_duration_since(now))
    }

    /// After `shutdown`: the container has exited, its output is out, and
    /// the clients have their bytes (or had their chance).
    fn finished(&self) -> bool {
        let Some(asked) = self.shutdown else { return false };
        self.exit.is_some()
            && self.init.done
            && (self.conns.iter().all(|c| c.pending() == 0) || asked.elapsed() >= SHUTDOWN_FLUSH)
    }
}

fn wait_answer(exit: &ExitInfo) -> Vec<u8> {
    protocol::ok(json!({
        "exit_code": exit.exit_code,
        "oom_killed": exit.oom_killed,
        "finished_at": exit.finished_at,
        "error": exit.error,
    }))
}

fn kill(pid: i32, signal: i32) -> std::io::Result<()> {
    // SAFETY: kill(2) takes plain integers; a bad signal fails with EINVAL.
    // (libc rather than rustix: containers may be sent any signal,
    // real-time ones included.)
    if unsafe { libc::kill(pid, signal) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
