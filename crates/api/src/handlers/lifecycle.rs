//! Running containers: start, stop, restart, kill, wait, attach (hijacked
//! connections) and logs.

use bytes::Bytes;
use engine::containers::lifecycle::WaitCondition;
use engine::containers::logs::{self, LogOptions, LogReader, Stream};
use engine::containers::shim_client::ShimStream;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use serde_json::json;

use crate::ApiError;
use crate::body::ChannelBody;
use crate::hijack::take_over;
use crate::server::{Ctx, HandlerResult, Query, ResBody, full, streamed};

fn no_content() -> Response<ResBody> {
    full(StatusCode::NO_CONTENT, "text/plain; charset=utf-8", Bytes::new())
}

pub(crate) async fn start(ctx: &Ctx, name: &str) -> HandlerResult {
    ctx.engine.start_container(name).await?;
    Ok(no_content())
}

fn timeout(q: &Query) -> Result<Option<i64>, ApiError> {
    q.get("t")
        .or_else(|| q.get("timeout"))
        .map(|t| t.parse::<i64>().map_err(|_| ApiError::bad_request(format!("invalid value for t: {t}"))))
        .transpose()
}

pub(crate) async fn stop(ctx: &Ctx, name: &str, q: &Query) -> HandlerResult {
    ctx.engine.stop_container(name, timeout(q)?).await?;
    Ok(no_content())
}

pub(crate) async fn restart(ctx: &Ctx, name: &str, q: &Query) -> HandlerResult {
    ctx.engine.restart_container(name, timeout(q)?).await?;
    Ok(no_content())
}

pub(crate) async fn kill(ctx: &Ctx, name: &str, q: &Query) -> HandlerResult {
    ctx.engine.kill_container(name, q.get("signal").filter(|s| !s.is_empty()).unwrap_or("SIGKILL")).await?;
    Ok(no_content())
}

/// `POST /containers/{id}/wait`: headers at once, the body when the
/// condition holds (the docker CLI sends it before `start`).
pub(crate) async fn wait(ctx: &Ctx, name: &str, q: &Query) -> HandlerResult {
    let condition = WaitCondition::parse(q.str("condition"))?;
    ctx.engine.container(name)?;
    let (tx, body) = ChannelBody::new(1);
    let engine = ctx.engine.clone();
    let name = name.to_string();
    tokio::spawn(async move {
        let result = tokio::select! {
            r = engine.wait_container(&name, condition) => r,
            // The client went away (the docker CLI does after a failed start).
            _ = tx.closed() => return,
        };
        let v = match result {
            // A start that failed left its error in the state: Docker's wait says it.
            Ok(code) => match engine.container(&name).map(|c| c.state.error) {
                Ok(error) if !error.is_empty() => json!({"StatusCode": code, "Error": {"Message": error}}),
                _ => json!({"StatusCode": code, "Error": null}),
            },
            Err(e) => json!({"StatusCode": -1, "Error": {"Message": e.to_string()}}),
        };
        let mut line = serde_json::to_vec(&v).expect("json");
        line.push(b'\n');
        let _ = tx.send(Ok(Bytes::from(line))).await;
    });
    Ok(streamed("application/json", body))
}

/// The detach keys watched for in a client's input: as Docker, only with a
/// tty; without one, input is data (a binary upload may hold ctrl-p ctrl-q)
/// and none are (an empty sequence never matches).
fn detach_keys(tty: bool, asked: &str) -> Result<Vec<u8>, ApiError> {
    let keys = crate::detach::parse(asked)?;
    Ok(if tty { keys } else { Vec::new() })
}

/// `POST /containers/{id}/attach`: answers `101 UPGRADED` (or, for old
/// clients that do not ask to upgrade, `200`) and then joins the client's
/// connection to the container's stream from its shim.
pub(crate) async fn attach(ctx: &Ctx, name: &str, req: Request<Incoming>) -> HandlerResult {
    let q = Query::of(&req);
    let c = ctx.engine.container(name)?;
    let (stdin, stdout, stderr) = (q.bool("stdin"), q.bool("stdout"), q.bool("stderr"));
    let keys = detach_keys(c.config.tty, q.str("detachKeys"))?;
    let upgrade = req.headers().get(header::UPGRADE).is_some();
    let history = if q.bool("logs") { attach_history(ctx, &c, stdout, stderr).await? } else { Vec::new() };
    let tty = c.config.tty;
    let attached = Attaching::register(ctx, &c, q.bool("stream"), (stdin, stdout, stderr))?;
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let Some(mut client) = take_over(req).await else { return };
        for r in &history {
            if client.write_all(&frame(r.stream, r.log.as_bytes(), tty)).await.is_err() {
                return;
            }
        }
        let Some(attached) = attached else {
            let _ = client.shutdown().await;
            return;
        };
        if let Some(shim) = attached.stream().await {
            join_attached(client, shim.stream, stdin.then_some(keys)).await
        }
    });
    let mut resp = full(
        if upgrade { StatusCode::SWITCHING_PROTOCOLS } else { StatusCode::OK },
        "application/vnd.docker.raw-stream",
        Bytes::new(),
    );
    if upgrade {
        resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        resp.headers_mut().insert(header::UPGRADE, HeaderValue::from_static("tcp"));
    }
    Ok(resp)
}

