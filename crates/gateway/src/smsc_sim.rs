//! `interdict smsc-sim`: the project's own SMSC simulator, for tests, demos and benchmarks.
//!
//! It accepts binds (transmitter, receiver, transceiver; any credentials), answers
//! submit_sm, data_sm, submit_multi, replace_sm, query_sm, cancel_sm, enquire_link and
//! unbind, and answers a PDU that does not decode with `generic_nack` while the session
//! carries on. Every accepted request that is not session management is recorded
//! ([`Received`]): kept in memory for Rust tests ([`SmscSim::received`]) and, when
//! configured, written as one JSON line each. It delivers mobile-originated deliver_sm to
//! bound receivers and transceivers ([`SmscSim::deliver`], or a JSON-lines file with
//! `--mo`) and delivery receipts when registered_delivery asks for them.
//!
//! For failure tests the SMSC can answer late ([`SimConfig::response_delay`]), read and
//! never answer ([`SimMode::Silent`], or [`SimMode::SilentAfterBind`] once bound), never
//! even read ([`SimMode::Stalled`]), refuse every submit with a status
//! ([`SimConfig::submit_status`]) or accept only some credentials
//! ([`SimConfig::accounts`]; every bind attempt is listed by [`SmscSim::binds`]).
//! It listens on loopback only unless [`SimConfig::allow_non_loopback`] is set.
//!
//! ```no_run
//! use interdict::smsc_sim::{SimConfig, SmscSim};
//! let sim = SmscSim::spawn(SimConfig::default())?; // own thread and runtime, free port
//! println!("SMSC on {}", sim.local_addr());
//! // ... drive SMPP traffic at it ...
//! for m in sim.received() {
//!     println!("{} {:?}", m.command, m.text);
//! }
//! # Ok::<(), std::io::Error>(())
//! ```

use std::collections::VecDeque;
use std::io::{BufWriter, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use interdict_smpp::encode::{self, write_header_only};
use interdict_smpp::tlv::write_tlv;
use interdict_smpp::{
    status, text, Address, Bind, BindResp, Body, CommandId, Header, Message, Pdu, QuerySmResp, Sm,
    SubmitMultiResp, TlvTag, Tlvs, UnsuccessList, DEFAULT_MAX_PDU_LEN,
};
use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

use crate::smpp_wire::{PduReader, PduWriter};

/// How the simulator behaves towards its ESMEs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum SimMode {
    /// Answer everything.
    #[default]
    Normal,
    /// Accept connections and read every octet, never answer (a hung SMSC application).
    Silent,
    /// Accept connections and never read nor answer (a frozen host: TCP backs up).
    Stalled,
    /// Answer binds, then read every octet and never answer again (an SMSC that hangs
    /// once sessions are up).
    SilentAfterBind,
}

/// Settings of one simulator.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Where to listen (port 0: any free port, see [`SmscSim::local_addr`]).
    pub listen: SocketAddr,
    /// Allow a non-loopback listen address.
    pub allow_non_loopback: bool,
    /// The system_id in bind responses.
    pub system_id: String,
    /// Append every received message as one JSON line to this file.
    pub log: Option<PathBuf>,
    /// Keep at most this many received messages in memory (oldest dropped first; 0 keeps
    /// none, which is the fastest).
    pub keep: usize,
    /// Send delivery receipts when a message's registered_delivery asks for them.
    pub deliver_receipts: bool,
    /// Delay between accepting a message and sending its receipt.
    pub receipt_delay: Duration,
    /// Delay before every batch of answers (a slow SMSC).
    pub response_delay: Duration,
    /// Answering, silent or stalled.
    pub mode: SimMode,
    /// Largest command_length accepted.
    pub max_pdu_len: u32,
    /// Accepted (system_id, password) pairs; empty accepts any credentials. A bind with
    /// an unknown system_id gets ESME_RINVSYSID, a wrong password ESME_RINVPASWD.
    pub accounts: Vec<(String, String)>,
    /// When not 0, every submit_sm, data_sm and submit_multi is refused with this
    /// command_status (e.g. ESME_RTHROTTLED 0x58, ESME_RMSGQFUL 0x14) and not recorded.
    pub submit_status: u32,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            allow_non_loopback: false,
            system_id: "interdict-sim".to_string(),
            log: None,
            keep: 100_000,
            deliver_receipts: true,
            receipt_delay: Duration::ZERO,
            response_delay: Duration::ZERO,
            mode: SimMode::Normal,
            max_pdu_len: DEFAULT_MAX_PDU_LEN,
            accounts: Vec::new(),
            submit_status: 0,
        }
    }
}

/// One bind attempt, as [`SmscSim::binds`] lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BindRecord {
    /// `transmitter`, `receiver` or `transceiver`.
    pub kind: &'static str,
    /// system_id sent.
    pub system_id: String,
    /// password sent.
    pub password: String,
    /// system_type sent.
    pub system_type: String,
    /// interface_version sent.
    pub interface_version: u8,
    /// addr_ton, addr_npi and address_range sent.
    pub address_range: Addr,
    /// The command_status answered (0: bound).
    pub status: u32,
}

/// An address as recorded: TON, NPI and the digits (lossy UTF-8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Addr {
    /// Type of number.
    pub ton: u8,
    /// Numbering plan indicator.
    pub npi: u8,
    /// The address.
    pub addr: String,
}

impl Addr {
    fn of(a: &Address<'_>) -> Addr {
        Addr {
            ton: a.ton,
            npi: a.npi,
            addr: String::from_utf8_lossy(a.addr).into_owned(),
        }
    }
}

/// Concatenation info of a recorded part (UDH or SAR TLVs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ConcatInfo {
    /// Reference number shared by the parts.
    pub reference: u16,
    /// Number of parts.
    pub total: u8,
    /// This part's number (from 1).
    pub seq: u8,
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
        s.push(char::from_digit(u32::from(b & 0x0f), 16).unwrap_or('0'));
    }
    s
}

fn ser_hex<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex(bytes))
}

fn ser_hex_opt<S: serde::Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
    match bytes {
        Some(b) => s.serialize_str(&hex(b)),
        None => s.serialize_none(),
    }
}

