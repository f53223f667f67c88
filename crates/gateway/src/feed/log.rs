//! The durable log behind the feed: decision events with gap-free sequence numbers, and the
//! number updates pushed by police centres, in one crash-safe embedded store (redb).
//!
//! [`EventLog`] is the small interface the rest of the feed uses, so that a deployment of
//! many gateways can put the log on a distributed one (NATS JetStream) instead; [`RedbLog`]
//! is the default. Events are appended in batches (one transaction, one fsync, for whatever
//! the writer found queued: group commit) and only then announced to subscribers, so a
//! subscriber never sees an event that a crash could take back.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Mutex, RwLock};

use bytes::{BufMut, Bytes, BytesMut};
use interdict_proto::v1 as pb;
use prost::Message;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use tokio::sync::watch;

/// Events as written before batches: by sequence number (the encoded `DecisionEvent`, its
/// `sequence` set). Still read and trimmed, no longer written.
const EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("events");
/// Events by batch: the first sequence number of the batch → its events in order, each a
/// frame of its length (4 bytes, little-endian) and the encoded `DecisionEvent` (its
/// `sequence` set). One insert per batch rather than one per event.
const BATCHES: TableDefinition<u64, &[u8]> = TableDefinition::new("event_batches");
/// Pushed number updates by rules version (the encoded `UpdateNumbersRequest`).
const RULES: TableDefinition<u64, &[u8]> = TableDefinition::new("rules");
/// Request ids already applied: id → (rules version, audit sequence) as 16 bytes.
const REQUESTS: TableDefinition<&str, &[u8]> = TableDefinition::new("requests");
/// Counters: `next` (next sequence), `bytes` (retained event bytes).
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// What the log can fail with.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The store failed (I/O, corruption, …).
    #[error("durable log: {0}")]
    Store(String),
    /// A stored record could not be decoded.
    #[error("durable log: undecodable record at {0}")]
    Decode(u64),
}

fn store<E: std::fmt::Display>(e: E) -> LogError {
    LogError::Store(e.to_string())
}

/// How long and how much the log keeps.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// Events older than this many milliseconds are removed (0: kept whatever their age).
    pub max_age_ms: u64,
    /// Oldest events are removed while the events take more than this many bytes (0: no limit).
    pub max_bytes: u64,
}

/// The outcome of a pushed number update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// The rules version after the update.
    pub rules_version: u64,
    /// The sequence number of its audit event.
    pub audit_sequence: u64,
    /// Whether the request id had been applied before (nothing was written this time).
    pub duplicate: bool,
}

/// An event as stored and as sent: its sequence number and its encoded `DecisionEvent`
/// (with that sequence number set). Encoded once when written; every subscriber sends the
/// same bytes.
#[derive(Debug, Clone)]
pub struct Encoded {
    /// The sequence number.
    pub sequence: u64,
    /// The encoded `DecisionEvent`.
    pub bytes: Bytes,
}

/// A durable, ordered log of feed events and pushed number updates.
pub trait EventLog: Send + Sync + 'static {
    /// Appends events in one durable write, assigning consecutive sequence numbers; returns
    /// the last sequence number written (the current last when `events` is empty).
    fn append(&self, events: Vec<pb::DecisionEvent>) -> Result<u64, LogError>;
    /// Up to `max` events from sequence `from` on, in order.
    fn read(&self, from: u64, max: usize) -> Result<Vec<pb::DecisionEvent>, LogError>;
    /// Up to `max` encoded events from sequence `from` on, in order (may read storage).
    fn read_encoded(&self, from: u64, max: usize) -> Result<Vec<Encoded>, LogError>;
    /// Up to `max` encoded events from sequence `from` on when the log still holds them in
    /// memory (no I/O, never blocks for long); `None` when `from` is not held.
    fn recent(&self, _from: u64, _max: usize) -> Option<Vec<Encoded>> {
        None
    }
    /// The oldest retained sequence number (the next one to be written when empty).
    fn first_sequence(&self) -> u64;
    /// The last sequence number written (0 before the first).
    fn last_sequence(&self) -> u64;
    /// Tells the last written sequence number whenever it changes.
    fn watch(&self) -> watch::Receiver<u64>;
    /// Records a number update and its audit event in one durable write, unless its
    /// request id was applied before.
    fn record_update(
        &self,
        update: &pb::UpdateNumbersRequest,
        audit: pb::DecisionEvent,
    ) -> Result<Applied, LogError>;
    /// Every number update recorded, oldest first, with its rules version.
    fn updates(&self) -> Result<Vec<(u64, pb::UpdateNumbersRequest)>, LogError>;
    /// The current rules version (number of updates recorded).
    fn rules_version(&self) -> u64;
    /// Removes events beyond the retention; returns how many were removed.
    fn enforce(&self, retention: Retention, now_ms: u64) -> Result<u64, LogError>;
}

