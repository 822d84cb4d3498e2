//! `/images/*`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use image::{DeleteItem, Image};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::ApiError;
use crate::body::{BodyReader, ChannelBody, ChannelWriter, Chunk, DRAIN_LIMIT};
use crate::server::{Ctx, HandlerResult, Query, json, streamed};
use crate::units::human_size;

pub(crate) async fn list(ctx: &Ctx, q: &Query) -> HandlerResult {
    let filters = q.filters()?;
    let all = q.bool("all");
    let images = ctx.blocking(move |e| Ok(e.list_images(all, &filters)?)).await?;
    json(&Value::Array(images.iter().map(summary).collect()))
}

/// An entry of `GET /images/json` (and of `/system/df`).
pub(crate) fn summary(img: &Image) -> Value {
    json!({
        "Containers": -1,
        "Created": img.config.created_unix(),
        "Id": img.id,
        "Labels": img.config.labels(),
        "ParentId": img.record.parent,
        "RepoDigests": img.repo_digests,
        "RepoTags": img.repo_tags,
        "SharedSize": -1,
        "Size": img.record.size,
        "VirtualSize": img.record.size,
    })
}

pub(crate) async fn inspect(ctx: &Ctx, name: &str) -> HandlerResult {
    let name = name.to_string();
    let (img, dirs) = ctx
        .blocking(move |e| {
            let img = e.resolve_image(&name)?;
            let dirs = e.images.layer_dirs(&img)?;
            Ok((img, dirs))
        })
        .await?;
    let c = &img.config.json;
    let lower: Vec<String> = dirs.iter().rev().map(|d| d.display().to_string()).collect();
    json(&json!({
        "Id": img.id,
        "RepoTags": img.repo_tags,
        "RepoDigests": img.repo_digests,
        "Parent": img.record.parent,
        "Comment": img.config.str_field("comment"),
        "Created": img.config.created().unwrap_or("0001-01-01T00:00:00Z"),
        "DockerVersion": img.config.str_field("docker_version"),
        "Author": img.config.str_field("author"),
        "Config": container_config(c.get("config")),
        "Architecture": img.config.str_field("architecture"),
        "Variant": c.get("variant"),
        "Os": img.config.str_field("os"),
        "Size": img.record.size,
        "VirtualSize": img.record.size,
        "GraphDriver": {
            "Name": "overlay2",
            "Data": { "LowerDir": lower.join(":") },
        },
        "RootFS": { "Type": "layers", "Layers": img.config.diff_ids().unwrap_or_default() },
        "Metadata": { "LastTagTime": img.record.last_tag_time.as_deref().unwrap_or("0001-01-01T00:00:00Z") },
    }))
}

/// The image's container config with every field Docker's struct always
/// serialises, so templates such as `{{.Config.Cmd}}` behave the same.
fn container_config(cfg: Option<&Value>) -> Value {
    let mut base = json!({
        "Hostname": "", "Domainname": "", "User": "",
        "AttachStdin": false, "AttachStdout": false, "AttachStderr": false,
        "Tty": false, "OpenStdin": false, "StdinOnce": false,
        "Env": null, "Cmd": null, "Image": "", "Volumes": null, "WorkingDir": "",
        "Entrypoint": null, "OnBuild": null, "Labels": null,
    });
    if let (Some(Value::Object(src)), Value::Object(dst)) = (cfg, &mut base) {
        for (k, v) in src {
            dst.insert(k.clone(), v.clone());
        }
    }
    base
}

