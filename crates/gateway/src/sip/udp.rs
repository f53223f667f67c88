//! The UDP workers: batched receive and send, nothing allocated per datagram.
//!
//! Each worker owns one socket on the proxy's port (`SO_REUSEPORT`). On Linux one
//! `recvmmsg` takes every datagram waiting, up to [`BATCH`], blocking only until the first
//! arrives (`MSG_WAITFORONE`); the proxy handles them in arrival order, and one `sendmmsg`
//! sends every UDP answer and forward of the batch, in the same order. At line rate that
//! divides the system calls per message by the batch size; with one datagram waiting it
//! costs what `recv_from`/`send_to` did. Order per peer is kept: a worker handles and sends
//! its socket's datagrams in the order they were received. Elsewhere the worker falls back
//! to one datagram per call.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::proxy::{Action, SipProxy, Wire};
use super::transport::Outbox;

/// Most datagrams read (and sent) per system call.
pub const BATCH: usize = 32;

/// The largest UDP payload (65,535 minus the IP and UDP headers, IPv4).
const DATAGRAM_MAX: usize = 65_507;

/// Runs one UDP worker until `stop` is set: receive a batch, handle it, send its output.
pub fn udp_worker(
    socket: UdpSocket,
    outbox: Arc<Outbox>,
    proxy: Arc<SipProxy>,
    stop: Arc<AtomicBool>,
) {
    // The timeout bounds how long a worker takes to notice `stop`.
    let _ = socket.set_read_timeout(Some(Duration::from_millis(100)));
    proxy.warm_up();
    let mut io = BatchIo::new();
    let mut outs: Vec<Vec<u8>> = (0..BATCH).map(|_| Vec::with_capacity(8192)).collect();
    let mut dests: [Option<SocketAddr>; BATCH] = [None; BATCH];
    while !stop.load(Ordering::Relaxed) {
        let n = match io.recv(&socket) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                continue
            }
            Err(e) => {
                tracing::debug!(error = %e, "UDP receive failed");
                continue;
            }
        };
        for ((i, out), dest) in outs.iter_mut().enumerate().take(n).zip(dests.iter_mut()) {
            *dest = None;
            let Some((bytes, peer)) = io.datagram(i) else {
                continue;
            };
            match proxy.handle(bytes, peer, Wire::Udp, out) {
                Action::Send(d) if d.wire == Wire::Udp => *dest = Some(d.addr),
                other => outbox.dispatch(other, out, Some(&socket)),
            }
        }
        io.send_all(&socket, &outs, dests.get(..n).unwrap_or_default());
    }
}

#[cfg(target_os = "linux")]
use linux::BatchIo;

#[cfg(not(target_os = "linux"))]
use portable::BatchIo;

#[cfg(target_os = "linux")]
mod linux {
    use std::io::{self, IoSlice, IoSliceMut};
    use std::net::{SocketAddr, UdpSocket};
    use std::os::fd::AsRawFd;

    use nix::sys::socket::{
        recvmmsg, sendmmsg, ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage,
    };
    use smallvec::SmallVec;

    use super::{BATCH, DATAGRAM_MAX};

    /// Receive buffers and the system calls' headers for one worker, allocated once.
    pub struct BatchIo {
        bufs: Vec<Vec<u8>>,
        received: [(usize, Option<SocketAddr>); BATCH],
        headers: MultiHeaders<SockaddrStorage>,
        send_headers: MultiHeaders<SockaddrStorage>,
    }

    impl BatchIo {
        pub fn new() -> BatchIo {
            BatchIo {
                bufs: (0..BATCH).map(|_| vec![0u8; DATAGRAM_MAX]).collect(),
                received: [(0, None); BATCH],
                headers: MultiHeaders::preallocate(BATCH, None),
                send_headers: MultiHeaders::preallocate(BATCH, None),
            }
        }