/// Most events the log keeps in memory for live subscribers.
const RECENT_EVENTS: usize = 65_536;
/// Most bytes of encoded events the log keeps in memory for live subscribers.
const RECENT_BYTES: usize = 32 << 20;

/// The newest committed events, encoded, for live subscribers to send without reading or
/// decoding the store: `events[i]` has sequence `first + i`.
#[derive(Debug)]
struct Recent {
    first: u64,
    events: VecDeque<Bytes>,
    bytes: usize,
}

impl Recent {
    /// Appends committed events (consecutive, the first being the next after those held),
    /// then forgets the oldest beyond the limits.
    fn extend(&mut self, first: u64, events: Vec<Bytes>) {
        if self.first.saturating_add(self.events.len() as u64) != first {
            // Not consecutive (cannot happen under the writer's lock): start again.
            self.events.clear();
            self.bytes = 0;
            self.first = first;
        }
        for b in events {
            self.bytes = self.bytes.saturating_add(b.len());
            self.events.push_back(b);
        }
        while self.events.len() > RECENT_EVENTS || self.bytes > RECENT_BYTES {
            let Some(old) = self.events.pop_front() else {
                break;
            };
            self.bytes = self.bytes.saturating_sub(old.len());
            self.first = self.first.saturating_add(1);
        }
    }

    /// Forgets the events before `first` (removed from the store by retention).
    fn forget_before(&mut self, first: u64) {
        while self.first < first {
            let Some(old) = self.events.pop_front() else {
                self.first = first;
                break;
            };
            self.bytes = self.bytes.saturating_sub(old.len());
            self.first = self.first.saturating_add(1);
        }
    }

    fn get(&self, from: u64, max: usize) -> Option<Vec<Encoded>> {
        let skip = usize::try_from(from.checked_sub(self.first)?).ok()?;
        if skip >= self.events.len() {
            return None;
        }
        Some(
            self.events
                .range(skip..)
                .take(max)
                .zip(from..)
                .map(|(b, sequence)| Encoded {
                    sequence,
                    bytes: b.clone(),
                })
                .collect(),
        )
    }
}

/// The default [`EventLog`]: a redb database file.
pub struct RedbLog {
    db: Database,
    /// Serialises writers (sequence assignment), and holds (next sequence, rules version).
    state: Mutex<(u64, u64)>,
    /// The newest committed events, encoded (updated under `state`, before `tail`).
    recent: RwLock<Recent>,
    tail: watch::Sender<u64>,
}

fn encode_pair(a: u64, b: u64) -> [u8; 16] {
    let mut out = [0u8; 16];
    let (x, y) = out.split_at_mut(8);
    x.copy_from_slice(&a.to_le_bytes());
    y.copy_from_slice(&b.to_le_bytes());
    out
}

/// The frames of a batch, in order: each event's (offset, length) in `value`, or `None` for
/// a malformed frame (then nothing more).
struct Frames<'a> {
    value: &'a [u8],
    at: usize,
}

