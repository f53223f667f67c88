//! Dissuasion SMS (劝阻短信): when a call or an SMS to a subscriber is warned, the gateway
//! submits a warning to that subscriber over its own bind to the SMSC.
//!
//! Police centres dissuade likely victims by SMS, by a 96110 call and in person; the SMS is
//! the one that can go out within seconds, while the scam is still going on. At most one is
//! sent per subscriber per `period_s` (a campaign hitting one number must not turn the
//! gateway into a spammer), the subscribers remembered are bounded, and each one sent is a
//! [`RecordKind::DissuasionSent`] record in the police feed.
//!
//! The inline path only hands a request to a bounded queue ([`Dissuader::offer`] never
//! waits); a full queue or an unreachable SMSC is counted, never felt by the traffic.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use interdict_engine::{Decision, Verdict};
use interdict_smpp::{status, Address, Bind, Body, CommandId, Header, Pdu, Sm, Tlvs, HEADER_LEN};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::config::DissuasionConfig;
use crate::metrics::Metrics;
use crate::record::{DecisionRecord, Degraded, Direction, Protocol, RecordKind, RecordSink};

struct Request {
    subscriber: String,
    decision: Decision,
    kind: &'static str,
    peer: SocketAddr,
    pack_version: Arc<str>,
    at: Instant,
}

/// Hands warned subscribers to the dissuasion task. Cheap to clone.
#[derive(Clone)]
pub struct Dissuader {
    tx: mpsc::Sender<Request>,
    metrics: Arc<Metrics>,
}

impl Dissuader {
    /// Starts the dissuasion task on the current tokio runtime; it binds to `smsc` when it
    /// first has something to send (and again after a lost connection).
    pub fn start(
        cfg: DissuasionConfig,
        smsc: SocketAddr,
        records: RecordSink,
        metrics: Arc<Metrics>,
        gateway_id: Arc<str>,
    ) -> Dissuader {
        let (tx, rx) = mpsc::channel(1_024);
        let task = Task {
            cfg,
            smsc,
            records,
            metrics: metrics.clone(),
            gateway_id,
            sent: HashMap::new(),
            order: VecDeque::new(),
            conn: None,
            seq: 1,
        };
        tokio::spawn(task.run(rx));
        Dissuader { tx, metrics }
    }

    /// Asks for a dissuasion SMS to `subscriber`, the callee of a warned `decision` of `kind`
    /// (电话 or 短信) by pack `pack_version`. Never waits; a full queue is counted.
    pub fn offer(
        &self,
        subscriber: &str,
        decision: &Decision,
        kind: &'static str,
        peer: SocketAddr,
        pack_version: &Arc<str>,
    ) {
        if subscriber.is_empty() {
            return;
        }
        let request = Request {
            subscriber: subscriber.to_string(),
            decision: decision.clone(),
            kind,
            peer,
            pack_version: pack_version.clone(),
            at: Instant::now(),
        };
        if self.tx.try_send(request).is_err() {
            self.metrics.smpp_event("dissuasion_dropped");
        }
    }
}

struct Task {
    cfg: DissuasionConfig,
    smsc: SocketAddr,
    records: RecordSink,
    metrics: Arc<Metrics>,
    gateway_id: Arc<str>,
    sent: HashMap<String, Instant>,
    order: VecDeque<(Instant, String)>,
    conn: Option<TcpStream>,
    seq: u32,
}

impl Task {
    async fn run(mut self, mut rx: mpsc::Receiver<Request>) {
        while let Some(req) = rx.recv().await {
            let period = Duration::from_secs(self.cfg.period_s);
            if self
                .sent
                .get(&req.subscriber)
                .is_some_and(|t| req.at.saturating_duration_since(*t) < period)
            {
                self.metrics.smpp_event("dissuasion_suppressed");
                continue;
            }
            match self.submit(&req).await {
                Ok(()) => {
                    self.remember(&req.subscriber, req.at);
                    self.metrics.smpp_event("dissuasion_sent");
                    self.record(&req);
                }
                Err(e) => {
                    self.conn = None;
                    self.metrics.smpp_event("dissuasion_failed");
                    tracing::warn!(subscriber = %req.subscriber, error = %e, smsc = %self.smsc, "dissuasion SMS not sent");
                }
            }
        }
    }

    fn remember(&mut self, subscriber: &str, at: Instant) {
        self.sent.insert(subscriber.to_string(), at);
        self.order.push_back((at, subscriber.to_string()));
        let period = Duration::from_secs(self.cfg.period_s);
        while let Some((t, s)) = self.order.front() {
            let stale = at.saturating_duration_since(*t) >= period;
            if !stale && self.sent.len() <= self.cfg.max_subscribers {
                break;
            }
            // Forget it unless a later send refreshed it.
            if self.sent.get(s) == Some(t) {
                self.sent.remove(s);
            }
            self.order.pop_front();
        }
    }

    fn record(&self, req: &Request) {
        let mut decision = req.decision.clone();
        decision.verdict = Verdict::Warn;
        self.records.send(DecisionRecord {
            kind: RecordKind::DissuasionSent,
            at_ms: now_ms(),
            gateway: self.gateway_id.clone(),
            protocol: Protocol::Smpp,
            direction: Direction::ToBorder,
            method: "submit_sm".into(),
            ingress: interdict_engine::Ingress::Domestic,
            trunk: None,
            peer: Some(req.peer),
            message_id: req.subscriber.clone(),
            pack_version: req.pack_version.clone(),
            latency_ns: 0,
            degraded: Degraded::default(),
            acted: Verdict::Warn,
            decision,
            shadow: None,
            call_seconds: None,
            text: None,
        });
    }

