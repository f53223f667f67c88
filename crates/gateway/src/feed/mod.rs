//! The police centre's feed: decision events in a durable log ([`log`]), served over gRPC
//! ([`server`]) with the contract of `proto/interdict/v1`; numbers pushed in are durable and
//! enforced on the next message.
//!
//! The inline path hands records to the records thread (see [`crate::record`]), which hands a
//! wire event to [`FeedSender::send`]: a bounded queue that drops and counts when full. The
//! feed's writer thread appends whatever is queued in one durable transaction (group
//! commit), then wakes the subscribers, each of which reads the log at its own pace.

pub mod convert;
pub mod log;
pub mod server;
pub mod tail;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use interdict_engine::lists::{parse_prefix, NumberChange};
use interdict_engine::{normalise, Engine, Snapshot, Source};
use interdict_proto::v1 as pb;
use serde::Deserialize;

use crate::record::DecisionRecord;
use log::EventLog;

/// What a client may do: each role may do what the one before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// May subscribe to the feed (optionally only to its region's callees).
    Subscriber,
    /// May also check messages (dry run) and read the stats.
    Analyst,
    /// May also change the number lists.
    RulesAdmin,
}

impl Role {
    /// The name used in the configuration and the audit events.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Subscriber => "subscriber",
            Role::Analyst => "analyst",
            Role::RulesAdmin => "rules-admin",
        }
    }
}

/// A client identity's grant.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// The role.
    pub role: Role,
    /// For subscribers: only events whose callee starts with one of these (`+86170`).
    #[serde(default)]
    pub callee_prefixes: Vec<String>,
}

/// The `[feed]` table of the configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeedConfig {
    /// Serve the feed (gRPC) at all.
    pub enabled: bool,
    /// Where the gRPC server listens (loopback by default).
    pub listen: SocketAddr,
    /// Serve without TLS: only honoured when `listen` is a loopback address. Every client
    /// then acts as `plaintext_role` under the identity `loopback`.
    pub plaintext: bool,
    /// The role of plaintext clients.
    pub plaintext_role: Role,
    /// The server's certificate chain (PEM).
    pub cert: Option<PathBuf>,
    /// The server's private key (PEM).
    pub key: Option<PathBuf>,
    /// The CA that issues client certificates (PEM): only its certificates can connect.
    pub client_ca: Option<PathBuf>,
    /// Client identity (a DNS or URI SAN, or the subject CN) → role.
    pub roles: BTreeMap<String, Grant>,
    /// The durable log's directory.
    pub log_dir: PathBuf,
    /// Events older than this many days are removed (0: no age limit).
    pub retention_days: u64,
    /// Oldest events are removed while the events take more than this many bytes (0: no limit).
    pub retention_bytes: u64,
    /// Events waiting for the log's writer; when full, new ones are dropped and counted.
    pub queue: usize,
}

impl Default for FeedConfig {
    fn default() -> Self {
        FeedConfig {
            enabled: false,
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            plaintext: false,
            plaintext_role: Role::RulesAdmin,
            cert: None,
            key: None,
            client_ca: None,
            roles: BTreeMap::new(),
            log_dir: PathBuf::from("feed"),
            retention_days: 30,
            retention_bytes: 0,
            queue: 65_536,
        }
    }
}

/// Counters of the feed, readable by `Stats.Get` and the metrics.
#[derive(Debug, Default)]
pub struct FeedStats {
    /// Events dropped before the log because its queue was full.
    pub dropped: AtomicU64,
    /// Events written to the log.
    pub written: AtomicU64,
    /// Batches that failed to be written.
    pub write_errors: AtomicU64,
    /// Subscribers connected now.
    pub subscribers: AtomicU64,
    /// Events written by verdict, protocol and rule.
    pub counts: Mutex<Counts>,
}

