//! Sockets for the SIP proxy: the UDP sockets (one per worker on the same port,
//! `SO_REUSEPORT`; the workers are in [`super::udp`]) and TCP connections
//! (Content-Length framing, many messages per connection, CRLF keep-alives, idle timeouts,
//! a connection limit). The [`Outbox`] sends what the proxy wrote to its destination on
//! either transport, opening a TCP connection to the next hop on demand.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use interdict_sip::{frame, Framing};
use rustc_hash::FxHashMap;
use socket2::{Domain, Protocol as SockProtocol, Socket, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::proxy::{Action, SipProxy, Wire};

/// Messages queued towards one TCP connection; beyond it new ones are dropped (counted by
/// the peer's retransmission, never by blocking the proxy).
const TCP_QUEUE: usize = 4096;

/// Binds a UDP socket with `SO_REUSEPORT` so several workers share the port.
pub fn bind_udp(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::DGRAM,
        Some(SockProtocol::UDP),
    )?;
    socket.set_reuse_address(true)?;
    #[cfg(unix)]
    socket.set_reuse_port(true)?;
    // Large buffers ride out bursts at line rate.
    let _ = socket.set_recv_buffer_size(8 << 20);
    let _ = socket.set_send_buffer_size(8 << 20);
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// Most spare TCP send buffers kept (see [`Outbox`]).
const SPARE_BUFFERS: usize = 1_024;

/// Sends the proxy's output on the right transport. A message for a TCP connection is
/// copied into a buffer taken from a pool and returned to it once written, so sending on
/// TCP allocates nothing once the pool has warmed up.
pub struct Outbox {
    udp: UdpSocket,
    tcp: Mutex<FxHashMap<SocketAddr, mpsc::Sender<Vec<u8>>>>,
    spare: Mutex<Vec<Vec<u8>>>,
    runtime: tokio::runtime::Handle,
    proxy: Arc<SipProxy>,
    max_message: usize,
    idle: Duration,
}

impl Outbox {
    /// An outbox sending UDP from `udp` (a socket on the proxy's port) and TCP through
    /// connections run on `runtime`.
    pub fn new(
        udp: UdpSocket,
        runtime: tokio::runtime::Handle,
        proxy: Arc<SipProxy>,
        max_message: usize,
        idle: Duration,
    ) -> Arc<Outbox> {
        Arc::new(Outbox {
            udp,
            tcp: Mutex::new(FxHashMap::default()),
            spare: Mutex::new(Vec::new()),
            runtime,
            proxy,
            max_message,
            idle,
        })
    }

    /// Sends `bytes` as the proxy decided, from `socket` for UDP.
    pub fn dispatch(self: &Arc<Self>, action: Action, bytes: &[u8], socket: Option<&UdpSocket>) {
        let Action::Send(dest) = action else { return };
        match dest.wire {
            Wire::Udp => {
                let s = socket.unwrap_or(&self.udp);
                if let Err(e) = s.send_to(bytes, dest.addr) {
                    tracing::debug!(to = %dest.addr, error = %e, "UDP send failed");
                }
            }
            Wire::Tcp => self.send_tcp(dest.addr, self.buffer(bytes)),
        }
    }

    /// `bytes` in a buffer from the pool (or a new one).
    fn buffer(&self, bytes: &[u8]) -> Vec<u8> {
        let mut buf = self
            .spare
            .lock()
            .ok()
            .and_then(|mut s| s.pop())
            .unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(bytes);
        buf
    }

    /// Returns a written buffer to the pool.
    fn recycle(&self, buf: Vec<u8>) {
        if let Ok(mut spare) = self.spare.lock() {
            if spare.len() < SPARE_BUFFERS && buf.capacity() <= 1 << 16 {
                spare.push(buf);
            }
        }
    }

    fn send_tcp(self: &Arc<Self>, addr: SocketAddr, bytes: Vec<u8>) {
        let Ok(mut map) = self.tcp.lock() else { return };
        if let Some(tx) = map.get(&addr) {
            match tx.try_send(bytes) {
                Ok(()) => return,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::warn!(to = %addr, "TCP queue full; message dropped");
                    return;
                }
                Err(mpsc::error::TrySendError::Closed(b)) => {
                    map.remove(&addr);
                    return self.connect_locked(&mut map, addr, b);
                }
            }
        }
        self.connect_locked(&mut map, addr, bytes);
    }

    fn connect_locked(
        self: &Arc<Self>,
        map: &mut FxHashMap<SocketAddr, mpsc::Sender<Vec<u8>>>,
        addr: SocketAddr,
        first: Vec<u8>,
    ) {
        let (tx, rx) = mpsc::channel(TCP_QUEUE);
        let _ = tx.try_send(first);
        map.insert(addr, tx);
        let me = self.clone();
        self.runtime.spawn(async move {
            match TcpStream::connect(addr).await {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    me.run_connection(stream, addr, rx).await;
                }
                Err(e) => {
                    tracing::warn!(to = %addr, error = %e, "TCP connect failed");
                }
            }
            if let Ok(mut map) = me.tcp.lock() {
                if map.get(&addr).is_some_and(|t| t.is_closed()) {
                    map.remove(&addr);
                }
            }
        });
    }

    /// Registers an accepted connection so responses and in-dialog requests for `addr` go
    /// out on it; returns its queue.
    fn register(&self, addr: SocketAddr) -> mpsc::Receiver<Vec<u8>> {
        let (tx, rx) = mpsc::channel(TCP_QUEUE);
        if let Ok(mut map) = self.tcp.lock() {
            map.insert(addr, tx);
        }
        rx
    }

    /// Reads framed messages from a connection and writes its queue to it, until either side
    /// closes, the peer sends garbage, or it is idle too long.
    async fn run_connection(
        self: &Arc<Self>,
        stream: TcpStream,
        peer: SocketAddr,
        mut rx: mpsc::Receiver<Vec<u8>>,
    ) {
        let (mut reader, mut writer) = stream.into_split();
        let me = self.clone();
        let writer_task = tokio::spawn(async move {
            while let Some(bytes) = rx.recv().await {
                if writer.write_all(&bytes).await.is_err() {
                    break;
                }
                me.recycle(bytes);
            }
        });
        let mut buf: Vec<u8> = Vec::with_capacity(8192);
        let mut chunk = vec![0u8; 16384];
        let mut out = Vec::with_capacity(4096);
        'read: loop {
            let n = match tokio::time::timeout(self.idle, reader.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
                Ok(Ok(n)) => n,
            };
            buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
            loop {
                match frame(&buf, self.max_message) {
                    Ok(Framing::Incomplete) => break,
                    Ok(Framing::KeepAlive(n)) => {
                        if n >= 4 {
                            // A CRLFCRLF ping gets a CRLF pong (RFC 5626 §3.5.1).
                            self.send_tcp(peer, self.buffer(b"\r\n"));
                        }
                        buf.drain(..n.min(buf.len()));
                    }
                    Ok(Framing::Complete(len)) => {
                        let len = len.min(buf.len());
                        let action = self.proxy.handle(
                            buf.get(..len).unwrap_or_default(),
                            peer,
                            Wire::Tcp,
                            &mut out,
                        );
                        self.dispatch(action, &out, None);
                        buf.drain(..len);
                    }
                    Err(e) => {
                        // A stream cannot resynchronise after garbage: close it.
                        tracing::debug!(%peer, error = %e, "unframeable TCP stream closed");
                        self.proxy.count_stream_error(&e);
                        break 'read;
                    }
                }
            }
        }
        writer_task.abort();
        if let Ok(mut map) = self.tcp.lock() {
            map.remove(&peer);
        }
    }
}

/// Accepts TCP connections until `stop` is set, at most `max` at once.
pub async fn tcp_accept(
    listener: TcpListener,
    outbox: Arc<Outbox>,
    max: usize,
    stop: Arc<AtomicBool>,
) {
    let open = Arc::new(AtomicUsize::new(0));
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = tokio::time::sleep(Duration::from_millis(100)) => {
                if stop.load(Ordering::Relaxed) { return; }
                continue;
            }
        };
        let Ok((stream, peer)) = accepted else {
            continue;
        };
        if open.load(Ordering::Relaxed) >= max {
            tracing::warn!(%peer, max, "TCP connection limit reached; connection refused");
            drop(stream);
            continue;
        }
        let _ = stream.set_nodelay(true);
        open.fetch_add(1, Ordering::Relaxed);
        let outbox = outbox.clone();
        let open = open.clone();
        tokio::spawn(async move {
            let rx = outbox.register(peer);
            outbox.run_connection(stream, peer, rx).await;
            open.fetch_sub(1, Ordering::Relaxed);
        });
    }
}
