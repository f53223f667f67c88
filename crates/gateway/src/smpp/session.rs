//! One ESME's session through the proxy, as a state machine without I/O.
//!
//! Whole PDUs come in from either side ([`Session::on_pdu`]); what must be written to
//! each side, and whether to connect or close, comes out in an [`Out`]. The socket layer
//! ([`super::net`]) only moves octets, so every rule of the protocol is here and tested
//! without sockets.
//!
//! - **Binds.** A bind from the ESME opens a bind to the SMSC with the same credentials
//!   (or those of `bind_map`) and the SMSC's answer is relayed: the SMSC stays the
//!   authority on who may bind. Commands in the wrong state get ESME_RINVBNDSTS, a second
//!   bind ESME_RALYBND.
//! - **Sequence numbers** are the gateway's own on each side and mapped back on the
//!   answers; a request the other side never answers is answered ESME_RSYSERR after
//!   `response_timeout_ms`. At most `window` requests wait on a side; beyond it the sender
//!   gets ESME_RTHROTTLED. enquire_link is answered on each side by the gateway; unbind or
//!   a lost connection on one side unbinds the other.
//! - **Deciding.** submit_sm, data_sm, submit_multi, replace_sm (from the ESME) and
//!   deliver_sm, data_sm (mobile-originated, from the SMSC) are decided; delivery receipts
//!   pass. Parts of a concatenated message are held and decided whole, then all forwarded
//!   or all refused. block → the `_resp` with `block_status`, or a silent drop (success, a
//!   gateway message id, and an "undelivered" receipt when one was asked for); warn → the
//!   text prefixed, re-encoded and re-segmented; pass → forwarded byte for byte, only the
//!   sequence number changed.
//! - **Bad input** never panics: an undecodable request gets its `_resp` with the decoder's
//!   status (or generic_nack), counted, and the session carries on.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use interdict_engine::Verdict;
use interdict_smpp::encode::{self, write_header_only, Placement};
use interdict_smpp::rewrite::{segment, MAX_SHORT_MESSAGE};
use interdict_smpp::tlv::{write_tlv, TlvTag};
use interdict_smpp::{
    patch_sequence, status, Address, Body, CommandId, DecodeError, Header, Pdu, Sm, TextOptions,
    Tlvs,
};

use super::dissuade::Dissuader;
use super::hold::{Hold, HoldKey, Pushed, Release, Released};
use super::Side;
use crate::config::{SmppBlock, SmppConfig, SmppUnmarkable};
use crate::decide::{Decider, Outcome};
use crate::ingest::smpp::{handset_text, read_text, read_whole, text_pdu, TextPdu};
use crate::ingest::{IngestError, IngestOptions, Ingested};
use crate::metrics::Metrics;
use crate::record::{Direction, Protocol, RecordSink};

/// What every session of the proxy shares.
pub struct Shared {
    /// The `[smpp]` configuration.
    pub cfg: Arc<SmppConfig>,
    /// Decides messages (enforced and shadow pack).
    pub decider: Arc<Decider>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Where decision records go.
    pub records: RecordSink,
    /// This gateway's id in records.
    pub gateway_id: Arc<str>,
    /// Put the text of blocked and warned messages in their records.
    pub include_text: bool,
    /// Bounds of the ingest layer.
    pub ingest: IngestOptions,
    /// Sends dissuasion SMS after a warned message (when configured).
    pub dissuader: Option<Dissuader>,
    ids: AtomicU64,
    /// Bound sessions that receive (receiver, transceiver), by the ESME's system_id: a
    /// receipt for a message silently dropped on a transmitter bind goes to one of them, as
    /// an SMSC delivers receipts to whichever bind of the account receives.
    receivers: Mutex<Receivers>,
}

/// Receiving sessions (number, inbox) by system_id.
type Receivers = HashMap<Box<[u8]>, Vec<(u64, Inbox)>>;

/// Receipts handed to a session by its account's other sessions.
type Inbox = Arc<Mutex<Vec<(Instant, Vec<u8>)>>>;

impl Shared {
    /// Shared state of the proxy's sessions.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        cfg: Arc<SmppConfig>,
        decider: Arc<Decider>,
        metrics: Arc<Metrics>,
        records: RecordSink,
        gateway_id: Arc<str>,
        include_text: bool,
        ingest: IngestOptions,
        dissuader: Option<Dissuader>,
    ) -> Shared {
        Shared {
            cfg,
            decider,
            metrics,
            records,
            gateway_id,
            include_text,
            ingest,
            dissuader,
            ids: AtomicU64::new(1),
            receivers: Mutex::new(HashMap::new()),
        }
    }

    fn register_receiver(&self, system_id: &[u8], session: u64, inbox: Inbox) {
        if let Ok(mut r) = self.receivers.lock() {
            r.entry(system_id.into())
                .or_default()
                .push((session, inbox));
        }
    }

    fn unregister_receiver(&self, system_id: &[u8], session: u64) {
        if let Ok(mut r) = self.receivers.lock() {
            if let Some(list) = r.get_mut(system_id) {
                list.retain(|(id, _)| *id != session);
                if list.is_empty() {
                    r.remove(system_id);
                }
            }
        }
    }

    /// Hands a receipt to a receiving session of `system_id`; false when there is none (or
    /// its inbox is full).
    fn hand_receipt(&self, system_id: &[u8], due: Instant, pdu: Vec<u8>) -> bool {
        let Ok(r) = self.receivers.lock() else {
            return false;
        };
        let Some((_, inbox)) = r.get(system_id).and_then(|l| l.first()) else {
            return false;
        };
        let Ok(mut inbox) = inbox.lock() else {
            return false;
        };
        if inbox.len() >= MAX_PENDING_RECEIPTS {
            return false;
        }
        inbox.push((due, pdu));
        true
    }

    /// A message id for a silently dropped message (never an SMSC's).
    fn next_id(&self) -> String {
        format!("idt{:x}", self.ids.fetch_add(1, Ordering::Relaxed))
    }
}

