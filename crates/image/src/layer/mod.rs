//! Layer tarballs: decompression and hostile-input-safe extraction (in progress).
