//! Property tests: no input makes the parser, the accessors or the writers panic; framing
//! agrees with stream parsing; forwarding preserves every original header and body byte.

#![allow(clippy::unwrap_used, clippy::panic)] // test helpers outside #[test] fns

use std::sync::OnceLock;

use interdict_sip::{
    forward_request, forward_response, frame, samples, write_response, Contact, ExtraHeader,
    ForwardOptions, Framing, HeaderKind, Message, Transport,
};
use proptest::prelude::*;

const RFC4475_VALID: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/corpus/sip/rfc4475/valid"
);

/// Valid seed messages: the bundled samples plus the RFC 4475 valid messages when present.
fn seeds() -> &'static [Vec<u8>] {
    static SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let mut v: Vec<Vec<u8>> = [samples::INVITE, samples::MESSAGE_ZH, samples::RINGING]
            .map(<[u8]>::to_vec)
            .to_vec();
        match std::fs::read_dir(RFC4475_VALID) {
            Ok(dir) => {
                let mut files: Vec<_> = dir.map(|e| e.unwrap().path()).collect();
                files.sort();
                v.extend(files.iter().map(|p| std::fs::read(p).unwrap()));
            }
            Err(_) => eprintln!(
                "SKIPPED: RFC 4475 corpus absent at {RFC4475_VALID}; using bundled samples only"
            ),
        }
        // The bundled samples as cores also accept them: LF line ends in the header section,
        // and CRLFs before the start line.
        for s in [samples::INVITE, samples::MESSAGE_ZH, samples::RINGING] {
            if let Some(at) = s.windows(4).position(|w| w == b"\r\n\r\n") {
                let mut lf: Vec<u8> = Vec::new();
                let mut head = s[..at].iter().peekable();
                while let Some(&c) = head.next() {
                    if !(c == b'\r' && head.peek() == Some(&&b'\n')) {
                        lf.push(c);
                    }
                }
                lf.extend_from_slice(b"\n\n");
                lf.extend_from_slice(&s[at + 4..]);
                v.push(lf);
            }
            let mut lead = b"\r\n\r\n".to_vec();
            lead.extend_from_slice(s);
            v.push(lead);
        }
        v
    })
}

const OPTS: ForwardOptions<'static> = ForwardOptions {
    via_host: "gw.example.net",
    via_port: Some(5060),
    transport: Transport::Udp,
    mark: None,
};
const MARKED: ForwardOptions<'static> = ForwardOptions {
    mark: Some("[疑似诈骗]"),
    ..OPTS
};

/// Calls every accessor and writer; results are ignored, only panics matter.
fn touch(m: &Message<'_>) {
    for h in m.headers() {
        let _ = (h.name(), h.value_str(), h.kind());
    }
    let _ = (
        m.method(),
        m.status_code(),
        m.reason_phrase(),
        m.body(),
        m.content_length(),
    );
    if let Some(u) = m.request_uri() {
        let _ = (
            u.user_decoded(),
            u.host(),
            u.port(),
            u.is_phone(),
            u.phone_context(),
            u.telephone_digits().count(),
        );
    }
    for na in [m.from(), m.to(), m.caller()].into_iter().flatten() {
        let _ = (
            na.display_name().map(|d| d.text()),
            na.tag(),
            na.uri().user_decoded(),
            na.params().iter().count(),
        );
    }
    let _ = (
        m.call_id(),
        m.cseq(),
        m.max_forwards(),
        m.content_type(),
        m.user_agent(),
        m.top_via(),
    );
    for v in m.vias().flatten() {
        let _ = (
            v.branch(),
            v.received(),
            v.rport(),
            v.params().iter().count(),
        );
    }
    for c in m.contacts().flatten() {
        if let Contact::Address(a) = c {
            let _ = a.uri().headers();
        }
    }
    let _ = (
        m.routes().count(),
        m.record_routes().count(),
        m.diversions().count(),
        m.history_info().count(),
    );
    let _ = (
        m.original_callee(),
        m.validate(),
        m.headers_of(HeaderKind::Via).count(),
    );
    let mut out = Vec::new();
    let _ = write_response(
        m,
        608,
        "Rejected",
        "t1",
        &[ExtraHeader::Reason {
            cause: 608,
            text: "x",
        }],
        &mut out,
    );
    out.clear();
    let _ = forward_request(m, &MARKED, &mut out);
    out.clear();
    let _ = forward_response(m, &mut out);
}

