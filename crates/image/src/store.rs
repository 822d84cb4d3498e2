//! [`ImageStore`]: the operations on images (load, import, save, tag, delete,
//! garbage collection, consistency check) over the content store, the
//! snapshots and the image records.

use std::collections::{HashMap, HashSet};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, RwLock};

use redb::{ReadableDatabase, ReadableTable};

use crate::archive::{self, ArchiveImage, SaveImage};
use crate::config::{self, ImageConfig};
use crate::content::{ContentStore, hex_of};
use crate::meta::{self, IMAGES, ImageRecord, LAYERS, LayerRecord, TAGS};
use crate::snapshot::{SnapshotStore, chain_ids};
use crate::{StoreError, fsutil, layer};

/// Archive members up to this size that look like JSON are kept in memory
/// (configs, manifests, indexes); everything else is treated as a layer.
const MAX_DOCUMENT: u64 = 16 << 20;
/// Chunk size of the stream between the reader and the layer extractor.
const CHUNK: usize = 256 << 10;

/// Reports how far a layer has been read: (short id, bytes done, bytes total).
pub type LoadProgress<'a> = &'a (dyn Fn(&str, u64, u64) + Sync);

#[derive(Debug)]
pub struct ImageStore {
    content: ContentStore,
    snapshots: SnapshotStore,
    db: Arc<redb::Database>,
    /// Writers of new blobs and snapshots hold it shared until their records
    /// are committed; garbage collection holds it exclusively, so it never
    /// mistakes a half-registered layer for garbage.
    gc_lock: RwLock<()>,
}

/// An image as the rest of berth sees it.
#[derive(Debug, Clone)]
pub struct Image {
    /// `sha256:<hex>` of the config blob.
    pub id: String,
    pub config: ImageConfig,
    pub record: ImageRecord,
    /// Familiar tagged references (`busybox:latest`), sorted.
    pub repo_tags: Vec<String>,
    /// Familiar digested references (`busybox@sha256:…`), sorted.
    pub repo_digests: Vec<String>,
}

/// What one image of a `load` became.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub id: String,
    /// Familiar references it was tagged with.
    pub tags: Vec<String>,
}

/// One line of an image deletion's report.
#[derive(Debug, Clone, PartialEq)]
pub enum DeleteItem {
    Untagged(String),
    Deleted(String),
}

/// The result of [`ImageStore::check`].
#[derive(Debug, Default)]
pub struct Check {
    pub blobs: usize,
    pub snapshots: usize,
    pub images: usize,
    /// Unfinished writes in the staging areas, removed at the next daemon start.
    pub interrupted: usize,
    pub problems: Vec<String>,
}

/// A layer extracted into staging, with its blob already in the content store.
#[derive(Debug)]
struct Staged {
    record: LayerRecord,
    /// `None` when the layer was already stored and extraction was skipped.
    dir: Option<PathBuf>,
}

impl ImageStore {
    /// Opens the store under `root`. With `clear_interrupted`, what
    /// interrupted operations left in the staging areas is removed (the
    /// daemon does this at start; `system check` looks without touching).
    pub fn open(root: &Path, db: Arc<redb::Database>, clear_interrupted: bool) -> Result<Self, StoreError> {
        let content = ContentStore::open(&root.join("content"), clear_interrupted)
            .map_err(|e| StoreError::io(root, e))?;
        let snapshots = SnapshotStore::open(root.join("snapshots"), root.join("staging"), clear_interrupted)
            .map_err(|e| StoreError::io(root, e))?;
        meta::init(&db)?;
        Ok(Self { content, snapshots, db, gc_lock: RwLock::new(()) })
    }

    pub fn content(&self) -> &ContentStore {
        &self.content
    }

    pub fn snapshots(&self) -> &SnapshotStore {
        &self.snapshots
    }

    // ---- reading ------------------------------------------------------------

