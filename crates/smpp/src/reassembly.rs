//! Reassembly of concatenated messages so a script split across parts is seen whole.
//!
//! Parts are keyed by (source, destination, reference, total). They may arrive
//! out of order or twice; a part that contradicts earlier ones is flagged.
//! Pending messages expire after a configurable time and come back as partial
//! (flagged) messages so the caller can still decide on them. Memory is bounded
//! by a maximum number of pending messages and of bytes: the oldest is evicted
//! first, returned as partial and counted. Time is passed in by the caller.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::text::TextFlags;
use crate::udh::Concat;

/// Limits of a [`Reassembler`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReassemblyConfig {
    /// How long a pending message waits for its missing parts.
    pub ttl: Duration,
    /// Maximum number of pending messages.
    pub max_pending: usize,
    /// Maximum bytes held (addresses + text of pending parts).
    pub max_bytes: usize,
}

impl Default for ReassemblyConfig {
    fn default() -> Self {
        ReassemblyConfig {
            ttl: Duration::from_secs(60),
            max_pending: 10_000,
            max_bytes: 16 * 1024 * 1024,
        }
    }
}

/// One part handed to the reassembler (its text already decoded).
#[derive(Debug, Clone, Copy)]
pub struct Part<'a> {
    /// source_addr of the PDU.
    pub source: &'a [u8],
    /// destination_addr of the PDU.
    pub destination: &'a [u8],
    /// Where the part belongs.
    pub concat: Concat,
    /// Its decoded text.
    pub text: &'a str,
    /// Flags from text decoding.
    pub flags: TextFlags,
}

/// A part the reassembler cannot place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum PartError {
    /// total is 0 or seq is 0 or above total.
    #[error("part {seq} of {total} is impossible")]
    BadPosition {
        /// Part number.
        seq: u8,
        /// Total.
        total: u8,
    },
}

/// A whole (or, when flagged [`TextFlags::PARTIAL`], incomplete) message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reassembled {
    /// source_addr.
    pub source: Vec<u8>,
    /// destination_addr.
    pub destination: Vec<u8>,
    /// Concatenation reference.
    pub reference: u16,
    /// Parts announced.
    pub total: u8,
    /// Part numbers that never arrived (empty when complete).
    pub missing: Vec<u8>,
    /// The parts' texts in order; each missing part is shown as one U+FFFD.
    pub text: String,
    /// Union of the parts' text flags plus PARTIAL / DUPLICATE / CONTRADICTION / EVICTED.
    pub flags: TextFlags,
}

/// Result of [`Reassembler::push`].
#[derive(Debug, Default)]
pub struct Pushed {
    /// The message this part completed.
    pub complete: Option<Reassembled>,
    /// Pending messages released as partial: expired, or evicted for memory.
    pub released: Vec<Reassembled>,
}

/// Counters for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReassemblyStats {
    /// Messages completed.
    pub completed: u64,
    /// Pending messages that expired.
    pub expired: u64,
    /// Pending messages evicted to respect the limits.
    pub evicted: u64,
    /// Duplicate parts received.
    pub duplicates: u64,
    /// Contradicting parts received.
    pub contradictions: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    source: Box<[u8]>,
    destination: Box<[u8]>,
    reference: u16,
    total: u8,
}

type RefKey = (Box<[u8]>, Box<[u8]>, u16);

#[derive(Debug)]
struct Pending {
    id: u64,
    first_seen: Instant,
    parts: Vec<Option<String>>,
    flags: TextFlags,
    bytes: usize,
}

/// Bounded reassembler of concatenated messages.
#[derive(Debug)]
pub struct Reassembler {
    config: ReassemblyConfig,
    pending: HashMap<Key, Pending>,
    order: BTreeMap<u64, Key>,
    totals: HashMap<RefKey, u8>,
    next_id: u64,
    bytes: usize,
    stats: ReassemblyStats,
}