impl Iterator for Frames<'_> {
    type Item = Option<(usize, usize)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.at >= self.value.len() {
            return None;
        }
        let frame = (|| {
            let len: [u8; 4] = self
                .value
                .get(self.at..self.at.checked_add(4)?)?
                .try_into()
                .ok()?;
            let len = usize::try_from(u32::from_le_bytes(len)).ok()?;
            let start = self.at.checked_add(4)?;
            let end = start.checked_add(len)?;
            (end <= self.value.len()).then_some((start, len, end))
        })();
        match frame {
            Some((start, len, end)) => {
                self.at = end;
                Some(Some((start, len)))
            }
            None => {
                self.at = self.value.len();
                Some(None)
            }
        }
    }
}

fn frames_of(value: &[u8]) -> Frames<'_> {
    Frames { value, at: 0 }
}

/// Every frame of a batch, or `None` when one is malformed.
fn frames(value: &[u8]) -> Option<Vec<(usize, usize)>> {
    frames_of(value).collect()
}

/// Bytes of events per allocation kept in memory for subscribers.
const CHUNK: usize = 256 * 1024;

/// The events at `spans` of `buf`, copied into allocations of about [`CHUNK`] bytes, each
/// event a view of one: a subscriber that stops reading holds a few chunks alive, not a
/// whole batch's buffer.
fn chunked(buf: &[u8], spans: &[(usize, usize)]) -> Vec<Bytes> {
    let mut out = Vec::with_capacity(spans.len());
    let mut rest = spans;
    while let Some((first, _)) = rest.first() {
        // At least one event per chunk, then as many as fit.
        let mut n = 1;
        while let Some((start, len)) = rest.get(n) {
            if start + len - first > CHUNK {
                break;
            }
            n += 1;
        }
        let (these, after) = rest.split_at(n);
        let end = these.last().map_or(*first, |(start, len)| start + len);
        let chunk = Bytes::copy_from_slice(buf.get(*first..end).unwrap_or_default());
        for (start, len) in these {
            let at = start - first;
            out.push(chunk.slice(at..at + len));
        }
        rest = after;
    }
    out
}

/// Up to `max` events of a batch stored under `key`, from sequence `from` on, appended to
/// `out` (one allocation for them, each event a view of it).
fn take_batch(
    key: u64,
    value: &[u8],
    from: u64,
    max: usize,
    out: &mut Vec<Encoded>,
) -> Result<(), LogError> {
    let skip = usize::try_from(from.saturating_sub(key)).unwrap_or(usize::MAX);
    let room = max.saturating_sub(out.len());
    // Only as far as the frames wanted (a batch may hold tens of thousands).
    let wanted: Vec<(usize, usize)> = frames_of(value)
        .skip(skip)
        .take(room)
        .collect::<Option<_>>()
        .ok_or(LogError::Decode(key))?;
    let (Some(first), Some(last)) = (wanted.first(), wanted.last()) else {
        return Ok(());
    };
    let base = first.0;
    let copied = Bytes::copy_from_slice(
        value
            .get(base..last.0 + last.1)
            .ok_or(LogError::Decode(key))?,
    );
    let mut seq = key.saturating_add(skip as u64);
    for (start, len) in wanted {
        let at = start - base;
        out.push(Encoded {
            sequence: seq,
            bytes: copied.slice(at..at + len),
        });
        seq = seq.saturating_add(1);
    }
    Ok(())
}

fn decode_pair(bytes: &[u8]) -> Option<(u64, u64)> {
    let a: [u8; 8] = bytes.get(..8)?.try_into().ok()?;
    let b: [u8; 8] = bytes.get(8..16)?.try_into().ok()?;
    Some((u64::from_le_bytes(a), u64::from_le_bytes(b)))
}