fn exercise(bytes: &[u8]) {
    if let Ok(Framing::Complete(n)) = frame(bytes, 8192) {
        // Framing and stream parsing read a message the same way.
        let m = Message::parse_stream(&bytes[..n])
            .unwrap_or_else(|e| panic!("framed {n} bytes but parse_stream says {e}"));
        assert_eq!(m.len(), n);
    }
    for m in [Message::parse_datagram(bytes), Message::parse_stream(bytes)]
        .into_iter()
        .flatten()
    {
        touch(&m);
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    DuplicateLine(usize),
    DeleteLine(usize),
    Insert(usize, Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        any::<usize>().prop_map(Mutation::DeleteLine),
        (
            any::<usize>(),
            prop::collection::vec(
                prop_oneof![
                    Just(b'\r'),
                    Just(b'\n'),
                    Just(b' '),
                    Just(b':'),
                    Just(b','),
                    Just(b'"'),
                    Just(b'<'),
                    Just(b';'),
                    any::<u8>()
                ],
                1..8
            )
        )
            .prop_map(|(i, v)| Mutation::Insert(i, v)),
    ]
}

fn lines(b: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        if c == b'\n' {
            out.push((start, i + 1));
            start = i + 1;
        }
    }
    out
}

fn apply(mut b: Vec<u8>, m: &Mutation) -> Vec<u8> {
    if b.is_empty() {
        return b;
    }
    match m {
        Mutation::Flip(i, x) => {
            let i = i % b.len();
            b[i] ^= x | 1;
        }
        Mutation::Truncate(n) => b.truncate(n % b.len()),
        Mutation::DuplicateLine(i) | Mutation::DeleteLine(i) => {
            let ls = lines(&b);
            if !ls.is_empty() {
                let (s, e) = ls[i % ls.len()];
                let line = b[s..e].to_vec();
                if matches!(m, Mutation::DuplicateLine(_)) {
                    b.splice(e..e, line);
                } else {
                    b.drain(s..e);
                }
            }
        }
        Mutation::Insert(i, v) => {
            let i = i % (b.len() + 1);
            b.splice(i..i, v.iter().copied());
        }
    }
    b
}

/// Checks parse → forward → parse: every original header is still there, in order, byte
/// for byte (Max-Forwards decremented), after the new Via (and an added Max-Forwards); the
/// body is identical.
fn check_forward_round_trip(original: &[u8]) {
    let Ok(m) = Message::parse_datagram(original) else {
        return;
    };
    let mut out = Vec::new();
    if forward_request(&m, &OPTS, &mut out).is_err() {
        return;
    }
    let f = Message::parse_datagram(&out)
        .unwrap_or_else(|e| panic!("forwarded message does not parse: {e}"));
    assert_eq!(f.body(), m.body());
    let added = if m.header(HeaderKind::MaxForwards).is_some() {
        1
    } else {
        2
    };
    assert_eq!(f.headers().len(), m.headers().len() + added);
    assert_eq!(f.headers()[0].kind(), HeaderKind::Via);
    for (a, b) in m.headers().iter().zip(&f.headers()[added..]) {
        assert_eq!(a.name(), b.name());
        if a.kind() == HeaderKind::MaxForwards {
            let mf = m.max_forwards().unwrap().unwrap();
            assert_eq!(b.value(), (mf - 1).to_string().as_bytes());
        } else {
            assert_eq!(a.value(), b.value());
        }
    }
    // With marking, only From and P-Asserted-Identity values change, and their URIs and tags stay.
    out.clear();
    let marked = forward_request(&m, &MARKED, &mut out);
    // Every From is marked (a repeated one too), so every From must be readable.
    let markable = m.from().is_ok()
        && m.from_all().all(|f| f.is_ok())
        && m.p_asserted_identities().all(|p| p.is_ok());
    if !markable {
        // An address that cannot be parsed cannot be marked: an error, nothing written.
        assert!(marked.is_err() || m.header(HeaderKind::From).is_none());
        if marked.is_err() {
            assert!(out.is_empty());
        }
        return;
    }
    marked.unwrap();
    let g = Message::parse_datagram(&out).unwrap();
    assert_eq!(g.body(), m.body());
    for (a, b) in m.headers().iter().zip(&g.headers()[added..]) {
        assert_eq!(a.name(), b.name());
        if !matches!(
            a.kind(),
            HeaderKind::MaxForwards | HeaderKind::From | HeaderKind::PAssertedIdentity
        ) {
            assert_eq!(a.value(), b.value());
        }
    }
    let (mf, gf) = (m.from().unwrap(), g.from().unwrap());
    assert_eq!((mf.uri().as_str(), mf.tag()), (gf.uri().as_str(), gf.tag()));
    // The mark is a byte prefix of the name (whose own octets may be in any charset).
    assert!(gf
        .display_name()
        .unwrap()
        .unescaped()
        .starts_with("[疑似诈骗]".as_bytes()));
}

