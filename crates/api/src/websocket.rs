//! The server side of RFC 6455 websockets, for
//! `GET /containers/{id}/attach/ws`: the opening handshake's accept key and a
//! bridge between a client's frames and a container's attach stream.
//!
//! Written here rather than taken from tungstenite: this one endpoint needs
//! only a server's handshake answer and binary/close/ping frames, while the
//! crate would add a random-number stack, futures and a second generation
//! of the digest crates to the daemon.

use base64::Engine as _;
use sha1::{Digest, Sha1};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// Appended to the client's key before hashing (RFC 6455 section 1.3).
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

const OP_CONTINUATION: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

/// Close codes: normal, protocol error.
const CLOSE_NORMAL: u16 = 1000;
const CLOSE_PROTOCOL: u16 = 1002;

/// How long a client gets to take the closing frame.
const CLOSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The protocol version this server speaks (`Sec-WebSocket-Version`).
pub const VERSION: &str = "13";

/// Largest output chunk sent as one message.
const CHUNK: usize = 32 << 10;

/// `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key`.
pub fn accept_key(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.trim().as_bytes());
    h.update(GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

/// One frame from the client, header only; its payload follows on the wire.
struct Header {
    fin: bool,
    opcode: u8,
    len: u64,
    mask: [u8; 4],
}

async fn read_header<R: AsyncRead + Unpin>(r: &mut R) -> std::io::Result<Option<Header>> {
    let mut b = [0u8; 2];
    match r.read_exact(&mut b).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = match b[1] & 0x7f {
        126 => u64::from(r.read_u16().await?),
        127 => r.read_u64().await?,
        n => u64::from(n),
    };
    if b[1] & 0x80 == 0 {
        // Clients must mask every frame (section 5.1).
        return Err(protocol_error("unmasked client frame"));
    }
    if b[0] & 0x70 != 0 {
        // No extension was negotiated, so no reserved bit may be set.
        return Err(protocol_error("reserved bits set"));
    }
    let mut mask = [0u8; 4];
    r.read_exact(&mut mask).await?;
    Ok(Some(Header { fin: b[0] & 0x80 != 0, opcode: b[0] & 0x0f, len, mask }))
}

fn protocol_error(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, format!("websocket: {what}"))
}

