//! Health checks (`HEALTHCHECK`, `--health-*`): while a container runs, a
//! loop runs its check as an exec (through the engine's exec path) on the
//! interval, with a timeout, and keeps Docker's `State.Health`: the status
//! (`starting`, then `healthy` or `unhealthy`), the failing streak and the
//! last five results, with a `health_status: …` event at each change.
//!
//! The loop belongs to one run of the container (its `StartedAt`): it ends
//! by itself once the container stopped or started again, skips its probes
//! while the container is paused, and is started again with the container
//! (and after a daemon restart, by live restore). The health of running
//! containers is kept in the engine's memory and written to
//! `<root>/containers/<id>/health.json` at each result, so a stopped
//! container keeps its last health, and a restarted daemon finds it. Probe
//! execs are forgotten once they have run, as Docker's are.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::io::AsyncReadExt;

use super::exec::ExecConfig;
use super::{Container, ContainerConfig, Status};
use crate::{Engine, Error, Filters, Result};

/// Longest probe output kept; longer output is cut and marked with `...`.
const MAX_OUTPUT: usize = 4096;
/// Results kept in `Log`.
const MAX_LOG: usize = 5;
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_START_INTERVAL: Duration = Duration::from_secs(5);
const DEFAULT_RETRIES: i64 = 3;

pub const STARTING: &str = "starting";
pub const HEALTHY: &str = "healthy";
pub const UNHEALTHY: &str = "unhealthy";

/// `State.Health` of `inspect`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    pub status: String,
    pub failing_streak: u32,
    pub log: Vec<HealthResult>,
}

/// One probe.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthResult {
    pub start: String,
    pub end: String,
    pub exit_code: i64,
    pub output: String,
}

/// A container's `Healthcheck`, with Docker's defaults for zero values.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// The command, `CMD-SHELL` turned into the shell's `-c`.
    pub cmd: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub start_period: Duration,
    pub start_interval: Duration,
    pub retries: i64,
}

impl Check {
    /// `None` without a check: no `Healthcheck`, an empty `Test`, `NONE`,
    /// or a test type Docker does not know.
    pub fn of(config: &ContainerConfig) -> Option<Check> {
        let hc = config.healthcheck.as_ref()?;
        let test: Vec<String> = serde_json::from_value(hc.get("Test")?.clone()).ok()?;
        let cmd = match test.first().map(String::as_str)? {
            "CMD" => test[1..].to_vec(),
            "CMD-SHELL" => {
                let mut shell: Vec<String> = config
                    .rest
                    .get("Shell")
                    .and_then(|s| serde_json::from_value::<Vec<String>>(s.clone()).ok())
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
                shell.extend(test[1..].iter().cloned());
                shell
            }
            _ => return None,
        };
        if cmd.is_empty() {
            return None;
        }
        let nanos = |k: &str, default: Duration| match hc.get(k).and_then(Value::as_i64) {
            Some(n) if n > 0 => Duration::from_nanos(n as u64),
            _ => default,
        };
        Some(Check {
            cmd,
            interval: nanos("Interval", DEFAULT_INTERVAL),
            timeout: nanos("Timeout", DEFAULT_TIMEOUT),
            start_period: nanos("StartPeriod", Duration::ZERO),
            start_interval: nanos("StartInterval", DEFAULT_START_INTERVAL),
            retries: hc.get("Retries").and_then(Value::as_i64).filter(|r| *r > 0).unwrap_or(DEFAULT_RETRIES),
        })
    }

    /// Docker's wait before the next probe: the interval, but within the
    /// start period the start interval while still starting, and never
    /// past the end of the start period.
    pub fn next_delay(&self, since_start: Duration, status: &str) -> Duration {
        if since_start >= self.start_period {
            return self.interval;
        }
        let remaining = self.start_period - since_start;
        if remaining < self.interval {
            return remaining;
        }
        if status == STARTING { self.start_interval } else { self.interval }
    }
}