/// An attach connecting to the container's shim in a task of its own, from
/// the moment it is registered: a start waits for it, and must not wait for
/// the client to read our answer. Aborted if dropped (the client is gone).
struct Attaching(tokio::task::JoinHandle<engine::Result<ShimStream>>);

impl Attaching {
    /// Registers the attach to `c`'s (stdin, stdout, stderr) when the client
    /// asked to `stream`, and starts connecting it.
    fn register(
        ctx: &Ctx,
        c: &engine::containers::Container,
        stream: bool,
        (stdin, stdout, stderr): (bool, bool, bool),
    ) -> Result<Option<Attaching>, ApiError> {
        if !stream {
            return Ok(None);
        }
        // Like Docker, a client's end of input closes the container's stdin
        // only for a StdinOnce container without a tty.
        let stdin_once = c.config.stdin_once && !c.config.tty;
        let attach = ctx.engine.attach_container(&c.id, stdin, stdout, stderr, stdin_once)?;
        Ok(Some(Attaching(tokio::spawn(attach))))
    }

    async fn stream(mut self) -> Option<ShimStream> {
        match (&mut self.0).await {
            Ok(Ok(shim)) => Some(shim),
            Ok(Err(e)) => {
                tracing::debug!("attach: {e}");
                None
            }
            Err(_) => None,
        }
    }
}

impl Drop for Attaching {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What the container wrote before an attach that asks for `logs`.
async fn attach_history(
    ctx: &Ctx,
    c: &engine::containers::Container,
    stdout: bool,
    stderr: bool,
) -> Result<Vec<logs::Record>, ApiError> {
    if c.host_config.log_config.kind == "none" {
        return Ok(Vec::new());
    }
    let path = ctx.engine.log_path(&c.id);
    let opts = LogOptions { stdout, stderr, since_nano: None, until_nano: None, tail: None };
    ctx.blocking(move |_| {
        LogReader::open(&path)
            .and_then(|mut logs| logs.read(&opts))
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
    })
    .await
}

/// `GET /containers/{id}/attach/ws`: the same attach over a websocket, as
/// browsers and some SDKs use it. Output arrives as binary messages without
/// stream headers (Docker's behaviour); messages from the client are stdin.
pub(crate) async fn attach_websocket(ctx: &Ctx, name: &str, req: Request<Incoming>) -> HandlerResult {
    let q = Query::of(&req);
    let c = ctx.engine.container(name)?;
    let headers = req.headers();
    let wants_websocket = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let key = headers.get(header::SEC_WEBSOCKET_KEY).and_then(|v| v.to_str().ok());
    let (true, Some(key)) = (wants_websocket, key) else {
        return Err(ApiError::bad_request(
            "a websocket upgrade (Upgrade: websocket, Sec-WebSocket-Key) is required",
        ));
    };
    if headers.get(header::SEC_WEBSOCKET_VERSION).is_some_and(|v| v != crate::websocket::VERSION) {
        let mut resp = crate::server::json_status(
            StatusCode::UPGRADE_REQUIRED,
            &json!({"message": "unsupported websocket version: this server speaks version 13"}),
        );
        resp.headers_mut()
            .insert(header::SEC_WEBSOCKET_VERSION, HeaderValue::from_static(crate::websocket::VERSION));
        return Ok(resp);
    }
    let accept = crate::websocket::accept_key(key);
    // Before API 1.42 Docker attached every stream whatever was asked.
    let (stdin, stdout, stderr) = if ctx.version < (1, 42) {
        (true, true, true)
    } else {
        (q.bool("stdin"), q.bool("stdout"), q.bool("stderr"))
    };
    let keys = detach_keys(c.config.tty, q.str("detachKeys"))?;
    let history = if q.bool("logs") {
        attach_history(ctx, &c, stdout, stderr).await?.into_iter().map(|r| r.log.into_bytes()).collect()
    } else {
        Vec::new()
    };
    let multiplexed = !c.config.tty;
    let attached = Attaching::register(ctx, &c, q.bool("stream"), (stdin, stdout, stderr))?;
    tokio::spawn(async move {
        let Some(client) = take_over(req).await else { return };
        let keys = stdin.then_some(keys);
        let Some(attached) = attached else {
            // Only the history: nothing to read from, nothing to write to.
            let (nothing, _) = tokio::io::duplex(1);
            return crate::websocket::bridge(client, nothing, multiplexed, history, None).await;
        };
        if let Some(shim) = attached.stream().await {
            crate::websocket::bridge(client, shim.stream, multiplexed, history, keys).await
        }
    });
    let mut resp = full(StatusCode::SWITCHING_PROTOCOLS, "text/plain; charset=utf-8", Bytes::new());
    let h = resp.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::SEC_WEBSOCKET_ACCEPT, HeaderValue::from_str(&accept).expect("base64 is a valid header"));
    Ok(resp)
}

