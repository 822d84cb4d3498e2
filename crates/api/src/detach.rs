//! Detach keys: the key sequence (ctrl-p ctrl-q by default) with which an
//! attached client leaves a container running. The daemon watches the
//! client's input for it, as Docker does, so every client gets it.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::ApiError;

/// Docker's default: ctrl-p, ctrl-q.
pub const DEFAULT: &[u8] = &[0x10, 0x11];

/// Parses Docker's detach-keys format: comma-separated keys, each a single
/// character or `ctrl-<x>` (`ctrl-@`, `ctrl-a`…`ctrl-z`, `ctrl-[`, `ctrl-\`,
/// `ctrl-]`, `ctrl-^`, `ctrl-_`).
pub fn parse(s: &str) -> Result<Vec<u8>, ApiError> {
    if s.is_empty() {
        return Ok(DEFAULT.to_vec());
    }
    let bad = || ApiError::bad_request(format!("Invalid detach keys ({s}) provided"));
    s.split(',')
        .map(|key| {
            if let Some(c) = key.strip_prefix("ctrl-") {
                let b = *c.as_bytes().first().filter(|_| c.len() == 1).ok_or_else(bad)?;
                match b.to_ascii_lowercase() {
                    b'a'..=b'z' => Ok(b.to_ascii_lowercase() - b'a' + 1),
                    b'@' | b'[' | b'\\' | b']' | b'^' | b'_' => Ok(b - b'@'),
                    _ => Err(bad()),
                }
            } else if key.len() == 1 {
                Ok(key.as_bytes()[0])
            } else {
                Err(bad())
            }
        })
        .collect()
}

/// Copies `from` to `to` until end of input (returns `false`) or until the
/// detach sequence was typed (returns `true`; the sequence itself is never
/// forwarded). Bytes that begin the sequence are held back until it is
/// either completed or broken, then sent as typed. With no keys, a plain copy.
pub async fn copy_until_detach<R, W>(mut from: R, mut to: W, keys: &[u8]) -> std::io::Result<bool>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 8 << 10];
    let mut matched = 0;
    loop {
        let n = from.read(&mut buf).await?;
        if n == 0 {
            if matched > 0 {
                to.write_all(&keys[..matched]).await?;
            }
            to.flush().await?;
            return Ok(false);
        }
        let mut out = Vec::with_capacity(n + matched);
        for &b in &buf[..n] {
            if !keys.is_empty() && b == keys[matched] {
                matched += 1;
                if matched == keys.len() {
                    to.write_all(&out).await?;
                    to.flush().await?;
                    return Ok(true);
                }
            } else {
                out.extend_from_slice(&keys[..matched]);
                matched = 0;
                if !keys.is_empty() && b == keys[0] {
                    matched = 1;
                } else {
                    out.push(b);
                }
            }
        }
        to.write_all(&out).await?;
        to.flush().await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_key_specs() {
        assert_eq!(parse("").unwrap(), DEFAULT);
        assert_eq!(parse("ctrl-p,ctrl-q").unwrap(), DEFAULT);
        assert_eq!(parse("ctrl-x,y").unwrap(), vec![0x18, b'y']);
        assert_eq!(parse("ctrl-[").unwrap(), vec![0x1b]);
        assert!(parse("ctrl-pq").is_err());
        assert!(parse("abc").is_err());
    }

    async fn run(input: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::new();
        let detached = copy_until_detach(input, &mut out, DEFAULT).await.unwrap();
        (out, detached)
    }

    #[tokio::test]
    async fn the_sequence_detaches_and_is_not_forwarded() {
        assert_eq!(run(b"ls\n\x10\x11rest").await, (b"ls\n".to_vec(), true));
        // A broken sequence is sent as typed.
        assert_eq!(run(b"a\x10b").await, (b"a\x10b".to_vec(), false));
        assert_eq!(run(b"\x10\x10\x11").await, (b"\x10".to_vec(), true));
        assert_eq!(run(b"plain").await, (b"plain".to_vec(), false));
    }
}