impl Health {
    /// Records a probe's result (Docker's `handleProbeResult`); returns the
    /// new status when it changed.
    pub fn record(&mut self, check: &Check, result: HealthResult, since_start: Duration) -> Option<String> {
        let old = self.status.clone();
        if self.log.len() >= MAX_LOG {
            self.log.drain(..=self.log.len() - MAX_LOG);
        }
        let ok = result.exit_code == 0;
        self.log.push(result);
        if ok {
            self.failing_streak = 0;
            self.status = HEALTHY.into();
        } else if !(self.status == STARTING && since_start < check.start_period) {
            // Failures during the start period do not count while starting.
            self.failing_streak += 1;
            if i64::from(self.failing_streak) >= check.retries {
                self.status = UNHEALTHY.into();
            }
        }
        (self.status != old).then(|| self.status.clone())
    }
}

/// The health of running containers, by container ID, with the
/// `StartedAt` of the run whose loop keeps it.
#[derive(Debug, Default)]
pub struct LiveHealth(Mutex<HashMap<String, (String, Health)>>);

impl LiveHealth {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, Health)>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).expect("formattable")
}

/// Time since `started_at` (RFC 3339) at `t`.
fn since(started_at: &str, t: OffsetDateTime) -> Duration {
    OffsetDateTime::parse(started_at, &Rfc3339)
        .ok()
        .and_then(|s| Duration::try_from(t - s).ok())
        .unwrap_or(Duration::ZERO)
}

/// Go's `time.Duration.String()`: `30s`, `200ms`, `1m30s`, `1.5s`.
pub fn go_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    let trim = |whole: u128, frac: u128, digits: usize| {
        let f = format!("{frac:0digits$}");
        let f = f.trim_end_matches('0');
        if f.is_empty() { whole.to_string() } else { format!("{whole}.{f}") }
    };
    if ns == 0 {
        return "0s".into();
    }
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    if ns < 1_000_000 {
        return format!("{}µs", trim(ns / 1_000, ns % 1_000, 3));
    }
    if ns < 1_000_000_000 {
        return format!("{}ms", trim(ns / 1_000_000, ns % 1_000_000, 6));
    }
    let secs = ns / 1_000_000_000;
    let s = trim(secs % 60, ns % 1_000_000_000, 9);
    match (secs / 3600, secs / 60 % 60) {
        (0, 0) => format!("{s}s"),
        (0, m) => format!("{m}m{s}s"),
        (h, m) => format!("{h}h{m}m{s}s"),
    }
}

impl Engine {
    /// The health part of `docker ps`'s STATUS for a running container:
    /// `health: starting`, `healthy` or `unhealthy`; `None` without a check.
    pub fn health_label(&self, id: &str) -> Option<String> {
        let status = self.health.lock().get(id).map(|(_, h)| h.status.clone())?;
        Some(if status == STARTING { "health: starting".into() } else { status })
    }

    fn health_path(&self, id: &str) -> std::path::PathBuf {
        self.container_dir(id).join("health.json")
    }

    /// A container's `State.Health`: live while it runs, else as last
    /// recorded; `None` for a container that never had a check.
    pub fn container_health(&self, id: &str) -> Option<Health> {
        if let Some((_, h)) = self.health.lock().get(id) {
            return Some(h.clone());
        }
        let bytes = std::fs::read(self.health_path(id)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    fn save_health(&self, id: &str, h: &Health) {
        // Best effort, as Docker's: a lost write costs one result after a crash.
        let path = self.health_path(id);
        let tmp = path.with_extension("json.tmp");
        let bytes = serde_json::to_vec(h).expect("json");
        if std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, &path)).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }

    /// `docker ps --filter health=…`: `starting`, `healthy`, `unhealthy`, or
    /// `none` for containers without a check.
    pub fn filter_health(&self, list: Vec<Container>, filters: &Filters) -> Result<Vec<Container>> {
        let wanted = filters.get("health");
        if wanted.is_empty() {
            return Ok(list);
        }
        if let Some(v) = wanted.iter().find(|v| ![STARTING, HEALTHY, UNHEALTHY, "none"].contains(&v.as_str()))
        {
            return Err(Error::InvalidArgument(format!("Unrecognised filter value for health: {v}")));
        }
        Ok(list
            .into_iter()
            .filter(|c| {
                let status = match Check::of(&c.config) {
                    Some(_) => {
                        self.container_health(&c.id).map(|h| h.status).unwrap_or_else(|| STARTING.into())
                    }
                    None => "none".into(),
                };
                wanted.contains(&status)
            })
            .collect())
    }

    /// Starts the health check loop for this run of `c` (called when it
    /// has started, and for running containers at live restore): the
    /// status starts over at `starting`, the log is kept.
    pub(crate) fn start_health_checks(self: &Arc<Self>, c: &Container) {
        let Some(check) = Check::of(&c.config) else {
            self.health.lock().remove(&c.id);
            return;
        };
        let run = c.state.started_at.clone();
        let mut h = self.container_health(&c.id).unwrap_or_default();
        h.status = STARTING.into();
        h.failing_streak = 0;
        self.save_health(&c.id, &h);
        self.health.lock().insert(c.id.clone(), (run.clone(), h));
        let engine = self.clone();
        let id = c.id.clone();
        tokio::spawn(async move {
            engine.health_loop(&id, &run, &check).await;
            let mut l = engine.health.lock();
            if l.get(&id).is_some_and(|(r, _)| *r == run) {
                l.remove(&id);
            }
        });
    }

    /// Whether `run` is still the container's current run.
    fn current_run(&self, id: &str, run: &str) -> Option<Container> {
        self.container(id).ok().filter(|c| c.state.started_at == run && c.state.status.is_active())
    }

    async fn health_loop(self: &Arc<Self>, id: &str, run: &str, check: &Check) {
        loop {
            let status = self.health.lock().get(id).map(|(_, h)| h.status.clone()).unwrap_or_default();
            tokio::time::sleep(check.next_delay(since(run, OffsetDateTime::now_utc()), &status)).await;
            let Some(c) = self.current_run(id, run) else { return };
            if c.state.status != Status::Running {
                // Paused or restarting: no probe until it runs again.
                continue;
            }
            let start = OffsetDateTime::now_utc();
            let result = self.probe(&c, check, start).await;
            let Some(c) = self.current_run(id, run) else { return };
            if c.state.status != Status::Running {
                // Paused meanwhile: the probe was cut short, not failed.
                continue;
            }
            let changed = {
                let mut l = self.health.lock();
                let Some((r, h)) = l.get_mut(id) else { return };
                if r != run {
                    return;
                }
                let changed = h.record(check, result, since(run, start));
                self.save_health(id, h);
                changed
            };
            if let Some(status) = changed {
                self.container_event(&format!("health_status: {status}"), &c, BTreeMap::new());
            }
        }
    }

    /// Runs the check once as an exec in the container.
    async fn probe(self: &Arc<Self>, c: &Container, check: &Check, start: OffsetDateTime) -> HealthResult {
        let mut result = HealthResult { start: rfc3339(start), exit_code: -1, ..Default::default() };
        let config = ExecConfig {
            cmd: check.cmd.clone(),
            attach_stdout: true,
            attach_stderr: true,
            ..Default::default()
        };
        let outcome = match self.create_exec(&c.id, config) {
            Ok(exec_id) => {
                let outcome = self.run_probe_exec(&exec_id, check.timeout).await;
                self.forget_exec(&exec_id);
                outcome
            }
            Err(e) => Err(e),
        };
        match outcome {
            Ok((code, output)) => {
                result.exit_code = code;
                result.output = output;
            }
            Err(e) => result.output = e.to_string(),
        }
        result.end = rfc3339(OffsetDateTime::now_utc());
        result
    }