/// One request the simulator accepted (submit_sm, data_sm, submit_multi, replace_sm,
/// cancel_sm, query_sm), as kept in memory and written to the log (octets as hex there).
#[derive(Debug, Clone, Serialize)]
pub struct Received {
    /// Order of acceptance in this simulator (from 1).
    pub n: u64,
    /// When it was accepted (RFC 3339).
    pub ts: String,
    /// The command name, e.g. `submit_sm`.
    pub command: &'static str,
    /// Its sequence_number.
    pub sequence: u32,
    /// The system_id of the bind it arrived on.
    pub system_id: String,
    /// The message id the simulator answered (or the one named by cancel/query/replace).
    pub message_id: String,
    /// service_type.
    pub service_type: String,
    /// Originator.
    pub source: Addr,
    /// Recipients (one, several for submit_multi, none for query_sm and replace_sm).
    pub destinations: Vec<Addr>,
    /// esm_class.
    pub esm_class: u8,
    /// registered_delivery.
    pub registered_delivery: u8,
    /// data_coding (0 for replace_sm, which has none).
    pub data_coding: u8,
    /// short_message octets (UDH included).
    #[serde(rename = "short_message_hex", serialize_with = "ser_hex")]
    pub short_message: Vec<u8>,
    /// message_payload TLV value, when present.
    #[serde(rename = "message_payload_hex", serialize_with = "ser_hex_opt")]
    pub message_payload: Option<Vec<u8>>,
    /// Every TLV octet, as received.
    #[serde(rename = "tlvs_hex", serialize_with = "ser_hex")]
    pub tlvs: Vec<u8>,
    /// Concatenation info of this part.
    pub concat: Option<ConcatInfo>,
    /// The text decoded best effort (this part alone for a concatenated message).
    pub text: Option<String>,
}

impl Received {
    /// The message octets after any UDH (message_payload in place of an empty
    /// short_message).
    pub fn payload(&self) -> &[u8] {
        let data = match &self.message_payload {
            Some(p) if self.short_message.is_empty() => p.as_slice(),
            _ => self.short_message.as_slice(),
        };
        if self.esm_class & 0x40 != 0 {
            let udhl = data.first().map_or(0, |l| usize::from(*l) + 1);
            data.get(udhl..).unwrap_or_default()
        } else {
            data
        }
    }
}

/// The texts of `received` messages with concatenated parts joined (by source,
/// destination and reference, in part order) and decoded once as a handset would.
/// Incomplete concatenated messages are returned joined as far as they go.
pub fn reassembled_texts(received: &[Received]) -> Vec<String> {
    type Key = (String, String, u16, u8);
    let mut out: Vec<(u64, String)> = Vec::new();
    // (key, order of the first part, data_coding, parts by number)
    type Group = (Key, u64, u8, Vec<(u8, Vec<u8>)>);
    let mut groups: Vec<Group> = Vec::new();
    for r in received {
        let dest = r
            .destinations
            .first()
            .map(|d| d.addr.clone())
            .unwrap_or_default();
        match r.concat {
            None => out.push((r.n, r.text.clone().unwrap_or_default())),
            Some(c) => {
                let key = (r.source.addr.clone(), dest, c.reference, c.total);
                let part = (c.seq, r.payload().to_vec());
                match groups.iter_mut().find(|g| g.0 == key) {
                    Some(g) => g.3.push(part),
                    None => groups.push((key, r.n, r.data_coding, vec![part])),
                }
            }
        }
    }
    for (_, first, data_coding, mut parts) in groups {
        parts.sort_by_key(|p| p.0);
        let joined: Vec<u8> = parts.into_iter().flat_map(|p| p.1).collect();
        let message = Message {
            data_coding,
            udh: None,
            user_data: &joined,
            payload: &joined,
            from_payload_tlv: false,
            concat: None,
        };
        out.push((
            first,
            text::decode(&message, &text::TextOptions::default()).text,
        ));
    }
    out.sort_by_key(|o| o.0);
    out.into_iter().map(|o| o.1).collect()
}

/// Counters of one simulator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SimStats {
    /// TCP connections accepted.
    pub connections: u64,
    /// Successful binds.
    pub binds: u64,
    /// submit_sm accepted.
    pub submit_sm: u64,
    /// data_sm accepted.
    pub data_sm: u64,
    /// submit_multi accepted.
    pub submit_multi: u64,
    /// replace_sm accepted.
    pub replace_sm: u64,
    /// cancel_sm accepted.
    pub cancel_sm: u64,
    /// query_sm answered.
    pub query_sm: u64,
    /// enquire_link answered.
    pub enquire_link: u64,
    /// unbind answered.
    pub unbind: u64,
    /// generic_nack sent (undecodable or unknown PDUs).
    pub generic_nack: u64,
    /// Requests refused with an error status (wrong bind state, unknown message id).
    pub refused: u64,
    /// deliver_sm sent (mobile-originated and receipts).
    pub deliver_sm: u64,
    /// Of which delivery receipts.
    pub receipts: u64,
    /// Receipts or MO messages with no bound receiver to take them.
    pub undeliverable: u64,
    /// deliver_sm_resp received with status 0.
    pub deliver_sm_resp_ok: u64,
    /// deliver_sm_resp received with another status.
    pub deliver_sm_resp_error: u64,
    /// Received messages dropped from memory because `keep` was reached.
    pub dropped_from_memory: u64,
    /// Octets read and ignored in silent mode.
    pub ignored_octets: u64,
}

#[derive(Default)]
struct Counters {
    connections: AtomicU64,
    binds: AtomicU64,
    submit_sm: AtomicU64,
    data_sm: AtomicU64,
    submit_multi: AtomicU64,
    replace_sm: AtomicU64,
    cancel_sm: AtomicU64,
    query_sm: AtomicU64,
    enquire_link: AtomicU64,
    unbind: AtomicU64,
    generic_nack: AtomicU64,
    refused: AtomicU64,
    deliver_sm: AtomicU64,
    receipts: AtomicU64,
    undeliverable: AtomicU64,
    deliver_sm_resp_ok: AtomicU64,
    deliver_sm_resp_error: AtomicU64,
    dropped_from_memory: AtomicU64,
    ignored_octets: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// The bind types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BindKind {
    Transmitter,
    Receiver,
    Transceiver,
}

impl BindKind {
    fn receives(self) -> bool {
        matches!(self, BindKind::Receiver | BindKind::Transceiver)
    }
    fn transmits(self) -> bool {
        matches!(self, BindKind::Transmitter | BindKind::Transceiver)
    }
}

/// A bound session the simulator can send deliver_sm to.
struct Route {
    id: u64,
    system_id: String,
    kind: BindKind,
    tx: mpsc::Sender<Vec<u8>>,
}

struct Shared {
    cfg: SimConfig,
    counters: Counters,
    message_ids: AtomicU64,
    received_n: AtomicU64,
    received: Mutex<VecDeque<Received>>,
    log: Option<Mutex<BufWriter<std::fs::File>>>,
    routes: Mutex<Vec<Route>>,
    binds: Mutex<VecDeque<BindRecord>>,
    next_route: AtomicU64,
    bound: watch::Sender<usize>,
    /// Receipts waiting out `receipt_delay` (each a sleeping task): bounded by
    /// [`MAX_DELAYED_RECEIPTS`], beyond which receipts go at once.
    delayed_receipts: AtomicU64,
}

