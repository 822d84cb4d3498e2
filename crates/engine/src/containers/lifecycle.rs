//! Running containers through their shims: start (with attach clients
//! connected before the process runs), monitoring exits, restart policies,
//! kill, stop, wait, removal of running containers, and live restore after a
//! daemon restart.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{broadcast, oneshot};

use super::shim_client::{ShimClient, ShimStream};
use super::{Container, Status, no_such};
use crate::{Engine, Error, Result};

/// A state change of one container, for `wait` and attach.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// The shim is up and the process is about to run.
    Started,
    Exited(i64),
    /// The process could not be started; the container stays `created`.
    /// Waiters keep waiting, as with Docker: the client gives up itself.
    StartFailed,
    Removed,
}

/// Per-engine bookkeeping of running containers.
#[derive(Debug)]
pub struct Supervision {
    pub changes: broadcast::Sender<(String, Change)>,
    /// Attach clients of containers not running yet, by container.
    pending_attach: Mutex<HashMap<String, Attaches>>,
    /// Containers the user stopped or killed, which restart policies leave alone.
    stopped_by_user: Mutex<std::collections::HashSet<String>>,
    /// Whether a thread is warming the kernel's cgroup migration lock.
    warming: Arc<AtomicBool>,
}

#[derive(Debug)]
enum Attaches {
    /// Waiting for a start: each gets the shim's bundle and acknowledges
    /// once connected, so the start lets the process run only after every
    /// such client is listening.
    Waiting(Vec<PendingAttach>),
    /// A start is under way with this bundle: clients connect at once.
    Starting(PathBuf),
}

#[derive(Debug)]
struct PendingAttach {
    ready: oneshot::Sender<(PathBuf, oneshot::Sender<()>)>,
}

/// How an attach client reaches the shim.
enum Connect {
    /// The shim of this bundle is up.
    Now(PathBuf),
    /// When the start sends the bundle; the client acknowledges once connected.
    AtStart(oneshot::Receiver<(PathBuf, oneshot::Sender<()>)>),
}

impl Default for Supervision {
    fn default() -> Self {
        Self {
            changes: broadcast::channel(1024).0,
            pending_attach: Mutex::default(),
            stopped_by_user: Mutex::default(),
            warming: Arc::default(),
        }
    }
}

impl Supervision {
    /// A container is about to start: warms the kernel's cgroup migration
    /// lock on a spare thread, one at a time, so that the init's joining its
    /// cgroup does not wait for it (see [`runtime::cgroups::warm_migration_lock`]).
    pub(crate) fn warm_cgroup_lock(&self) {
        if self.warming.swap(true, Ordering::AcqRel) {
            return;
        }
        let warming = self.warming.clone();
        let spawned = std::thread::Builder::new().name("cgroup-warm".into()).spawn(move || {
            if let Err(e) = runtime::cgroups::warm_migration_lock() {
                tracing::debug!("warming the cgroup migration lock: {e}");
            }
            warming.store(false, Ordering::Release);
        });
        if spawned.is_err() {
            self.warming.store(false, Ordering::Release);
        }
    }

    /// A start of `id` with `bundle` begins: returns the attach clients
    /// waiting for it; those that come until the container shows as running
    /// (or its start fails) connect straight to the shim.
    fn starting(&self, id: &str, bundle: &std::path::Path) -> Vec<PendingAttach> {
        let previous = self
            .pending_attach
            .lock()
            .expect("lock")
            .insert(id.to_string(), Attaches::Starting(bundle.into()));
        match previous {
            Some(Attaches::Waiting(clients)) => clients,
            _ => Vec::new(),
        }
    }

    /// The container is running, failed to start or is gone: no attach
    /// client waits for it any more (those still waiting are let go).
    pub(crate) fn forget_attaches(&self, id: &str) {
        self.pending_attach.lock().expect("lock").remove(id);
    }
}

/// What `wait` waits for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WaitCondition {
    NotRunning,
    NextExit,
    Removed,
}

impl WaitCondition {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "" | "not-running" => Ok(Self::NotRunning),
            "next-exit" => Ok(Self::NextExit),
            "removed" => Ok(Self::Removed),
            other => Err(Error::InvalidArgument(format!("invalid condition: {other:?}"))),
        }
    }
}

impl Engine {
    /// `<exec-root>/containers/<id>`: the shim's bundle.
    pub fn bundle_dir(&self, id: &str) -> PathBuf {
        self.config.exec_root.join("containers").join(id)
    }

