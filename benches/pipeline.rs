//! Gateway pipeline benchmark: one SIP message's bytes in, parsed, ingested, decided by the
//! default rule pack, and the bytes to send written out, through
//! `interdict::sip::SipProxy::handle` exactly as a UDP worker calls it, without sockets.
//!
//! Run: `cargo bench --bench pipeline` (add `-- --warm-up-time 1 --measurement-time 3` for a
//! shorter run; `-- --test` runs each case once, checking only that it works).
//!
//! The proxy is built as `interdict serve` builds it (`crates/gateway/src/serve.rs`): a
//! `Decider` over an `Engine` of `rules/`, `Metrics`, a `RecordSink` whose receiver a thread
//! drains (as the record writer does, without writing anything), the default `SipConfig`.
//! The decision deadline is 1 s so no decision fails open. The sweeper thread (`tick`) is not
//! run: the retransmission cache and the live-call table fill to their bounds and then
//! evict, as on a busy gateway.
//!
//! Every group reports messages per second (`Throughput::Elements(1)`):
//!
//! - `pipeline/invite_pass`: an ordinary INVITE with SDP (from `+86138…`, first
//!   `+8613800001234`, to `+8613800005678`) forwarded to the next hop with the proxy's Via
//!   and Record-Route. Call-ID, branch and From tag change on every message (digits written in
//!   place into a pre-built buffer, no allocation in the loop), so the retransmission cache
//!   never answers; the caller changes too, over 10⁸ numbers in a scattered order, so no
//!   caller comes back while the behaviour detectors still track it (they keep 200 000
//!   callers) and the per-caller rates never rise: the decision stays `pass`. It is timed in
//!   chunks of 256; between chunks, untimed, the core answers each forwarded INVITE with
//!   100 Trying (as a live next hop does), so no state of unanswered INVITEs builds up.
//! - `pipeline/invite_block`: the same INVITE from `+8617100000001` (on
//!   `rules/lists/fraud_numbers.txt`) answered 608 with Reason and Call-Info; a decision record
//!   is queued for each.
//! - `pipeline/message_pass`: a SIP MESSAGE with an ordinary Chinese text, forwarded.
//! - `pipeline/message_block`: a SIP MESSAGE with a police-impersonation script, answered 608.
//! - `pipeline/response`: a 200 OK to the forwarded INVITE coming back from the next hop,
//!   routed to the border by the Via below the proxy's own (the call is already answered
//!   in the live-call table, so no engine event: parse, Via check, routing, rewrite).
//!
//! Each case is checked once before it is timed (the action, the destination and the status
//! line), so the bench measures the intended path. After the run, the records drained are
//! summed up: a `warn` or degraded record in a pass case would mean the case measured
//! another path, and is reported on standard error.
//!
//! All numbers are synthetic; addresses are RFC 5737 documentation addresses.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use interdict::config::SipConfig;
use interdict::decide::Decider;
use interdict::ingest::IngestOptions;
use interdict::metrics::Metrics;
use interdict::record::RecordSink;
use interdict::sip::proxy::ProxyParts;
use interdict::sip::{Action, Dest, Local, SipProxy, Wire};
use interdict_engine::{load_pack, Engine, Verdict};

/// The border peer the requests come from.
const BORDER: ([u8; 4], u16) = ([192, 0, 2, 10], 5062);
/// The next hop (the core).
const CORE: ([u8; 4], u16) = ([198, 51, 100, 20], 5060);
/// The proxy's own host and port (in its Via and Record-Route).
const LOCAL_HOST: &str = "203.0.113.1";
const LOCAL_PORT: u16 = 5060;

/// Placeholder of the per-message id (Call-ID, branch, From tag): 12 decimal digits.
const ID: &str = "IIIIIIIIIIII";
/// Placeholder of the caller's last 8 digits.
const CALLER: &str = "CCCCCCCC";

const ORDINARY_TEXT: &str = "妈，我周六下午回家吃饭，记得帮我把阳台上的衣服收一下。";
const SCAM_TEXT: &str = "您涉嫌洗钱，请立即将资金转入安全账户配合调查";

