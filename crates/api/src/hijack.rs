//! Hijacked connections (attach, exec start, websocket attach): the answer's
//! head, then raw streams both ways on the client's connection.
//!
//! docker-py reads a hijacked stream from the raw socket, past the buffer its
//! HTTP reader filled while reading the head, so stream bytes that arrive
//! together with the head are lost to it. Docker rarely meets that race only
//! because its streams begin late (it starts an exec after the hijack, through
//! containerd); ours can begin at once. So on a unix socket the stream waits
//! until the client has read the head.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;

/// The client's unix socket, in each request's extensions (a duplicate
/// descriptor: the connection itself belongs to hyper).
#[derive(Clone, Debug)]
pub(crate) struct PeerSocket(Arc<OwnedFd>);

impl PeerSocket {
    pub(crate) fn of(stream: &tokio::net::UnixStream) -> std::io::Result<PeerSocket> {
        Ok(PeerSocket(Arc::new(stream.as_fd().try_clone_to_owned()?)))
    }

    /// What the client has not read yet (on a unix socket, the memory its
    /// unread messages hold, so only zero or not is meaningful).
    fn unread(&self) -> rustix::io::Result<libc::c_int> {
        type Unread = rustix::ioctl::Getter<{ libc::TIOCOUTQ as rustix::ioctl::Opcode }, libc::c_int>;
        // SAFETY: TIOCOUTQ (SIOCOUTQ on sockets) writes one int.
        unsafe { rustix::ioctl::ioctl(&*self.0, Unread::new()) }
    }

    /// Waits (2 s at most) until the client has read all it was sent.
    async fn drained(&self) {
        let deadline = Instant::now() + Duration::from_secs(2);
        while matches!(self.unread(), Ok(n) if n > 0) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

/// The client's connection once the answer's head has been sent and, on a
/// unix socket, read; `None` when the upgrade failed (the client is gone).
pub(crate) async fn take_over<B>(req: hyper::Request<B>) -> Option<TokioIo<Upgraded>> {
    let peer = req.extensions().get::<PeerSocket>().cloned();
    let upgraded = match hyper::upgrade::on(req).await {
        Ok(u) => u,
        Err(e) => {
            tracing::debug!("upgrade failed: {e}");
            return None;
        }
    };
    if let Some(peer) = peer {
        peer.drained().await;
    }
    Some(TokioIo::new(upgraded))
}