/// Most receipts waiting out `receipt_delay` at once.
const MAX_DELAYED_RECEIPTS: u64 = 100_000;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    fn recording(&self) -> bool {
        self.cfg.keep > 0 || self.log.is_some()
    }

    fn record(&self, mut r: Received) {
        r.n = self.received_n.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(log) = &self.log {
            if let Ok(line) = serde_json::to_string(&r) {
                let mut w = lock(log);
                let _ = w.write_all(line.as_bytes());
                let _ = w.write_all(b"\n");
            }
        }
        if self.cfg.keep > 0 {
            let mut q = lock(&self.received);
            if q.len() >= self.cfg.keep {
                q.pop_front();
                bump(&self.counters.dropped_from_memory);
            }
            q.push_back(r);
        }
    }

    fn flush_log(&self) {
        if let Some(log) = &self.log {
            let _ = lock(log).flush();
        }
    }

    /// Queue an encoded deliver_sm (any sequence number) to a bound receiver, preferring
    /// session `prefer`, else one with `system_id`, else (when `any`) any receiver.
    fn route(&self, pdu: Vec<u8>, prefer: Option<u64>, system_id: Option<&str>) -> bool {
        let routes = lock(&self.routes);
        let start = self.next_route.fetch_add(1, Ordering::Relaxed) as usize;
        let n = routes.len();
        let pick = routes
            .iter()
            .find(|r| Some(r.id) == prefer && r.kind.receives())
            .or_else(|| {
                (0..n)
                    .filter_map(|i| routes.get((start + i) % n.max(1)))
                    .find(|r| r.kind.receives() && system_id.is_none_or(|s| r.system_id == s))
            });
        match pick {
            Some(r) if r.tx.try_send(pdu).is_ok() => {
                bump(&self.counters.deliver_sm);
                true
            }
            _ => {
                bump(&self.counters.undeliverable);
                false
            }
        }
    }
}

/// A mobile-originated message for [`SmscSim::deliver`] (also one line of an `--mo` file).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MoMessage {
    /// The sender (the handset).
    pub source: String,
    /// Its TON (default 1, international).
    pub source_ton: Option<u8>,
    /// Its NPI (default 1, E.164).
    pub source_npi: Option<u8>,
    /// The recipient (a service number).
    pub destination: String,
    /// Its TON (default 0).
    pub destination_ton: Option<u8>,
    /// Its NPI (default 1).
    pub destination_npi: Option<u8>,
    /// The text: sent as IA5 (data_coding 1) when ASCII, else UCS-2 (data_coding 8).
    pub text: Option<String>,
    /// Raw short_message octets as hex (instead of `text`).
    pub short_message_hex: Option<String>,
    /// data_coding for `short_message_hex`.
    pub data_coding: Option<u8>,
    /// esm_class (default 0).
    pub esm_class: Option<u8>,
    /// Deliver only to a bind with this system_id.
    pub system_id: Option<String>,
}

/// Why [`SmscSim::deliver`] did not deliver.
#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    /// No receiver or transceiver is bound (or its queue is full).
    #[error("no bound receiver can take the message")]
    NoReceiver,
    /// The message cannot be encoded.
    #[error("cannot encode the deliver_sm: {0}")]
    Encode(String),
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if s.len() & 1 == 1 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

impl MoMessage {
    /// A text message from `source` (international) to `destination`.
    pub fn text(source: &str, destination: &str, text: &str) -> MoMessage {
        MoMessage {
            source: source.to_string(),
            destination: destination.to_string(),
            text: Some(text.to_string()),
            ..Default::default()
        }
    }

    /// The deliver_sm (sequence number 0, patched when sent).
    fn encode(&self) -> Result<Vec<u8>, DeliverError> {
        let (data_coding, octets) = match (&self.short_message_hex, &self.text) {
            (Some(h), _) => (
                self.data_coding.unwrap_or(0),
                unhex(h).ok_or_else(|| DeliverError::Encode("bad short_message_hex".into()))?,
            ),
            (None, Some(t)) if t.is_ascii() => (1, t.as_bytes().to_vec()),
            (None, Some(t)) => {
                let mut v = Vec::new();
                text::ucs2::encode(t, &mut v);
                (8, v)
            }
            (None, None) => (0, Vec::new()),
        };
        let mut tlvs = Vec::new();
        let short_message: &[u8] = if octets.len() > 254 {
            write_tlv(&mut tlvs, TlvTag::MessagePayload, &octets)
                .map_err(|e| DeliverError::Encode(e.to_string()))?;
            &[]
        } else {
            &octets
        };
        let tlvs = Tlvs::parse(&tlvs).map_err(|_| DeliverError::Encode("tlvs".into()))?;
        let sm = Sm {
            source: Address {
                ton: self.source_ton.unwrap_or(1),
                npi: self.source_npi.unwrap_or(1),
                addr: self.source.as_bytes(),
            },
            destination: Address {
                ton: self.destination_ton.unwrap_or(0),
                npi: self.destination_npi.unwrap_or(1),
                addr: self.destination.as_bytes(),
            },
            esm_class: self.esm_class.unwrap_or(0),
            data_coding,
            short_message,
            tlvs,
            ..Default::default()
        };
        Pdu {
            command_status: 0,
            sequence_number: 0,
            body: Body::DeliverSm(sm),
        }
        .to_vec()
        .map_err(|e| DeliverError::Encode(e.to_string()))
    }
}

/// A running simulator. Dropping it stops it (the thread of [`SmscSim::spawn`] too).
pub struct SmscSim {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for SmscSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmscSim").field("addr", &self.addr).finish()
    }
}

