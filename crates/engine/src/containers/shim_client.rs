//! The daemon's side of the shim control protocol (docs/shim.md): one JSON
//! request per connection, one JSON answer, then possibly a byte stream.

use std::path::{Path, PathBuf};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use crate::{Error, Result};

#[derive(Debug, Clone)]
pub struct ShimClient {
    socket: PathBuf,
}

/// A connection whose request was accepted and which now carries a stream
/// (attach, exec). Bytes the shim sent after its answer line are in `buffered`.
#[derive(Debug)]
pub struct ShimStream {
    pub stream: BufReader<UnixStream>,
}

impl ShimClient {
    pub fn new(bundle: &Path) -> Self {
        Self { socket: bundle.join("shim.sock") }
    }

    async fn send(&self, req: &Value) -> Result<(Value, BufReader<UnixStream>)> {
        let connect_err = |e: std::io::Error| {
            Error::Internal(format!("connecting to the shim at {}: {e}", self.socket.display()))
        };
        // A socket path must fit in 108 bytes; a deep bundle need not, so
        // connect through a descriptor of the bundle directory instead.
        let dir =
            std::fs::File::open(self.socket.parent().expect("a socket in a bundle")).map_err(connect_err)?;
        let short = format!("/proc/self/fd/{}/shim.sock", std::os::fd::AsRawFd::as_raw_fd(&dir));
        let mut s = UnixStream::connect(&short).await.map_err(connect_err)?;
        drop(dir);
        let mut line = serde_json::to_vec(req).expect("json");
        line.push(b'\n');
        s.write_all(&line).await.map_err(|e| Error::Internal(format!("talking to the shim: {e}")))?;
        let mut reader = BufReader::new(s);
        let mut answer = String::new();
        reader
            .read_line(&mut answer)
            .await
            .map_err(|e| Error::Internal(format!("reading the shim's answer: {e}")))?;
        if answer.is_empty() {
            return Err(Error::Internal("the shim closed the connection without answering".into()));
        }
        let v: Value = serde_json::from_str(&answer)
            .map_err(|e| Error::Internal(format!("bad answer from the shim: {e}")))?;
        if v.get("ok").and_then(Value::as_bool) != Some(true) {
            let msg = v.get("error").and_then(Value::as_str).unwrap_or("the shim refused the request");
            return Err(ShimError {
                message: msg.to_string(),
                code: v.get("code").and_then(Value::as_i64).unwrap_or(125),
            }
            .into());
        }
        Ok((v, reader))
    }

    /// A request whose whole answer is one JSON line.
    pub async fn call(&self, req: Value) -> Result<Value> {
        Ok(self.send(&req).await?.0)
    }

    /// A request that turns the connection into a stream once accepted.
    pub async fn open(&self, req: Value) -> Result<(Value, ShimStream)> {
        let (v, stream) = self.send(&req).await?;
        Ok((v, ShimStream { stream }))
    }

    /// Whether a shim answers on this socket.
    pub async fn alive(&self) -> bool {
        self.call(serde_json::json!({"op": "state"})).await.is_ok()
    }
}

/// An error the shim reported, with the exit code Docker would give.
#[derive(Debug, Clone)]
pub struct ShimError {
    pub message: String,
    pub code: i64,
}

impl From<ShimError> for Error {
    fn from(e: ShimError) -> Self {
        Error::Shim(e.message, e.code)
    }
}