        /// Waits for at least one datagram, then takes every one waiting (up to [`BATCH`]);
        /// returns how many.
        pub fn recv(&mut self, socket: &UdpSocket) -> io::Result<usize> {
            // An array, not a SmallVec: it has no destructor, so it may hold borrows that
            // live exactly as long as it does.
            let mut bufs = self.bufs.iter_mut();
            let mut slices: [[IoSliceMut<'_>; 1]; BATCH] = std::array::from_fn(|_| {
                [IoSliceMut::new(
                    bufs.next().map_or(&mut [][..], |b| b.as_mut_slice()),
                )]
            });
            let results = recvmmsg(
                socket.as_raw_fd(),
                &mut self.headers,
                slices.iter_mut(),
                MsgFlags::MSG_WAITFORONE,
                None,
            )
            .map_err(io::Error::from)?;
            let mut n = 0;
            for (msg, slot) in results.zip(self.received.iter_mut()) {
                *slot = (msg.bytes, msg.address.and_then(|a| to_std(&a)));
                n += 1;
            }
            Ok(n)
        }

        /// The `i`th datagram of the last batch and who sent it.
        pub fn datagram(&self, i: usize) -> Option<(&[u8], SocketAddr)> {
            let &(len, peer) = self.received.get(i)?;
            Some((self.bufs.get(i)?.get(..len)?, peer?))
        }

        /// Sends `outs[i]` to `dests[i]` for every `i` with a destination, in order, with as
        /// few `sendmmsg` calls as the kernel allows. A datagram the kernel refuses is logged
        /// and skipped (the sender's retransmission covers it, as for a lost datagram).
        pub fn send_all(
            &mut self,
            socket: &UdpSocket,
            outs: &[Vec<u8>],
            dests: &[Option<SocketAddr>],
        ) {
            let mut slices: SmallVec<[[IoSlice<'_>; 1]; BATCH]> = SmallVec::new();
            let mut addrs: SmallVec<[Option<SockaddrStorage>; BATCH]> = SmallVec::new();
            for (out, dest) in outs.iter().zip(dests) {
                if let Some(dest) = dest {
                    slices.push([IoSlice::new(out)]);
                    addrs.push(Some(SockaddrStorage::from(*dest)));
                }
            }
            let mut start = 0;
            while start < slices.len() {
                let (Some(s), Some(a)) = (slices.get(start..), addrs.get(start..)) else {
                    break;
                };
                let sent = sendmmsg(
                    socket.as_raw_fd(),
                    &mut self.send_headers,
                    s.iter(),
                    a,
                    [] as [ControlMessage<'_>; 0],
                    MsgFlags::empty(),
                )
                .map(|r| r.count());
                match sent {
                    Ok(0) => start += 1,
                    Ok(k) => start += k,
                    Err(e) => {
                        tracing::debug!(error = %e, "UDP send failed; datagram dropped");
                        start += 1;
                    }
                }
            }
        }
    }

    fn to_std(a: &SockaddrStorage) -> Option<SocketAddr> {
        if let Some(v4) = a.as_sockaddr_in() {
            Some(SocketAddr::from(*v4))
        } else {
            a.as_sockaddr_in6().map(|v6| SocketAddr::from(*v6))
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod portable {
    use std::io;
    use std::net::{SocketAddr, UdpSocket};

    use super::DATAGRAM_MAX;

    /// One datagram per call where `recvmmsg` is not available.
    pub struct BatchIo {
        buf: Vec<u8>,
        last: (usize, Option<SocketAddr>),
    }

    impl BatchIo {
        pub fn new() -> BatchIo {
            BatchIo {
                buf: vec![0u8; DATAGRAM_MAX],
                last: (0, None),
            }
        }

        pub fn recv(&mut self, socket: &UdpSocket) -> io::Result<usize> {
            let (n, peer) = socket.recv_from(&mut self.buf)?;
            self.last = (n, Some(peer));
            Ok(1)
        }

        pub fn datagram(&self, i: usize) -> Option<(&[u8], SocketAddr)> {
            (i == 0).then_some(())?;
            Some((self.buf.get(..self.last.0)?, self.last.1?))
        }

        pub fn send_all(
            &mut self,
            socket: &UdpSocket,
            outs: &[Vec<u8>],
            dests: &[Option<SocketAddr>],
        ) {
            for (out, dest) in outs.iter().zip(dests) {
                if let Some(dest) = dest {
                    if let Err(e) = socket.send_to(out, dest) {
                        tracing::debug!(to = %dest, error = %e, "UDP send failed");
                    }
                }
            }
        }
    }
}
