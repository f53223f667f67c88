//! Allocations per message on the inline paths, counted on the deciding thread (the record
//! writer and other threads are not counted). The SIP gateway issue asks for none, and a
//! passed call gets none; the SMPP bound is today's count, so a change can only lower it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use interdict::config::{SipConfig, SmppConfig};
use interdict::decide::Decider;
use interdict::ingest::IngestOptions;
use interdict::metrics::Metrics;
use interdict::record::RecordSink;
use interdict::sip::proxy::ProxyParts;
use interdict::sip::{Local, SipProxy, Wire};
use interdict::smpp::session::{Out, Session, Shared};
use interdict::smpp::Side;
use interdict_engine::{load_pack, Engine};

#[path = "../../../tests/support/counting_alloc.rs"]
mod counting_alloc;

#[global_allocator]
static GLOBAL: counting_alloc::Counting = counting_alloc::Counting;

fn counted(n: usize, mut f: impl FnMut(usize)) -> f64 {
    let ((), allocations) = counting_alloc::allocations_in(|| {
        for i in 0..n {
            f(i);
        }
    });
    allocations as f64 / n as f64
}

fn decider() -> (Arc<Decider>, Arc<Metrics>) {
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules");
    let metrics = Arc::new(Metrics::new());
    let engine = Arc::new(Engine::new(load_pack(&rules).unwrap()));
    (
        Arc::new(Decider::new(
            engine,
            Duration::from_secs(1),
            false,
            metrics.clone(),
        )),
        metrics,
    )
}

