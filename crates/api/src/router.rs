//! Turns a request's method and path into an [`Endpoint`], with no I/O, so
//! the whole routing table is unit-tested. The `/vX.YY` prefix is stripped
//! and checked here, once.

use hyper::Method;

use crate::{API_VERSION, ApiError, MIN_API_VERSION};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Ping,
    Version,
    Info,
    SystemDf,
    Events,
    ImagesList,
    ImagesLoad,
    /// `POST /images/create`: import (`fromSrc`) or pull (`fromImage`).
    ImagesCreate,
    ImagesPrune,
    /// `GET /images/get?names=…`
    ImagesSave,
    ImageSave(String),
    ImageInspect(String),
    ImageHistory(String),
    ImageTag(String),
    ImageDelete(String),
    ContainersCreate,
    ContainersList,
    ContainerInspect(String),
    ContainerRename(String),
    ContainerDelete(String),
    ContainerStart(String),
    ContainerStop(String),
    ContainerRestart(String),
    ContainerKill(String),
    ContainerWait(String),
    ContainerAttach(String),
    ContainerAttachWebsocket(String),
    ContainerLogs(String),
    ContainerResize(String),
    ContainerPause(String),
    ContainerUnpause(String),
    ContainerTop(String),
    ContainerStats(String),
    ContainerUpdate(String),
    /// `POST /containers/prune`.
    ContainersPrune,
    /// `HEAD /containers/{id}/archive`: the stat of a path.
    ContainerArchiveStat(String),
    ContainerArchive(String),
    /// `PUT /containers/{id}/archive`.
    ContainerExtract(String),
    ContainerChanges(String),
    ContainerExport(String),
    /// `POST /commit`.
    Commit,
    ExecResize(String),
    ExecCreate(String),
    ExecStart(String),
    ExecInspect(String),
}

/// A routed request: the endpoint and the API version the client asked for.
#[derive(Debug, PartialEq, Eq)]
pub struct Route {
    pub endpoint: Endpoint,
    /// `(major, minor)`; the daemon's own version when the path had no prefix.
    pub version: (u32, u32),
}