pub(crate) async fn history(ctx: &Ctx, name: &str) -> HandlerResult {
    let name = name.to_string();
    let (img, layers) = ctx
        .blocking(move |e| {
            let img = e.resolve_image(&name)?;
            let layers = e.images.layers(&img)?;
            Ok((img, layers))
        })
        .await?;
    let mut sizes = layers.iter().map(|l| l.size);
    let mut rows: Vec<Value> = Vec::new();
    let history = img.config.json.get("history").and_then(Value::as_array).cloned().unwrap_or_default();
    if history.is_empty() {
        for l in &layers {
            rows.push(
                json!({"Comment": "", "Created": img.config.created_unix(), "CreatedBy": "", "Size": l.size}),
            );
        }
    }
    for h in &history {
        let empty = h.get("empty_layer").and_then(Value::as_bool).unwrap_or(false);
        let created =
            h.get("created").and_then(Value::as_str).and_then(image::config::parse_rfc3339).unwrap_or(0);
        rows.push(json!({
            "Comment": h.get("comment").and_then(Value::as_str).unwrap_or(""),
            "Created": created,
            "CreatedBy": h.get("created_by").and_then(Value::as_str).unwrap_or(""),
            "Size": if empty { 0 } else { sizes.next().unwrap_or(0) },
        }));
    }
    rows.reverse();
    for (i, r) in rows.iter_mut().enumerate() {
        let o = r.as_object_mut().expect("object");
        if i == 0 {
            o.insert("Id".into(), json!(img.id));
            o.insert("Tags".into(), json!(img.repo_tags));
        } else {
            o.insert("Id".into(), json!("<missing>"));
            o.insert("Tags".into(), Value::Null);
        }
    }
    json(&Value::Array(rows))
}

pub(crate) async fn tag(ctx: &Ctx, name: &str, q: &Query) -> HandlerResult {
    let (name, repo, tag) = (name.to_string(), q.str("repo").to_string(), q.str("tag").to_string());
    if repo.is_empty() {
        return Err(ApiError::bad_request("repository name must have at least one component"));
    }
    ctx.blocking(move |e| Ok(e.tag_image(&name, &repo, &tag)?)).await?;
    Ok(crate::server::full(StatusCode::CREATED, "text/plain; charset=utf-8", ""))
}

pub(crate) async fn delete(ctx: &Ctx, name: &str, q: &Query) -> HandlerResult {
    let (name, force, noprune) = (name.to_string(), q.bool("force"), q.bool("noprune"));
    let items = ctx.blocking(move |e| Ok(e.delete_image(&name, force, !noprune)?)).await?;
    json(&delete_items(&items))
}

fn delete_items(items: &[DeleteItem]) -> Value {
    Value::Array(
        items
            .iter()
            .map(|i| match i {
                DeleteItem::Untagged(r) => json!({"Untagged": r}),
                DeleteItem::Deleted(id) => json!({"Deleted": id}),
            })
            .collect(),
    )
}

pub(crate) async fn prune(ctx: &Ctx, q: &Query) -> HandlerResult {
    let filters = q.filters()?;
    let pruned = ctx.blocking(move |e| Ok(e.prune_images(&filters)?)).await?;
    json(
        &json!({"ImagesDeleted": if pruned.deleted.is_empty() { Value::Null } else { delete_items(&pruned.deleted) }, "SpaceReclaimed": pruned.space_reclaimed}),
    )
}

/// Sends progress lines at most every 100 ms per layer, like Docker's progress
/// output, and always the final one.
struct Progress {
    tx: mpsc::Sender<Chunk>,
    last: std::sync::Mutex<Option<Instant>>,
}

impl Progress {
    fn report(&self, status: &str, id: &str, current: u64, total: u64) {
        let mut last = self.last.lock().expect("progress lock");
        let now = Instant::now();
        if current < total && last.is_some_and(|t| now - t < Duration::from_millis(100)) {
            return;
        }
        *last = Some(now);
        ChannelWriter::send_json(
            &self.tx,
            &json!({"status": status, "progressDetail": {"current": current, "total": total}, "progress": progress_bar(current, total), "id": id}),
        );
    }
}

/// Docker's text progress bar: `[=====>    ]  1.081MB/8.09MB`.
fn progress_bar(current: u64, total: u64) -> String {
    let width = 50;
    let filled = (current.min(total) * width).checked_div(total).unwrap_or(0) as usize;
    let bar = if filled >= width as usize {
        "=".repeat(width as usize)
    } else {
        format!("{}>{}", "=".repeat(filled), " ".repeat(width as usize - filled - 1))
    };
    format!("[{bar}] {:>8}/{}", human_size(current, 4), human_size(total, 4))
}

/// Sends an error inside an already started JSON stream, as Docker does.
fn stream_error(tx: &mpsc::Sender<Chunk>, message: &str) {
    ChannelWriter::send_json(tx, &json!({"errorDetail": {"message": message}, "error": message}));
}