/// Events written by verdict, protocol and rule.
#[derive(Debug, Default)]
pub struct Counts {
    /// By verdict name.
    pub by_verdict: BTreeMap<String, u64>,
    /// By protocol name.
    pub by_protocol: BTreeMap<String, u64>,
    /// By rule id.
    pub by_rule: BTreeMap<String, u64>,
}

impl FeedStats {
    fn count(&self, events: &[pb::DecisionEvent]) {
        // Counted for the batch first (enums by value, rules in a hash map of borrowed
        // ids), then added to the totals under the lock once.
        let mut verdicts = [0u64; 4];
        let mut protocols = [0u64; 3];
        let mut rules: rustc_hash::FxHashMap<&str, u64> = rustc_hash::FxHashMap::default();
        for ev in events {
            // Values this build does not know count as unspecified (0).
            let v = usize::try_from(ev.verdict)
                .ok()
                .filter(|v| *v < verdicts.len())
                .unwrap_or(0);
            if let Some(n) = verdicts.get_mut(v) {
                *n += 1;
            }
            let p = usize::try_from(ev.protocol)
                .ok()
                .filter(|p| *p < protocols.len())
                .unwrap_or(0);
            if let Some(n) = protocols.get_mut(p) {
                *n += 1;
            }
            if !ev.rule_id.is_empty() {
                *rules.entry(ev.rule_id.as_str()).or_default() += 1;
            }
        }
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        // Allocates only for a key seen for the first time.
        fn bump(m: &mut BTreeMap<String, u64>, key: &str, by: u64) {
            if by == 0 {
                return;
            }
            match m.get_mut(key) {
                Some(n) => *n += by,
                None => {
                    m.insert(key.to_string(), by);
                }
            }
        }
        for (v, n) in verdicts.iter().enumerate() {
            let v = i32::try_from(v).unwrap_or(0);
            let name = pb::Verdict::try_from(v).unwrap_or(pb::Verdict::Unspecified);
            bump(&mut c.by_verdict, name.as_str_name(), *n);
        }
        for (p, n) in protocols.iter().enumerate() {
            let p = i32::try_from(p).unwrap_or(0);
            let name = pb::Protocol::try_from(p).unwrap_or(pb::Protocol::Unspecified);
            bump(&mut c.by_protocol, name.as_str_name(), *n);
        }
        for (rule, n) in rules {
            bump(&mut c.by_rule, rule, n);
        }
    }
}

/// The records thread's end of the feed's queue: [`FeedSender::send`] never waits.
///
/// Events are queued boxed: a std bounded channel allocates and initialises every slot when
/// it is made, and 65,536 inline events (712 octets each) took 47 MB before the first one.
#[derive(Clone)]
pub struct FeedSender {
    tx: SyncSender<Box<pb::DecisionEvent>>,
    stats: Arc<FeedStats>,
}

impl FeedSender {
    /// Queues the event of a record, or drops and counts it when the queue is full.
    pub fn send(&self, record: &DecisionRecord) {
        self.send_event(convert::record_event(record));
    }

    /// Queues an event, or drops and counts it when the queue is full.
    pub fn send_event(&self, event: pb::DecisionEvent) {
        match self.tx.try_send(Box::new(event)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Most events written in one transaction. Group commit keeps up with a rate of at most
/// this many events per fsync: at 8,192, a disk whose fsync took 40 ms under other I/O held
/// the log below 205,000 events/s and the queue grew.
const MAX_BATCH: usize = 32_768;

/// Starts the log's writer thread behind a queue of `capacity` events; the thread ends when
/// every [`FeedSender`] is gone.
pub fn spawn_log_writer(
    log: Arc<dyn EventLog>,
    capacity: usize,
    stats: Arc<FeedStats>,
) -> std::io::Result<(FeedSender, std::thread::JoinHandle<()>)> {
    let (tx, rx) = sync_channel(capacity.max(1));
    let thread_stats = stats.clone();
    let handle = std::thread::Builder::new()
        .name("feed-log".into())
        .spawn(move || write_loop(&*log, &rx, &thread_stats))?;
    Ok((FeedSender { tx, stats }, handle))
}

fn write_loop(log: &dyn EventLog, rx: &Receiver<Box<pb::DecisionEvent>>, stats: &FeedStats) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![*first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(ev) => batch.push(*ev),
                Err(_) => break,
            }
        }
        let n = batch.len() as u64;
        stats.count(&batch);
        match log.append(batch) {
            Ok(_) => {
                stats.written.fetch_add(n, Ordering::Relaxed);
            }
            Err(e) => {
                stats.write_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, events = n, "feed: events lost");
            }
        }
    }
}

