//! Running containers from the CLI: `run`, `start`, `attach`, `wait`,
//! `logs`, `stop`, `kill`, `restart`, with docker's streams and exit codes.

use std::io::{IsTerminal, Write};

use api::client::{Client, ClientError};
use http_body_util::BodyExt;
use hyper::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::containers::{RunFlags, create_container};
use super::images::enc;
use super::{CmdResult, Failure};

#[derive(Debug, clap::Args)]
#[command(disable_help_flag = true)]
pub struct RunOpts {
    /// Run container in background and print container ID
    #[arg(short, long)]
    detach: bool,
    /// Attach to STDIN, STDOUT or STDERR
    #[arg(short, long)]
    attach: Vec<String>,
    /// Proxy received signals to the process
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    sig_proxy: bool,
    /// Override the key sequence for detaching a container
    #[arg(long)]
    detach_keys: Option<String>,
    #[command(flatten)]
    flags: RunFlags,
}

/// The exit code docker gives when a container's process cannot be started.
fn start_failure_code(message: &str) -> u8 {
    if message.contains("executable file not found") || message.contains("no such file or directory") {
        127
    } else if message.contains("permission denied") {
        126
    } else {
        125
    }
}

/// Writes a container's output stream to this process's stdout and stderr:
/// raw with a tty, else split by the 8-byte multiplexing frame headers
/// (stream id, three zero bytes, big-endian length), which may arrive cut
/// anywhere.
struct Demux {
    tty: bool,
    pending: Vec<u8>,
}

impl Demux {
    fn new(tty: bool) -> Self {
        Self { tty, pending: Vec::new() }
    }

    fn feed(&mut self, data: &[u8]) -> std::io::Result<()> {
        if self.tty {
            let mut out = std::io::stdout().lock();
            out.write_all(data)?;
            return out.flush();
        }
        self.pending.extend_from_slice(data);
        let mut at = 0;
        while self.pending.len() - at >= 8 {
            let h = &self.pending[at..at + 8];
            let len = u32::from_be_bytes([h[4], h[5], h[6], h[7]]) as usize;
            if self.pending.len() - at - 8 < len {
                break;
            }
            let payload = &self.pending[at + 8..at + 8 + len];
            if h[0] == 2 {
                let mut e = std::io::stderr().lock();
                e.write_all(payload)?;
                e.flush()?;
            } else {
                let mut o = std::io::stdout().lock();
                o.write_all(payload)?;
                o.flush()?;
            }
            at += 8 + len;
        }
        self.pending.drain(..at);
        Ok(())
    }
}

/// Copies a container's output stream until it ends.
async fn pump_output<R: tokio::io::AsyncRead + Unpin>(mut r: R, tty: bool) -> std::io::Result<()> {
    let mut demux = Demux::new(tty);
    let mut buf = vec![0u8; 32 << 10];
    loop {
        let n = r.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        demux.feed(&buf[..n])?;
    }
}

/// Puts the terminal on stdin in raw mode while attached to a tty container.
struct RawTerminal(Option<rustix::termios::Termios>);

impl RawTerminal {
    fn enter(tty: bool) -> Self {
        let stdin = std::io::stdin();
        if !tty || !stdin.is_terminal() {
            return Self(None);
        }
        let Ok(saved) = rustix::termios::tcgetattr(&stdin) else { return Self(None) };
        let mut raw = saved.clone();
        raw.make_raw();
        let _ = rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &raw);
        Self(Some(saved))
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        if let Some(saved) = &self.0 {
            let _ =
                rustix::termios::tcsetattr(std::io::stdin(), rustix::termios::OptionalActions::Now, saved);
        }
    }
}

/// Joins this terminal to a hijacked attach stream until the container's
/// output ends. Stdin is forwarded when asked, and half-closed at its end.
async fn attach_io(
    stream: impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
    tty: bool,
    stdin: bool,
) -> std::io::Result<()> {
    let (r, mut w) = tokio::io::split(stream);
    let _raw = RawTerminal::enter(tty && stdin);
    if stdin {
        tokio::spawn(async move {
            let mut input = tokio::io::stdin();
            let _ = tokio::io::copy(&mut input, &mut w).await;
            let _ = w.shutdown().await;
        });
    } else {
        // Like docker: without -i the write side is closed at once.
        let _ = w.shutdown().await;
    }
    pump_output(r, tty).await
}