    pub(crate) fn shim(&self, id: &str) -> ShimClient {
        ShimClient::new(&self.bundle_dir(id))
    }

    fn publish_change(&self, id: &str, change: Change) {
        let _ = self.supervision.changes.send((id.to_string(), change));
    }

    /// `POST /containers/{id}/start`.
    pub async fn start_container(self: &Arc<Self>, name: &str) -> Result<()> {
        let c = self.container(name)?;
        if c.state.status == Status::Paused {
            return Err(Error::Conflict("cannot start a paused container, try unpause instead".into()));
        }
        if c.state.status.is_active() {
            return Err(Error::NotModified("container already started".into()));
        }
        self.supervision.stopped_by_user.lock().expect("lock").remove(&c.id);
        // In a task of its own: a client that goes away mid-start must not
        // leave a start half done (attach clients waiting, no monitor).
        let engine = self.clone();
        tokio::spawn(async move { engine.launch(&c).await })
            .await
            .map_err(|e| Error::Internal(format!("starting the container: {e}")))?
    }

    /// Starts a shim for `c`, connects waiting attach clients, then lets the
    /// process run. On an exec failure the container stays `created` with
    /// Docker's exit code (126/127) and the error.
    async fn launch(self: &Arc<Self>, c: &Container) -> Result<()> {
        self.supervision.warm_cgroup_lock();
        // Until the container's own overlay is up, no copy may mount its layer.
        let lock = self.fs_locks.get(&c.id);
        let _held = lock.lock().await;
        let bundle = self.bundle_dir(&c.id);
        let engine = self.clone();
        let cc = c.clone();
        let prepared = tokio::task::spawn_blocking(move || engine.write_bundle(&cc))
            .await
            .map_err(|e| Error::Internal(e.to_string()))?;
        if let Err(e) = prepared {
            let _ = image::fsutil::remove_tree(&bundle);
            self.record_start_failure(&c.id, &e.to_string(), 125);
            return Err(e);
        }
        // The daemon's own binary, even when the file has been replaced since
        // (an upgrade): a shim speaks its daemon's protocol.
        let out = tokio::process::Command::new("/proc/self/exe")
            .arg0("berth")
            .arg("shim")
            .arg("start")
            .arg(&bundle)
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .map_err(|e| Error::Internal(format!("starting the shim: {e}")))?;
        if !out.status.success() {
            let msg = String::from_utf8_lossy(&out.stderr).trim().to_string();
            let _ = image::fsutil::remove_tree(&bundle);
            let code =
                if msg.contains("executable file not found") || msg.contains("no such file or directory") {
                    127
                } else if msg.contains("permission denied") {
                    126
                } else {
                    125
                };
            self.record_start_failure(&c.id, &msg, code);
            return Err(Error::Shim(msg, code));
        }
        let pid =
            serde_json::from_slice::<Value>(&out.stdout).ok().and_then(|v| v["pid"].as_u64()).unwrap_or(0)
                as u32;
        // Connect every attach client that is waiting, before the process
        // runs (5 s at most in all: a stuck client loses its output).
        let mut acks = Vec::new();
        for p in self.supervision.starting(&c.id, &bundle) {
            let (ack_tx, ack_rx) = oneshot::channel();
            if p.ready.send((bundle.clone(), ack_tx)).is_ok() {
                acks.push(ack_rx);
            }
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        for a in acks {
            let _ = tokio::time::timeout_at(deadline, a).await;
        }
        if let Err(e) = self.shim(&c.id).call(json!({"op": "start"})).await {
            let (msg, code) = match &e {
                Error::Shim(m, code) => (m.clone(), *code),
                other => (other.to_string(), 125),
            };
            let _ = self.shim(&c.id).call(json!({"op": "shutdown"})).await;
            let _ = image::fsutil::remove_tree(&bundle);
            self.record_start_failure(&c.id, &msg, code);
            return Err(Error::Shim(msg, code));
        }
        let running = self.update_container(&c.id, |c| {
            c.state.status = Status::Running;
            c.state.pid = pid;
            c.state.exit_code = 0;
            c.state.error.clear();
            c.state.oom_killed = false;
            c.state.started_at = image::config::now_rfc3339();
        });
        self.supervision.forget_attaches(&c.id);
        let c = running?;
        self.container_event("start", &c, BTreeMap::new());
        self.publish_change(&c.id, Change::Started);
        self.spawn_monitor(c.id.clone());
        self.start_health_checks(&c);
        Ok(())
    }

    /// A start that failed: the container stays `created` with Docker's exit
    /// code and the error; attach clients still waiting are let go (their
    /// streams close); an AutoRemove container is removed, as Docker does.
    fn record_start_failure(&self, id: &str, msg: &str, code: i64) {
        let _ = self.update_container(id, |c| {
            c.state.exit_code = code;
            c.state.error = msg.to_string();
        });
        self.supervision.forget_attaches(id);
        self.publish_change(id, Change::StartFailed);
        if let Ok(c) = self.container(id)
            && c.host_config.auto_remove
            && self.remove_stopped_container(&c).is_ok()
        {
            self.publish_change(id, Change::Removed);
        }
    }

    /// Waits for the container's exit through its shim, records it, and
    /// applies AutoRemove and the restart policy.
    fn spawn_monitor(self: &Arc<Self>, id: String) {
        let engine = self.clone();
        tokio::spawn(async move {
            let result = engine.shim(&id).call(json!({"op": "wait"})).await;
            let (code, oom, finished) = match &result {
                Ok(v) => (
                    v["exit_code"].as_i64().unwrap_or(255),
                    v["oom_killed"].as_bool().unwrap_or(false),
                    v["finished_at"].as_str().map(str::to_string).unwrap_or_else(image::config::now_rfc3339),
                ),
                Err(_) => engine.exit_from_bundle(&id).unwrap_or((255, false, image::config::now_rfc3339())),
            };
            engine.record_exit(&id, code, oom, finished).await;
        });
    }

    async fn record_exit(self: &Arc<Self>, id: &str, code: i64, oom: bool, finished: String) {
        if self.shim(id).call(json!({"op": "shutdown"})).await.is_err() {
            // The shim is gone (killed, or the machine restarted): what it
            // would have cleaned up, the daemon does.
            self.cleanup_after_shim(id);
        }
        let _ = image::fsutil::remove_tree(&self.bundle_dir(id));
        self.drop_execs(id);
        let Ok(c) = self.update_container(id, |c| {
            c.state.status = Status::Exited;
            c.state.pid = 0;
            c.state.exit_code = code;
            c.state.oom_killed = oom;
            c.state.finished_at = finished;
        }) else {
            return;
        };
        if oom {
            self.container_event("oom", &c, BTreeMap::new());
        }
        let mut attrs = BTreeMap::new();
        attrs.insert("exitCode".to_string(), code.to_string());
        self.container_event("die", &c, attrs);
        self.publish_change(id, Change::Exited(code));
        if c.host_config.auto_remove {
            if self.remove_stopped_container(&c).is_ok() {
                self.publish_change(id, Change::Removed);
            }
            return;
        }
        if let Some(delay) = self.restart_delay(&c, code) {
            let engine = self.clone();
            let id = id.to_string();
            tokio::spawn(async move {
                let _ = engine.update_container(&id, |c| c.state.status = Status::Restarting);
                tokio::time::sleep(delay).await;
                let Ok(c) = engine.update_container(&id, |c| c.restart_count += 1) else { return };
                if c.state.status != Status::Restarting
                    || engine.supervision.stopped_by_user.lock().expect("lock").contains(&id)
                {
                    let _ = engine.update_container(&id, |c| c.state.status = Status::Exited);
                    return;
                }
                engine.container_event("restart", &c, BTreeMap::new());
                if engine.launch(&c).await.is_err() {
                    let _ = engine.update_container(&id, |c| c.state.status = Status::Exited);
                }
            });
        }
    }

    /// Docker's restart rules and back-off: 100 ms doubling per restart, at
    /// most a minute; `None` when the policy says not to restart.
    fn restart_delay(&self, c: &Container, code: i64) -> Option<Duration> {
        if self.supervision.stopped_by_user.lock().expect("lock").contains(&c.id) {
            return None;
        }
        let p = &c.host_config.restart_policy;
        let restart = match p.name.as_str() {
            "always" | "unless-stopped" => true,
            "on-failure" => {
                code != 0 && (p.maximum_retry_count == 0 || (c.restart_count as i64) < p.maximum_retry_count)
            }
            _ => false,
        };
        // A container that ran for 10 s or more starts over with the short delay.
        let ran = image::config::parse_rfc3339(&c.state.started_at)
            .map(|s| time::OffsetDateTime::now_utc().unix_timestamp() - s)
            .unwrap_or(0);
        let n = if ran >= 10 { 0 } else { c.restart_count.min(10) };
        restart.then(|| Duration::from_millis(100u64 << n).min(Duration::from_secs(60)))
    }

    /// Kills what is left of a container whose shim died, and removes its cgroup.
    fn cleanup_after_shim(&self, id: &str) {
        let path = self.bundle_dir(id).join("spec.json");
        let spec = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .and_then(|v| serde_json::from_value::<runtime::Spec>(v["runtime"].clone()).ok());
        if let Some(spec) = spec
            && let Err(e) = runtime::cleanup(&spec)
        {
            tracing::warn!(id, "cleaning up after a dead shim: {e}");
        }
    }

    /// The exit a shim recorded in its bundle, if it has exited.
    fn exit_from_bundle(&self, id: &str) -> Option<(i64, bool, String)> {
        let bytes = std::fs::read(self.bundle_dir(id).join("exit.json")).ok()?;
        let v: Value = serde_json::from_slice(&bytes).ok()?;
        Some((
            v["exit_code"].as_i64()?,
            v["oom_killed"].as_bool().unwrap_or(false),
            v["finished_at"].as_str().unwrap_or_default().to_string(),
        ))
    }

    /// After a daemon restart: re-attach to the shims of running containers,
    /// and record the exits that happened while the daemon was down.
    pub async fn restore(self: &Arc<Self>) {
        for c in self.list_containers() {
            if !c.state.status.is_active() {
                continue;
            }
            if self.shim(&c.id).alive().await {
                tracing::info!(id = %c.short_id(), "re-attached to a running container");
                let _ = self.update_container(&c.id, |c| {
                    if c.state.status == Status::Restarting {
                        c.state.status = Status::Running;
                    }
                });
                self.spawn_monitor(c.id.clone());
                self.start_health_checks(&c);
            } else {
                let (code, oom, finished) =
                    self.exit_from_bundle(&c.id).unwrap_or((255, false, image::config::now_rfc3339()));
                tracing::info!(id = %c.short_id(), code, "container exited while the daemon was down");
                self.record_exit(&c.id, code, oom, finished).await;
            }
        }
    }

    /// `POST /containers/{id}/kill`.
    pub async fn kill_container(&self, name: &str, signal: &str) -> Result<()> {
        let c = self.container(name)?;
        if !c.state.status.is_active() {
            return Err(Error::Conflict(format!(
                "Cannot kill container: {name}: Container {} is not running",
                c.id
            )));
        }
        let signo = signal_number(signal)?;
        self.supervision.stopped_by_user.lock().expect("lock").insert(c.id.clone());
        self.shim(&c.id).call(json!({"op": "kill", "signal": signo, "all": false})).await?;
        self.thaw_after_signal(&c, signo).await;
        self.kill_event(&c, signo);
        Ok(())
    }

    /// The `kill` event of every signal berth sends for a user (kill, stop, rm -f).
    fn kill_event(&self, c: &Container, signo: i32) {
        let mut attrs = BTreeMap::new();
        attrs.insert("signal".to_string(), signo.to_string());
        self.container_event("kill", c, attrs);
    }

    /// `POST /containers/{id}/restart`: stop (if running), start, and the
    /// `restart` event, as Docker.
    pub async fn restart_container(self: &Arc<Self>, name: &str, timeout: Option<i64>) -> Result<()> {
        match self.stop_container(name, timeout).await {
            Ok(()) | Err(Error::NotModified(_)) => {}
            Err(e) => return Err(e),
        }
        let id = self.container(name)?.id;
        self.start_container(&id).await?;
        // An AutoRemove container may be gone already.
        if let Ok(c) = self.container(&id) {
            self.container_event("restart", &c, BTreeMap::new());
        }
        Ok(())
    }

    /// `POST /containers/{id}/stop`: the stop signal, then SIGKILL after the timeout.
    pub async fn stop_container(&self, name: &str, timeout: Option<i64>) -> Result<()> {
        let c = self.container(name)?;
        if !c.state.status.is_active() {
            return Err(Error::NotModified("container already stopped".into()));
        }
        self.supervision.stopped_by_user.lock().expect("lock").insert(c.id.clone());
        if c.state.status == Status::Restarting {
            self.update_container(&c.id, |c| c.state.status = Status::Exited)?;
            return Ok(());
        }
        let mut changes = self.supervision.changes.subscribe();
        let signal =
            c.config.stop_signal.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| "SIGTERM".into());
        let timeout = timeout.or(c.config.stop_timeout).unwrap_or(10).max(0);
        let shim = self.shim(&c.id);
        let signo = signal_number(&signal)?;
        shim.call(json!({"op": "kill", "signal": signo, "all": false})).await?;
        self.kill_event(&c, signo);
        self.thaw_after_signal(&c, signo).await;
        if !self.exited_within(&c.id, &mut changes, Duration::from_secs(timeout as u64)).await {
            let _ = shim.call(json!({"op": "kill", "signal": 9, "all": true})).await;
            self.kill_event(&c, 9);
            self.exited_within(&c.id, &mut changes, Duration::from_secs(30)).await;
        }
        self.container_event("stop", &c, BTreeMap::new());
        Ok(())
    }

