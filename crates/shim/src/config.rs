//! The shim's view of `spec.json`, the file the daemon writes into the
//! bundle. The `"runtime"` value is kept as raw JSON and handed to the
//! runtime, so the shim does not depend on the runtime's spec types.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Default log bounds: unlike Docker, logs are bounded unless asked not to
/// be, so a chatty container cannot fill the disk.
pub const DEFAULT_MAX_SIZE: u64 = 10 * 1024 * 1024;
pub const DEFAULT_MAX_FILE: u32 = 3;

#[derive(Debug, Clone, Deserialize)]
pub struct BundleSpec {
    /// `runtime::Spec` as JSON, passed to [`crate::Runtime::create`].
    pub runtime: serde_json::Value,
    #[serde(default)]
    pub tty: bool,
    #[serde(default)]
    pub open_stdin: bool,
    /// The tty's initial size, `[height, width]` (Docker's `ConsoleSize`),
    /// so the process sees the client's size from its first instruction.
    #[serde(default)]
    pub console_size: Option<[u16; 2]>,
    #[serde(default)]
    pub log: LogConfig,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum LogDriver {
    #[default]
    JsonFile,
    /// Docker's `local` driver writes protobuf records; this first version
    /// writes the same JSON lines as `json-file`.
    Local,
    None,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct LogConfig {
    #[serde(default)]
    pub driver: LogDriver,
    /// Where the log goes; required unless the driver is `none`.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// Rotate when the file reaches this many bytes; absent: 10 MiB;
    /// `0`: never rotate.
    #[serde(default)]
    pub max_size: Option<u64>,
    /// Files kept including the live one; absent or 0: 3.
    #[serde(default)]
    pub max_file: Option<u32>,
}

impl LogConfig {
    pub fn max_size(&self) -> Option<u64> {
        match self.max_size {
            None => Some(DEFAULT_MAX_SIZE),
            Some(0) => None,
            Some(n) => Some(n),
        }
    }

    pub fn max_file(&self) -> u32 {
        match self.max_file {
            None | Some(0) => DEFAULT_MAX_FILE,
            Some(n) => n,
        }
    }
}

impl BundleSpec {
    /// Reads and checks `<bundle>/spec.json`.
    pub fn load(bundle: &Path) -> Result<BundleSpec, String> {
        let path = bundle.join("spec.json");
        let text = std::fs::read(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        let spec: BundleSpec =
            serde_json::from_slice(&text).map_err(|e| format!("parsing {}: {e}", path.display()))?;
        if spec.log.driver != LogDriver::None && spec.log.path.is_none() {
            return Err(format!("{}: log.path is required", path.display()));
        }
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_shape() {
        let spec: BundleSpec = serde_json::from_str(
            r#"{"runtime":{"args":["sh"]},"tty":true,"open_stdin":true,
                "log":{"driver":"json-file","path":"/x/y-json.log","max_size":100,"max_file":2}}"#,
        )
        .unwrap();
        assert!(spec.tty && spec.open_stdin);
        assert_eq!(spec.log.driver, LogDriver::JsonFile);
        assert_eq!(spec.log.max_size(), Some(100));
        assert_eq!(spec.log.max_file(), 2);
        assert_eq!(spec.runtime["args"][0], "sh");
    }

    #[test]
    fn defaults_bound_the_logs() {
        let spec: BundleSpec =
            serde_json::from_str(r#"{"runtime":{},"log":{"driver":"local","path":"/l"}}"#).unwrap();
        assert!(!spec.tty && !spec.open_stdin);
        assert_eq!(spec.log.driver, LogDriver::Local);
        assert_eq!(spec.log.max_size(), Some(DEFAULT_MAX_SIZE));
        assert_eq!(spec.log.max_file(), DEFAULT_MAX_FILE);
        let none: BundleSpec =
            serde_json::from_str(r#"{"runtime":{},"log":{"driver":"none","max_size":0}}"#).unwrap();
        assert_eq!(none.log.driver, LogDriver::None);
        assert_eq!(none.log.max_size(), None);
    }
}
