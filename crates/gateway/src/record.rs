//! Decision records: what the gateway did with a message, with everything a police analyst
//! or a carrier's NOC needs to follow it up, and the bounded queue they leave through.
//!
//! A [`DecisionRecord`] is the engine's [`Decision`] plus where and when: protocol, direction,
//! ingress, trunk, peer, Call-ID or message id, rule pack version, decision latency, and the
//! stages that could not run ([`Degraded`]). Victim-at-risk findings and shadow-pack
//! differences are records of their own [`RecordKind`]. Records are handed to a
//! [`RecordSink`], which never blocks the inline path: when its queue is full the record is
//! dropped and counted.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;

use interdict_engine::{Decision, Ingress, Verdict};
use serde::Serialize;

/// The protocol a message arrived in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// SIP (INVITE, MESSAGE).
    Sip,
    /// SMPP (submit_sm, deliver_sm, data_sm, …).
    Smpp,
}

/// Which way a message crossed the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From the border (SBC, ESME) towards the core.
    ToCore,
    /// From the core towards the border.
    ToBorder,
}

/// What a record reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// A message was decided block or warn (pass is recorded only in the counters).
    Decision,
    /// A warned call was answered and has lasted long: its callee is talking to a likely
    /// scammer now (who the 96110 line should call).
    VictimAtRisk,
    /// The shadow pack would have decided this message differently from the enforced pack.
    ShadowDifference,
    /// A dissuasion SMS (劝阻短信) was submitted to the likely victim of a warned call or SMS
    /// (the callee of the decision).
    DissuasionSent,
}

/// Stages that could not run on a message; the decision was taken on the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Degraded {
    /// Some text could not be decoded (unknown charset, bad transfer encoding, …).
    pub text_undecodable: bool,
    /// The text was larger than what the engine scans, or the engine could not examine all of
    /// it (its decision was `degraded`: scan failure or hit limit).
    pub text_truncated: bool,
    /// The decision passed its deadline and was not acted on (fail-open or fail-closed).
    pub deadline: bool,
    /// The engine failed on this message.
    pub engine_error: bool,
}

impl Degraded {
    /// Whether any stage was skipped.
    pub fn any(&self) -> bool {
        self.text_undecodable || self.text_truncated || self.deadline || self.engine_error
    }
}

/// One decision record.
#[derive(Debug, Clone, Serialize)]
pub struct DecisionRecord {
    /// What this record reports.
    pub kind: RecordKind,
    /// Milliseconds since the Unix epoch when the message arrived.
    pub at_ms: u64,
    /// The gateway that decided.
    pub gateway: Arc<str>,
    /// SIP or SMPP.
    pub protocol: Protocol,
    /// Towards the core or towards the border.
    pub direction: Direction,
    /// The SIP method or SMPP command.
    pub method: String,
    /// Domestic or international ingress.
    pub ingress: Ingress,
    /// The trunk or link it came in on, when known.
    pub trunk: Option<Arc<str>>,
    /// The peer that sent it.
    pub peer: Option<SocketAddr>,
    /// Call-ID (SIP) or message id / sequence (SMPP).
    pub message_id: String,
    /// Version of the rule pack that decided.
    pub pack_version: Arc<str>,
    /// Nanoseconds the decision took (ingest and engine).
    pub latency_ns: u64,
    /// Stages that could not run.
    pub degraded: Degraded,
    /// What the gateway did: the enforced verdict (after fail-open), which may differ from
    /// the decision's when the deadline passed.
    pub acted: Verdict,
    /// The engine's decision with its rule, categories and evidence.
    pub decision: Decision,
    /// For shadow differences: the shadow pack's decision.
    pub shadow: Option<Decision>,
    /// For victim-at-risk records: seconds the call has lasted.
    pub call_seconds: Option<u64>,
    /// The message text, only for block and warn and only when configured.
    pub text: Option<String>,
}

/// Counters of the record queue, readable by the metrics.
#[derive(Debug, Default)]
pub struct SinkStats {
    /// Records queued.
    pub queued: AtomicU64,
    /// Records dropped because the queue was full.
    pub dropped: AtomicU64,
    /// Records written by the writer.
    pub written: AtomicU64,
    /// Records the writer failed to write.
    pub write_errors: AtomicU64,
}

/// The inline path's end of the record queue: [`RecordSink::send`] never waits.
///
/// Records are queued boxed: a bounded channel allocates and initialises every slot when it
/// is made, so a queue of 65,536 records held inline took 45 MB at start-up; boxed, 1 MB
/// (a record is made only for blocks, warnings and degraded decisions, never on the pass
/// path).
#[derive(Clone)]
pub struct RecordSink {
    tx: SyncSender<Box<DecisionRecord>>,
    stats: Arc<SinkStats>,
}

impl RecordSink {
    /// A queue of `capacity` records and its receiving end.
    pub fn new(capacity: usize) -> (RecordSink, Receiver<Box<DecisionRecord>>, Arc<SinkStats>) {
        let (tx, rx) = sync_channel(capacity.max(1));
        let stats = Arc::new(SinkStats::default());
        (
            RecordSink {
                tx,
                stats: stats.clone(),
            },
            rx,
            stats,
        )
    }

    /// Queues a record, or drops and counts it when the queue is full or closed.
    pub fn send(&self, record: DecisionRecord) {
        match self.tx.try_send(Box::new(record)) {
            Ok(()) => {
                self.stats.queued.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The queue's counters.
    pub fn stats(&self) -> &Arc<SinkStats> {
        &self.stats
    }
}

/// Writes records as JSON lines to `path` (appending) until every sender is gone; `on_record`
/// sees each record first (the tests and the feed subscribe through it).
pub fn spawn_writer(
    rx: Receiver<Box<DecisionRecord>>,
    path: Option<&Path>,
    stats: Arc<SinkStats>,
    mut on_record: impl FnMut(&DecisionRecord) + Send + 'static,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let mut file = match path {
        Some(p) => Some(std::io::BufWriter::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)?,
        )),
        None => None,
    };
    std::thread::Builder::new()
        .name("records".into())
        .spawn(move || {
            while let Ok(first) = rx.recv() {
                let mut next = Some(first);
                while let Some(record) = next {
                    on_record(&record);
                    if let Some(f) = file.as_mut() {
                        let ok = serde_json::to_writer(&mut *f, &record).is_ok()
                            && f.write_all(b"\n").is_ok();
                        let counter = if ok {
                            &stats.written
                        } else {
                            &stats.write_errors
                        };
                        counter.fetch_add(1, Ordering::Relaxed);
                    } else {
                        stats.written.fetch_add(1, Ordering::Relaxed);
                    }
                    next = rx.try_recv().ok();
                }
                if let Some(f) = file.as_mut() {
                    if f.flush().is_err() {
                        stats.write_errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        })
}