fn invite(n: usize) -> Vec<u8> {
    let caller = format!("+86138{:08}", (n * 7919) % 100_000_000);
    format!(
        "INVITE sip:+8613800005678@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-a-{n};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:{caller}@192.0.2.10>;tag=f{n}\r\n\
         To: <sip:+8613800005678@127.0.0.1>\r\n\
         Call-ID: a-{n}@192.0.2.10\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:{caller}@192.0.2.10:5062>\r\n\
         Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// The next hop's `100 Trying` to the forwarded INVITE in `fwd`, written into `out` (test
/// input: the proxy's own output), allocating nothing itself so only the proxy is counted.
fn trying_for(fwd: &[u8], out: &mut Vec<u8>) {
    let text = std::str::from_utf8(fwd).unwrap();
    out.clear();
    out.extend_from_slice(b"SIP/2.0 100 Trying\r\n");
    for line in text.split("\r\n") {
        let name = line.split(':').next().unwrap_or("");
        if ["via", "from", "to", "call-id", "cseq"]
            .iter()
            .any(|h| name.eq_ignore_ascii_case(h))
        {
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
}

#[test]
fn allocations_per_message_do_not_grow() {
    let (decider, metrics) = decider();
    let (sink, rx, _) = RecordSink::new(1 << 16);
    let drain = std::thread::spawn(move || for _ in rx {});
    let proxy = SipProxy::new(ProxyParts {
        cfg: Arc::new(SipConfig {
            next_hop: SocketAddr::from(([198, 51, 100, 20], 5060)),
            ..SipConfig::default()
        }),
        local: Local {
            host: "203.0.113.1".into(),
            port: 5060,
        },
        decider: decider.clone(),
        metrics: metrics.clone(),
        records: sink.clone(),
        gateway_id: Arc::from("t"),
        include_text: false,
        ingest: IngestOptions::default(),
        dissuader: None,
    });
    proxy.warm_up();
    let border = SocketAddr::from(([192, 0, 2, 10], 5062));
    let invites: Vec<Vec<u8>> = (0..2_000).map(invite).collect();
    let next_hop = SocketAddr::from(([198, 51, 100, 20], 5060));
    let mut out = Vec::with_capacity(4096);
    let mut trying = Vec::with_capacity(4096);
    let mut back = Vec::with_capacity(4096);
    // An INVITE forwarded, then the next hop's 100 Trying relayed back: a call's first
    // exchange as the gateway sees it at line rate.
    let mut call = |invite: &[u8], out: &mut Vec<u8>| {
        proxy.handle(invite, border, Wire::Udp, out);
        trying_for(out, &mut trying);
        proxy.handle(&trying, next_hop, Wire::Udp, &mut back);
        assert!(back.starts_with(b"SIP/2.0 100"), "the 100 was relayed");
    };
    for m in &invites[..1_000] {
        call(m, &mut out);
    }
    let sip = counted(1_000, |i| call(&invites[1_000 + i], &mut out));

    let shared = Arc::new(Shared::new(
        Arc::new(SmppConfig {
            window: 1 << 20,
            ..SmppConfig::default()
        }),
        decider,
        metrics,
        sink,
        Arc::from("t"),
        false,
        IngestOptions::default(),
        None,
    ));
    let mut session = Session::new(shared, border);
    let now = Instant::now();
    let mut o = Out::default();
    let bind = interdict_smpp::Pdu {
        command_status: 0,
        sequence_number: 1,
        body: interdict_smpp::Body::BindTransmitter(interdict_smpp::Bind {
            system_id: b"t",
            password: b"t",
            interface_version: 0x34,
            ..Default::default()
        }),
    }
    .to_vec()
    .unwrap();
    session.on_pdu(Side::Esme, &bind, now, 0, &mut o);
    let up = o.connect.take().unwrap();
    let mut resp = Vec::new();
    interdict_smpp::encode::write_header_only(
        &mut resp,
        interdict_smpp::CommandId::BindTransmitterResp,
        0,
        u32::from_be_bytes(up[12..16].try_into().unwrap()),
    );
    session.on_pdu(Side::Smsc, &resp, now, 0, &mut o);
    let text: Vec<u8> = "妈，我明天下午到家，晚饭不用等我。"
        .encode_utf16()
        .flat_map(u16::to_be_bytes)
        .collect();
    let submits: Vec<Vec<u8>> = (0..2_000)
        .map(|n| {
            let source = format!("86139{:08}", (n * 7919) % 100_000_000);
            interdict_smpp::Pdu {
                command_status: 0,
                sequence_number: 2 + n as u32,
                body: interdict_smpp::Body::SubmitSm(interdict_smpp::Sm {
                    source: interdict_smpp::Address {
                        ton: 1,
                        npi: 1,
                        addr: source.as_bytes(),
                    },
                    destination: interdict_smpp::Address {
                        ton: 1,
                        npi: 1,
                        addr: b"8613800005678",
                    },
                    data_coding: 8,
                    short_message: &text,
                    ..Default::default()
                }),
            }
            .to_vec()
            .unwrap()
        })
        .collect();
    let mut o = Out {
        smsc: Vec::with_capacity(1 << 20),
        esme: Vec::with_capacity(1 << 16),
        ..Out::default()
    };
    for s in &submits[..1_000] {
        session.on_pdu(Side::Esme, s, now, 0, &mut o);
    }
    o.smsc.clear();
    let smpp = counted(1_000, |i| {
        session.on_pdu(Side::Esme, &submits[1_000 + i], now, 0, &mut o);
    });
    assert!(
        o.esme.is_empty(),
        "every submit_sm was forwarded, none refused"
    );
    drop(session);
    drop(proxy);
    drain.join().unwrap();
    eprintln!(
        "allocations per message: SIP INVITE pass and its 100 {sip:.2}, SMPP submit_sm pass {smpp:.2}"
    );
    assert!(
        sip <= SIP_INVITE_PASS,
        "SIP INVITE pass and its 100: {sip:.2} allocations per call"
    );
    assert!(
        smpp <= SMPP_SUBMIT_PASS,
        "SMPP submit_sm pass: {smpp:.2} allocations per message"
    );
}

/// The SIP gateway issue's target: a passed call allocates nothing per message. What is
/// left (about 0.02 per call here) is the transaction and call tables doubling while they
/// fill with the 2,000 distinct calls of this test: amortised, and none once they are full.
const SIP_INVITE_PASS: f64 = 0.05;
/// Today's count (2026-12-01): the decoded text, the `+` readings of the addresses, the
/// forwarded copy. Lower it, never raise it.
const SMPP_SUBMIT_PASS: f64 = 7.1;
