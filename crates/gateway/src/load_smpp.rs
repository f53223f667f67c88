//! `interdict load smpp`: an SMPP load generator for the gateway and the SMSC simulator.
//!
//! Binds N sessions to a target, submits a configured mix of messages (ordinary notices,
//! fraud scripts, concatenated UCS-2 messages whose UDH parts split a character in two)
//! at a target rate or as fast as each session's window allows, bounded in count and in
//! time, and reports the achieved rate, the responses by command_status and the latency
//! percentiles seen by the ESME. Loopback targets only unless explicitly allowed.
//!
//! Every PDU is encoded once before the run; each submit copies its template into a
//! batch buffer and patches the sequence number (and the destination and concatenation
//! reference) in place, so one core drives well over 100,000 submit_sm/s on loopback.
//!
//! The texts and numbers are synthetic, written for this tool: destinations are the block
//! +86 138 0001 xxxx (clear of the bundled lists, visited with a large stride, not as a
//! sequential sweep), senders are a made-up service code and a made-up +86 170 number for
//! the scripts; none belongs to a real person.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use interdict_smpp::encode::{self, write_header_only};
use interdict_smpp::{
    patch_sequence, text, Address, Bind, Body, CommandId, Header, Pdu, Sm, DEFAULT_MAX_PDU_LEN,
};
use rustc_hash::FxHashMap;
use serde::Serialize;
use tokio::net::TcpStream;

use crate::smpp_wire::{PduReader, PduWriter};

/// Kinds of message in the mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Ordinary notices (UCS-2 Chinese and GSM English): should pass.
    Ordinary,
    /// Fraud scripts (UCS-2 Chinese): should be blocked or warned.
    Scam,
    /// Concatenated UCS-2 messages (2 parts, split mid-character), ordinary and scam.
    ConcatUcs2,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::Ordinary, Kind::Scam, Kind::ConcatUcs2];

    fn name(self) -> &'static str {
        match self {
            Kind::Ordinary => "ordinary",
            Kind::Scam => "scam",
            Kind::ConcatUcs2 => "concat_ucs2",
        }
    }
}

/// Weights of the message kinds (e.g. `ordinary=90,scam=5,concat_ucs2=5`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Mix {
    /// Weight of ordinary notices.
    pub ordinary: u32,
    /// Weight of fraud scripts.
    pub scam: u32,
    /// Weight of concatenated UCS-2 messages (each counts once, sent as 2 submit_sm).
    pub concat_ucs2: u32,
}

impl Default for Mix {
    fn default() -> Self {
        Mix {
            ordinary: 90,
            scam: 5,
            concat_ucs2: 5,
        }
    }
}

impl std::str::FromStr for Mix {
    type Err = String;
    fn from_str(s: &str) -> Result<Mix, String> {
        let mut mix = Mix {
            ordinary: 0,
            scam: 0,
            concat_ucs2: 0,
        };
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (name, weight) = item
                .split_once('=')
                .ok_or_else(|| format!("{item:?}: expected kind=weight"))?;
            let weight: u32 = weight
                .trim()
                .parse()
                .map_err(|_| format!("{item:?}: the weight is not a whole number"))?;
            match name.trim() {
                "ordinary" => mix.ordinary = weight,
                "scam" => mix.scam = weight,
                "concat_ucs2" => mix.concat_ucs2 = weight,
                other => {
                    return Err(format!(
                        "unknown kind {other:?} (ordinary, scam, concat_ucs2)"
                    ))
                }
            }
        }
        if mix.ordinary == 0 && mix.scam == 0 && mix.concat_ucs2 == 0 {
            return Err("every weight is 0".into());
        }
        Ok(mix)
    }
}

impl Mix {
    fn weight(&self, kind: Kind) -> u32 {
        match kind {
            Kind::Ordinary => self.ordinary,
            Kind::Scam => self.scam,
            Kind::ConcatUcs2 => self.concat_ucs2,
        }
    }
}

/// The target rate: a number of submit_sm per second over all sessions, or as fast as
/// the windows allow.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    /// As fast as the windows allow.
    Max,
    /// submit_sm per second, over all sessions.
    PerSecond(f64),
}

impl std::str::FromStr for Rate {
    type Err = String;
    fn from_str(s: &str) -> Result<Rate, String> {
        if s.eq_ignore_ascii_case("max") {
            return Ok(Rate::Max);
        }
        match s.parse::<f64>() {
            Ok(r) if r > 0.0 && r.is_finite() => Ok(Rate::PerSecond(r)),
            _ => Err(format!("{s:?}: expected a positive number or `max`")),
        }
    }
}

/// How a session binds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BindAs {
    /// bind_transmitter.
    #[default]
    Transmitter,
    /// bind_transceiver (receives receipts on the same session).
    Transceiver,
}

/// One load run.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// The gateway or SMSC to load.
    pub target: SocketAddr,
    /// Allow a non-loopback target.
    pub allow_non_loopback: bool,
    /// Sessions (binds) in parallel.
    pub sessions: usize,
    /// Outstanding submit_sm per session.
    pub window: usize,
    /// submit_sm to send in all (the last concatenated message is finished).
    pub count: u64,
    /// Target rate.
    pub rate: Rate,
    /// Stop submitting after this long.
    pub duration: Duration,
    /// After submitting, wait this long at most for outstanding responses.
    pub drain: Duration,
    /// The message mix.
    pub mix: Mix,
    /// Bind type.
    pub bind_as: BindAs,
    /// system_id of the binds.
    pub system_id: String,
    /// Password of the binds.
    pub password: String,
    /// registered_delivery of every submit_sm (1 asks for receipts).
    pub registered_delivery: u8,
}

