//! The HTTP server: accepts connections on unix and TCP sockets, routes each
//! request and turns handler results and errors into responses.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, UnixListener};

use crate::hijack::PeerSocket;
use crate::router::{self, Endpoint, Route};
use crate::{API_VERSION, ApiError, handlers};

pub type ResBody = BoxBody<Bytes, std::io::Error>;
pub type HandlerResult = Result<Response<ResBody>, ApiError>;

/// A socket the daemon serves on.
#[derive(Debug)]
pub enum Listener {
    Unix(UnixListener),
    Tcp(TcpListener),
}

/// Serves the API on every listener until `shutdown` completes.
pub async fn serve(
    engine: Arc<engine::Engine>,
    listeners: Vec<Listener>,
    shutdown: impl Future<Output = ()>,
) {
    let mut tasks = tokio::task::JoinSet::new();
    for l in listeners {
        let engine = engine.clone();
        tasks.spawn(async move {
            loop {
                let io = match &l {
                    Listener::Unix(u) => u.accept().await.map(|(s, _)| Conn::Unix(s)),
                    Listener::Tcp(t) => t.accept().await.map(|(s, _)| Conn::Tcp(s)),
                };
                match io {
                    Ok(conn) => {
                        tokio::spawn(serve_conn(engine.clone(), conn));
                    }
                    Err(e) => tracing::warn!("accept failed: {e}"),
                }
            }
        });
    }
    shutdown.await;
    tasks.abort_all();
}

enum Conn {
    Unix(tokio::net::UnixStream),
    Tcp(tokio::net::TcpStream),
}

async fn serve_conn(engine: Arc<engine::Engine>, conn: Conn) {
    let peer = match &conn {
        Conn::Unix(s) => PeerSocket::of(s).map_err(|e| tracing::warn!("client socket: {e}")).ok(),
        Conn::Tcp(_) => None,
    };
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        let engine = engine.clone();
        if let Some(peer) = &peer {
            req.extensions_mut().insert(peer.clone());
        }
        async move { Ok::<_, Infallible>(handle(engine, req).await) }
    });
    let builder = hyper::server::conn::http1::Builder::new();
    let result = match conn {
        Conn::Unix(s) => builder.serve_connection(TokioIo::new(s), service).with_upgrades().await,
        Conn::Tcp(s) => builder.serve_connection(TokioIo::new(s), service).with_upgrades().await,
    };
    if let Err(e) = result {
        tracing::debug!("connection ended: {e}");
    }
}

async fn handle(engine: Arc<engine::Engine>, req: Request<Incoming>) -> Response<ResBody> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let result = match router::route(&method, &path) {
        Ok(route) => dispatch(engine, route, req).await,
        Err(e) => Err(e),
    };
    let mut resp = result.unwrap_or_else(|e| {
        if e.status.is_server_error() {
            tracing::error!("{method} {path}: {}", e.message);
        } else {
            tracing::debug!("{method} {path}: {} {}", e.status, e.message);
        }
        json_status(e.status, &serde_json::json!({ "message": e.message }))
    });
    let h = resp.headers_mut();
    h.insert("Api-Version", HeaderValue::from_static(API_VERSION));
    h.insert("Docker-Experimental", HeaderValue::from_static("false"));
    h.insert("Ostype", HeaderValue::from_static("linux"));
    h.insert(
        header::SERVER,
        HeaderValue::from_static(concat!("Docker/berth-", env!("CARGO_PKG_VERSION"), " (linux)")),
    );
    resp
}

