//! The image store's records in the metadata database: images, tags and layers.
//!
//! Values are JSON so records can grow fields without a migration. Every
//! change of one logical operation (a load registering layers, images and
//! tags) happens in one write transaction, so the records are all-or-nothing.

use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::StoreError;

/// image ID (config digest) → [`ImageRecord`]
pub(crate) const IMAGES: TableDefinition<&str, &[u8]> = TableDefinition::new("images");
/// full reference (`docker.io/library/alpine:latest`, or `name@sha256:…`) → image ID
pub(crate) const TAGS: TableDefinition<&str, &str> = TableDefinition::new("tags");
/// chain ID → [`LayerRecord`]
pub(crate) const LAYERS: TableDefinition<&str, &[u8]> = TableDefinition::new("layers");

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ImageRecord {
    /// Chain IDs of the image's layers, bottom first.
    pub layers: Vec<String>,
    /// Bytes of all layers' files, as `docker images` reports SIZE.
    pub size: u64,
    /// The manifest the image arrived with, if any (OCI layout or registry).
    #[serde(default)]
    pub manifest: Option<String>,
    /// The image this one was built or committed from, if known locally.
    #[serde(default)]
    pub parent: String,
    /// RFC 3339 time of the last tag change, or none.
    #[serde(default)]
    pub last_tag_time: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LayerRecord {
    pub diff_id: String,
    /// The blob this layer came from (compressed or not), kept for save and push.
    pub blob: String,
    pub media_type: String,
    /// Size of the uncompressed tar stream.
    pub tar_size: u64,
    /// Bytes of the layer's files.
    pub size: u64,
}

pub(crate) fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("records serialise")
}

pub(crate) fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(format!("bad record in metadata db: {e}")))
}

/// Creates the tables so that read transactions never meet a missing one.
pub(crate) fn init(db: &redb::Database) -> Result<(), StoreError> {
    let tx = db.begin_write()?;
    tx.open_table(IMAGES)?;
    tx.open_table(TAGS)?;
    tx.open_table(LAYERS)?;
    tx.commit()?;
    Ok(())
}

/// A consistent snapshot of all image records.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    pub images: Vec<(String, ImageRecord)>,
    pub tags: Vec<(String, String)>,
    pub layers: Vec<(String, LayerRecord)>,
}

pub(crate) fn read_all(db: &redb::Database) -> Result<Snapshot, StoreError> {
    let tx = db.begin_read()?;
    let mut snap = Snapshot::default();
    for row in tx.open_table(IMAGES)?.iter()? {
        let (k, v) = row?;
        snap.images.push((k.value().to_string(), decode(v.value())?));
    }
    for row in tx.open_table(TAGS)?.iter()? {
        let (k, v) = row?;
        snap.tags.push((k.value().to_string(), v.value().to_string()));
    }
    for row in tx.open_table(LAYERS)?.iter()? {
        let (k, v) = row?;
        snap.layers.push((k.value().to_string(), decode(v.value())?));
    }
    Ok(snap)
}
