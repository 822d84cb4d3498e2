//! A container's files: `HEAD/GET/PUT /containers/{id}/archive` (`docker
//! cp`), `GET /containers/{id}/changes` (`docker diff`), `POST /commit` and
//! `GET /containers/{id}/export`.

use bytes::Bytes;
use engine::containers::fs::{CommitRequest, ExtractOptions, PathStat};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{Request, StatusCode};
use serde_json::{Value, json};

use crate::ApiError;
use crate::body::{BodyReader, ChannelBody, ChannelWriter, DRAIN_LIMIT};
use crate::server::{Ctx, HandlerResult, Query, full, json, json_status, streamed};

/// The header `docker cp` reads a path's stat from.
const PATH_STAT_HEADER: &str = "X-Docker-Container-Path-Stat";

/// Bodies of `POST /commit` larger than this are refused (it is a config).
const MAX_CONFIG_BODY: usize = 4 << 20;

/// Docker's `path` parameter, which every archive request needs.
fn path_param(q: &Query) -> Result<String, ApiError> {
    match q.get("path") {
        Some(p) if !p.is_empty() => Ok(p.to_string()),
        _ => Err(ApiError::bad_request("path is required")),
    }
}

/// `{"name","size","mode","mtime","linkTarget"}`, base64, as Docker sends it.
fn stat_header(s: &PathStat) -> HeaderValue {
    // In Go's field order, which a JSON map would not keep.
    let q = |v: &str| serde_json::to_string(v).expect("a string serialises");
    let doc = format!(
        r#"{{"name":{},"size":{},"mode":{},"mtime":{},"linkTarget":{}}}"#,
        q(&s.name),
        s.size,
        s.mode,
        q(&s.mtime),
        q(&s.link_target)
    );
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(doc.as_bytes());
    HeaderValue::from_str(&b64).expect("base64 is a valid header value")
}

/// `HEAD /containers/{id}/archive?path=…`.
pub(crate) async fn stat(ctx: &Ctx, id: &str, q: &Query) -> HandlerResult {
    let path = path_param(q)?;
    let id = id.to_string();
    let guard = ctx.engine.lock_container_fs(&id).await?;
    let stat = ctx.blocking(move |e| Ok(e.stat_container_path(&id, &path, guard)?)).await?;
    let mut r = full(StatusCode::OK, "text/plain; charset=utf-8", Bytes::new());
    r.headers_mut().remove(hyper::header::CONTENT_TYPE);
    r.headers_mut().insert(PATH_STAT_HEADER, stat_header(&stat));
    Ok(r)
}

/// `GET /containers/{id}/archive?path=…`: the tar, with the stat header.
/// Errors found before the first byte are plain JSON errors.
pub(crate) async fn get(ctx: &Ctx, id: &str, q: &Query) -> HandlerResult {
    let path = path_param(q)?;
    let id = id.to_string();
    let guard = ctx.engine.lock_container_fs(&id).await?;
    let archive = ctx.blocking(move |e| Ok(e.archive_container_path(&id, &path, guard)?)).await?;
    let header = stat_header(&archive.stat);
    let (tx, body) = ChannelBody::new(8);
    tokio::task::spawn_blocking(move || {
        let writer = ChannelWriter::new(tx.clone());
        match archive.write_to(writer) {
            Ok(mut w) => {
                let _ = std::io::Write::flush(&mut w);
            }
            Err(e) => {
                let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
            }
        }
    });
    let mut r = streamed("application/x-tar", body);
    r.headers_mut().insert(PATH_STAT_HEADER, header);
    Ok(r)
}