fn check_response_round_trip(original: &[u8]) {
    let Ok(m) = Message::parse_datagram(original) else {
        return;
    };
    let mut out = Vec::new();
    if forward_response(&m, &mut out).is_err() {
        return;
    }
    let f = Message::parse_datagram(&out).unwrap();
    assert_eq!(f.body(), m.body());
    let before: Vec<_> = m
        .vias()
        .skip(1)
        .map(|v| v.ok().map(|v| v.as_str()))
        .collect();
    let after: Vec<_> = f.vias().map(|v| v.ok().map(|v| v.as_str())).collect();
    assert_eq!(before, after);
    let non_via = |m: &Message<'_>| -> Vec<(Vec<u8>, Vec<u8>)> {
        m.headers()
            .iter()
            .filter(|h| h.kind() != HeaderKind::Via)
            .map(|h| (h.name().to_vec(), h.value().to_vec()))
            .collect()
    };
    assert_eq!(non_via(&m), non_via(&f));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..1500)) {
        exercise(&bytes);
    }

    #[test]
    fn sip_shaped_bytes_never_panic(
        start in prop_oneof![Just("INVITE sip:a@b SIP/2.0\r\n"), Just("SIP/2.0 200 OK\r\n")],
        lines in prop::collection::vec("[A-Za-z:;,<>\" @=.\\-\\[\\]/0-9\t]{0,40}(\r\n[ \t])?[a-z]{0,5}\r\n", 0..20),
        body in prop::collection::vec(any::<u8>(), 0..50),
    ) {
        let mut b = start.as_bytes().to_vec();
        for l in &lines { b.extend_from_slice(l.as_bytes()); }
        b.extend_from_slice(b"\r\n");
        b.extend_from_slice(&body);
        exercise(&b);
    }

    #[test]
    fn mutated_valid_messages_never_panic(seed in prop::sample::select(seeds().to_vec()), muts in prop::collection::vec(mutation(), 1..4)) {
        let mut b = seed;
        for m in &muts { b = apply(b, m); }
        exercise(&b);
        check_forward_round_trip(&b);
        check_response_round_trip(&b);
    }

    #[test]
    fn every_prefix_of_a_stream_message_waits_or_fails_never_misframes(seed in prop::sample::select(seeds().to_vec()), cut in any::<usize>()) {
        if let Ok(Framing::Complete(n)) = frame(&seed, 1 << 16) {
            let cut = cut % n;
            let r = frame(&seed[..cut], 1 << 16);
            prop_assert!(matches!(r, Ok(Framing::Incomplete)), "prefix {} of {}: {:?}", cut, n, r);
        }
    }
}

#[test]
fn forward_round_trip_preserves_every_seed() {
    let mut checked = 0;
    for s in seeds() {
        // Every seed is a valid message (LF and leading-CRLF variants included).
        Message::parse_datagram(s).unwrap_or_else(|e| {
            panic!("seed does not parse: {e}: {:?}", String::from_utf8_lossy(s))
        });
        check_forward_round_trip(s);
        check_response_round_trip(s);
        checked += 1;
    }
    assert!(checked >= 3);
}