/// A number update that cannot be applied.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// The request is incomplete or malformed.
    #[error("{0}")]
    Invalid(String),
    /// The engine refused the changes.
    #[error("engine: {0}")]
    Engine(String),
}

/// Most numbers one update may add and remove.
pub const MAX_NUMBERS_PER_UPDATE: usize = 100_000;

/// The engine's changes for an update, read against `snapshot` (its lists and number plan).
pub fn number_changes(
    snapshot: &Snapshot,
    update: &pb::UpdateNumbersRequest,
) -> Result<Vec<NumberChange>, UpdateError> {
    let invalid = |m: String| UpdateError::Invalid(m);
    if update.add.len().saturating_add(update.remove.len()) > MAX_NUMBERS_PER_UPDATE {
        return Err(invalid(format!(
            "at most {MAX_NUMBERS_PER_UPDATE} numbers per update"
        )));
    }
    let list = snapshot
        .lists()
        .list_id(&update.list)
        .ok_or_else(|| invalid(format!("no list named {:?}", update.list)))?;
    let expires = update.expires_at.as_ref().map(convert::timestamp_ms);
    let cfg = snapshot.number_config();
    let mut out = Vec::with_capacity(update.add.len() + update.remove.len());
    for (adding, entries) in [(true, &update.add), (false, &update.remove)] {
        for entry in entries.iter() {
            let entry = entry.trim();
            if entry.ends_with('*') {
                let prefix = parse_prefix(entry).map_err(|e| invalid(format!("{entry:?}: {e}")))?;
                out.push(if adding {
                    NumberChange::AddPrefix {
                        list,
                        prefix,
                        source: Source::pushed(&update.case_id, expires),
                    }
                } else {
                    NumberChange::RemovePrefix { list, prefix }
                });
            } else {
                let n = normalise(entry, cfg).map_err(|e| invalid(format!("{entry:?}: {e}")))?;
                out.push(if adding {
                    NumberChange::add(list, n.key(), Source::pushed(&update.case_id, expires))
                } else {
                    NumberChange::remove(list, n.key())
                });
            }
        }
    }
    Ok(out)
}

/// Re-applies every number update in the log to the engine (at start, before the first
/// message is decided). Returns how many were applied; those that no longer apply (a list
/// removed from the pack) are logged and skipped.
pub fn restore(log: &dyn EventLog, engine: &Engine) -> Result<usize, log::LogError> {
    let snapshot = engine.snapshot();
    let mut all = Vec::new();
    let mut applied = 0;
    for (version, update) in log.updates()? {
        match number_changes(&snapshot, &update) {
            Ok(changes) => {
                all.extend(changes);
                applied += 1;
            }
            Err(e) => {
                tracing::warn!(version, list = %update.list, error = %e, "pushed update not re-applied")
            }
        }
    }
    // One new set of lists for all of them, in the order they were pushed.
    if let Err(e) = engine.apply_number_changes(&all) {
        tracing::error!(error = %e, "pushed updates not re-applied");
        return Ok(0);
    }
    Ok(applied)
}

/// A running feed: the sender the records thread hands events to, and where it listens.
pub struct Running {
    /// Hands events to the log's writer (never waits).
    pub sender: FeedSender,
    /// The gRPC server's address.
    pub addr: SocketAddr,
    /// The feed's counters.
    pub stats: Arc<FeedStats>,
}

