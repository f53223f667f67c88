//! SMPP framing over tokio streams: whole PDUs in, batched PDUs out.
//!
//! - [`PduReader`] reads an [`AsyncRead`] into one bounded buffer and yields each complete
//!   PDU as a borrowed slice (no allocation per PDU). It never allocates from a length the
//!   peer claims beyond the link's `max_len`: the buffer is at most
//!   `max(initial capacity, max_len)` octets.
//! - [`PduWriter`] collects encoded PDUs (answers, forwarded PDUs) in one buffer and writes
//!   them with one `write_all` per batch.
//! - [`WireError::BadCommandLength`] carries the sequence number of the offending PDU so the
//!   caller can answer `generic_nack` ESME_RINVCMDLEN ([`WireError::write_nack`]) before
//!   closing: after it the stream cannot be resynchronised.
//!
//! ```no_run
//! # async fn relay(sock: tokio::net::TcpStream) -> Result<(), interdict::smpp_wire::WireError> {
//! use interdict::smpp_wire::{PduReader, PduWriter};
//! let (rd, wr) = sock.into_split();
//! let mut reader = PduReader::new(rd, interdict_smpp::DEFAULT_MAX_PDU_LEN);
//! let mut writer = PduWriter::new(wr);
//! loop {
//!     let pdu = match reader.next_pdu().await {
//!         Ok(Some(pdu)) => pdu,
//!         Ok(None) => break, // clean end of stream
//!         Err(e) => {
//!             e.write_nack(writer.buffer());
//!             writer.flush().await?;
//!             return Err(e);
//!         }
//!     };
//!     let _ = interdict_smpp::Pdu::decode(pdu); // ... answer into writer.buffer()
//!     // Answer everything already buffered before paying for a write.
//!     if reader.buffered() == 0 || writer.needs_flush() {
//!         writer.flush().await?;
//!     }
//! }
//! # Ok(()) }
//! ```

use std::ops::Range;

use interdict_smpp::{encode, frame, status, FrameError, HEADER_LEN};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Initial (and minimum) size of a [`PduReader`]'s buffer: many small PDUs per read.
pub const READ_BUFFER: usize = 64 * 1024;

/// Default high-water mark of a [`PduWriter`]: flush once this much is queued.
pub const WRITE_HIGH_WATER: usize = 64 * 1024;

/// Why a stream of PDUs ended badly.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The next PDU's command_length is below 16 or above the link's maximum. Answer
    /// `generic_nack` ESME_RINVCMDLEN ([`WireError::write_nack`]) and close: the stream
    /// cannot be resynchronised. The reader keeps returning this error.
    #[error("command_length {length} outside 16..={max} (sequence_number {sequence_number:?})")]
    BadCommandLength {
        /// The length the peer claimed.
        length: u32,
        /// The link's maximum.
        max: u32,
        /// The offending PDU's sequence number, when its header arrived whole.
        sequence_number: Option<u32>,
    },
    /// The peer closed the connection in the middle of a PDU.
    #[error("connection closed inside a PDU ({buffered} octets buffered)")]
    Truncated {
        /// Octets of the incomplete PDU.
        buffered: usize,
    },
    /// The socket failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl WireError {
    /// The `(command_status, sequence_number)` of the `generic_nack` this error deserves,
    /// when it deserves one (sequence number 0 when the header never arrived whole).
    pub fn nack(&self) -> Option<(u32, u32)> {
        match self {
            WireError::BadCommandLength {
                sequence_number, ..
            } => Some((status::ESME_RINVCMDLEN, sequence_number.unwrap_or(0))),
            WireError::Truncated { .. } | WireError::Io(_) => None,
        }
    }

    /// Append the `generic_nack` of [`WireError::nack`] to `out` (nothing for other errors).
    pub fn write_nack(&self, out: &mut Vec<u8>) {
        if let Some((command_status, sequence_number)) = self.nack() {
            encode::generic_nack(out, command_status, sequence_number);
        }
    }
}

impl From<FrameError> for WireError {
    fn from(e: FrameError) -> Self {
        match e {
            FrameError::BadCommandLength {
                length,
                max,
                sequence_number,
            } => WireError::BadCommandLength {
                length,
                max,
                sequence_number,
            },
        }
    }
}

/// Reads whole PDUs from an [`AsyncRead`] through one bounded buffer.
#[derive(Debug)]
pub struct PduReader<R> {
    inner: R,
    buf: Vec<u8>,
    /// Start of the unconsumed octets.
    start: usize,
    /// End of the octets read.
    end: usize,
    max_len: u32,
    eof: bool,
}

impl<R: AsyncRead + Unpin> PduReader<R> {
    /// A reader refusing PDUs whose command_length exceeds `max_len`
    /// (e.g. [`interdict_smpp::DEFAULT_MAX_PDU_LEN`]).
    pub fn new(inner: R, max_len: u32) -> Self {
        PduReader {
            inner,
            buf: vec![0; READ_BUFFER],
            start: 0,
            end: 0,
            max_len,
            eof: false,
        }
    }