fn attach_path(id: &str, stdin: bool, stdout: bool, stderr: bool, detach_keys: Option<&str>) -> String {
    let keys = detach_keys.map(|k| format!("&detachKeys={}", enc(k))).unwrap_or_default();
    format!(
        "/containers/{id}/attach?stream=1&stdin={}&stdout={}&stderr={}{keys}",
        stdin as u8, stdout as u8, stderr as u8
    )
}

/// Keeps the container's (or exec's) tty the size of this terminal: once at
/// start, then on every SIGWINCH, until the returned task is aborted.
fn follow_window_size(client: &Client, resize_path: String) -> tokio::task::JoinHandle<()> {
    let client = client.clone();
    tokio::spawn(async move {
        let Ok(mut winch) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())
        else {
            return;
        };
        loop {
            if let Ok(ws) = rustix::termios::tcgetwinsize(std::io::stdout()) {
                let path = format!("{resize_path}?h={}&w={}", ws.ws_row, ws.ws_col);
                let _ = client.request(Method::POST, &path, api::client::empty(), None).await;
            }
            if winch.recv().await.is_none() {
                return;
            }
        }
    })
}

/// Forwards the signals this CLI receives to the container (`--sig-proxy`),
/// until the returned task is aborted.
fn proxy_signals(client: &Client, id: &str) -> tokio::task::JoinHandle<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let client = client.clone();
    let id = id.to_string();
    tokio::spawn(async move {
        let kinds = [
            SignalKind::interrupt(),
            SignalKind::terminate(),
            SignalKind::hangup(),
            SignalKind::quit(),
            SignalKind::user_defined1(),
            SignalKind::user_defined2(),
        ];
        let (tx, mut rx) = tokio::sync::mpsc::channel(8);
        for k in kinds {
            let Ok(mut s) = signal(k) else { continue };
            let tx = tx.clone();
            tokio::spawn(async move {
                while s.recv().await.is_some() {
                    if tx.send(k.as_raw_value()).await.is_err() {
                        return;
                    }
                }
            });
        }
        while let Some(signo) = rx.recv().await {
            let _ = client
                .request(
                    Method::POST,
                    &format!("/containers/{id}/kill?signal={signo}"),
                    api::client::empty(),
                    None,
                )
                .await;
        }
    })
}

/// `POST /wait`: the exit code, once the condition holds.
async fn wait_for(client: &Client, id: &str, condition: &str) -> Result<i64, Failure> {
    let resp = client
        .request(
            Method::POST,
            &format!("/containers/{}/wait?condition={condition}", enc(id)),
            api::client::empty(),
            None,
        )
        .await?;
    let v = api::client::read_json(resp).await?;
    if let Some(m) = v["Error"]["Message"].as_str() {
        return Err(Failure { message: format!("Error waiting for container: {m}"), code: 125 });
    }
    Ok(v["StatusCode"].as_i64().unwrap_or(125))
}

async fn start_request(client: &Client, id: &str) -> Result<(), Failure> {
    match client
        .request(Method::POST, &format!("/containers/{}/start", enc(id)), api::client::empty(), None)
        .await
    {
        Ok(_) => Ok(()),
        Err(ClientError::Daemon { status, .. }) if status == 304 => Ok(()),
        Err(e) => {
            let message = e.to_string();
            Err(Failure { code: start_failure_code(&message), message })
        }
    }
}