/// What a call on a [`Session`] asks the socket layer to do.
#[derive(Debug, Default)]
pub struct Out {
    /// Octets to write to the ESME.
    pub esme: Vec<u8>,
    /// Octets to write to the SMSC.
    pub smsc: Vec<u8>,
    /// Connect to the SMSC and write these octets first (the relayed bind).
    pub connect: Option<Vec<u8>>,
    /// Close the SMSC connection (a refused bind); the ESME may try again.
    pub drop_smsc: bool,
    /// Close both connections once the octets are written.
    pub close: bool,
}

impl Out {
    fn to(&mut self, side: Side) -> &mut Vec<u8> {
        match side {
            Side::Esme => &mut self.esme,
            Side::Smsc => &mut self.smsc,
        }
    }
}

/// How the ESME bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindKind {
    /// bind_transmitter: submits only.
    Transmitter,
    /// bind_receiver: receives deliver_sm only.
    Receiver,
    /// bind_transceiver: both.
    Transceiver,
}

impl BindKind {
    fn submits(self) -> bool {
        self != BindKind::Receiver
    }
    fn receives(self) -> bool {
        self != BindKind::Transmitter
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    Binding {
        esme_seq: u32,
        smsc_seq: u32,
        kind: BindKind,
        since: Instant,
    },
    Bound(BindKind),
    Unbinding {
        since: Instant,
    },
}

/// Who waits for the answer to a request the gateway sent on a side.
#[derive(Debug)]
enum Origin {
    /// The other side's sender, under its sequence number.
    Peer(u32),
    /// Several of the other side's sequence numbers (duplicated parts, merged segments).
    Peers(Box<[u32]>),
    /// Nobody: the gateway's own request (an unbind, an extra segment).
    Absorb,
}

#[derive(Debug)]
struct Waiting {
    origin: Origin,
    command: u32,
    since: Instant,
}

#[derive(Debug)]
struct Leg {
    next_seq: u32,
    waiting: HashMap<u32, Waiting>,
}

impl Leg {
    fn new() -> Leg {
        Leg {
            next_seq: 1,
            waiting: HashMap::new(),
        }
    }

    fn next(&mut self) -> u32 {
        let s = self.next_seq;
        self.next_seq = if s >= 0x7FFF_FFFF { 1 } else { s + 1 };
        s
    }
}

/// One ESME connection and the bind the gateway holds for it at the SMSC.
pub struct Session {
    shared: Arc<Shared>,
    peer: SocketAddr,
    state: State,
    esme: Leg,
    smsc: Leg,
    hold: Hold,
    receipts: Vec<(Instant, Vec<u8>)>,
    released: Vec<Released>,
    /// This session's number, for the registry of receiving sessions.
    id: u64,
    /// The ESME's system_id, once it asked to bind.
    system_id: Option<Box<[u8]>>,
    /// Whether this session is registered as a receiver of its account's receipts.
    registered: bool,
    /// Receipts handed over by the account's transmitter sessions.
    inbox: Inbox,
}

/// Numbers sessions for the registry of receiving sessions.
static SESSION_IDS: AtomicU64 = AtomicU64::new(1);

const UNBIND_GRACE: Duration = Duration::from_secs(1);
/// Most "undelivered" receipts of silently dropped messages waiting in one session.
const MAX_PENDING_RECEIPTS: usize = 10_000;

impl Session {
    /// A new, unbound session for the ESME at `peer`.
    pub fn new(shared: Arc<Shared>, peer: SocketAddr) -> Session {
        let cfg = &shared.cfg;
        let hold = Hold::new(
            cfg.reassembly_messages_per_session,
            cfg.reassembly_bytes_per_session,
            Duration::from_millis(cfg.reassembly_timeout_ms),
        );
        Session {
            shared,
            peer,
            state: State::Open,
            esme: Leg::new(),
            smsc: Leg::new(),
            hold,
            receipts: Vec::new(),
            released: Vec::new(),
            id: SESSION_IDS.fetch_add(1, Ordering::Relaxed),
            system_id: None,
            registered: false,
            inbox: Arc::default(),
        }
    }

    /// Leaves the registry of receiving sessions (unbound, closed or dropped).
    fn unregister(&mut self) {
        if self.registered {
            if let Some(id) = &self.system_id {
                self.shared.unregister_receiver(id, self.id);
            }
            self.registered = false;
        }
    }

    /// Whether the session is bound at both ends.
    pub fn is_bound(&self) -> bool {
        matches!(self.state, State::Bound(_))
    }

    fn leg(&mut self, side: Side) -> &mut Leg {
        match side {
            Side::Esme => &mut self.esme,
            Side::Smsc => &mut self.smsc,
        }
    }