impl SmscSim {
    /// Listen and serve on the current tokio runtime.
    pub async fn start(cfg: SimConfig) -> std::io::Result<SmscSim> {
        if !cfg.allow_non_loopback && !cfg.listen.ip().is_loopback() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "{} is not a loopback address (pass --allow-non-loopback to listen there)",
                    cfg.listen
                ),
            ));
        }
        let listener = TcpListener::bind(cfg.listen).await?;
        let addr = listener.local_addr()?;
        let log = match &cfg.log {
            Some(path) => Some(Mutex::new(BufWriter::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?,
            ))),
            None => None,
        };
        let shared = Arc::new(Shared {
            cfg,
            counters: Counters::default(),
            message_ids: AtomicU64::new(0),
            received_n: AtomicU64::new(0),
            received: Mutex::new(VecDeque::new()),
            log,
            routes: Mutex::new(Vec::new()),
            binds: Mutex::new(VecDeque::new()),
            next_route: AtomicU64::new(0),
            delayed_receipts: AtomicU64::new(0),
            bound: watch::channel(0).0,
        });
        let (stop, stop_rx) = watch::channel(false);
        tokio::spawn(accept_loop(listener, shared.clone(), stop_rx.clone()));
        if shared.log.is_some() {
            let shared = shared.clone();
            let mut stop_rx = stop_rx;
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(100)) => shared.flush_log(),
                        _ = stop_rx.changed() => { shared.flush_log(); break; }
                    }
                }
            });
        }
        Ok(SmscSim {
            shared,
            addr,
            stop,
            thread: None,
        })
    }

    /// Start on a thread of its own with its own runtime (for tests without a runtime).
    pub fn spawn(cfg: SimConfig) -> std::io::Result<SmscSim> {
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("smsc-sim".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                rt.block_on(async move {
                    match SmscSim::start(cfg).await {
                        Ok(sim) => {
                            let mut stopped = sim.stop.subscribe();
                            let _ = tx.send(Ok((sim.shared.clone(), sim.addr, sim.stop.clone())));
                            drop(sim);
                            while !*stopped.borrow_and_update() {
                                if stopped.changed().await.is_err() {
                                    break;
                                }
                            }
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e));
                        }
                    }
                });
            })?;
        match rx.recv() {
            Ok(Ok((shared, addr, stop))) => Ok(SmscSim {
                shared,
                addr,
                stop,
                thread: Some(thread),
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(std::io::Error::other("the simulator thread failed")),
        }
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every recorded request so far (oldest first, at most `keep`).
    pub fn received(&self) -> Vec<Received> {
        lock(&self.shared.received).iter().cloned().collect()
    }

    /// Every bind attempt so far (the last 10,000), refused ones included.
    pub fn binds(&self) -> Vec<BindRecord> {
        lock(&self.shared.binds).iter().cloned().collect()
    }

    /// Forget the recorded requests.
    pub fn clear(&self) {
        lock(&self.shared.received).clear();
    }

    /// The counters.
    pub fn stats(&self) -> SimStats {
        self.shared.counters.snapshot()
    }

    /// Number of sessions currently bound.
    pub fn bound_sessions(&self) -> usize {
        *self.shared.bound.borrow()
    }

    /// Wait (polling, up to `timeout`) until at least `n` requests are recorded; true when
    /// they are.
    pub fn wait_received(&self, n: usize, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if lock(&self.shared.received).len() >= n {
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Deliver a mobile-originated message to a bound receiver or transceiver (one with
    /// `msg.system_id` when set; round robin among them).
    pub fn deliver(&self, msg: &MoMessage) -> Result<(), DeliverError> {
        let pdu = msg.encode()?;
        if self.shared.route(pdu, None, msg.system_id.as_deref()) {
            Ok(())
        } else {
            Err(DeliverError::NoReceiver)
        }
    }

    /// Stop accepting and end every session.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
        self.shared.flush_log();
    }
}

impl Drop for SmscSim {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = self.stop.send(true);
            let _ = thread.join();
        }
        self.shared.flush_log();
    }
}

impl Counters {
    fn snapshot(&self) -> SimStats {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        SimStats {
            connections: g(&self.connections),
            binds: g(&self.binds),
            submit_sm: g(&self.submit_sm),
            data_sm: g(&self.data_sm),
            submit_multi: g(&self.submit_multi),
            replace_sm: g(&self.replace_sm),
            cancel_sm: g(&self.cancel_sm),
            query_sm: g(&self.query_sm),
            enquire_link: g(&self.enquire_link),
            unbind: g(&self.unbind),
            generic_nack: g(&self.generic_nack),
            refused: g(&self.refused),
            deliver_sm: g(&self.deliver_sm),
            receipts: g(&self.receipts),
            undeliverable: g(&self.undeliverable),
            deliver_sm_resp_ok: g(&self.deliver_sm_resp_ok),
            deliver_sm_resp_error: g(&self.deliver_sm_resp_error),
            dropped_from_memory: g(&self.dropped_from_memory),
            ignored_octets: g(&self.ignored_octets),
        }
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut next_id = 0u64;
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    bump(&shared.counters.connections);
                    let _ = stream.set_nodelay(true);
                    next_id += 1;
                    tokio::spawn(session(stream, next_id, shared.clone(), stop.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "smsc-sim: accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
        }
    }
}

/// Per-connection state.
struct Session {
    id: u64,
    shared: Arc<Shared>,
    bound: Option<BindKind>,
    system_id: String,
    tx: mpsc::Sender<Vec<u8>>,
}

/// What to do after a PDU.
#[derive(PartialEq, Eq)]
enum Next {
    Continue,
    Close,
}

async fn session(stream: TcpStream, id: u64, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    match shared.cfg.mode {
        SimMode::Normal | SimMode::SilentAfterBind => {}
        SimMode::Stalled => {
            let _ = stop.changed().await;
            drop(stream);
            return;
        }
        SimMode::Silent => {
            let mut stream = stream;
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                tokio::select! {
                    _ = stop.changed() => return,
                    n = tokio::io::AsyncReadExt::read(&mut stream, &mut buf) => match n {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            shared.counters.ignored_octets.fetch_add(n as u64, Ordering::Relaxed);
                        }
                    },
                }
            }
        }
    }
    let (rd, wr) = stream.into_split();
    let mut reader = PduReader::new(rd, shared.cfg.max_pdu_len);
    let mut writer = PduWriter::new(wr);
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(4096);
    let delay = shared.cfg.response_delay;
    let mut s = Session {
        id,
        shared: shared.clone(),
        bound: None,
        system_id: String::new(),
        tx,
    };
    let mut out_seq: u32 = 0;
    loop {
        let mut next = Next::Continue;
        tokio::select! {
            _ = stop.changed() => break,
            Some(mut pdu) = rx.recv() => {
                loop {
                    out_seq = out_seq % 0x7FFF_FFFF + 1;
                    let _ = interdict_smpp::patch_sequence(&mut pdu, out_seq);
                    writer.push(&pdu);
                    match rx.try_recv() {
                        Ok(more) => pdu = more,
                        Err(_) => break,
                    }
                }
            }
            got = reader.next_pdu() => match got {
                Ok(Some(pdu)) => {
                    next = s.handle(pdu, writer.buffer());
                    while next == Next::Continue && !writer.needs_flush() {
                        match reader.next_buffered() {
                            Ok(Some(pdu)) => next = s.handle(pdu, writer.buffer()),
                            Ok(None) => break,
                            Err(e) => {
                                e.write_nack(writer.buffer());
                                bump(&shared.counters.generic_nack);
                                next = Next::Close;
                            }
                        }
                    }
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                }
                Ok(None) => next = Next::Close,
                Err(e) => {
                    if e.nack().is_some() {
                        bump(&shared.counters.generic_nack);
                    }
                    e.write_nack(writer.buffer());
                    next = Next::Close;
                }
            },
        }
        if writer.flush().await.is_err() {
            break;
        }
        if next == Next::Close {
            break;
        }
    }
    s.unbound();
}

