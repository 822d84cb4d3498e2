//! Containers: their records (persisted in the metadata database), their
//! directories under `<root>/containers/<id>`, names, and the rules of
//! create, rename and remove. Running them goes through the shim.

pub mod bundle;
pub mod config;
pub mod exec;
pub mod fs;
pub mod health;
pub mod lifecycle;
pub mod list;
pub mod logs;
pub mod names;
pub mod ops;
pub mod shim_client;
pub mod spec;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

pub use config::{ContainerConfig, HostConfig};

use crate::{Engine, Error, Result};

/// container ID → [`Container`] as JSON
const CONTAINERS: TableDefinition<&str, &[u8]> = TableDefinition::new("containers");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
}

impl Status {
    /// Whether the container has live processes.
    pub fn is_active(self) -> bool {
        matches!(self, Status::Running | Status::Paused | Status::Restarting)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Removing => "removing",
            Status::Exited => "exited",
            Status::Dead => "dead",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub status: Status,
    pub pid: u32,
    pub exit_code: i64,
    pub error: String,
    pub oom_killed: bool,
    /// RFC 3339 with nanoseconds; Go's zero time when never started.
    pub started_at: String,
    pub finished_at: String,
}

/// Go's zero time, which Docker reports for "never".
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

impl Default for State {
    fn default() -> Self {
        Self {
            status: Status::Created,
            pid: 0,
            exit_code: 0,
            error: String::new(),
            oom_killed: false,
            started_at: ZERO_TIME.into(),
            finished_at: ZERO_TIME.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Container {
    pub id: String,
    /// Without Docker's leading `/`.
    pub name: String,
    pub created: String,
    /// The image ID (`sha256:…`) and the name the client gave.
    pub image: String,
    pub image_name: String,
    pub config: ContainerConfig,
    pub host_config: HostConfig,
    pub state: State,
    pub restart_count: u32,
}

impl Container {
    /// The first 12 hex digits, as Docker shows IDs.
    pub fn short_id(&self) -> &str {
        &self.id[..12]
    }
}

/// The in-memory table of containers, written through to the database.
#[derive(Debug, Default)]
pub struct Containers {
    all: Mutex<BTreeMap<String, Container>>,
}

/// What `POST /containers/create` asks for.
#[derive(Debug, Clone)]
pub struct CreateRequest {
    pub name: Option<String>,
    pub config: ContainerConfig,
    pub host_config: HostConfig,
}

impl Engine {
    pub(crate) fn load_containers(db: &redb::Database) -> Result<Containers> {
        let tx = db.begin_write().map_err(internal)?;
        tx.open_table(CONTAINERS).map_err(internal)?;
        tx.commit().map_err(internal)?;
        let tx = db.begin_read().map_err(internal)?;
        let table = tx.open_table(CONTAINERS).map_err(internal)?;
        let mut all = BTreeMap::new();
        for row in table.iter().map_err(internal)? {
            let (k, v) = row.map_err(internal)?;
            let c: Container = serde_json::from_slice(v.value())
                .map_err(|e| Error::Internal(format!("bad container record: {e}")))?;
            all.insert(k.value().to_string(), c);
        }
        Ok(Containers { all: Mutex::new(all) })
    }

    fn persist(&self, c: &Container) -> Result<()> {
        let tx = self.db.begin_write().map_err(internal)?;
        tx.open_table(CONTAINERS)
            .map_err(internal)?
            .insert(c.id.as_str(), serde_json::to_vec(c).expect("json").as_slice())
            .map_err(internal)?;
        tx.commit().map_err(internal)
    }

    fn unpersist(&self, id: &str) -> Result<()> {
        let tx = self.db.begin_write().map_err(internal)?;
        tx.open_table(CONTAINERS).map_err(internal)?.remove(id).map_err(internal)?;
        tx.commit().map_err(internal)
    }

    /// `<root>/containers/<id>`: the writable layer, hostname, hosts, resolv.conf, logs.
    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.config.root.join("containers").join(id)
    }

    /// The container's log file (json-file and local drivers), as its shim writes it.
    pub fn log_path(&self, id: &str) -> PathBuf {
        self.container_dir(id).join(format!("{id}-json.log"))
    }

    /// Creates a container record and its directories; nothing runs yet.
    pub fn create_container(&self, req: CreateRequest) -> Result<Container> {
        if req.config.image.is_empty() {
            return Err(Error::InvalidArgument("No command specified".into()));
        }
        req.host_config.validate().map_err(Error::InvalidArgument)?;
        // Most creations are followed by a start (`docker run`).
        self.supervision.warm_cgroup_lock();
        // Mounts and devices are checked now, as Docker does, not at start.
        for m in req.host_config.mounts.iter().flatten() {
            spec::mount_spec(m)?;
        }
        for d in req.host_config.devices.iter().flatten() {
            spec::host_device(d)?;
        }
        if let Some(s) = req.config.stop_signal.as_deref().filter(|s| !s.is_empty()) {
            lifecycle::signal_number(s)?;
        }
        let img = self.resolve_image(&req.config.image)?;
        let mut config = req.config;
        config.merge_image(img.config.json.get("config"));
        if config.argv().is_empty() {
            return Err(Error::InvalidArgument("No command specified".into()));
        }
        let mut host_config = req.host_config;
        // Docker's merge: the daemon's driver when none is asked for, and
        // its options under those the container did not set.
        let log = &mut host_config.log_config;
        let default = &self.config.log;
        let default_kind = if default.kind.is_empty() { "json-file" } else { default.kind.as_str() };
        if log.kind.is_empty() {
            log.kind = default_kind.into();
        }
        if log.kind == default_kind {
            for (k, v) in &default.config {
                log.config.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        bundle::log_limits(log)?;
        if host_config.shm_size == 0 {
            host_config.shm_size = 64 << 20;
        }
        if host_config.network_mode.is_empty() || host_config.network_mode == "default" {
            host_config.network_mode = "none".into();
        }
        let id = new_id();
        if config.hostname.is_empty() {
            config.hostname = id[..12].to_string();
        }
        let mut all = self.containers.all.lock().expect("containers lock poisoned");
        let name = match req.name.filter(|n| !n.is_empty()) {
            Some(n) => {
                let n = n.strip_prefix('/').unwrap_or(&n).to_string();
                if !names::is_valid(&n) {
                    return Err(Error::InvalidArgument(format!(
                        "Invalid container name ({n}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
                    )));
                }
                if let Some(other) = all.values().find(|c| c.name == n) {
                    return Err(Error::Conflict(format!(
                        "Conflict. The container name \"/{n}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
                        other.id
                    )));
                }
                n
            }
            None => {
                (0..).map(names::generate).find(|n| !all.values().any(|c| &c.name == n)).expect("a free name")
            }
        };
        let dir = self.container_dir(&id);
        for sub in ["upper", "work", "merged"] {
            std::fs::create_dir_all(dir.join(sub))
                .map_err(|e| Error::Internal(format!("creating {}: {e}", dir.display())))?;
        }
        let c = Container {
            id: id.clone(),
            name,
            created: image::config::now_rfc3339(),
            image: img.id.clone(),
            image_name: config.image.clone(),
            config,
            host_config,
            state: State::default(),
            restart_count: 0,
        };
        if let Err(e) = self.persist(&c) {
            let _ = image::fsutil::remove_tree(&dir);
            return Err(e);
        }
        all.insert(id, c.clone());
        drop(all);
        self.container_event("create", &c, BTreeMap::new());
        Ok(c)
    }

    /// Finds a container by full ID, name (with or without `/`) or unique ID prefix.
    pub fn container(&self, name_or_id: &str) -> Result<Container> {
        let all = self.containers.all.lock().expect("containers lock poisoned");
        find(&all, name_or_id).cloned()
    }

    /// Every container, newest first.
    pub fn list_containers(&self) -> Vec<Container> {
        let all = self.containers.all.lock().expect("containers lock poisoned");
        let mut v: Vec<Container> = all.values().cloned().collect();
        v.sort_by(|a, b| b.created.cmp(&a.created));
        v
    }

    /// Applies `f` to a container's record and saves it.
    pub fn update_container(&self, id: &str, f: impl FnOnce(&mut Container)) -> Result<Container> {
        let mut all = self.containers.all.lock().expect("containers lock poisoned");
        let c = all.get_mut(id).ok_or_else(|| no_such(id))?;
        f(c);
        let c = c.clone();
        drop(all);
        self.persist(&c)?;
        Ok(c)
    }

    pub fn rename_container(&self, name_or_id: &str, new_name: &str) -> Result<()> {
        let new_name = new_name.strip_prefix('/').unwrap_or(new_name);
        // As Docker: the container first, then the new name.
        let mut all = self.containers.all.lock().expect("containers lock poisoned");
        let current = find(&all, name_or_id)?;
        let id = current.id.clone();
        if !names::is_valid(new_name) {
            return Err(Error::InvalidArgument(format!(
                "Invalid container name ({new_name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )));
        }
        if current.name == new_name {
            return Err(Error::InvalidArgument(
                "Renaming a container with the same name as its current name".into(),
            ));
        }
        if let Some(other) = all.values().find(|c| c.name == new_name && c.id != id) {
            return Err(Error::Conflict(format!(
                "Conflict. The container name \"/{new_name}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
                other.id
            )));
        }
        let c = all.get_mut(&id).expect("found above");
        let old = std::mem::replace(&mut c.name, new_name.to_string());
        let c = c.clone();
        drop(all);
        self.persist(&c)?;
        let mut attrs = BTreeMap::new();
        attrs.insert("oldName".to_string(), format!("/{old}"));
        self.container_event("rename", &c, attrs);
        Ok(())
    }

    /// Removes a container that is not running: its record and its directory.
    pub fn remove_stopped_container(&self, c: &Container) -> Result<()> {
        let mut all = self.containers.all.lock().expect("containers lock poisoned");
        match all.get(&c.id).map(|c| c.state.status) {
            None => return Err(no_such(&c.id)),
            Some(s) if s.is_active() => {
                return Err(Error::Conflict(format!(
                    "You cannot remove a running container {}. Stop the container before attempting removal or force remove",
                    c.id
                )));
            }
            _ => {}
        }
        all.remove(&c.id);
        self.supervision.forget_attaches(&c.id);
        drop(all);
        self.unpersist(&c.id)?;
        let dir = self.container_dir(&c.id);
        image::fsutil::remove_tree(&dir)
            .map_err(|e| Error::Internal(format!("removing {}: {e}", dir.display())))?;
        self.container_event("destroy", c, BTreeMap::new());
        Ok(())
    }

    /// IDs of containers created from `image_id`.
    pub fn containers_using(&self, image_id: &str) -> Vec<Container> {
        self.list_containers().into_iter().filter(|c| c.image == image_id).collect()
    }

    pub(crate) fn container_event(&self, action: &str, c: &Container, mut attrs: BTreeMap<String, String>) {
        attrs.insert("name".into(), c.name.clone());
        attrs.insert("image".into(), c.image_name.clone());
        for (k, v) in c.config.labels.iter().flatten() {
            attrs.entry(k.clone()).or_insert_with(|| v.clone());
        }
        self.events.publish("container", action, &c.id, attrs);
    }
}

fn find<'a>(all: &'a BTreeMap<String, Container>, name_or_id: &str) -> Result<&'a Container> {
    if let Some(c) = all.get(name_or_id) {
        return Ok(c);
    }
    let name = name_or_id.strip_prefix('/').unwrap_or(name_or_id);
    if let Some(c) = all.values().find(|c| c.name == name) {
        return Ok(c);
    }
    if !name_or_id.is_empty() && name_or_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        let mut hits = all.values().filter(|c| c.id.starts_with(name_or_id));
        if let (Some(c), None) = (hits.next(), hits.next()) {
            return Ok(c);
        }
    }
    Err(no_such(name_or_id))
}

pub fn no_such(name: &str) -> Error {
    Error::NotFound(format!("No such container: {name}"))
}

fn internal(e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("metadata database: {e}"))
}

/// A new container ID: 64 random hex digits, never all digits (Docker avoids
/// IDs that look like numbers, which some tools would misread).
pub(crate) fn new_id() -> String {
    loop {
        let mut b = [0u8; 32];
        getrandom::fill(&mut b).expect("the kernel's random source is available");
        let id: String = b.iter().map(|x| format!("{x:02x}")).collect();
        if !id[..12].bytes().all(|c| c.is_ascii_digit()) {
            return id;
        }
    }
}