    /// One whole PDU (as framed by `command_length`) from `from`.
    pub fn on_pdu(&mut self, from: Side, frame: &[u8], now: Instant, at_ms: u64, out: &mut Out) {
        let Some(header) = Header::peek(frame) else {
            return;
        };
        if header.is_response() {
            self.on_response(from, frame, &header, out);
            return;
        }
        let decoded = if self.shared.cfg.lenient {
            Pdu::decode_lenient(frame)
        } else {
            Pdu::decode(frame)
        };
        let pdu = match decoded {
            Ok(pdu) => pdu,
            Err(e) => {
                self.refuse_undecodable(from, &header, &e, out);
                return;
            }
        };
        let seq = header.sequence_number;
        let command = pdu.command_id();
        match (from, &pdu.body) {
            (_, Body::EnquireLink) => write_header_only(
                out.to(from),
                CommandId::EnquireLinkResp,
                status::ESME_ROK,
                seq,
            ),
            (_, Body::Unbind) => self.on_unbind(from, seq, now, out),
            (Side::Esme, Body::BindTransmitter(_)) => {
                self.on_bind(BindKind::Transmitter, &pdu, frame, now, out)
            }
            (Side::Esme, Body::BindReceiver(_)) => {
                self.on_bind(BindKind::Receiver, &pdu, frame, now, out)
            }
            (Side::Esme, Body::BindTransceiver(_)) => {
                self.on_bind(BindKind::Transceiver, &pdu, frame, now, out)
            }
            (_, Body::BindTransmitter(_) | Body::BindReceiver(_) | Body::BindTransceiver(_))
            | (_, Body::Outbind(_)) => {
                respond(out.to(from), command as u32, status::ESME_RINVBNDSTS, seq);
            }
            _ => {
                let State::Bound(kind) = self.state else {
                    respond(out.to(from), command as u32, status::ESME_RINVBNDSTS, seq);
                    return;
                };
                let allowed = match (from, command) {
                    (Side::Esme, CommandId::DataSm) => true,
                    (Side::Esme, CommandId::DeliverSm | CommandId::AlertNotification) => false,
                    (Side::Esme, _) => kind.submits(),
                    (Side::Smsc, CommandId::DeliverSm | CommandId::AlertNotification) => {
                        kind.receives()
                    }
                    (Side::Smsc, CommandId::DataSm) => true,
                    (Side::Smsc, _) => false,
                };
                if !allowed {
                    respond(out.to(from), command as u32, status::ESME_RINVBNDSTS, seq);
                    return;
                }
                match command {
                    CommandId::SubmitSm
                    | CommandId::DeliverSm
                    | CommandId::DataSm
                    | CommandId::SubmitMulti
                    | CommandId::ReplaceSm => self.on_text(from, frame, &pdu, now, at_ms, out),
                    _ => self.forward(from, &[(frame, &[seq])], now, out),
                }
            }
        }
    }

    /// The other side of `from` is gone (`from` closed its connection).
    pub fn on_closed(&mut self, side: Side, now: Instant, out: &mut Out) {
        match side {
            Side::Esme => {
                if matches!(self.state, State::Bound(_) | State::Binding { .. }) {
                    let seq = self.smsc.next();
                    write_header_only(&mut out.smsc, CommandId::Unbind, status::ESME_ROK, seq);
                }
                self.hold.drain(&mut self.released);
                self.released.clear();
                out.close = true;
            }
            Side::Smsc => {
                if let State::Binding { .. } = self.state {
                    self.on_connect_failed(out);
                    return;
                }
                // Everything the ESME waits on will never be answered.
                for (_, w) in self.smsc.waiting.drain() {
                    answer_origin(&mut out.esme, &w, status::ESME_RSYSERR);
                }
                let seq = self.esme.next();
                write_header_only(&mut out.esme, CommandId::Unbind, status::ESME_ROK, seq);
                self.unregister();
                self.state = State::Unbinding { since: now };
                out.close = true;
            }
        }
    }

    /// Connecting or writing the relayed bind to the SMSC failed.
    pub fn on_connect_failed(&mut self, out: &mut Out) {
        if let State::Binding { esme_seq, kind, .. } = self.state {
            self.shared.metrics.smpp_event("bind_failed");
            respond(
                &mut out.esme,
                bind_command(kind),
                status::ESME_RBINDFAIL,
                esme_seq,
            );
            self.unregister();
            self.state = State::Open;
            out.drop_smsc = true;
        }
    }

    /// SIGTERM: unbind both sides (held messages are decided on what arrived and go on).
    pub fn begin_drain(&mut self, now: Instant, at_ms: u64, out: &mut Out) {
        self.hold.drain(&mut self.released);
        self.release_all(now, at_ms, out);
        if let State::Bound(_) = self.state {
            self.unbind(Side::Esme, now, out);
            self.unbind(Side::Smsc, now, out);
            self.unregister();
            self.state = State::Unbinding { since: now };
        } else {
            out.close = true;
        }
    }

    /// Periodic work: held messages past their timeout, unanswered requests, receipts due.
    pub fn tick(&mut self, now: Instant, at_ms: u64, out: &mut Out) {
        self.hold.expire(now, &mut self.released);
        self.release_all(now, at_ms, out);
        let timeout = Duration::from_millis(self.shared.cfg.response_timeout_ms);
        for side in [Side::Esme, Side::Smsc] {
            let leg = self.leg(side);
            let expired: Vec<u32> = leg
                .waiting
                .iter()
                .filter(|(_, w)| now.saturating_duration_since(w.since) >= timeout)
                .map(|(s, _)| *s)
                .collect();
            for seq in expired {
                if let Some(w) = self.leg(side).waiting.remove(&seq) {
                    self.shared.metrics.smpp_event("timeout");
                    answer_origin(out.to(side.other()), &w, status::ESME_RSYSERR);
                }
            }
        }
        if self.registered {
            if let Ok(mut inbox) = self.inbox.lock() {
                let room = MAX_PENDING_RECEIPTS.saturating_sub(self.receipts.len());
                let n = inbox.len().min(room);
                self.receipts.extend(inbox.drain(..n));
            }
        }
        if !self.receipts.is_empty() && matches!(self.state, State::Bound(_)) {
            let mut i = 0;
            while i < self.receipts.len() {
                if self.receipts.get(i).is_some_and(|(due, _)| *due <= now) {
                    let (_, mut pdu) = self.receipts.swap_remove(i);
                    let seq = self.esme.next();
                    if patch_sequence(&mut pdu, seq).is_ok() {
                        out.esme.extend_from_slice(&pdu);
                        self.esme.waiting.insert(
                            seq,
                            Waiting {
                                origin: Origin::Absorb,
                                command: CommandId::DeliverSm as u32,
                                since: now,
                            },
                        );
                    }
                } else {
                    i += 1;
                }
            }
        }
        match self.state {
            State::Unbinding { since } if now.saturating_duration_since(since) >= UNBIND_GRACE => {
                out.close = true;
            }
            State::Binding { since, .. }
                if now.saturating_duration_since(since)
                    >= Duration::from_millis(self.shared.cfg.bind_timeout_ms) =>
            {
                self.on_connect_failed(out);
            }
            _ => {}
        }
    }

