//! Image archives: reading `docker save` tarballs (legacy `<id>/layer.tar` and
//! the newer form with an OCI `blobs/` tree) and OCI image layouts, and writing
//! the `docker save` form that Docker, skopeo and berth all read back.

use std::collections::HashMap;
use std::io::{self, Read, Write};

use serde::Deserialize;
use serde_json::{Value, json};

use crate::StoreError;

/// One image an archive describes, its parts named by paths inside the archive.
#[derive(Debug, Clone)]
pub struct ArchiveImage {
    pub config: String,
    pub layers: Vec<String>,
    /// Full references (`docker.io/library/busybox:latest`) to tag it with.
    pub tags: Vec<String>,
    /// The manifest's digest, when the archive carries one (OCI layout).
    pub manifest: Option<String>,
    /// Layer media types from the manifest, where known.
    pub media_types: Vec<Option<String>>,
}

/// `manifest.json` of the `docker save` format.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifestEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// Finds the images in an archive, given its small files (JSON documents) by
/// path. `manifest.json` wins over `index.json`, as Docker's loader does.
pub fn images(files: &HashMap<String, Vec<u8>>) -> Result<Vec<ArchiveImage>, StoreError> {
    if let Some(m) = files.get("manifest.json") {
        let entries: Vec<DockerManifestEntry> = serde_json::from_slice(m)
            .map_err(|e| StoreError::InvalidArchive(format!("manifest.json: {e}")))?;
        return entries
            .into_iter()
            .map(|e| {
                let tags = e
                    .repo_tags
                    .unwrap_or_default()
                    .iter()
                    .map(|t| normalise_tag(t))
                    .collect::<Result<_, _>>()?;
                let n = e.layers.len();
                Ok(ArchiveImage {
                    config: e.config,
                    layers: e.layers,
                    tags,
                    manifest: None,
                    media_types: vec![None; n],
                })
            })
            .collect();
    }
    let Some(index) = files.get("index.json") else {
        return Err(StoreError::InvalidArchive(
            "neither manifest.json nor index.json found: not a docker save tarball or OCI layout".into(),
        ));
    };
    let index: Value =
        serde_json::from_slice(index).map_err(|e| StoreError::InvalidArchive(format!("index.json: {e}")))?;
    let mut out = Vec::new();
    for desc in index["manifests"].as_array().into_iter().flatten() {
        let tag = desc
            .pointer("/annotations/io.containerd.image.name")
            .or_else(|| desc.pointer("/annotations/org.opencontainers.image.ref.name"));
        let tags = match tag.and_then(Value::as_str) {
            // A bare ref.name ("latest", "alpine") is only a tag, with no
            // repository to put it on: such images load untagged.
            Some(t) if t.contains([':', '/']) && reference::Reference::parse_normalized(t).is_ok() => {
                vec![normalise_tag(t)?]
            }
            _ => vec![],
        };
        collect_manifest(files, desc, tags, &mut out, 0)?;
    }
    Ok(out)
}

fn collect_manifest(
    files: &HashMap<String, Vec<u8>>,
    desc: &Value,
    tags: Vec<String>,
    out: &mut Vec<ArchiveImage>,
    depth: usize,
) -> Result<(), StoreError> {
    if depth > 4 {
        return Err(StoreError::InvalidArchive("image indexes nested too deeply".into()));
    }
    let digest = desc["digest"].as_str().unwrap_or_default();
    let path = blob_path(digest)?;
    let bytes = files.get(&path).ok_or_else(|| {
        StoreError::InvalidArchive(format!("manifest {digest} is missing from the archive"))
    })?;
    if crate::digest::of(bytes) != digest {
        return Err(StoreError::DigestMismatch {
            expected: digest.to_string(),
            actual: crate::digest::of(bytes),
        });
    }
    let doc: Value = serde_json::from_slice(bytes)
        .map_err(|e| StoreError::InvalidArchive(format!("manifest {digest}: {e}")))?;
    if let Some(children) = doc["manifests"].as_array() {
        // A multi-platform index: take this host's platform, as `docker load` does.
        let pick = children.iter().find(|c| {
            c.pointer("/platform/os").and_then(Value::as_str) == Some("linux")
                && c.pointer("/platform/architecture").and_then(Value::as_str)
                    == Some(crate::config::go_arch())
        });
        let child = pick.ok_or_else(|| {
            StoreError::InvalidArchive(format!(
                "index {digest} has no linux/{} image",
                crate::config::go_arch()
            ))
        })?;
        return collect_manifest(files, child, tags, out, depth + 1);
    }
    let config = blob_path(doc.pointer("/config/digest").and_then(Value::as_str).unwrap_or_default())?;
    let mut layers = Vec::new();
    let mut media_types = Vec::new();
    for l in doc["layers"].as_array().into_iter().flatten() {
        layers.push(blob_path(l["digest"].as_str().unwrap_or_default())?);
        media_types.push(l["mediaType"].as_str().map(str::to_string));
    }
    out.push(ArchiveImage { config, layers, tags, manifest: Some(digest.to_string()), media_types });
    Ok(())
}