    /// Starts the exec and collects its output until it exits or `timeout`
    /// passes (then it is killed: exit code -1, Docker's message).
    async fn run_probe_exec(self: &Arc<Self>, exec_id: &str, timeout: Duration) -> Result<(i64, String)> {
        let stream = self.start_exec(exec_id, false).await?;
        let mut output = Output::default();
        let read = async {
            if let Some(mut s) = stream {
                let mut buf = [0u8; 8192];
                loop {
                    match s.stream.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => output.feed(&buf[..n]),
                    }
                }
            }
        };
        if tokio::time::timeout(timeout, read).await.is_err() {
            self.kill_exec(exec_id).await;
            let text = output.text();
            let msg = format!("Health check exceeded timeout ({})", go_duration(timeout));
            return Ok((-1, if text.is_empty() { msg } else { format!("{msg}: {text}") }));
        }
        // The shim ends the stream once the process has exited.
        for _ in 0..100 {
            let e = self.inspect_exec(exec_id).await?;
            if !e.running {
                return Ok((e.exit_code.unwrap_or(-1), output.text()));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Err(Error::Internal(format!("health check exec {exec_id} has no exit code")))
    }

    /// Kills a probe that ran too long. A pidfd taken while the shim still
    /// reports the exec running names that very process (the shim has not
    /// reaped it, so its pid cannot have been reused).
    async fn kill_exec(&self, exec_id: &str) {
        let pid = self.inspect_exec(exec_id).await.map(|e| e.pid).unwrap_or(0);
        let Some(pid) = rustix::process::Pid::from_raw(pid as i32) else { return };
        let Ok(fd) = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()) else { return };
        if self.inspect_exec(exec_id).await.is_ok_and(|e| e.running) {
            let _ = rustix::process::pidfd_send_signal(&fd, rustix::process::Signal::KILL);
        }
    }
}

/// A probe's output: the payloads of the stdout and stderr frames, up to
/// [`MAX_OUTPUT`] bytes.
#[derive(Debug, Default)]
struct Output {
    pending: Vec<u8>,
    kept: Vec<u8>,
    truncated: bool,
}

impl Output {
    fn feed(&mut self, data: &[u8]) {
        self.pending.extend_from_slice(data);
        let mut at = 0;
        while self.pending.len() - at >= 8 {
            let h = &self.pending[at..at + 8];
            let len = u32::from_be_bytes([h[4], h[5], h[6], h[7]]) as usize;
            if self.pending.len() - at - 8 < len {
                break;
            }
            let payload = &self.pending[at + 8..at + 8 + len];
            let room = MAX_OUTPUT - self.kept.len();
            self.kept.extend_from_slice(&payload[..payload.len().min(room)]);
            self.truncated |= payload.len() > room;
            at += 8 + len;
        }
        self.pending.drain(..at);
    }

