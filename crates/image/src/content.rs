//! The content store: immutable blobs named by their sha256 digest.
//!
//! Writers stream into `ingest/` while hashing; a blob is renamed into
//! `blobs/sha256/<hex>` only once its digest is known (and matches what the
//! caller expected), after an fsync. So a blob under its final name is always
//! complete and correct, whatever crashed when.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::StoreError;
use crate::digest::HashingWriter;
use crate::fsutil;

#[derive(Debug, Clone)]
pub struct ContentStore {
    blobs: PathBuf,
    ingest: PathBuf,
}

/// A blob being written; dropped without `commit`, it leaves nothing behind.
#[derive(Debug)]
pub struct Ingest {
    path: PathBuf,
    writer: Option<HashingWriter<BufWriter<File>>>,
}

impl Ingest {
    /// Finishes the blob: verifies the digest (when one was expected), fsyncs
    /// and renames it into place. Returns its digest and size.
    pub fn commit(
        mut self,
        store: &ContentStore,
        expected: Option<&str>,
    ) -> Result<(String, u64), StoreError> {
        let (digest, size, buf) = self.writer.take().expect("an ingest is committed once").finish();
        let file = buf.into_inner().map_err(|e| StoreError::io(&self.path, e.into_error()))?;
        if let Some(expected) = expected
            && expected != digest
        {
            return Err(StoreError::DigestMismatch { expected: expected.to_string(), actual: digest });
        }
        file.sync_all().map_err(|e| StoreError::io(&self.path, e))?;
        let target = store.path(&digest)?;
        fs::rename(&self.path, &target).map_err(|e| StoreError::io(&target, e))?;
        fsutil::fsync_dir(&store.blobs).map_err(|e| StoreError::io(&store.blobs, e))?;
        Ok((digest, size))
    }
}

impl Write for Ingest {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.as_mut().expect("ingest is open").write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer.as_mut().expect("ingest is open").flush()
    }
}

impl Drop for Ingest {
    fn drop(&mut self) {
        if self.writer.is_some() {
            let _ = fs::remove_file(&self.path);
        }
    }
}

impl ContentStore {
    /// Opens the store; with `clear_ingest`, half-written blobs are removed
    /// (whatever is in `ingest/` was never committed: a crash interrupted it).
    pub fn open(root: &Path, clear_ingest: bool) -> io::Result<Self> {
        let blobs = fsutil::ensure_dir(root.join("blobs/sha256"))?;
        let ingest = root.join("ingest");
        if clear_ingest {
            fsutil::remove_tree(&ingest)?;
        }
        let ingest = fsutil::ensure_dir(ingest)?;
        Ok(Self { blobs, ingest })
    }

    /// How many blobs are being (or were, before a crash) written.
    pub fn ingesting(&self) -> usize {
        fs::read_dir(&self.ingest).map(|rd| rd.count()).unwrap_or(0)
    }

    /// The path of a blob, which may or may not exist.
    pub fn path(&self, digest: &str) -> Result<PathBuf, StoreError> {
        Ok(self.blobs.join(hex_of(digest)?))
    }

    pub fn exists(&self, digest: &str) -> bool {
        self.path(digest).map(|p| p.exists()).unwrap_or(false)
    }

    pub fn size(&self, digest: &str) -> Result<u64, StoreError> {
        let p = self.path(digest)?;
        fs::metadata(&p).map(|m| m.len()).map_err(|e| StoreError::io(&p, e))
    }

    pub fn open_blob(&self, digest: &str) -> Result<File, StoreError> {
        let p = self.path(digest)?;
        File::open(&p).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => StoreError::BlobNotFound(digest.to_string()),
            _ => StoreError::io(&p, e),
        })
    }

    pub fn read(&self, digest: &str) -> Result<Vec<u8>, StoreError> {
        let mut bytes = Vec::new();
        let mut f = self.open_blob(digest)?;
        f.read_to_end(&mut bytes).map_err(|e| StoreError::io(&self.blobs, e))?;
        Ok(bytes)
    }

    /// Starts writing a new blob.
    pub fn ingest(&self) -> Result<Ingest, StoreError> {
        let path = self.ingest.join(fsutil::random_name());
        let file = File::create(&path).map_err(|e| StoreError::io(&path, e))?;
        Ok(Ingest { path, writer: Some(HashingWriter::new(BufWriter::with_capacity(256 << 10, file))) })
    }

    /// Writes a whole blob held in memory; a no-op when it is already stored.
    pub fn put(&self, bytes: &[u8]) -> Result<String, StoreError> {
        let digest = crate::digest::of(bytes);
        if !self.exists(&digest) {
            let mut ingest = self.ingest()?;
            ingest.write_all(bytes).map_err(|e| StoreError::io(&self.ingest, e))?;
            ingest.commit(self, Some(&digest))?;
        }
        Ok(digest)
    }

    pub fn delete(&self, digest: &str) -> Result<(), StoreError> {
        let p = self.path(digest)?;
        match fs::remove_file(&p) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(StoreError::io(&p, e)),
            _ => Ok(()),
        }
    }

    /// Every stored blob's digest.
    pub fn list(&self) -> Result<Vec<String>, StoreError> {
        let rd = fs::read_dir(&self.blobs).map_err(|e| StoreError::io(&self.blobs, e))?;
        Ok(rd
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .map(|h| format!("sha256:{h}"))
            .collect())
    }

    /// Re-hashes a stored blob and says whether it still matches its name.
    pub fn verify(&self, digest: &str) -> Result<bool, StoreError> {
        let mut f = self.open_blob(digest)?;
        let mut w = HashingWriter::new(io::sink());
        io::copy(&mut f, &mut w).map_err(|e| StoreError::io(&self.blobs, e))?;
        Ok(w.finish().0 == digest)
    }
}

/// The hex part of a `sha256:<hex>` digest, validated so that it can never
/// name a path outside the blob directory.
pub fn hex_of(digest: &str) -> Result<&str, StoreError> {
    match digest.strip_prefix("sha256:") {
        Some(h) if h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) => Ok(h),
        _ => Err(StoreError::InvalidDigest(digest.to_string())),
    }
}
