//! Pause, unpause, top, stats, update and prune of containers, in Docker's
//! JSON.

use std::time::Duration;

use bytes::Bytes;
use engine::containers::Container;
use engine::containers::ops::{BlkioEntry, StatsSample};
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde_json::{Map, Value, json};

use crate::ApiError;
use crate::body::ChannelBody;
use crate::server::{Ctx, HandlerResult, Query, full, json, streamed};

/// Go's zero time, which Docker sends for "not read".
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

fn no_content() -> HandlerResult {
    Ok(full(StatusCode::NO_CONTENT, "text/plain; charset=utf-8", Bytes::new()))
}

pub(crate) async fn pause(ctx: &Ctx, name: &str) -> HandlerResult {
    ctx.engine.pause_container(name).await?;
    no_content()
}

pub(crate) async fn unpause(ctx: &Ctx, name: &str) -> HandlerResult {
    ctx.engine.unpause_container(name).await?;
    no_content()
}

pub(crate) async fn top(ctx: &Ctx, name: &str, q: &Query) -> HandlerResult {
    let top = ctx.engine.top_container(name, q.str("ps_args")).await?;
    json(&json!({"Titles": top.titles, "Processes": top.processes}))
}

/// `POST /containers/{id}/update`: the Resources struct plus `RestartPolicy`.
pub(crate) async fn update(ctx: &Ctx, name: &str, req: Request<Incoming>) -> HandlerResult {
    let body = super::containers::json_body(req).await?;
    let update = serde_json::from_value(body)
        .map_err(|e| ApiError::bad_request(format!("invalid update config: {e}")))?;
    let warnings = ctx.engine.update_container_config(name, update).await?;
    // Docker sends `null` for no warnings.
    json(&json!({"Warnings": if warnings.is_empty() { Value::Null } else { json!(warnings) }}))
}

pub(crate) async fn prune(ctx: &Ctx, q: &Query) -> HandlerResult {
    let pruned = ctx.engine.prune_containers(&q.filters()?).await?;
    json(&json!({
        "ContainersDeleted": if pruned.deleted.is_empty() { Value::Null } else { json!(pruned.deleted) },
        "SpaceReclaimed": pruned.space_reclaimed,
    }))
}

/// `GET /containers/{id}/stats`: with `stream` (the default) one document
/// per second, each with the previous reading as `precpu_stats`; without,
/// one document after two readings a second apart (so the CPU figures have
/// a base), or at once with `one-shot`.
pub(crate) async fn stats(ctx: &Ctx, name: &str, q: &Query) -> HandlerResult {
    let stream = q.get("stream").is_none() || q.bool("stream");
    let one_shot = q.bool("one-shot");
    if stream && one_shot {
        return Err(ApiError::bad_request("cannot have stream=true and one-shot=true"));
    }
    let (c, first) = ctx.engine.container_stats(name).await?;
    if !stream {
        let Some(first) = first else { return json(&stats_json(&c, None, None)) };
        if one_shot {
            return json(&stats_json(&c, Some(&first), None));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        return match ctx.engine.container_stats(&c.id).await? {
            (c, Some(second)) => json(&stats_json(&c, Some(&second), Some(&first))),
            (c, None) => json(&stats_json(&c, None, None)),
        };
    }
    let (tx, body) = ChannelBody::new(4);
    let engine = ctx.engine.clone();
    let id = c.id.clone();
    tokio::spawn(async move {
        let mut pre: Option<StatsSample> = None;
        let mut next = first.map(|s| (c, s));
        loop {
            if let Some((c, s)) = next.take() {
                let mut line = serde_json::to_vec(&stats_json(&c, Some(&s), pre.as_ref())).expect("json");
                line.push(b'\n');
                if tx.send(Ok(Bytes::from(line))).await.is_err() {
                    return;
                }
                pre = Some(s);
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                () = tx.closed() => return,
            }
            match engine.container_stats(&id).await {
                Ok((c, Some(s))) => next = Some((c, s)),
                // Not running: nothing to send until it runs again.
                Ok((_, None)) => pre = None,
                // Removed.
                Err(_) => return,
            }
        }
    });
    Ok(streamed("application/json", body))
}

/// Docker's stats document.
pub(crate) fn stats_json(c: &Container, cur: Option<&StatsSample>, pre: Option<&StatsSample>) -> Value {
    json!({
        "read": cur.map_or(ZERO_TIME, |s| s.read.as_str()),
        "preread": pre.map_or(ZERO_TIME, |s| s.read.as_str()),
        "pids_stats": pids_json(cur),
        "blkio_stats": blkio_json(cur),
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": cpu_json(cur),
        "precpu_stats": cpu_json(pre),
        "memory_stats": memory_json(cur),
        "name": format!("/{}", c.name),
        "id": c.id,
    })
}

fn cpu_json(s: Option<&StatsSample>) -> Value {
    let Some(s) = s else {
        return json!({
            "cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
        });
    };
    let mut usage = json!({
        "total_usage": s.cpu_total_ns,
        "usage_in_kernelmode": s.cpu_kernel_ns,
        "usage_in_usermode": s.cpu_user_ns,
    });
    if !s.cpu_percpu_ns.is_empty() {
        usage["percpu_usage"] = json!(s.cpu_percpu_ns);
    }
    json!({
        "cpu_usage": usage,
        "system_cpu_usage": s.system_cpu_ns,
        "online_cpus": s.online_cpus,
        "throttling_data": {
            "periods": s.throttling_periods,
            "throttled_periods": s.throttled_periods,
            "throttled_time": s.throttled_time_ns,
        },
    })
}

fn memory_json(s: Option<&StatsSample>) -> Value {
    let Some(s) = s else { return json!({}) };
    let mut m = Map::new();
    m.insert("usage".into(), json!(s.memory_usage));
    if let Some(max) = s.memory_max_usage {
        m.insert("max_usage".into(), json!(max));
    }
    m.insert("stats".into(), json!(s.memory_stat));
    if let Some(f) = s.memory_failcnt.filter(|f| *f > 0) {
        m.insert("failcnt".into(), json!(f));
    }
    m.insert("limit".into(), json!(s.memory_limit));
    Value::Object(m)
}

fn pids_json(s: Option<&StatsSample>) -> Value {
    let Some(s) = s else { return json!({}) };
    let mut v = json!({"current": s.pids_current});
    if let Some(l) = s.pids_limit {
        v["limit"] = json!(l);
    }
    v
}

fn blkio_json(s: Option<&StatsSample>) -> Value {
    let entries = |e: &[BlkioEntry]| -> Value {
        e.iter().map(|b| json!({"major": b.major, "minor": b.minor, "op": b.op, "value": b.value})).collect()
    };
    let keys = [
        "io_service_bytes_recursive",
        "io_serviced_recursive",
        "io_queue_recursive",
        "io_service_time_recursive",
        "io_wait_time_recursive",
        "io_merged_recursive",
        "io_time_recursive",
        "sectors_recursive",
    ];
    let mut m = Map::new();
    for k in keys {
        let v = match (s, k) {
            (None, _) => Value::Null,
            (Some(s), "io_service_bytes_recursive") => entries(&s.blkio_bytes),
            // cgroup v2 has only the bytes.
            (Some(s), _) if s.cgroup_v2 => Value::Null,
            (Some(s), "io_serviced_recursive") => entries(&s.blkio_ios),
            (Some(_), _) => json!([]),
        };
        m.insert(k.into(), v);
    }
    Value::Object(m)
}