/// The archive path of a blob in an OCI layout.
fn blob_path(digest: &str) -> Result<String, StoreError> {
    Ok(format!("blobs/sha256/{}", crate::content::hex_of(digest)?))
}

/// `busybox:latest` → `docker.io/library/busybox:latest`.
pub fn normalise_tag(t: &str) -> Result<String, StoreError> {
    Ok(reference::Reference::parse_normalized(t)?.with_default_tag().to_string())
}

/// One image to write with [`write_save`].
#[derive(Debug)]
pub struct SaveImage {
    pub config_digest: String,
    pub config: Vec<u8>,
    /// (diff ID, tar size) per layer, bottom first.
    pub layers: Vec<(String, u64)>,
    /// Familiar references to record (`busybox:latest`).
    pub tags: Vec<String>,
}

/// Writes the `docker save` layout (Docker 25+ form: an OCI layout whose
/// `manifest.json` points into `blobs/`). Layers are written uncompressed, as
/// Docker does; `open_layer` yields a layer's uncompressed tar stream.
pub fn write_save<W: Write>(
    out: W,
    images: &[SaveImage],
    mut open_layer: impl FnMut(&str) -> Result<Box<dyn Read>, StoreError>,
) -> Result<W, StoreError> {
    let mut tar = tar::Builder::new(out);
    let io_err = |e: io::Error| StoreError::io(std::path::Path::new("<save stream>"), e);
    let mut written = std::collections::HashSet::new();
    let add =
        |tar: &mut tar::Builder<W>, path: &str, size: u64, data: &mut dyn Read| -> Result<(), StoreError> {
            let mut h = tar::Header::new_ustar();
            h.set_size(size);
            h.set_mode(0o644);
            h.set_mtime(0);
            h.set_entry_type(tar::EntryType::Regular);
            tar.append_data(&mut h, path, data).map_err(io_err)
        };
    add(&mut tar, "oci-layout", 30, &mut &br#"{"imageLayoutVersion":"1.0.0"}"#[..])?;
    let mut index = Vec::new();
    let mut docker_manifest = Vec::new();
    let mut repositories = serde_json::Map::new();
    for img in images {
        for (diff_id, size) in &img.layers {
            if written.insert(diff_id.clone()) {
                let mut r = open_layer(diff_id)?;
                add(&mut tar, &blob_path(diff_id)?, *size, &mut r)?;
            }
        }
        if written.insert(img.config_digest.clone()) {
            add(&mut tar, &blob_path(&img.config_digest)?, img.config.len() as u64, &mut &img.config[..])?;
        }
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": img.config_digest, "size": img.config.len()},
            "layers": img.layers.iter().map(|(d, s)| json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": s})).collect::<Vec<_>>(),
        });
        let manifest = serde_json::to_vec(&manifest).expect("serialisable");
        let manifest_digest = crate::digest::of(&manifest);
        if written.insert(manifest_digest.clone()) {
            add(&mut tar, &blob_path(&manifest_digest)?, manifest.len() as u64, &mut &manifest[..])?;
        }
        let descriptor = |annotations: Value| json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest, "size": manifest.len(), "annotations": annotations});
        if img.tags.is_empty() {
            index.push(descriptor(json!({})));
        }
        for t in &img.tags {
            let r = reference::Reference::parse_normalized(t)?;
            let tag = r.tag().unwrap_or("latest").to_string();
            index.push(descriptor(
                json!({"io.containerd.image.name": r.to_string(), "org.opencontainers.image.ref.name": tag}),
            ));
            repositories
                .entry(r.familiar_name())
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .expect("map")
                .insert(
                    tag,
                    json!(
                        img.layers
                            .last()
                            .map(|(d, _)| crate::content::hex_of(d).unwrap_or_default())
                            .unwrap_or_default()
                    ),
                );
        }
        docker_manifest.push(json!({
            "Config": blob_path(&img.config_digest)?,
            "RepoTags": if img.tags.is_empty() { Value::Null } else { json!(img.tags) },
            "Layers": img.layers.iter().map(|(d, _)| blob_path(d)).collect::<Result<Vec<_>, _>>()?,
        }));
    }
    let index = serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": index})).expect("json");
    add(&mut tar, "index.json", index.len() as u64, &mut &index[..])?;
    let docker_manifest = serde_json::to_vec(&docker_manifest).expect("json");
    add(&mut tar, "manifest.json", docker_manifest.len() as u64, &mut &docker_manifest[..])?;
    if !repositories.is_empty() {
        let repositories = serde_json::to_vec(&repositories).expect("json");
        add(&mut tar, "repositories", repositories.len() as u64, &mut &repositories[..])?;
    }
    tar.into_inner().map_err(io_err)
}
