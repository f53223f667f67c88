//! Parts of concatenated messages held until the message is whole.
//!
//! A script split across parts must be decided whole, and the parts must then all go on
//! or all be refused: the proxy holds each part's PDU (its raw octets and the sequence
//! number its sender is waiting on) here. A message is released when its last part
//! arrives, when it has waited longer than the reassembly timeout, or when the session's
//! bounds (messages, octets) need its room: the oldest goes first, decided on what arrived.
//! Bounds are per session, so one ESME cannot exhaust the memory of the others.
//!
//! A part that arrives twice keeps the first copy (the one that will be decided and
//! forwarded); the second sender's sequence number gets the same answer.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::Side;

/// Which message a part belongs to: the side it came from, its addresses, the
/// concatenation reference and the announced total.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HoldKey {
    /// The side that sent the parts.
    pub side: Side,
    /// source_addr.
    pub source: Box<[u8]>,
    /// destination_addr.
    pub destination: Box<[u8]>,
    /// Concatenation reference (8- or 16-bit UDH, or sar_msg_ref_num).
    pub reference: u16,
    /// Parts announced.
    pub total: u8,
}

/// One held part.
#[derive(Debug, Clone)]
pub struct HeldPart {
    /// The PDU as received.
    pub raw: Vec<u8>,
    /// Sequence numbers its sender(s) wait on: the first, then those of duplicates.
    pub seqs: Vec<u32>,
}

/// A message released from the hold, its parts in order (None where a part never came).
#[derive(Debug)]
pub struct Released {
    /// Which message.
    pub key: HoldKey,
    /// Parts by position.
    pub parts: Vec<Option<HeldPart>>,
    /// Why it was released.
    pub why: Release,
}

/// Why a message left the hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// Every part arrived.
    Complete,
    /// The reassembly timeout passed.
    Expired,
    /// Evicted to respect the session's bounds.
    Evicted,
}

struct Entry {
    since: Instant,
    parts: Vec<Option<HeldPart>>,
    have: usize,
    bytes: usize,
}

/// The hold of one session.
pub struct Hold {
    entries: HashMap<HoldKey, Entry>,
    bytes: usize,
    max_messages: usize,
    max_bytes: usize,
    timeout: Duration,
}

/// What [`Hold::push`] did with a part.
#[derive(Debug)]
pub enum Pushed {
    /// Held; nothing to do yet (or a duplicate whose sequence number was noted).
    Held,
    /// The part is impossible (position 0 or beyond the total): refuse it.
    BadPosition,
    /// The part names a total other than the held parts of its reference do: a handset
    /// could join them in ways no single decision covers, so refuse it.
    Contradiction,
}

impl Hold {
    /// An empty hold with the session's bounds.
    pub fn new(max_messages: usize, max_bytes: usize, timeout: Duration) -> Hold {
        Hold {
            entries: HashMap::new(),
            bytes: 0,
            max_messages: max_messages.max(1),
            max_bytes,
            timeout,
        }
    }