/// Opens the log, re-applies every pushed number update to `engine` (before the first
/// message is decided), starts the log's writer, the retention task and the gRPC server.
pub async fn start(
    cfg: &FeedConfig,
    engine: Arc<Engine>,
    gateway_id: &str,
) -> Result<Running, String> {
    let (auth, tls) = server::auth_of(cfg).map_err(|e| e.to_string())?;
    let dir = cfg.log_dir.clone();
    let opened = tokio::task::spawn_blocking(move || log::RedbLog::open(&dir))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("feed.log_dir {}: {e}", cfg.log_dir.display()))?;
    let log: Arc<dyn EventLog> = Arc::new(opened);
    let restored = restore(&*log, &engine).map_err(|e| e.to_string())?;
    let stats = Arc::new(FeedStats::default());
    let (sender, _writer) = spawn_log_writer(log.clone(), cfg.queue, stats.clone())
        .map_err(|e| format!("feed writer: {e}"))?;
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| format!("feed.listen {}: {e}", cfg.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let retention = log::Retention {
        max_age_ms: cfg.retention_days.saturating_mul(86_400_000),
        max_bytes: cfg.retention_bytes,
    };
    let kept = log.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            every.tick().await;
            let l = kept.clone();
            let now = crate::check::now_ms();
            match tokio::task::spawn_blocking(move || l.enforce(retention, now)).await {
                Ok(Ok(n)) if n > 0 => tracing::info!(removed = n, "feed retention"),
                Ok(Err(e)) => tracing::warn!(error = %e, "feed retention failed"),
                _ => {}
            }
        }
    });
    let state_engine = engine.clone();
    let state = Arc::new(server::FeedState {
        log: log.clone(),
        engine,
        gateway_id: gateway_id.to_string(),
        stats: stats.clone(),
        auth,
        updates: tokio::sync::Mutex::new(Some(state_engine.snapshot())),
    });
    tokio::spawn(server::keep_pushes_after_reload(
        state.clone(),
        std::time::Duration::from_millis(100),
    ));
    tokio::spawn(async move {
        if let Err(e) = server::serve(state, tls, listener, std::future::pending()).await {
            tracing::error!(error = %e, "feed server stopped");
        }
    });
    tracing::info!(%addr, restored, last = log.last_sequence(), "feed listening");
    Ok(Running {
        sender,
        addr,
        stats,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn stats_count_each_verdict_protocol_and_rule_across_batches() {
        let ev = |verdict: i32, protocol: i32, rule: &str| pb::DecisionEvent {
            verdict,
            protocol,
            rule_id: rule.into(),
            ..Default::default()
        };
        let stats = FeedStats::default();
        stats.count(&[
            ev(pb::Verdict::Block as i32, pb::Protocol::Sip as i32, "r1"),
            ev(pb::Verdict::Block as i32, pb::Protocol::Smpp as i32, "r2"),
            ev(pb::Verdict::Pass as i32, pb::Protocol::Smpp as i32, ""),
            // Values this build does not know count as unspecified.
            ev(9, 7, "r1"),
        ]);
        stats.count(&[ev(pb::Verdict::Warn as i32, pb::Protocol::Sip as i32, "r2")]);
        let c = stats.counts.lock().unwrap();
        let get = |m: &BTreeMap<String, u64>| {
            m.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        assert_eq!(
            get(&c.by_verdict),
            "VERDICT_BLOCK=2,VERDICT_PASS=1,VERDICT_UNSPECIFIED=1,VERDICT_WARN=1"
        );
        assert_eq!(
            get(&c.by_protocol),
            "PROTOCOL_SIP=2,PROTOCOL_SMPP=2,PROTOCOL_UNSPECIFIED=1"
        );
        assert_eq!(get(&c.by_rule), "r1=2,r2=2");
    }
}
