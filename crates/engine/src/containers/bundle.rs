//! Preparing a container to run: the files Docker gives every container
//! (`/etc/hostname`, `/etc/hosts`, `/etc/resolv.conf`), the writable layer's
//! directories, and the shim's `spec.json` (docs/shim.md).

use std::path::Path;

use super::Container;
use crate::{Engine, Error, Result};

/// Default log bounds: unlike Docker's unbounded json-file default, so a
/// chatty container cannot fill the disk.
pub const DEFAULT_LOG_MAX_SIZE: u64 = 10 << 20;
pub const DEFAULT_LOG_MAX_FILE: u64 = 3;

fn io(what: &str, p: &Path, e: std::io::Error) -> Error {
    Error::Internal(format!("{what} {}: {e}", p.display()))
}

/// `/etc/hosts` of a container without a network of its own.
pub fn hosts_file(hostname: &str) -> String {
    format!(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n127.0.0.1\t{hostname}\n"
    )
}

/// The host's resolv.conf without loopback name servers (they are not
/// reachable from a container's own network namespace), as Docker filters it.
pub fn resolv_conf(host: &str) -> String {
    let mut out = String::new();
    let mut servers = 0;
    for line in host.lines() {
        let mut words = line.split_whitespace();
        if words.next() == Some("nameserver") {
            let addr = words.next().unwrap_or_default();
            if addr.starts_with("127.") || addr == "::1" {
                continue;
            }
            servers += 1;
        }
        out.push_str(line);
        out.push('\n');
    }
    if servers == 0 {
        // Docker's fallback when the host has only local resolvers.
        out.push_str("nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    }
    out
}

/// A log configuration as the shim applies it.
pub struct LogLimits {
    pub driver: &'static str,
    pub max_size: u64,
    pub max_file: u64,
}

/// Checks a log driver and its options (a container's, or the daemon's
/// defaults) as Docker does, and gives the bounds; unset bounds are
/// berth's defaults (Docker's are unbounded).
pub fn log_limits(cfg: &super::config::LogConfig) -> Result<LogLimits> {
    let (driver, known): (&'static str, &[&str]) = match cfg.kind.as_str() {
        "" | "json-file" => (
            "json-file",
            &["max-size", "max-file", "compress", "labels", "labels-regex", "env", "env-regex", "tag"],
        ),
        "local" => ("local", &["max-size", "max-file", "compress"]),
        "none" => ("none", &[]),
        other => {
            return Err(Error::InvalidArgument(format!(
                "logger: no log driver named '{other}' is registered"
            )));
        }
    };
    if let Some(k) = cfg.config.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(Error::InvalidArgument(format!("unknown log opt '{k}' for {driver} log driver")));
    }
    let max_size =
        cfg.config.get("max-size").map(|s| log_size(s)).transpose()?.unwrap_or(DEFAULT_LOG_MAX_SIZE);
    let max_file = match cfg.config.get("max-file") {
        Some(n) => n
            .parse::<u64>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| Error::InvalidArgument(format!("invalid max-file: {n}")))?,
        None => DEFAULT_LOG_MAX_FILE,
    };
    Ok(LogLimits { driver, max_size, max_file })
}

/// Parses a size option of `--log-opt` (`10m`, `1g`, `512k`, bytes).
pub fn log_size(s: &str) -> Result<u64> {
    let t = s.trim().to_ascii_lowercase();
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1u64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        _ => (t.as_str(), 1),
    };
    num.parse::<u64>().map(|n| n * mult).map_err(|_| Error::InvalidArgument(format!("invalid log size: {s}")))
}

impl Engine {
    /// Writes the container's etc files, and returns their paths as
    /// (hostname, hosts, resolv.conf).
    pub(crate) fn write_etc_files(&self, c: &Container) -> Result<[std::path::PathBuf; 3]> {
        let dir = self.container_dir(&c.id);
        let hostname = dir.join("hostname");
        let hosts = dir.join("hosts");
        let resolv = dir.join("resolv.conf");
        std::fs::write(&hostname, format!("{}\n", c.config.hostname))
            .map_err(|e| io("writing", &hostname, e))?;
        std::fs::write(&hosts, hosts_file(&c.config.hostname)).map_err(|e| io("writing", &hosts, e))?;
        let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        std::fs::write(&resolv, resolv_conf(&host_resolv)).map_err(|e| io("writing", &resolv, e))?;
        Ok([hostname, hosts, resolv])
    }

    /// The shim's log settings for `c`: driver, path and bounds.
    pub(crate) fn log_settings(&self, c: &Container) -> Result<serde_json::Value> {
        let LogLimits { driver, max_size, max_file } = log_limits(&c.host_config.log_config)?;
        let path = self.log_path(&c.id);
        Ok(serde_json::json!({"driver": driver, "path": path, "max_size": max_size, "max_file": max_file}))
    }
}

impl Engine {
    /// Prepares the bundle the shim starts from: the etc files, and
    /// `spec.json` with the runtime spec, stdio and log settings.
    pub(crate) fn write_bundle(&self, c: &Container) -> Result<()> {
        let etc = self.write_etc_files(c)?;
        let spec = self.runtime_spec(c, &etc)?;
        let bundle = self.bundle_dir(&c.id);
        // A bundle left by a shim that died with the machine is stale.
        image::fsutil::remove_tree(&bundle).map_err(|e| io("clearing", &bundle, e))?;
        std::fs::create_dir_all(&bundle).map_err(|e| io("creating", &bundle, e))?;
        let doc = serde_json::json!({
            "runtime": spec,
            "tty": c.config.tty,
            "open_stdin": c.config.open_stdin,
            "console_size": c.host_config.rest.get("ConsoleSize").filter(|v| v.as_array().is_some_and(|a| a.len() == 2)),
            "log": self.log_settings(c)?,
        });
        image::fsutil::write_atomic(
            &bundle.join("spec.json"),
            &serde_json::to_vec_pretty(&doc).expect("json"),
        )
        .map_err(|e| io("writing", &bundle.join("spec.json"), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_drops_loopback_servers() {
        let host = "search lan\nnameserver 127.0.0.53\nnameserver 10.0.0.1\noptions edns0\n";
        assert_eq!(resolv_conf(host), "search lan\nnameserver 10.0.0.1\noptions edns0\n");
        assert!(resolv_conf("nameserver 127.0.0.1\n").contains("nameserver 8.8.8.8"));
    }

    #[test]
    fn log_sizes() {
        assert_eq!(log_size("10m").unwrap(), 10 << 20);
        assert_eq!(log_size("100").unwrap(), 100);
        assert!(log_size("x").is_err());
    }
}
