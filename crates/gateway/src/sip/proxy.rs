//! The stateless SIP proxy's logic (RFC 3261 §16.11), independent of sockets: one message
//! in, at most one message out.
//!
//! * Requests: validated (a malformed one is answered 400, 505, 513, never forwarded),
//!   Max-Forwards (483 at zero), loop detection (482), this proxy's own Route removed
//!   (§16.4), `received`/`rport` written into the sender's Via (RFC 3581), Record-Route
//!   added to dialog-forming requests so ACK, BYE and re-INVITEs come back through.
//! * INVITE and MESSAGE (any letter case) are decided. block: answered by the gateway itself
//!   (608 with Call-Info by default, 603/607 by configuration, with a Reason naming the
//!   category), never forwarded; a retransmission gets the identical answer (the To-tag is
//!   derived from the transaction) and the ACK to that answer is absorbed. warn: forwarded
//!   with the display names marked. pass: forwarded with only the Via, Record-Route,
//!   Route and Max-Forwards changes.
//! * Requests from the border go to the next hop; requests from the core follow their
//!   Route, else their Request-URI. Responses return by the Via below this proxy's own.
//! * Calls are followed (see [`super::dialogs`]) so the engine hears when they are
//!   answered and end.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use interdict_engine::{Event, EventKind, Evidence, Verdict};
use interdict_sip::{
    proxy_request, write_response, Error as SipError, ExtraHeader, ForwardOptions, Host, Message,
    Method, NameAddr, ProxyEdits, Transport, Uri,
};
use rustc_hash::FxHashMap;

use super::dialogs::{inline, Call, Change, Dialogs};
use super::recent::Recent;
use crate::config::SipConfig;
use crate::decide::Decider;
use crate::ingest::sip::{decided, Decided};
use crate::ingest::{IngestError, IngestOptions};
use crate::metrics::{sip_method_label, KindLabel, Metrics};
use crate::record::{DecisionRecord, Degraded, Direction, Protocol, RecordKind, RecordSink};

/// The transport a message came in or goes out on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Wire {
    /// UDP datagrams.
    Udp,
    /// A TCP connection.
    Tcp,
}

/// Where the bytes written by [`SipProxy::handle`] go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dest {
    /// The address.
    pub addr: SocketAddr,
    /// The transport.
    pub wire: Wire,
}

/// What to do after [`SipProxy::handle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Nothing to send (absorbed, dropped, or a keep-alive).
    None,
    /// Send the bytes written to the output buffer.
    Send(Dest),
}

/// The gateway's own identity on the wire.
#[derive(Debug, Clone)]
pub struct Local {
    /// Host written in Via and Record-Route.
    pub host: String,
    /// Port written in Via and Record-Route.
    pub port: u16,
}

/// A recent INVITE or MESSAGE transaction's outcome, so a retransmission gets the same
/// treatment without a second decision (behaviour is counted once).
#[derive(Debug, Clone, Copy)]
struct Seen {
    at_ms: u64,
    acted: Verdict,
    answer: u16,
}

/// An INVITE forwarded to the next hop and not answered yet: sent again with backoff, and
/// answered 503 to the border when the next hop stays silent.
#[derive(Debug, Clone)]
struct Pending {
    original: Vec<u8>,
    peer: SocketAddr,
    wire: Wire,
    dest: Dest,
    mark: Option<String>,
    strip: bool,
    next_at_ms: u64,
    attempts: u32,
}

/// INVITEs awaiting the next hop's first answer, with their timers in deadline order (so a
/// tick looks only at what is due, never at the whole table).
#[derive(Default)]
struct Upstream {
    waiting: FxHashMap<u64, Pending>,
    timers: std::collections::BinaryHeap<std::cmp::Reverse<(u64, u64)>>,
    /// Copies of answered INVITEs, kept to hold the next ones: following an INVITE
    /// allocates nothing once the gateway has warmed up (at most `SPARE_MAX` kept).
    spare: Vec<Vec<u8>>,
}

/// Most spare request buffers kept for the upstream table.
const SPARE_MAX: usize = 4_096;

/// Most INVITEs awaiting the next hop's first answer.
const PENDING_MAX: usize = 65_536;

/// How long a transaction's outcome is remembered (RFC 3261 Timer B: 64 × T1 = 32 s).
const SEEN_MS: u64 = 32_000;
/// The `answer` remembered for a part of a concatenated SMS held for its other parts.
const HELD: u16 = u16::MAX;
/// How long a held SMS part waits for the others (ms), and how many messages are followed.
const SMS_HOLD_MS: u64 = 10_000;
const SMS_HOLD_MAX: usize = 10_000;
const SMS_HOLD_BYTES: usize = 16 << 20;
/// Most transactions remembered.
const SEEN_MAX: usize = 262_144;

/// What a [`SipProxy`] is built from.
pub struct ProxyParts {
    /// The SIP configuration.
    pub cfg: Arc<SipConfig>,
    /// Host and port written in Via and Record-Route.
    pub local: Local,
    /// The shared decider.
    pub decider: Arc<Decider>,
    /// The metrics.
    pub metrics: Arc<Metrics>,
    /// Where decision records go.
    pub records: RecordSink,
    /// This gateway's id in records.
    pub gateway_id: Arc<str>,
    /// Put the text of block and warn decisions in records.
    pub include_text: bool,
    /// Ingest bounds and choices.
    pub ingest: IngestOptions,
    /// Sends a dissuasion SMS to the callee of a warned call (when configured).
    pub dissuader: Option<crate::smpp::dissuade::Dissuader>,
}