impl Default for LoadConfig {
    fn default() -> Self {
        LoadConfig {
            target: SocketAddr::from(([127, 0, 0, 1], 2775)),
            allow_non_loopback: false,
            sessions: 4,
            window: 256,
            count: 100_000,
            rate: Rate::Max,
            duration: Duration::from_secs(10),
            drain: Duration::from_secs(5),
            mix: Mix::default(),
            bind_as: BindAs::Transmitter,
            system_id: "load".into(),
            password: "load".into(),
            registered_delivery: 0,
        }
    }
}

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

/// What a run achieved.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    /// The target.
    pub target: String,
    /// Sessions asked for.
    pub sessions: usize,
    /// Sessions that bound.
    pub sessions_bound: usize,
    /// Window per session.
    pub window: usize,
    /// The mix used.
    pub mix: Mix,
    /// submit_sm sent.
    pub submitted: u64,
    /// submit_sm sent by kind of message.
    pub submitted_by_kind: BTreeMap<&'static str, u64>,
    /// Messages sent (a concatenated message counts once).
    pub messages: u64,
    /// submit_sm_resp received.
    pub responses: u64,
    /// submit_sm_resp by command_status (`0x00000000` ...).
    pub by_status: BTreeMap<String, u64>,
    /// submit_sm_resp by kind of message, then by command_status (e.g. scams refused
    /// by the gateway, ordinary notices accepted).
    pub by_kind_status: BTreeMap<&'static str, BTreeMap<String, u64>>,
    /// generic_nack received for a submit_sm.
    pub generic_nack: u64,
    /// Responses whose sequence_number matches no outstanding submit_sm (a proxy that
    /// maps sequence numbers wrongly, or a duplicate response).
    pub unknown_sequence: u64,
    /// Successful submit_sm_resp without a message_id (a body is required on success).
    pub missing_message_id: u64,
    /// submit_sm never answered within the drain time.
    pub unanswered: u64,
    /// deliver_sm received (answered with deliver_sm_resp).
    pub deliver_sm: u64,
    /// Of which delivery receipts.
    pub receipts: u64,
    /// Session errors (bind refused, connection lost, ...).
    pub errors: Vec<String>,
    /// Seconds from the first submit to the last response.
    pub elapsed_s: f64,
    /// submit_sm_resp per second over `elapsed_s`: the achieved rate.
    pub rate: f64,
    /// Latency from submit to response, for answered submits.
    pub latency_us: Latency,
}

impl LoadReport {
    /// True when every submit_sm was answered and no session failed.
    pub fn clean(&self) -> bool {
        self.errors.is_empty()
            && self.unanswered == 0
            && self.generic_nack == 0
            && self.unknown_sequence == 0
            && self.missing_message_id == 0
    }
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The target is not on loopback.
    #[error("{0} is not a loopback address (pass --allow-non-loopback to load it)")]
    NotLoopback(SocketAddr),
    /// A setting is unusable.
    #[error("{0}")]
    Config(String),
    /// The runtime could not start.
    #[error("runtime: {0}")]
    Runtime(std::io::Error),
}

// ---------------------------------------------------------------------------------------
// Message templates

/// Synthetic texts written for this tool.
const ORDINARY_UCS2: &[&str] = &[
    "【社区驿站】您的包裹已到达小区驿站，取件码6-2-3018，请于今日18:00前凭码领取。",
    "【物业通知】本周六上午9:00至12:00小区停水检修，请提前储水，给您带来不便敬请谅解。",
    "【体检中心】您预约的体检时间为明天上午8:30，请空腹前往三楼服务台登记。",
];
const ORDINARY_GSM: &[&str] =
    &["Reminder: your library books are due on Friday. Renew online or at the front desk."];
const SCAM_UCS2: &[&str] = &[
    "【公安局】您名下账户涉嫌洗钱，请立即将资金转入安全账户配合调查，案件保密不得告诉家人。",
    "亲，刷单兼职日结，每单佣金20元，需要先垫付本金，完成后立即返还本金和佣金，加微信详聊。",
    "您好，导师带单稳赚不赔，收益率300%，点击链接下载app注册即可。",
];
const CONCAT_UCS2: &[(&str, bool)] = &[
    (
        "【刑侦支队】您的身份证涉嫌一起洗钱案件，已被列为嫌疑人，名下账户将被冻结。为证明清白，\
         请在今天下班前将全部资金转入安全账户接受清查，案件保密，不得告诉任何人，否则将依法逮捕。",
        true,
    ),
    (
        "【社区通知】尊敬的业主您好，本小区将于下周一至周三进行电梯年度检修，每部电梯检修时间约为半天，\
         检修期间请走楼梯或使用相邻单元电梯，如有特殊困难请联系物业服务中心，我们将安排工作人员协助，\
         感谢您的理解与配合。",
        false,
    ),
];
/// Octets of UCS-2 text per concatenated part: odd, so a character straddles each split.
const PART_OCTETS: usize = 133;
/// Synthetic senders: a made-up service code for notices, a made-up mobile for scams.
const NOTICE_SENDER: &[u8] = b"1069000000001";
const SCAM_SENDER: &[u8] = b"8617000009999";
/// Destination template: the last 4 digits rotate over 0000..9999 (a synthetic block clear
/// of the bundled fraud and suspect lists).
const DESTINATION: &[u8] = b"8613800010000";