/// Joins a client to a container's stream until the container's output ends
/// or the client types the detach keys (when it sends input).
async fn join_attached<C, S>(client: C, shim: S, detach_keys: Option<Vec<u8>>)
where
    C: tokio::io::AsyncRead + tokio::io::AsyncWrite,
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite,
{
    use tokio::io::AsyncWriteExt;
    let (client_r, mut client_w) = tokio::io::split(client);
    let (mut shim_r, mut shim_w) = tokio::io::split(shim);
    let output = async {
        let _ = tokio::io::copy(&mut shim_r, &mut client_w).await;
        let _ = client_w.shutdown().await;
    };
    let input = async {
        let detached = match &detach_keys {
            Some(keys) => {
                crate::detach::copy_until_detach(client_r, &mut shim_w, keys).await.unwrap_or(false)
            }
            None => false,
        };
        if detached {
            return;
        }
        // End of the client's input: pass it on, then wait for the output.
        let _ = shim_w.shutdown().await;
        std::future::pending::<()>().await;
    };
    tokio::select! {
        () = output => {}
        () = input => {}
    }
}

/// One record as `docker logs` receives it: a multiplexing frame without a
/// tty, the raw text with one.
fn frame(stream: Stream, text: &[u8], tty: bool) -> Bytes {
    if tty {
        return Bytes::copy_from_slice(text);
    }
    let mut out = Vec::with_capacity(8 + text.len());
    out.push(stream as u8);
    out.extend_from_slice(&[0, 0, 0]);
    out.extend_from_slice(&(text.len() as u32).to_be_bytes());
    out.extend_from_slice(text);
    Bytes::from(out)
}

fn log_time(v: &str) -> Result<Option<i128>, ApiError> {
    if v.is_empty() || v == "0" {
        return Ok(None);
    }
    let (secs, frac) = v.split_once('.').unwrap_or((v, "0"));
    let secs: i128 = secs.parse().map_err(|_| ApiError::bad_request(format!("invalid time value {v:?}")))?;
    let nanos: i128 = format!("{frac:0<9}")[..9]
        .parse()
        .map_err(|_| ApiError::bad_request(format!("invalid time value {v:?}")))?;
    Ok(Some(secs * 1_000_000_000 + nanos))
}

pub(crate) async fn logs_handler(ctx: &Ctx, name: &str, q: &Query) -> HandlerResult {
    let c = ctx.engine.container(name)?;
    if c.host_config.log_config.kind == "none" {
        return Err(ApiError::bad_request("configured logging driver does not support reading"));
    }
    let opts = LogOptions {
        stdout: q.bool("stdout"),
        stderr: q.bool("stderr"),
        since_nano: log_time(q.str("since"))?,
        until_nano: log_time(q.str("until"))?,
        // As Docker, a tail that is not a number, or negative, means all.
        tail: q.str("tail").parse::<i64>().ok().and_then(|n| usize::try_from(n).ok()),
    };
    if !opts.stdout && !opts.stderr {
        return Err(ApiError::bad_request("Bad parameters: you must choose at least one stream"));
    }
    let (follow, timestamps, tty) = (q.bool("follow"), q.bool("timestamps"), c.config.tty);
    let path = ctx.engine.log_path(&c.id);
    // Opened before answering: a client may remove the container as soon as
    // it has the answer's headers, and must still get every line.
    let mut logs = ctx
        .blocking(move |_| {
            LogReader::open(&path)
                .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
        })
        .await?;
    let (tx, body) = ChannelBody::new(64);
    let engine = ctx.engine.clone();
    let id = c.id.clone();
    tokio::task::spawn_blocking(move || {
        let render = |r: &logs::Record| {
            let text = if timestamps {
                format!("{} {}", logs::timestamp(r.time_nano), r.log)
            } else {
                r.log.clone()
            };
            frame(r.stream, text.as_bytes(), tty)
        };
        let records = match logs.read(&opts) {
            Ok(x) => x,
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        };
        for r in &records {
            if tx.blocking_send(Ok(render(r))).is_err() {
                return;
            }
        }
        if follow {
            // Stops once the container is no longer running and every line is read.
            let running = || engine.container(&id).map(|c| c.state.status.is_active()).unwrap_or(false);
            let _ = logs.follow(
                &opts,
                |r| tx.blocking_send(Ok(render(r))).is_ok(),
                || !running() || tx.is_closed(),
            );
        }
    });
    Ok(streamed(
        if tty { "application/vnd.docker.raw-stream" } else { "application/vnd.docker.multiplexed-stream" },
        body,
    ))
}