async fn dispatch(engine: Arc<engine::Engine>, route: Route, req: Request<Incoming>) -> HandlerResult {
    let ctx = Ctx { engine, version: route.version };
    use Endpoint as E;
    match route.endpoint {
        E::Ping => handlers::system::ping(req.method() == hyper::Method::HEAD),
        E::Version => handlers::system::version(&ctx),
        E::Info => handlers::system::info(&ctx).await,
        E::SystemDf => handlers::system::df(&ctx).await,
        E::Events => handlers::system::events(&ctx, &Query::of(&req)),
        E::ImagesList => handlers::images::list(&ctx, &Query::of(&req)).await,
        E::ImagesLoad => handlers::images::load(&ctx, req).await,
        E::ImagesCreate => handlers::images::create(&ctx, req).await,
        E::ImagesPrune => handlers::images::prune(&ctx, &Query::of(&req)).await,
        E::ImagesSave => handlers::images::save(&ctx, Query::of(&req).all("names")),
        E::ImageSave(name) => handlers::images::save(&ctx, vec![name]),
        E::ImageInspect(name) => handlers::images::inspect(&ctx, &name).await,
        E::ImageHistory(name) => handlers::images::history(&ctx, &name).await,
        E::ImageTag(name) => handlers::images::tag(&ctx, &name, &Query::of(&req)).await,
        E::ImageDelete(name) => handlers::images::delete(&ctx, &name, &Query::of(&req)).await,
        E::ContainersCreate => handlers::containers::create(&ctx, req).await,
        E::ContainersList => handlers::containers::list(&ctx, &Query::of(&req)).await,
        E::ContainerInspect(id) => handlers::containers::inspect(&ctx, &id, &Query::of(&req)).await,
        E::ContainerRename(id) => handlers::containers::rename(&ctx, &id, &Query::of(&req)).await,
        E::ContainerDelete(id) => handlers::containers::delete(&ctx, &id, &Query::of(&req)).await,
        E::ContainerStart(id) => handlers::lifecycle::start(&ctx, &id).await,
        E::ContainerStop(id) => handlers::lifecycle::stop(&ctx, &id, &Query::of(&req)).await,
        E::ContainerRestart(id) => handlers::lifecycle::restart(&ctx, &id, &Query::of(&req)).await,
        E::ContainerKill(id) => handlers::lifecycle::kill(&ctx, &id, &Query::of(&req)).await,
        E::ContainerWait(id) => handlers::lifecycle::wait(&ctx, &id, &Query::of(&req)).await,
        E::ContainerAttach(id) => handlers::lifecycle::attach(&ctx, &id, req).await,
        E::ContainerAttachWebsocket(id) => handlers::lifecycle::attach_websocket(&ctx, &id, req).await,
        E::ContainerLogs(id) => handlers::lifecycle::logs_handler(&ctx, &id, &Query::of(&req)).await,
        E::ExecCreate(id) => handlers::lifecycle::exec_create(&ctx, &id, req).await,
        E::ExecStart(id) => handlers::lifecycle::exec_start(&ctx, &id, req).await,
        E::ExecInspect(id) => handlers::lifecycle::exec_inspect(&ctx, &id).await,
        E::ContainerResize(id) => handlers::lifecycle::resize(&ctx, &id, None, &Query::of(&req)).await,
        E::ContainerPause(id) => handlers::ops::pause(&ctx, &id).await,
        E::ContainerUnpause(id) => handlers::ops::unpause(&ctx, &id).await,
        E::ContainerTop(id) => handlers::ops::top(&ctx, &id, &Query::of(&req)).await,
        E::ContainerStats(id) => handlers::ops::stats(&ctx, &id, &Query::of(&req)).await,
        E::ContainerUpdate(id) => handlers::ops::update(&ctx, &id, req).await,
        E::ContainersPrune => handlers::ops::prune(&ctx, &Query::of(&req)).await,
        E::ContainerArchiveStat(id) => handlers::archive::stat(&ctx, &id, &Query::of(&req)).await,
        E::ContainerArchive(id) => handlers::archive::get(&ctx, &id, &Query::of(&req)).await,
        E::ContainerExtract(id) => handlers::archive::put(&ctx, &id, req).await,
        E::ContainerChanges(id) => handlers::archive::changes(&ctx, &id).await,
        E::ContainerExport(id) => handlers::archive::export(&ctx, &id).await,
        E::Commit => handlers::archive::commit(&ctx, req).await,
        E::ExecResize(id) => handlers::lifecycle::resize(&ctx, "", Some(&id), &Query::of(&req)).await,
    }
}

/// What every handler gets: the engine and the client's API version.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub engine: Arc<engine::Engine>,
    pub version: (u32, u32),
}

impl Ctx {
    /// Runs blocking engine work off the async threads.
    pub async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&engine::Engine) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let engine = self.engine.clone();
        tokio::task::spawn_blocking(move || f(&engine))
            .await
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("task failed: {e}")))?
    }
}

/// Query parameters, decoded.
#[derive(Debug, Default)]
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    pub fn of<B>(req: &Request<B>) -> Self {
        let q = req.uri().query().unwrap_or("");
        Self(form_urlencoded::parse(q.as_bytes()).into_owned().collect())
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub fn str(&self, key: &str) -> &str {
        self.get(key).unwrap_or("")
    }

    pub fn all(&self, key: &str) -> Vec<String> {
        self.0.iter().filter(|(k, _)| k == key).map(|(_, v)| v.clone()).collect()
    }

    /// Docker's boolean query values: `1`, `true`, `True` are true; absent, `0`, `false` are false.
    pub fn bool(&self, key: &str) -> bool {
        matches!(self.get(key), Some(v) if !matches!(v, "" | "0" | "false" | "False" | "FALSE"))
    }

    pub fn filters(&self) -> Result<engine::Filters, ApiError> {
        Ok(engine::Filters::parse(self.str("filters"))?)
    }
}

pub(crate) fn full(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<ResBody> {
    let mut r = Response::new(Full::new(body.into()).map_err(|e: Infallible| match e {}).boxed());
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

pub(crate) fn json_status(status: StatusCode, v: &serde_json::Value) -> Response<ResBody> {
    let mut body = serde_json::to_vec(v).expect("serialisable");
    body.push(b'\n');
    full(status, "application/json", body)
}

pub(crate) fn json(v: &serde_json::Value) -> HandlerResult {
    Ok(json_status(StatusCode::OK, v))
}

/// A streamed response whose chunks come from a channel.
pub(crate) fn streamed(content_type: &'static str, body: crate::body::ChannelBody) -> Response<ResBody> {
    let mut r = Response::new(body.boxed());
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}