/// `PUT /containers/{id}/archive?path=DIR&noOverwriteDirNonDir=…&copyUIDGID=…`:
/// extracts the body (a tar, possibly compressed) into DIR.
pub(crate) async fn put(ctx: &Ctx, id: &str, req: Request<Incoming>) -> HandlerResult {
    let q = Query::of(&req);
    let path = match path_param(&q) {
        Ok(p) => p,
        Err(e) => {
            drain(req.into_body()).await;
            return Err(e);
        }
    };
    let opts = ExtractOptions {
        no_overwrite_dir_non_dir: q.bool("noOverwriteDirNonDir"),
        copy_uid_gid: q.bool("copyUIDGID"),
    };
    let mut reader = BodyReader::spawn(req.into_body(), DRAIN_LIMIT);
    let id = id.to_string();
    let guard = ctx.engine.lock_container_fs(&id).await?;
    ctx.blocking(move |e| Ok(e.extract_to_container(&id, &path, &mut reader, opts, guard)?)).await?;
    Ok(full(StatusCode::OK, "text/plain; charset=utf-8", Bytes::new()))
}

async fn drain(mut body: Incoming) {
    while let Some(Ok(_)) = body.frame().await {}
}

/// `GET /containers/{id}/changes`: `null` when nothing changed, as Docker.
pub(crate) async fn changes(ctx: &Ctx, id: &str) -> HandlerResult {
    let id = id.to_string();
    let changes = ctx.blocking(move |e| Ok(e.container_changes(&id)?)).await?;
    if changes.is_empty() {
        return json(&Value::Null);
    }
    json(&Value::Array(changes.iter().map(|c| json!({"Path": c.path, "Kind": c.kind as u8})).collect()))
}

/// `POST /commit?container=…&repo=…&tag=…&comment=…&author=…&pause=…&changes=…`
/// with an optional container config as the body.
pub(crate) async fn commit(ctx: &Ctx, req: Request<Incoming>) -> HandlerResult {
    let q = Query::of(&req);
    let body = http_body_util::Limited::new(req.into_body(), MAX_CONFIG_BODY)
        .collect()
        .await
        .map_err(|e| ApiError::bad_request(format!("reading the request body: {e}")))?
        .to_bytes();
    let config = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Null) => None,
            Ok(v @ Value::Object(_)) => Some(v),
            Ok(_) => {
                return Err(ApiError::bad_request("invalid JSON: the container config must be an object"));
            }
            Err(e) => return Err(ApiError::bad_request(format!("invalid JSON: {e}"))),
        }
    };
    let req = CommitRequest {
        container: q.str("container").to_string(),
        repo: q.str("repo").to_string(),
        tag: q.str("tag").to_string(),
        author: q.str("author").to_string(),
        comment: q.str("comment").to_string(),
        changes: q.all("changes"),
        // Docker pauses unless told not to.
        pause: q.get("pause").is_none_or(|_| q.bool("pause")),
        config,
    };
    let id = ctx.engine.commit_container(req).await?;
    Ok(json_status(StatusCode::CREATED, &json!({"Id": id})))
}

/// `GET /containers/{id}/export`: the root file system as a tar.
pub(crate) async fn export(ctx: &Ctx, id: &str) -> HandlerResult {
    let id = id.to_string();
    let guard = ctx.engine.lock_container_fs(&id).await?;
    let export = ctx.blocking(move |e| Ok(e.export_container(&id, guard)?)).await?;
    let (tx, body) = ChannelBody::new(8);
    tokio::task::spawn_blocking(move || {
        let writer = ChannelWriter::new(tx.clone());
        match export.write_to(writer) {
            Ok(mut w) => {
                let _ = std::io::Write::flush(&mut w);
            }
            Err(e) => {
                let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
            }
        }
    });
    Ok(streamed("application/octet-stream", body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_header_as_docker_sends_it() {
        let stat = PathStat {
            name: "hostname".into(),
            size: 13,
            mode: 420,
            mtime: "2026-11-24T04:41:23.107406186Z".into(),
            link_target: String::new(),
        };
        // The header Docker sent for the same stat (docker-wire/containers-manage.md).
        assert_eq!(
            stat_header(&stat).to_str().unwrap(),
            "eyJuYW1lIjoiaG9zdG5hbWUiLCJzaXplIjoxMywibW9kZSI6NDIwLCJtdGltZSI6IjIwMjYtMTEtMjRUMDQ6NDE6MjMuMTA3NDA2MTg2WiIsImxpbmtUYXJnZXQiOiIifQ=="
        );
    }
}