/// One pre-encoded submit_sm and where to patch it.
#[derive(Debug, Clone)]
struct Template {
    wire: Vec<u8>,
    /// Offset of the 4 rotating destination digits.
    dest_digits: usize,
    /// Offset of the 8-bit concatenation reference in the UDH.
    concat_ref: Option<usize>,
}

/// A message: one or more submit_sm sent back to back.
#[derive(Debug, Clone)]
struct Group {
    kind: Kind,
    parts: Vec<Template>,
}

fn offset_in(whole: &[u8], part: &[u8]) -> usize {
    (part.as_ptr() as usize).saturating_sub(whole.as_ptr() as usize)
}

fn template(
    source: &[u8],
    data_coding: u8,
    esm_class: u8,
    short_message: &[u8],
    registered_delivery: u8,
) -> Result<Template, String> {
    let sm = Sm {
        source: Address {
            ton: if source == SCAM_SENDER { 1 } else { 0 },
            npi: 1,
            addr: source,
        },
        destination: Address {
            ton: 1,
            npi: 1,
            addr: DESTINATION,
        },
        esm_class,
        data_coding,
        registered_delivery,
        short_message,
        ..Default::default()
    };
    let wire = Pdu {
        command_status: 0,
        sequence_number: 0,
        body: Body::SubmitSm(sm),
    }
    .to_vec()
    .map_err(|e| e.to_string())?;
    let pdu = Pdu::decode(&wire).map_err(|e| e.to_string())?;
    let sm = pdu.as_sm().ok_or("not a submit_sm")?;
    let dest_digits = offset_in(&wire, sm.destination.addr) + DESTINATION.len() - 4;
    let concat_ref = (esm_class & 0x40 != 0).then(|| offset_in(&wire, sm.short_message) + 3);
    Ok(Template {
        wire,
        dest_digits,
        concat_ref,
    })
}

fn ucs2(text: &str) -> Vec<u8> {
    let mut v = Vec::new();
    text::ucs2::encode(text, &mut v);
    v
}

/// Every message of every kind, encoded.
fn build_groups(registered_delivery: u8) -> Result<Vec<Group>, String> {
    let rd = registered_delivery;
    let mut groups = Vec::new();
    for t in ORDINARY_UCS2 {
        groups.push(Group {
            kind: Kind::Ordinary,
            parts: vec![template(NOTICE_SENDER, 8, 0, &ucs2(t), rd)?],
        });
    }
    for t in ORDINARY_GSM {
        let gsm = text::gsm7::encode_unpacked(t).map_err(|c| format!("{c:?} is not GSM"))?;
        groups.push(Group {
            kind: Kind::Ordinary,
            parts: vec![template(NOTICE_SENDER, 0, 0, &gsm, rd)?],
        });
    }
    for t in SCAM_UCS2 {
        groups.push(Group {
            kind: Kind::Scam,
            parts: vec![template(SCAM_SENDER, 8, 0, &ucs2(t), rd)?],
        });
    }
    for (t, scam) in CONCAT_UCS2 {
        let octets = ucs2(t);
        let chunks: Vec<&[u8]> = octets.chunks(PART_OCTETS).collect();
        let total = u8::try_from(chunks.len()).map_err(|_| "too many parts")?;
        let sender = if *scam { SCAM_SENDER } else { NOTICE_SENDER };
        let mut parts = Vec::new();
        for (i, chunk) in chunks.iter().enumerate() {
            let seq = u8::try_from(i + 1).map_err(|_| "too many parts")?;
            let mut sm = vec![5, 0, 3, 0, total, seq];
            sm.extend_from_slice(chunk);
            parts.push(template(sender, 8, 0x40, &sm, rd)?);
        }
        groups.push(Group {
            kind: Kind::ConcatUcs2,
            parts,
        });
    }
    Ok(groups)
}

/// The order of kinds: a smooth weighted round robin over the mix.
fn schedule(mix: &Mix) -> Vec<Kind> {
    let total: i64 = Kind::ALL.iter().map(|k| i64::from(mix.weight(*k))).sum();
    let mut current = [0i64; 3];
    let mut out = Vec::new();
    let len = total.clamp(1, 10_000);
    for _ in 0..len {
        let mut best = 0usize;
        for (i, k) in Kind::ALL.iter().enumerate() {
            if let Some(c) = current.get_mut(i) {
                *c += i64::from(mix.weight(*k));
            }
            if current.get(i) > current.get(best) {
                best = i;
            }
        }
        if let Some(c) = current.get_mut(best) {
            *c -= total;
        }
        if let Some(k) = Kind::ALL.get(best) {
            out.push(*k);
        }
    }
    out
}

/// The pre-encoded messages and their order.
#[derive(Debug)]
struct Plan {
    by_kind: [Vec<Group>; 3],
    order: Vec<Kind>,
}

impl Plan {
    fn new(cfg: &LoadConfig) -> Result<Plan, String> {
        let groups = build_groups(cfg.registered_delivery)?;
        let of = |k: Kind| groups.iter().filter(|g| g.kind == k).cloned().collect();
        Ok(Plan {
            by_kind: [of(Kind::Ordinary), of(Kind::Scam), of(Kind::ConcatUcs2)],
            order: schedule(&cfg.mix),
        })
    }

