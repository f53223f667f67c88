//! SIP parsing benchmark: interdict-sip against rsip 0.4 on the same bytes, with a bare
//! memchr line-end scan as the ceiling for touching every byte once.
//!
//! Run: `CARGO_TARGET_DIR=/work/target-sip cargo bench --bench sip -- --warm-up-time 1 --measurement-time 3`
//!
//! Each group reports MB/s (Throughput::Bytes); messages/s = 1 / time per iteration.
//! The messages are the synthetic samples bundled in `interdict_sip::samples`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use interdict_sip::{
    forward_request, forward_response, samples, write_response, ExtraHeader, ForwardOptions,
    Message, Transport,
};
use rsip::headers::ToTypedHeader;
use rsip::prelude::{HasHeaders, HeadersExt};

/// Parse, then read From, To, every P-Asserted-Identity, every Via and Call-ID as typed values.
fn interdict_parse_and_read(bytes: &[u8]) -> usize {
    let Ok(m) = Message::parse_datagram(bytes) else {
        return 0;
    };
    let mut n = m.headers().len();
    if let Ok(f) = m.from() {
        n += f.uri().user().map_or(0, str::len) + f.tag().map_or(0, str::len);
        n += f.display_name().map_or(0, |d| d.raw().len());
    }
    if let Ok(t) = m.to() {
        n += t.uri().user().map_or(0, str::len);
    }
    for p in m.p_asserted_identities().flatten() {
        n += p.uri().as_str().len();
    }
    for v in m.vias().flatten() {
        n += v.branch().map_or(0, str::len);
    }
    n + m.call_id().map_or(0, str::len)
}

fn rsip_parse(bytes: &[u8]) -> usize {
    match rsip::SipMessage::try_from(bytes) {
        Ok(m) => m.headers().iter().count(),
        Err(_) => 0,
    }
}

/// rsip with typed From and To (and the untyped Via and Call-ID values).
fn rsip_parse_typed(bytes: &[u8]) -> usize {
    let Ok(m) = rsip::SipMessage::try_from(bytes) else {
        return 0;
    };
    let mut n = 0;
    if let Ok(f) = m.from_header().and_then(|h| h.typed()) {
        n += f.uri.to_string().len();
    }
    if let Ok(t) = m.to_header().and_then(|h| h.typed()) {
        n += t.uri.to_string().len();
    }
    if let Ok(v) = m.via_header() {
        n += rsip::headers::UntypedHeader::value(v).len();
    }
    if let Ok(c) = m.call_id_header() {
        n += rsip::headers::UntypedHeader::value(c).len();
    }
    n
}

fn memchr_line_ends(bytes: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', bytes).count()
}

fn parsing(c: &mut Criterion) {
    for (name, bytes) in [
        ("invite_sdp", samples::INVITE),
        ("message_zh", samples::MESSAGE_ZH),
        ("180_ringing", samples::RINGING),
    ] {
        assert!(
            interdict_parse_and_read(bytes) > 0,
            "{name}: interdict parses"
        );
        assert!(rsip_parse_typed(bytes) > 0, "{name}: rsip parses");
        let mut g = c.benchmark_group(format!("sip_parse/{name}"));
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function("interdict_read_from_to_pai_via_callid", |b| {
            b.iter(|| interdict_parse_and_read(black_box(bytes)))
        });
        g.bench_function("rsip", |b| b.iter(|| rsip_parse(black_box(bytes))));
        g.bench_function("rsip_typed_from_to", |b| {
            b.iter(|| rsip_parse_typed(black_box(bytes)))
        });
        g.bench_function("memchr_line_ends", |b| {
            b.iter(|| memchr_line_ends(black_box(bytes)))
        });
        g.finish();
    }
}

fn writing(c: &mut Criterion) {
    let invite = Message::parse_datagram(samples::INVITE).expect("sample parses");
    let ringing = Message::parse_datagram(samples::RINGING).expect("sample parses");
    let opts = ForwardOptions {
        via_host: "gw.example.net",
        via_port: Some(5060),
        transport: Transport::Udp,
        mark: None,
    };
    let marked = ForwardOptions {
        mark: Some("[疑似诈骗]"),
        ..opts
    };
    let mut out = Vec::with_capacity(4096);
    let mut g = c.benchmark_group("sip_write");
    g.throughput(Throughput::Elements(1));
    g.bench_function("forward_invite", |b| {
        b.iter(|| {
            out.clear();
            forward_request(black_box(&invite), &opts, &mut out).is_ok()
        })
    });
    g.bench_function("forward_invite_marked", |b| {
        b.iter(|| {
            out.clear();
            forward_request(black_box(&invite), &marked, &mut out).is_ok()
        })
    });
    g.bench_function("respond_608", |b| {
        b.iter(|| {
            out.clear();
            let extra = [
                ExtraHeader::Reason {
                    cause: 608,
                    text: "fraud number",
                },
                ExtraHeader::CallInfo {
                    uri: "https://gw.example.net/jcard",
                    purpose: "jwscard",
                },
            ];
            write_response(
                black_box(&invite),
                608,
                "Rejected",
                "idt1",
                &extra,
                &mut out,
            )
            .is_ok()
        })
    });
    g.bench_function("forward_180", |b| {
        b.iter(|| {
            out.clear();
            forward_response(black_box(&ringing), &mut out).is_ok()
        })
    });
    g.finish();
}

criterion_group!(benches, parsing, writing);
criterion_main!(benches);