    /// The next whole PDU (exactly command_length octets, header included), reading from
    /// the stream only when no whole PDU is buffered. `Ok(None)` at a clean end of stream
    /// (between PDUs). The slice is valid until the next call.
    ///
    /// Cancel-safe: dropping the future (e.g. the losing branch of `tokio::select!`)
    /// loses no octets; the next call carries on where this one stopped.
    pub async fn next_pdu(&mut self) -> Result<Option<&[u8]>, WireError> {
        let range = loop {
            if let Some(range) = self.locate()? {
                break range;
            }
            if self.eof {
                let buffered = self.end - self.start;
                if buffered == 0 {
                    return Ok(None);
                }
                return Err(WireError::Truncated { buffered });
            }
            self.fill().await?;
        };
        Ok(self.buf.get(range))
    }

    /// The next whole PDU if one is already buffered, without reading (e.g. to answer every
    /// buffered request before one batched write). Errors as [`PduReader::next_pdu`].
    pub fn next_buffered(&mut self) -> Result<Option<&[u8]>, WireError> {
        let range = self.locate()?;
        Ok(range.and_then(|r| self.buf.get(r)))
    }

    /// Octets read but not yet returned as PDUs.
    pub fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// The underlying stream.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// The underlying stream (buffered octets are lost).
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// Where the next whole PDU is in `buf`, consuming it; None when more octets are needed.
    fn locate(&mut self) -> Result<Option<Range<usize>>, WireError> {
        let pending = self.buf.get(self.start..self.end).unwrap_or_default();
        match frame(pending, self.max_len) {
            Ok(Some(len)) => {
                let range = self.start..self.start + len;
                self.start += len;
                Ok(Some(range))
            }
            Ok(None) => Ok(None),
            // Too long: the peer is sending a header's worth at least; wait for it so the
            // answer can carry the sequence number.
            Err(FrameError::BadCommandLength {
                length,
                sequence_number: None,
                ..
            }) if length as usize >= HEADER_LEN && !self.eof => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Octets the PDU at `start` needs in all (a header until its length is known).
    fn needed(&self) -> usize {
        let pending = self.buf.get(self.start..self.end).unwrap_or_default();
        match pending {
            [a, b, c, d, ..] => {
                let length = u32::from_be_bytes([*a, *b, *c, *d]);
                if length > self.max_len {
                    HEADER_LEN
                } else {
                    (length as usize).max(HEADER_LEN)
                }
            }
            _ => HEADER_LEN,
        }
    }

    /// Make room for the pending PDU and read once.
    async fn fill(&mut self) -> Result<(), WireError> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        let needed = self.needed();
        if self.start + needed > self.buf.len() || self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if needed > self.buf.len() {
            self.buf.resize(needed, 0);
        }
        let room = self.buf.get_mut(self.end..).unwrap_or_default();
        let n = self.inner.read(room).await?;
        if n == 0 {
            self.eof = true;
        }
        self.end += n;
        Ok(())
    }
}

/// Batches encoded PDUs and writes them to an [`AsyncWrite`] one batch at a time.
#[derive(Debug)]
pub struct PduWriter<W> {
    inner: W,
    out: Vec<u8>,
    high_water: usize,
}

impl<W: AsyncWrite + Unpin> PduWriter<W> {
    /// A writer with the default high-water mark ([`WRITE_HIGH_WATER`]).
    pub fn new(inner: W) -> Self {
        Self::with_high_water(inner, WRITE_HIGH_WATER)
    }

    /// A writer whose [`PduWriter::needs_flush`] turns true at `high_water` queued octets.
    pub fn with_high_water(inner: W, high_water: usize) -> Self {
        PduWriter {
            inner,
            out: Vec::with_capacity(high_water.min(1 << 20)),
            high_water,
        }
    }

    /// The batch buffer: encode PDUs straight into it (`Pdu::encode`, `encode::*`).
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.out
    }

    /// Queue one already encoded PDU.
    pub fn push(&mut self, pdu: &[u8]) {
        self.out.extend_from_slice(pdu);
    }

    /// Octets queued.
    pub fn queued(&self) -> usize {
        self.out.len()
    }

    /// True once the queue reaches the high-water mark: flush before queueing more.
    pub fn needs_flush(&self) -> bool {
        self.out.len() >= self.high_water
    }

    /// Write everything queued (one `write_all`) and flush the stream; the buffer keeps
    /// its capacity.
    pub async fn flush(&mut self) -> std::io::Result<()> {
        if !self.out.is_empty() {
            self.inner.write_all(&self.out).await?;
            self.out.clear();
        }
        self.inner.flush().await
    }