impl Session {
    fn bind(&mut self, kind: BindKind, b: &Bind<'_>, resp: CommandId, seq: u32, out: &mut Vec<u8>) {
        let accounts = &self.shared.cfg.accounts;
        let refusal = if self.bound.is_some() {
            Some(status::ESME_RALYBND)
        } else if accounts.is_empty() {
            None
        } else {
            match accounts.iter().find(|(id, _)| id.as_bytes() == b.system_id) {
                None => Some(ESME_RINVSYSID),
                Some((_, pw)) if pw.as_bytes() != b.password => Some(status::ESME_RINVPASWD),
                Some(_) => None,
            }
        };
        {
            let mut binds = lock(&self.shared.binds);
            if binds.len() >= MAX_BIND_RECORDS {
                binds.pop_front();
            }
            binds.push_back(BindRecord {
                kind: match kind {
                    BindKind::Transmitter => "transmitter",
                    BindKind::Receiver => "receiver",
                    BindKind::Transceiver => "transceiver",
                },
                system_id: String::from_utf8_lossy(b.system_id).into_owned(),
                password: String::from_utf8_lossy(b.password).into_owned(),
                system_type: String::from_utf8_lossy(b.system_type).into_owned(),
                interface_version: b.interface_version,
                address_range: Addr::of(&b.address_range),
                status: refusal.unwrap_or(0),
            });
        }
        if let Some(refusal) = refusal {
            bump(&self.shared.counters.refused);
            write_header_only(out, resp, refusal, seq);
            return;
        }
        self.bound = Some(kind);
        self.system_id = String::from_utf8_lossy(b.system_id).into_owned();
        bump(&self.shared.counters.binds);
        let mut tlv = Vec::new();
        let _ = write_tlv(&mut tlv, TlvTag::ScInterfaceVersion, &[0x34]);
        let body = Some(BindResp {
            system_id: self.shared.cfg.system_id.as_bytes(),
            tlvs: Tlvs::parse(&tlv).unwrap_or_default(),
        });
        let body = match kind {
            BindKind::Transmitter => Body::BindTransmitterResp(body),
            BindKind::Receiver => Body::BindReceiverResp(body),
            BindKind::Transceiver => Body::BindTransceiverResp(body),
        };
        let pdu = Pdu {
            command_status: 0,
            sequence_number: seq,
            body,
        };
        if pdu.encode(out).is_err() {
            write_header_only(out, resp, status::ESME_RSYSERR, seq);
        }
        lock(&self.shared.routes).push(Route {
            id: self.id,
            system_id: self.system_id.clone(),
            kind,
            tx: self.tx.clone(),
        });
        self.shared.bound.send_modify(|n| *n += 1);
    }

    fn unbound(&mut self) {
        if self.bound.take().is_some() {
            lock(&self.shared.routes).retain(|r| r.id != self.id);
            self.shared.bound.send_modify(|n| *n = n.saturating_sub(1));
        }
    }

    fn next_message_id(&self, buf: &mut [u8; 16]) -> usize {
        let mut n = self.shared.message_ids.fetch_add(1, Ordering::Relaxed) + 1;
        let mut digits = [0u8; 16];
        let mut len = 0;
        while n > 0 && len < 16 {
            if let Some(d) = digits.get_mut(len) {
                *d = char::from_digit((n & 0xf) as u32, 16).map_or(b'0', |c| c as u8);
            }
            n >>= 4;
            len += 1;
        }
        for (i, slot) in buf.iter_mut().take(len).enumerate() {
            *slot = digits.get(len - 1 - i).copied().unwrap_or(b'0');
        }
        len
    }

    fn known_message_id(&self, id: &[u8]) -> bool {
        std::str::from_utf8(id)
            .ok()
            .and_then(|s| u64::from_str_radix(s, 16).ok())
            .is_some_and(|n| n >= 1 && n <= self.shared.message_ids.load(Ordering::Relaxed))
    }

    fn handle(&mut self, raw: &[u8], out: &mut Vec<u8>) -> Next {
        if self.bound.is_some() && self.shared.cfg.mode == SimMode::SilentAfterBind {
            self.shared
                .counters
                .ignored_octets
                .fetch_add(raw.len() as u64, Ordering::Relaxed);
            return Next::Continue;
        }
        let pdu = match Pdu::decode_lenient(raw) {
            Ok(pdu) => pdu,
            Err(e) => {
                let seq = e
                    .sequence_number()
                    .or_else(|| Header::peek(raw).map(|h| h.sequence_number))
                    .unwrap_or(0);
                let is_response = Header::peek(raw).is_some_and(|h| h.is_response());
                if !is_response {
                    encode::generic_nack(out, e.command_status(), seq);
                    bump(&self.shared.counters.generic_nack);
                }
                return if e.is_recoverable() {
                    Next::Continue
                } else {
                    Next::Close
                };
            }
        };
        let seq = pdu.sequence_number;
        let command = pdu.command_id();
        match pdu.body {
            Body::BindTransmitter(b) => self.bind(
                BindKind::Transmitter,
                &b,
                CommandId::BindTransmitterResp,
                seq,
                out,
            ),
            Body::BindReceiver(b) => self.bind(
                BindKind::Receiver,
                &b,
                CommandId::BindReceiverResp,
                seq,
                out,
            ),
            Body::BindTransceiver(b) => self.bind(
                BindKind::Transceiver,
                &b,
                CommandId::BindTransceiverResp,
                seq,
                out,
            ),
            Body::EnquireLink => {
                bump(&self.shared.counters.enquire_link);
                write_header_only(out, CommandId::EnquireLinkResp, 0, seq);
            }
            Body::Unbind => {
                bump(&self.shared.counters.unbind);
                write_header_only(out, CommandId::UnbindResp, 0, seq);
                self.unbound();
                return Next::Close;
            }
            Body::DeliverSmResp(_) => {
                if pdu.command_status == 0 {
                    bump(&self.shared.counters.deliver_sm_resp_ok);
                } else {
                    bump(&self.shared.counters.deliver_sm_resp_error);
                }
            }
            Body::SubmitSm(_)
            | Body::DataSm(_)
            | Body::SubmitMulti(_)
            | Body::ReplaceSm(_)
            | Body::CancelSm(_)
            | Body::QuerySm(_) => {
                if !self.bound.is_some_and(|k| k.transmits()) {
                    bump(&self.shared.counters.refused);
                    let resp = CommandId::from_u32(command as u32 | 0x8000_0000)
                        .unwrap_or(CommandId::GenericNack);
                    write_header_only(out, resp, status::ESME_RINVBNDSTS, seq);
                    return Next::Continue;
                }
                self.message(&pdu, out);
            }
            Body::Outbind(_) | Body::AlertNotification(_) | Body::DeliverSm(_) => {
                bump(&self.shared.counters.generic_nack);
                encode::generic_nack(out, status::ESME_RINVCMDID, seq);
            }
            // Other responses (enquire_link_resp, generic_nack, ...) need no answer.
            _ => {}
        }
        Next::Continue
    }

