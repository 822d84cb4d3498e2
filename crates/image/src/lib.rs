//! The image store: content-addressed blobs, extracted layer snapshots, image
//! manifests and configs, and the archive formats images travel in.
//!
//! Architecture invariant: this crate knows nothing of the Engine API, HTTP or
//! the metadata database; the engine drives it.

pub mod digest;
pub mod layer;
