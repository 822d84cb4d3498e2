//! Content digests (`algorithm:hex`), validated like go-digest's `Parse`.

use std::fmt;
use std::str::FromStr;

use crate::ReferenceError;

/// A validated content digest such as `sha256:<64 lowercase hex>`.
///
/// Validation follows go-digest with the algorithms the Docker daemon
/// registers: `sha256`, `sha384` and `sha512` must carry exactly 64, 96 or 128
/// lowercase hex digits. Other well-formed algorithms are refused as
/// unsupported, malformed strings as invalid. Only sha256 is used for image
/// and layer IDs; see [`Digest::is_sha256`].
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    /// The whole `algorithm:hex` string, so `Display` and `as_str` are free.
    text: String,
    /// Byte index of the `:`.
    sep: usize,
}

impl Digest {
    /// Parses and validates `algorithm:hex`.
    pub fn parse(s: &str) -> Result<Digest, ReferenceError> {
        let sep = match s.find(':') {
            Some(i) if i > 0 && i + 1 < s.len() => i,
            _ => return Err(ReferenceError::DigestInvalidFormat),
        };
        let (alg, hex) = (&s[..sep], &s[sep + 1..]);
        let hex_len = match alg {
            "sha256" => 64,
            "sha384" => 96,
            "sha512" => 128,
            _ if is_go_digest_syntax(alg, hex) => return Err(ReferenceError::DigestUnsupported),
            _ => return Err(ReferenceError::DigestInvalidFormat),
        };
        if hex.len() != hex_len {
            return Err(ReferenceError::DigestInvalidLength);
        }
        if !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(ReferenceError::DigestInvalidFormat);
        }
        Ok(Digest { text: s.to_owned(), sep })
    }

    /// The sha256 digest with the given hex (64 lowercase hex digits).
    pub fn sha256(hex: &str) -> Result<Digest, ReferenceError> {
        Digest::parse(&format!("sha256:{hex}"))
    }

    /// The algorithm, e.g. `sha256`.
    pub fn algorithm(&self) -> &str {
        &self.text[..self.sep]
    }

    /// The hex-encoded hash, without the algorithm.
    pub fn hex(&self) -> &str {
        &self.text[self.sep + 1..]
    }

    /// Whether this is a sha256 digest, the only kind valid as an image ID.
    pub fn is_sha256(&self) -> bool {
        self.algorithm() == "sha256"
    }

    /// The full `algorithm:hex` string.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// go-digest's general digest syntax, used only to tell "unsupported
/// algorithm" apart from "malformed": `[a-z0-9]+([.+_-][a-z0-9]+)*` then `:`
/// then `[a-zA-Z0-9=_-]+`.
fn is_go_digest_syntax(alg: &str, encoded: &str) -> bool {
    let alg_ok = alg
        .split(['.', '+', '_', '-'])
        .all(|comp| !comp.is_empty() && comp.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
    alg_ok
        && !encoded.is_empty()
        && encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'=' || b == b'_' || b == b'-')
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.text)
    }
}

impl FromStr for Digest {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Digest::parse(s)
    }
}

impl AsRef<str> for Digest {
    fn as_ref(&self) -> &str {
        &self.text
    }
}
