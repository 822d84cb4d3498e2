//! The shim's [`Runtime`] on berth's `runtime` crate: namespaces, cgroups,
//! the real container.

use serde_json::{Value, json};

use crate::rt::{ErrorKind, Result, Runtime, RuntimeError, Stdio};

/// The container, once created.
#[derive(Debug, Default)]
pub struct RealRuntime {
    spec: Option<runtime::Spec>,
    created: Option<runtime::Created>,
}

impl RealRuntime {
    pub fn new() -> RealRuntime {
        RealRuntime::default()
    }

    fn created(&self) -> Result<&runtime::Created> {
        self.created.as_ref().ok_or_else(|| RuntimeError::other("the container was not created"))
    }
}

/// Keeps Docker's 127/126 for exec failures, 125 for everything else.
fn convert(e: runtime::RuntimeError) -> RuntimeError {
    let kind = match e.exit_code() {
        Some(127) => ErrorKind::NotFound,
        Some(126) => ErrorKind::PermissionDenied,
        _ => ErrorKind::Other,
    };
    RuntimeError::new(kind, e.to_string())
}

fn cgroup_error(e: runtime::CgroupError) -> RuntimeError {
    RuntimeError::other(e.to_string())
}

fn stdio(s: Stdio) -> runtime::Stdio {
    match s {
        Stdio::Pipes { stdin, stdout, stderr } => {
            runtime::Stdio::Pipes { stdin: Some(stdin), stdout, stderr }
        }
        Stdio::Tty { pty_slave } => runtime::Stdio::Tty { pty_slave },
    }
}

fn pid(raw: i32) -> Result<runtime::Pid> {
    runtime::Pid::from_raw(raw).ok_or_else(|| RuntimeError::other(format!("invalid pid {raw}")))
}

impl Runtime for RealRuntime {
    fn create(&mut self, spec: &Value, io: Stdio) -> Result<i32> {
        let spec =
            container_spec(spec).map_err(|e| RuntimeError::other(format!("invalid runtime spec: {e}")))?;
        let created = runtime::create(&spec, stdio(io)).map_err(convert)?;
        let pid = created.pid.as_raw_nonzero().get();
        self.spec = Some(spec);
        self.created = Some(created);
        Ok(pid)
    }

    fn start(&mut self) -> Result<()> {
        runtime::start(self.created()?).map_err(convert)
    }

    fn exec(&mut self, init_pid: i32, spec: &Value, io: Stdio) -> Result<i32> {
        let container =
            self.spec.as_ref().ok_or_else(|| RuntimeError::other("the container was not created"))?;
        let exec =
            exec_spec(container, spec).map_err(|e| RuntimeError::other(format!("invalid exec spec: {e}")))?;
        let pid = runtime::exec(pid(init_pid)?, &exec, stdio(io)).map_err(convert)?;
        Ok(pid.as_raw_nonzero().get())
    }

    fn kill_all(&mut self, signal: i32) -> Result<()> {
        let cgroup = &self.created()?.cgroup;
        if signal == libc::SIGKILL {
            // Freezes (or uses cgroup.kill) so nothing forks away meanwhile.
            return cgroup.kill_all().map_err(cgroup_error);
        }
        for p in cgroup.pids().map_err(cgroup_error)? {
            // A process may exit between the listing and the signal.
            let _ = runtime::signal(pid(p)?, signal);
        }
        Ok(())
    }

    fn pause(&mut self) -> Result<()> {
        self.created()?.cgroup.freeze().map_err(cgroup_error)
    }

    fn resume(&mut self) -> Result<()> {
        self.created()?.cgroup.thaw().map_err(cgroup_error)
    }

    fn stats(&mut self) -> Result<Value> {
        let s = self.created()?.cgroup.stats().map_err(cgroup_error)?;
        Ok(json!({
            "memory_usage": s.memory_usage,
            "memory_limit": s.memory_limit,
            "memory_max_usage": s.memory_max_usage,
            "cpu_usage_ns": s.cpu_usage_ns,
            "pids_current": s.pids_current,
            "pids_limit": s.pids_limit,
            "oom_kills": s.oom_kills,
        }))
    }

    fn oom_killed(&mut self) -> bool {
        self.created.as_ref().and_then(|c| c.cgroup.stats().ok()).is_some_and(|s| s.oom_kills > 0)
    }

    fn cleanup(&mut self) -> Result<()> {
        match &self.spec {
            Some(spec) => runtime::cleanup(spec).map_err(convert),
            None => Ok(()),
        }
    }
}

/// The container's spec: the fields given over Docker's defaults, so a
/// caller need only send what differs (`id`, `rootfs` and `args` at least).
fn container_spec(given: &Value) -> serde_json::Result<runtime::Spec> {
    let id: String = serde_json::from_value(given["id"].clone())?;
    let rootfs: runtime::Rootfs = serde_json::from_value(given["rootfs"].clone())?;
    let args: Vec<String> = serde_json::from_value(given["args"].clone())?;
    let mut spec = serde_json::to_value(runtime::Spec::docker_defaults(id, rootfs, args))?;
    merge(&mut spec, given);
    serde_json::from_value(spec)
}

/// An exec's spec: the fields given over the container's own settings, as
/// `docker exec` inherits them.
fn exec_spec(container: &runtime::Spec, given: &Value) -> serde_json::Result<runtime::ExecSpec> {
    let args: Vec<String> = serde_json::from_value(given["args"].clone())?;
    let mut spec = serde_json::to_value(runtime::ExecSpec::for_container(container, args))?;
    merge(&mut spec, given);
    serde_json::from_value(spec)
}

/// Deep-merges `over` into `base`: structs field by field, anything else
/// replaced. An enum variant (serde's `{"Variant": ...}`, the only objects
/// whose keys are capitalised in these specs) replaces the whole value, as
/// merging two variants would make neither.
fn merge(base: &mut Value, over: &Value) {
    let is_variant = |o: &serde_json::Map<String, Value>| {
        o.len() == 1 && o.keys().all(|k| k.starts_with(char::is_uppercase))
    };
    match (base, over) {
        (Value::Object(b), Value::Object(o)) if !is_variant(o) => {
            for (k, v) in o {
                merge(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, o) => *b = o.clone(),
    }
}
