//! Image configuration blobs (OCI `application/vnd.oci.image.config.v1+json`,
//! the same JSON Docker calls its image config).
//!
//! We keep config bytes exactly as they arrived: the image ID is their digest,
//! so re-serialising would change it. This module reads the few fields the
//! store needs and builds new configs for `import`.

use serde_json::{Map, Value, json};

use crate::StoreError;

/// The fields of a config the store works with; the raw JSON stays available.
#[derive(Debug, Clone)]
pub struct ImageConfig {
    pub json: Value,
}

impl ImageConfig {
    pub fn parse(bytes: &[u8]) -> Result<Self, StoreError> {
        let json: Value = serde_json::from_slice(bytes)
            .map_err(|e| StoreError::InvalidArchive(format!("image config is not valid JSON: {e}")))?;
        if !json.is_object() {
            return Err(StoreError::InvalidArchive("image config is not a JSON object".into()));
        }
        let cfg = Self { json };
        cfg.diff_ids()?;
        Ok(cfg)
    }

    /// `rootfs.diff_ids`, bottom layer first.
    pub fn diff_ids(&self) -> Result<Vec<String>, StoreError> {
        let ids = self.json.pointer("/rootfs/diff_ids").and_then(Value::as_array);
        let ids =
            ids.ok_or_else(|| StoreError::InvalidArchive("image config has no rootfs.diff_ids".into()))?;
        ids.iter()
            .map(|v| {
                let s = v.as_str().unwrap_or_default();
                crate::content::hex_of(s)?;
                Ok(s.to_string())
            })
            .collect()
    }

    /// `created` as RFC 3339, if present.
    pub fn created(&self) -> Option<&str> {
        self.json.get("created").and_then(Value::as_str)
    }

    /// `created` as unix seconds (0 when absent or unparsable, as Docker shows).
    pub fn created_unix(&self) -> i64 {
        self.created().and_then(parse_rfc3339).unwrap_or(0)
    }

    pub fn labels(&self) -> Option<&Map<String, Value>> {
        self.json.pointer("/config/Labels").and_then(Value::as_object)
    }

    pub fn str_field(&self, key: &str) -> &str {
        self.json.get(key).and_then(Value::as_str).unwrap_or_default()
    }
}

/// Unix seconds of an RFC 3339 time.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

/// Now, as RFC 3339 with nanoseconds in UTC (Go's `time.RFC3339Nano`).
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("formattable")
}

/// Builds the config of an imported root filesystem: one layer, the changes
/// (`--change`) applied to an empty container config.
pub fn import_config(diff_id: &str, changes: &[String], message: &str) -> Result<Vec<u8>, StoreError> {
    let mut config = Map::new();
    for change in changes {
        apply_change(&mut config, change)?;
    }
    let created = now_rfc3339();
    let mut history = Map::new();
    history.insert("created".into(), json!(created));
    if !message.is_empty() {
        history.insert("comment".into(), json!(message));
    }
    let mut doc = Map::new();
    doc.insert("architecture".into(), json!(go_arch()));
    if !message.is_empty() {
        doc.insert("comment".into(), json!(message));
    }
    doc.insert("config".into(), Value::Object(config));
    doc.insert("created".into(), json!(created));
    doc.insert("history".into(), json!([history]));
    doc.insert("os".into(), json!("linux"));
    doc.insert("rootfs".into(), json!({"type": "layers", "diff_ids": [diff_id]}));
    Ok(serde_json::to_vec(&Value::Object(doc)).expect("serialisable"))
}

/// What a commit records about itself: the new image's container config
/// (Docker's `Config`), who made it and why, and the command the container
/// ran (its history entry's `created_by`, as Docker writes it).
#[derive(Debug, Clone, Default)]
pub struct CommitInfo {
    pub config: Value,
    pub author: String,
    pub comment: String,
    pub created_by: String,
}

