//! The SMPP proxy's sockets: the listener, one task per ESME connection (and its SMSC
//! connection), and drain.
//!
//! Each task reads whatever both sides sent ([`PduReader`]), hands every whole PDU already
//! buffered to its [`Session`], and writes what the session produced in one write per side:
//! at high rates many PDUs share a write. A `command_length` that cannot be right (shorter
//! than a header, longer than `max_pdu_bytes`) gets generic_nack ESME_RINVCMDLEN and the
//! connection is closed, since the stream cannot be resynchronised; other connections carry
//! on. Buffers are bounded by `max_pdu_bytes` plus one read.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::session::{Out, Session, Shared};
use super::Side;
use crate::smpp_wire::{PduReader, WireError};

const TICK: Duration = Duration::from_millis(100);

/// Sessions open now (for drain and the gauge).
#[derive(Debug, Default)]
pub struct Live(AtomicUsize);

impl Live {
    /// Sessions open.
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Accepts ESME connections until `stop` turns true; each gets its own task. Connections
/// beyond `max_sessions` are closed at once and counted.
pub async fn accept(
    listener: TcpListener,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
    live: Arc<Live>,
) {
    let mut stopping = stop.clone();
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "SMPP accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopping.changed() => return,
        };
        if *stop.borrow() {
            return;
        }
        if live.get() >= shared.cfg.max_sessions {
            shared.metrics.smpp_event("session_refused");
            drop(stream);
            continue;
        }
        let _ = stream.set_nodelay(true);
        live.0.fetch_add(1, Ordering::SeqCst);
        shared.metrics.smpp_sessions.inc();
        let (shared, stop, live) = (shared.clone(), stop.clone(), live.clone());
        tokio::spawn(async move {
            run(stream, peer, shared.clone(), stop).await;
            live.0.fetch_sub(1, Ordering::SeqCst);
            shared.metrics.smpp_sessions.dec();
        });
    }
}

struct SmscConn {
    read: PduReader<OwnedReadHalf>,
    write: OwnedWriteHalf,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// One ESME connection from accept to close.
async fn run(
    esme: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let cfg = shared.cfg.clone();
    let mut session = Session::new(shared.clone(), peer);
    let (esme_read, mut esme_write) = esme.into_split();
    let mut esme_read = PduReader::new(esme_read, cfg.max_pdu_bytes);
    let mut smsc: Option<SmscConn> = None;
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut draining = *stop.borrow();
    if draining {
        return;
    }
    let write_timeout = Duration::from_millis(cfg.response_timeout_ms.max(1_000));
    loop {
        let mut out = Out::default();
        let now = Instant::now();
        tokio::select! {
            r = esme_read.next_pdu() => {
                let first = r.map(|p| p.map(<[u8]>::to_vec));
                if let Err(e) = pdus(first, &mut esme_read, Side::Esme, &mut session, &mut out) {
                    if e.nack().is_some() {
                        shared.metrics.parse_error("SMPP", "command_length");
                        tracing::debug!(%peer, error = %e, "ESME sent an impossible command_length; closing");
                        e.write_nack(&mut out.esme);
                    }
                    session.on_closed(Side::Esme, now, &mut out);
                }
            },
            r = async {
                match smsc.as_mut() {
                    Some(c) => c.read.next_pdu().await.map(|p| p.map(<[u8]>::to_vec)),
                    None => std::future::pending().await,
                }
            } => {
                if let Some(c) = smsc.as_mut() {
                    if let Err(e) = pdus(r, &mut c.read, Side::Smsc, &mut session, &mut out) {
                        if e.nack().is_some() {
                            shared.metrics.parse_error("SMPP", "smsc_command_length");
                            tracing::warn!(%peer, error = %e, "SMSC sent an impossible command_length; closing");
                        }
                        session.on_closed(Side::Smsc, now, &mut out);
                    }
                }
            },
            _ = tick.tick() => session.tick(now, now_ms(), &mut out),
            r = stop.changed(), if !draining => {
                draining = true;
                if r.is_ok() {
                    session.begin_drain(now, now_ms(), &mut out);
                }
            }
        }
        if let Some(bind) = out.connect.take() {
            let wait = Duration::from_millis(cfg.bind_timeout_ms);
            match connect(cfg.smsc, &bind, wait, cfg.max_pdu_bytes).await {
                Ok(c) => smsc = Some(c),
                Err(e) => {
                    tracing::warn!(%peer, smsc = %cfg.smsc, error = %e, "cannot reach the SMSC; bind refused");
                    session.on_connect_failed(&mut out);
                }
            }
        }
        let written = async {
            if !out.esme.is_empty() {
                esme_write.write_all(&out.esme).await?;
            }
            if let Some(c) = smsc.as_mut() {
                if !out.smsc.is_empty() {
                    c.write.write_all(&out.smsc).await?;
                }
            }
            Ok::<(), std::io::Error>(())
        };
        match tokio::time::timeout(write_timeout, written).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) | Err(_) => {
                shared.metrics.smpp_event("write_failed");
                break;
            }
        }
        if out.drop_smsc {
            smsc = None;
        }
        if out.close {
            break;
        }
    }
    let _ = esme_write.shutdown().await;
    if let Some(mut c) = smsc {
        let _ = c.write.shutdown().await;
    }
}

/// Hands the session the PDU just read and every whole PDU already buffered behind it.
/// The end of the stream is an error too (the caller closes the side).
fn pdus(
    first: Result<Option<Vec<u8>>, WireError>,
    reader: &mut PduReader<OwnedReadHalf>,
    side: Side,
    session: &mut Session,
    out: &mut Out,
) -> Result<(), WireError> {
    let now = Instant::now();
    let at_ms = now_ms();
    let Some(first) = first? else {
        return Err(WireError::Truncated { buffered: 0 });
    };
    session.on_pdu(side, &first, now, at_ms, out);
    while let Some(pdu) = reader.next_buffered()? {
        session.on_pdu(side, pdu, now, at_ms, out);
    }
    Ok(())
}

async fn connect(
    addr: SocketAddr,
    bind: &[u8],
    wait: Duration,
    max_pdu: u32,
) -> std::io::Result<SmscConn> {
    let stream = tokio::time::timeout(wait, TcpStream::connect(addr))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))??;
    let _ = stream.set_nodelay(true);
    let (read, mut write) = stream.into_split();
    write.write_all(bind).await?;
    Ok(SmscConn {
        read: PduReader::new(read, max_pdu),
        write,
    })
}
