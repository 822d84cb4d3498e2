//! `docker exec`: processes started inside a running container by its shim.
//! Exec records live in memory, as Docker's do: they do not survive the daemon.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use serde_json::{Value, json};

use super::shim_client::{ShimClient, ShimStream};
use super::{Status, no_such};
use crate::{Engine, Error, Result};

/// `POST /containers/{id}/exec`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecConfig {
    pub cmd: Vec<String>,
    pub env: Option<Vec<String>>,
    pub user: String,
    pub working_dir: String,
    pub tty: bool,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    pub privileged: bool,
    pub detach_keys: String,
    pub console_size: Option<[u16; 2]>,
}

#[derive(Debug, Clone)]
pub struct Exec {
    pub id: String,
    pub container_id: String,
    pub config: ExecConfig,
    pub running: bool,
    pub exit_code: Option<i64>,
    pub pid: u32,
}

#[derive(Debug, Default)]
pub struct Execs(Mutex<HashMap<String, Exec>>);

impl Engine {
    pub fn create_exec(&self, container: &str, config: ExecConfig) -> Result<String> {
        let c = self.container(container)?;
        match c.state.status {
            Status::Paused => {
                return Err(Error::Conflict(format!(
                    "Container {container} is paused, unpause the container before exec"
                )));
            }
            s if !s.is_active() => return Err(Error::Conflict(format!("Container {} is not running", c.id))),
            _ => {}
        }
        if config.cmd.is_empty() {
            return Err(Error::InvalidArgument("No exec command specified".into()));
        }
        // The exec joins the container's cgroups: the same kernel wait as a start.
        self.supervision.warm_cgroup_lock();
        let id = super::new_id();
        let exec = Exec {
            id: id.clone(),
            container_id: c.id.clone(),
            config,
            running: false,
            exit_code: None,
            pid: 0,
        };
        self.execs.0.lock().expect("execs lock").insert(id.clone(), exec);
        let mut attrs = BTreeMap::new();
        attrs.insert("execID".to_string(), id.clone());
        self.container_event(&format!("exec_create: {}", self.exec_command(&id)), &c, attrs);
        Ok(id)
    }

    fn exec_command(&self, id: &str) -> String {
        self.execs.0.lock().expect("execs lock").get(id).map(|e| e.config.cmd.join(" ")).unwrap_or_default()
    }

    /// Starts an exec; unless `detach`, returns the stream of its output
    /// (and input), which ends when the process has exited.
    pub async fn start_exec(self: &Arc<Self>, id: &str, detach: bool) -> Result<Option<ShimStream>> {
        // Claimed under the lock: of two starts, one runs it.
        let exec = {
            let mut execs = self.execs.0.lock().expect("execs lock");
            let e =
                execs.get_mut(id).ok_or_else(|| Error::NotFound(format!("No such exec instance: {id}")))?;
            if e.running || e.exit_code.is_some() {
                return Err(Error::Conflict(format!("Error: Exec command {id} has already run")));
            }
            e.running = true;
            e.clone()
        };
        // In a task of its own: a client that goes away mid-start leaves
        // the exec's record right all the same.
        let engine = self.clone();
        let id = id.to_string();
        tokio::spawn(async move { engine.run_exec(&id, &exec, detach).await })
            .await
            .map_err(|e| Error::Internal(format!("starting the exec: {e}")))?
    }

    async fn run_exec(self: &Arc<Self>, id: &str, exec: &Exec, detach: bool) -> Result<Option<ShimStream>> {
        let unclaim = |exit_code: Option<i64>| {
            if let Some(e) = self.execs.0.lock().expect("execs lock").get_mut(id) {
                e.running = false;
                e.exit_code = exit_code;
            }
        };
        let c = match self.container(&exec.container_id) {
            Ok(c) if c.state.status == Status::Paused => Err(Error::Conflict(format!(
                "Container {} is paused, unpause the container before exec",
                c.name
            ))),
            Ok(c) if !c.state.status.is_active() => {
                Err(Error::Conflict(format!("Container {} is not running", c.id)))
            }
            other => other,
        };
        let c = c.inspect_err(|_| unclaim(None))?;
        let bundle = self.bundle_dir(&c.id);
        let spec = exec_spec(&bundle, &c, &exec.config).inspect_err(|_| unclaim(None))?;
        let req = json!({"op": "exec", "id": id, "spec": spec, "tty": exec.config.tty, "stdin": exec.config.attach_stdin, "detach": detach, "console_size": exec.config.console_size});
        let shim = ShimClient::new(&bundle);
        let started = if detach {
            shim.call(req).await.map(|a| (a, None))
        } else {
            shim.open(req).await.map(|(a, s)| (a, Some(s)))
        };
        let (answer, stream) = match started {
            Ok(started) => started,
            // A process that could not be started ends the exec, as Docker:
            // 127 when the command was not found, else 126.
            Err(Error::Shim(message, code)) => {
                let code = if code == 127 { 127 } else { 126 };
                unclaim(Some(code));
                return Err(Error::Shim(message, code));
            }
            Err(e) => {
                unclaim(None);
                return Err(e);
            }
        };
        let pid = answer["pid"].as_u64().unwrap_or(0) as u32;
        if let Some(e) = self.execs.0.lock().expect("execs lock").get_mut(id) {
            e.pid = pid;
        }
        let mut attrs = BTreeMap::new();
        attrs.insert("execID".to_string(), id.to_string());
        self.container_event(&format!("exec_start: {}", exec.config.cmd.join(" ")), &c, attrs);
        self.watch_exec(&c, id);
        Ok(stream)
    }