    /// Answer and record a message request (the session is bound to transmit).
    fn message(&mut self, pdu: &Pdu<'_>, out: &mut Vec<u8>) {
        let seq = pdu.sequence_number;
        let refuse = self.shared.cfg.submit_status;
        if refuse != 0 {
            let resp = match pdu.command_id() {
                CommandId::SubmitSm => Some(CommandId::SubmitSmResp),
                CommandId::DataSm => Some(CommandId::DataSmResp),
                CommandId::SubmitMulti => Some(CommandId::SubmitMultiResp),
                _ => None,
            };
            if let Some(resp) = resp {
                bump(&self.shared.counters.refused);
                write_header_only(out, resp, refuse, seq);
                return;
            }
        }
        let mut idbuf = [0u8; 16];
        let message_id: &[u8];
        let mut registered_delivery = 0u8;
        match &pdu.body {
            Body::SubmitSm(sm) => {
                bump(&self.shared.counters.submit_sm);
                let len = self.next_message_id(&mut idbuf);
                message_id = idbuf.get(..len).unwrap_or_default();
                let _ = encode::submit_sm_resp(out, 0, seq, Some(message_id));
                registered_delivery = sm.registered_delivery;
            }
            Body::DataSm(d) => {
                bump(&self.shared.counters.data_sm);
                let len = self.next_message_id(&mut idbuf);
                message_id = idbuf.get(..len).unwrap_or_default();
                let _ = encode::data_sm_resp(out, 0, seq, Some(message_id));
                registered_delivery = d.registered_delivery;
            }
            Body::SubmitMulti(m) => {
                bump(&self.shared.counters.submit_multi);
                let len = self.next_message_id(&mut idbuf);
                message_id = idbuf.get(..len).unwrap_or_default();
                let resp = Pdu {
                    command_status: 0,
                    sequence_number: seq,
                    body: Body::SubmitMultiResp(Some(SubmitMultiResp {
                        message_id,
                        unsuccess: UnsuccessList::from_raw(0, &[]),
                        tlvs: Tlvs::EMPTY,
                    })),
                };
                let _ = resp.encode(out);
                registered_delivery = m.registered_delivery;
            }
            Body::ReplaceSm(r) => {
                message_id = r.message_id;
                if !self.known_message_id(r.message_id) {
                    bump(&self.shared.counters.refused);
                    write_header_only(out, CommandId::ReplaceSmResp, status_invmsgid(), seq);
                    return;
                }
                bump(&self.shared.counters.replace_sm);
                write_header_only(out, CommandId::ReplaceSmResp, 0, seq);
            }
            Body::CancelSm(x) => {
                message_id = x.message_id;
                if !x.message_id.is_empty() && !self.known_message_id(x.message_id) {
                    bump(&self.shared.counters.refused);
                    write_header_only(out, CommandId::CancelSmResp, status_invmsgid(), seq);
                    return;
                }
                bump(&self.shared.counters.cancel_sm);
                write_header_only(out, CommandId::CancelSmResp, 0, seq);
            }
            Body::QuerySm(q) => {
                message_id = q.message_id;
                if !self.known_message_id(q.message_id) {
                    bump(&self.shared.counters.refused);
                    write_header_only(out, CommandId::QuerySmResp, status_invmsgid(), seq);
                    return;
                }
                bump(&self.shared.counters.query_sm);
                let resp = Pdu {
                    command_status: 0,
                    sequence_number: seq,
                    body: Body::QuerySmResp(Some(QuerySmResp {
                        message_id: q.message_id,
                        final_date: b"",
                        message_state: 2,
                        error_code: 0,
                        tlvs: Tlvs::EMPTY,
                    })),
                };
                let _ = resp.encode(out);
            }
            _ => return,
        }
        if self.shared.recording() {
            self.shared.record(self.describe(pdu, message_id));
        }
        if self.shared.cfg.deliver_receipts && matches!(registered_delivery & 0x03, 1 | 3) {
            self.receipt(pdu, message_id);
        }
    }