impl RedbLog {
    /// Opens (or creates) the log in `dir` (file `feed.redb`).
    pub fn open(dir: &Path) -> Result<RedbLog, LogError> {
        std::fs::create_dir_all(dir).map_err(store)?;
        let db = Database::create(dir.join("feed.redb")).map_err(store)?;
        let tx = db.begin_write().map_err(store)?;
        let (next, version) = {
            let _ = tx.open_table(EVENTS).map_err(store)?;
            let _ = tx.open_table(BATCHES).map_err(store)?;
            let _ = tx.open_table(REQUESTS).map_err(store)?;
            let rules = tx.open_table(RULES).map_err(store)?;
            let meta = tx.open_table(META).map_err(store)?;
            let next = meta
                .get("next")
                .map_err(store)?
                .map_or(1, |v| v.value())
                .max(1);
            let version = rules.last().map_err(store)?.map_or(0, |(k, _)| k.value());
            (next, version)
        };
        tx.commit().map_err(store)?;
        let (tail, _) = watch::channel(next.saturating_sub(1));
        Ok(RedbLog {
            db,
            state: Mutex::new((next, version)),
            recent: RwLock::new(Recent {
                first: next,
                events: VecDeque::new(),
                bytes: 0,
            }),
            tail,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (u64, u64)> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes `events` from sequence `next` in an open transaction, as one batch; returns
    /// them encoded (their sequence numbers set), in order, in chunks of about [`CHUNK`].
    fn put_events(
        tx: &redb::WriteTransaction,
        next: u64,
        events: Vec<pb::DecisionEvent>,
    ) -> Result<Vec<Bytes>, LogError> {
        let mut table = tx.open_table(BATCHES).map_err(store)?;
        let mut meta = tx.open_table(META).map_err(store)?;
        let mut bytes = meta.get("bytes").map_err(store)?.map_or(0, |v| v.value());
        // One buffer for the batch (most events are a few hundred bytes): the stored value;
        // what stays in memory is copied out of it in chunks (see `chunked`).
        let mut buf = BytesMut::with_capacity(events.len().saturating_mul(256));
        let mut spans = Vec::with_capacity(events.len());
        let mut seq = next;
        for mut ev in events {
            ev.sequence = seq;
            let at = buf.len();
            buf.put_u32_le(0);
            ev.encode(&mut buf).map_err(store)?;
            let len = buf.len() - at - 4;
            let framed = u32::try_from(len).map_err(store)?;
            if let Some(slot) = buf.get_mut(at..at + 4) {
                slot.copy_from_slice(&framed.to_le_bytes());
            }
            spans.push((at + 4, len));
            bytes = bytes.saturating_add(len as u64);
            seq = seq.saturating_add(1);
        }
        if !spans.is_empty() {
            table.insert(next, &*buf).map_err(store)?;
        }
        meta.insert("next", seq).map_err(store)?;
        meta.insert("bytes", bytes).map_err(store)?;
        Ok(chunked(&buf, &spans))
    }

    /// After a commit under the writer's lock: keeps the events for live subscribers, then
    /// announces them.
    fn committed(&self, first: u64, events: Vec<Bytes>) -> u64 {
        let next = first.saturating_add(events.len() as u64);
        self.recent
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .extend(first, events);
        let last = next.saturating_sub(1);
        self.tail.send_replace(last);
        next
    }
}

impl EventLog for RedbLog {
    fn append(&self, events: Vec<pb::DecisionEvent>) -> Result<u64, LogError> {
        let mut state = self.lock();
        if events.is_empty() {
            return Ok(state.0.saturating_sub(1));
        }
        let tx = self.db.begin_write().map_err(store)?;
        let encoded = Self::put_events(&tx, state.0, events)?;
        tx.commit().map_err(store)?;
        state.0 = self.committed(state.0, encoded);
        Ok(state.0.saturating_sub(1))
    }

    fn read(&self, from: u64, max: usize) -> Result<Vec<pb::DecisionEvent>, LogError> {
        self.read_encoded(from, max)?
            .into_iter()
            .map(|e| pb::DecisionEvent::decode(e.bytes).map_err(|_| LogError::Decode(e.sequence)))
            .collect()
    }

    fn read_encoded(&self, from: u64, max: usize) -> Result<Vec<Encoded>, LogError> {
        if let Some(held) = self.recent(from, max) {
            return Ok(held);
        }
        let tx = self.db.begin_read().map_err(store)?;
        let mut out = Vec::new();
        // Events written before batches first: they are older than every batch.
        let legacy = tx.open_table(EVENTS).map_err(store)?;
        for item in legacy.range(from..).map_err(store)?.take(max) {
            let (k, v) = item.map_err(store)?;
            out.push(Encoded {
                sequence: k.value(),
                bytes: Bytes::copy_from_slice(v.value()),
            });
        }
        let from = out.last().map_or(from, |e| e.sequence.saturating_add(1));
        let table = tx.open_table(BATCHES).map_err(store)?;
        // The batch holding `from`, if any, then the following ones.
        let start = table
            .range(..=from)
            .map_err(store)?
            .next_back()
            .transpose()
            .map_err(store)?
            .map_or(from, |(k, _)| k.value());
        for item in table.range(start..).map_err(store)? {
            if out.len() >= max {
                break;
            }
            let (k, v) = item.map_err(store)?;
            take_batch(k.value(), v.value(), from, max, &mut out)?;
        }
        Ok(out)
    }

    fn recent(&self, from: u64, max: usize) -> Option<Vec<Encoded>> {
        self.recent
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(from, max)
    }

    fn first_sequence(&self) -> u64 {
        // Under the writer's lock: otherwise a batch committed between reading an empty
        // table and reading the next sequence made a new subscriber start after it, and it
        // never saw those events.
        let state = self.lock();
        let first = self.db.begin_read().ok().and_then(|tx| {
            let legacy = tx.open_table(EVENTS).ok()?;
            if let Some((k, _)) = legacy.first().ok()? {
                return Some(k.value());
            }
            let table = tx.open_table(BATCHES).ok()?;
            let first = table.first().ok()??;
            Some(first.0.value())
        });
        first.unwrap_or(state.0)
    }

    fn last_sequence(&self) -> u64 {
        *self.tail.borrow()
    }

    fn watch(&self) -> watch::Receiver<u64> {
        self.tail.subscribe()
    }

    fn record_update(
        &self,
        update: &pb::UpdateNumbersRequest,
        mut audit: pb::DecisionEvent,
    ) -> Result<Applied, LogError> {
        let mut state = self.lock();
        let tx = self.db.begin_write().map_err(store)?;
        if !update.request_id.is_empty() {
            let requests = tx.open_table(REQUESTS).map_err(store)?;
            let seen = requests
                .get(update.request_id.as_str())
                .map_err(store)?
                .and_then(|v| decode_pair(v.value()));
            if let Some((rules_version, audit_sequence)) = seen {
                return Ok(Applied {
                    rules_version,
                    audit_sequence,
                    duplicate: true,
                });
            }
        }
        let version = state.1.saturating_add(1);
        let audit_sequence = state.0;
        if let Some(change) = audit.rule_change.as_mut() {
            change.rules_version = version;
        }
        {
            let mut rules = tx.open_table(RULES).map_err(store)?;
            rules
                .insert(version, update.encode_to_vec().as_slice())
                .map_err(store)?;
            if !update.request_id.is_empty() {
                let mut requests = tx.open_table(REQUESTS).map_err(store)?;
                requests
                    .insert(
                        update.request_id.as_str(),
                        encode_pair(version, audit_sequence).as_slice(),
                    )
                    .map_err(store)?;
            }
        }
        let encoded = Self::put_events(&tx, state.0, vec![audit])?;
        tx.commit().map_err(store)?;
        let next = self.committed(state.0, encoded);
        *state = (next, version);
        Ok(Applied {
            rules_version: version,
            audit_sequence,
            duplicate: false,
        })
    }

    fn updates(&self) -> Result<Vec<(u64, pb::UpdateNumbersRequest)>, LogError> {
        let tx = self.db.begin_read().map_err(store)?;
        let table = tx.open_table(RULES).map_err(store)?;
        let mut out = Vec::new();
        for item in table.iter().map_err(store)? {
            let (k, v) = item.map_err(store)?;
            let u = pb::UpdateNumbersRequest::decode(v.value())
                .map_err(|_| LogError::Decode(k.value()))?;
            out.push((k.value(), u));
        }
        Ok(out)
    }

    fn rules_version(&self) -> u64 {
        self.lock().1
    }

    fn enforce(&self, retention: Retention, now_ms: u64) -> Result<u64, LogError> {
        if retention.max_age_ms == 0 && retention.max_bytes == 0 {
            return Ok(0);
        }
        let _state = self.lock();
        let cutoff = now_ms.saturating_sub(retention.max_age_ms);
        let tx = self.db.begin_write().map_err(store)?;
        let mut removed = 0u64;
        let first;
        let time_of = |bytes: &[u8]| {
            pb::DecisionEvent::decode(bytes)
                .ok()
                .and_then(|e| e.time)
                .map_or(0, |t| super::convert::timestamp_ms(&t))
        };
        let goes = |at_ms: u64, bytes: u64| {
            (retention.max_age_ms > 0 && at_ms < cutoff)
                || (retention.max_bytes > 0 && bytes > retention.max_bytes)
        };
        {
            let mut legacy = tx.open_table(EVENTS).map_err(store)?;
            let mut batches = tx.open_table(BATCHES).map_err(store)?;
            let mut meta = tx.open_table(META).map_err(store)?;
            let mut bytes = meta.get("bytes").map_err(store)?.map_or(0, |v| v.value());
            // The newest event is always kept, so that the sequence can be read back: the
            // newest of the events written before batches only when no batch follows.
            let keep = if batches.is_empty().map_err(store)? {
                1
            } else {
                0
            };
            while legacy.len().map_err(store)? > keep {
                let Some((key, len, at_ms)) = legacy
                    .first()
                    .map_err(store)?
                    .map(|(k, v)| (k.value(), v.value().len() as u64, time_of(v.value())))
                else {
                    break;
                };
                if !goes(at_ms, bytes) {
                    break;
                }
                legacy.remove(key).map_err(store)?;
                bytes = bytes.saturating_sub(len);
                removed += 1;
            }
            // Then batches, oldest first, whole or in part (the rest stored again under its
            // first sequence number); an older event that stays keeps every newer one.
            while legacy.is_empty().map_err(store)? {
                let last = batches.len().map_err(store)? <= 1;
                let Some((key, value)) = batches
                    .first()
                    .map_err(store)?
                    .map(|(k, v)| (k.value(), v.value().to_vec()))
                else {
                    break;
                };
                let frames = frames(&value).ok_or(LogError::Decode(key))?;
                let mut dropped = 0usize;
                for (start, len) in &frames {
                    if last && dropped + 1 >= frames.len() {
                        break;
                    }
                    let event = value.get(*start..start + len).unwrap_or_default();
                    if !goes(time_of(event), bytes) {
                        break;
                    }
                    bytes = bytes.saturating_sub(*len as u64);
                    dropped += 1;
                }
                if dropped == 0 {
                    break;
                }
                batches.remove(key).map_err(store)?;
                removed += dropped as u64;
                if let Some((start, _)) = frames.get(dropped) {
                    let rest = value.get(start - 4..).unwrap_or_default();
                    batches
                        .insert(key.saturating_add(dropped as u64), rest)
                        .map_err(store)?;
                    break;
                }
            }
            meta.insert("bytes", bytes).map_err(store)?;
            first = match legacy.first().map_err(store)? {
                Some((k, _)) => Some(k.value()),
                None => batches.first().map_err(store)?.map(|(k, _)| k.value()),
            };
        }
        tx.commit().map_err(store)?;
        if let Some(first) = first {
            // Live subscribers no longer find what the store no longer has.
            self.recent
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .forget_before(first);
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn event(i: u64) -> pb::DecisionEvent {
        pb::DecisionEvent {
            message_id: format!("m{i}"),
            ..Default::default()
        }
    }

    #[test]
    fn encoded_reads_match_decoded_ones_in_memory_and_from_the_store() {
        let dir = std::env::temp_dir().join(format!("interdict-log-recent-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let log = RedbLog::open(&dir).unwrap();
        // More than the memory holds, so the oldest are only in the store.
        let total = RECENT_EVENTS as u64 + 5_000;
        let mut i = 0;
        while i < total {
            let n = 8_192.min(total - i);
            log.append((i..i + n).map(event).collect()).unwrap();
            i += n;
        }
        assert_eq!(log.last_sequence(), total);
        assert!(log.recent(1, 10).is_none(), "the oldest are not held");
        let newest = total - RECENT_EVENTS as u64 + 1;
        assert_eq!(log.recent(newest - 1, 1).map(|v| v.len()), None);
        let held = log.recent(newest, 3).unwrap();
        assert_eq!(held.first().map(|e| e.sequence), Some(newest));
        assert!(
            log.recent(total + 1, 10).is_none(),
            "nothing beyond the last"
        );
        for from in [1, 2, newest - 2, newest, total - 1] {
            let encoded = log.read_encoded(from, 5).unwrap();
            let decoded = log.read(from, 5).unwrap();
            assert_eq!(encoded.len(), decoded.len());
            for (e, d) in encoded.iter().zip(&decoded) {
                assert_eq!(e.sequence, d.sequence);
                assert_eq!(pb::DecisionEvent::decode(e.bytes.as_ref()).unwrap(), *d);
                assert_eq!(d.message_id, format!("m{}", d.sequence - 1));
            }
        }
        // After a restart nothing is held: everything comes from the store, in order.
        drop(log);
        let log = RedbLog::open(&dir).unwrap();
        assert!(log.recent(total, 1).is_none());
        let tail = log.read_encoded(total - 1, 10).unwrap();
        assert_eq!(
            tail.iter().map(|e| e.sequence).collect::<Vec<_>>(),
            [total - 1, total]
        );
        log.append(vec![event(total)]).unwrap();
        let held = log.recent(total + 1, 10).unwrap();
        assert_eq!(held.len(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn timed(i: u64, at_ms: u64) -> pb::DecisionEvent {
        pb::DecisionEvent {
            time: Some(super::super::convert::timestamp(at_ms)),
            ..event(i)
        }
    }

    fn fresh(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("interdict-log-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn sequences(log: &RedbLog) -> Vec<u64> {
        let events = log.read(1, 1_000).unwrap();
        for e in &events {
            assert_eq!(
                e.message_id,
                format!("m{}", e.sequence - 1),
                "event {}",
                e.sequence
            );
        }
        events.iter().map(|e| e.sequence).collect()
    }

    #[test]
    fn retention_removes_old_events_from_within_a_batch() {
        let dir = fresh("retention");
        let log = RedbLog::open(&dir).unwrap();
        // Two batches: 1..=10 at 1,000..10,000 ms, 11..=15 at 11,000..15,000 ms.
        log.append((0..10).map(|i| timed(i, (i + 1) * 1_000)).collect())
            .unwrap();
        log.append((10..15).map(|i| timed(i, (i + 1) * 1_000)).collect())
            .unwrap();
        let age = |max_age_ms| Retention {
            max_age_ms,
            max_bytes: 0,
        };
        // Older than 4,500 ms at 9,000 ms: events 1..=4.
        assert_eq!(log.enforce(age(4_500), 9_000).unwrap(), 4);
        assert_eq!(log.first_sequence(), 5);
        assert_eq!(sequences(&log), (5..=15).collect::<Vec<_>>());
        // Everything old: the first batch whole, the second but its newest event.
        assert_eq!(log.enforce(age(1), 1_000_000).unwrap(), 10);
        assert_eq!(sequences(&log), [15]);
        // By size: each event here is the same size; keep at most three events' worth.
        log.append((15..20).map(|i| timed(i, 1_000_000)).collect())
            .unwrap();
        let one = log.read_encoded(16, 1).unwrap().remove(0).bytes.len() as u64;
        let size = Retention {
            max_age_ms: 0,
            max_bytes: 3 * one,
        };
        assert_eq!(log.enforce(size, 0).unwrap(), 3);
        assert_eq!(sequences(&log), [18, 19, 20]);
        drop(log);
        let log = RedbLog::open(&dir).unwrap();
        assert_eq!(log.first_sequence(), 18);
        assert_eq!(log.append(vec![event(20)]).unwrap(), 21, "no reuse");
        assert_eq!(sequences(&log), [18, 19, 20, 21]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn events_written_one_per_row_before_batches_are_still_read_and_trimmed() {
        let dir = fresh("legacy");
        drop(RedbLog::open(&dir).unwrap());
        {
            // A log as written before batches: one row per event.
            let db = Database::create(dir.join("feed.redb")).unwrap();
            let tx = db.begin_write().unwrap();
            {
                let mut events = tx.open_table(EVENTS).unwrap();
                let mut meta = tx.open_table(META).unwrap();
                let mut bytes = 0;
                for i in 0..5u64 {
                    let mut ev = timed(i, 1_000);
                    ev.sequence = i + 1;
                    let b = ev.encode_to_vec();
                    bytes += b.len() as u64;
                    events.insert(i + 1, b.as_slice()).unwrap();
                }
                meta.insert("next", 6).unwrap();
                meta.insert("bytes", bytes).unwrap();
            }
            tx.commit().unwrap();
        }
        let log = RedbLog::open(&dir).unwrap();
        assert_eq!(log.last_sequence(), 5);
        assert_eq!(log.first_sequence(), 1);
        assert_eq!(
            log.append((5..8).map(|i| timed(i, 2_000)).collect())
                .unwrap(),
            8
        );
        assert_eq!(sequences(&log), (1..=8).collect::<Vec<_>>());
        assert_eq!(
            log.read_encoded(4, 3)
                .unwrap()
                .iter()
                .map(|e| e.sequence)
                .collect::<Vec<_>>(),
            [4, 5, 6],
            "across the two tables"
        );
        // The old rows go first; the newest of them is not kept once batches follow.
        let age = Retention {
            max_age_ms: 500,
            max_bytes: 0,
        };
        assert_eq!(log.enforce(age, 1_600).unwrap(), 5);
        assert_eq!(log.first_sequence(), 6);
        assert_eq!(sequences(&log), [6, 7, 8]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_batch_cut_short_is_an_error_not_a_gap() {
        let dir = fresh("cut");
        let log = RedbLog::open(&dir).unwrap();
        log.append((0..3).map(event).collect()).unwrap();
        drop(log);
        {
            let db = Database::create(dir.join("feed.redb")).unwrap();
            let tx = db.begin_write().unwrap();
            {
                let mut batches = tx.open_table(BATCHES).unwrap();
                let whole = batches.get(1).unwrap().unwrap().value().to_vec();
                batches.insert(1, &whole[..whole.len() - 1]).unwrap();
            }
            tx.commit().unwrap();
        }
        let log = RedbLog::open(&dir).unwrap();
        assert!(matches!(log.read_encoded(1, 10), Err(LogError::Decode(1))));
        // The frames before the cut are whole: reading only them works.
        assert_eq!(log.read_encoded(1, 2).unwrap().len(), 2);
        assert!(frames(b"\x05\x00\x00\x00abc").is_none());
        assert_eq!(frames(b"\x01\x00\x00\x00a"), Some(vec![(4, 1)]));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn events_kept_in_memory_are_copied_in_chunks_whole() {
        // 4-byte frame headers between events, as in a batch; one event bigger than a chunk.
        let sizes = [1_000usize, CHUNK + 10, 7, 1_000, 3];
        let mut buf = Vec::new();
        let mut spans = Vec::new();
        for (i, n) in sizes
            .iter()
            .chain(std::iter::repeat_n(&1_000, 600))
            .enumerate()
        {
            buf.extend_from_slice(&[0, 0, 0, 0]);
            spans.push((buf.len(), *n));
            buf.extend(std::iter::repeat_n(i as u8, *n));
        }
        let out = chunked(&buf, &spans);
        assert_eq!(out.len(), spans.len());
        for (b, (start, len)) in out.iter().zip(&spans) {
            assert_eq!(b.as_ref(), &buf[*start..start + len]);
        }
        // The 600 small events after the big one share a few chunks, not one each.
        let mut chunks = 1;
        for w in out.windows(2).skip(5) {
            let gap = (w[1].as_ptr() as isize).wrapping_sub(w[0].as_ptr() as isize);
            if gap != w[0].len() as isize + 4 {
                chunks += 1;
            }
        }
        assert!((3..=4).contains(&chunks), "{chunks} chunks for 600 kB");
    }
}