pub(crate) async fn load(ctx: &Ctx, req: Request<Incoming>) -> HandlerResult {
    let quiet = Query::of(&req).bool("quiet");
    let reader = BodyReader::spawn(req.into_body(), DRAIN_LIMIT);
    let (tx, body) = ChannelBody::new(16);
    let engine = ctx.engine.clone();
    tokio::task::spawn_blocking(move || {
        let progress = Arc::new(Progress { tx: tx.clone(), last: Default::default() });
        let report = |id: &str, cur: u64, total: u64| {
            if !quiet {
                progress.report("Loading layer", id, cur, total);
            }
        };
        match engine.load_images(reader, &report) {
            Ok(loaded) => {
                for l in loaded {
                    if l.tags.is_empty() {
                        ChannelWriter::send_json(
                            &tx,
                            &json!({"stream": format!("Loaded image ID: {}\n", l.id)}),
                        );
                    }
                    for t in l.tags {
                        ChannelWriter::send_json(&tx, &json!({"stream": format!("Loaded image: {t}\n")}));
                    }
                }
            }
            Err(e) => stream_error(&tx, &e.to_string()),
        }
    });
    Ok(streamed("application/json", body))
}

/// `POST /images/create`: `fromSrc=-` imports the request body, `fromSrc=URL`
/// downloads the tarball first; `fromImage` (pull) needs a registry client.
pub(crate) async fn create(ctx: &Ctx, req: Request<Incoming>) -> HandlerResult {
    let q = Query::of(&req);
    let src = q.str("fromSrc").to_string();
    if src.is_empty() {
        let image = q.str("fromImage");
        return Err(ApiError::not_found(format!(
            "pull access denied for {image}: berth cannot pull from registries yet (load or import the image instead)"
        )));
    }
    let (mut repo, mut tag) = (q.str("repo").to_string(), q.str("tag").to_string());
    if tag.is_empty() {
        // The CLI sends `repo=name:tag` in one parameter.
        if let Ok(r) = reference::Reference::parse_normalized(&repo)
            && let Some(t) = r.tag()
        {
            tag = t.to_string();
            repo = r.without_tag_or_digest().to_string();
        }
    }
    let changes = q.all("changes");
    // Refuse bad changes as a plain 400 before importing anything. The body
    // is drained first: a client still sending it would see a broken pipe
    // instead of our answer.
    let mut probe = serde_json::Map::new();
    if let Err(e) = changes.iter().try_for_each(|c| image::config::apply_change(&mut probe, c)) {
        let mut body = req.into_body();
        while let Some(Ok(_)) = http_body_util::BodyExt::frame(&mut body).await {}
        return Err(e.into());
    }
    let message = q.str("message").to_string();
    let reader: Box<dyn std::io::Read + Send> = if src == "-" {
        Box::new(BodyReader::spawn(req.into_body(), DRAIN_LIMIT))
    } else {
        Box::new(
            crate::client::fetch_url(&src)
                .await
                .map_err(|e| ApiError::bad_request(format!("importing from {src}: {e}")))?,
        )
    };
    let (tx, body) = ChannelBody::new(16);
    let engine = ctx.engine.clone();
    tokio::task::spawn_blocking(move || {
        match engine.import_image(reader, &changes, &message, &repo, &tag, &|_, _, _| {}) {
            Ok(id) => ChannelWriter::send_json(&tx, &json!({"status": id})),
            Err(e) => stream_error(&tx, &e.to_string()),
        }
    });
    Ok(streamed("application/json", body))
}

/// `GET /images/get` and `/images/{name}/get`: the images as a tarball. The
/// names are checked first, so a missing one is a plain 404, not a broken tar.
pub(crate) fn save(ctx: &Ctx, names: Vec<String>) -> HandlerResult {
    if names.is_empty() {
        return Err(ApiError::bad_request("no images given"));
    }
    for n in &names {
        ctx.engine.resolve_image(n)?;
    }
    let (tx, body) = ChannelBody::new(8);
    let engine = ctx.engine.clone();
    tokio::task::spawn_blocking(move || {
        let writer = ChannelWriter::new(tx.clone());
        match engine.save_images(&names, writer) {
            Ok(mut w) => {
                let _ = std::io::Write::flush(&mut w);
            }
            Err(e) => {
                // The tar is already partly sent: end the stream with an
                // error so the client sees a failed transfer, not a short file.
                let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
            }
        }
    });
    Ok(streamed("application/x-tar", body))
}