/// The proxy: configuration, decider, dialog table, counters. Shared by every worker.
pub struct SipProxy {
    cfg: Arc<SipConfig>,
    dissuader: Option<crate::smpp::dissuade::Dissuader>,
    local: Local,
    record_route_udp: String,
    record_route_tcp: String,
    decider: Arc<Decider>,
    metrics: Arc<Metrics>,
    records: RecordSink,
    dialogs: Dialogs,
    seen: Recent<Seen>,
    sms_hold: super::sms_hold::SmsHold,
    pending: Mutex<Upstream>,
    secret: u64,
    gateway_id: Arc<str>,
    include_text: bool,
    ingest: IngestOptions,
    /// Messages handled.
    pub handled: AtomicU64,
    /// When the dialog table was last swept (ms since the epoch).
    last_sweep_ms: AtomicU64,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// This proxy's Via branch for one request (RFC 3261 §16.11), derived once and reused for
/// loop detection, the forwarded Via and the upstream timer.
#[derive(Clone, Copy)]
struct Branch {
    buf: [u8; 48],
    len: usize,
}

impl Branch {
    /// Derives the branch, using `scratch` (cleared before and after) as working space.
    fn derive(msg: &Message<'_>, host: &str, scratch: &mut Vec<u8>) -> Option<Branch> {
        scratch.clear();
        interdict_sip::stateless_branch(msg, host, scratch).ok()?;
        let mut buf = [0u8; 48];
        let len = scratch.len();
        buf.get_mut(..len)?.copy_from_slice(scratch);
        scratch.clear();
        Some(Branch { buf, len })
    }

    fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

/// 64-bit FNV-1a over fields (with a separator), for tags and transaction keys.
fn fnv(seed: u64, parts: &[&[u8]]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed;
    for p in parts {
        for &b in *p {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn sip_error_kind(e: &SipError) -> &'static str {
    match e {
        SipError::Empty => "empty",
        SipError::Truncated { .. } => "truncated",
        SipError::BareLineEnd { .. } => "bare_line_end",
        SipError::InvalidStartLine { .. } => "start_line",
        SipError::InvalidRequestUri { .. } => "request_uri",
        SipError::InvalidStatusCode { .. } => "status_code",
        SipError::InvalidHeaderName { .. } => "header_name",
        SipError::TooManyHeaders { .. } => "too_many_headers",
        SipError::DuplicateHeader { .. } => "duplicate_header",
        SipError::InvalidContentLength { .. } => "content_length",
        SipError::BodyTruncated { .. } => "body_truncated",
        SipError::MissingContentLength { .. } => "missing_content_length",
        SipError::TooLarge { .. } => "too_large",
        SipError::MissingHeader { .. } => "missing_header",
        SipError::InvalidHeader { .. } => "invalid_header",
        SipError::UnsupportedVersion { .. } => "version",
        SipError::CSeqMethodMismatch { .. } => "cseq_method",
        _ => "other",
    }
}

fn host_ip(host: Host<'_>) -> Option<IpAddr> {
    match host {
        Host::Ipv4(a) => Some(IpAddr::V4(a)),
        Host::Ipv6(_, a) => Some(IpAddr::V6(a)),
        Host::Name(n) => n.parse().ok(),
    }
}

fn uri_wire(uri: &Uri<'_>) -> Wire {
    match uri.params().get("transport").flatten() {
        Some(t) if t.eq_ignore_ascii_case("tcp") => Wire::Tcp,
        _ => Wire::Udp,
    }
}

impl SipProxy {
    /// A proxy built from its parts.
    pub fn new(parts: ProxyParts) -> SipProxy {
        let ProxyParts {
            cfg,
            local,
            decider,
            metrics,
            records,
            gateway_id,
            include_text,
            ingest,
            dissuader,
        } = parts;
        let secret = fnv(
            0,
            &[
                &now_ms().to_be_bytes(),
                &std::process::id().to_be_bytes(),
                local.host.as_bytes(),
            ],
        );
        let hostport = format!("{}:{}", local.host, local.port);
        SipProxy {
            record_route_udp: format!("sip:{hostport};lr"),
            record_route_tcp: format!("sip:{hostport};transport=tcp;lr"),
            dialogs: Dialogs::new(cfg.max_live_calls),
            dissuader,
            cfg,
            local,
            decider,
            metrics,
            records,
            seen: Recent::new(SEEN_MS, SEEN_MAX),
            sms_hold: super::sms_hold::SmsHold::new(SMS_HOLD_MS, SMS_HOLD_MAX, SMS_HOLD_BYTES),
            pending: Mutex::new(Upstream::default()),
            secret,
            gateway_id,
            include_text,
            ingest,
            handled: AtomicU64::new(0),
            last_sweep_ms: AtomicU64::new(0),
        }
    }

    /// The proxy's decider (reload, shadow promotion).
    pub fn decider(&self) -> &Arc<Decider> {
        &self.decider
    }

    /// Decides one synthetic message on the calling thread, so the engine's per-thread
    /// scratch space is allocated before the first real message (which would otherwise pay
    /// for it and might pass its deadline).
    pub fn warm_up(&self) {
        let event = Event::sms("+8613800000001", "+8613800000002", "warm-up", now_ms());
        let snapshot = self.decider.engine().snapshot();
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            interdict_engine::decide_with(&snapshot, None, &event)
        }));
    }