pub(crate) async fn exec_create(ctx: &Ctx, name: &str, req: Request<Incoming>) -> HandlerResult {
    let body = super::containers::json_body(req).await?;
    let config = serde_json::from_value(body)
        .map_err(|e| ApiError::bad_request(format!("invalid exec config: {e}")))?;
    let id = ctx.engine.create_exec(name, config)?;
    Ok(crate::server::json_status(StatusCode::CREATED, &json!({"Id": id})))
}

/// `POST /exec/{id}/start`: hijacked like attach unless `Detach`.
pub(crate) async fn exec_start(ctx: &Ctx, id: &str, req: Request<Incoming>) -> HandlerResult {
    let upgrade = req.headers().get(header::UPGRADE).is_some();
    let (parts, body) = req.into_parts();
    let bytes = http_body_util::BodyExt::collect(body)
        .await
        .map_err(|e| ApiError::bad_request(e.to_string()))?
        .to_bytes();
    let detach = if bytes.is_empty() {
        false
    } else {
        let v: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?;
        v["Detach"].as_bool().unwrap_or(false)
    };
    if detach {
        ctx.engine.start_exec(id, true).await?;
        return Ok(full(StatusCode::OK, "application/json", Bytes::new()));
    }
    let config = ctx.engine.inspect_exec(id).await?.config;
    let keys = detach_keys(config.tty, &config.detach_keys)?;
    let started = match ctx.engine.start_exec(id, false).await {
        Ok(stream) => Ok(stream.expect("a stream when attached")),
        // As Docker, a command that cannot run is told in the stream, after
        // the upgrade (the exit code, 126 or 127, is the exec's).
        Err(engine::Error::Shim(message, _)) if upgrade => Err(message),
        Err(e) => return Err(e.into()),
    };
    let req = Request::from_parts(parts, ());
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let Some(mut client) = take_over(req).await else { return };
        match started {
            Ok(stream) => join_attached(client, stream.stream, config.attach_stdin.then_some(keys)).await,
            Err(message) => {
                let _ = client
                    .write_all(&frame(Stream::Stdout, format!("{message}\r\n").as_bytes(), config.tty))
                    .await;
                let _ = client.shutdown().await;
            }
        }
    });
    let mut resp = full(
        if upgrade { StatusCode::SWITCHING_PROTOCOLS } else { StatusCode::OK },
        "application/vnd.docker.raw-stream",
        Bytes::new(),
    );
    if upgrade {
        resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        resp.headers_mut().insert(header::UPGRADE, HeaderValue::from_static("tcp"));
    }
    Ok(resp)
}

pub(crate) async fn exec_inspect(ctx: &Ctx, id: &str) -> HandlerResult {
    let e = ctx.engine.inspect_exec(id).await?;
    crate::server::json(&json!({
        "ID": e.id,
        "Running": e.running,
        "ExitCode": e.exit_code,
        "ProcessConfig": {
            "tty": e.config.tty,
            "entrypoint": e.config.cmd.first(),
            "arguments": e.config.cmd.get(1..).unwrap_or_default(),
            "privileged": e.config.privileged,
            "user": e.config.user,
        },
        "OpenStdin": e.config.attach_stdin,
        "OpenStderr": e.config.attach_stderr,
        "OpenStdout": e.config.attach_stdout,
        "CanRemove": false,
        "ContainerID": e.container_id,
        "DetachKeys": e.config.detach_keys,
        "Pid": e.pid,
    }))
}

/// `POST /containers/{id}/resize` and `/exec/{id}/resize`: the tty's window size.
pub(crate) async fn resize(ctx: &Ctx, container: &str, exec: Option<&str>, q: &Query) -> HandlerResult {
    let dim = |k: &str| {
        q.str(k)
            .parse::<u16>()
            .map_err(|_| ApiError::bad_request(format!("invalid {k} value {:?}", q.str(k))))
    };
    let (h, w) = (dim("h")?, dim("w")?);
    ctx.engine.resize_tty(container, exec, h, w).await?;
    Ok(full(StatusCode::OK, "text/plain; charset=utf-8", Bytes::new()))
}
