//! The image store: content-addressed blobs, extracted layer snapshots, image
//! records and tags, and the archive formats images travel in (`docker save`
//! tarballs, OCI image layouts, root filesystem tarballs for `import`).
//!
//! Architecture invariant: this crate knows nothing of the Engine API or HTTP.
//! It owns `<root>/content`, `<root>/snapshots`, `<root>/staging` and the
//! image tables of the metadata database; nothing else writes them.

pub mod archive;
pub mod config;
pub mod content;
pub mod digest;
pub mod fsutil;
pub mod layer;
pub mod meta;
pub mod snapshot;
mod store;

use std::path::{Path, PathBuf};

pub use store::{Check, DeleteItem, Image, ImageStore, LoadProgress, Loaded};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("No such image: {0}")]
    NotFound(String),
    #[error("blob {0} not found in the content store")]
    BlobNotFound(String),
    #[error("invalid digest {0:?}")]
    InvalidDigest(String),
    #[error("digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch { expected: String, actual: String },
    #[error("invalid archive: {0}")]
    InvalidArchive(String),
    #[error("{0}")]
    InvalidChange(String),
    #[error("{0}")]
    Reference(#[from] reference::ReferenceError),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Layer(#[from] layer::LayerError),
    #[error("no space left on device: {path}: {needed} bytes needed, {free} bytes free")]
    NoSpace { path: PathBuf, needed: u64, free: u64 },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("metadata database: {0}")]
    Db(String),
    #[error("store is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io { path: path.to_path_buf(), source }
    }
}

macro_rules! db_errors {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Db(e.to_string())
            }
        }
    )*};
}
db_errors!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);