    fn on_response(&mut self, from: Side, frame: &[u8], header: &Header, out: &mut Out) {
        let seq = header.sequence_number;
        if let State::Binding {
            esme_seq,
            smsc_seq,
            kind,
            ..
        } = self.state
        {
            if from == Side::Smsc && seq == smsc_seq {
                relay(&mut out.esme, frame, esme_seq);
                if header.command_status == status::ESME_ROK {
                    self.state = State::Bound(kind);
                    self.shared.metrics.smpp_event("bound");
                    if let (true, Some(id)) = (kind.receives(), &self.system_id) {
                        self.shared
                            .register_receiver(id, self.id, self.inbox.clone());
                        self.registered = true;
                    }
                } else {
                    self.shared.metrics.smpp_event("bind_refused");
                    self.unregister();
                    self.state = State::Open;
                    out.drop_smsc = true;
                }
                return;
            }
        }
        let Some(w) = self.leg(from).waiting.remove(&seq) else {
            self.shared.metrics.smpp_event("unknown_response");
            return;
        };
        match &w.origin {
            Origin::Peer(s) => relay(out.to(from.other()), frame, *s),
            Origin::Peers(list) => {
                for s in list.iter() {
                    relay(out.to(from.other()), frame, *s);
                }
            }
            Origin::Absorb => {}
        }
        if w.command == CommandId::Unbind as u32 {
            if let State::Unbinding { .. } = self.state {
                if self.esme.waiting.is_empty() || self.smsc.waiting.is_empty() {
                    out.close = true;
                }
            }
        }
    }

    fn refuse_undecodable(&mut self, from: Side, header: &Header, e: &DecodeError, out: &mut Out) {
        let kind = match e {
            DecodeError::UnknownCommandId { .. } => "unknown_command",
            DecodeError::Field { .. } => "field",
            DecodeError::LengthMismatch { .. } => "length",
            _ => "pdu",
        };
        self.shared.metrics.parse_error("SMPP", kind);
        tracing::debug!(peer = %self.peer, side = ?from, error = %e, "undecodable PDU refused");
        let seq = header.sequence_number;
        if matches!(e, DecodeError::UnknownCommandId { .. })
            || CommandId::from_u32(header.command_id).is_none()
        {
            encode::generic_nack(out.to(from), status::ESME_RINVCMDID, seq);
        } else {
            respond(out.to(from), header.command_id, e.command_status(), seq);
        }
    }

    fn on_bind(
        &mut self,
        kind: BindKind,
        pdu: &Pdu<'_>,
        frame: &[u8],
        now: Instant,
        out: &mut Out,
    ) {
        let seq = pdu.sequence_number;
        if self.state != State::Open {
            respond(&mut out.esme, bind_command(kind), status::ESME_RALYBND, seq);
            return;
        }
        let smsc_seq = self.smsc.next();
        let bind = match &pdu.body {
            Body::BindTransmitter(b) | Body::BindReceiver(b) | Body::BindTransceiver(b) => *b,
            _ => return,
        };
        self.system_id = Some(bind.system_id.into());
        let mapped = self
            .shared
            .cfg
            .bind_map
            .iter()
            .find(|m| m.system_id.as_bytes() == bind.system_id);
        let mut upstream = Vec::with_capacity(frame.len());
        let encoded = match mapped {
            Some(m) => {
                let mut b = bind;
                b.system_id = m.upstream_system_id.as_bytes();
                b.password = m.upstream_password.as_bytes();
                let body = match kind {
                    BindKind::Transmitter => Body::BindTransmitter(b),
                    BindKind::Receiver => Body::BindReceiver(b),
                    BindKind::Transceiver => Body::BindTransceiver(b),
                };
                Pdu {
                    command_status: 0,
                    sequence_number: smsc_seq,
                    body,
                }
                .encode(&mut upstream)
                .is_ok()
            }
            None => {
                upstream.extend_from_slice(frame);
                patch_sequence(&mut upstream, smsc_seq).is_ok()
            }
        };
        if !encoded {
            respond(
                &mut out.esme,
                bind_command(kind),
                status::ESME_RBINDFAIL,
                seq,
            );
            return;
        }
        tracing::debug!(peer = %self.peer, system_id = %String::from_utf8_lossy(bind.system_id), "bind relayed to the SMSC");
        self.state = State::Binding {
            esme_seq: seq,
            smsc_seq,
            kind,
            since: now,
        };
        out.connect = Some(upstream);
    }

    fn on_unbind(&mut self, from: Side, seq: u32, now: Instant, out: &mut Out) {
        write_header_only(out.to(from), CommandId::UnbindResp, status::ESME_ROK, seq);
        match self.state {
            State::Bound(_) => {
                self.unbind(from.other(), now, out);
                self.unregister();
                self.state = State::Unbinding { since: now };
            }
            _ => out.close = true,
        }
    }

    /// Sends the gateway's own unbind to `side`; its answer is absorbed.
    fn unbind(&mut self, side: Side, now: Instant, out: &mut Out) {
        let seq = self.leg(side).next();
        write_header_only(out.to(side), CommandId::Unbind, status::ESME_ROK, seq);
        self.leg(side).waiting.insert(
            seq,
            Waiting {
                origin: Origin::Absorb,
                command: CommandId::Unbind as u32,
                since: now,
            },
        );
    }