/// A frame's header as the server sends it (never masked).
fn frame_header(opcode: u8, len: usize) -> Vec<u8> {
    let mut h = vec![0x80 | opcode];
    match len {
        0..=125 => h.push(len as u8),
        126..=0xffff => {
            h.push(126);
            h.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            h.push(127);
            h.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    h
}

fn close_payload(code: u16) -> Vec<u8> {
    code.to_be_bytes().to_vec()
}

/// Reads the client's frames: data payloads go to `input` (unmasked, in
/// order), pings are answered through `out`, a close is answered and ends
/// the input. Returns on close, end of connection or a protocol error.
async fn read_client<R, W>(mut r: R, mut input: W, out: mpsc::Sender<(u8, Vec<u8>)>)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 8 << 10];
    let result: std::io::Result<()> = async {
        while let Some(h) = read_header(&mut r).await? {
            match h.opcode {
                OP_TEXT | OP_BINARY | OP_CONTINUATION => {
                    // Streamed in chunks: a frame's length is the client's
                    // claim, not something to allocate.
                    let mut left = h.len;
                    let mut offset = 0usize;
                    while left > 0 {
                        let n = left.min(buf.len() as u64) as usize;
                        r.read_exact(&mut buf[..n]).await?;
                        for (i, b) in buf[..n].iter_mut().enumerate() {
                            *b ^= h.mask[(offset + i) % 4];
                        }
                        input.write_all(&buf[..n]).await?;
                        offset += n;
                        left -= n as u64;
                    }
                    input.flush().await?;
                }
                OP_CLOSE | OP_PING | OP_PONG => {
                    if h.len > 125 || !h.fin {
                        return Err(protocol_error("oversized or fragmented control frame"));
                    }
                    let mut payload = vec![0u8; h.len as usize];
                    r.read_exact(&mut payload).await?;
                    for (i, b) in payload.iter_mut().enumerate() {
                        *b ^= h.mask[i % 4];
                    }
                    match h.opcode {
                        OP_PING => {
                            let _ = out.send((OP_PONG, payload)).await;
                        }
                        OP_CLOSE => {
                            let _ = out.send((OP_CLOSE, close_payload(CLOSE_NORMAL))).await;
                            return Ok(());
                        }
                        _ => {}
                    }
                }
                _ => return Err(protocol_error("unknown opcode")),
            }
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        tracing::debug!("websocket client: {e}");
        if e.kind() == std::io::ErrorKind::InvalidData {
            let _ = out.send((OP_CLOSE, close_payload(CLOSE_PROTOCOL))).await;
        }
    }
    let _ = input.shutdown().await;
}

/// Sends queued frames to the client; a close frame is the last.
async fn write_client<W: AsyncWrite + Unpin>(mut w: W, mut frames: mpsc::Receiver<(u8, Vec<u8>)>) {
    while let Some((opcode, payload)) = frames.recv().await {
        let mut bytes = frame_header(opcode, payload.len());
        bytes.extend_from_slice(&payload);
        if w.write_all(&bytes).await.is_err() || w.flush().await.is_err() {
            return;
        }
        if opcode == OP_CLOSE {
            let _ = w.shutdown().await;
            return;
        }
    }
}

/// Output from a container's attach stream, as websocket messages: each
/// multiplexed frame's payload (without a tty), or chunks as read (with
/// one). Docker's websocket attach does not say which stream a message
/// came from.
async fn read_output<S: AsyncRead + Unpin>(
    mut shim: S,
    multiplexed: bool,
    out: &mpsc::Sender<(u8, Vec<u8>)>,
) {
    loop {
        let payload = if multiplexed {
            let mut header = [0u8; 8];
            if shim.read_exact(&mut header).await.is_err() {
                return;
            }
            let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
            let mut payload = vec![0u8; len];
            if shim.read_exact(&mut payload).await.is_err() {
                return;
            }
            payload
        } else {
            let mut payload = vec![0u8; CHUNK];
            match shim.read(&mut payload).await {
                Ok(0) | Err(_) => return,
                Ok(n) => payload.truncate(n),
            }
            payload
        };
        if out.send((OP_BINARY, payload)).await.is_err() {
            return;
        }
    }
}

/// Joins a websocket client (after the handshake) to a container's attach
/// stream until the output ends, the client closes, or it types the detach
/// keys. `history` is sent first (the `logs` option).
pub(crate) async fn bridge<C, S>(
    client: C,
    shim: S,
    multiplexed: bool,
    history: Vec<Vec<u8>>,
    detach_keys: Option<Vec<u8>>,
) where
    C: AsyncRead + AsyncWrite + Send + 'static,
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (client_r, client_w) = tokio::io::split(client);
    let (shim_r, mut shim_w) = tokio::io::split(shim);
    let (out, frames) = mpsc::channel(16);
    let writer = tokio::spawn(write_client(client_w, frames));
    // The client's input as a byte stream, so detach keys work as for
    // hijacked attach.
    let (input_w, input_r) = tokio::io::duplex(64 << 10);
    let reader = tokio::spawn(read_client(client_r, input_w, out.clone()));
    let output = async {
        for chunk in history {
            if out.send((OP_BINARY, chunk)).await.is_err() {
                return;
            }
        }
        read_output(shim_r, multiplexed, &out).await;
    };
    // Input ends with the client's close (or its connection), or when it
    // types the detach keys; either way the client is gone.
    let input = async {
        let mut input_r = input_r;
        if let Some(keys) = &detach_keys {
            match crate::detach::copy_until_detach(&mut input_r, &mut shim_w, keys).await {
                Ok(true) => return,
                Ok(false) => {
                    let _ = shim_w.shutdown().await;
                    return;
                }
                // The container's stdin is gone; its output may go on.
                Err(_) => {}
            }
        }
        // Input nobody takes is discarded, but still read so pings and the
        // close are seen.
        let _ = tokio::io::copy(&mut input_r, &mut tokio::io::sink()).await;
    };
    tokio::select! {
        () = output => {}
        () = input => {}
    }
    // A client that stopped reading must not keep this task (and the shim's
    // attach connection) forever.
    let mut writer = writer;
    let closing = async {
        let _ = out.send((OP_CLOSE, close_payload(CLOSE_NORMAL))).await;
        drop(out);
        let _ = (&mut writer).await;
    };
    if tokio::time::timeout(CLOSE_TIMEOUT, closing).await.is_err() {
        writer.abort();
    }
    reader.abort();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_key_matches_the_rfc_example() {
        assert_eq!(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn frame_headers_use_the_three_length_forms() {
        assert_eq!(frame_header(OP_BINARY, 5), [0x82, 5]);
        assert_eq!(frame_header(OP_BINARY, 300), [0x82, 126, 1, 44]);
        assert_eq!(frame_header(OP_CLOSE, 70_000), [0x88, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
    }

    fn masked(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [1u8, 2, 3, 4];
        let mut f = vec![0x80 | opcode, 0x80 | payload.len() as u8];
        f.extend_from_slice(&mask);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        f
    }

    #[tokio::test]
    async fn client_frames_are_unmasked_pings_answered_and_close_ends_input() {
        let mut wire = masked(OP_BINARY, b"hello ");
        wire.extend(masked(OP_PING, b"p"));
        wire.extend(masked(OP_TEXT, b"world"));
        wire.extend(masked(OP_CLOSE, &close_payload(CLOSE_NORMAL)));
        wire.extend(masked(OP_BINARY, b"after close"));
        let (mut input_w, mut input_r) = tokio::io::duplex(1024);
        let (out, mut frames) = mpsc::channel(8);
        read_client(&wire[..], &mut input_w, out).await;
        drop(input_w);
        let mut got = Vec::new();
        input_r.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"hello world");
        assert_eq!(frames.recv().await.unwrap(), (OP_PONG, b"p".to_vec()));
        assert_eq!(frames.recv().await.unwrap().0, OP_CLOSE);
    }

    /// The first frame the server answers `wire` with.
    async fn first_answer(wire: &[u8]) -> (u8, Vec<u8>) {
        let (mut input_w, _input_r) = tokio::io::duplex(1024);
        let (out, mut frames) = mpsc::channel(8);
        read_client(wire, &mut input_w, out).await;
        frames.recv().await.unwrap()
    }

    #[tokio::test]
    async fn unmasked_frames_and_reserved_bits_are_protocol_errors() {
        let protocol_error = (OP_CLOSE, close_payload(CLOSE_PROTOCOL));
        assert_eq!(first_answer(&[0x82u8, 1, b'x']).await, protocol_error);
        let mut wire = masked(OP_BINARY, b"x");
        wire[0] |= 0x40;
        assert_eq!(first_answer(&wire).await, protocol_error);
    }

    #[tokio::test]
    async fn multiplexed_output_becomes_one_message_per_frame() {
        let mut shim = vec![1u8, 0, 0, 0, 0, 0, 0, 3];
        shim.extend_from_slice(b"out");
        shim.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 4]);
        shim.extend_from_slice(b"err\n");
        let (out, mut frames) = mpsc::channel(8);
        read_output(&shim[..], true, &out).await;
        drop(out);
        assert_eq!(frames.recv().await.unwrap(), (OP_BINARY, b"out".to_vec()));
        assert_eq!(frames.recv().await.unwrap(), (OP_BINARY, b"err\n".to_vec()));
        assert!(frames.recv().await.is_none());
    }
}
