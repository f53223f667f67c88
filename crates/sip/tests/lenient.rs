//! What cores (Kamailio, OpenSIPS, IMS cores) accept and the parser now accepts too: LF
//! line ends, CRLFs before the start line, up to 256 headers, display names that are not
//! UTF-8 (GBK), a Date in any time zone, repeated From/To. And what stays refused because
//! it would let the gateway and the core read one message two ways.
//!
//! Numbers are synthetic (+86 170/171 virtual-operator ranges).

#![allow(clippy::unwrap_used, clippy::panic)] // test helpers outside #[test] fns

use interdict_sip::{
    forward_request, forward_response, frame, is_keepalive, proxy_request, write_response, Contact,
    Error, ExtraHeader, ForwardOptions, Framing, HeaderKind, Message, ProxyEdits, Transport,
    MAX_HEADERS,
};

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
const MARK: &[u8] = "[疑似诈骗]".as_bytes();

const SDP: &[u8] = b"v=0\no=- 1 1 IN IP4 192.0.2.10\ns=-\n";

/// "张三", "李四", "公安局", "王五", "客服" in GBK.
const ZHANG_SAN: &[u8] = b"\xd5\xc5\xc8\xfd";
const LI_SI: &[u8] = b"\xc0\xee\xcb\xc4";
const GONG_AN_JU: &[u8] = b"\xb9\xab\xb0\xb2\xbe\xd6";
const WANG_WU: &[u8] = b"\xcd\xf5\xce\xe5";
const KE_FU: &[u8] = b"\xbf\xcd\xb7\xfe";

/// The header lines of a realistic INVITE (one folded), without line ends.
const INVITE_LINES: &[&str] = &[
    "INVITE sip:+8617100000002@core.example.net;user=phone SIP/2.0",
    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKlf1",
    "Max-Forwards: 70",
    "From: \"Zhang\" <sip:+8617000000001@sbc.example.net;user=phone>;tag=f1",
    "To: <sip:+8617100000002@core.example.net;user=phone>",
    "P-Asserted-Identity: <tel:+8617000000001>",
    "Call-ID: lf1@192.0.2.10",
    "CSeq: 1 INVITE",
    "Route: <sip:gw.example.net;lr>, <sip:core.example.net;lr>",
    "Subject: a folded",
    "\tsubject",
    "Content-Type: application/sdp",
];

/// Joins `lines` with the line end `eol(i)` after line `i`, adds Content-Length, the empty
/// line `blank` and `body`.
fn build(lines: &[&str], eol: impl Fn(usize) -> &'static str, blank: &str, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::new();
    let mut i = 0;
    for l in lines {
        m.extend_from_slice(l.as_bytes());
        m.extend_from_slice(eol(i).as_bytes());
        i += 1;
    }
    m.extend_from_slice(format!("Content-Length: {}", body.len()).as_bytes());
    m.extend_from_slice(eol(i).as_bytes());
    m.extend_from_slice(blank.as_bytes());
    m.extend_from_slice(body);
    m
}

fn lf_invite() -> Vec<u8> {
    build(INVITE_LINES, |_| "\n", "\n", SDP)
}