    fn on_text(
        &mut self,
        from: Side,
        frame: &[u8],
        pdu: &Pdu<'_>,
        now: Instant,
        at_ms: u64,
        out: &mut Out,
    ) {
        let seq = pdu.sequence_number;
        let command = pdu.command_id();
        let t = match text_pdu(pdu) {
            Ok(t) => t,
            Err(IngestError::SmppRefused { status, message }) => {
                self.shared.metrics.parse_error("SMPP", "message_fields");
                tracing::debug!(peer = %self.peer, %message, "message refused");
                respond(out.to(from), command as u32, status, seq);
                return;
            }
            Err(_) => {
                self.forward(from, &[(frame, &[seq])], now, out);
                return;
            }
        };
        if t.receipt {
            self.forward(from, &[(frame, &[seq])], now, out);
            return;
        }
        if let Some(c) = t.message.concat.filter(|c| c.total > 1) {
            let mut destination: &[u8] = &[];
            t.destinations.for_each(|a| {
                if destination.is_empty() {
                    destination = a.addr;
                }
            });
            let key = HoldKey {
                side: from,
                source: Box::from(t.source.addr),
                destination: Box::from(destination),
                reference: c.reference,
                total: c.total,
            };
            let pushed = self
                .hold
                .push(now, key, c.seq, frame.to_vec(), seq, &mut self.released);
            if let Pushed::BadPosition | Pushed::Contradiction = pushed {
                self.shared.metrics.parse_error("SMPP", "concatenation");
                respond(out.to(from), command as u32, status::ESME_RINVESMCLASS, seq);
            }
            self.release_all(now, at_ms, out);
            return;
        }
        let ing = match read_text(&t, seq, &self.shared.ingest) {
            Ok(ing) => ing,
            Err(e) => {
                self.refuse_ingest(from, command as u32, seq, &e, out);
                return;
            }
        };
        let outcome = self.decide(&ing, from, command.name(), t.message.data_coding, at_ms);
        self.act(
            from,
            &outcome,
            &[Some((frame, &[seq][..]))],
            &t,
            &[t.message],
            now,
            out,
        );
    }

    fn refuse_ingest(
        &mut self,
        from: Side,
        command: u32,
        seq: u32,
        e: &IngestError,
        out: &mut Out,
    ) {
        self.shared.metrics.parse_error("SMPP", "text");
        tracing::debug!(peer = %self.peer, error = %e, "message refused");
        let status = match e {
            IngestError::SmppRefused { status, .. } => *status,
            _ => status::ESME_RINVMSGLEN,
        };
        respond(out.to(from), command, status, seq);
    }

    fn release_all(&mut self, now: Instant, at_ms: u64, out: &mut Out) {
        let released = std::mem::take(&mut self.released);
        for r in released {
            self.release(r, now, at_ms, out);
        }
    }

