//! Extracted layers, one directory per chain ID, used as overlay lowerdirs.
//!
//! A layer is extracted into `staging/` and renamed into `snapshots/` once
//! complete, so a directory under its final name is always a whole layer.
//! Each snapshot holds only its own layer's files (whiteouts included), which
//! overlayfs stacks at mount time; so extraction needs no parent and layers of
//! one image can be extracted in any order, or at once.

use std::fs;
use std::path::{Path, PathBuf};

use crate::StoreError;
use crate::fsutil;

#[derive(Debug, Clone)]
pub struct SnapshotStore {
    dir: PathBuf,
    staging: PathBuf,
}

/// The chain IDs of a stack of layers, bottom first, from their diff IDs
/// (OCI image spec: ChainID(L0) = DiffID(L0), ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))).
pub fn chain_ids(diff_ids: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(parent) => crate::digest::of(format!("{parent} {d}").as_bytes()),
        };
        out.push(next);
    }
    out
}

impl SnapshotStore {
    /// Opens the store; with `clear_staging`, `staging` is emptied, since
    /// anything there was left by an interrupted operation.
    pub fn open(dir: PathBuf, staging: PathBuf, clear_staging: bool) -> std::io::Result<Self> {
        if clear_staging {
            fsutil::remove_tree(&staging)?;
        }
        Ok(Self { dir: fsutil::ensure_dir(dir)?, staging: fsutil::ensure_dir(staging)? })
    }

    /// How many layers are being (or were, before a crash) extracted.
    pub fn staged(&self) -> usize {
        fs::read_dir(&self.staging).map(|rd| rd.count()).unwrap_or(0)
    }

    pub fn path(&self, chain_id: &str) -> Result<PathBuf, StoreError> {
        Ok(self.dir.join(crate::content::hex_of(chain_id)?))
    }

    pub fn exists(&self, chain_id: &str) -> bool {
        self.path(chain_id).map(|p| p.is_dir()).unwrap_or(false)
    }

    /// A fresh, empty staging directory to extract a layer into.
    pub fn stage(&self) -> Result<PathBuf, StoreError> {
        let p = self.staging.join(fsutil::random_name());
        fs::create_dir(&p).map_err(|e| StoreError::io(&p, e))?;
        Ok(p)
    }

    /// Moves a fully extracted staging directory into place. If the snapshot
    /// already exists (another load got there first) the staged copy is dropped.
    pub fn commit(&self, staged: &Path, chain_id: &str) -> Result<(), StoreError> {
        let target = self.path(chain_id)?;
        if target.exists() {
            return self.discard(staged);
        }
        fs::rename(staged, &target).map_err(|e| StoreError::io(&target, e))?;
        fsutil::fsync_dir(&self.dir).map_err(|e| StoreError::io(&self.dir, e))
    }

    pub fn discard(&self, staged: &Path) -> Result<(), StoreError> {
        fsutil::remove_tree(staged).map_err(|e| StoreError::io(staged, e))
    }

    pub fn remove(&self, chain_id: &str) -> Result<(), StoreError> {
        let p = self.path(chain_id)?;
        fsutil::remove_tree(&p).map_err(|e| StoreError::io(&p, e))
    }

    /// Chain IDs of every snapshot on disk.
    pub fn list(&self) -> Result<Vec<String>, StoreError> {
        let rd = fs::read_dir(&self.dir).map_err(|e| StoreError::io(&self.dir, e))?;
        Ok(rd
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .map(|h| format!("sha256:{h}"))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_ids_follow_the_oci_formula() {
        let a = crate::digest::of(b"a");
        let b = crate::digest::of(b"b");
        let ids = chain_ids(&[a.clone(), b.clone()]);
        assert_eq!(ids[0], a);
        assert_eq!(ids[1], crate::digest::of(format!("{a} {b}").as_bytes()));
    }
}