/// Builds the config of an image committed on top of `parent`: the parent's
/// platform, rootfs and history, plus `diff_id` (none when the container
/// changed nothing: the history entry is then an `empty_layer`, as Docker's).
pub fn commit_config(
    parent: &ImageConfig,
    diff_id: Option<&str>,
    info: &CommitInfo,
) -> Result<Vec<u8>, StoreError> {
    let mut diff_ids = parent.diff_ids()?;
    diff_ids.extend(diff_id.map(str::to_string));
    let created = now_rfc3339();
    let mut entry = Map::new();
    entry.insert("created".into(), json!(created));
    if !info.author.is_empty() {
        entry.insert("author".into(), json!(info.author));
    }
    if !info.created_by.is_empty() {
        entry.insert("created_by".into(), json!(info.created_by));
    }
    if !info.comment.is_empty() {
        entry.insert("comment".into(), json!(info.comment));
    }
    if diff_id.is_none() {
        entry.insert("empty_layer".into(), json!(true));
    }
    let mut history = parent.json.get("history").and_then(Value::as_array).cloned().unwrap_or_default();
    history.push(Value::Object(entry));
    let mut doc = Map::new();
    doc.insert(
        "architecture".into(),
        json!(parent.json.get("architecture").and_then(Value::as_str).unwrap_or(go_arch())),
    );
    if !info.author.is_empty() {
        doc.insert("author".into(), json!(info.author));
    }
    if !info.comment.is_empty() {
        doc.insert("comment".into(), json!(info.comment));
    }
    doc.insert("config".into(), info.config.clone());
    doc.insert("created".into(), json!(created));
    doc.insert("history".into(), Value::Array(history));
    doc.insert("os".into(), json!(parent.json.get("os").and_then(Value::as_str).unwrap_or("linux")));
    for key in ["variant", "os.version", "os.features"] {
        if let Some(v) = parent.json.get(key) {
            doc.insert(key.into(), v.clone());
        }
    }
    doc.insert("rootfs".into(), json!({"type": "layers", "diff_ids": diff_ids}));
    Ok(serde_json::to_vec(&Value::Object(doc)).expect("serialisable"))
}

/// The architecture name Go (and so every image config) uses for this host.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// Applies one `--change` Dockerfile instruction to a container config.
/// Only the instructions `docker import`/`commit` accept are allowed.
// TODO(dockerfile crate): parse through the Dockerfile parser once it exists, so both agree.
pub fn apply_change(config: &mut Map<String, Value>, change: &str) -> Result<(), StoreError> {
    let change = change.trim();
    let (word, rest) = change.split_once(char::is_whitespace).unwrap_or((change, ""));
    let rest = rest.trim();
    let bad = |why: &str| StoreError::InvalidChange(format!("{change}: {why}"));
    match word.to_ascii_uppercase().as_str() {
        "CMD" => {
            config.insert("Cmd".into(), json!(command_form(rest)));
        }
        "ENTRYPOINT" => {
            config.insert("Entrypoint".into(), json!(command_form(rest)));
        }
        "ENV" => {
            let env = config.entry("Env").or_insert_with(|| json!([])).as_array_mut().expect("Env is a list");
            for (k, v) in key_values(rest).ok_or_else(|| bad("ENV needs KEY=VALUE"))? {
                env.retain(|e| {
                    e.as_str().and_then(|s| s.split_once('=')).map(|(ek, _)| ek != k).unwrap_or(true)
                });
                env.push(json!(format!("{k}={v}")));
            }
        }
        "LABEL" => {
            let labels = config.entry("Labels").or_insert_with(|| json!({}));
            for (k, v) in key_values(rest).ok_or_else(|| bad("LABEL needs KEY=VALUE"))? {
                labels.as_object_mut().expect("Labels is a map").insert(k, json!(v));
            }
        }
        "EXPOSE" => {
            let ports = config.entry("ExposedPorts").or_insert_with(|| json!({}));
            for p in rest.split_whitespace() {
                let p = if p.contains('/') { p.to_string() } else { format!("{p}/tcp") };
                ports.as_object_mut().expect("ExposedPorts is a map").insert(p, json!({}));
            }
        }
        "VOLUME" => {
            let vols = config.entry("Volumes").or_insert_with(|| json!({}));
            let list: Vec<String> = serde_json::from_str(rest)
                .unwrap_or_else(|_| rest.split_whitespace().map(str::to_string).collect());
            for v in list {
                vols.as_object_mut().expect("Volumes is a map").insert(v, json!({}));
            }
        }
        "USER" => {
            config.insert("User".into(), json!(rest));
        }
        "WORKDIR" => {
            config.insert("WorkingDir".into(), json!(rest));
        }
        "STOPSIGNAL" => {
            config.insert("StopSignal".into(), json!(rest));
        }
        "ONBUILD" => {
            config
                .entry("OnBuild")
                .or_insert_with(|| json!([]))
                .as_array_mut()
                .expect("list")
                .push(json!(rest));
        }
        _ => return Err(StoreError::InvalidChange(format!("{word} is not a valid change command"))),
    }
    Ok(())
}