    async fn exited_within(
        &self,
        id: &str,
        changes: &mut broadcast::Receiver<(String, Change)>,
        limit: Duration,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if self.container(id).map(|c| !c.state.status.is_active()).unwrap_or(true) {
                return true;
            }
            match tokio::time::timeout_at(deadline, changes.recv()).await {
                Err(_) => return false,
                Ok(Ok((cid, Change::Exited(_) | Change::Removed))) if cid == id => return true,
                Ok(_) => {}
            }
        }
    }

    /// `POST /containers/{id}/wait`: the exit code once `condition` holds.
    pub async fn wait_container(&self, name: &str, condition: WaitCondition) -> Result<i64> {
        let c = self.container(name)?;
        let mut changes = self.supervision.changes.subscribe();
        if condition == WaitCondition::NotRunning && !c.state.status.is_active() {
            return Ok(c.state.exit_code);
        }
        let mut exit = c.state.exit_code;
        loop {
            match changes.recv().await {
                Ok((id, change)) if id == c.id => match (change, condition) {
                    (Change::Exited(code), WaitCondition::Removed) => exit = code,
                    (Change::Exited(code), _) => return Ok(code),
                    (Change::Removed, _) => return Ok(exit),
                    _ => {}
                },
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => match self.container(&c.id) {
                    Ok(now) if !now.state.status.is_active() && condition != WaitCondition::Removed => {
                        return Ok(now.state.exit_code);
                    }
                    Err(_) => return Ok(exit),
                    _ => {}
                },
                Err(_) => return Err(Error::Internal("the daemon is shutting down".into())),
            }
        }
    }

    /// `DELETE /containers/{id}`.
    pub async fn remove_container(&self, name: &str, force: bool) -> Result<()> {
        let c = self.container(name)?;
        if c.state.status.is_active() {
            if !force {
                return Err(Error::Conflict(format!(
                    "You cannot remove a running container {}. Stop the container before attempting removal or force remove",
                    c.id
                )));
            }
            self.supervision.stopped_by_user.lock().expect("lock").insert(c.id.clone());
            let mut changes = self.supervision.changes.subscribe();
            let _ = self.shim(&c.id).call(json!({"op": "kill", "signal": 9, "all": true})).await;
            self.kill_event(&c, 9);
            self.exited_within(&c.id, &mut changes, Duration::from_secs(30)).await;
        }
        let c = self.container(&c.id)?;
        self.remove_stopped_container(&c)?;
        self.publish_change(&c.id, Change::Removed);
        Ok(())
    }

    /// Attaches to the container's output (and input), counting from this
    /// call: a created container started meanwhile lets its process run only
    /// once the returned future has connected (5 s at most), so no output is
    /// lost; the future connects at once to a running container, or to one
    /// being started. The API registers an attach before it answers and
    /// connects while it answers.
    pub fn attach_container(
        self: &Arc<Self>,
        name: &str,
        stdin: bool,
        stdout: bool,
        stderr: bool,
        stdin_once: bool,
    ) -> Result<impl Future<Output = Result<ShimStream>> + Send + 'static> {
        let c = self.container(name)?;
        let req = json!({"op": "attach", "stdin": stdin, "stdout": stdout, "stderr": stderr, "stdin_once": stdin_once});
        // Decided under the lock a start takes to collect its clients, and
        // keeps until the container shows as running: no client falls
        // between the two.
        let connect = {
            let mut pending = self.supervision.pending_attach.lock().expect("lock");
            match pending.get_mut(&c.id) {
                Some(Attaches::Starting(bundle)) => Connect::Now(bundle.clone()),
                _ if self.container(&c.id)?.state.status.is_active() => Connect::Now(self.bundle_dir(&c.id)),
                Some(Attaches::Waiting(clients)) => {
                    let (tx, rx) = oneshot::channel();
                    clients.push(PendingAttach { ready: tx });
                    Connect::AtStart(rx)
                }
                None => {
                    let (tx, rx) = oneshot::channel();
                    pending.insert(c.id.clone(), Attaches::Waiting(vec![PendingAttach { ready: tx }]));
                    Connect::AtStart(rx)
                }
            }
        };
        let engine = self.clone();
        let name = name.to_string();
        Ok(async move {
            let stream = match connect {
                Connect::Now(bundle) => ShimClient::new(&bundle).open(req).await?.1,
                Connect::AtStart(rx) => {
                    let (bundle, ack) = rx.await.map_err(|_| no_such(&name))?;
                    let result = ShimClient::new(&bundle).open(req).await;
                    let _ = ack.send(());
                    result?.1
                }
            };
            engine.container_event("attach", &c, BTreeMap::new());
            Ok(stream)
        })
    }
}