    fn text(&self) -> String {
        let mut s = String::from_utf8_lossy(&self.kept).into_owned();
        if self.truncated {
            s.push_str("...");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(hc: Value) -> ContainerConfig {
        serde_json::from_value(json!({"Image": "x", "Healthcheck": hc})).unwrap()
    }

    #[test]
    fn checks_from_the_config() {
        let c = Check::of(&config(
            json!({"Test": ["CMD-SHELL", "test -f /ok"], "Interval": 200_000_000, "Retries": 2}),
        ))
        .unwrap();
        assert_eq!(c.cmd, ["/bin/sh", "-c", "test -f /ok"]);
        assert_eq!(c.interval, Duration::from_millis(200));
        assert_eq!(c.timeout, DEFAULT_TIMEOUT);
        assert_eq!(c.retries, 2);
        let c = Check::of(&config(json!({"Test": ["CMD", "true", "x"]}))).unwrap();
        assert_eq!(
            (c.cmd, c.interval, c.retries),
            (vec!["true".to_string(), "x".into()], DEFAULT_INTERVAL, 3)
        );
        assert!(Check::of(&config(json!({"Test": ["NONE"]}))).is_none());
        assert!(Check::of(&config(json!({"Test": []}))).is_none());
        assert!(Check::of(&config(Value::Null)).is_none());
        let mut cfg = config(json!({"Test": ["CMD-SHELL", "x"]}));
        cfg.rest.insert("Shell".into(), json!(["/bin/bash", "-ec"]));
        assert_eq!(Check::of(&cfg).unwrap().cmd, ["/bin/bash", "-ec", "x"]);
    }

    fn result(code: i64) -> HealthResult {
        HealthResult { exit_code: code, ..Default::default() }
    }

    #[test]
    fn statuses_follow_docker() {
        let check = Check::of(&config(json!({"Test": ["CMD", "x"], "Retries": 2}))).unwrap();
        let mut h = Health { status: STARTING.into(), ..Default::default() };
        let late = Duration::from_secs(100);
        assert_eq!(h.record(&check, result(1), late), None);
        assert_eq!(h.failing_streak, 1);
        assert_eq!(h.record(&check, result(1), late).as_deref(), Some(UNHEALTHY));
        assert_eq!(h.record(&check, result(1), late), None);
        assert_eq!(h.failing_streak, 3);
        assert_eq!(h.record(&check, result(0), late).as_deref(), Some(HEALTHY));
        assert_eq!(h.failing_streak, 0);
        for _ in 0..10 {
            h.record(&check, result(0), late);
        }
        assert_eq!(h.log.len(), MAX_LOG);
    }

    #[test]
    fn the_start_period_forgives_failures_while_starting() {
        let check =
            Check::of(&config(json!({"Test": ["CMD", "x"], "Retries": 1, "StartPeriod": 10_000_000_000i64})))
                .unwrap();
        let mut h = Health { status: STARTING.into(), ..Default::default() };
        assert_eq!(h.record(&check, result(1), Duration::from_secs(1)), None);
        assert_eq!((h.status.as_str(), h.failing_streak), (STARTING, 0));
        assert_eq!(h.record(&check, result(1), Duration::from_secs(11)).as_deref(), Some(UNHEALTHY));
        // Docker's schedule: never past the end of the start period …
        assert_eq!(check.next_delay(Duration::from_secs(1), STARTING), Duration::from_secs(9));
        assert_eq!(check.next_delay(Duration::from_secs(20), STARTING), DEFAULT_INTERVAL);
        // … and within it, the start interval while starting.
        let check = Check { interval: Duration::from_secs(2), ..check };
        assert_eq!(check.next_delay(Duration::from_secs(1), STARTING), DEFAULT_START_INTERVAL);
        assert_eq!(check.next_delay(Duration::from_secs(1), HEALTHY), Duration::from_secs(2));
        assert_eq!(check.next_delay(Duration::from_secs(9), STARTING), Duration::from_secs(1));
    }

    #[test]
    fn durations_print_like_go() {
        assert_eq!(go_duration(Duration::from_secs(30)), "30s");
        assert_eq!(go_duration(Duration::from_millis(200)), "200ms");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(go_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(go_duration(Duration::ZERO), "0s");
    }

    #[test]
    fn output_is_demultiplexed_and_bounded() {
        let mut o = Output::default();
        let frame = |s: u8, p: &[u8]| {
            let mut v = vec![s, 0, 0, 0];
            v.extend_from_slice(&(p.len() as u32).to_be_bytes());
            v.extend_from_slice(p);
            v
        };
        let mut bytes = frame(1, b"out\n");
        bytes.extend(frame(2, b"err\n"));
        o.feed(&bytes[..5]);
        o.feed(&bytes[5..]);
        assert_eq!(o.text(), "out\nerr\n");
        o.feed(&frame(1, &vec![b'x'; 5000]));
        assert_eq!(o.text().len(), MAX_OUTPUT + 3);
        assert!(o.text().ends_with("..."));
    }
}