    fn describe(&self, pdu: &Pdu<'_>, message_id: &[u8]) -> Received {
        let mut r = Received {
            n: 0,
            ts: jiff::Timestamp::now().to_string(),
            command: pdu.command_id().name(),
            sequence: pdu.sequence_number,
            system_id: self.system_id.clone(),
            message_id: String::from_utf8_lossy(message_id).into_owned(),
            service_type: String::new(),
            source: Addr::default(),
            destinations: Vec::new(),
            esm_class: 0,
            registered_delivery: 0,
            data_coding: 0,
            short_message: Vec::new(),
            message_payload: None,
            tlvs: Vec::new(),
            concat: None,
            text: None,
        };
        let mut fill = |service_type: &[u8],
                        source: &Address<'_>,
                        esm_class: u8,
                        registered_delivery: u8,
                        data_coding: u8,
                        short_message: &[u8],
                        tlvs: &Tlvs<'_>,
                        message: Option<Message<'_>>| {
            r.service_type = String::from_utf8_lossy(service_type).into_owned();
            r.source = Addr::of(source);
            r.esm_class = esm_class;
            r.registered_delivery = registered_delivery;
            r.data_coding = data_coding;
            r.short_message = short_message.to_vec();
            r.message_payload = tlvs.message_payload().map(<[u8]>::to_vec);
            r.tlvs = tlvs.raw().to_vec();
            if let Some(m) = message {
                r.concat = m.concat.map(|c| ConcatInfo {
                    reference: c.reference,
                    total: c.total,
                    seq: c.seq,
                });
                r.text = Some(text::decode(&m, &text::TextOptions::default()).text);
            }
        };
        match &pdu.body {
            Body::SubmitSm(sm) => {
                fill(
                    sm.service_type,
                    &sm.source,
                    sm.esm_class,
                    sm.registered_delivery,
                    sm.data_coding,
                    sm.short_message,
                    &sm.tlvs,
                    sm.message().ok(),
                );
                r.destinations.push(Addr::of(&sm.destination));
            }
            Body::DataSm(d) => {
                fill(
                    d.service_type,
                    &d.source,
                    d.esm_class,
                    d.registered_delivery,
                    d.data_coding,
                    &[],
                    &d.tlvs,
                    d.message().ok(),
                );
                r.destinations.push(Addr::of(&d.destination));
            }
            Body::SubmitMulti(m) => {
                fill(
                    m.service_type,
                    &m.source,
                    m.esm_class,
                    m.registered_delivery,
                    m.data_coding,
                    m.short_message,
                    &m.tlvs,
                    m.message().ok(),
                );
                for d in m.destinations.iter() {
                    r.destinations.push(match d {
                        interdict_smpp::Dest::Sme(a) => Addr::of(&a),
                        interdict_smpp::Dest::List(name) => Addr {
                            ton: 0,
                            npi: 0,
                            addr: format!("list:{}", String::from_utf8_lossy(name)),
                        },
                    });
                }
            }
            Body::ReplaceSm(x) => {
                // replace_sm has no data_coding: the text is read as the SMSC default.
                let message = Message::from_parts(0, 0, x.short_message, &x.tlvs).ok();
                fill(
                    b"",
                    &x.source,
                    0,
                    x.registered_delivery,
                    0,
                    x.short_message,
                    &x.tlvs,
                    message,
                );
            }
            Body::CancelSm(x) => {
                r.service_type = String::from_utf8_lossy(x.service_type).into_owned();
                r.source = Addr::of(&x.source);
                r.destinations.push(Addr::of(&x.destination));
                r.tlvs = x.tlvs.raw().to_vec();
            }
            Body::QuerySm(x) => {
                r.source = Addr::of(&x.source);
                r.tlvs = x.tlvs.raw().to_vec();
            }
            _ => {}
        }
        r
    }

    /// Queue a delivery receipt (DELIVRD) for an accepted message to this session when it
    /// receives, else to a receiver bound with the same system_id.
    fn receipt(&self, pdu: &Pdu<'_>, message_id: &[u8]) {
        let (source, destination, first) = match &pdu.body {
            Body::SubmitSm(sm) => (sm.source, sm.destination, sm.short_message),
            Body::DataSm(d) => (d.source, d.destination, &[][..]),
            Body::SubmitMulti(m) => {
                let dest = m
                    .destinations
                    .iter()
                    .find_map(|d| match d {
                        interdict_smpp::Dest::Sme(a) => Some(a),
                        interdict_smpp::Dest::List(_) => None,
                    })
                    .unwrap_or_default();
                (m.source, dest, m.short_message)
            }
            _ => return,
        };
        let now = jiff::Zoned::now().strftime("%y%m%d%H%M").to_string();
        let id = String::from_utf8_lossy(message_id);
        let text_start: String = first
            .iter()
            .take(20)
            .map(|b| {
                if b.is_ascii_graphic() || *b == b' ' {
                    char::from(*b)
                } else {
                    '.'
                }
            })
            .collect();
        let body = format!(
            "id:{id} sub:001 dlvr:001 submit date:{now} done date:{now} stat:DELIVRD err:000 text:{text_start}"
        );
        let mut tlvs = Vec::new();
        let mut id_z = message_id.to_vec();
        id_z.push(0);
        let _ = write_tlv(&mut tlvs, TlvTag::ReceiptedMessageId, &id_z);
        let _ = write_tlv(&mut tlvs, TlvTag::MessageState, &[2]);
        let Ok(tlvs) = Tlvs::parse(&tlvs) else {
            return;
        };
        let receipt = Pdu {
            command_status: 0,
            sequence_number: 0,
            body: Body::DeliverSm(Sm {
                source: destination,
                destination: source,
                esm_class: 0x04,
                short_message: body.as_bytes(),
                tlvs,
                ..Default::default()
            }),
        };
        let Ok(wire) = receipt.to_vec() else {
            return;
        };
        bump(&self.shared.counters.receipts);
        let shared = self.shared.clone();
        let prefer = Some(self.id);
        let system_id = self.system_id.clone();
        let delay = shared.cfg.receipt_delay;
        let waiting = &shared.delayed_receipts;
        if delay.is_zero() || waiting.fetch_add(1, Ordering::Relaxed) >= MAX_DELAYED_RECEIPTS {
            if !delay.is_zero() {
                waiting.fetch_sub(1, Ordering::Relaxed);
            }
            shared.route(wire, prefer, Some(&system_id));
        } else {
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                shared.route(wire, prefer, Some(&system_id));
                shared.delayed_receipts.fetch_sub(1, Ordering::Relaxed);
            });
        }
    }
}

/// ESME_RINVSYSID (0x0F), not among the codec's constants.
const ESME_RINVSYSID: u32 = 0x0000_000F;

/// Bind attempts kept for [`SmscSim::binds`].
const MAX_BIND_RECORDS: usize = 10_000;

/// ESME_RINVMSGID (0x0C), not among the codec's constants.
fn status_invmsgid() -> u32 {
    0x0000_000C
}

/// Options of `interdict smsc-sim`.
#[derive(Debug, clap::Args)]
pub struct SimArgs {
    /// Address to listen on (loopback unless --allow-non-loopback); the default is the
    /// gateway's default `[smpp] smsc` upstream.
    #[arg(long, default_value = "127.0.0.1:2776")]
    pub listen: SocketAddr,
    /// Allow listening on a non-loopback address.
    #[arg(long)]
    pub allow_non_loopback: bool,
    /// The system_id answered in bind responses.
    #[arg(long, default_value = "interdict-sim")]
    pub system_id: String,
    /// Append every received message to this file as one JSON line.
    #[arg(long, value_name = "FILE.jsonl")]
    pub log: Option<PathBuf>,
    /// Send delivery receipts when registered_delivery asks for them.
    #[arg(long)]
    pub deliver_receipts: bool,
    /// Delay before each receipt (milliseconds).
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub receipt_delay_ms: u64,
    /// Delay before each batch of answers (milliseconds): a slow SMSC.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub response_delay_ms: u64,
    /// normal, silent (reads, never answers), stalled (never reads) or silent-after-bind.
    #[arg(long, value_enum, default_value = "normal")]
    pub mode: SimMode,
    /// Mobile-originated messages to deliver (JSON lines: source, destination, text, ...)
    /// once a receiver or transceiver is bound.
    #[arg(long, value_name = "FILE.jsonl")]
    pub mo: Option<PathBuf>,
    /// Pause between MO messages (milliseconds).
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub mo_interval_ms: u64,
    /// Largest command_length accepted.
    #[arg(long, default_value_t = DEFAULT_MAX_PDU_LEN)]
    pub max_pdu_len: u32,
    /// Refuse every submit_sm, data_sm and submit_multi with this command_status
    /// (decimal or 0x hex, e.g. 0x58 ESME_RTHROTTLED); 0 accepts them.
    #[arg(long, default_value = "0", value_parser = parse_status)]
    pub submit_status: u32,
    /// Accept only these credentials (repeatable; default: any).
    #[arg(long, value_name = "SYSTEM_ID:PASSWORD", value_parser = parse_account)]
    pub account: Vec<(String, String)>,
}