/// JSON form (`["a","b"]`) as is; shell form wrapped in `/bin/sh -c`.
fn command_form(rest: &str) -> Vec<String> {
    match serde_json::from_str::<Vec<String>>(rest) {
        Ok(v) => v,
        Err(_) => vec!["/bin/sh".into(), "-c".into(), rest.into()],
    }
}

/// `K=V K2="v 2"`, or the legacy single pair `K V`.
fn key_values(rest: &str) -> Option<Vec<(String, String)>> {
    let words = shell_words(rest);
    let first = words.first()?;
    if !first.contains('=') {
        let (k, v) = rest.split_once(char::is_whitespace)?;
        return Some(vec![(k.to_string(), v.trim().to_string())]);
    }
    words.into_iter().map(|w| w.split_once('=').map(|(k, v)| (k.to_string(), v.to_string()))).collect()
}

/// Splits on whitespace, honouring double and single quotes and backslashes.
fn shell_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (Some(q), c) if c == q => quote = None,
            (Some('\''), c) => cur.push(c),
            (_, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                in_word = true;
            }
            (_, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changed(changes: &[&str]) -> Value {
        let mut m = Map::new();
        for c in changes {
            apply_change(&mut m, c).unwrap();
        }
        Value::Object(m)
    }

    #[test]
    fn changes_follow_dockerfile_forms() {
        let v = changed(&[
            "CMD [\"/bin/sh\"]",
            "ENTRYPOINT echo hi",
            "ENV FOO=bar B=\"x y\"",
            "ENV FOO baz",
            "LABEL stage=wire",
            "EXPOSE 80 53/udp",
            "VOLUME /data",
            "USER nobody",
            "WORKDIR /srv",
        ]);
        assert_eq!(v["Cmd"], json!(["/bin/sh"]));
        assert_eq!(v["Entrypoint"], json!(["/bin/sh", "-c", "echo hi"]));
        assert_eq!(v["Env"], json!(["B=x y", "FOO=baz"]));
        assert_eq!(v["Labels"], json!({"stage": "wire"}));
        assert_eq!(v["ExposedPorts"], json!({"80/tcp": {}, "53/udp": {}}));
        assert_eq!(v["Volumes"], json!({"/data": {}}));
        assert_eq!(v["User"], json!("nobody"));
        assert_eq!(v["WorkingDir"], json!("/srv"));
    }

    #[test]
    fn unknown_change_is_refused() {
        let err = apply_change(&mut Map::new(), "RUN rm -rf /").unwrap_err();
        assert_eq!(err.to_string(), "RUN is not a valid change command");
    }

    #[test]
    fn commit_config_stacks_on_the_parent() {
        let a = crate::digest::of(b"a");
        let b = crate::digest::of(b"b");
        let parent = ImageConfig::parse(
            json!({"architecture": "arm64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [a]},
                   "history": [{"created_by": "base"}], "container_config": {"Cmd": ["x"]}})
            .to_string()
            .as_bytes(),
        )
        .unwrap();
        let info = CommitInfo {
            config: json!({"Cmd": ["cat", "/made"]}),
            author: "me".into(),
            comment: "msg".into(),
            created_by: "sh -c x".into(),
        };
        let c = ImageConfig::parse(&commit_config(&parent, Some(&b), &info).unwrap()).unwrap();
        assert_eq!(c.diff_ids().unwrap(), vec![a.clone(), b]);
        assert_eq!(c.json["architecture"], "arm64");
        assert_eq!(c.json["config"]["Cmd"], json!(["cat", "/made"]));
        assert_eq!(c.json["history"][1]["comment"], "msg");
        assert_eq!(c.json["history"][1]["created_by"], "sh -c x");
        assert!(c.json.get("container_config").is_none());
        let e = ImageConfig::parse(&commit_config(&parent, None, &info).unwrap()).unwrap();
        assert_eq!(e.diff_ids().unwrap(), vec![a]);
        assert_eq!(e.json["history"][1]["empty_layer"], true);
    }

    #[test]
    fn import_config_has_the_layer() {
        let d = crate::digest::of(b"x");
        let cfg = ImageConfig::parse(&import_config(&d, &["CMD sh".into()], "m").unwrap()).unwrap();
        assert_eq!(cfg.diff_ids().unwrap(), vec![d]);
        assert_eq!(cfg.json["comment"], "m");
    }
}