    fn next_seq(&mut self) -> u32 {
        let s = self.seq;
        self.seq = if s >= 0x7FFF_FFFF { 1 } else { s + 1 };
        s
    }

    /// Submits one dissuasion SMS and waits (bounded) for the SMSC's answer.
    async fn submit(&mut self, req: &Request) -> Result<(), String> {
        const WAIT: Duration = Duration::from_secs(5);
        if self.conn.is_none() {
            let mut conn = tokio::time::timeout(WAIT, TcpStream::connect(self.smsc))
                .await
                .map_err(|_| "connect timed out".to_string())?
                .map_err(|e| format!("connect: {e}"))?;
            let seq = self.next_seq();
            let bind = Pdu {
                command_status: 0,
                sequence_number: seq,
                body: Body::BindTransmitter(Bind {
                    system_id: self.cfg.system_id.as_bytes(),
                    password: self.cfg.password.as_bytes(),
                    system_type: b"",
                    interface_version: 0x34,
                    address_range: Address::default(),
                    tlvs: Tlvs::EMPTY,
                }),
            }
            .to_vec()
            .map_err(|e| e.to_string())?;
            conn.write_all(&bind).await.map_err(|e| e.to_string())?;
            let status = answer(&mut conn, seq, WAIT).await?;
            if status != status::ESME_ROK {
                return Err(format!("bind refused with status {status:#x}"));
            }
            self.conn = Some(conn);
        }
        // Pack category ids are ASCII slugs (police_impersonation); the subscriber reads
        // Chinese, so a slug becomes the generic 电信网络 (a pack may name categories in
        // Chinese, which are used as they are).
        let category = req
            .decision
            .categories
            .first()
            .map(|c| c.as_ref())
            .filter(|c| !c.is_ascii())
            .unwrap_or("电信网络");
        let text = self
            .cfg
            .template
            .replace("{category}", category)
            .replace("{kind}", req.kind);
        let mut ucs2 = Vec::new();
        interdict_smpp::text::ucs2::encode(&text, &mut ucs2);
        let (digits, ton) = match req.subscriber.strip_prefix('+') {
            Some(rest) => (rest, 1),
            None => (req.subscriber.as_str(), 0),
        };
        let mut tlv_raw = Vec::new();
        let short = if ucs2.len() <= 140 {
            &ucs2[..]
        } else {
            interdict_smpp::tlv::write_tlv(
                &mut tlv_raw,
                interdict_smpp::TlvTag::MessagePayload,
                &ucs2,
            )
            .map_err(|e| e.to_string())?;
            &[][..]
        };
        let tlvs = Tlvs::parse(&tlv_raw).map_err(|_| "payload TLV".to_string())?;
        let seq = self.next_seq();
        let pdu = Pdu {
            command_status: 0,
            sequence_number: seq,
            body: Body::SubmitSm(Sm {
                source: Address {
                    ton: 0,
                    npi: 0,
                    addr: self.cfg.sender.as_bytes(),
                },
                destination: Address {
                    ton,
                    npi: 1,
                    addr: digits.as_bytes(),
                },
                data_coding: 0x08,
                short_message: short,
                tlvs,
                ..Sm::default()
            }),
        }
        .to_vec()
        .map_err(|e| e.to_string())?;
        let conn = self.conn.as_mut().ok_or("no connection")?;
        conn.write_all(&pdu).await.map_err(|e| e.to_string())?;
        let status = answer(conn, seq, WAIT).await?;
        if status != status::ESME_ROK {
            return Err(format!("submit_sm refused with status {status:#x}"));
        }
        Ok(())
    }
}

/// Reads PDUs until the answer to `seq` (answering enquire_link on the way); its status.
async fn answer(conn: &mut TcpStream, seq: u32, wait: Duration) -> Result<u32, String> {
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut head = [0u8; HEADER_LEN];
        tokio::time::timeout(left, conn.read_exact(&mut head))
            .await
            .map_err(|_| "no answer from the SMSC".to_string())?
            .map_err(|e| e.to_string())?;
        let header = Header::peek(&head).ok_or("short header")?;
        let body_len = (header.command_length as usize)
            .checked_sub(HEADER_LEN)
            .filter(|n| *n <= 65_536)
            .ok_or("bad command_length")?;
        let mut body = vec![0u8; body_len];
        tokio::time::timeout(left, conn.read_exact(&mut body))
            .await
            .map_err(|_| "no answer from the SMSC".to_string())?
            .map_err(|e| e.to_string())?;
        if header.command_id == CommandId::EnquireLink as u32 {
            let mut resp = Vec::new();
            interdict_smpp::encode::write_header_only(
                &mut resp,
                CommandId::EnquireLinkResp,
                0,
                header.sequence_number,
            );
            conn.write_all(&resp).await.map_err(|e| e.to_string())?;
            continue;
        }
        if header.is_response() && header.sequence_number == seq {
            return Ok(header.command_status);
        }
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