fn parse_status(s: &str) -> Result<u32, String> {
    let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => s.parse(),
    };
    parsed.map_err(|_| format!("{s:?}: expected a command_status (decimal or 0x hex)"))
}

fn parse_account(s: &str) -> Result<(String, String), String> {
    s.split_once(':')
        .map(|(id, pw)| (id.to_string(), pw.to_string()))
        .ok_or_else(|| format!("{s:?}: expected SYSTEM_ID:PASSWORD"))
}

/// Run `interdict smsc-sim` until SIGINT or SIGTERM; prints the counters as JSON at exit.
pub fn run(args: &SimArgs) -> ExitCode {
    crate::serve::init_logging(crate::config::LogFormat::Human);
    let mo = match &args.mo {
        Some(path) => match read_mo(path) {
            Ok(mo) => mo,
            Err(e) => {
                eprintln!("interdict smsc-sim: {}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
        None => Vec::new(),
    };
    let cfg = SimConfig {
        listen: args.listen,
        allow_non_loopback: args.allow_non_loopback,
        system_id: args.system_id.clone(),
        log: args.log.clone(),
        keep: 0,
        deliver_receipts: args.deliver_receipts,
        receipt_delay: Duration::from_millis(args.receipt_delay_ms),
        response_delay: Duration::from_millis(args.response_delay_ms),
        mode: args.mode,
        max_pdu_len: args.max_pdu_len,
        accounts: args.account.clone(),
        submit_status: args.submit_status,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("smsc-sim")
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("interdict smsc-sim: {e}");
            return ExitCode::from(2);
        }
    };
    let interval = Duration::from_millis(args.mo_interval_ms);
    runtime.block_on(async move {
        let sim = match SmscSim::start(cfg).await {
            Ok(sim) => sim,
            Err(e) => {
                eprintln!("interdict smsc-sim: {e}");
                return ExitCode::from(2);
            }
        };
        eprintln!("interdict smsc-sim: listening on {}", sim.local_addr());
        if !mo.is_empty() {
            let shared = sim.shared.clone();
            tokio::spawn(async move {
                let mut bound = shared.bound.subscribe();
                for msg in mo {
                    while *bound.borrow_and_update() == 0 {
                        if bound.changed().await.is_err() {
                            return;
                        }
                    }
                    if let Ok(pdu) = msg.encode() {
                        shared.route(pdu, None, msg.system_id.as_deref());
                    }
                    if !interval.is_zero() {
                        tokio::time::sleep(interval).await;
                    }
                }
            });
        }
        wait_for_signal().await;
        sim.stop();
        if let Ok(stats) = serde_json::to_string(&sim.stats()) {
            println!("{stats}");
        }
        ExitCode::SUCCESS
    })
}

fn read_mo(path: &std::path::Path) -> Result<Vec<MoMessage>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str::<MoMessage>(l).map_err(|e| format!("line {}: {e}", i + 1))
        })
        .collect()
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_hex_counters() {
        let shared = Arc::new(Shared {
            cfg: SimConfig::default(),
            counters: Counters::default(),
            message_ids: AtomicU64::new(0x2a - 1),
            received_n: AtomicU64::new(0),
            received: Mutex::new(VecDeque::new()),
            log: None,
            routes: Mutex::new(Vec::new()),
            binds: Mutex::new(VecDeque::new()),
            next_route: AtomicU64::new(0),
            delayed_receipts: AtomicU64::new(0),
            bound: watch::channel(0).0,
        });
        let s = Session {
            id: 1,
            shared,
            bound: None,
            system_id: String::new(),
            tx: mpsc::channel(1).0,
        };
        let mut buf = [0u8; 16];
        let len = s.next_message_id(&mut buf);
        assert_eq!(&buf[..len], b"2a");
        assert!(s.known_message_id(b"2a"));
        assert!(!s.known_message_id(b"2b"));
        assert!(!s.known_message_id(b"zz"));
    }

    #[test]
    fn refuses_non_loopback_unless_allowed() {
        let cfg = SimConfig {
            listen: "0.0.0.0:0".parse().unwrap(),
            ..Default::default()
        };
        let err = SmscSim::spawn(cfg).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    }

    #[test]
    fn mo_messages_encode_by_alphabet() {
        let ascii = MoMessage::text("8617000000009", "10690000", "hello")
            .encode()
            .unwrap();
        let pdu = Pdu::decode(&ascii).unwrap();
        assert_eq!(pdu.as_sm().unwrap().data_coding, 1);
        let ucs2 = MoMessage::text("8617000000009", "10690000", "你好")
            .encode()
            .unwrap();
        let pdu = Pdu::decode(&ucs2).unwrap();
        let sm = pdu.as_sm().unwrap();
        assert_eq!(
            (sm.data_coding, sm.short_message),
            (8, &[0x4f, 0x60, 0x59, 0x7d][..])
        );
    }

    #[test]
    fn reassembles_parts_split_mid_character() {
        let mut octets = Vec::new();
        text::ucs2::encode("您的安全账户", &mut octets);
        let (a, b) = octets.split_at(5);
        let part = |seq: u8, data: &[u8], n: u64| {
            let mut sm = vec![5, 0, 3, 9, 2, seq];
            sm.extend_from_slice(data);
            Received {
                n,
                ts: String::new(),
                command: "submit_sm",
                sequence: 1,
                system_id: String::new(),
                message_id: String::new(),
                service_type: String::new(),
                source: Addr::default(),
                destinations: vec![Addr::default()],
                esm_class: 0x40,
                registered_delivery: 0,
                data_coding: 8,
                short_message: sm,
                message_payload: None,
                tlvs: Vec::new(),
                concat: Some(ConcatInfo {
                    reference: 9,
                    total: 2,
                    seq,
                }),
                text: None,
            }
        };
        let texts = reassembled_texts(&[part(2, b, 2), part(1, a, 1)]);
        assert_eq!(texts, vec!["您的安全账户".to_string()]);
    }
}