    /// Counts a TCP stream closed because it could not be framed.
    pub fn count_stream_error(&self, e: &SipError) {
        self.metrics.parse_error("sip", sip_error_kind(e));
    }

    /// The live-call table.
    pub fn dialogs(&self) -> &Dialogs {
        &self.dialogs
    }

    /// Handles one message that arrived from `peer` on `wire`, writing what to send into
    /// `out` (cleared first). Never panics on any input.
    pub fn handle(&self, bytes: &[u8], peer: SocketAddr, wire: Wire, out: &mut Vec<u8>) -> Action {
        out.clear();
        self.handled.fetch_add(1, Ordering::Relaxed);
        if interdict_sip::is_keepalive(bytes) {
            return Action::None;
        }
        let parsed = match wire {
            Wire::Udp => Message::parse_datagram(bytes),
            Wire::Tcp => Message::parse_stream(bytes),
        };
        let msg = match parsed {
            Ok(m) => m,
            Err(e) => {
                self.metrics.parse_error("sip", sip_error_kind(&e));
                tracing::debug!(%peer, error = %e, "unparseable SIP message refused");
                // A request whose body is shorter than its Content-Length is answered 400
                // (its headers are whole); anything else cannot be answered and is dropped.
                if let (SipError::BodyTruncated { .. }, Ok(req)) =
                    (e, Message::parse_for_answer(bytes))
                {
                    if req.is_request() && req.validate().is_ok() {
                        return self.answer(
                            &req,
                            400,
                            "Content-Length Exceeds Body",
                            &[],
                            Dest { addr: peer, wire },
                            out,
                        );
                    }
                }
                return Action::None;
            }
        };
        if msg.is_request() {
            self.request(&msg, bytes, peer, wire, out)
        } else {
            self.response(&msg, peer, out)
        }
    }

    fn direction(&self, peer: SocketAddr) -> Direction {
        if peer == self.cfg.next_hop {
            Direction::ToBorder
        } else {
            Direction::ToCore
        }
    }