    fn group(&self, n: u64, per_kind: &mut [u64; 3]) -> Option<&Group> {
        let kind = *self
            .order
            .get((n % self.order.len().max(1) as u64) as usize)?;
        let i = Kind::ALL.iter().position(|k| *k == kind)?;
        let groups = self.by_kind.get(i)?;
        let used = per_kind.get_mut(i)?;
        let g = groups.get((*used % groups.len().max(1) as u64) as usize);
        *used += 1;
        g
    }
}

// ---------------------------------------------------------------------------------------
// Latency histogram: log-linear buckets of nanoseconds, ~0.2 % precision, fixed memory.

const SUB_BITS: u32 = 9;
const SUB: u64 = 1 << SUB_BITS;

#[derive(Debug, Clone)]
struct Histogram {
    counts: Vec<u64>,
    total: u64,
    sum_ns: u128,
    max_ns: u64,
}

impl Histogram {
    fn new() -> Self {
        Histogram {
            counts: vec![0; (2 * SUB + (64 - u64::from(SUB_BITS) - 1) * SUB) as usize],
            total: 0,
            sum_ns: 0,
            max_ns: 0,
        }
    }

    fn index(v: u64) -> usize {
        if v < 2 * SUB {
            return v as usize;
        }
        let exp = 63 - u64::from(v.leading_zeros()) - u64::from(SUB_BITS); // >= 1
        let mantissa = v >> exp; // in SUB..2*SUB
        (2 * SUB + (exp - 1) * SUB + (mantissa - SUB)) as usize
    }

    fn lowest(index: usize) -> u64 {
        let i = index as u64;
        if i < 2 * SUB {
            return i;
        }
        let exp = (i - 2 * SUB) / SUB + 1;
        let mantissa = (i - 2 * SUB) % SUB + SUB;
        mantissa << exp
    }

    fn record(&mut self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        if let Some(c) = self.counts.get_mut(Self::index(ns)) {
            *c += 1;
        }
        self.total += 1;
        self.sum_ns += u128::from(ns);
        self.max_ns = self.max_ns.max(ns);
    }

    fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.sum_ns += other.sum_ns;
        self.max_ns = self.max_ns.max(other.max_ns);
    }

    fn percentile_us(&self, p: f64) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        let rank = ((p / 100.0) * self.total as f64).ceil().max(1.0) as u64;
        let mut seen = 0u64;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Self::lowest(i).min(self.max_ns) as f64 / 1000.0;
            }
        }
        self.max_ns as f64 / 1000.0
    }

    fn latency(&self) -> Latency {
        Latency {
            p50: self.percentile_us(50.0),
            p90: self.percentile_us(90.0),
            p99: self.percentile_us(99.0),
            max: self.max_ns as f64 / 1000.0,
            mean: if self.total == 0 {
                0.0
            } else {
                (self.sum_ns / u128::from(self.total)) as f64 / 1000.0
            },
        }
    }
}

// ---------------------------------------------------------------------------------------
// Sessions

#[derive(Debug)]
struct SessionResult {
    bound: bool,
    submitted: u64,
    by_kind: [u64; 3],
    messages: u64,
    responses: u64,
    /// (kind index, command_status) → submit_sm_resp count.
    by_status: FxHashMap<(u8, u32), u64>,
    generic_nack: u64,
    unknown_sequence: u64,
    missing_message_id: u64,
    unanswered: u64,
    deliver_sm: u64,
    receipts: u64,
    error: Option<String>,
    hist: Histogram,
    started: Option<Instant>,
    finished: Option<Instant>,
}

impl SessionResult {
    fn new() -> Self {
        SessionResult {
            bound: false,
            submitted: 0,
            by_kind: [0; 3],
            messages: 0,
            responses: 0,
            by_status: FxHashMap::default(),
            generic_nack: 0,
            unknown_sequence: 0,
            missing_message_id: 0,
            unanswered: 0,
            deliver_sm: 0,
            receipts: 0,
            error: None,
            hist: Histogram::new(),
            started: None,
            finished: None,
        }
    }
}

type Reader = PduReader<tokio::net::tcp::OwnedReadHalf>;
type Writer = PduWriter<tokio::net::tcp::OwnedWriteHalf>;

async fn connect_and_bind(cfg: &LoadConfig, index: usize) -> Result<(Reader, Writer), String> {
    let stream = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(cfg.target))
        .await
        .map_err(|_| format!("connect to {}: timed out", cfg.target))?
        .map_err(|e| format!("connect to {}: {e}", cfg.target))?;
    let _ = stream.set_nodelay(true);
    let (rd, wr) = stream.into_split();
    let mut reader = PduReader::new(rd, DEFAULT_MAX_PDU_LEN);
    let mut writer = PduWriter::new(wr);
    let bind = Bind {
        system_id: cfg.system_id.as_bytes(),
        password: cfg.password.as_bytes(),
        system_type: b"",
        interface_version: 0x34,
        ..Default::default()
    };
    let (body, expect) = match cfg.bind_as {
        BindAs::Transmitter => (Body::BindTransmitter(bind), CommandId::BindTransmitterResp),
        BindAs::Transceiver => (Body::BindTransceiver(bind), CommandId::BindTransceiverResp),
    };
    Pdu {
        command_status: 0,
        sequence_number: 1,
        body,
    }
    .encode(writer.buffer())
    .map_err(|e| format!("bind: {e}"))?;
    writer.flush().await.map_err(|e| format!("bind: {e}"))?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let pdu = tokio::time::timeout_at(deadline, reader.next_pdu())
            .await
            .map_err(|_| format!("session {index}: no bind response within 5 s"))?
            .map_err(|e| format!("session {index}: bind: {e}"))?
            .ok_or_else(|| format!("session {index}: connection closed during bind"))?;
        let Some(h) = Header::peek(pdu) else {
            continue;
        };
        if h.command_id == expect as u32 || h.command_id == CommandId::GenericNack as u32 {
            if h.command_status != 0 {
                return Err(format!(
                    "session {index}: bind refused with status {:#010x}",
                    h.command_status
                ));
            }
            return Ok((reader, writer));
        }
    }
}