pub fn parse_version(v: &str) -> Option<(u32, u32)> {
    let (a, b) = v.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

pub fn route(method: &Method, raw_path: &str) -> Result<Route, ApiError> {
    let decoded = percent_encoding::percent_decode_str(raw_path).decode_utf8_lossy();
    let mut path: &str = &decoded;
    let mut version = parse_version(API_VERSION).expect("valid");
    if let Some(rest) = path.strip_prefix("/v")
        && let Some((v, tail)) = rest.split_once('/')
        && let Some(parsed) = parse_version(v)
    {
        if parsed > version {
            return Err(ApiError::bad_request(format!(
                "client version {v} is too new. Maximum supported API version is {API_VERSION}"
            )));
        }
        if parsed < parse_version(MIN_API_VERSION).expect("valid") {
            return Err(ApiError::bad_request(format!(
                "client version {v} is too old. Minimum supported API version is {MIN_API_VERSION}, please upgrade your client to a newer version"
            )));
        }
        version = parsed;
        path = &path[v.len() + 2..];
        debug_assert!(path.starts_with('/') || tail.is_empty());
    }
    let path = path.trim_end_matches('/');
    let not_found = || ApiError::not_found("page not found");
    use Endpoint as E;
    let endpoint = match (method, path) {
        (&Method::GET | &Method::HEAD, "/_ping") => E::Ping,
        (&Method::GET, "/version") => E::Version,
        (&Method::GET, "/info") => E::Info,
        (&Method::GET, "/system/df") => E::SystemDf,
        (&Method::GET, "/events") => E::Events,
        (&Method::GET, "/images/json") => E::ImagesList,
        (&Method::POST, "/images/load") => E::ImagesLoad,
        (&Method::POST, "/images/create") => E::ImagesCreate,
        (&Method::POST, "/images/prune") => E::ImagesPrune,
        (&Method::GET, "/images/get") => E::ImagesSave,
        (&Method::POST, "/containers/create") => E::ContainersCreate,
        (&Method::GET, "/containers/json") => E::ContainersList,
        (&Method::POST, "/containers/prune") => E::ContainersPrune,
        (&Method::POST, "/commit") => E::Commit,
        (m, p) if p.starts_with("/containers/") => {
            let rest = &p["/containers/".len()..];
            let (id, action) = rest.split_once('/').unwrap_or((rest, ""));
            let id = id.to_string();
            match (m, action) {
                (&Method::DELETE, "") => E::ContainerDelete(id),
                (&Method::GET, "json") => E::ContainerInspect(id),
                (&Method::POST, "rename") => E::ContainerRename(id),
                (&Method::POST, "start") => E::ContainerStart(id),
                (&Method::POST, "stop") => E::ContainerStop(id),
                (&Method::POST, "restart") => E::ContainerRestart(id),
                (&Method::POST, "kill") => E::ContainerKill(id),
                (&Method::POST, "wait") => E::ContainerWait(id),
                (&Method::POST, "attach") => E::ContainerAttach(id),
                (&Method::GET, "attach/ws") => E::ContainerAttachWebsocket(id),
                (&Method::GET, "logs") => E::ContainerLogs(id),
                (&Method::POST, "resize") => E::ContainerResize(id),
                (&Method::POST, "pause") => E::ContainerPause(id),
                (&Method::POST, "unpause") => E::ContainerUnpause(id),
                (&Method::GET, "top") => E::ContainerTop(id),
                (&Method::GET, "stats") => E::ContainerStats(id),
                (&Method::POST, "update") => E::ContainerUpdate(id),
                (&Method::HEAD, "archive") => E::ContainerArchiveStat(id),
                (&Method::GET, "archive") => E::ContainerArchive(id),
                (&Method::PUT, "archive") => E::ContainerExtract(id),
                (&Method::GET, "changes") => E::ContainerChanges(id),
                (&Method::GET, "export") => E::ContainerExport(id),
                (&Method::POST, "exec") => E::ExecCreate(id),
                _ => return Err(not_found()),
            }
        }
        (m, p) if p.starts_with("/exec/") => {
            let rest = &p["/exec/".len()..];
            match (m, rest.split_once('/')) {
                (&Method::POST, Some((id, "start"))) => E::ExecStart(id.to_string()),
                (&Method::GET, Some((id, "json"))) => E::ExecInspect(id.to_string()),
                (&Method::POST, Some((id, "resize"))) => E::ExecResize(id.to_string()),
                _ => return Err(not_found()),
            }
        }
        (m, p) if p.starts_with("/images/") => {
            let rest = &p["/images/".len()..];
            let (name, action) = rest.rsplit_once('/').unwrap_or((rest, ""));
            match (m, action) {
                (&Method::DELETE, _) => E::ImageDelete(rest.to_string()),
                (&Method::GET, "json") => E::ImageInspect(name.to_string()),
                (&Method::GET, "history") => E::ImageHistory(name.to_string()),
                (&Method::GET, "get") => E::ImageSave(name.to_string()),
                (&Method::POST, "tag") => E::ImageTag(name.to_string()),
                _ => return Err(not_found()),
            }
        }
        _ => return Err(not_found()),
    };
    Ok(Route { endpoint, version })
}

#[cfg(test)]
mod tests {
    use super::*;
    use Endpoint as E;

    #[test]
    fn routing_table() {
        let cases: &[(Method, &str, E, (u32, u32))] = &[
            (Method::HEAD, "/_ping", E::Ping, (1, 50)),
            (Method::GET, "/v1.41/_ping", E::Ping, (1, 41)),
            (Method::GET, "/v1.41/images/json", E::ImagesList, (1, 41)),
            (Method::GET, "/images/busybox:latest/json", E::ImageInspect("busybox:latest".into()), (1, 50)),
            (
                Method::GET,
                "/v1.50/images/localhost:5000/a/b:t/json",
                E::ImageInspect("localhost:5000/a/b:t".into()),
                (1, 50),
            ),
            (
                Method::POST,
                "/v1.41/images/busybox%3Alatest/tag",
                E::ImageTag("busybox:latest".into()),
                (1, 41),
            ),
            (Method::DELETE, "/v1.41/images/a/b:c", E::ImageDelete("a/b:c".into()), (1, 41)),
            (Method::GET, "/v1.41/images/get", E::ImagesSave, (1, 41)),
            (Method::GET, "/v1.41/images/busybox/get", E::ImageSave("busybox".into()), (1, 41)),
            (Method::GET, "/v1.41/images/busybox/history", E::ImageHistory("busybox".into()), (1, 41)),
            (Method::POST, "/v1.24/images/load", E::ImagesLoad, (1, 24)),
            (Method::POST, "/v1.41/containers/create", E::ContainersCreate, (1, 41)),
            (Method::GET, "/v1.41/containers/json", E::ContainersList, (1, 41)),
            (Method::GET, "/v1.41/containers/c1/json", E::ContainerInspect("c1".into()), (1, 41)),
            (Method::POST, "/v1.41/containers/c1/rename", E::ContainerRename("c1".into()), (1, 41)),
            (Method::DELETE, "/v1.41/containers/c1", E::ContainerDelete("c1".into()), (1, 41)),
            (Method::POST, "/v1.41/containers/c1/start", E::ContainerStart("c1".into()), (1, 41)),
            (Method::POST, "/v1.41/containers/c1/attach", E::ContainerAttach("c1".into()), (1, 41)),
            (Method::GET, "/containers/c1/attach/ws", E::ContainerAttachWebsocket("c1".into()), (1, 50)),
            (Method::POST, "/v1.41/containers/c1/wait", E::ContainerWait("c1".into()), (1, 41)),
            (Method::GET, "/v1.41/containers/c1/logs", E::ContainerLogs("c1".into()), (1, 41)),
            (Method::POST, "/v1.41/containers/c1/exec", E::ExecCreate("c1".into()), (1, 41)),
            (Method::POST, "/v1.41/exec/e1/start", E::ExecStart("e1".into()), (1, 41)),
            (Method::GET, "/v1.41/exec/e1/json", E::ExecInspect("e1".into()), (1, 41)),
            (Method::POST, "/v1.41/exec/e1/resize", E::ExecResize("e1".into()), (1, 41)),
            (Method::POST, "/v1.41/containers/c1/resize", E::ContainerResize("c1".into()), (1, 41)),
            (Method::POST, "/v1.41/containers/web2/pause", E::ContainerPause("web2".into()), (1, 41)),
            (Method::POST, "/v1.41/containers/web2/unpause", E::ContainerUnpause("web2".into()), (1, 41)),
            (Method::GET, "/v1.41/containers/web/top", E::ContainerTop("web".into()), (1, 41)),
            (Method::GET, "/v1.41/containers/62ef7dd/stats", E::ContainerStats("62ef7dd".into()), (1, 41)),
            (Method::POST, "/v1.41/containers/web2/update", E::ContainerUpdate("web2".into()), (1, 41)),
            (Method::POST, "/v1.41/containers/prune", E::ContainersPrune, (1, 41)),
            (Method::HEAD, "/v1.41/containers/web/archive", E::ContainerArchiveStat("web".into()), (1, 41)),
            (Method::GET, "/v1.41/containers/web/archive", E::ContainerArchive("web".into()), (1, 41)),
            (Method::PUT, "/v1.41/containers/web/archive", E::ContainerExtract("web".into()), (1, 41)),
            (Method::GET, "/v1.41/containers/web/changes", E::ContainerChanges("web".into()), (1, 41)),
            (Method::GET, "/v1.41/containers/web2/export", E::ContainerExport("web2".into()), (1, 41)),
            (Method::POST, "/v1.41/commit", E::Commit, (1, 41)),
        ];
        for (m, p, want, v) in cases {
            let r = route(m, p).unwrap_or_else(|e| panic!("{m} {p}: {e}"));
            assert_eq!((&r.endpoint, r.version), (want, *v), "{m} {p}");
        }
    }

    #[test]
    fn versions_outside_the_range_are_refused() {
        let e = route(&Method::GET, "/v1.99/version").unwrap_err();
        assert_eq!(e.message, "client version 1.99 is too new. Maximum supported API version is 1.50");
        let e = route(&Method::GET, "/v1.11/version").unwrap_err();
        assert!(e.message.starts_with("client version 1.11 is too old"));
        assert_eq!(route(&Method::GET, "/nope").unwrap_err().status, 404);
        assert_eq!(route(&Method::PUT, "/images/x/json").unwrap_err().status, 404);
    }
}