    /// Decides a message that left the hold, on its whole text, and acts on all its parts.
    fn release(&mut self, r: Released, now: Instant, at_ms: u64, out: &mut Out) {
        self.shared.metrics.smpp_event(match r.why {
            Release::Complete => "reassembly_completed",
            Release::Expired => "reassembly_expired",
            Release::Evicted => "reassembly_evicted",
        });
        let from = r.key.side;
        let lenient = self.shared.cfg.lenient;
        let pdus: Vec<Option<(Pdu<'_>, &[u32])>> = r
            .parts
            .iter()
            .map(|p| {
                p.as_ref().and_then(|p| {
                    let pdu = if lenient {
                        Pdu::decode_lenient(&p.raw)
                    } else {
                        Pdu::decode(&p.raw)
                    };
                    pdu.ok().map(|pdu| (pdu, &p.seqs[..]))
                })
            })
            .collect();
        let texts: Vec<TextPdu<'_>> = pdus
            .iter()
            .flatten()
            .filter_map(|(pdu, _)| text_pdu(pdu).ok())
            .collect();
        let Some(first) = texts.first().copied() else {
            return;
        };
        let command = pdus
            .iter()
            .flatten()
            .next()
            .map_or(CommandId::SubmitSm, |(p, _)| p.command_id());
        let missing = r.why != Release::Complete;
        let id = format!("{}:{}", r.key.reference, r.key.total);
        let outcome = match read_whole(&texts, missing, id, &self.shared.ingest) {
            Ok(ing) => self.decide(&ing, from, command.name(), first.message.data_coding, at_ms),
            Err(e) => {
                for (_, seqs) in pdus.iter().flatten() {
                    for s in seqs.iter() {
                        self.refuse_ingest(from, command as u32, *s, &e, out);
                    }
                }
                return;
            }
        };
        let messages: Vec<_> = texts.iter().map(|t| t.message).collect();
        let parts: Vec<Option<(&[u8], &[u32])>> = r
            .parts
            .iter()
            .map(|p| p.as_ref().map(|p| (&p.raw[..], &p.seqs[..])))
            .collect();
        self.act(from, &outcome, &parts, &first, &messages, now, out);
    }

    /// Decides one message (records, counters, dissuasion). A warned message whose
    /// `data_coding` cannot carry the warning prefix is acted on as blocked when
    /// `warn_unmarkable = "block"`, and recorded so.
    fn decide(
        &self,
        ing: &Ingested<'_>,
        from: Side,
        command: &'static str,
        data_coding: u8,
        at_ms: u64,
    ) -> Outcome {
        let sh = &self.shared;
        let mut outcome = sh
            .decider
            .decide(ing, sh.cfg.ingress, sh.cfg.trunk.as_deref(), at_ms);
        if outcome.acted == Verdict::Warn
            && sh.cfg.warn_prefix.is_some()
            && sh.cfg.warn_unmarkable == SmppUnmarkable::Block
            && !markable(data_coding)
        {
            sh.metrics.smpp_event("warned_unmarkable_blocked");
            outcome.acted = Verdict::Block;
        }
        let (direction, dir_label) = match from {
            Side::Esme => (Direction::ToCore, "to_core"),
            Side::Smsc => (Direction::ToBorder, "to_border"),
        };
        sh.metrics
            .message("smpp", command, dir_label, outcome.acted.as_str());
        crate::decide::record_outcome(
            &sh.records,
            &crate::decide::Arrival {
                gateway: &sh.gateway_id,
                protocol: Protocol::Smpp,
                direction,
                method: command,
                ingress: sh.cfg.ingress,
                trunk: sh.cfg.trunk.as_deref(),
                peer: self.peer,
                at_ms,
            },
            ing,
            &outcome,
            sh.include_text,
        );
        if outcome.acted == Verdict::Warn {
            if let (Some(d), Some(callee)) = (&sh.dissuader, ing.callees.first()) {
                d.offer(
                    &callee.value,
                    &outcome.decision,
                    "短信",
                    self.peer,
                    &outcome.pack_version,
                );
            }
        }
        outcome
    }

    /// Does what the verdict says with the parts of one message (`None` where a part of an
    /// expired message never came); `messages` are the parts' texts (for a warning prefix).
    #[allow(clippy::too_many_arguments)]
    fn act(
        &mut self,
        from: Side,
        outcome: &Outcome,
        parts: &[Option<(&[u8], &[u32])>],
        first: &TextPdu<'_>,
        messages: &[interdict_smpp::Message<'_>],
        now: Instant,
        out: &mut Out,
    ) {
        let present: Vec<(&[u8], &[u32])> = parts.iter().flatten().copied().collect();
        match outcome.acted {
            Verdict::Pass => self.forward(from, &present, now, out),
            Verdict::Block => self.block(from, &present, first, now, out),
            Verdict::Warn => {
                let Some(prefix) = self.shared.cfg.warn_prefix.clone() else {
                    self.forward(from, &present, now, out);
                    return;
                };
                if first.command == "replace_sm" {
                    // replace_sm names no data_coding (the replaced message's applies), so
                    // the warning cannot be written into its text safely, and forwarding it
                    // unmarked would deliver a suspect text without the warning: refused
                    // (ESME_RREPLACEFAIL) and counted. Submitted anew, the text is marked.
                    self.shared.metrics.smpp_event("warned_replace_refused");
                    for (frame, seqs) in &present {
                        let command = Header::peek(frame).map_or(0, |h| h.command_id);
                        for s in seqs.iter() {
                            respond(out.to(from), command, status::ESME_RREPLACEFAIL, *s);
                        }
                    }
                    return;
                }
                let text = handset_text(messages, &TextOptions::default());
                match self.warned_pdus(&present, first, &prefix, &text) {
                    Some(pdus) => {
                        // Segment i answers original part i; the last also answers any
                        // original parts left over.
                        let seqs: Vec<&[u32]> = present.iter().map(|(_, s)| *s).collect();
                        let n = pdus.len();
                        let mut forwards: Vec<(Vec<u8>, Vec<u32>)> = Vec::with_capacity(n);
                        for (i, pdu) in pdus.into_iter().enumerate() {
                            let mut owners: Vec<u32> =
                                seqs.get(i).map(|s| s.to_vec()).unwrap_or_default();
                            if i + 1 == n {
                                for s in seqs.iter().skip(n) {
                                    owners.extend_from_slice(s);
                                }
                            }
                            forwards.push((pdu, owners));
                        }
                        let refs: Vec<(&[u8], &[u32])> =
                            forwards.iter().map(|(p, o)| (&p[..], &o[..])).collect();
                        self.forward(from, &refs, now, out);
                    }
                    // A coding the warning cannot be written into (binary, unknown), with
                    // `warn_unmarkable = "forward"` (with "block", `decide` blocked it).
                    None => {
                        self.shared.metrics.smpp_event("warned_unmarked");
                        self.forward(from, &present, now, out);
                    }
                }
            }
        }
    }

    /// Forwards requests to the other side under its own sequence numbers, or throttles
    /// them all when the window would overflow.
    fn forward(&mut self, from: Side, pdus: &[(&[u8], &[u32])], now: Instant, out: &mut Out) {
        let to = from.other();
        let window = self.shared.cfg.window;
        if self.leg(to).waiting.len() + pdus.len() > window {
            self.shared.metrics.smpp_event("throttled");
            for (frame, seqs) in pdus {
                let command = Header::peek(frame).map_or(0, |h| h.command_id);
                for s in seqs.iter() {
                    respond(out.to(from), command, status::ESME_RTHROTTLED, *s);
                }
            }
            return;
        }
        for (frame, seqs) in pdus {
            let Some(header) = Header::peek(frame) else {
                continue;
            };
            let seq = self.leg(to).next();
            let buf = out.to(to);
            let start = buf.len();
            buf.extend_from_slice(frame);
            if let Some(slot) = buf.get_mut(start..) {
                let _ = patch_sequence(slot, seq);
            }
            let origin = match seqs {
                [] => Origin::Absorb,
                [one] => Origin::Peer(*one),
                many => Origin::Peers(Box::from(*many)),
            };
            self.leg(to).waiting.insert(
                seq,
                Waiting {
                    origin,
                    command: header.command_id,
                    since: now,
                },
            );
        }
    }

    fn block(
        &mut self,
        from: Side,
        pdus: &[(&[u8], &[u32])],
        first: &TextPdu<'_>,
        now: Instant,
        out: &mut Out,
    ) {
        let silent = self.shared.cfg.block == SmppBlock::SilentDrop;
        for (frame, seqs) in pdus {
            let Some(header) = Header::peek(frame) else {
                continue;
            };
            for s in seqs.iter() {
                if !silent {
                    respond(
                        out.to(from),
                        header.command_id,
                        self.shared.cfg.block_status,
                        *s,
                    );
                    continue;
                }
                let id = self.shared.next_id();
                accept(out.to(from), header.command_id, *s, &id);
                let wants_receipt = registered_delivery(frame) & 0x03 != 0;
                let can_receive = matches!(self.state, State::Bound(k) if k.receives());
                if self.receipts.len() >= MAX_PENDING_RECEIPTS {
                    // An ESME asking for receipts on a flood of refused messages must not
                    // grow the session without bound: the receipt is not sent, counted.
                    self.shared.metrics.smpp_event("receipt_dropped");
                } else if from == Side::Esme && wants_receipt {
                    if let Some(pdu) = undelivered_receipt(&id, first) {
                        let due = now + Duration::from_millis(self.shared.cfg.receipt_after_ms);
                        if can_receive {
                            self.receipts.push((due, pdu));
                        } else {
                            // A transmitter bind: the receipt goes to a bind of the same
                            // account that receives, when there is one.
                            let handed = self
                                .system_id
                                .as_deref()
                                .is_some_and(|sid| self.shared.hand_receipt(sid, due, pdu));
                            if !handed {
                                self.shared.metrics.smpp_event("receipt_no_receiver");
                            }
                        }
                    }
                }
            }
        }
    }

    /// The PDUs that carry `prefix` + `text` in place of the message's parts: re-encoded for
    /// the coding (UCS-2 when the prefix needs it) and re-segmented to 140 octets per part.
    /// None when the message has no text to prefix (binary) or cannot be rewritten.
    fn warned_pdus(
        &self,
        parts: &[(&[u8], &[u32])],
        first: &TextPdu<'_>,
        prefix: &str,
        text: &str,
    ) -> Option<Vec<Vec<u8>>> {
        let (template, _) = parts.first()?;
        let pdu = Pdu::decode_lenient(template).ok()?;
        let new_text = format!("{prefix}{text}");
        let message = first.message;
        let options = TextOptions::default();
        if !markable(message.data_coding) {
            return None;
        }
        let reference = message.concat.map_or(0, |c| c.reference as u8);
        let segments = segment(&new_text, message.data_coding, &options, reference).ok()?;
        let esm_plain = esm_class(&pdu) & !interdict_smpp::udh::ESM_UDHI;
        let mut pdus = Vec::new();
        if message.from_payload_tlv
            || segments.parts.len() == 1
            || matches!(pdu.body, Body::DataSm(_))
        {
            // One PDU: the whole text in short_message when it fits, else message_payload.
            let octets: Vec<u8> = if segments.parts.len() == 1 {
                segments.parts.into_iter().next().unwrap_or_default()
            } else {
                let mut v = Vec::new();
                segment_whole(&new_text, segments.data_coding, &mut v);
                v
            };
            let placement = if message.from_payload_tlv
                || octets.len() > MAX_SHORT_MESSAGE
                || matches!(pdu.body, Body::DataSm(_))
            {
                Placement::MessagePayload
            } else {
                Placement::ShortMessage
            };
            let mut out = Vec::new();
            with_user_data(
                &mut out,
                &pdu,
                esm_plain,
                segments.data_coding,
                &octets,
                placement,
            )?;
            pdus.push(out);
            return Some(pdus);
        }
        for part in &segments.parts {
            let mut out = Vec::new();
            with_user_data(
                &mut out,
                &pdu,
                esm_plain | interdict_smpp::udh::ESM_UDHI,
                segments.data_coding,
                part,
                Placement::ShortMessage,
            )?;
            pdus.push(out);
        }
        Some(pdus)
    }
}

/// The whole text encoded in `data_coding` with no segmentation (for message_payload).
fn segment_whole(text: &str, data_coding: u8, out: &mut Vec<u8>) {
    match data_coding {
        0x08 => interdict_smpp::text::ucs2::encode(text, out),
        0x0F => out.extend_from_slice(&encoding_rs::GBK.encode(text).0),
        _ => match interdict_smpp::text::gsm7::encode_unpacked(text) {
            Ok(septets) => out.extend_from_slice(&septets),
            Err(_) => out.extend_from_slice(text.as_bytes()),
        },
    }
}

fn esm_class(pdu: &Pdu<'_>) -> u8 {
    match &pdu.body {
        Body::SubmitSm(sm) | Body::DeliverSm(sm) => sm.esm_class,
        Body::DataSm(d) => d.esm_class,
        Body::SubmitMulti(m) => m.esm_class,
        _ => 0,
    }
}

fn registered_delivery(frame: &[u8]) -> u8 {
    match Pdu::decode_lenient(frame).map(|p| p.body) {
        Ok(Body::SubmitSm(sm)) => sm.registered_delivery,
        Ok(Body::DataSm(d)) => d.registered_delivery,
        Ok(Body::SubmitMulti(m)) => m.registered_delivery,
        _ => 0,
    }
}

/// `original` with its user data replaced (and SAR TLVs dropped): submit_sm, deliver_sm,
/// submit_multi or data_sm.
fn with_user_data(
    out: &mut Vec<u8>,
    original: &Pdu<'_>,
    esm: u8,
    data_coding: u8,
    user_data: &[u8],
    placement: Placement,
) -> Option<()> {
    match &original.body {
        Body::SubmitSm(_) | Body::DeliverSm(_) => {
            encode::rewrite_sm_part(out, original, esm, data_coding, user_data, placement, true)
                .ok()
        }
        Body::SubmitMulti(m) => {
            let mut tlv_raw = Vec::new();
            copy_tlvs(&m.tlvs, &mut tlv_raw, placement, user_data)?;
            let tlvs = Tlvs::parse(&tlv_raw).ok()?;
            let mut copy = *m;
            copy.esm_class = esm;
            copy.data_coding = data_coding;
            copy.short_message = match placement {
                Placement::ShortMessage => user_data,
                Placement::MessagePayload => &[],
            };
            copy.tlvs = tlvs;
            Pdu {
                body: Body::SubmitMulti(copy),
                ..*original
            }
            .encode(out)
            .ok()
        }
        Body::DataSm(d) => {
            let mut tlv_raw = Vec::new();
            copy_tlvs(&d.tlvs, &mut tlv_raw, Placement::MessagePayload, user_data)?;
            let tlvs = Tlvs::parse(&tlv_raw).ok()?;
            let mut copy = *d;
            copy.esm_class = esm;
            copy.data_coding = data_coding;
            copy.tlvs = tlvs;
            Pdu {
                body: Body::DataSm(copy),
                ..*original
            }
            .encode(out)
            .ok()
        }
        _ => None,
    }
}

fn copy_tlvs(
    tlvs: &Tlvs<'_>,
    out: &mut Vec<u8>,
    placement: Placement,
    payload: &[u8],
) -> Option<()> {
    for tlv in tlvs.iter() {
        let sar = matches!(
            tlv.tag,
            TlvTag::SarMsgRefNum | TlvTag::SarTotalSegments | TlvTag::SarSegmentSeqnum
        );
        if tlv.tag != TlvTag::MessagePayload && !sar {
            write_tlv(out, tlv.tag, tlv.value).ok()?;
        }
    }
    if placement == Placement::MessagePayload {
        write_tlv(out, TlvTag::MessagePayload, payload).ok()?;
    }
    Some(())
}

/// An "undelivered" delivery receipt (SMPP 3.4 appendix B format) for a silently dropped
/// message, addressed back to its sender.
fn undelivered_receipt(id: &str, message: &TextPdu<'_>) -> Option<Vec<u8>> {
    let mut destination = Address::default();
    message.destinations.for_each(|a| {
        if destination.addr.is_empty() {
            destination = a;
        }
    });
    let stamp = jiff::Timestamp::now().strftime("%y%m%d%H%M").to_string();
    let text = format!(
        "id:{id} sub:001 dlvrd:000 submit date:{stamp} done date:{stamp} stat:UNDELIV err:000 text:"
    );
    let mut tlv_raw = Vec::new();
    let mut cid = id.as_bytes().to_vec();
    cid.push(0);
    write_tlv(&mut tlv_raw, TlvTag::ReceiptedMessageId, &cid).ok()?;
    write_tlv(&mut tlv_raw, TlvTag::MessageState, &[5]).ok()?;
    let tlvs = Tlvs::parse(&tlv_raw).ok()?;
    let sm = Sm {
        source: destination,
        destination: message.source,
        esm_class: 0x04,
        short_message: text.as_bytes(),
        tlvs,
        ..Sm::default()
    };
    Pdu {
        command_status: 0,
        sequence_number: 0,
        body: Body::DeliverSm(sm),
    }
    .to_vec()
    .ok()
}

impl Drop for Session {
    fn drop(&mut self) {
        self.unregister();
    }
}

fn bind_command(kind: BindKind) -> u32 {
    (match kind {
        BindKind::Transmitter => CommandId::BindTransmitter,
        BindKind::Receiver => CommandId::BindReceiver,
        BindKind::Transceiver => CommandId::BindTransceiver,
    }) as u32
}

/// Relays an answer under the sequence number its requester used.
fn relay(out: &mut Vec<u8>, frame: &[u8], seq: u32) {
    let start = out.len();
    out.extend_from_slice(frame);
    if let Some(slot) = out.get_mut(start..) {
        let _ = patch_sequence(slot, seq);
    }
}

/// Answers a request of `command` with `status` and no body (SMPP 3.4: a `_resp` with an
/// error status carries no body; deliver_sm_resp and data_sm_resp keep an empty message_id).
fn respond(out: &mut Vec<u8>, command: u32, status: u32, seq: u32) {
    let resp = command | 0x8000_0000;
    match CommandId::from_u32(resp) {
        Some(CommandId::DeliverSmResp) => encode::deliver_sm_resp(out, status, seq),
        Some(CommandId::DataSmResp) => {
            let _ = encode::data_sm_resp(out, status, seq, Some(b""));
        }
        Some(id) => write_header_only(out, id, status, seq),
        None => encode::generic_nack(out, status, seq),
    }
}

/// Answers a request of `command` with success and the gateway's message id.
fn accept(out: &mut Vec<u8>, command: u32, seq: u32, id: &str) {
    let resp = command | 0x8000_0000;
    match CommandId::from_u32(resp) {
        Some(CommandId::SubmitSmResp) => {
            let _ = encode::submit_sm_resp(out, status::ESME_ROK, seq, Some(id.as_bytes()));
        }
        Some(CommandId::DataSmResp) => {
            let _ = encode::data_sm_resp(out, status::ESME_ROK, seq, Some(id.as_bytes()));
        }
        Some(CommandId::SubmitMultiResp) => {
            // message_id, no_unsuccess = 0.
            let start = out.len();
            write_header_only(out, CommandId::SubmitMultiResp, status::ESME_ROK, seq);
            out.extend_from_slice(id.as_bytes());
            out.extend_from_slice(&[0, 0]);
            let len = u32::try_from(out.len() - start).unwrap_or(0);
            if let Some(slot) = out.get_mut(start..start + 4) {
                slot.copy_from_slice(&len.to_be_bytes());
            }
        }
        _ => respond(out, command, status::ESME_ROK, seq),
    }
}

fn answer_origin(out: &mut Vec<u8>, w: &Waiting, status: u32) {
    match &w.origin {
        Origin::Peer(s) => respond(out, w.command, status, *s),
        Origin::Peers(list) => {
            for s in list.iter() {
                respond(out, w.command, status, *s);
            }
        }
        Origin::Absorb => {}
    }
}

/// Whether a text of `data_coding` can carry a warning prefix (not binary, not unknown).
fn markable(data_coding: u8) -> bool {
    !matches!(
        interdict_smpp::text::alphabet(data_coding, &TextOptions::default()),
        interdict_smpp::text::Alphabet::Binary | interdict_smpp::text::Alphabet::Unsupported(_)
    )
}