    /// Answers `req` with `code` into `out`, to the peer it came from.
    fn answer(
        &self,
        req: &Message<'_>,
        code: u16,
        reason: &str,
        extra: &[ExtraHeader<'_>],
        to: Dest,
        out: &mut Vec<u8>,
    ) -> Action {
        let peer = to.addr;
        if matches!(req.method(), Some(Method::Ack)) {
            return Action::None;
        }
        let tag = self.to_tag(req);
        match write_response(req, code, reason, &tag, extra, out) {
            Ok(()) => Action::Send(to),
            Err(e) => {
                tracing::debug!(%peer, code, error = %e, "cannot answer; dropped");
                out.clear();
                Action::None
            }
        }
    }

    /// The To-tag of this proxy's answers to a transaction: derived from Call-ID, From tag
    /// and the top Via branch, so a retransmission gets the same tag and the ACK to the
    /// answer is recognised.
    fn to_tag(&self, req: &Message<'_>) -> String {
        let call_id = req.call_id().unwrap_or("");
        let from_tag = req.from().ok().and_then(|f| f.tag()).unwrap_or("");
        let branch = req.top_via().ok().and_then(|v| v.branch()).unwrap_or("");
        let h = fnv(
            self.secret,
            &[call_id.as_bytes(), from_tag.as_bytes(), branch.as_bytes()],
        );
        format!("idt{h:016x}")
    }

    /// The key of a request's transaction for the retransmission cache: this proxy's branch
    /// for it (derived from the sender's top Via branch and sent-by, RFC 3261 §16.11, so a
    /// retransmission has the same one) and the CSeq number.
    fn transaction_key(&self, req: &Message<'_>, branch: &Branch) -> u64 {
        let seq = req.cseq().map_or(0, |c| c.seq);
        fnv(
            self.secret ^ 0x5a5a,
            &[branch.as_bytes(), &seq.to_be_bytes()],
        )
    }

    fn request(
        &self,
        msg: &Message<'_>,
        bytes: &[u8],
        peer: SocketAddr,
        wire: Wire,
        out: &mut Vec<u8>,
    ) -> Action {
        let method = msg.method().map_or("", |m| m.as_str());
        let label = sip_method_label(method);
        let direction = self.direction(peer);
        let dir_label = match direction {
            Direction::ToCore => "to_core",
            Direction::ToBorder => "to_border",
        };
        // Framing and size first: the gateway forwards exactly the bytes it examined.
        if bytes.len() > self.cfg.max_message_bytes {
            self.metrics.parse_error("sip", "too_large");
            return self.answer(
                msg,
                513,
                "Message Too Large",
                &[],
                Dest { addr: peer, wire },
                out,
            );
        }
        if wire == Wire::Udp && msg.trailing_len(bytes) > 0 {
            self.metrics.parse_error("sip", "bytes_after_body");
            return self.answer(
                msg,
                400,
                "Bytes After Content-Length",
                &[],
                Dest { addr: peer, wire },
                out,
            );
        }
        if msg.headers().len() > self.cfg.max_headers {
            self.metrics.parse_error("sip", "too_many_headers");
            return self.answer(
                msg,
                400,
                "Too Many Headers",
                &[],
                Dest { addr: peer, wire },
                out,
            );
        }
        if let Err(e) = msg.validate() {
            self.metrics.parse_error("sip", sip_error_kind(&e));
            let code = e.status_code();
            let reason = if code == 505 {
                "Version Not Supported"
            } else {
                "Bad Request"
            };
            return self.answer(msg, code, reason, &[], Dest { addr: peer, wire }, out);
        }
        let is_ack = matches!(msg.method(), Some(Method::Ack));
        if is_ack {
            if let Ok(to) = msg.to() {
                if to.tag().is_some_and(|t| t == self.to_tag(msg)) {
                    self.metrics
                        .absorbed
                        .get_or_create(&KindLabel {
                            protocol: "sip",
                            kind: "ack",
                        })
                        .inc();
                    self.metrics.message("sip", label, dir_label, "none");
                    return Action::None;
                }
            }
        }
        match msg.max_forwards() {
            Ok(Some(0)) => {
                self.metrics.message("sip", label, dir_label, "none");
                return self.answer(
                    msg,
                    483,
                    "Too Many Hops",
                    &[],
                    Dest { addr: peer, wire },
                    out,
                );
            }
            Ok(_) => {}
            Err(_) => {
                self.metrics.parse_error("sip", "max_forwards");
                return self.answer(msg, 400, "Bad Request", &[], Dest { addr: peer, wire }, out);
            }
        }
        let Some(branch) = Branch::derive(msg, &self.local.host, out) else {
            self.metrics.parse_error("sip", "via");
            return self.answer(msg, 400, "Bad Request", &[], Dest { addr: peer, wire }, out);
        };
        if self.is_loop(msg, &branch) {
            self.metrics.parse_error("sip", "loop");
            return self.answer(
                msg,
                482,
                "Loop Detected",
                &[],
                Dest { addr: peer, wire },
                out,
            );
        }

        if matches!(msg.method(), Some(Method::Options)) && self.is_for_me(msg) {
            // A keep-alive ping of the proxy itself (SBCs and load balancers probe with it).
            self.metrics.message("sip", label, dir_label, "none");
            return self.answer(
                msg,
                200,
                "OK",
                &[ExtraHeader::Raw {
                    name: "Allow",
                    value: "INVITE, ACK, BYE, CANCEL, OPTIONS, MESSAGE, UPDATE, PRACK, INFO, REFER, NOTIFY, SUBSCRIBE",
                }],
                Dest { addr: peer, wire },
                out,
            );
        }
        let at_ms = now_ms();
        let kind = decided(method);
        let mut mark = None;
        if kind != Decided::NotDecided {
            let key = self.transaction_key(msg, &branch);
            let seen = self.seen.get(key, at_ms);
            let (acted, answer) = match seen {
                Some(s) if at_ms.saturating_sub(s.at_ms) < SEEN_MS && s.answer != HELD => {
                    self.metrics
                        .absorbed
                        .get_or_create(&KindLabel {
                            protocol: "sip",
                            kind: "retransmission",
                        })
                        .inc();
                    (s.acted, s.answer)
                }
                _ => {
                    let (acted, answer) = self.decide(msg, kind, peer, wire, direction, key, at_ms);
                    self.remember(key, at_ms, acted, answer);
                    (acted, answer)
                }
            };
            if answer == HELD {
                // A part of a concatenated SMS waiting for the others: nothing is sent; the
                // sender retransmits until the whole message is decided.
                self.metrics.message("sip", label, dir_label, "held");
                return Action::None;
            }
            self.metrics
                .message("sip", label, dir_label, acted.as_str());
            match acted {
                Verdict::Block => return self.block_answer(msg, answer, peer, wire, out),
                Verdict::Warn => mark = self.cfg.warn_mark.as_deref(),
                Verdict::Pass => {}
            }
            if answer != 0 {
                // Refused before a decision (malformed, too large, undecodable).
                return self.block_answer(msg, answer, peer, wire, out);
            }
        } else {
            self.metrics.message("sip", label, dir_label, "none");
            match msg.method() {
                Some(Method::Bye) => self.call_changed(msg, at_ms, false),
                Some(Method::Cancel) => self.call_changed(msg, at_ms, false),
                _ => {}
            }
        }
        self.forward(
            msg,
            Dest { addr: peer, wire },
            direction,
            mark,
            &branch,
            out,
        )
    }

    fn remember(&self, key: u64, at_ms: u64, acted: Verdict, answer: u16) {
        self.seen.insert(
            key,
            Seen {
                at_ms,
                acted,
                answer,
            },
            at_ms,
        );
    }

    /// A request is looping when one of its Vias is this proxy's with the branch this proxy
    /// would give it now (§16.3 step 4). The branch is looked for in the bytes first, so the
    /// Vias are parsed only when it is there.
    fn is_loop(&self, msg: &Message<'_>, branch: &Branch) -> bool {
        let b = branch.as_bytes();
        let Some(&first) = b.first() else {
            return false;
        };
        let seen = msg.headers_of(interdict_sip::HeaderKind::Via).any(|h| {
            h.value()
                .windows(b.len())
                .any(|w| w.first() == Some(&first) && w == b)
        });
        if !seen {
            return false;
        }
        msg.vias().skip(1).flatten().any(|v| {
            v.branch().is_some_and(|x| x.as_bytes() == b) && self.is_own_sent_by(v.host(), v.port())
        })
    }

    /// A request addressed to the proxy itself: no user part, this proxy's host and port,
    /// and no Route beyond it.
    fn is_for_me(&self, msg: &Message<'_>) -> bool {
        let Some(uri) = msg.request_uri() else {
            return false;
        };
        uri.user().is_none()
            && uri
                .host()
                .is_some_and(|h| self.is_own_sent_by(h, uri.port()))
            && msg.routes().next().is_none()
    }

    fn is_own_sent_by(&self, host: Host<'_>, port: Option<u16>) -> bool {
        let port_ok = port.unwrap_or(5060) == self.local.port;
        let host_ok = match host {
            Host::Name(n) => n.eq_ignore_ascii_case(&self.local.host),
            Host::Ipv4(a) => self.local.host.parse::<IpAddr>().ok() == Some(IpAddr::V4(a)),
            Host::Ipv6(_, a) => {
                self.local
                    .host
                    .trim_matches(['[', ']'])
                    .parse::<IpAddr>()
                    .ok()
                    == Some(IpAddr::V6(a))
            }
        };
        host_ok && port_ok
    }

    /// Decides a call or message; returns the verdict acted on and, when the gateway must
    /// answer without a decision (malformed, too large, undecodable), that answer's code.
    #[allow(clippy::too_many_arguments)]
    fn decide(
        &self,
        msg: &Message<'_>,
        kind: Decided,
        peer: SocketAddr,
        wire: Wire,
        direction: Direction,
        txn: u64,
        at_ms: u64,
    ) -> (Verdict, u16) {
        let (ingress, trunk) = self.cfg.ingress_of(peer.ip());
        let opts = IngestOptions {
            trusted: self.cfg.is_trusted(peer),
            ..self.ingest
        };
        let mut ing = match crate::ingest::sip::read(msg, &opts) {
            Ok(ing) => ing,
            Err(e) => {
                let (kind, code) = match &e {
                    IngestError::TooLarge { .. } => ("text_too_large", 513),
                    IngestError::Undecodable(_) => ("undecodable", 415),
                    _ => ("identity", 400),
                };
                self.metrics.parse_error("sip", kind);
                tracing::debug!(%peer, error = %e, "SIP request refused");
                return (Verdict::Pass, code);
            }
        };
        // A part of a concatenated SMS is decided with the parts that came before it (and,
        // over UDP, held until the last one comes).
        let mut held = Vec::new();
        if let Some(part) = ing.sms_part.take() {
            let key = (
                ing.callers
                    .first()
                    .map_or(String::new(), |c| c.value.to_string()),
                ing.callees
                    .first()
                    .map_or(String::new(), |c| c.value.to_string()),
                part.reference,
                part.total,
            );
            match self.sms_hold.add(key, part, txn, at_ms, wire == Wire::Udp) {
                super::sms_hold::Joined::Hold => return (Verdict::Pass, HELD),
                super::sms_hold::Joined::Decide {
                    text,
                    complete,
                    held: waiting,
                } => {
                    ing.text = Some(std::borrow::Cow::Owned(text));
                    ing.degraded.text_truncated |= !complete;
                    held = waiting;
                }
            }
        }
        let outcome = self.decider.decide(&ing, ingress, trunk, at_ms);
        crate::decide::record_outcome(
            &self.records,
            &crate::decide::Arrival {
                gateway: &self.gateway_id,
                protocol: Protocol::Sip,
                direction,
                method: msg.method().map_or("", |m| m.as_str()),
                ingress,
                trunk,
                peer,
                at_ms,
            },
            &ing,
            &outcome,
            self.include_text,
        );
        if outcome.acted == Verdict::Warn {
            if let (Some(d), Some(callee)) = (&self.dissuader, ing.callees.first()) {
                let what = if kind == Decided::Call {
                    "电话"
                } else {
                    "短信"
                };
                d.offer(
                    &callee.value,
                    &outcome.decision,
                    what,
                    peer,
                    &outcome.pack_version,
                );
            }
        }
        if kind == Decided::Call && outcome.acted != Verdict::Block {
            let (evicted, live) = self.dialogs.offer(
                &ing.id,
                Call {
                    call_id: inline(&ing.id),
                    caller: inline(ing.callers.first().map_or("", |c| &c.value)),
                    callee: inline(ing.callees.first().map_or("", |c| &c.value)),
                    offered_ms: at_ms,
                    answered_ms: None,
                    warned: (outcome.acted == Verdict::Warn)
                        .then(|| Box::new(outcome.decision.clone())),
                    victim_reported: false,
                    ingress,
                    peer,
                },
            );
            if evicted > 0 {
                self.metrics.calls_evicted.inc_by(evicted);
            }
            self.metrics
                .live_calls
                .set(i64::try_from(live).unwrap_or(i64::MAX));
        }
        let code = if outcome.acted == Verdict::Block {
            if outcome.degraded.deadline || outcome.degraded.engine_error {
                503
            } else {
                self.cfg.block_code.code()
            }
        } else {
            0
        };
        for txn in held {
            self.remember(txn, at_ms, outcome.acted, code);
        }
        (outcome.acted, code)
    }

    fn block_answer(
        &self,
        msg: &Message<'_>,
        code: u16,
        peer: SocketAddr,
        wire: Wire,
        out: &mut Vec<u8>,
    ) -> Action {
        let block = self.cfg.block_code;
        match code {
            c if c == block.code() => {
                let text = "fraud: blocked by Interdict";
                let mut extra = vec![ExtraHeader::Reason { cause: c, text }];
                if c == 608 {
                    extra.push(ExtraHeader::CallInfo {
                        uri: &self.cfg.call_info,
                        purpose: "jwscard",
                    });
                }
                self.answer(
                    msg,
                    c,
                    block.reason(),
                    &extra,
                    Dest { addr: peer, wire },
                    out,
                )
            }
            413 | 513 => self.answer(
                msg,
                513,
                "Message Too Large",
                &[],
                Dest { addr: peer, wire },
                out,
            ),
            415 => self.answer(
                msg,
                415,
                "Unsupported Media Type",
                &[],
                Dest { addr: peer, wire },
                out,
            ),
            503 => self.answer(
                msg,
                503,
                "Service Unavailable",
                &[ExtraHeader::Raw {
                    name: "Retry-After",
                    value: "5",
                }],
                Dest { addr: peer, wire },
                out,
            ),
            _ => self.answer(msg, 400, "Bad Request", &[], Dest { addr: peer, wire }, out),
        }
    }

    /// Where a request goes: the next Route (after this proxy's own), else the next hop for
    /// requests from the border, else the Request-URI.
    fn route(&self, msg: &Message<'_>, direction: Direction) -> (Option<Dest>, bool) {
        let mut routes = msg.routes();
        let mut strip = false;
        let mut next: Option<NameAddr<'_>> = None;
        if let Some(Ok(first)) = routes.next() {
            let u = first.uri();
            if u.host().is_some_and(|h| self.is_own_sent_by(h, u.port())) {
                strip = true;
                next = routes.next().and_then(Result::ok);
            } else {
                next = Some(first);
            }
        }
        if let Some(route) = next {
            let u = route.uri();
            let dest = u.host().and_then(host_ip).map(|ip| Dest {
                addr: SocketAddr::new(ip, u.port().unwrap_or(5060)),
                wire: uri_wire(u),
            });
            return (dest, strip);
        }
        if direction == Direction::ToCore {
            let wire = match self.cfg.next_hop_transport {
                crate::config::HopTransport::Udp => Wire::Udp,
                crate::config::HopTransport::Tcp => Wire::Tcp,
            };
            return (
                Some(Dest {
                    addr: self.cfg.next_hop,
                    wire,
                }),
                strip,
            );
        }
        let dest = msg.request_uri().and_then(|u| {
            u.host().and_then(host_ip).map(|ip| Dest {
                addr: SocketAddr::new(ip, u.port().unwrap_or(5060)),
                wire: uri_wire(u),
            })
        });
        (dest, strip)
    }

    fn forward(
        &self,
        msg: &Message<'_>,
        from: Dest,
        direction: Direction,
        mark: Option<&str>,
        branch: &Branch,
        out: &mut Vec<u8>,
    ) -> Action {
        let peer = from.addr;
        let (dest, strip) = self.route(msg, direction);
        let Some(dest) = dest else {
            return self.answer(
                msg,
                404,
                "Not Found",
                &[],
                Dest {
                    addr: peer,
                    wire: Wire::Udp,
                },
                out,
            );
        };
        let dialog_forming = matches!(
            msg.method(),
            Some(Method::Invite | Method::Subscribe | Method::Refer)
        ) || decided(msg.method().map_or("", |m| m.as_str())) == Decided::Call;
        let initial = msg.to().ok().is_some_and(|t| t.tag().is_none());
        let record_route = (dialog_forming && initial).then_some(match dest.wire {
            Wire::Udp => self.record_route_udp.as_str(),
            Wire::Tcp => self.record_route_tcp.as_str(),
        });
        let opts = ForwardOptions {
            via_host: &self.local.host,
            via_port: Some(self.local.port),
            transport: match dest.wire {
                Wire::Udp => Transport::Udp,
                Wire::Tcp => Transport::Tcp,
            },
            mark,
        };
        let edits = ProxyEdits {
            record_route,
            remove_top_route: strip,
            received: Some((peer.ip(), peer.port())),
            branch: Some(branch.as_bytes()),
        };
        match proxy_request(msg, &opts, &edits, out) {
            Ok(()) => {
                if direction == Direction::ToCore
                    && decided(msg.method().map_or("", |m| m.as_str())) == Decided::Call
                {
                    self.await_answer(msg, from, dest, mark, strip, branch);
                }
                Action::Send(dest)
            }
            Err(e) => {
                out.clear();
                self.metrics.parse_error("sip", sip_error_kind(&e));
                self.answer(
                    msg,
                    e.status_code(),
                    "Bad Request",
                    &[],
                    Dest {
                        addr: peer,
                        wire: Wire::Udp,
                    },
                    out,
                )
            }
        }
    }

    fn response(&self, msg: &Message<'_>, peer: SocketAddr, out: &mut Vec<u8>) -> Action {
        let mut vias = msg.vias();
        let Some(Ok(top)) = vias.next() else {
            self.metrics.parse_error("sip", "missing_header");
            return Action::None;
        };
        if !self.is_own_sent_by(top.host(), top.port()) {
            self.metrics.parse_error("sip", "not_our_via");
            return Action::None;
        }
        if let Some(branch) = top.branch() {
            self.upstream_answered(branch);
        }
        let Some(Ok(next)) = vias.next() else {
            return Action::None;
        };
        let direction = self.direction(peer);
        let dir_label = match direction {
            Direction::ToCore => "to_core",
            Direction::ToBorder => "to_border",
        };
        let method = msg.cseq().map_or("", |c| c.method);
        self.metrics
            .message("sip", sip_method_label(method), dir_label, "none");
        if decided(method) == Decided::Call {
            let code = msg.status_code().unwrap_or(0);
            let at_ms = now_ms();
            if (200..300).contains(&code) {
                self.call_changed(msg, at_ms, true);
            } else if code >= 300 {
                self.call_changed(msg, at_ms, false);
            }
        }
        let port = match next.rport() {
            Some(Some(p)) => p,
            _ => next.port().unwrap_or(5060),
        };
        let ip = next
            .received()
            .and_then(|r| r.parse::<IpAddr>().ok())
            .or_else(|| host_ip(next.host()));
        let Some(ip) = ip else {
            self.metrics.parse_error("sip", "via_unroutable");
            return Action::None;
        };
        let wire = if next.transport().eq_ignore_ascii_case("TCP") {
            Wire::Tcp
        } else {
            Wire::Udp
        };
        match interdict_sip::forward_response(msg, out) {
            Ok(()) => Action::Send(Dest {
                addr: SocketAddr::new(ip, port),
                wire,
            }),
            Err(e) => {
                out.clear();
                self.metrics.parse_error("sip", sip_error_kind(&e));
                Action::None
            }
        }
    }

    /// Remembers a forwarded INVITE until the next hop answers it.
    fn await_answer(
        &self,
        msg: &Message<'_>,
        from: Dest,
        dest: Dest,
        mark: Option<&str>,
        strip: bool,
        branch: &Branch,
    ) {
        let branch = fnv(0, &[branch.as_bytes()]);
        let Ok(mut pending) = self.pending.lock() else {
            return;
        };
        if pending.waiting.contains_key(&branch) {
            return; // a retransmission: the first copy's timers run on
        }
        if pending.waiting.len() >= PENDING_MAX {
            // Bounded: under a flood of unanswered INVITEs new ones are not followed (the
            // border's own timers still run).
            self.metrics
                .absorbed
                .get_or_create(&KindLabel {
                    protocol: "sip",
                    kind: "upstream_table_full",
                })
                .inc();
            return;
        }
        let deadline = now_ms().saturating_add(self.cfg.upstream_timeout_ms);
        let mut original = pending.spare.pop().unwrap_or_default();
        original.clear();
        original.extend_from_slice(msg.as_bytes());
        pending.waiting.insert(
            branch,
            Pending {
                original,
                peer: from.addr,
                wire: from.wire,
                dest,
                mark: mark.map(str::to_string),
                strip,
                next_at_ms: deadline,
                attempts: 1,
            },
        );
        pending.timers.push(std::cmp::Reverse((deadline, branch)));
    }

    /// The next hop answered (anything, 100 Trying included): stop waiting.
    fn upstream_answered(&self, branch: &str) {
        if let Ok(mut pending) = self.pending.lock() {
            // Its timer stays in the heap and is skipped when it comes due.
            if let Some(p) = pending.waiting.remove(&fnv(0, &[branch.as_bytes()])) {
                if pending.spare.len() < SPARE_MAX {
                    pending.spare.push(p.original);
                }
            }
        }
    }

    /// INVITEs the next hop has not answered in time: sent again (the timeout doubling each
    /// time), and after `upstream_attempts` answered 503 to the border. Returns what to send.
    fn upstream_timeouts(&self, now_ms: u64) -> Vec<(Dest, Vec<u8>)> {
        let due: Vec<Pending> = match self.pending.lock() {
            Ok(mut guard) => {
                let pending = &mut *guard;
                let mut due = Vec::new();
                while let Some(std::cmp::Reverse((at, key))) = pending.timers.peek().copied() {
                    if at > now_ms {
                        break;
                    }
                    pending.timers.pop();
                    let Some(p) = pending.waiting.get_mut(&key) else {
                        continue; // answered meanwhile
                    };
                    if p.next_at_ms != at {
                        continue; // a stale timer of a rescheduled entry
                    }
                    if p.attempts < self.cfg.upstream_attempts {
                        // Doubling: timeout, 2 × timeout, 4 × timeout …
                        let backoff = self
                            .cfg
                            .upstream_timeout_ms
                            .saturating_mul(1u64 << p.attempts.min(16));
                        p.attempts += 1;
                        p.next_at_ms = now_ms.saturating_add(backoff);
                        pending.timers.push(std::cmp::Reverse((p.next_at_ms, key)));
                        due.push(p.clone());
                    } else if let Some(p) = pending.waiting.remove(&key) {
                        due.push(Pending {
                            attempts: u32::MAX,
                            ..p
                        });
                    }
                }
                due
            }
            Err(_) => Vec::new(),
        };
        let mut sends = Vec::with_capacity(due.len());
        for p in due {
            let Ok(req) = Message::parse_datagram(&p.original)
                .or_else(|_| Message::parse_stream(&p.original))
            else {
                continue;
            };
            let mut out = Vec::with_capacity(p.original.len() + 256);
            if p.attempts == u32::MAX {
                self.metrics.upstream_timeouts.inc();
                tracing::warn!(next_hop = %p.dest.addr, "next hop did not answer an INVITE; answered 503");
                let action = self.answer(
                    &req,
                    503,
                    "Service Unavailable",
                    &[ExtraHeader::Raw {
                        name: "Retry-After",
                        value: "5",
                    }],
                    Dest {
                        addr: p.peer,
                        wire: p.wire,
                    },
                    &mut out,
                );
                if let Action::Send(d) = action {
                    sends.push((d, out));
                }
                continue;
            }
            let opts = ForwardOptions {
                via_host: &self.local.host,
                via_port: Some(self.local.port),
                transport: match p.dest.wire {
                    Wire::Udp => Transport::Udp,
                    Wire::Tcp => Transport::Tcp,
                },
                mark: p.mark.as_deref(),
            };
            let edits = ProxyEdits {
                record_route: Some(match p.dest.wire {
                    Wire::Udp => self.record_route_udp.as_str(),
                    Wire::Tcp => self.record_route_tcp.as_str(),
                }),
                remove_top_route: p.strip,
                received: Some((p.peer.ip(), p.peer.port())),
                branch: None,
            };
            if proxy_request(&req, &opts, &edits, &mut out).is_ok() {
                sends.push((p.dest, out));
            }
        }
        sends
    }

    /// Feeds a call's answer or end to the dialog table and the engine.
    fn call_changed(&self, msg: &Message<'_>, at_ms: u64, answered: bool) {
        let Ok(call_id) = msg.call_id() else { return };
        let change = if answered {
            self.dialogs.answered(call_id, at_ms)
        } else {
            self.dialogs.ended(call_id, at_ms)
        };
        let Some(change) = change else { return };
        let (call, kind) = match &change {
            Change::Answered(call) => (call, EventKind::CallAnswered),
            Change::Ended(call, duration) => (
                call,
                EventKind::CallEnded {
                    duration_ms: *duration,
                },
            ),
        };
        let event = Event {
            kind,
            caller: &call.caller,
            callee: &call.callee,
            text: None,
            ingress: call.ingress,
            trunk: None,
            at_ms,
        };
        // Behaviour only: the outcome of an answered or ended call is not acted on.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.decider.engine().decide(&event)
        }));
        self.metrics
            .live_calls
            .set(i64::try_from(self.dialogs.len()).unwrap_or(i64::MAX));
    }

    /// Periodic work: forget old transactions, drop stale calls, and report warned calls
    /// that have been answered for long as victims at risk.
    pub fn tick(&self, now_ms: u64) -> Vec<(Dest, Vec<u8>)> {
        let sends = self.upstream_timeouts(now_ms);
        // The dialog sweep runs about once a second (the upstream timers every tick).
        if now_ms.saturating_sub(self.last_sweep_ms.load(Ordering::Relaxed)) < 1_000 {
            return sends;
        }
        self.last_sweep_ms.store(now_ms, Ordering::Relaxed);
        let victims = self.dialogs.sweep(
            now_ms,
            self.cfg.call_timeout_s.saturating_mul(1000),
            self.cfg.victim_after_s.saturating_mul(1000),
        );
        self.metrics
            .live_calls
            .set(i64::try_from(self.dialogs.len()).unwrap_or(i64::MAX));
        for call in victims {
            self.metrics.victims_at_risk.inc();
            let seconds = call
                .answered_ms
                .map_or(0, |a| now_ms.saturating_sub(a) / 1000);
            tracing::warn!(
                call_id = %call.call_id,
                caller = %call.caller,
                callee = %call.callee,
                seconds,
                "victim at risk: a warned call has been answered and is going on"
            );
            let Some(decision) = call.warned.map(|d| *d) else {
                continue;
            };
            self.records.send(DecisionRecord {
                kind: RecordKind::VictimAtRisk,
                at_ms: now_ms,
                gateway: self.gateway_id.clone(),
                protocol: Protocol::Sip,
                direction: Direction::ToCore,
                method: "INVITE".into(),
                ingress: call.ingress,
                trunk: None,
                peer: Some(call.peer),
                message_id: call.call_id.to_string(),
                pack_version: Arc::from(self.decider.engine().snapshot().version()),
                latency_ns: 0,
                degraded: Degraded::default(),
                acted: Verdict::Warn,
                decision,
                shadow: None,
                call_seconds: Some(seconds),
                text: None,
            });
        }
        sends
    }
}

/// The strongest evidence of a decision in a few words (logs, `make run`'s summary).
pub fn evidence_summary(evidence: &[Evidence]) -> String {
    evidence
        .first()
        .and_then(|e| serde_json::to_string(e).ok())
        .unwrap_or_default()
}