struct Ctx<'a> {
    cfg: &'a LoadConfig,
    plan: &'a Plan,
    quota: u64,
    interval: Option<Duration>,
}

async fn session(
    index: usize,
    cfg: Arc<LoadConfig>,
    plan: Arc<Plan>,
    quota: u64,
    barrier: Arc<tokio::sync::Barrier>,
) -> SessionResult {
    let mut result = SessionResult::new();
    let bound = connect_and_bind(&cfg, index).await;
    barrier.wait().await;
    let (mut reader, mut writer) = match bound {
        Ok(rw) => rw,
        Err(e) => {
            result.error = Some(e);
            return result;
        }
    };
    result.bound = true;
    let interval = match cfg.rate {
        Rate::Max => None,
        Rate::PerSecond(r) => Some(Duration::from_secs_f64(cfg.sessions as f64 / r)),
    };
    let ctx = Ctx {
        cfg: &cfg,
        plan: &plan,
        quota,
        interval,
    };
    if let Err(e) = drive(&ctx, index, &mut reader, &mut writer, &mut result).await {
        result.error = Some(format!("session {index}: {e}"));
    }
    result
}

/// Per-session sending state.
struct Sender {
    seq: u32,
    /// Sequence number → (send time, kind index).
    outstanding: FxHashMap<u32, (Instant, u8)>,
    n: u64,
    per_kind: [u64; 3],
    concat_ref: u8,
    dest: u32,
}

impl Sender {
    fn next_seq(&mut self) -> u32 {
        // Sequence numbers 2..=0x7FFFFFFF (1 was the bind).
        self.seq = if self.seq >= 0x7FFF_FFFF {
            2
        } else {
            self.seq + 1
        };
        self.seq
    }
}

async fn drive(
    ctx: &Ctx<'_>,
    index: usize,
    reader: &mut Reader,
    writer: &mut Writer,
    result: &mut SessionResult,
) -> Result<(), String> {
    let cfg = ctx.cfg;
    let start = Instant::now();
    result.started = Some(start);
    let stop_submitting = start + cfg.duration;
    let mut s = Sender {
        seq: 1,
        outstanding: FxHashMap::default(),
        n: 0,
        per_kind: [0; 3],
        concat_ref: (index as u8).wrapping_mul(37),
        dest: (index as u32 * 2_503) % 10_000,
    };
    let window = cfg.window.max(1);
    let mut closed = false;
    let mut drain_from: Option<Instant> = None;
    loop {
        let now = Instant::now();
        let sending = result.submitted < ctx.quota && now < stop_submitting && !closed;
        // Fill the window.
        if sending {
            while s.outstanding.len() < window && result.submitted < ctx.quota {
                if let Some(iv) = ctx.interval {
                    if start + iv.mul_f64(result.submitted as f64) > now {
                        break;
                    }
                }
                let Some(group) = ctx.plan.group(s.n, &mut s.per_kind) else {
                    return Err("empty message plan".into());
                };
                if s.outstanding.len() + group.parts.len() > window && !s.outstanding.is_empty() {
                    break;
                }
                s.n += 1;
                let kind_index = Kind::ALL.iter().position(|k| *k == group.kind).unwrap_or(0) as u8;
                s.concat_ref = s.concat_ref.wrapping_add(1);
                // A large stride: recipients of bulk traffic are a customer list, not a
                // sequential sweep (which the engine rightly reads as war dialling).
                s.dest = (s.dest + 7_919) % 10_000;
                let digits = [
                    b'0' + (s.dest / 1000) as u8,
                    b'0' + (s.dest / 100 % 10) as u8,
                    b'0' + (s.dest / 10 % 10) as u8,
                    b'0' + (s.dest % 10) as u8,
                ];
                for part in &group.parts {
                    let seq = s.next_seq();
                    let buf = writer.buffer();
                    let at = buf.len();
                    buf.extend_from_slice(&part.wire);
                    if let Some(pdu) = buf.get_mut(at..) {
                        let _ = patch_sequence(pdu, seq);
                        if let Some(d) = pdu.get_mut(part.dest_digits..part.dest_digits + 4) {
                            d.copy_from_slice(&digits);
                        }
                        if let Some(r) = part.concat_ref.and_then(|r| pdu.get_mut(r)) {
                            *r = s.concat_ref;
                        }
                    }
                    s.outstanding.insert(seq, (now, kind_index));
                    result.submitted += 1;
                }
                if let Some(c) = result.by_kind.get_mut(usize::from(kind_index)) {
                    *c += group.parts.len() as u64;
                }
                result.messages += 1;
                if writer.needs_flush() {
                    break;
                }
            }
        }
        writer.flush().await.map_err(|e| e.to_string())?;
        let still_sending = result.submitted < ctx.quota && Instant::now() < stop_submitting;
        if s.outstanding.is_empty() && (!still_sending || closed) {
            break;
        }
        if closed {
            break;
        }
        // Wait for responses: until the next paced send, the end of submitting, or the
        // drain deadline.
        if !still_sending && drain_from.is_none() {
            drain_from = Some(Instant::now());
        }
        let drain_deadline = drain_from.unwrap_or(stop_submitting) + cfg.drain;
        let wake = if still_sending {
            let next_paced = ctx
                .interval
                .map(|iv| start + iv.mul_f64(result.submitted as f64))
                .unwrap_or(stop_submitting);
            if s.outstanding.len() >= window {
                stop_submitting.min(drain_deadline)
            } else if ctx.interval.is_none() {
                // Room in the window (the batch buffer filled first): only take what has
                // already arrived, then send more.
                Instant::now()
            } else {
                next_paced.min(stop_submitting)
            }
        } else {
            drain_deadline
        };
        let wake = tokio::time::Instant::from_std(wake.max(Instant::now()));
        match tokio::time::timeout_at(wake, reader.next_pdu()).await {
            Err(_) => {
                if !still_sending && Instant::now() >= drain_deadline {
                    break;
                }
                continue;
            }
            Ok(Err(e)) => return Err(e.to_string()),
            Ok(Ok(None)) => {
                closed = true;
                if !s.outstanding.is_empty() {
                    result.error = Some(format!("session {index}: connection closed by the peer"));
                }
                break;
            }
            Ok(Ok(Some(pdu))) => {
                let at = Instant::now();
                closed |= answer(pdu, at, &mut s, writer.buffer(), result);
                loop {
                    match reader.next_buffered() {
                        Ok(Some(pdu)) => closed |= answer(pdu, at, &mut s, writer.buffer(), result),
                        Ok(None) => break,
                        Err(e) => return Err(e.to_string()),
                    }
                }
                result.finished = Some(at);
            }
        }
    }
    result.unanswered = s.outstanding.len() as u64;
    if result.finished.is_none() {
        result.finished = Some(Instant::now());
    }
    if !closed {
        // Unbind politely; answer what arrives meanwhile, give up after a second.
        let seq = s.next_seq();
        write_header_only(writer.buffer(), CommandId::Unbind, 0, seq);
        let _ = writer.flush().await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
        while let Ok(Ok(Some(pdu))) = tokio::time::timeout_at(deadline, reader.next_pdu()).await {
            if Header::peek(pdu).is_some_and(|h| h.command_id == CommandId::UnbindResp as u32) {
                break;
            }
        }
    }
    Ok(())
}

