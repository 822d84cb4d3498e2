//! Recognising and undoing the compressions a layer blob may carry.

use std::io::{self, BufRead, Cursor, Read};

/// How a layer blob is compressed, as recognised by its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    /// A plain tar stream (or anything we do not recognise: the tar reader
    /// then decides whether it is garbage).
    None,
    Gzip,
    Zstd,
    Bzip2,
    Xz,
}

impl Compression {
    /// A short lowercase name, for logs and messages.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Bzip2 => "bzip2",
            Compression::Xz => "xz",
        }
    }
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b, 0x08];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
const BZIP2_MAGIC: &[u8] = b"BZh";
const XZ_MAGIC: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0x00];

/// The most bytes [`sniff`] looks at.
pub(crate) const SNIFF_LEN: usize = XZ_MAGIC.len();

/// Recognises the compression of a stream from its first bytes (at least six
/// are needed to recognise xz; fewer simply recognise less).
pub fn sniff(head: &[u8]) -> Compression {
    if head.starts_with(GZIP_MAGIC) {
        Compression::Gzip
    } else if head.starts_with(ZSTD_MAGIC) {
        Compression::Zstd
    } else if head.starts_with(XZ_MAGIC) {
        Compression::Xz
    } else if head.starts_with(BZIP2_MAGIC) {
        // "BZh" is followed by the block size digit '1'..='9'; checking it
        // keeps a tar whose first file is named "BZh..." from being taken
        // for bzip2 (a tar name is followed by more name or NUL bytes).
        match head.get(3) {
            Some(b'1'..=b'9') | None => Compression::Bzip2,
            Some(_) => Compression::None,
        }
    } else {
        Compression::None
    }
}

/// Wraps a buffered reader in the right decompressor, after sniffing its
/// first bytes.
///
/// The sniffed bytes are not lost: when the reader's buffer already holds
/// enough of them nothing is consumed, otherwise they are read and chained
/// back in front of the rest. Multi-member gzip, multi-frame zstd,
/// multi-stream bzip2 and xz are all decoded to the end, and every decoder
/// reports a stream cut short as an error rather than as a clean end.
pub fn decompress<'a, R: BufRead + Send + 'a>(
    mut r: R,
) -> io::Result<(Compression, Box<dyn Read + Send + 'a>)> {
    let buffered = loop {
        match r.fill_buf() {
            Ok(b) => break b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    };
    if buffered.len() >= SNIFF_LEN || buffered.is_empty() {
        let c = sniff(buffered);
        return Ok((c, wrap(c, r)?));
    }
    // The buffer holds only a few bytes: read the head out and chain it back.
    let mut head = [0u8; SNIFF_LEN];
    let mut n = 0;
    while n < SNIFF_LEN {
        match r.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let c = sniff(&head[..n]);
    let front = Cursor::new(head).take(n as u64);
    Ok((c, wrap(c, front.chain(r))?))
}

fn wrap<'a, R: BufRead + Send + 'a>(c: Compression, r: R) -> io::Result<Box<dyn Read + Send + 'a>> {
    Ok(match c {
        Compression::None => Box::new(r),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(r)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(r)?),
        Compression::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(r)),
        Compression::Xz => Box::new(liblzma::bufread::XzDecoder::new_multi_decoder(r)),
    })
}