/// Name and value of every header, folds normalised to a single space (LF and CRLF folds of
/// the same value compare equal).
fn headers(m: &Message<'_>) -> Vec<(Vec<u8>, Vec<u8>)> {
    m.headers()
        .iter()
        .map(|h| {
            let mut v = Vec::new();
            let mut blank = false;
            for &c in h.value() {
                if matches!(c, b' ' | b'\t' | b'\r' | b'\n') {
                    blank = true;
                } else {
                    if blank && !v.is_empty() {
                        v.push(b' ');
                    }
                    blank = false;
                    v.push(c);
                }
            }
            (h.name().to_vec(), v)
        })
        .collect()
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn position(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

// ---------------------------------------------------------------------------------------
// 1. LF-only and mixed line ends
// ---------------------------------------------------------------------------------------

#[test]
fn lf_only_invite_reads_exactly_like_its_crlf_twin() {
    let crlf = build(INVITE_LINES, |_| "\r\n", "\r\n", SDP);
    let lf = lf_invite();
    let a = Message::parse_datagram(&crlf).unwrap();
    let b = Message::parse_datagram(&lf).unwrap();
    a.validate().unwrap();
    b.validate().unwrap();
    assert_eq!(headers(&a), headers(&b));
    assert_eq!(b.headers().len(), 11);
    assert_eq!(b.method().unwrap().as_str(), "INVITE");
    assert_eq!(b.request_uri().unwrap().user(), Some("+8617100000002"));
    assert_eq!(b.from().unwrap().uri().user(), Some("+8617000000001"));
    assert_eq!(b.from().unwrap().tag(), Some("f1"));
    assert_eq!(b.to().unwrap().uri().user(), Some("+8617100000002"));
    assert_eq!(b.caller().unwrap().uri().user(), Some("+8617000000001"));
    assert_eq!(b.call_id().unwrap(), "lf1@192.0.2.10");
    assert_eq!(b.cseq().unwrap().seq, 1);
    assert_eq!(b.max_forwards().unwrap(), Some(70));
    assert_eq!(b.top_via().unwrap().branch(), Some("z9hG4bKlf1"));
    assert_eq!(b.routes().count(), 2);
    let subject = b.headers_named("Subject").next().unwrap();
    assert_eq!(subject.value(), b"a folded\n\tsubject");
    assert_eq!(b.content_length(), Some(SDP.len()));
    assert_eq!(b.body(), SDP);
    assert_eq!(b.body_offset(), lf.len() - SDP.len());
    assert_eq!(&lf[b.body_offset() - 2..b.body_offset()], b"\n\n");
    assert_eq!(b.len(), lf.len());
    // A header's end is the start of the next line, after its LF.
    let via = b.header(HeaderKind::Via).unwrap();
    let via_end = via.value().as_ptr() as usize - lf.as_ptr() as usize + via.value().len() + 1;
    assert_eq!(&lf[via_end..via_end + 13], b"Max-Forwards:");
}

#[test]
fn mixed_line_ends_and_every_form_of_the_empty_line() {
    // Alternating CRLF and LF, then each of `\n\n`, `\r\n\n`, `\n\r\n`, `\r\n\r\n`.
    for (last, blank) in [
        ("\n", "\n"),
        ("\r\n", "\n"),
        ("\n", "\r\n"),
        ("\r\n", "\r\n"),
    ] {
        let n = INVITE_LINES.len();
        let m = build(
            INVITE_LINES,
            |i| {
                if i == n {
                    last
                } else if i % 2 == 0 {
                    "\r\n"
                } else {
                    "\n"
                }
            },
            blank,
            SDP,
        );
        let msg = Message::parse_datagram(&m).unwrap_or_else(|e| panic!("{last:?}{blank:?}: {e}"));
        msg.validate().unwrap();
        assert_eq!(msg.headers().len(), 11, "{last:?}{blank:?}");
        assert_eq!(msg.content_length(), Some(SDP.len()));
        assert_eq!(msg.body(), SDP, "{last:?}{blank:?}");
        let header_end = m.len() - SDP.len() - blank.len();
        assert_eq!(msg.body_offset(), m.len() - SDP.len());
        assert_eq!(&m[header_end - last.len()..header_end], last.as_bytes());
        assert_eq!(
            msg.header(HeaderKind::ContentLength).unwrap().value(),
            SDP.len().to_string().as_bytes()
        );
        // The body may itself start with line ends: they are body bytes, not header ends.
        let body = b"\r\n\nx";
        let m = build(INVITE_LINES, |_| "\n", blank, body);
        assert_eq!(Message::parse_datagram(&m).unwrap().body(), body);
    }
}

#[test]
fn lf_folds_continue_a_value() {
    let m = b"OPTIONS sip:+8617100000002@core.example.net SIP/2.0\n\
Via: SIP/2.0/UDP 192.0.2.10:5060\n ;branch=z9hG4bKfold\n\
From: \"Zhang\"\n\t<sip:+8617000000001@sbc.example.net>;tag=f1\n\
To: <sip:+8617100000002@core.example.net>\n\
Call-ID: fold@192.0.2.10\n\
CSeq: 2\n OPTIONS\n\
Content-Length: 0\n\n";
    let msg = Message::parse_datagram(m).unwrap();
    msg.validate().unwrap();
    assert_eq!(msg.top_via().unwrap().branch(), Some("z9hG4bKfold"));
    let from = msg.from().unwrap();
    assert_eq!(from.display_name().unwrap().text(), "Zhang");
    assert_eq!(from.uri().user(), Some("+8617000000001"));
    assert_eq!(msg.cseq().unwrap().method, "OPTIONS");
    assert_eq!(msg.headers().len(), 6);
}

#[test]
fn a_bare_cr_stays_an_error() {
    for (m, at) in [
        (&b"INVITE sip:a@b.example SIP/2.0\rVia: x\r\n\r\n"[..], 30),
        (
            b"INVITE sip:a@b.example SIP/2.0\r\nSubject: a\rb\r\n\r\n",
            42,
        ),
        (b"INVITE sip:a@b.example SIP/2.0\nSubject: a\n\rX", 42),
        (b"INVITE sip:a@b.example SIP/2.0\nSubject: a\r\r\n\r\n", 41),
    ] {
        assert_eq!(
            Message::parse_datagram(m).unwrap_err(),
            Error::BareLineEnd { offset: at },
            "{m:?}"
        );
        assert!(matches!(frame(m, 4096), Err(Error::BareLineEnd { .. })));
    }
}

#[test]
fn lf_only_stream_messages_frame_and_parse_the_same_way() {
    let a = lf_invite();
    let b = build(
        INVITE_LINES,
        |i| if i % 2 == 0 { "\n" } else { "\r\n" },
        "\r\n",
        b"",
    );
    let mut stream = a.clone();
    stream.extend_from_slice(b"\n\n");
    stream.extend_from_slice(&b);
    assert_eq!(frame(&stream, 1 << 16).unwrap(), Framing::Complete(a.len()));
    let m = Message::parse_stream(&stream[..a.len()]).unwrap();
    assert_eq!((m.len(), m.body()), (a.len(), SDP));
    let rest = &stream[a.len()..];
    // LFs between stream messages are consumed like CRLF keep-alives.
    assert_eq!(frame(rest, 1 << 16).unwrap(), Framing::KeepAlive(2));
    let rest = &rest[2..];
    assert_eq!(frame(rest, 1 << 16).unwrap(), Framing::Complete(b.len()));
    let m = Message::parse_stream(rest).unwrap();
    assert_eq!((m.len(), m.body()), (b.len(), &b""[..]));
    for n in 1..a.len() {
        assert_eq!(
            frame(&a[..n], 1 << 16).unwrap(),
            Framing::Incomplete,
            "prefix {n}"
        );
    }
}

#[test]
fn writers_on_lf_only_input_produce_messages_that_reparse_the_same() {
    let lf = lf_invite();
    let m = Message::parse_datagram(&lf).unwrap();

    // A stateless 608: the copied lines keep their LF, the added ones use CRLF.
    let mut out = Vec::new();
    write_response(
        &m,
        608,
        "Rejected",
        "gw1",
        &[ExtraHeader::Reason {
            cause: 608,
            text: "fraud",
        }],
        &mut out,
    )
    .unwrap();
    assert!(out.starts_with(
        b"SIP/2.0 608 Rejected\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKlf1\nFrom: "
    ));
    let r = Message::parse_datagram(&out).unwrap();
    r.validate().unwrap();
    assert_eq!(r.status_code(), Some(608));
    assert_eq!(r.to().unwrap().tag(), Some("gw1"));
    assert_eq!(
        r.to().unwrap().uri().as_str(),
        m.to().unwrap().uri().as_str()
    );
    for kind in [
        HeaderKind::Via,
        HeaderKind::From,
        HeaderKind::CallId,
        HeaderKind::CSeq,
    ] {
        assert_eq!(
            r.header(kind).unwrap().value(),
            m.header(kind).unwrap().value()
        );
    }
    assert_eq!(r.body(), b"");

    // Forwarded and marked: every original header in order, then the same body.
    for opts in [OPTS, MARKED] {
        out.clear();
        forward_request(&m, &opts, &mut out).unwrap();
        let f = Message::parse_datagram(&out).unwrap();
        f.validate().unwrap();
        assert_eq!(f.body(), SDP);
        assert_eq!(f.headers().len(), m.headers().len() + 1);
        assert_eq!(f.vias().count(), 2);
        assert_eq!(f.max_forwards().unwrap(), Some(69));
        for (a, b) in m.headers().iter().zip(&f.headers()[1..]) {
            assert_eq!(a.name(), b.name());
            if !matches!(
                a.kind(),
                HeaderKind::MaxForwards | HeaderKind::From | HeaderKind::PAssertedIdentity
            ) {
                assert_eq!(a.value(), b.value());
            }
        }
        let from = f.from().unwrap();
        assert_eq!(from.tag(), Some("f1"));
        if opts.mark.is_some() {
            assert_eq!(from.display_name().unwrap().text(), "[疑似诈骗]Zhang");
            let pai = f.p_asserted_identities().next().unwrap().unwrap();
            assert_eq!(pai.display_name().unwrap().text(), "[疑似诈骗]");
            assert_eq!(pai.uri().as_str(), "tel:+8617000000001");
        }
    }

    // The record-routing proxy's edits on the same LF-only request.
    out.clear();
    let edits = ProxyEdits {
        record_route: Some("sip:gw.example.net;lr"),
        remove_top_route: true,
        received: Some(("198.51.100.7".parse().unwrap(), 5062)),
        branch: None,
    };
    proxy_request(&m, &MARKED, &edits, &mut out).unwrap();
    let p = Message::parse_datagram(&out).unwrap();
    p.validate().unwrap();
    assert_eq!(p.body(), SDP);
    let routes: Vec<_> = p.routes().map(|r| r.unwrap().uri().as_str()).collect();
    assert_eq!(routes, ["sip:core.example.net;lr"]);
    assert_eq!(
        p.record_routes().next().unwrap().unwrap().uri().as_str(),
        "sip:gw.example.net;lr"
    );
    assert_eq!(
        p.vias().nth(1).unwrap().unwrap().received(),
        Some("198.51.100.7")
    );

    // A response with LF line ends loses only its top Via.
    let resp = b"SIP/2.0 180 Ringing\n\
Via: SIP/2.0/UDP gw.example.net:5060;branch=z9hG4bKgw, SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKlf1\n\
Via: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKlf0\n\
From: \"Zhang\" <sip:+8617000000001@sbc.example.net>;tag=f1\n\
To: <sip:+8617100000002@core.example.net>;tag=t9\n\
Call-ID: lf1@192.0.2.10\n\
CSeq: 1 INVITE\n\
Content-Length: 0\n\n";
    let r = Message::parse_datagram(resp).unwrap();
    out.clear();
    forward_response(&r, &mut out).unwrap();
    let f = Message::parse_datagram(&out).unwrap();
    let vias: Vec<_> = f.vias().map(|v| v.unwrap().branch().unwrap()).collect();
    assert_eq!(vias, ["z9hG4bKlf1", "z9hG4bKlf0"]);
    assert_eq!(f.headers().len(), r.headers().len());
    // Only top-Via lines: the whole line goes, LF included.
    let one = b"SIP/2.0 200 OK\nVia: SIP/2.0/UDP gw.example.net;branch=z9hG4bKgw\nVia: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKlf1\nCall-ID: x\nContent-Length: 0\n\n";
    let r = Message::parse_datagram(one).unwrap();
    out.clear();
    forward_response(&r, &mut out).unwrap();
    assert_eq!(
        out,
        b"SIP/2.0 200 OK\nVia: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKlf1\nCall-ID: x\nContent-Length: 0\n\n"
    );
}

// ---------------------------------------------------------------------------------------
// 2. CRLFs before the start line
// ---------------------------------------------------------------------------------------

#[test]
fn crlfs_before_the_start_line_of_a_datagram_are_skipped() {
    let invite = build(INVITE_LINES, |_| "\r\n", "\r\n", SDP);
    for lead in [&b"\r\n"[..], b"\r\n\r\n", b"\r\n\r\n\r\n", b"\n", b"\n\r\n"] {
        let mut d = lead.to_vec();
        d.extend_from_slice(&invite);
        let m = Message::parse_datagram(&d).unwrap_or_else(|e| panic!("{lead:?}: {e}"));
        m.validate().unwrap();
        // The message starts at its start line: the skipped bytes are neither part of it
        // nor counted as trailing octets.
        assert_eq!(m.as_bytes(), &invite[..]);
        assert_eq!(m.len(), invite.len());
        assert_eq!(m.leading_len(&d), lead.len());
        assert_eq!(m.trailing_len(&d), 0);
        assert_eq!(m.body(), SDP);
        assert_eq!(m.body_offset(), invite.len() - SDP.len());
        assert_eq!(m.call_id().unwrap(), "lf1@192.0.2.10");
        // Writers splice from the message bytes: nothing before the start line is forwarded.
        let mut out = Vec::new();
        forward_request(&m, &OPTS, &mut out).unwrap();
        assert!(out.starts_with(b"INVITE sip:+8617100000002@core.example.net;user=phone SIP/2.0\r\nVia: SIP/2.0/UDP gw.example.net:5060;branch="));
        assert_eq!(Message::parse_datagram(&out).unwrap().body(), SDP);
        out.clear();
        write_response(&m, 603, "Decline", "gw2", &[], &mut out).unwrap();
        assert!(out.starts_with(b"SIP/2.0 603 Decline\r\n"));
    }
    // Trailing octets are still counted after a skipped lead.
    let mut d = b"\r\n".to_vec();
    d.extend_from_slice(&invite);
    d.extend_from_slice(b"junk");
    let m = Message::parse_datagram(&d).unwrap();
    assert_eq!((m.leading_len(&d), m.trailing_len(&d)), (2, 4));
    // A truncated body is still answerable, with the lead skipped.
    let mut short = b"\r\n".to_vec();
    short.extend_from_slice(&invite[..invite.len() - 3]);
    assert!(matches!(
        Message::parse_datagram(&short),
        Err(Error::BodyTruncated { .. })
    ));
    let a = Message::parse_for_answer(&short).unwrap();
    assert!(a.as_bytes().starts_with(b"INVITE "));
}

#[test]
fn keepalives_stay_keepalives_and_a_bare_cr_before_the_start_line_is_refused() {
    for k in [&b"\r\n"[..], b"\r\n\r\n"] {
        assert!(is_keepalive(k));
        assert_eq!(Message::parse_datagram(k).unwrap_err(), Error::Empty);
    }
    assert!(!is_keepalive(b"\n\n"));
    assert_eq!(Message::parse_datagram(b"\n\n").unwrap_err(), Error::Empty);
    assert_eq!(
        Message::parse_datagram(b"\r\n\n").unwrap_err(),
        Error::Empty
    );
    let invite = build(INVITE_LINES, |_| "\r\n", "\r\n", SDP);
    let mut d = b"\r\n\r".to_vec();
    d.extend_from_slice(&invite);
    assert!(matches!(
        Message::parse_datagram(&d),
        Err(Error::BareLineEnd { offset: 0 })
    ));
}

// ---------------------------------------------------------------------------------------
// 3. More than 64 headers
// ---------------------------------------------------------------------------------------

/// An INVITE of exactly `n` header lines: `n - 7` X-Hop/Via/Record-Route/History-Info lines
/// first, then the identities after them (so they are read from the heap index).
fn long_invite(n: usize) -> Vec<u8> {
    let mut m = String::from("INVITE sip:+8617100000002@core.example.net SIP/2.0\r\n");
    m.push_str("Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKlong\r\n");
    for i in 0..n - 7 {
        match i % 4 {
            0 => m.push_str(&format!("Record-Route: <sip:p{i}.example.net;lr>\r\n")),
            1 => m.push_str(&format!(
                "Via: SIP/2.0/UDP 192.0.2.{}:5060;branch=z9hG4bK{i}\r\n",
                i % 250
            )),
            2 => m.push_str(&format!(
                "History-Info: <sip:+861710000{i:04}@core.example.net>;index=1.{i}\r\n"
            )),
            _ => m.push_str(&format!("X-Hop-{i}: carrier {i}\r\n")),
        }
    }
    m.push_str("From: <sip:+8617000000001@sbc.example.net>;tag=long\r\n");
    m.push_str("To: <sip:+8617100000002@core.example.net>\r\n");
    m.push_str("P-Asserted-Identity: <tel:+8617000000001>\r\n");
    m.push_str("Call-ID: long@192.0.2.10\r\n");
    m.push_str("CSeq: 1 INVITE\r\n");
    m.push_str("Content-Length: 0\r\n\r\n");
    m.into_bytes()
}

#[test]
fn up_to_256_headers_are_indexed_in_order() {
    assert_eq!(MAX_HEADERS, 256);
    for n in [64, 65, 100, 200, MAX_HEADERS] {
        let bytes = long_invite(n);
        let m = Message::parse_datagram(&bytes).unwrap_or_else(|e| panic!("{n}: {e}"));
        m.validate().unwrap();
        assert_eq!(m.headers().len(), n);
        assert_eq!(m.from().unwrap().tag(), Some("long"));
        assert_eq!(m.caller().unwrap().uri().as_str(), "tel:+8617000000001");
        assert_eq!(m.call_id().unwrap(), "long@192.0.2.10");
        let hops = n - 7;
        let vias: Vec<_> = m
            .vias()
            .map(|v| v.unwrap().branch().unwrap().to_string())
            .collect();
        let expect: Vec<String> = std::iter::once("z9hG4bKlong".to_string())
            .chain(
                (0..hops)
                    .filter(|i| i % 4 == 1)
                    .map(|i| format!("z9hG4bK{i}")),
            )
            .collect();
        assert_eq!(vias, expect, "{n}");
        assert_eq!(
            m.record_routes().count(),
            (0..hops).filter(|i| i % 4 == 0).count()
        );
        assert_eq!(
            m.history_info().count(),
            (0..hops).filter(|i| i % 4 == 2).count()
        );
        assert_eq!(m.headers()[n - 1].kind(), HeaderKind::ContentLength);
        assert_eq!(
            frame(&bytes, 1 << 16).unwrap(),
            Framing::Complete(bytes.len())
        );
        let s = Message::parse_stream(&bytes).unwrap();
        assert_eq!(s.headers().len(), n);
        if n < MAX_HEADERS {
            let mut out = Vec::new();
            forward_request(&m, &MARKED, &mut out).unwrap();
            let f = Message::parse_datagram(&out).unwrap();
            // A Via and a Max-Forwards (absent here) are added.
            assert_eq!(f.headers().len(), n + 2);
            assert_eq!(f.vias().count(), vias.len() + 1);
            assert_eq!(
                f.from().unwrap().display_name().unwrap().text(),
                "[疑似诈骗]"
            );
        }
    }
}

#[test]
fn more_than_256_headers_is_an_error() {
    let bytes = long_invite(MAX_HEADERS + 1);
    match Message::parse_datagram(&bytes) {
        Err(Error::TooManyHeaders { max, offset }) => {
            assert_eq!(max, 256);
            assert_eq!(&bytes[offset..offset + 5], b"Conte");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        frame(&bytes, 1 << 16),
        Err(Error::TooManyHeaders { max: 256, .. })
    ));
}

// ---------------------------------------------------------------------------------------
// 4. Display names that are not UTF-8 (GBK)
// ---------------------------------------------------------------------------------------

fn gbk_invite() -> Vec<u8> {
    let mut m = Vec::new();
    let mut line = |parts: &[&[u8]]| {
        for p in parts {
            m.extend_from_slice(p);
        }
        m.extend_from_slice(b"\r\n");
    };
    line(&[b"INVITE sip:+8617100000002@core.example.net SIP/2.0"]);
    line(&[b"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKgbk"]);
    line(&[b"Max-Forwards: 70"]);
    line(&[
        b"Route: \"",
        KE_FU,
        b"\" <sip:gw.example.net;lr>, <sip:core.example.net;lr>",
    ]);
    line(&[b"Record-Route: \"", KE_FU, b"\" <sip:sbc.example.net;lr>"]);
    line(&[
        b"From: \"",
        ZHANG_SAN,
        b"\" <sip:+8617000000001@sbc.example.net>;tag=g1",
    ]);
    line(&[
        b"To: \"",
        LI_SI,
        b"\" <sip:+8617100000002@core.example.net>",
    ]);
    line(&[
        b"P-Asserted-Identity: \"",
        GONG_AN_JU,
        b"\" <tel:+8617000000001>, <sip:+8617000000001@sbc.example.net>",
    ]);
    line(&[
        b"Contact: \"",
        WANG_WU,
        b"\" <sip:+8617000000001@192.0.2.10:5060>",
    ]);
    line(&[
        b"Diversion: \"",
        KE_FU,
        b"\" <sip:+8617100000003@core.example.net>;reason=unconditional",
    ]);
    line(&[b"History-Info: \"", KE_FU, b"\" <sip:+8617100000003@core.example.net>;index=1, <sip:+8617100000002@core.example.net>;index=1.1"]);
    line(&[b"Call-ID: gbk@192.0.2.10"]);
    line(&[b"CSeq: 1 INVITE"]);
    line(&[b"Content-Length: 0"]);
    line(&[]);
    m
}

#[test]
fn gbk_display_names_are_read_in_every_address_header() {
    let bytes = gbk_invite();
    let m = Message::parse_datagram(&bytes).unwrap();
    m.validate().unwrap();

    let from = m.from().unwrap();
    let dn = from.display_name().unwrap();
    assert!(dn.is_quoted());
    assert_eq!(dn.raw(), cat(&[b"\"", ZHANG_SAN, b"\""]));
    assert_eq!(dn.raw_str(), None);
    assert_eq!(dn.inner(), ZHANG_SAN);
    assert_eq!(&*dn.unescaped(), ZHANG_SAN);
    assert_eq!(dn.text(), "张三");
    assert_eq!(from.uri().user(), Some("+8617000000001"));
    assert_eq!(from.tag(), Some("g1"));
    assert_eq!(from.as_str(), None);
    assert!(from
        .as_bytes()
        .ends_with(b"<sip:+8617000000001@sbc.example.net>;tag=g1"));
    // The header value is still not UTF-8 as a whole.
    assert_eq!(m.header(HeaderKind::From).unwrap().value_str(), None);

    let to = m.to().unwrap();
    assert_eq!(to.display_name().unwrap().text(), "李四");
    assert_eq!(to.uri().user(), Some("+8617100000002"));

    let pais: Vec<_> = m.p_asserted_identities().map(Result::unwrap).collect();
    assert_eq!(pais.len(), 2);
    assert_eq!(pais[0].display_name().unwrap().text(), "公安局");
    assert_eq!(pais[0].uri().as_str(), "tel:+8617000000001");
    assert_eq!(pais[1].uri().user(), Some("+8617000000001"));
    assert_eq!(m.caller().unwrap().display_name().unwrap().text(), "公安局");

    let Contact::Address(c) = m.contacts().next().unwrap().unwrap() else {
        panic!("not an address")
    };
    assert_eq!(c.display_name().unwrap().text(), "王五");
    assert_eq!(c.uri().port(), Some(5060));

    let div = m.diversions().next().unwrap().unwrap();
    assert_eq!(div.display_name().unwrap().text(), "客服");
    assert_eq!(div.params().get("reason"), Some(Some("unconditional")));
    assert_eq!(
        m.original_callee().unwrap().unwrap().uri().user(),
        Some("+8617100000003")
    );
    let hi: Vec<_> = m.history_info().map(Result::unwrap).collect();
    assert_eq!(hi.len(), 2);
    assert_eq!(hi[0].display_name().unwrap().text(), "客服");
    assert_eq!(hi[1].params().get("index"), Some(Some("1.1")));

    let routes: Vec<_> = m.routes().map(Result::unwrap).collect();
    assert_eq!(routes[0].display_name().unwrap().text(), "客服");
    assert_eq!(routes[1].uri().as_str(), "sip:core.example.net;lr");
    let rr = m.record_routes().next().unwrap().unwrap();
    assert_eq!(rr.uri().as_str(), "sip:sbc.example.net;lr");
}

#[test]
fn only_the_display_name_may_be_other_than_utf8() {
    let ok = |from: &[u8]| {
        let mut d = b"OPTIONS sip:+8617100000002@core.example.net SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKx\r\nFrom: ".to_vec();
        d.extend_from_slice(from);
        d.extend_from_slice(b"\r\nTo: <sip:+8617100000002@core.example.net>\r\nCall-ID: u@192.0.2.10\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
        let m = Message::parse_datagram(&d).unwrap();
        (
            m.from()
                .map(|f| f.display_name().map(|d| d.text().into_owned())),
            m.validate().is_ok(),
        )
    };
    // Quoted, with an escape and GBK: accepted.
    let (from, valid) = ok(&cat(&[
        b"\"\\\"",
        ZHANG_SAN,
        b"\\\"\" <sip:+8617000000001@sbc.example.net>;tag=a",
    ]));
    assert_eq!(from.unwrap().unwrap(), "\"张三\"");
    assert!(valid);
    // In the URI, in a parameter, or as an unquoted display name: refused.
    for bad in [
        cat(&[b"<sip:", ZHANG_SAN, b"@sbc.example.net>;tag=a"]),
        cat(&[b"<sip:+8617000000001@sbc.example.net>;tag=", ZHANG_SAN]),
        cat(&[
            b"<sip:+8617000000001@sbc.example.net>;x=\"",
            ZHANG_SAN,
            b"\"",
        ]),
        cat(&[ZHANG_SAN, b" <sip:+8617000000001@sbc.example.net>;tag=a"]),
    ] {
        let (from, valid) = ok(&bad);
        assert!(
            matches!(from, Err(Error::InvalidHeader { name: "From", .. })),
            "{bad:?}: {from:?}"
        );
        assert!(!valid);
    }
    // Bytes that are neither UTF-8 nor GB18030 still give a (lossy) text.
    let (from, _) = ok(b"\"\xff\xfe\" <sip:+8617000000001@sbc.example.net>;tag=a");
    assert_eq!(from.unwrap().unwrap(), "\u{fffd}\u{fffd}");
}

#[test]
fn marking_a_gbk_display_name_keeps_its_bytes() {
    let bytes = gbk_invite();
    let m = Message::parse_datagram(&bytes).unwrap();
    let mut out = Vec::new();
    forward_request(&m, &MARKED, &mut out).unwrap();
    let marked_from = cat(&[
        b"From: \"",
        MARK,
        ZHANG_SAN,
        b"\" <sip:+8617000000001@sbc.example.net>;tag=g1\r\n",
    ]);
    assert!(position(&out, &marked_from).is_some());
    let marked_pai = [
        b"P-Asserted-Identity: \"",
        MARK,
        GONG_AN_JU,
        b"\" <tel:+8617000000001>, \"",
        MARK,
        b"\" <sip:+8617000000001@sbc.example.net>\r\n",
    ]
    .concat();
    assert!(position(&out, &marked_pai).is_some());
    // Everything else is copied byte for byte, GBK included.
    for unchanged in [
        cat(&[
            b"To: \"",
            LI_SI,
            b"\" <sip:+8617100000002@core.example.net>\r\n",
        ]),
        cat(&[
            b"Diversion: \"",
            KE_FU,
            b"\" <sip:+8617100000003@core.example.net>;reason=unconditional\r\n",
        ]),
    ] {
        assert!(position(&out, &unchanged).is_some());
    }
    let f = Message::parse_datagram(&out).unwrap();
    f.validate().unwrap();
    let dn = f.from().unwrap().display_name().unwrap();
    assert_eq!(&*dn.unescaped(), cat(&[MARK, ZHANG_SAN]));
    assert_eq!(f.from().unwrap().tag(), Some("g1"));
    assert_eq!(f.headers().len(), m.headers().len() + 1);

    // The record-routing proxy removes the GBK-named top Route and keeps the second.
    out.clear();
    let edits = ProxyEdits {
        remove_top_route: true,
        ..ProxyEdits::default()
    };
    proxy_request(&m, &OPTS, &edits, &mut out).unwrap();
    let p = Message::parse_datagram(&out).unwrap();
    let routes: Vec<_> = p.routes().map(|r| r.unwrap().uri().as_str()).collect();
    assert_eq!(routes, ["sip:core.example.net;lr"]);

    // A stateless answer copies the GBK From and To byte for byte.
    out.clear();
    write_response(&m, 608, "Rejected", "gw3", &[], &mut out).unwrap();
    let r = Message::parse_datagram(&out).unwrap();
    assert_eq!(
        r.from().unwrap().display_name().unwrap().raw(),
        cat(&[b"\"", ZHANG_SAN, b"\""])
    );
    assert_eq!(r.to().unwrap().display_name().unwrap().text(), "李四");
    assert_eq!(r.to().unwrap().tag(), Some("gw3"));
}

// ---------------------------------------------------------------------------------------
// 5. Date in any time zone
// ---------------------------------------------------------------------------------------

#[test]
fn a_date_in_any_time_zone_is_accepted_and_forwarded_as_written() {
    for date in [
        "Fri, 01 Jan 2010 16:00:00 EST",
        "Fri, 01 Jan 2010 16:00:00 +0800",
        "Fri, 01 Jan 2010 16:00:00 CST",
        "2010-01-01T16:00:00+08:00",
    ] {
        let mut lines = INVITE_LINES.to_vec();
        let d = format!("Date: {date}");
        lines.push(&d);
        let bytes = build(&lines, |_| "\r\n", "\r\n", SDP);
        let m = Message::parse_datagram(&bytes).unwrap();
        m.validate().unwrap_or_else(|e| panic!("{date}: {e}"));
        assert_eq!(m.header(HeaderKind::Date).unwrap().value(), date.as_bytes());
        let mut out = Vec::new();
        forward_request(&m, &OPTS, &mut out).unwrap();
        let f = Message::parse_datagram(&out).unwrap();
        assert_eq!(f.header(HeaderKind::Date).unwrap().value(), date.as_bytes());
    }
}

// ---------------------------------------------------------------------------------------
// 6. Repeated From / To; Content-Length, Call-ID, CSeq
// ---------------------------------------------------------------------------------------

fn with_headers(extra: &str) -> Vec<u8> {
    format!(
        "INVITE sip:+8617100000002@core.example.net SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKdup\r\n\
Max-Forwards: 70\r\n\
{extra}\
Call-ID: dup@192.0.2.10\r\n\
CSeq: 1 INVITE\r\n\
Content-Length: 4\r\n\r\nbody"
    )
    .into_bytes()
}

#[test]
fn repeated_from_and_to_read_as_cores_read_them_with_every_value_available() {
    let bytes = with_headers(
        "From: \"Bank\" <sip:+8617000000001@sbc.example.net>;tag=a1\r\n\
To: <sip:+8617100000002@core.example.net>\r\n\
f: <sip:+8617000000009@sbc.example.net>;tag=a2\r\n\
t: <sip:+8617100000008@core.example.net>\r\n",
    );
    let m = Message::parse_datagram(&bytes).unwrap();
    m.validate().unwrap();
    // The first, as the core reads it.
    assert_eq!(m.from().unwrap().uri().user(), Some("+8617000000001"));
    assert_eq!(m.to().unwrap().uri().user(), Some("+8617100000002"));
    assert_eq!(m.caller().unwrap().tag(), Some("a1"));
    // Every one, for the gateway to check.
    let froms: Vec<_> = m
        .from_all()
        .map(|f| f.unwrap().uri().user().unwrap())
        .collect();
    assert_eq!(froms, ["+8617000000001", "+8617000000009"]);
    let tos: Vec<_> = m
        .to_all()
        .map(|t| t.unwrap().uri().user().unwrap())
        .collect();
    assert_eq!(tos, ["+8617100000002", "+8617100000008"]);
    assert_eq!(m.headers_of(HeaderKind::From).count(), 2);

    // Marking marks every From, so whichever one a later hop shows carries the warning.
    let mut out = Vec::new();
    forward_request(&m, &MARKED, &mut out).unwrap();
    let f = Message::parse_datagram(&out).unwrap();
    let names: Vec<_> = f
        .from_all()
        .map(|a| a.unwrap().display_name().unwrap().text().into_owned())
        .collect();
    assert_eq!(names, ["[疑似诈骗]Bank", "[疑似诈骗]"]);
    assert_eq!(f.body(), b"body");

    // A stateless answer copies the first From and To, as the core would answer.
    out.clear();
    write_response(&m, 608, "Rejected", "gw4", &[], &mut out).unwrap();
    let r = Message::parse_datagram(&out).unwrap();
    assert_eq!(r.from_all().count(), 1);
    assert_eq!(r.from().unwrap().tag(), Some("a1"));
    assert_eq!(r.to().unwrap().tag(), Some("gw4"));
}

#[test]
fn a_repeated_identity_the_gateway_cannot_read_is_refused() {
    let bytes = with_headers(
        "From: <sip:+8617000000001@sbc.example.net>;tag=a1\r\n\
To: <sip:+8617100000002@core.example.net>\r\n\
From: Bell, Alexander <sip:+8617000000009@sbc.example.net>\r\n",
    );
    let m = Message::parse_datagram(&bytes).unwrap();
    assert!(m.from().is_ok());
    assert!(m.from_all().nth(1).unwrap().is_err());
    assert!(matches!(
        m.validate(),
        Err(Error::InvalidHeader { name: "From", .. })
    ));
    let mut out = Vec::new();
    assert!(forward_request(&m, &MARKED, &mut out).is_err());
    assert!(out.is_empty());
}

#[test]
fn content_length_may_repeat_only_with_the_same_value() {
    let same = b"OPTIONS sip:+8617100000002@core.example.net SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKcl\r\n\
From: <sip:+8617000000001@sbc.example.net>;tag=c\r\n\
To: <sip:+8617100000002@core.example.net>\r\n\
Call-ID: cl@192.0.2.10\r\nCSeq: 1 OPTIONS\r\n\
Content-Length: 4\r\nl: 004\r\n\r\nbody";
    let m = Message::parse_datagram(same).unwrap();
    m.validate().unwrap();
    assert_eq!((m.content_length(), m.body()), (Some(4), &b"body"[..]));
    assert_eq!(frame(same, 4096).unwrap(), Framing::Complete(same.len()));

    let differ = b"OPTIONS sip:+8617100000002@core.example.net SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKcl\r\n\
Content-Length: 4\r\nContent-Length: 0\r\n\r\nbody";
    let e = Message::parse_datagram(differ).unwrap_err();
    assert!(matches!(
        e,
        Error::DuplicateHeader {
            name: "Content-Length",
            ..
        }
    ));
    assert!(matches!(
        frame(differ, 4096),
        Err(Error::DuplicateHeader {
            name: "Content-Length",
            ..
        })
    ));
}

#[test]
fn call_id_cseq_max_forwards_and_content_type_may_not_repeat() {
    for (dup, name) in [
        ("Call-ID: dup@192.0.2.10\r\n", "Call-ID"),
        ("i: other@192.0.2.10\r\n", "Call-ID"),
        ("CSeq: 1 INVITE\r\n", "CSeq"),
        ("Max-Forwards: 70\r\n", "Max-Forwards"),
        (
            "Content-Type: text/plain\r\nc: text/plain\r\n",
            "Content-Type",
        ),
    ] {
        let bytes = with_headers(&format!(
            "From: <sip:+8617000000001@sbc.example.net>;tag=a1\r\nTo: <sip:+8617100000002@core.example.net>\r\n{dup}"
        ));
        // Call-ID, CSeq and Max-Forwards appear once more in `with_headers` itself.
        let e = Message::parse_datagram(&bytes).unwrap_err();
        assert!(
            matches!(e, Error::DuplicateHeader { name: n, .. } if n == name),
            "{dup}: {e:?}"
        );
    }
}