/// Account for one PDU from the target; true when the target unbinds.
fn answer(
    pdu: &[u8],
    at: Instant,
    s: &mut Sender,
    out: &mut Vec<u8>,
    result: &mut SessionResult,
) -> bool {
    let Some(h) = Header::peek(pdu) else {
        return false;
    };
    match CommandId::from_u32(h.command_id) {
        Some(CommandId::SubmitSmResp) => {
            if let Some((sent, kind)) = s.outstanding.remove(&h.sequence_number) {
                result.hist.record(at.saturating_duration_since(sent));
                result.responses += 1;
                *result
                    .by_status
                    .entry((kind, h.command_status))
                    .or_insert(0) += 1;
                // A message_id is at least its NUL after the header.
                if h.command_status == 0 && pdu.len() <= interdict_smpp::HEADER_LEN {
                    result.missing_message_id += 1;
                }
            } else {
                result.unknown_sequence += 1;
            }
        }
        Some(CommandId::GenericNack) => {
            if s.outstanding.remove(&h.sequence_number).is_some() {
                result.generic_nack += 1;
            } else {
                result.unknown_sequence += 1;
            }
        }
        Some(CommandId::EnquireLink) => {
            write_header_only(out, CommandId::EnquireLinkResp, 0, h.sequence_number);
        }
        Some(CommandId::DeliverSm) => {
            result.deliver_sm += 1;
            if Pdu::decode_lenient(pdu)
                .ok()
                .and_then(|p| p.as_sm().map(|sm| sm.is_delivery_receipt()))
                .unwrap_or(false)
            {
                result.receipts += 1;
            }
            encode::deliver_sm_resp(out, 0, h.sequence_number);
        }
        Some(CommandId::Unbind) => {
            write_header_only(out, CommandId::UnbindResp, 0, h.sequence_number);
            return true;
        }
        _ => {}
    }
    false
}

/// Run a load on the current tokio runtime.
pub async fn run_async(cfg: LoadConfig) -> Result<LoadReport, LoadError> {
    if !cfg.allow_non_loopback && !cfg.target.ip().is_loopback() {
        return Err(LoadError::NotLoopback(cfg.target));
    }
    if cfg.sessions == 0 || cfg.window == 0 {
        return Err(LoadError::Config(
            "--sessions and --window must be at least 1".into(),
        ));
    }
    let plan = Arc::new(Plan::new(&cfg).map_err(LoadError::Config)?);
    let cfg = Arc::new(cfg);
    let barrier = Arc::new(tokio::sync::Barrier::new(cfg.sessions));
    let n = cfg.sessions as u64;
    let mut tasks = Vec::with_capacity(cfg.sessions);
    for i in 0..cfg.sessions {
        let quota = cfg.count / n + u64::from((i as u64) < cfg.count % n);
        tasks.push(tokio::spawn(session(
            i,
            cfg.clone(),
            plan.clone(),
            quota,
            barrier.clone(),
        )));
    }
    let mut results = Vec::with_capacity(tasks.len());
    for t in tasks {
        match t.await {
            Ok(r) => results.push(r),
            Err(e) => {
                let mut r = SessionResult::new();
                r.error = Some(format!("session task failed: {e}"));
                results.push(r);
            }
        }
    }
    Ok(report(&cfg, results))
}

