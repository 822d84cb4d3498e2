//! Bodies that bridge hyper's async streams and the engine's blocking
//! readers and writers (layer extraction and tar writing are blocking work
//! and run on blocking threads).

use std::io::{self, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming};
use tokio::sync::mpsc;

pub type Chunk = Result<Bytes, io::Error>;

/// A response body fed through a channel, for streamed answers.
#[derive(Debug)]
pub struct ChannelBody {
    rx: mpsc::Receiver<Chunk>,
}

impl ChannelBody {
    pub fn new(capacity: usize) -> (mpsc::Sender<Chunk>, Self) {
        let (tx, rx) = mpsc::channel(capacity);
        (tx, Self { rx })
    }
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        self.rx.poll_recv(cx).map(|o| o.map(|r| r.map(Frame::data)))
    }
}

/// How much of a request body is read and dropped once its reader is gone.
pub const DRAIN_LIMIT: usize = 64 << 20;

/// Reads a request body from a blocking thread.
#[derive(Debug)]
pub struct BodyReader {
    rx: mpsc::Receiver<Chunk>,
    cur: Bytes,
}

impl BodyReader {
    /// Starts a task that forwards `body`'s data frames to the reader.
    ///
    /// When the reader is dropped before the end (the work failed early:
    /// not a tar), the task takes the rest of the body anyway, up to
    /// `drain_limit` bytes ([`DRAIN_LIMIT`] for requests), so that a client
    /// still sending reads our answer rather than a broken pipe.
    pub fn spawn(mut body: Incoming, drain_limit: usize) -> Self {
        let (tx, rx) = mpsc::channel::<Chunk>(16);
        tokio::spawn(async move {
            let mut dropped = 0usize;
            while let Some(frame) = body.frame().await {
                let data = match frame {
                    Ok(f) => match f.into_data() {
                        Ok(d) => d,
                        Err(_) => continue,
                    },
                    Err(e) => {
                        let _ = tx.send(Err(io::Error::other(e))).await;
                        break;
                    }
                };
                let len = data.len();
                if tx.send(Ok(data)).await.is_err() {
                    dropped += len;
                    if dropped > drain_limit {
                        break;
                    }
                }
            }
        });
        Self { rx, cur: Bytes::new() }
    }
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.cur = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        let _ = self.cur.split_to(n);
        Ok(n)
    }
}

/// Writes a response body from a blocking thread, in chunks.
#[derive(Debug)]
pub struct ChannelWriter {
    tx: mpsc::Sender<Chunk>,
    buf: Vec<u8>,
}

const WRITE_CHUNK: usize = 256 << 10;

impl ChannelWriter {
    pub fn new(tx: mpsc::Sender<Chunk>) -> Self {
        Self { tx, buf: Vec::with_capacity(WRITE_CHUNK) }
    }

    /// Sends one JSON document followed by a newline, at once (for progress streams).
    pub fn send_json(tx: &mpsc::Sender<Chunk>, v: &serde_json::Value) {
        let mut line = serde_json::to_vec(v).expect("serialisable");
        line.push(b'\n');
        let _ = tx.blocking_send(Ok(Bytes::from(line)));
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= WRITE_CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(WRITE_CHUNK)));
            self.tx
                .blocking_send(Ok(chunk))
                .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "client went away"))?;
        }
        Ok(())
    }
}