impl Reassembler {
    /// A reassembler with these limits.
    pub fn new(config: ReassemblyConfig) -> Self {
        Reassembler {
            config,
            pending: HashMap::new(),
            order: BTreeMap::new(),
            totals: HashMap::new(),
            next_id: 0,
            bytes: 0,
            stats: ReassemblyStats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> ReassemblyStats {
        self.stats
    }

    /// Number of pending messages.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Bytes currently held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Add one part at time `now`. Expired messages are released first; the
    /// part may complete its message, and may force the oldest pending ones out.
    pub fn push(&mut self, now: Instant, part: Part<'_>) -> Result<Pushed, PartError> {
        let Concat {
            reference,
            total,
            seq,
            ..
        } = part.concat;
        if total == 0 || seq == 0 || seq > total {
            return Err(PartError::BadPosition { seq, total });
        }
        let mut pushed = Pushed {
            complete: None,
            released: self.expire(now),
        };
        let key = Key {
            source: part.source.into(),
            destination: part.destination.into(),
            reference,
            total,
        };
        let part_bytes = part.text.len();
        let is_new = !self.pending.contains_key(&key);
        let entry_cost = if is_new {
            key_bytes(&key) + usize::from(total) * PART_OVERHEAD
        } else {
            0
        };
        let over = |r: &Reassembler| {
            r.bytes + entry_cost + part_bytes > r.config.max_bytes
                || (is_new && r.pending.len() >= r.config.max_pending)
        };
        // Make room by evicting the oldest other messages first.
        while over(self) {
            match self.evict_oldest_except(&key) {
                Some(evicted) => pushed.released.push(evicted),
                None => break,
            }
        }
        if over(self) {
            // This message alone cannot be held: hand it back, with this part, at once.
            self.stats.evicted += 1;
            let (mut parts, mut flags) = match self.remove(&key) {
                Some(p) => (p.parts, p.flags),
                None => (vec![None; usize::from(total)], TextFlags::NONE),
            };
            if let Some(slot @ None) = parts.get_mut(usize::from(seq) - 1) {
                *slot = Some(part.text.to_string());
            }
            flags.insert(part.flags | TextFlags::EVICTED);
            pushed.released.push(finish(&key, parts, flags));
            return Ok(pushed);
        }
        if is_new {
            let mut flags = TextFlags::NONE;
            let ref_key: RefKey = (key.source.clone(), key.destination.clone(), reference);
            match self.totals.get(&ref_key) {
                Some(other_total) if *other_total != total => {
                    // Same reference with another total: both are suspect.
                    flags.insert(TextFlags::CONTRADICTION);
                    self.stats.contradictions += 1;
                    let other = Key {
                        total: *other_total,
                        ..key.clone()
                    };
                    if let Some(p) = self.pending.get_mut(&other) {
                        p.flags.insert(TextFlags::CONTRADICTION);
                    }
                }
                Some(_) => {}
                None => {
                    self.totals.insert(ref_key, total);
                }
            }
            let id = self.next_id;
            self.next_id += 1;
            self.order.insert(id, key.clone());
            self.bytes += key_bytes(&key) + usize::from(total) * PART_OVERHEAD;
            self.pending.insert(
                key.clone(),
                Pending {
                    id,
                    first_seen: now,
                    parts: vec![None; usize::from(total)],
                    flags,
                    bytes: key_bytes(&key) + usize::from(total) * PART_OVERHEAD,
                },
            );
        }
        let Some(entry) = self.pending.get_mut(&key) else {
            return Ok(pushed);
        };
        entry.flags.insert(part.flags);
        if let Some(slot) = entry.parts.get_mut(usize::from(seq) - 1) {
            match slot {
                Some(existing) if existing == part.text => {
                    entry.flags.insert(TextFlags::DUPLICATE);
                    self.stats.duplicates += 1;
                }
                Some(_) => {
                    entry.flags.insert(TextFlags::CONTRADICTION);
                    self.stats.contradictions += 1;
                }
                None => {
                    *slot = Some(part.text.to_string());
                    entry.bytes += part_bytes;
                    self.bytes += part_bytes;
                }
            }
        }
        if entry.parts.iter().all(Option::is_some) {
            if let Some(done) = self.remove(&key) {
                self.stats.completed += 1;
                pushed.complete = Some(finish(&key, done.parts, done.flags));
            }
        }
        Ok(pushed)
    }

    /// Release every pending message older than the configured time at `now`,
    /// oldest first, as partial messages.
    pub fn expire(&mut self, now: Instant) -> Vec<Reassembled> {
        let mut out = Vec::new();
        while let Some((_, key)) = self.order.first_key_value() {
            let expired = self
                .pending
                .get(key)
                .is_none_or(|p| now.saturating_duration_since(p.first_seen) >= self.config.ttl);
            if !expired {
                break;
            }
            let key = key.clone();
            if let Some(p) = self.remove(&key) {
                self.stats.expired += 1;
                out.push(finish(&key, p.parts, p.flags | TextFlags::PARTIAL));
            }
        }
        out
    }

    fn evict_oldest_except(&mut self, keep: &Key) -> Option<Reassembled> {
        let key = self.order.values().find(|k| *k != keep)?.clone();
        let p = self.remove(&key)?;
        self.stats.evicted += 1;
        Some(finish(
            &key,
            p.parts,
            p.flags | TextFlags::PARTIAL | TextFlags::EVICTED,
        ))
    }

    fn remove(&mut self, key: &Key) -> Option<Pending> {
        let p = self.pending.remove(key);
        match &p {
            Some(p) => {
                self.order.remove(&p.id);
                self.bytes = self.bytes.saturating_sub(p.bytes);
            }
            None => {
                // Keep `order` consistent even if it pointed at nothing.
                self.order.retain(|_, k| k != key);
            }
        }
        let ref_key: RefKey = (key.source.clone(), key.destination.clone(), key.reference);
        if self.totals.get(&ref_key) == Some(&key.total) {
            self.totals.remove(&ref_key);
        }
        p
    }
}

/// Bookkeeping cost charged per announced part (so a huge `total` costs memory budget).
const PART_OVERHEAD: usize = std::mem::size_of::<Option<String>>();

fn key_bytes(key: &Key) -> usize {
    key.source.len() + key.destination.len() + std::mem::size_of::<Key>()
}

fn finish(key: &Key, parts: Vec<Option<String>>, mut flags: TextFlags) -> Reassembled {
    let mut text = String::new();
    let mut missing = Vec::new();
    for (i, part) in parts.into_iter().enumerate() {
        match part {
            Some(t) => text.push_str(&t),
            None => {
                missing.push(u8::try_from(i + 1).unwrap_or(u8::MAX));
                text.push(char::REPLACEMENT_CHARACTER);
            }
        }
    }
    if !missing.is_empty() {
        flags.insert(TextFlags::PARTIAL);
    }
    Reassembled {
        source: key.source.to_vec(),
        destination: key.destination.to_vec(),
        reference: key.reference,
        total: key.total,
        missing,
        text,
        flags,
    }
}