fn report(cfg: &LoadConfig, results: Vec<SessionResult>) -> LoadReport {
    let mut hist = Histogram::new();
    let mut by_status: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_kind: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut r = LoadReport {
        target: cfg.target.to_string(),
        sessions: cfg.sessions,
        sessions_bound: 0,
        window: cfg.window,
        mix: cfg.mix,
        submitted: 0,
        submitted_by_kind: BTreeMap::new(),
        messages: 0,
        responses: 0,
        by_status: BTreeMap::new(),
        by_kind_status: BTreeMap::new(),
        generic_nack: 0,
        unknown_sequence: 0,
        missing_message_id: 0,
        unanswered: 0,
        deliver_sm: 0,
        receipts: 0,
        errors: Vec::new(),
        elapsed_s: 0.0,
        rate: 0.0,
        latency_us: Latency::default(),
    };
    let started = results.iter().filter_map(|s| s.started).min();
    let finished = results.iter().filter_map(|s| s.finished).max();
    for s in results {
        r.sessions_bound += usize::from(s.bound);
        r.submitted += s.submitted;
        r.messages += s.messages;
        r.responses += s.responses;
        r.generic_nack += s.generic_nack;
        r.unknown_sequence += s.unknown_sequence;
        r.missing_message_id += s.missing_message_id;
        r.unanswered += s.unanswered;
        r.deliver_sm += s.deliver_sm;
        r.receipts += s.receipts;
        for (k, n) in Kind::ALL.iter().zip(s.by_kind) {
            *by_kind.entry(k.name()).or_insert(0) += n;
        }
        for ((kind, status), n) in s.by_status {
            let status = format!("{status:#010x}");
            *by_status.entry(status.clone()).or_insert(0) += n;
            let kind = Kind::ALL.get(usize::from(kind)).map_or("?", |k| k.name());
            *r.by_kind_status
                .entry(kind)
                .or_default()
                .entry(status)
                .or_insert(0) += n;
        }
        if let Some(e) = s.error {
            r.errors.push(e);
        }
        hist.merge(&s.hist);
    }
    if let (Some(a), Some(b)) = (started, finished) {
        r.elapsed_s = b.saturating_duration_since(a).as_secs_f64();
    }
    if r.elapsed_s > 0.0 {
        r.rate = r.responses as f64 / r.elapsed_s;
    }
    r.by_status = by_status;
    r.submitted_by_kind = by_kind;
    r.latency_us = hist.latency();
    r
}

/// Run a load on a runtime of its own (2 worker threads).
pub fn run_blocking(cfg: LoadConfig) -> Result<LoadReport, LoadError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("interdict-load")
        .enable_all()
        .build()
        .map_err(LoadError::Runtime)?;
    runtime.block_on(run_async(cfg))
}

/// Options of `interdict load smpp` (a later option overrides an earlier one, so scripts
/// can put defaults first).
#[derive(Debug, clap::Args)]
#[command(args_override_self = true)]
pub struct LoadSmppArgs {
    /// The gateway or SMSC to load (host:port; loopback unless --allow-non-loopback); the
    /// default is the gateway's default `[smpp] listen`.
    #[arg(long, default_value = "127.0.0.1:2775")]
    pub target: SocketAddr,
    /// Allow a non-loopback target.
    #[arg(long)]
    pub allow_non_loopback: bool,
    /// Sessions (binds) in parallel.
    #[arg(long, default_value_t = 4)]
    pub sessions: usize,
    /// Outstanding submit_sm per session.
    #[arg(long, default_value_t = 256)]
    pub window: usize,
    /// submit_sm to send in all (the last concatenated message is finished).
    #[arg(long, default_value_t = 100_000)]
    pub count: u64,
    /// submit_sm per second over all sessions, or `max`.
    #[arg(long, default_value = "max")]
    pub rate: Rate,
    /// Stop submitting after this many seconds.
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Wait at most this many seconds for outstanding responses after submitting.
    #[arg(long, default_value_t = 5.0)]
    pub drain_seconds: f64,
    /// The mix of messages: kind=weight pairs (ordinary, scam, concat_ucs2).
    #[arg(long, default_value = "ordinary=90,scam=5,concat_ucs2=5")]
    pub mix: Mix,
    /// Bind as transmitter or transceiver.
    #[arg(long, value_enum, default_value = "transmitter")]
    pub bind: BindAs,
    /// system_id of the binds.
    #[arg(long, default_value = "load")]
    pub system_id: String,
    /// Password of the binds.
    #[arg(long, default_value = "load")]
    pub password: String,
    /// registered_delivery of every submit_sm (1 asks for receipts; bind as transceiver
    /// to receive them).
    #[arg(long, default_value_t = 0)]
    pub registered_delivery: u8,
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
}

impl LoadSmppArgs {
    /// The run these options describe.
    pub fn config(&self) -> Result<LoadConfig, LoadError> {
        let secs = |s: f64, name: &str| {
            Duration::try_from_secs_f64(s)
                .map_err(|_| LoadError::Config(format!("{name}: {s} is not a duration")))
        };
        Ok(LoadConfig {
            target: self.target,
            allow_non_loopback: self.allow_non_loopback,
            sessions: self.sessions,
            window: self.window,
            count: self.count,
            rate: self.rate,
            duration: secs(self.seconds, "--seconds")?,
            drain: secs(self.drain_seconds, "--drain-seconds")?,
            mix: self.mix,
            bind_as: self.bind,
            system_id: self.system_id.clone(),
            password: self.password.clone(),
            registered_delivery: self.registered_delivery,
        })
    }
}