pub async fn run(client: &Client, o: RunOpts) -> CmdResult {
    let flags = &o.flags;
    let id = create_container(client, flags).await?;
    let tty = flags.tty;
    if o.detach {
        start_request(client, &id).await?;
        println!("{id}");
        return Ok(());
    }
    let streams: Vec<&str> = o.attach.iter().map(String::as_str).collect();
    let want = |s: &str| streams.is_empty() || streams.iter().any(|x| x.eq_ignore_ascii_case(s));
    let stdin = flags.interactive && (streams.is_empty() || want("stdin"));
    let attached = client
        .hijack(
            Method::POST,
            &attach_path(&id, stdin, want("stdout"), want("stderr"), o.detach_keys.as_deref()),
            api::client::empty(),
        )
        .await?;
    // With a tty, signals reach the container through the terminal instead.
    let proxy = (o.sig_proxy && !tty).then(|| proxy_signals(client, &id));
    let condition = if flags.rm { "removed" } else { "next-exit" };
    let waiter = {
        let client = client.clone();
        let id = id.clone();
        tokio::spawn(async move { wait_for(&client, &id, condition).await })
    };
    let output = tokio::spawn(attach_io(attached, tty, stdin));
    if let Err(f) = start_request(client, &id).await {
        output.abort();
        waiter.abort();
        return Err(f);
    }
    let resizer = (tty && std::io::stdout().is_terminal())
        .then(|| follow_window_size(client, format!("/containers/{id}/resize")));
    let _ = output.await;
    if let Some(r) = resizer {
        r.abort();
    }
    let code = waiter.await.map_err(|e| Failure { message: e.to_string(), code: 125 })??;
    if let Some(p) = proxy {
        p.abort();
    }
    if code == 0 { Ok(()) } else { Err(Failure { message: String::new(), code: code.clamp(0, 255) as u8 }) }
}

#[derive(Debug, clap::Args)]
pub struct StartOpts {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short, long)]
    attach: bool,
    /// Attach container's STDIN
    #[arg(short, long)]
    interactive: bool,
    #[arg(required = true)]
    containers: Vec<String>,
}

async fn inspect(client: &Client, name: &str) -> Result<serde_json::Value, Failure> {
    Ok(client.get_json(&format!("/containers/{}/json", enc(name))).await?)
}

pub async fn start(client: &Client, o: StartOpts) -> CmdResult {
    if o.attach || o.interactive {
        if o.containers.len() > 1 {
            return Err(Failure {
                message: "you cannot start and attach multiple containers at once".into(),
                code: 1,
            });
        }
        let c = inspect(client, &o.containers[0]).await?;
        let id = c["Id"].as_str().unwrap_or_default().to_string();
        let tty = c["Config"]["Tty"].as_bool().unwrap_or(false);
        let stdin = o.interactive && c["Config"]["OpenStdin"].as_bool().unwrap_or(false);
        let attached = client
            .hijack(Method::POST, &attach_path(&id, stdin, true, true, None), api::client::empty())
            .await?;
        let waiter = {
            let client = client.clone();
            let id = id.clone();
            tokio::spawn(async move { wait_for(&client, &id, "next-exit").await })
        };
        let output = tokio::spawn(attach_io(attached, tty, stdin));
        start_request(client, &id).await?;
        let _ = output.await;
        let code = waiter.await.map_err(|e| Failure { message: e.to_string(), code: 1 })??;
        return if code == 0 {
            Ok(())
        } else {
            Err(Failure { message: String::new(), code: code.clamp(0, 255) as u8 })
        };
    }
    let mut failed = Vec::new();
    for c in &o.containers {
        match start_request(client, c).await {
            Ok(()) => println!("{c}"),
            Err(f) => failed.push(f.message),
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Failure {
            message: format!(
                "{}\nError: failed to start containers: {}",
                failed.join("\n"),
                o.containers.join(", ")
            ),
            code: 1,
        })
    }
}

#[derive(Debug, clap::Args)]
pub struct AttachOpts {
    /// Do not attach STDIN
    #[arg(long)]
    no_stdin: bool,
    /// Proxy all received signals to the process
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    sig_proxy: bool,
    /// Override the key sequence for detaching a container
    #[arg(long)]
    detach_keys: Option<String>,
    container: String,
}

pub async fn attach(client: &Client, o: AttachOpts) -> CmdResult {
    let c = inspect(client, &o.container).await?;
    let id = c["Id"].as_str().unwrap_or_default().to_string();
    if !c["State"]["Running"].as_bool().unwrap_or(false) {
        return Err(Failure {
            message: "You cannot attach to a stopped container, start it first".into(),
            code: 1,
        });
    }
    let tty = c["Config"]["Tty"].as_bool().unwrap_or(false);
    let stdin = !o.no_stdin && c["Config"]["OpenStdin"].as_bool().unwrap_or(false);
    let attached = client
        .hijack(
            Method::POST,
            &attach_path(&id, stdin, true, true, o.detach_keys.as_deref()),
            api::client::empty(),
        )
        .await?;
    let proxy = (o.sig_proxy && !tty).then(|| proxy_signals(client, &id));
    attach_io(attached, tty, stdin).await?;
    if let Some(p) = proxy {
        p.abort();
    }
    let after = inspect(client, &id).await?;
    let code = if after["State"]["Running"].as_bool().unwrap_or(false) {
        0
    } else {
        after["State"]["ExitCode"].as_i64().unwrap_or(0)
    };
    if code == 0 { Ok(()) } else { Err(Failure { message: String::new(), code: code.clamp(0, 255) as u8 }) }
}