    /// Every image, newest first.
    pub fn list(&self) -> Result<Vec<Image>, StoreError> {
        let snap = meta::read_all(&self.db)?;
        let mut refs: HashMap<&str, Vec<&str>> = HashMap::new();
        for (r, id) in &snap.tags {
            refs.entry(id.as_str()).or_default().push(r.as_str());
        }
        let mut out = Vec::with_capacity(snap.images.len());
        for (id, record) in &snap.images {
            out.push(self.image(
                id,
                record.clone(),
                refs.get(id.as_str()).map(Vec::as_slice).unwrap_or(&[]),
            )?);
        }
        out.sort_by(|a, b| b.config.created_unix().cmp(&a.config.created_unix()).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    fn image(&self, id: &str, record: ImageRecord, refs: &[&str]) -> Result<Image, StoreError> {
        let config = ImageConfig::parse(&self.content.read(id)?)?;
        let (mut repo_tags, mut repo_digests) = (Vec::new(), Vec::new());
        for r in refs {
            let parsed = reference::Reference::parse_normalized(r)?;
            if parsed.digest().is_some() {
                repo_digests.push(parsed.familiar_string())
            } else {
                repo_tags.push(parsed.familiar_string())
            }
        }
        if let Some(m) = &record.manifest {
            // A digest reference also comes from each repository the image is tagged in.
            for t in refs {
                let name = reference::Reference::parse_normalized(t)?.familiar_name();
                let d = format!("{name}@{m}");
                if !repo_digests.contains(&d) {
                    repo_digests.push(d);
                }
            }
        }
        repo_tags.sort();
        repo_digests.sort();
        Ok(Image { id: id.to_string(), config, record, repo_tags, repo_digests })
    }

    /// Finds an image by reference (`busybox`, `busybox:1`, `x@sha256:…`), by
    /// full ID (`sha256:…` or bare hex) or by a unique prefix of its ID.
    pub fn resolve(&self, name: &str) -> Result<Image, StoreError> {
        let tx = self.db.begin_read()?;
        let images = tx.open_table(IMAGES)?;
        let tags = tx.open_table(TAGS)?;
        let found = |id: &str| -> Result<Option<Image>, StoreError> {
            let Some(rec) = images.get(id)? else { return Ok(None) };
            let record: ImageRecord = meta::decode(rec.value())?;
            let mut refs = Vec::new();
            for row in tags.iter()? {
                let (k, v) = row?;
                if v.value() == id {
                    refs.push(k.value().to_string());
                }
            }
            let refs: Vec<&str> = refs.iter().map(String::as_str).collect();
            self.image(id, record, &refs).map(Some)
        };
        let full_id = if name.starts_with("sha256:") { name.to_string() } else { format!("sha256:{name}") };
        if hex_of(&full_id).is_ok()
            && let Some(img) = found(&full_id)?
        {
            return Ok(img);
        }
        if let Ok(r) = reference::Reference::parse_normalized(name) {
            let key = r.clone().with_default_tag().to_string();
            if let Some(id) = tags.get(key.as_str())?
                && let Some(img) = found(id.value())?
            {
                return Ok(img);
            }
            if let Some(d) = r.digest() {
                // `name@digest` also matches the manifest the image came with.
                for row in images.iter()? {
                    let (k, v) = row?;
                    let rec: ImageRecord = meta::decode(v.value())?;
                    if rec.manifest.as_deref() == Some(d.as_ref()) {
                        return found(k.value()).map(Option::unwrap);
                    }
                }
            }
        }
        let prefix = name.strip_prefix("sha256:").unwrap_or(name);
        let hex_prefix = !prefix.is_empty() && prefix.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !hex_prefix {
            // Neither an ID nor a valid reference: say why, as Docker does.
            reference::Reference::parse_normalized(name)?;
        }
        if hex_prefix {
            let mut hits = Vec::new();
            for row in images.iter()? {
                let (k, _) = row?;
                if k.value()[7..].starts_with(prefix) {
                    hits.push(k.value().to_string());
                }
            }
            if hits.len() == 1 {
                return found(&hits[0]).map(Option::unwrap);
            }
        }
        Err(StoreError::NotFound(name.to_string()))
    }

    /// Layer records of an image, bottom first.
    pub fn layers(&self, image: &Image) -> Result<Vec<LayerRecord>, StoreError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(LAYERS)?;
        image
            .record
            .layers
            .iter()
            .map(|c| match t.get(c.as_str())? {
                Some(v) => meta::decode(v.value()),
                None => Err(StoreError::Corrupt(format!("image {} names missing layer {c}", image.id))),
            })
            .collect()
    }

    /// Directories of an image's layers, bottom first (overlay lowerdirs in reverse).
    pub fn layer_dirs(&self, image: &Image) -> Result<Vec<PathBuf>, StoreError> {
        image.record.layers.iter().map(|c| self.snapshots.path(c)).collect()
    }

    // ---- tags ---------------------------------------------------------------

    /// Points `reference` (normalised, e.g. `docker.io/library/x:tag`) at `id`.
    pub fn tag(&self, id: &str, reference: &str) -> Result<(), StoreError> {
        let r = reference::Reference::parse_normalized(reference)?.with_default_tag();
        let tx = self.db.begin_write()?;
        {
            let mut images = tx.open_table(IMAGES)?;
            let rec = images.get(id)?.map(|v| meta::decode::<ImageRecord>(v.value())).transpose()?;
            let mut rec = rec.ok_or_else(|| StoreError::NotFound(id.to_string()))?;
            rec.last_tag_time = Some(config::now_rfc3339());
            images.insert(id, meta::encode(&rec).as_slice())?;
            tx.open_table(TAGS)?.insert(r.to_string().as_str(), id)?;
        }
        tx.commit()?;
        Ok(())
    }

    // ---- load / import / save -----------------------------------------------

    /// Loads a `docker save` tarball or an OCI image layout tarball.
    pub fn load(&self, input: impl Read + Send, progress: LoadProgress) -> Result<Vec<Loaded>, StoreError> {
        let _shared = self.gc_lock.read().expect("gc lock poisoned");
        let known = self.layers_by_blob()?;
        let mut docs: HashMap<String, Vec<u8>> = HashMap::new();
        let mut staged: HashMap<String, Staged> = HashMap::new();
        let mut links: HashMap<String, String> = HashMap::new();
        let result = (|| {
            // `docker save | gzip` (or zstd, xz …) loads too, as with Docker.
            let (_, input) = layer::decompress(BufReader::with_capacity(CHUNK, input))
                .map_err(|e| StoreError::InvalidArchive(format!("reading archive: {e}")))?;
            let mut tar = tar::Archive::new(input);
            let entries = tar.entries().map_err(|e| StoreError::InvalidArchive(e.to_string()))?;
            let mut last = String::new();
            for entry in entries {
                let mut entry = entry.map_err(|e| archive_read_error(&last, e))?;
                let path = archive_path(&entry.path_bytes());
                last.clone_from(&path);
                match entry.header().entry_type() {
                    tar::EntryType::Symlink | tar::EntryType::Link => {
                        if let Some(target) = entry.link_name_bytes() {
                            let base = if entry.header().entry_type() == tar::EntryType::Link {
                                ""
                            } else {
                                parent_of(&path)
                            };
                            let resolved = join_archive_path(base, &String::from_utf8_lossy(&target));
                            links.insert(path, resolved);
                        }
                        continue;
                    }
                    tar::EntryType::Regular | tar::EntryType::Continuous => {}
                    _ => continue,
                }
                let size = entry.size();
                let mut head = Vec::with_capacity(512);
                (&mut entry)
                    .take(512)
                    .read_to_end(&mut head)
                    .map_err(|e| StoreError::InvalidArchive(format!("{path}: {e}")))?;
                let first = head.iter().find(|b| !b.is_ascii_whitespace()).copied();
                if size <= MAX_DOCUMENT && (matches!(first, Some(b'{' | b'[')) || !looks_like_layer(&path)) {
                    let mut bytes = head;
                    entry
                        .read_to_end(&mut bytes)
                        .map_err(|e| StoreError::InvalidArchive(format!("{path}: {e}")))?;
                    docs.insert(path, bytes);
                    continue;
                }
                let expected = path.strip_prefix("blobs/sha256/").map(|h| format!("sha256:{h}"));
                if let Some(rec) = expected.as_ref().and_then(|d| known.get(d))
                    && self.content.exists(&rec.blob)
                {
                    staged.insert(path, Staged { record: rec.clone(), dir: None });
                    continue;
                }
                let short = short_name(&path);
                let mut src = io::Cursor::new(head).chain(entry);
                let s = self.stage_layer(&mut src, size, expected.as_deref(), &short, progress)?;
                staged.insert(path, s);
            }
            let images = archive::images(&docs)?;
            if images.is_empty() {
                return Err(StoreError::InvalidArchive("the archive holds no image".into()));
            }
            self.register_loaded(images, &docs, &staged, &links)
        })();
        for s in staged.values() {
            if let Some(d) = &s.dir {
                let _ = self.snapshots.discard(d);
            }
        }
        result
    }

    fn register_loaded(
        &self,
        images: Vec<ArchiveImage>,
        docs: &HashMap<String, Vec<u8>>,
        staged: &HashMap<String, Staged>,
        links: &HashMap<String, String>,
    ) -> Result<Vec<Loaded>, StoreError> {
        let resolve = |p: &str| -> String {
            let mut p = p.trim_start_matches("./").to_string();
            for _ in 0..8 {
                match links.get(&p) {
                    Some(t) => p = t.clone(),
                    None => break,
                }
            }
            p
        };
        let mut plans = Vec::new();
        for img in images {
            let cfg_path = resolve(&img.config);
            let cfg_bytes = docs.get(&cfg_path).ok_or_else(|| {
                StoreError::InvalidArchive(format!("config {} is missing from the archive", img.config))
            })?;
            let id = crate::digest::of(cfg_bytes);
            if let Some(h) = cfg_path.strip_prefix("blobs/sha256/")
                && id != format!("sha256:{h}")
            {
                return Err(StoreError::DigestMismatch { expected: format!("sha256:{h}"), actual: id });
            }
            let config = ImageConfig::parse(cfg_bytes)?;
            let diff_ids = config.diff_ids()?;
            if diff_ids.len() != img.layers.len() {
                return Err(StoreError::InvalidArchive(format!(
                    "image {id}: config lists {} layers, manifest {}",
                    diff_ids.len(),
                    img.layers.len()
                )));
            }
            let mut layers = Vec::new();
            for (i, (path, want)) in img.layers.iter().zip(&diff_ids).enumerate() {
                let s = staged.get(&resolve(path)).ok_or_else(|| {
                    StoreError::InvalidArchive(format!("layer {path} is missing from the archive"))
                })?;
                if &s.record.diff_id != want {
                    return Err(StoreError::InvalidArchive(format!(
                        "layer {i} of image {id}: content has diff ID {}, config says {want}",
                        s.record.diff_id
                    )));
                }
                let mut record = s.record.clone();
                if let Some(Some(mt)) = img.media_types.get(i) {
                    record.media_type = mt.clone();
                }
                layers.push((record, s.dir.clone()));
            }
            if let Some(m) = &img.manifest {
                self.content.put(&docs[&resolve(&format!("blobs/sha256/{}", hex_of(m)?))])?;
            }
            self.content.put(cfg_bytes)?;
            plans.push((id, config, layers, img.tags, img.manifest));
        }
        // Snapshots go into place before the records that name them; a crash
        // in between leaves only unreferenced snapshots, which gc removes.
        let mut committed: HashSet<PathBuf> = HashSet::new();
        let mut records = Vec::new();
        for (id, _config, layers, tags, manifest) in &plans {
            let diff_ids: Vec<String> = layers.iter().map(|(r, _)| r.diff_id.clone()).collect();
            let chains = chain_ids(&diff_ids);
            for ((record, dir), chain) in layers.iter().zip(&chains) {
                if !self.snapshots.exists(chain) {
                    match dir {
                        Some(d) if committed.insert(d.clone()) => self.snapshots.commit(d, chain)?,
                        _ => self.extract_blob(record, chain)?,
                    }
                }
            }
            let size = layers.iter().map(|(r, _)| r.size).sum();
            let layer_records: Vec<(String, LayerRecord)> =
                chains.iter().cloned().zip(layers.iter().map(|(r, _)| r.clone())).collect();
            let rec = ImageRecord {
                layers: chains,
                size,
                manifest: manifest.clone(),
                parent: String::new(),
                last_tag_time: None,
            };
            records.push((id.clone(), rec, layer_records, tags.clone()));
        }
        let tx = self.db.begin_write()?;
        {
            let mut images = tx.open_table(IMAGES)?;
            let mut tags_t = tx.open_table(TAGS)?;
            let mut layers_t = tx.open_table(LAYERS)?;
            for (id, mut rec, layer_records, tags) in records.iter().cloned() {
                for (chain, l) in &layer_records {
                    layers_t.insert(chain.as_str(), meta::encode(l).as_slice())?;
                }
                if let Some(old) = images.get(id.as_str())? {
                    let old: ImageRecord = meta::decode(old.value())?;
                    rec.parent = old.parent;
                    rec.last_tag_time = old.last_tag_time;
                }
                if !tags.is_empty() {
                    rec.last_tag_time = Some(config::now_rfc3339());
                }
                images.insert(id.as_str(), meta::encode(&rec).as_slice())?;
                for t in &tags {
                    tags_t.insert(t.as_str(), id.as_str())?;
                }
            }
        }
        tx.commit()?;
        records
            .into_iter()
            .map(|(id, _, _, tags)| {
                let tags = tags
                    .iter()
                    .map(|t| Ok(reference::Reference::parse_normalized(t)?.familiar_string()))
                    .collect::<Result<_, StoreError>>()?;
                Ok(Loaded { id, tags })
            })
            .collect()
    }

    /// Imports a root filesystem tarball (any supported compression) as a
    /// one-layer image. Returns the new image's ID.
    pub fn import(
        &self,
        input: impl Read,
        changes: &[String],
        message: &str,
        tag: Option<&str>,
        progress: LoadProgress,
    ) -> Result<String, StoreError> {
        let tag = tag.map(archive::normalise_tag).transpose()?;
        let mut probe = serde_json::Map::new();
        for c in changes {
            config::apply_change(&mut probe, c)?;
        }
        let _shared = self.gc_lock.read().expect("gc lock poisoned");
        let mut input = input;
        let staged = self.stage_layer(&mut input, 0, None, "import", progress)?;
        let result = (|| {
            let cfg = config::import_config(&staged.record.diff_id, changes, message)?;
            let id = self.content.put(&cfg)?;
            let chain = staged.record.diff_id.clone();
            match &staged.dir {
                Some(d) if !self.snapshots.exists(&chain) => self.snapshots.commit(d, &chain)?,
                _ => {}
            }
            let mut rec = ImageRecord {
                layers: vec![chain.clone()],
                size: staged.record.size,
                manifest: None,
                parent: String::new(),
                last_tag_time: None,
            };
            let tx = self.db.begin_write()?;
            {
                tx.open_table(LAYERS)?.insert(chain.as_str(), meta::encode(&staged.record).as_slice())?;
                if let Some(t) = &tag {
                    rec.last_tag_time = Some(config::now_rfc3339());
                    tx.open_table(TAGS)?.insert(t.as_str(), id.as_str())?;
                }
                tx.open_table(IMAGES)?.insert(id.as_str(), meta::encode(&rec).as_slice())?;
            }
            tx.commit()?;
            Ok(id)
        })();
        if let Some(d) = &staged.dir {
            let _ = self.snapshots.discard(d);
        }
        result
    }

    /// Registers a new image made of `parent`'s layers and one more: `layer`,
    /// an uncompressed layer tar (a container's changes, for `docker
    /// commit`), stored and extracted as a loaded layer is. A layer with no
    /// entries adds none (the history entry says `empty_layer`, as with
    /// Docker). `tag` (normalised or familiar) names the new image. Returns
    /// its ID.
    pub fn commit(
        &self,
        parent: &Image,
        layer: impl Read,
        info: &config::CommitInfo,
        tag: Option<&str>,
    ) -> Result<String, StoreError> {
        let tag = tag.map(archive::normalise_tag).transpose()?;
        let _shared = self.gc_lock.read().expect("gc lock poisoned");
        // The parent may have gone (and its layers with it) since the caller
        // looked: its snapshots must still be there now that gc is held off.
        for chain in &parent.record.layers {
            if !self.snapshots.exists(chain) {
                return Err(StoreError::NotFound(parent.id.clone()));
            }
        }
        let mut input = layer;
        let staged = self.stage_layer(&mut input, 0, None, "commit", &|_, _, _| {})?;
        let result = (|| {
            let empty = staged.record.diff_id == crate::digest::of(&[0u8; 1024]);
            let diff_id = (!empty).then(|| staged.record.diff_id.clone());
            let cfg = config::commit_config(&parent.config, diff_id.as_deref(), info)?;
            let id = self.content.put(&cfg)?;
            let mut rec = ImageRecord {
                layers: parent.record.layers.clone(),
                size: parent.record.size,
                manifest: None,
                parent: parent.id.clone(),
                last_tag_time: None,
            };
            let mut new_layer = None;
            if let Some(d) = &diff_id {
                let mut diffs = parent.config.diff_ids()?;
                diffs.push(d.clone());
                let chain = chain_ids(&diffs).pop().expect("at least the new layer");
                match &staged.dir {
                    Some(dir) if !self.snapshots.exists(&chain) => self.snapshots.commit(dir, &chain)?,
                    _ => {}
                }
                rec.layers.push(chain.clone());
                rec.size += staged.record.size;
                new_layer = Some(chain);
            }
            let tx = self.db.begin_write()?;
            {
                if let Some(chain) = &new_layer {
                    tx.open_table(LAYERS)?.insert(chain.as_str(), meta::encode(&staged.record).as_slice())?;
                }
                if let Some(t) = &tag {
                    rec.last_tag_time = Some(config::now_rfc3339());
                    tx.open_table(TAGS)?.insert(t.as_str(), id.as_str())?;
                }
                tx.open_table(IMAGES)?.insert(id.as_str(), meta::encode(&rec).as_slice())?;
            }
            tx.commit()?;
            Ok(id)
        })();
        if let Some(d) = &staged.dir {
            // Gone already when it became the snapshot.
            let _ = self.snapshots.discard(d);
        }
        result
    }

    /// Writes images to `out` in the `docker save` format. Each entry is an
    /// image and the familiar references to record for it.
    pub fn save<W: Write>(&self, images: &[(Image, Vec<String>)], out: W) -> Result<W, StoreError> {
        let mut by_diff: HashMap<String, LayerRecord> = HashMap::new();
        let mut list = Vec::new();
        for (img, tags) in images {
            let layers = self.layers(img)?;
            list.push(SaveImage {
                config_digest: img.id.clone(),
                config: self.content.read(&img.id)?,
                layers: layers.iter().map(|l| (l.diff_id.clone(), l.tar_size)).collect(),
                tags: tags.clone(),
            });
            by_diff.extend(layers.into_iter().map(|l| (l.diff_id.clone(), l)));
        }
        archive::write_save(out, &list, |diff_id| {
            let rec = &by_diff[diff_id];
            let blob = self.content.open_blob(&rec.blob)?;
            let (_, r) = layer::decompress(BufReader::with_capacity(CHUNK, blob))
                .map_err(|e| StoreError::io(Path::new(&rec.blob), e))?;
            Ok(Box::new(r.take(rec.tar_size)) as Box<dyn Read>)
        })
    }

    /// Streams one layer: its bytes go into the content store as a blob and,
    /// at the same time, through decompression into a fresh staging directory
    /// on a second thread.
    fn stage_layer(
        &self,
        src: &mut dyn Read,
        size: u64,
        expected_blob: Option<&str>,
        short: &str,
        progress: LoadProgress,
    ) -> Result<Staged, StoreError> {
        let dir = self.snapshots.stage()?;
        let mut ingest = self.content.ingest()?;
        let (tx, rx) = sync_channel::<Vec<u8>>(8);
        let extract_dir = dir.clone();
        let extractor =
            std::thread::spawn(move || -> Result<(layer::Compression, layer::Applied), StoreError> {
                let (compression, r) =
                    layer::decompress(BufReader::with_capacity(CHUNK, ChannelReader::new(rx)))
                        .map_err(|e| StoreError::InvalidArchive(format!("layer stream: {e}")))?;
                let applied = layer::apply(r, &extract_dir)?;
                Ok((compression, applied))
            });
        let pumped = pump(src, &mut ingest, tx, size, short, progress);
        let extracted = extractor.join().expect("layer extractor panicked");
        let result = (|| {
            pumped.map_err(|e| self.write_error(e, &dir, size))?;
            let (compression, applied) = extracted.map_err(|e| match enospc_in(&e) {
                true => self.write_error(io::Error::from_raw_os_error(libc::ENOSPC), &dir, size),
                false => e,
            })?;
            let (blob, _) = ingest.commit(&self.content, expected_blob).map_err(|e| match e {
                StoreError::Io { source, path } => self.write_error(source, &path, size),
                e => e,
            })?;
            let media_type = match compression {
                layer::Compression::None => "application/vnd.oci.image.layer.v1.tar",
                layer::Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
                layer::Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
                layer::Compression::Bzip2 => "application/x-bzip2",
                layer::Compression::Xz => "application/x-xz",
            };
            Ok(Staged {
                record: LayerRecord {
                    diff_id: applied.diff_id,
                    blob,
                    media_type: media_type.to_string(),
                    tar_size: applied.tar_size,
                    size: applied.unpacked_size,
                },
                dir: Some(dir.clone()),
            })
        })();
        if result.is_err() {
            let _ = self.snapshots.discard(&dir);
        }
        result
    }

    /// Turns a failed write into [`StoreError::NoSpace`] when the disk is full.
    fn write_error(&self, e: io::Error, path: &Path, needed: u64) -> StoreError {
        if e.raw_os_error() == Some(libc::ENOSPC) {
            // Name the directory: the file that failed is removed at once.
            let dir = path.parent().unwrap_or(path);
            let free = fsutil::free_bytes(dir).unwrap_or(0);
            return StoreError::NoSpace { path: dir.to_path_buf(), needed, free };
        }
        StoreError::io(path, e)
    }

    /// Extracts a stored layer blob into the snapshot `chain` (used when one
    /// archive uses the same layer twice, and to repair a missing snapshot).
    fn extract_blob(&self, rec: &LayerRecord, chain: &str) -> Result<(), StoreError> {
        let dir = self.snapshots.stage()?;
        let result = (|| {
            let blob = self.content.open_blob(&rec.blob)?;
            let (_, r) = layer::decompress(BufReader::with_capacity(CHUNK, blob))
                .map_err(|e| StoreError::io(&dir, e))?;
            layer::apply(r, &dir)?;
            self.snapshots.commit(&dir, chain)
        })();
        if result.is_err() {
            let _ = self.snapshots.discard(&dir);
        }
        result
    }

    fn layers_by_blob(&self) -> Result<HashMap<String, LayerRecord>, StoreError> {
        let snap = meta::read_all(&self.db)?;
        Ok(snap.layers.into_iter().map(|(_, l)| (l.blob.clone(), l)).collect())
    }

    // ---- deletion and garbage collection --------------------------------------

    /// Removes one reference; returns whether it existed.
    pub fn untag(&self, reference: &str) -> Result<bool, StoreError> {
        let r = reference::Reference::parse_normalized(reference)?.with_default_tag().to_string();
        let tx = self.db.begin_write()?;
        let existed = tx.open_table(TAGS)?.remove(r.as_str())?.is_some();
        tx.commit()?;
        Ok(existed)
    }

    /// Deletes an image record and all its references, then whatever layers
    /// and blobs nothing references any more. Returns the deleted IDs (image
    /// first, then layer chain IDs), as `docker rmi` reports them.
    pub fn remove_image(&self, id: &str) -> Result<Vec<DeleteItem>, StoreError> {
        let tx = self.db.begin_write()?;
        {
            let mut images = tx.open_table(IMAGES)?;
            if images.remove(id)?.is_none() {
                return Err(StoreError::NotFound(id.to_string()));
            }
            let mut tags = tx.open_table(TAGS)?;
            let stale: Vec<String> = tags
                .iter()?
                .filter_map(|r| r.ok())
                .filter(|(_, v)| v.value() == id)
                .map(|(k, _)| k.value().to_string())
                .collect();
            for k in stale {
                tags.remove(k.as_str())?;
            }
        }
        tx.commit()?;
        let mut out = vec![DeleteItem::Deleted(id.to_string())];
        let (removed, _) = self.gc()?;
        out.extend(removed.into_iter().map(DeleteItem::Deleted));
        Ok(out)
    }

    /// Removes layers, snapshots and blobs that no image references. Returns
    /// the removed layers' chain IDs and the bytes reclaimed.
    pub fn gc(&self) -> Result<(Vec<String>, u64), StoreError> {
        let _exclusive = self.gc_lock.write().expect("gc lock poisoned");
        let snap = meta::read_all(&self.db)?;
        let live_layers: HashSet<&str> =
            snap.images.iter().flat_map(|(_, r)| r.layers.iter().map(String::as_str)).collect();
        let dead: Vec<String> = snap
            .layers
            .iter()
            .filter(|(c, _)| !live_layers.contains(c.as_str()))
            .map(|(c, _)| c.clone())
            .collect();
        if !dead.is_empty() {
            let tx = self.db.begin_write()?;
            {
                let mut t = tx.open_table(LAYERS)?;
                for c in &dead {
                    t.remove(c.as_str())?;
                }
            }
            tx.commit()?;
        }
        let mut live_blobs: HashSet<String> = HashSet::new();
        for (id, rec) in &snap.images {
            live_blobs.insert(id.clone());
            live_blobs.extend(rec.manifest.clone());
        }
        for (c, l) in &snap.layers {
            if live_layers.contains(c.as_str()) {
                live_blobs.insert(l.blob.clone());
            }
        }
        let mut reclaimed = 0;
        for chain in self.snapshots.list()? {
            if !live_layers.contains(chain.as_str()) {
                let p = self.snapshots.path(&chain)?;
                reclaimed += fsutil::disk_usage(&p);
                self.snapshots.remove(&chain)?;
            }
        }
        for blob in self.content.list()? {
            if !live_blobs.contains(&blob) {
                reclaimed += self.content.size(&blob).unwrap_or(0);
                self.content.delete(&blob)?;
            }
        }
        Ok((dead, reclaimed))
    }

    /// Verifies every blob against its digest and every record against the
    /// files it names.
    pub fn check(&self) -> Result<Check, StoreError> {
        let _shared = self.gc_lock.read().expect("gc lock poisoned");
        let snap = meta::read_all(&self.db)?;
        let mut c =
            Check { interrupted: self.content.ingesting() + self.snapshots.staged(), ..Check::default() };
        for blob in self.content.list()? {
            c.blobs += 1;
            if !self.content.verify(&blob)? {
                c.problems.push(format!("blob {blob} does not match its digest"));
            }
        }
        let on_disk: HashSet<String> = self.snapshots.list()?.into_iter().collect();
        c.snapshots = on_disk.len();
        for (chain, l) in &snap.layers {
            if !on_disk.contains(chain) {
                c.problems.push(format!("layer {chain} has no snapshot"));
            }
            if !self.content.exists(&l.blob) {
                c.problems.push(format!("layer {chain} has no blob {}", l.blob));
            }
        }
        let layers: HashSet<&str> = snap.layers.iter().map(|(k, _)| k.as_str()).collect();
        for (id, rec) in &snap.images {
            c.images += 1;
            if !self.content.exists(id) {
                c.problems.push(format!("image {id} has no config blob"));
            }
            for l in &rec.layers {
                if !layers.contains(l.as_str()) {
                    c.problems.push(format!("image {id} names unknown layer {l}"));
                }
            }
        }
        for (r, id) in &snap.tags {
            if !snap.images.iter().any(|(i, _)| i == id) {
                c.problems.push(format!("reference {r} points at missing image {id}"));
            }
        }
        Ok(c)
    }
}

/// Copies `src` into the blob being ingested and, chunk by chunk, to the
/// extractor. Stops feeding the extractor if it hung up (it failed; its own
/// error is the one reported) but keeps hashing, so the caller can tell.
fn pump(
    src: &mut dyn Read,
    ingest: &mut impl Write,
    tx: SyncSender<Vec<u8>>,
    total: u64,
    short: &str,
    progress: LoadProgress,
) -> io::Result<u64> {
    let mut done = 0u64;
    let mut last_report = 0u64;
    loop {
        let mut buf = vec![0u8; CHUNK];
        let mut filled = 0;
        while filled < CHUNK {
            match src.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        if filled == 0 {
            progress(short, done, total.max(done));
            return Ok(done);
        }
        buf.truncate(filled);
        ingest.write_all(&buf)?;
        done += filled as u64;
        if tx.send(buf).is_err() {
            return Ok(done);
        }
        if done - last_report >= 1 << 20 {
            progress(short, done, total.max(done));
            last_report = done;
        }
    }
}

/// Reads the chunks a [`pump`] sends; end of stream when the sender is gone.
struct ChannelReader {
    rx: Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    pos: usize,
}

impl ChannelReader {
    fn new(rx: Receiver<Vec<u8>>) -> Self {
        Self { rx, chunk: Vec::new(), pos: 0 }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.chunk.len() {
            match self.rx.recv() {
                Ok(c) => {
                    self.chunk = c;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Whether a disk-full error lies anywhere in `e`'s chain of causes.
fn enospc_in(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err.downcast_ref::<io::Error>().and_then(io::Error::raw_os_error) == Some(libc::ENOSPC) {
            return true;
        }
        cur = err.source();
    }
    false
}

/// A failure to read the archive itself, worded for a user: the tar crate's
/// own messages quote raw header bytes.
fn archive_read_error(last: &str, e: io::Error) -> StoreError {
    if last.is_empty() {
        return StoreError::InvalidArchive(
            "the input is not a tar archive (expected a docker save tarball or an OCI layout)".into(),
        );
    }
    let detail = if e.kind() == io::ErrorKind::UnexpectedEof {
        "the archive is truncated"
    } else {
        "corrupt tar header"
    };
    StoreError::InvalidArchive(format!("{detail} after entry {last:?}"))
}

/// An archive member's path, without a leading `./` or `/`.
fn archive_path(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).trim_start_matches("./").trim_start_matches('/').to_string()
}

fn parent_of(path: &str) -> &str {
    path.rsplit_once('/').map(|(d, _)| d).unwrap_or("")
}

/// Resolves a link target relative to `base` inside the archive (never above its root).
fn join_archive_path(base: &str, target: &str) -> String {
    let mut parts: Vec<&str> = if target.starts_with('/') {
        Vec::new()
    } else {
        base.split('/').filter(|s| !s.is_empty()).collect()
    };
    for seg in target.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    parts.join("/")
}

fn looks_like_layer(path: &str) -> bool {
    path.ends_with("layer.tar") || path.starts_with("blobs/")
}

/// The 12-character id progress lines show for a layer.
fn short_name(path: &str) -> String {
    let hex = path.strip_prefix("blobs/sha256/").unwrap_or(parent_of(path));
    hex.chars().take(12).collect()
}