    /// The underlying stream.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// The underlying stream (queued octets are dropped).
    pub fn into_inner(self) -> W {
        self.inner
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use interdict_smpp::{CommandId, Header};
    use tokio::io::AsyncWriteExt;

    fn enquire(seq: u32) -> Vec<u8> {
        let mut v = Vec::new();
        encode::write_header_only(&mut v, CommandId::EnquireLink, 0, seq);
        v
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn yields_pdus_split_anyhow_across_reads() {
        rt().block_on(async {
            let mut wire = Vec::new();
            for seq in 1..=50u32 {
                wire.extend(enquire(seq));
                let mut sm = Vec::new();
                encode::submit_sm_resp(&mut sm, 0, seq, Some(b"id-1")).unwrap();
                wire.extend(sm);
            }
            // One octet at a time, then in odd chunks.
            for chunk in [1usize, 7, 13, 4096] {
                let (mut tx, rx) = tokio::io::duplex(64);
                let bytes = wire.clone();
                let writer = tokio::spawn(async move {
                    for c in bytes.chunks(chunk) {
                        tx.write_all(c).await.unwrap();
                    }
                });
                let mut reader = PduReader::new(rx, 1024);
                let mut seen = 0u32;
                while let Some(pdu) = reader.next_pdu().await.unwrap() {
                    let h = Header::peek(pdu).unwrap();
                    assert_eq!(h.command_length as usize, pdu.len());
                    assert_eq!(h.sequence_number, seen / 2 + 1);
                    seen += 1;
                }
                assert_eq!(seen, 100);
                writer.await.unwrap();
            }
        });
    }

    #[test]
    fn buffered_pdus_without_io() {
        rt().block_on(async {
            let mut wire = enquire(1);
            wire.extend(enquire(2));
            wire.extend(&enquire(3)[..10]);
            let mut reader = PduReader::new(&wire[..], 1024);
            assert!(reader.next_pdu().await.unwrap().is_some());
            assert_eq!(reader.buffered(), 26);
            let second = reader.next_buffered().unwrap().unwrap();
            assert_eq!(Header::peek(second).unwrap().sequence_number, 2);
            assert!(reader.next_buffered().unwrap().is_none());
            match reader.next_pdu().await {
                Err(WireError::Truncated { buffered: 10 }) => {}
                other => panic!("{other:?}"),
            }
        });
    }

    #[test]
    fn too_long_waits_for_the_header_and_names_the_sequence() {
        rt().block_on(async {
            let (mut tx, rx) = tokio::io::duplex(64);
            let mut reader = PduReader::new(rx, 1024);
            let mut bad = enquire(77);
            bad.get_mut(0..4)
                .unwrap()
                .copy_from_slice(&5000u32.to_be_bytes());
            tx.write_all(&bad[..6]).await.unwrap();
            let task = tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                tx.write_all(&bad[6..]).await.unwrap();
                tx
            });
            let err = reader.next_pdu().await.unwrap_err();
            assert!(matches!(
                err,
                WireError::BadCommandLength {
                    length: 5000,
                    max: 1024,
                    sequence_number: Some(77)
                }
            ));
            let mut out = Vec::new();
            err.write_nack(&mut out);
            let h = Header::peek(&out).unwrap();
            assert_eq!(h.command_id, CommandId::GenericNack as u32);
            assert_eq!(h.command_status, status::ESME_RINVCMDLEN);
            assert_eq!(h.sequence_number, 77);
            // The error sticks: the stream is out of sync.
            assert!(reader.next_pdu().await.is_err());
            drop(task.await.unwrap());
        });
    }

    #[test]
    fn too_short_is_refused_at_once() {
        rt().block_on(async {
            let (mut tx, rx) = tokio::io::duplex(64);
            tx.write_all(&8u32.to_be_bytes()).await.unwrap();
            let mut reader = PduReader::new(rx, 1024);
            let err = reader.next_pdu().await.unwrap_err();
            assert_eq!(err.nack(), Some((status::ESME_RINVCMDLEN, 0)));
            drop(tx);
        });
    }

    #[test]
    fn large_pdus_grow_the_buffer_up_to_the_maximum_only() {
        rt().block_on(async {
            let mut big = enquire(9);
            big.resize(200_000, 0);
            big.get_mut(0..4)
                .unwrap()
                .copy_from_slice(&200_000u32.to_be_bytes());
            let mut wire = big.clone();
            wire.extend(enquire(10));
            let mut reader = PduReader::new(&wire[..], 300_000);
            assert_eq!(reader.next_pdu().await.unwrap().unwrap().len(), 200_000);
            assert_eq!(reader.next_pdu().await.unwrap().unwrap().len(), 16);
            assert!(reader.next_pdu().await.unwrap().is_none());
            assert!(reader.buf.len() <= 300_000);
        });
    }

    #[test]
    fn writer_batches_and_flushes() {
        rt().block_on(async {
            let mut sink = Vec::new();
            {
                let mut w = PduWriter::with_high_water(&mut sink, 32);
                w.push(&enquire(1));
                assert!(!w.needs_flush());
                encode::generic_nack(w.buffer(), status::ESME_RINVCMDID, 2);
                assert!(w.needs_flush());
                assert_eq!(w.queued(), 32);
                w.flush().await.unwrap();
                assert_eq!(w.queued(), 0);
            }
            assert_eq!(sink.len(), 32);
        });
    }
}