#[derive(Debug, clap::Args)]
pub struct WaitOpts {
    #[arg(required = true)]
    containers: Vec<String>,
}

pub async fn wait(client: &Client, o: WaitOpts) -> CmdResult {
    let mut failed = Vec::new();
    for c in &o.containers {
        match wait_for(client, c, "not-running").await {
            Ok(code) => println!("{code}"),
            Err(f) => failed.push(f.message),
        }
    }
    if failed.is_empty() { Ok(()) } else { Err(Failure { message: failed.join("\n"), code: 1 }) }
}

#[derive(Debug, clap::Args)]
pub struct LogsOpts {
    /// Follow log output
    #[arg(short, long)]
    follow: bool,
    /// Number of lines to show from the end of the logs
    #[arg(short = 'n', long, default_value = "all")]
    tail: String,
    /// Show timestamps
    #[arg(short, long)]
    timestamps: bool,
    /// Show logs since timestamp or relative (e.g. 42m for 42 minutes)
    #[arg(long)]
    since: Option<String>,
    /// Show logs before a timestamp or relative (e.g. 42m for 42 minutes)
    #[arg(long)]
    until: Option<String>,
    /// Show extra details provided to logs
    #[arg(long)]
    details: bool,
    container: String,
}

fn time_arg(v: &str) -> Result<String, Failure> {
    if v.parse::<f64>().is_ok() {
        return Ok(v.to_string());
    }
    engine::images::parse_until(v)
        .map(|t| t.to_string())
        .map_err(|e| Failure { message: e.to_string(), code: 1 })
}

pub async fn logs(client: &Client, o: LogsOpts) -> CmdResult {
    let c = inspect(client, &o.container).await?;
    let id = c["Id"].as_str().unwrap_or_default();
    let tty = c["Config"]["Tty"].as_bool().unwrap_or(false);
    let mut q = format!("stdout=1&stderr=1&tail={}", enc(&o.tail));
    if o.follow {
        q.push_str("&follow=1");
    }
    if o.timestamps {
        q.push_str("&timestamps=1");
    }
    if let Some(s) = &o.since {
        q.push_str(&format!("&since={}", time_arg(s)?));
    }
    if let Some(u) = &o.until {
        q.push_str(&format!("&until={}", time_arg(u)?));
    }
    let resp = client
        .request(Method::GET, &format!("/containers/{id}/logs?{q}"), api::client::empty(), None)
        .await?;
    let mut body = resp.into_body();
    let mut demux = Demux::new(tty);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| e.to_string())?;
        if let Ok(d) = frame.into_data() {
            demux.feed(&d)?;
        }
    }
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct StopOpts {
    /// Seconds to wait before killing the container
    #[arg(short, long)]
    time: Option<i64>,
    /// Signal to send to the container
    #[arg(short, long)]
    signal: Option<String>,
    #[arg(required = true)]
    containers: Vec<String>,
}

async fn each(containers: &[String], mut f: impl AsyncFnMut(&str) -> Result<(), ClientError>) -> CmdResult {
    let mut failed = Vec::new();
    for c in containers {
        match f(c).await {
            Ok(()) => println!("{c}"),
            Err(e) => failed.push(e.to_string()),
        }
    }
    if failed.is_empty() { Ok(()) } else { Err(Failure { message: failed.join("\n"), code: 1 }) }
}

pub async fn stop(client: &Client, o: StopOpts) -> CmdResult {
    each(&o.containers, async |c| {
        let mut q = String::new();
        if let Some(t) = o.time {
            q.push_str(&format!("t={t}&"));
        }
        if let Some(s) = &o.signal {
            q.push_str(&format!("signal={}", enc(s)));
        }
        match client
            .request(Method::POST, &format!("/containers/{}/stop?{q}", enc(c)), api::client::empty(), None)
            .await
        {
            Ok(_) => Ok(()),
            Err(ClientError::Daemon { status, .. }) if status == 304 => Ok(()),
            Err(e) => Err(e),
        }
    })
    .await
}