    /// Octets held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Messages held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Holds part `seq` (1-based) of `key`. Messages that must leave (this one when it is
    /// complete, the oldest ones when the bounds are passed) are appended to `released`.
    pub fn push(
        &mut self,
        now: Instant,
        key: HoldKey,
        seq: u8,
        raw: Vec<u8>,
        sender_seq: u32,
        released: &mut Vec<Released>,
    ) -> Pushed {
        let total = usize::from(key.total);
        let index = usize::from(seq);
        if index == 0 || index > total {
            return Pushed::BadPosition;
        }
        let contradicts = !self.entries.contains_key(&key)
            && self.entries.keys().any(|k| {
                k.reference == key.reference
                    && k.total != key.total
                    && k.side == key.side
                    && k.source == key.source
                    && k.destination == key.destination
            });
        if contradicts {
            return Pushed::Contradiction;
        }
        let len = raw.len();
        let entry = self.entries.entry(key.clone()).or_insert_with(|| Entry {
            since: now,
            parts: vec![None; total],
            have: 0,
            bytes: 0,
        });
        let Some(slot) = entry.parts.get_mut(index - 1) else {
            return Pushed::BadPosition;
        };
        match slot {
            Some(first) => first.seqs.push(sender_seq),
            None => {
                *slot = Some(HeldPart {
                    raw,
                    seqs: vec![sender_seq],
                });
                entry.have += 1;
                entry.bytes += len;
                self.bytes += len;
            }
        }
        if entry.have == total {
            if let Some(e) = self.entries.remove(&key) {
                self.bytes -= e.bytes;
                released.push(Released {
                    key,
                    parts: e.parts,
                    why: Release::Complete,
                });
            }
        }
        while self.entries.len() > self.max_messages || self.bytes > self.max_bytes {
            let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.since)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(e) = self.entries.remove(&oldest) {
                self.bytes -= e.bytes;
                released.push(Released {
                    key: oldest,
                    parts: e.parts,
                    why: Release::Evicted,
                });
            }
        }
        Pushed::Held
    }

    /// Releases every message older than the reassembly timeout.
    pub fn expire(&mut self, now: Instant, released: &mut Vec<Released>) {
        let timeout = self.timeout;
        let old: Vec<HoldKey> = self
            .entries
            .iter()
            .filter(|(_, e)| now.saturating_duration_since(e.since) >= timeout)
            .map(|(k, _)| k.clone())
            .collect();
        for key in old {
            if let Some(e) = self.entries.remove(&key) {
                self.bytes -= e.bytes;
                released.push(Released {
                    key,
                    parts: e.parts,
                    why: Release::Expired,
                });
            }
        }
    }

    /// Releases everything (the session is ending).
    pub fn drain(&mut self, released: &mut Vec<Released>) {
        for (key, e) in self.entries.drain() {
            released.push(Released {
                key,
                parts: e.parts,
                why: Release::Expired,
            });
        }
        self.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(reference: u16, total: u8) -> HoldKey {
        HoldKey {
            side: Side::Esme,
            source: Box::from(&b"1"[..]),
            destination: Box::from(&b"2"[..]),
            reference,
            total,
        }
    }

    #[test]
    fn parts_in_any_order_release_once_complete_and_duplicates_share_the_answer() {
        let mut h = Hold::new(10, 1 << 20, Duration::from_secs(5));
        let now = Instant::now();
        let mut out = Vec::new();
        h.push(now, key(7, 3), 3, vec![3; 10], 30, &mut out);
        h.push(now, key(7, 3), 1, vec![1; 10], 10, &mut out);
        h.push(now, key(7, 3), 1, vec![9; 10], 11, &mut out);
        assert!(out.is_empty());
        assert_eq!(h.bytes(), 20);
        h.push(now, key(7, 3), 2, vec![2; 10], 20, &mut out);
        assert_eq!(out.len(), 1);
        let r = &out[0];
        assert_eq!(r.why, Release::Complete);
        let first = r.parts[0].as_ref().unwrap();
        assert_eq!(first.raw, vec![1; 10], "the first copy is kept");
        assert_eq!(first.seqs, vec![10, 11]);
        assert_eq!(h.bytes(), 0);
        assert!(h.is_empty());
    }

    #[test]
    fn bounds_evict_the_oldest_and_time_expires_the_rest() {
        let mut h = Hold::new(2, 25, Duration::from_secs(5));
        let t0 = Instant::now();
        let mut out = Vec::new();
        h.push(t0, key(1, 2), 1, vec![0; 10], 1, &mut out);
        h.push(
            t0 + Duration::from_secs(1),
            key(2, 2),
            1,
            vec![0; 10],
            2,
            &mut out,
        );
        assert!(out.is_empty());
        h.push(
            t0 + Duration::from_secs(2),
            key(3, 2),
            1,
            vec![0; 10],
            3,
            &mut out,
        );
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].key.reference, out[0].why), (1, Release::Evicted));
        out.clear();
        h.expire(t0 + Duration::from_secs(6), &mut out);
        assert_eq!(out.len(), 1, "only the one older than 5 s");
        assert_eq!(out[0].key.reference, 2);
        assert!(matches!(
            h.push(t0, key(4, 2), 3, vec![], 4, &mut out),
            Pushed::BadPosition
        ));
        assert!(matches!(
            h.push(t0, key(3, 3), 2, vec![0; 4], 5, &mut out),
            Pushed::Contradiction
        ));
    }
}
