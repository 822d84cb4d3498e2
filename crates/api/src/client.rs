//! A small Engine API client: what the `berth` CLI uses to talk to the
//! daemon, and what the daemon uses to download `import` URLs.

use std::io;
use std::path::PathBuf;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

use crate::body::BodyReader;

pub type ReqBody = BoxBody<Bytes, io::Error>;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("Cannot connect to the berth daemon at {0}. Is the berth daemon running?")]
    Connect(String),
    #[error("Error response from daemon: {message}")]
    Daemon { status: StatusCode, message: String },
    #[error("{0}")]
    Protocol(String),
}

/// Where the daemon listens.
#[derive(Debug, Clone)]
pub enum Host {
    Unix(PathBuf),
    Tcp(String),
}

impl Host {
    /// Parses `unix:///path` or `tcp://host:port`.
    pub fn parse(s: &str) -> Result<Self, String> {
        if let Some(p) = s.strip_prefix("unix://") {
            Ok(Host::Unix(PathBuf::from(p)))
        } else if let Some(a) = s.strip_prefix("tcp://") {
            Ok(Host::Tcp(a.trim_end_matches('/').to_string()))
        } else if s.starts_with('/') {
            Ok(Host::Unix(PathBuf::from(s)))
        } else {
            Err(format!("unsupported host {s:?}: use unix:///path or tcp://host:port"))
        }
    }
}

impl std::fmt::Display for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Host::Unix(p) => write!(f, "unix://{}", p.display()),
            Host::Tcp(a) => write!(f, "tcp://{a}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Client {
    host: Host,
}

pub fn empty() -> ReqBody {
    Empty::new().map_err(|never| match never {}).boxed()
}

pub fn full(bytes: impl Into<Bytes>) -> ReqBody {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed()
}

impl Client {
    pub fn new(host: Host) -> Self {
        Self { host }
    }

    pub fn host(&self) -> &Host {
        &self.host
    }

    /// Sends one request on a new connection; non-2xx answers become
    /// [`ClientError::Daemon`] with the daemon's message.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: ReqBody,
        content_type: Option<&str>,
    ) -> Result<Response<Incoming>, ClientError> {
        let mut req = Request::builder().method(method).uri(path).header(hyper::header::HOST, "berth");
        if let Some(ct) = content_type {
            req = req.header(hyper::header::CONTENT_TYPE, ct);
        }
        let req = req.body(body).map_err(|e| ClientError::Protocol(e.to_string()))?;
        let resp = self.send(req).await?;
        if resp.status().is_client_error() || resp.status().is_server_error() {
            return Err(daemon_error(resp).await);
        }
        Ok(resp)
    }

    /// Sends a request that asks to take over the connection (attach, exec
    /// start) and returns the raw bidirectional stream after `101`.
    pub async fn hijack(
        &self,
        method: Method,
        path: &str,
        body: ReqBody,
    ) -> Result<TokioIo<hyper::upgrade::Upgraded>, ClientError> {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, "berth")
            .header(hyper::header::CONNECTION, "Upgrade")
            .header(hyper::header::UPGRADE, "tcp")
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(body)
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        let resp = self.send(req).await?;
        if resp.status() != StatusCode::SWITCHING_PROTOCOLS && !resp.status().is_success() {
            return Err(daemon_error(resp).await);
        }
        let upgraded = hyper::upgrade::on(resp)
            .await
            .map_err(|e| ClientError::Protocol(format!("upgrading the connection: {e}")))?;
        Ok(TokioIo::new(upgraded))
    }

    /// Sends a request on a new connection to the daemon.
    async fn send(&self, req: Request<ReqBody>) -> Result<Response<Incoming>, ClientError> {
        let refused = |_| ClientError::Connect(self.host.to_string());
        match &self.host {
            Host::Unix(p) => send(tokio::net::UnixStream::connect(p).await.map_err(refused)?, req).await,
            Host::Tcp(a) => send(tokio::net::TcpStream::connect(a).await.map_err(refused)?, req).await,
        }
    }

    pub async fn get_json(&self, path: &str) -> Result<serde_json::Value, ClientError> {
        let resp = self.request(Method::GET, path, empty(), None).await?;
        read_json(resp).await
    }

    pub async fn send_json(&self, method: Method, path: &str) -> Result<serde_json::Value, ClientError> {
        let resp = self.request(method, path, empty(), None).await?;
        read_json(resp).await
    }
}

/// The daemon's error answer: its `{"message"}`, or the body as text.
async fn daemon_error(resp: Response<Incoming>) -> ClientError {
    let status = resp.status();
    let body = match resp.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return ClientError::Protocol(e.to_string()),
    };
    let message = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(&body).trim().to_string());
    ClientError::Daemon { status, message }
}

pub async fn read_json(resp: Response<Incoming>) -> Result<serde_json::Value, ClientError> {
    let body = resp.into_body().collect().await.map_err(|e| ClientError::Protocol(e.to_string()))?.to_bytes();
    if body.is_empty() {
        return Ok(serde_json::Value::Null);
    }
    serde_json::from_slice(&body).map_err(|e| ClientError::Protocol(format!("bad JSON from daemon: {e}")))
}

async fn send<S>(stream: S, req: Request<ReqBody>) -> Result<Response<Incoming>, ClientError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| ClientError::Protocol(e.to_string()))?;
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    sender.send_request(req).await.map_err(|e| ClientError::Protocol(e.to_string()))
}

/// Downloads `url` (plain `http://` only) for `import`, as a blocking reader.
pub async fn fetch_url(url: &str) -> Result<BodyReader, String> {
    let rest = url.strip_prefix("http://").ok_or("only http:// URLs can be imported")?;
    let (authority, path) =
        rest.split_once('/').map(|(a, p)| (a, format!("/{p}"))).unwrap_or((rest, "/".into()));
    let addr = if authority.contains(':') { authority.to_string() } else { format!("{authority}:80") };
    let stream =
        tokio::net::TcpStream::connect(&addr).await.map_err(|e| format!("connecting to {addr}: {e}"))?;
    let req = Request::builder()
        .uri(path)
        .header(hyper::header::HOST, authority)
        .body(empty())
        .map_err(|e| e.to_string())?;
    let resp = send(stream, req).await.map_err(|e| e.to_string())?;
    if !resp.status().is_success() {
        return Err(format!("server answered {}", resp.status()));
    }
    Ok(BodyReader::spawn(resp.into_body(), 0))
}
