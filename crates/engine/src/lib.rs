//! The engine: berth's domain. It owns the daemon's state (the metadata
//! database, the image store, the event log) and the rules Docker users
//! expect of it (which deletions conflict, what a filter matches), with no
//! knowledge of HTTP or of Docker's JSON wire shapes.

pub mod containers;
pub mod events;
pub mod filters;
pub mod images;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use events::{Event, Events};
pub use filters::Filters;

/// Everything that can go wrong in the engine, by kind: the API maps each
/// kind to one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    Internal(String),
    /// A container process could not be started: the message, and the exit
    /// code Docker gives for it (126 not executable, 127 not found).
    #[error("{0}")]
    Shim(String, i64),
    /// The operation had nothing to do (starting a running container).
    #[error("{0}")]
    NotModified(String),
}

impl From<image::StoreError> for Error {
    fn from(e: image::StoreError) -> Self {
        use image::StoreError as S;
        match e {
            S::NotFound(_) => Error::NotFound(e.to_string()),
            S::Conflict(_) => Error::Conflict(e.to_string()),
            // A layer that fails on our side (disk, permissions) is not the client's fault.
            S::Layer(image::layer::LayerError::Io { .. }) => Error::Internal(e.to_string()),
            S::InvalidArchive(_)
            | S::InvalidChange(_)
            | S::Reference(_)
            | S::DigestMismatch { .. }
            | S::Layer(_)
            | S::InvalidDigest(_)
            | S::BlobNotFound(_) => Error::InvalidArgument(e.to_string()),
            _ => Error::Internal(e.to_string()),
        }
    }
}

impl From<reference::ReferenceError> for Error {
    fn from(e: reference::ReferenceError) -> Self {
        Error::InvalidArgument(e.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where the daemon keeps its state.
#[derive(Debug, Clone)]
pub struct Config {
    pub root: PathBuf,
    pub exec_root: PathBuf,
    /// The daemon's default log driver and options (`--log-driver`,
    /// `--log-opt`, `log-driver`/`log-opts` of the config file).
    pub log: containers::config::LogConfig,
}

/// The daemon's state. Cheap to share: handlers hold an `Arc<Engine>`.
#[derive(Debug)]
pub struct Engine {
    pub config: Config,
    pub images: image::ImageStore,
    pub events: Events,
    pub(crate) containers: containers::Containers,
    pub(crate) supervision: containers::lifecycle::Supervision,
    pub(crate) execs: containers::exec::Execs,
    pub(crate) health: containers::health::LiveHealth,
    pub(crate) fs_locks: containers::fs::FsLocks,
    pub(crate) db: Arc<redb::Database>,
    /// The `--init` reaper's executable, bind-mounted into containers.
    pub(crate) init_binary: PathBuf,
    /// The topmost read-only layer of every container (see [`install_init_layer`]).
    pub(crate) init_layer: PathBuf,
    /// Held for the engine's lifetime: one daemon per root.
    _lock: File,
}

impl Engine {
    /// Opens (or creates) the state under `config.root`, clears what
    /// interrupted operations left, and collects garbage. Fails if another
    /// daemon holds the root.
    pub fn open(config: Config) -> Result<Arc<Self>> {
        std::fs::create_dir_all(&config.exec_root).map_err(|e| internal("creating", &config.exec_root, e))?;
        let (lock, db) = lock_root(&config.root)?;
        let images = image::ImageStore::open(&config.root, db.clone(), true)?;
        images.gc()?;
        let containers = Self::load_containers(&db)?;
        let init_binary = install_init(&config.root)?;
        let init_layer = install_init_layer(&config.root)?;
        Ok(Arc::new(Self {
            config,
            images,
            events: Events::new(),
            containers,
            supervision: Default::default(),
            execs: Default::default(),
            health: Default::default(),
            fs_locks: Default::default(),
            db,
            init_binary,
            init_layer,
            _lock: lock,
        }))
    }
}

/// Verifies a store that no daemon is using, changing nothing in it.
pub fn check_root(root: &Path) -> Result<image::Check> {
    let (_lock, db) = lock_root(root)?;
    Ok(image::ImageStore::open(root, db, false)?.check()?)
}

/// Writes the reaper under `root/bin` unless this build's is already there.
/// Replaced by rename, so containers running an older one keep theirs.
fn install_init(root: &Path) -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let dir = root.join("bin");
    let path = dir.join("docker-init");
    let current = std::fs::metadata(&path).is_ok_and(|m| m.permissions().mode() & 0o777 == 0o755)
        && std::fs::read(&path).is_ok_and(|b| b == init::BINARY);
    if !current {
        std::fs::create_dir_all(&dir).map_err(|e| internal("creating", &dir, e))?;
        image::fsutil::write_atomic_mode(&path, init::BINARY, 0o755)
            .map_err(|e| internal("writing", &path, e))?;
    }
    Ok(path)
}

/// `<root>/init-layer`: what Docker's per-container init layer holds that is
/// the same for every container, `/.dockerenv` (an empty file by which
/// programs know they run in a container). Shared by all containers as
/// their topmost image layer, so it is in their view but not in `diff` or
/// `commit`.
fn install_init_layer(root: &Path) -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let dir = root.join("init-layer");
    if dir.exists() {
        return Ok(dir);
    }
    // Made aside and renamed into place: no half-made layer in containers.
    let staging = root.join("init-layer.tmp");
    let _ = image::fsutil::remove_tree(&staging);
    std::fs::create_dir(&staging).map_err(|e| internal("creating", &staging, e))?;
    std::fs::set_permissions(&staging, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| internal("setting the mode of", &staging, e))?;
    let marker = staging.join(".dockerenv");
    std::fs::File::create(&marker)
        .and_then(|f| f.set_permissions(std::fs::Permissions::from_mode(0o755)).and_then(|()| f.sync_all()))
        .map_err(|e| internal("writing", &marker, e))?;
    std::fs::rename(&staging, &dir).map_err(|e| internal("renaming", &staging, e))?;
    image::fsutil::fsync_dir(root).map_err(|e| internal("syncing", root, e))?;
    Ok(dir)
}

fn internal(what: &str, p: &Path, e: std::io::Error) -> Error {
    Error::Internal(format!("{what} {}: {e}", p.display()))
}

/// Takes the root's lock (one daemon per root) and opens its metadata database.
fn lock_root(root: &Path) -> Result<(File, Arc<redb::Database>)> {
    std::fs::create_dir_all(root).map_err(|e| internal("creating", root, e))?;
    let lock_path = root.join("berth.lock");
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| internal("opening", &lock_path, e))?;
    if rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err() {
        return Err(Error::Conflict(format!(
            "another berth daemon is already using {} (lock {} is held)",
            root.display(),
            lock_path.display()
        )));
    }
    let db_path = root.join("metadata.db");
    let db = redb::Database::create(&db_path)
        .map_err(|e| Error::Internal(format!("opening {}: {e}", db_path.display())))?;
    Ok((lock, Arc::new(db)))
}