/// A message with its variable fields at known offsets, rewritten in place per message.
struct Template {
    buf: Vec<u8>,
    ids: Vec<usize>,
    callers: Vec<usize>,
    n: u64,
}

impl Template {
    fn new(text: String) -> Template {
        let find = |pat: &str| -> Vec<usize> { text.match_indices(pat).map(|(i, _)| i).collect() };
        let (ids, callers) = (find(ID), find(CALLER));
        assert!(!ids.is_empty());
        Template {
            buf: text.into_bytes(),
            ids,
            callers,
            n: 0,
        }
    }

    /// The next message: a fresh id, and (when the template has one) a fresh caller.
    fn next(&mut self) -> &[u8] {
        let n = self.n;
        self.n += 1;
        for &at in &self.ids {
            put_digits(&mut self.buf[at..at + ID.len()], n);
        }
        // Multiplying by a number prime to 10 permutes 0..10⁸: every caller once per 10⁸
        // messages, consecutive messages far apart (other shards of the behaviour state).
        let caller = ((n % 100_000_000) * 2_654_435_761 + 1234) % 100_000_000;
        for &at in &self.callers {
            put_digits(&mut self.buf[at..at + CALLER.len()], caller);
        }
        &self.buf
    }
}

/// Writes `value` as decimal digits filling `out` (zero-padded, high digits dropped).
fn put_digits(out: &mut [u8], mut value: u64) {
    for b in out.iter_mut().rev() {
        *b = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// An INVITE with SDP, shaped like `interdict_sip::samples::INVITE`.
fn invite(tag: &str, caller: &str) -> String {
    let sdp = "v=0\r\n\
               o=- 1674573816 1674573816 IN IP4 192.0.2.10\r\n\
               s=-\r\n\
               c=IN IP4 192.0.2.20\r\n\
               t=0 0\r\n\
               m=audio 31000 RTP/AVP 8 0 18 101\r\n\
               a=rtpmap:8 PCMA/8000\r\n\
               a=rtpmap:0 PCMU/8000\r\n\
               a=rtpmap:18 G729/8000\r\n\
               a=fmtp:18 annexb=no\r\n\
               a=rtpmap:101 telephone-event/8000\r\n\
               a=fmtp:101 0-16\r\n\
               a=ptime:20\r\n\
               a=sendrecv\r\n";
    format!(
        "INVITE sip:+8613800005678@ims.example.net;user=phone SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-{tag}-{ID};rport\r\n\
         Max-Forwards: 70\r\n\
         From: \"Caller\" <sip:{caller}@sbc.example.net;user=phone>;tag=f{ID}\r\n\
         To: <sip:+8613800005678@ims.example.net;user=phone>\r\n\
         P-Asserted-Identity: <tel:{caller}>\r\n\
         Contact: <sip:{caller}@192.0.2.10:5062;transport=udp>\r\n\
         Call-ID: {tag}-{ID}@192.0.2.10\r\n\
         CSeq: 1 INVITE\r\n\
         User-Agent: Interdict-Bench-SBC/1.0\r\n\
         Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, INFO, PRACK, UPDATE\r\n\
         Supported: replaces, timer, 100rel\r\n\
         Session-Expires: 1800;refresher=uac\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
}

/// A SIP MESSAGE carrying `text` as UTF-8 plain text.
fn message(tag: &str, caller: &str, text: &str) -> String {
    format!(
        "MESSAGE sip:+8613800005678@ims.example.net SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-{tag}-{ID};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:{caller}@sbc.example.net>;tag=f{ID}\r\n\
         To: <sip:+8613800005678@ims.example.net>\r\n\
         P-Asserted-Identity: <tel:{caller}>\r\n\
         Call-ID: {tag}-{ID}@192.0.2.10\r\n\
         CSeq: 1 MESSAGE\r\n\
         Content-Type: text/plain;charset=UTF-8\r\n\
         Content-Length: {}\r\n\r\n{text}",
        text.len()
    )
}

/// The status code of a response's start line.
fn status(bytes: &[u8]) -> Option<u16> {
    let line = bytes.split(|&b| b == b'\r').next()?;
    let line = std::str::from_utf8(line).ok()?;
    line.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()
}

/// `invite_pass` messages timed between two rounds of the core's 100 Trying answers.
const CHUNK: usize = 256;

/// The core's 100 Trying to a forwarded request: its Vias, From, To, Call-ID and CSeq.
fn trying(forwarded: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(b"SIP/2.0 100 Trying\r\n");
    for line in forwarded.split(|&b| b == b'\n') {
        if line == b"\r" {
            break;
        }
        if [&b"Via:"[..], b"From:", b"To:", b"Call-ID:", b"CSeq:"]
            .iter()
            .any(|h| line.starts_with(h))
        {
            out.extend_from_slice(line);
            out.push(b'\n');
        }
    }
    out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
}

/// Counts of the decision records drained during the run.
#[derive(Default)]
struct Drained {
    pass: AtomicU64,
    warn: AtomicU64,
    block: AtomicU64,
    degraded: AtomicU64,
}

fn pipeline(c: &mut Criterion) {
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let snapshot = load_pack(&rules).expect("the default rule pack loads");
    let metrics = Arc::new(Metrics::new());
    let decider = Arc::new(Decider::new(
        Arc::new(Engine::new(snapshot)),
        Duration::from_secs(1),
        false,
        metrics.clone(),
    ));
    let (sink, rx, stats) = RecordSink::new(65_536);
    metrics.attach_sink(stats.clone());
    let drained = Arc::new(Drained::default());
    let drain = {
        let drained = drained.clone();
        std::thread::spawn(move || {
            for r in rx {
                let n = match r.acted {
                    Verdict::Pass => &drained.pass,
                    Verdict::Warn => &drained.warn,
                    Verdict::Block => &drained.block,
                };
                n.fetch_add(1, Ordering::Relaxed);
                if r.degraded.any() {
                    drained.degraded.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    let border = SocketAddr::from(BORDER);
    let core = SocketAddr::from(CORE);
    let cfg = SipConfig {
        next_hop: core,
        ..SipConfig::default()
    };
    let proxy = SipProxy::new(ProxyParts {
        cfg: Arc::new(cfg),
        local: Local {
            host: LOCAL_HOST.into(),
            port: LOCAL_PORT,
        },
        decider,
        metrics,
        records: sink,
        gateway_id: Arc::from("bench"),
        include_text: false,
        ingest: IngestOptions::default(),
        dissuader: None,
    });
    proxy.warm_up();

    let to_core = Action::Send(Dest {
        addr: core,
        wire: Wire::Udp,
    });
    let to_border = Action::Send(Dest {
        addr: border,
        wire: Wire::Udp,
    });
    let ordinary_caller = format!("+86138{CALLER}");
    let mut cases = [
        (
            "invite_pass",
            Template::new(invite("ip", &ordinary_caller)),
            to_core,
            "INVITE ",
        ),
        (
            "invite_block",
            Template::new(invite("ib", "+8617100000001")),
            to_border,
            "SIP/2.0 608 ",
        ),
        (
            "message_pass",
            Template::new(message("mp", &format!("+86139{CALLER}"), ORDINARY_TEXT)),
            to_core,
            "MESSAGE ",
        ),
        (
            "message_block",
            Template::new(message("mb", &format!("+86137{CALLER}"), SCAM_TEXT)),
            to_border,
            "SIP/2.0 608 ",
        ),
    ];

    let mut out = Vec::with_capacity(4096);
    // Checked once, outside the timed loop: each case takes the path it is named after.
    for (name, template, expected, start) in &mut cases {
        let action = proxy.handle(template.next(), border, Wire::Udp, &mut out);
        assert_eq!(
            action,
            *expected,
            "{name}: {}",
            String::from_utf8_lossy(&out)
        );
        assert!(
            out.starts_with(start.as_bytes()),
            "{name}: expected {start:?}, got:\n{}",
            String::from_utf8_lossy(&out)
        );
    }

    // The 200 OK to the first `invite_pass` INVITE (counter 0), with the Vias the proxy wrote.
    let forwarded = {
        let first = Template::new(invite("ip", &ordinary_caller))
            .next()
            .to_vec();
        let mut out = Vec::new();
        // A retransmission of the checked INVITE: the cached decision, forwarded again.
        assert_eq!(proxy.handle(&first, border, Wire::Udp, &mut out), to_core);
        String::from_utf8(out).expect("UTF-8")
    };
    let vias: Vec<&str> = forwarded
        .split("\r\n")
        .filter(|l| l.starts_with("Via:"))
        .collect();
    assert_eq!(vias.len(), 2, "{forwarded}");
    assert!(
        vias[0].contains(&format!("{LOCAL_HOST}:{LOCAL_PORT}")),
        "{forwarded}"
    );
    let mut answer = Vec::new();
    trying(forwarded.as_bytes(), &mut answer);
    let action = proxy.handle(&answer, core, Wire::Udp, &mut out);
    assert_eq!(
        action,
        to_border,
        "100 Trying: {}",
        String::from_utf8_lossy(&out)
    );
    assert_eq!(status(&out), Some(100), "{}", String::from_utf8_lossy(&out));
    let header = |name: &str| {
        forwarded
            .split("\r\n")
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} in {forwarded}"))
    };
    let ok = format!(
        "SIP/2.0 200 OK\r\n{}\r\n{}\r\n{}\r\n{};tag=core-1\r\n{}\r\nCSeq: 1 INVITE\r\n\
         Contact: <sip:+8613800005678@198.51.100.30:5060>\r\n\
         Content-Length: 0\r\n\r\n",
        vias.join("\r\n"),
        header("Record-Route:"),
        header("From:"),
        header("To:"),
        header("Call-ID:"),
    );
    let ok = ok.into_bytes();
    let action = proxy.handle(&ok, core, Wire::Udp, &mut out);
    assert_eq!(
        action,
        to_border,
        "response: {}",
        String::from_utf8_lossy(&out)
    );
    assert_eq!(status(&out), Some(200), "{}", String::from_utf8_lossy(&out));

    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Elements(1));
    for (name, mut template, _, _) in cases {
        if name == "invite_pass" {
            // Timed in chunks; between chunks (untimed) the core answers each forwarded INVITE
            // with 100 Trying, as a live next hop does, so the proxy's state of INVITEs
            // awaiting the next hop stays as small as on a healthy link.
            let mut outs: Vec<Vec<u8>> = (0..CHUNK).map(|_| Vec::with_capacity(4096)).collect();
            let mut answer = Vec::with_capacity(1024);
            g.bench_function(name, |b| {
                b.iter_custom(|iters| {
                    let mut timed = Duration::ZERO;
                    let mut left = iters;
                    while left > 0 {
                        let n = left.min(CHUNK as u64) as usize;
                        let outs = &mut outs[..n];
                        let started = Instant::now();
                        for out in outs.iter_mut() {
                            black_box(proxy.handle(
                                black_box(template.next()),
                                border,
                                Wire::Udp,
                                out,
                            ));
                        }
                        timed += started.elapsed();
                        for forwarded in outs.iter() {
                            trying(forwarded, &mut answer);
                            proxy.handle(&answer, core, Wire::Udp, &mut out);
                        }
                        left -= n as u64;
                    }
                    timed
                })
            });
        } else {
            g.bench_function(name, |b| {
                b.iter(|| proxy.handle(black_box(template.next()), border, Wire::Udp, &mut out))
            });
        }
    }
    g.bench_function("response", |b| {
        b.iter(|| proxy.handle(black_box(&ok), core, Wire::Udp, &mut out))
    });
    g.finish();

    // Closing the sink ends the drain thread once the queue is empty.
    drop(proxy);
    drain.join().expect("drain thread");
    let (pass, warn, block, degraded) = (
        drained.pass.load(Ordering::Relaxed),
        drained.warn.load(Ordering::Relaxed),
        drained.block.load(Ordering::Relaxed),
        drained.degraded.load(Ordering::Relaxed),
    );
    let dropped = stats.dropped.load(Ordering::Relaxed);
    eprintln!(
        "pipeline: records drained: block {block}, warn {warn}, pass {pass}, degraded {degraded}; \
         dropped (queue full) {dropped}"
    );
    if warn > 0 || degraded > 0 || pass > 0 {
        eprintln!(
            "pipeline: WARNING: some decisions were warn or degraded: a pass case measured \
             another path (behaviour detectors or a missed deadline)"
        );
    }
}

/// The SMPP path: a submit_sm's bytes in, decoded, ingested, decided and the bytes to the
/// SMSC (or the refusal to the ESME) out, through `interdict::smpp::session::Session` as
/// the socket task calls it. The session is bound first (the bind and the SMSC's bind_resp
/// go through it). `smpp/submit_pass` sends an ordinary UCS-2 notice from a sender that
/// changes every message (so no behaviour rate rises); timed in chunks of 256, between
/// which (untimed) the SMSC's submit_sm_resp answer each forwarded PDU so the window never
/// fills. `smpp/submit_block` sends a scam, refused at once. `smpp/resp` is the SMSC's
/// submit_sm_resp mapped back to the ESME.
fn smpp_pipeline(c: &mut Criterion) {
    use interdict::config::SmppConfig;
    use interdict::smpp::session::{Out, Session, Shared};
    use interdict::smpp::Side;
    use interdict_smpp::{encode, Address, Bind, Body, Pdu, Sm, Tlvs};

    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let snapshot = load_pack(&rules).expect("the default rule pack loads");
    let metrics = Arc::new(Metrics::new());
    let decider = Arc::new(Decider::new(
        Arc::new(Engine::new(snapshot)),
        Duration::from_secs(1),
        false,
        metrics.clone(),
    ));
    let (sink, rx, _stats) = RecordSink::new(65_536);
    let drain = std::thread::spawn(move || for _ in rx {});
    let shared = Arc::new(Shared::new(
        Arc::new(SmppConfig {
            window: 1 << 20,
            ..SmppConfig::default()
        }),
        decider,
        metrics,
        sink,
        Arc::from("bench"),
        false,
        IngestOptions::default(),
        None,
    ));
    let mut session = Session::new(shared.clone(), SocketAddr::from(BORDER));
    let now = Instant::now();
    let mut out = Out::default();
    let bind = Pdu {
        command_status: 0,
        sequence_number: 1,
        body: Body::BindTransmitter(Bind {
            system_id: b"bench",
            password: b"bench",
            interface_version: 0x34,
            ..Bind::default()
        }),
    }
    .to_vec()
    .unwrap();
    session.on_pdu(Side::Esme, &bind, now, 0, &mut out);
    let upstream_bind = out.connect.take().expect("the bind is relayed");
    let mut resp = Vec::new();
    encode::write_header_only(
        &mut resp,
        interdict_smpp::CommandId::BindTransmitterResp,
        0,
        u32::from_be_bytes(upstream_bind[12..16].try_into().unwrap()),
    );
    session.on_pdu(Side::Smsc, &resp, now, 0, &mut out);
    assert!(session.is_bound());

    let ucs2 = |t: &str| {
        let mut v = Vec::new();
        interdict_smpp::text::ucs2::encode(t, &mut v);
        v
    };
    let submit = |source: &str, text: &[u8]| {
        Pdu {
            command_status: 0,
            sequence_number: 2,
            body: Body::SubmitSm(Sm {
                source: Address {
                    ton: 1,
                    npi: 1,
                    addr: source.as_bytes(),
                },
                destination: Address {
                    ton: 1,
                    npi: 1,
                    addr: b"8613800005678",
                },
                data_coding: 8,
                short_message: text,
                tlvs: Tlvs::EMPTY,
                ..Sm::default()
            }),
        }
        .to_vec()
        .unwrap()
    };
    let pass_text = ucs2(ORDINARY_TEXT);
    let scam_text = ucs2(SCAM_TEXT);
    let mut pass_pdu = submit("8613900000000", &pass_text);
    let source_at = pass_pdu
        .windows(13)
        .position(|w| w == b"8613900000000")
        .unwrap();
    let block_pdu = submit("8613700000001", &scam_text);
    let mut n: u64 = 0;
    let mut next_pass = |pdu: &mut Vec<u8>| {
        n += 1;
        let caller = ((n % 100_000_000) * 2_654_435_761 + 1234) % 100_000_000;
        put_digits(&mut pdu[source_at + 5..source_at + 13], caller);
    };

    // Checked once: the ordinary notice goes to the SMSC unchanged, the scam is refused.
    let mut out = Out::default();
    next_pass(&mut pass_pdu);
    session.on_pdu(Side::Esme, &pass_pdu, now, 0, &mut out);
    assert_eq!(out.smsc.len(), pass_pdu.len(), "pass forwarded");
    assert!(out.esme.is_empty());
    let mut out = Out::default();
    session.on_pdu(Side::Esme, &block_pdu, now, 0, &mut out);
    assert!(out.smsc.is_empty(), "block not forwarded");
    assert_eq!(
        u32::from_be_bytes(out.esme[8..12].try_into().unwrap()),
        interdict_smpp::status::ESME_RSUBMITFAIL
    );

    let mut g = c.benchmark_group("smpp");
    g.throughput(Throughput::Elements(1));
    let mut out = Out::default();
    let mut answers = Vec::with_capacity(CHUNK * 32);
    g.bench_function("submit_pass", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let k = left.min(CHUNK as u64) as usize;
                out.smsc.clear();
                out.esme.clear();
                let started = Instant::now();
                for _ in 0..k {
                    next_pass(&mut pass_pdu);
                    session.on_pdu(Side::Esme, black_box(&pass_pdu), now, 0, &mut out);
                }
                timed += started.elapsed();
                // The SMSC answers every forwarded PDU (untimed).
                answers.clear();
                let mut at = 0;
                while let Some(h) = interdict_smpp::Header::peek(&out.smsc[at..]) {
                    let _ = encode::submit_sm_resp(&mut answers, 0, h.sequence_number, Some(b"m1"));
                    at += h.command_length as usize;
                }
                let mut at = 0;
                let mut back = Out::default();
                while let Some(h) = interdict_smpp::Header::peek(&answers[at..]) {
                    let len = h.command_length as usize;
                    session.on_pdu(Side::Smsc, &answers[at..at + len], now, 0, &mut back);
                    at += len;
                }
                left -= k as u64;
            }
            timed
        })
    });
    g.bench_function("submit_block", |b| {
        b.iter(|| {
            out.esme.clear();
            session.on_pdu(Side::Esme, black_box(&block_pdu), now, 0, &mut out)
        })
    });
    // A submit_sm_resp from the SMSC for a request in flight, mapped back to the ESME.
    g.bench_function("resp", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let k = left.min(CHUNK as u64) as usize;
                out.smsc.clear();
                for _ in 0..k {
                    next_pass(&mut pass_pdu);
                    session.on_pdu(Side::Esme, &pass_pdu, now, 0, &mut out);
                }
                answers.clear();
                let mut at = 0;
                while let Some(h) = interdict_smpp::Header::peek(&out.smsc[at..]) {
                    let _ = encode::submit_sm_resp(&mut answers, 0, h.sequence_number, Some(b"m1"));
                    at += h.command_length as usize;
                }
                let mut back = Out::default();
                let started = Instant::now();
                let mut at = 0;
                while let Some(h) = interdict_smpp::Header::peek(&answers[at..]) {
                    let len = h.command_length as usize;
                    session.on_pdu(
                        Side::Smsc,
                        black_box(&answers[at..at + len]),
                        now,
                        0,
                        &mut back,
                    );
                    at += len;
                }
                timed += started.elapsed();
                left -= k as u64;
            }
            timed
        })
    });
    g.finish();
    drop(session);
    drop(shared);
    drain.join().expect("drain thread");
}

criterion_group!(benches, pipeline, smpp_pipeline);
criterion_main!(benches);