    /// Records the exec's exit when its shim reports it, with Docker's
    /// `exec_die` event. (One shim connection per running exec.)
    fn watch_exec(self: &Arc<Self>, c: &super::Container, id: &str) {
        let (engine, c, id) = (self.clone(), c.clone(), id.to_string());
        tokio::spawn(async move {
            let Ok(state) = engine.shim(&c.id).call(json!({"op": "exec_wait", "id": id})).await else {
                return;
            };
            let code = state["exit_code"].as_i64().unwrap_or(-1);
            if let Some(e) = engine.execs.0.lock().expect("execs lock").get_mut(&id) {
                e.running = false;
                e.exit_code = Some(code);
            }
            let mut attrs = BTreeMap::new();
            attrs.insert("execID".to_string(), id);
            attrs.insert("exitCode".to_string(), code.to_string());
            engine.container_event("exec_die", &c, attrs);
        });
    }

    /// An exec's current state, asking the shim whether it still runs.
    pub async fn inspect_exec(&self, id: &str) -> Result<Exec> {
        let exec = self
            .execs
            .0
            .lock()
            .expect("execs lock")
            .get(id)
            .cloned()
            .ok_or_else(|| Error::NotFound(format!("No such exec instance: {id}")))?;
        if !exec.running {
            return Ok(exec);
        }
        let state = ShimClient::new(&self.bundle_dir(&exec.container_id))
            .call(json!({"op": "exec_state", "id": id}))
            .await;
        let mut execs = self.execs.0.lock().expect("execs lock");
        let e = execs.get_mut(id).ok_or_else(|| no_such(id))?;
        match state {
            Ok(v) if !v["running"].as_bool().unwrap_or(false) => {
                e.running = false;
                e.exit_code = v["exit_code"].as_i64();
            }
            Ok(_) => {}
            // The container (and its shim) is gone, and the exec with it.
            Err(_) => {
                e.running = false;
                e.exit_code.get_or_insert(137);
            }
        }
        Ok(e.clone())
    }

    /// The container an exec runs in.
    pub fn exec_container(&self, id: &str) -> Result<String> {
        let execs = self.execs.0.lock().expect("execs lock");
        execs
            .get(id)
            .map(|e| e.container_id.clone())
            .ok_or_else(|| Error::NotFound(format!("No such exec instance: {id}")))
    }

    /// The IDs of a container's execs (`ExecIDs` of `inspect`).
    pub fn exec_ids(&self, container_id: &str) -> Vec<String> {
        let execs = self.execs.0.lock().expect("execs lock");
        let mut ids: Vec<String> =
            execs.values().filter(|e| e.container_id == container_id).map(|e| e.id.clone()).collect();
        ids.sort();
        ids
    }

    /// Forgets one exec (a health probe that has run).
    pub(crate) fn forget_exec(&self, id: &str) {
        self.execs.0.lock().expect("execs lock").remove(id);
    }

    /// Forgets the execs of a container that exited.
    pub(crate) fn drop_execs(&self, container_id: &str) {
        self.execs.0.lock().expect("execs lock").retain(|_, e| e.container_id != container_id);
    }
}

/// The runtime's exec spec: the container's own settings (from the spec the
/// shim was started with), with the exec's command, environment, user and
/// working directory on top.
fn exec_spec(bundle: &std::path::Path, c: &super::Container, cfg: &ExecConfig) -> Result<Value> {
    let path = bundle.join("spec.json");
    let bytes =
        std::fs::read(&path).map_err(|e| Error::Internal(format!("reading {}: {e}", path.display())))?;
    let spec: Value = serde_json::from_slice(&bytes)
        .map_err(|e| Error::Internal(format!("parsing {}: {e}", path.display())))?;
    let rt = &spec["runtime"];
    let mut env = super::spec::process_env(&c.config, cfg.tty);
    for e in cfg.env.iter().flatten() {
        let key = e.split('=').next().unwrap_or(e);
        env.retain(|x| x.split('=').next() != Some(key));
        env.push(e.clone());
    }
    // `exec -u` keeps the container's `--group-add`, as Docker's does.
    let user = if cfg.user.is_empty() {
        rt["user"].clone()
    } else {
        json!({"Lookup": {"user": cfg.user, "group_add": rt["user"]["Lookup"]["group_add"].as_array().cloned().unwrap_or_default()}})
    };
    Ok(json!({
        "args": cfg.cmd,
        "env": env,
        "cwd": if cfg.working_dir.is_empty() { rt["cwd"].clone() } else { json!(cfg.working_dir) },
        "user": user,
        "capabilities": rt["capabilities"],
        "privileged": cfg.privileged || rt["privileged"].as_bool().unwrap_or(false),
        "no_new_privileges": rt["no_new_privileges"],
        "seccomp": if cfg.privileged { json!("Unconfined") } else { rt["seccomp"].clone() },
        "umask": rt["umask"],
        "rlimits": rt["rlimits"],
        "oom_score_adj": rt["oom_score_adj"],
    }))
}