impl Engine {
    /// Sets the window size of a container's tty, or of an exec's.
    pub async fn resize_tty(
        &self,
        container: &str,
        exec: Option<&str>,
        height: u16,
        width: u16,
    ) -> Result<()> {
        let id = match exec {
            Some(e) => self.exec_container(e)?,
            None => self.container(container)?.id,
        };
        let c = self.container(&id)?;
        if !c.state.status.is_active() {
            return Err(Error::Conflict(format!("Container {} is not running", c.id)));
        }
        let mut req = json!({"op": "resize", "height": height, "width": width});
        if let Some(e) = exec {
            req["exec"] = json!(e);
        }
        self.shim(&c.id).call(req).await.map(|_| ())
    }
}

/// `SIGTERM`, `TERM`, `15` → 15; the real-time signals as Docker names
/// them (`RTMIN` = 34 … `RTMIN+n`, `RTMAX-n` … `RTMAX` = 64).
pub fn signal_number(s: &str) -> Result<i32> {
    let invalid = || Error::InvalidArgument(format!("Invalid signal: {s}"));
    if let Ok(n) = s.parse::<i32>()
        && (1..=64).contains(&n)
    {
        return Ok(n);
    }
    let name = s.trim_start_matches("SIG").to_ascii_uppercase();
    let realtime = |base: i32, rest: &str| -> Result<i32> {
        let n = match rest {
            "" => base,
            r if r.starts_with('+') && base == 34 => base + r[1..].parse::<i32>().map_err(|_| invalid())?,
            r if r.starts_with('-') && base == 64 => base - r[1..].parse::<i32>().map_err(|_| invalid())?,
            _ => return Err(invalid()),
        };
        if (34..=64).contains(&n) { Ok(n) } else { Err(invalid()) }
    };
    if let Some(rest) = name.strip_prefix("RTMIN") {
        return realtime(34, rest);
    }
    if let Some(rest) = name.strip_prefix("RTMAX") {
        return realtime(64, rest);
    }
    let n = match name.as_str() {
        "HUP" => 1,
        "INT" => 2,
        "QUIT" => 3,
        "ILL" => 4,
        "TRAP" => 5,
        "ABRT" | "IOT" => 6,
        "BUS" => 7,
        "FPE" => 8,
        "KILL" => 9,
        "USR1" => 10,
        "SEGV" => 11,
        "USR2" => 12,
        "PIPE" => 13,
        "ALRM" => 14,
        "TERM" => 15,
        "STKFLT" => 16,
        "CHLD" => 17,
        "CONT" => 18,
        "STOP" => 19,
        "TSTP" => 20,
        "TTIN" => 21,
        "TTOU" => 22,
        "URG" => 23,
        "XCPU" => 24,
        "XFSZ" => 25,
        "VTALRM" => 26,
        "PROF" => 27,
        "WINCH" => 28,
        "IO" | "POLL" => 29,
        "PWR" => 30,
        "SYS" => 31,
        _ => return Err(invalid()),
    };
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_and_number() {
        assert_eq!(signal_number("SIGTERM").unwrap(), 15);
        assert_eq!(signal_number("kill").unwrap(), 9);
        assert_eq!(signal_number("10").unwrap(), 10);
        assert!(signal_number("SIGNOPE").is_err());
        assert!(signal_number("0").is_err());
        assert_eq!(signal_number("SIGRTMIN+3").unwrap(), 37);
        assert_eq!(signal_number("RTMAX").unwrap(), 64);
        assert_eq!(signal_number("SIGRTMAX-1").unwrap(), 63);
        assert!(signal_number("SIGRTMIN+31").is_err());
        assert!(signal_number("SIGRTMAX+1").is_err());
    }
}