/// Run `interdict load smpp`: exit 0 when every submit_sm was answered and no session
/// failed, 1 otherwise, 2 when the run could not start.
pub fn run(args: &LoadSmppArgs) -> ExitCode {
    let report = match args.config().and_then(run_blocking) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("interdict load smpp: {e}");
            return ExitCode::from(2);
        }
    };
    if args.json {
        match serde_json::to_string(&report) {
            Ok(j) => println!("{j}"),
            Err(e) => eprintln!("interdict load smpp: {e}"),
        }
    } else {
        print_human(&report);
    }
    if report.clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn print_human(r: &LoadReport) {
    println!(
        "target {}  sessions {}/{} bound  window {}",
        r.target, r.sessions_bound, r.sessions, r.window
    );
    println!(
        "submitted {} submit_sm ({} messages) in {:.3} s: {:.0} responses/s",
        r.submitted, r.messages, r.elapsed_s, r.rate
    );
    let kinds: Vec<String> = r
        .submitted_by_kind
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    println!("by kind: {}", kinds.join(", "));
    let statuses: Vec<String> = r
        .by_status
        .iter()
        .map(|(k, n)| format!("{k}: {n}"))
        .collect();
    println!(
        "responses {} ({})  generic_nack {}  unanswered {}  unknown sequence {}  \
         no message_id {}",
        r.responses,
        statuses.join(", "),
        r.generic_nack,
        r.unanswered,
        r.unknown_sequence,
        r.missing_message_id
    );
    for (kind, statuses) in &r.by_kind_status {
        let s: Vec<String> = statuses.iter().map(|(k, n)| format!("{k}: {n}")).collect();
        println!("  {kind}: {}", s.join(", "));
    }
    if r.deliver_sm > 0 {
        println!("deliver_sm {} (receipts {})", r.deliver_sm, r.receipts);
    }
    let l = &r.latency_us;
    println!(
        "latency µs: p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}  mean {:.1}",
        l.p50, l.p90, l.p99, l.max, l.mean
    );
    for e in &r.errors {
        println!("error: {e}");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn mix_and_rate_parse() {
        let m: Mix = "ordinary=8, scam=1,concat_ucs2=1".parse().unwrap();
        assert_eq!((m.ordinary, m.scam, m.concat_ucs2), (8, 1, 1));
        assert!("ordinary=0".parse::<Mix>().is_err());
        assert!("spam=1".parse::<Mix>().is_err());
        assert_eq!("max".parse::<Rate>().unwrap(), Rate::Max);
        assert_eq!("5000".parse::<Rate>().unwrap(), Rate::PerSecond(5000.0));
        assert!("-1".parse::<Rate>().is_err());
    }

    #[test]
    fn schedule_follows_the_weights() {
        let order = schedule(&"ordinary=8,scam=1,concat_ucs2=1".parse().unwrap());
        assert_eq!(order.len(), 10);
        assert_eq!(order.iter().filter(|k| **k == Kind::Ordinary).count(), 8);
        assert_eq!(order.iter().filter(|k| **k == Kind::Scam).count(), 1);
    }

    #[test]
    fn templates_patch_where_they_should() {
        let groups = build_groups(1).unwrap();
        for g in &groups {
            for part in &g.parts {
                let mut wire = part.wire.clone();
                patch_sequence(&mut wire, 4242).unwrap();
                wire[part.dest_digits..part.dest_digits + 4].copy_from_slice(b"1234");
                if let Some(r) = part.concat_ref {
                    wire[r] = 0xab;
                }
                let pdu = Pdu::decode(&wire).unwrap();
                assert_eq!(pdu.sequence_number, 4242);
                let sm = pdu.as_sm().unwrap();
                assert_eq!(sm.destination.addr, b"8613800011234");
                assert_eq!(sm.registered_delivery, 1);
                let m = sm.message().unwrap();
                if let Some(c) = m.concat {
                    assert_eq!(c.reference, 0xab);
                    assert!(sm.short_message.len() <= 140);
                    // Odd UCS-2 octets per part: a character is split across parts.
                    if c.seq == 1 {
                        assert_eq!(m.payload.len() % 2, 1);
                    }
                }
            }
        }
        assert!(groups
            .iter()
            .any(|g| g.kind == Kind::ConcatUcs2 && g.parts.len() == 2));
    }

    #[test]
    fn histogram_percentiles_are_close() {
        let mut h = Histogram::new();
        for us in 1..=1000u64 {
            h.record(Duration::from_micros(us));
        }
        let l = h.latency();
        assert!((l.p50 - 500.0).abs() < 2.0, "{l:?}");
        assert!((l.p99 - 990.0).abs() < 3.0, "{l:?}");
        assert_eq!(l.max, 1000.0);
        for v in [0u64, 1, 1023, 1024, 5_000_000, u64::MAX / 2] {
            let i = Histogram::index(v);
            assert!(Histogram::lowest(i) <= v);
            assert!(i < h.counts.len());
        }
    }

    #[test]
    fn refuses_non_loopback_targets() {
        let cfg = LoadConfig {
            target: "192.0.2.1:2775".parse().unwrap(),
            ..Default::default()
        };
        assert!(matches!(run_blocking(cfg), Err(LoadError::NotLoopback(_))));
    }
}