pub async fn restart(client: &Client, o: StopOpts) -> CmdResult {
    each(&o.containers, async |c| {
        let q = o.time.map(|t| format!("t={t}")).unwrap_or_default();
        client
            .request(Method::POST, &format!("/containers/{}/restart?{q}", enc(c)), api::client::empty(), None)
            .await
            .map(|_| ())
    })
    .await
}

#[derive(Debug, clap::Args)]
pub struct KillOpts {
    /// Signal to send to the container
    #[arg(short, long, default_value = "KILL")]
    signal: String,
    #[arg(required = true)]
    containers: Vec<String>,
}

pub async fn kill(client: &Client, o: KillOpts) -> CmdResult {
    each(&o.containers, async |c| {
        client
            .request(
                Method::POST,
                &format!("/containers/{}/kill?signal={}", enc(c), enc(&o.signal)),
                api::client::empty(),
                None,
            )
            .await
            .map(|_| ())
    })
    .await
}

#[derive(Debug, clap::Args)]
pub struct ExecOpts {
    /// Detached mode: run command in the background
    #[arg(short, long)]
    detach: bool,
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    tty: bool,
    /// Set environment variables
    #[arg(short, long = "env")]
    env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long)]
    env_file: Vec<std::path::PathBuf>,
    /// Username or UID (format: "<name|uid>[:<group|gid>]")
    #[arg(short, long)]
    user: Option<String>,
    /// Working directory inside the container
    #[arg(short, long)]
    workdir: Option<String>,
    /// Give extended privileges to the command
    #[arg(long)]
    privileged: bool,
    /// Override the key sequence for detaching a container
    #[arg(long)]
    detach_keys: Option<String>,
    container: String,
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

pub async fn exec(client: &Client, o: ExecOpts) -> CmdResult {
    let c = inspect(client, &o.container).await?;
    let id = c["Id"].as_str().unwrap_or_default().to_string();
    let mut env = Vec::new();
    for f in &o.env_file {
        env.extend(super::containers::key_value_file(f)?);
    }
    env.extend(o.env.iter().cloned());
    let body = serde_json::json!({
        "User": o.user.clone().unwrap_or_default(),
        "Privileged": o.privileged,
        "Tty": o.tty,
        "ConsoleSize": super::containers::console_size(o.tty),
        "AttachStdin": o.interactive && !o.detach,
        "AttachStdout": !o.detach,
        "AttachStderr": !o.detach,
        "Detach": o.detach,
        "DetachKeys": o.detach_keys.clone().unwrap_or_default(),
        "Env": env,
        "WorkingDir": o.workdir.clone().unwrap_or_default(),
        "Cmd": o.command,
    });
    let resp = client
        .request(
            Method::POST,
            &format!("/containers/{id}/exec"),
            api::client::full(serde_json::to_vec(&body).expect("json")),
            Some("application/json"),
        )
        .await?;
    let exec_id = api::client::read_json(resp).await?["Id"].as_str().unwrap_or_default().to_string();
    let start = serde_json::to_vec(&serde_json::json!({"Detach": o.detach, "Tty": o.tty})).expect("json");
    if o.detach {
        client
            .request(
                Method::POST,
                &format!("/exec/{exec_id}/start"),
                api::client::full(start),
                Some("application/json"),
            )
            .await?;
        return Ok(());
    }
    let stream =
        client.hijack(Method::POST, &format!("/exec/{exec_id}/start"), api::client::full(start)).await?;
    let resizer = (o.tty && std::io::stdout().is_terminal())
        .then(|| follow_window_size(client, format!("/exec/{exec_id}/resize")));
    attach_io(stream, o.tty, o.interactive).await?;
    if let Some(r) = resizer {
        r.abort();
    }
    let v = client.get_json(&format!("/exec/{exec_id}/json")).await?;
    let code = v["ExitCode"].as_i64().unwrap_or(0);
    if code == 0 { Ok(()) } else { Err(Failure { message: String::new(), code: code.clamp(0, 255) as u8 }) }
}
