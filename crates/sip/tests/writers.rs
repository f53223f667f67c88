//! The splicing writers: stateless responses, forwarded requests (Via, Max-Forwards,
//! marking), forwarded responses. Numbers are synthetic (+86 170/171 virtual-operator ranges).

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use interdict_sip::{
    forward_request, forward_response, samples, stateless_branch, write_response, Error,
    ExtraHeader, ForwardOptions, HeaderKind, Message, Transport,
};

const OPTS: ForwardOptions<'static> = ForwardOptions {
    via_host: "gw.example.net",
    via_port: Some(5060),
    transport: Transport::Udp,
    mark: None,
};

fn req(headers: &str) -> Vec<u8> {
    format!("INVITE sip:+8617100000002@ims.example.net SIP/2.0\r\n{headers}Call-ID: c1@h\r\nCSeq: 7 INVITE\r\nContent-Length: 4\r\n\r\nbody")
        .into_bytes()
}

fn forwarded(bytes: &[u8], opts: &ForwardOptions<'_>) -> Vec<u8> {
    let m = Message::parse_datagram(bytes).unwrap();
    let mut out = Vec::new();
    forward_request(&m, opts, &mut out).unwrap();
    out
}

#[test]
fn response_608_copies_lines_and_adds_tag_reason_call_info() {
    let bytes = req("Via: SIP/2.0/UDP a.example.net;branch=z9hG4bK1\r\nv: SIP/2.0/UDP b.example.net;branch=z9hG4bK2, SIP/2.0/TCP c.example.net;branch=z9hG4bK3\r\nf: \"A\" <sip:+8617000000001@x>;tag=9\r\nTo:  <sip:+8617100000002@y>  \r\nMax-Forwards: 70\r\n");
    let m = Message::parse_datagram(&bytes).unwrap();
    let mut out = b"prefix".to_vec();
    write_response(
        &m,
        608,
        "Rejected",
        "idt42",
        &[
            ExtraHeader::Reason {
                cause: 608,
                text: "fraud \"number\"",
            },
            ExtraHeader::CallInfo {
                uri: "https://gw.example.net/jcard.json",
                purpose: "jwscard",
            },
            ExtraHeader::Raw {
                name: "Warning",
                value: "399 gw.example.net \"blocked\"",
            },
        ],
        &mut out,
    )
    .unwrap();
    let expected = "prefixSIP/2.0 608 Rejected\r\n\
Via: SIP/2.0/UDP a.example.net;branch=z9hG4bK1\r\n\
v: SIP/2.0/UDP b.example.net;branch=z9hG4bK2, SIP/2.0/TCP c.example.net;branch=z9hG4bK3\r\n\
f: \"A\" <sip:+8617000000001@x>;tag=9\r\n\
To:  <sip:+8617100000002@y>;tag=idt42\r\n\
Call-ID: c1@h\r\n\
CSeq: 7 INVITE\r\n\
Reason: SIP;cause=608;text=\"fraud \\\"number\\\"\"\r\n\
Call-Info: <https://gw.example.net/jcard.json>;purpose=jwscard\r\n\
Warning: 399 gw.example.net \"blocked\"\r\n\
Content-Length: 0\r\n\r\n";
    assert_eq!(String::from_utf8(out.clone()).unwrap(), expected);
    let r = Message::parse_datagram(&out[6..]).unwrap();
    r.validate().unwrap();
    assert_eq!(r.status_code(), Some(608));
    assert_eq!(r.vias().count(), 3);
    assert_eq!(r.to().unwrap().tag(), Some("idt42"));
}

#[test]
fn response_keeps_existing_to_tag_and_100_gets_none() {
    let bytes = req(
        "Via: SIP/2.0/UDP a;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=9\r\nTo: <sip:b@y>;tag=have\r\n",
    );
    let m = Message::parse_datagram(&bytes).unwrap();
    let mut out = Vec::new();
    write_response(&m, 603, "Decline", "new", &[], &mut out).unwrap();
    assert_eq!(
        Message::parse_datagram(&out).unwrap().to().unwrap().tag(),
        Some("have")
    );
    let bytes =
        req("Via: SIP/2.0/UDP a;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=9\r\nTo: <sip:b@y>\r\n");
    let m = Message::parse_datagram(&bytes).unwrap();
    out.clear();
    write_response(&m, 100, "Trying", "new", &[], &mut out).unwrap();
    assert_eq!(
        Message::parse_datagram(&out).unwrap().to().unwrap().tag(),
        None
    );
}

#[test]
fn response_writer_refuses_injection_and_leaves_buffer_untouched() {
    let m = Message::parse_datagram(samples::INVITE).unwrap();
    let mut out = b"keep".to_vec();
    for r in [
        write_response(&m, 607, "Unwanted\r\nX-Evil: 1", "t", &[], &mut out),
        write_response(&m, 607, "Unwanted", "t;x", &[], &mut out),
        write_response(
            &m,
            607,
            "Unwanted",
            "t",
            &[ExtraHeader::Raw {
                name: "X",
                value: "a\r\nb",
            }],
            &mut out,
        ),
        write_response(
            &m,
            607,
            "Unwanted",
            "t",
            &[ExtraHeader::Reason {
                cause: 607,
                text: "a\nb",
            }],
            &mut out,
        ),
        write_response(&m, 99, "Low", "t", &[], &mut out),
        write_response(&m, 700, "High", "t", &[], &mut out),
    ] {
        assert!(matches!(r, Err(Error::InvalidOutput { .. })), "{r:?}");
    }
    assert_eq!(out, b"keep");
    let ack = Message::parse_datagram(b"ACK sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@y>;tag=2\r\nCall-ID: c\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n").unwrap();
    assert!(write_response(&ack, 400, "Bad", "t", &[], &mut out).is_err());
    let resp = Message::parse_datagram(samples::RINGING).unwrap();
    assert!(write_response(&resp, 400, "Bad", "t", &[], &mut out).is_err());
    let insuf = Message::parse_datagram(b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCSeq: 1 OPTIONS\r\nl: 0\r\n\r\n").unwrap();
    assert!(matches!(
        write_response(&insuf, 400, "Bad", "t", &[], &mut out),
        Err(Error::MissingHeader { .. })
    ));
    assert_eq!(out, b"keep");
}

#[test]
fn forward_without_mark_changes_only_via_and_max_forwards() {
    let bytes = req("Via: SIP/2.0/UDP a.example.net;branch=z9hG4bK1\r\nMax-Forwards:  10 \r\nFrom: \"A\" <sip:a@x>;tag=9\r\nTo: <sip:b@y>\r\n");
    let out = forwarded(&bytes, &OPTS);
    let text = String::from_utf8(out.clone()).unwrap();
    let (first, rest) = text.split_once("\r\n").unwrap();
    assert_eq!(first, "INVITE sip:+8617100000002@ims.example.net SIP/2.0");
    let (via, rest) = rest.split_once("\r\n").unwrap();
    assert!(
        via.starts_with("Via: SIP/2.0/UDP gw.example.net:5060;branch=z9hG4bK"),
        "{via}"
    );
    assert_eq!(
        via.len(),
        "Via: SIP/2.0/UDP gw.example.net:5060;branch=z9hG4bK".len() + 32
    );
    let original = String::from_utf8(bytes).unwrap();
    let original_rest = original.split_once("\r\n").unwrap().1;
    assert_eq!(
        rest,
        original_rest.replace("Max-Forwards:  10 ", "Max-Forwards:  9 ")
    );
}

#[test]
fn forward_adds_max_forwards_when_absent() {
    let bytes =
        req("Via: SIP/2.0/UDP a;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=9\r\nTo: <sip:b@y>\r\n");
    let f = forwarded(&bytes, &OPTS);
    assert_eq!(
        Message::parse_datagram(&f).unwrap().max_forwards().unwrap(),
        Some(70)
    );
}

#[test]
fn marking_every_display_name_form() {
    let mark = ForwardOptions {
        mark: Some("[疑似诈骗]"),
        ..OPTS
    };
    let cases = [
        (
            "From: \"Zhang Wei\" <sip:a@x>;tag=9\r\n",
            "From: \"[疑似诈骗]Zhang Wei\" <sip:a@x>;tag=9\r\n",
        ),
        (
            "From: Zhang  Wei<sip:a@x>;tag=9\r\n",
            "From: \"[疑似诈骗]Zhang  Wei\"<sip:a@x>;tag=9\r\n",
        ),
        (
            "From: <sip:a@x>;tag=9\r\n",
            "From: \"[疑似诈骗]\" <sip:a@x>;tag=9\r\n",
        ),
        (
            "From: sip:a@x;tag=9\r\n",
            "From: \"[疑似诈骗]\" <sip:a@x>;tag=9\r\n",
        ),
        (
            "f: tel:+8617000000001 ; tag=9\r\n",
            "f: \"[疑似诈骗]\" <tel:+8617000000001> ; tag=9\r\n",
        ),
    ];
    for (from, want) in cases {
        let bytes = req(&format!(
            "Via: SIP/2.0/UDP a;branch=z9hG4bK1\r\n{from}To: <sip:b@y>\r\n"
        ));
        let out = String::from_utf8(forwarded(&bytes, &mark)).unwrap();
        assert!(out.contains(want), "{from:?} -> {out}");
        let m = Message::parse_datagram(out.as_bytes()).unwrap();
        let f = m.from().unwrap();
        assert!(f.display_name().unwrap().text().starts_with("[疑似诈骗]"));
        assert_eq!(f.tag(), Some("9"));
    }
}

#[test]
fn marking_covers_every_p_asserted_identity_and_escapes_the_mark() {
    let bytes = req("Via: SIP/2.0/UDP a;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=9\r\nTo: <sip:b@y>\r\nP-Asserted-Identity: \"Z\" <sip:+8617000000001@x>, <tel:+8617000000001>\r\nP-Asserted-Identity: tel:+8617000000005\r\n");
    let opts = ForwardOptions {
        mark: Some("\"W\\"),
        ..OPTS
    };
    let out = forwarded(&bytes, &opts);
    let m = Message::parse_datagram(&out).unwrap();
    let names: Vec<String> = m
        .p_asserted_identities()
        .map(|p| p.unwrap().display_name().unwrap().text().into_owned())
        .collect();
    assert_eq!(names, ["\"W\\Z", "\"W\\", "\"W\\"]);
    assert_eq!(m.from().unwrap().display_name().unwrap().text(), "\"W\\");
    assert!(forward_request(
        &Message::parse_datagram(&bytes).unwrap(),
        &ForwardOptions {
            mark: Some("a\r\nb"),
            ..OPTS
        },
        &mut Vec::new()
    )
    .is_err());
}

#[test]
fn branch_is_stable_for_cancel_and_distinct_per_transaction() {
    let invite = req("Via: SIP/2.0/UDP a:5060;branch=z9hG4bKabc\r\nFrom: <sip:a@x>;tag=9\r\nTo: <sip:b@y>\r\nMax-Forwards: 70\r\n");
    let cancel = String::from_utf8(invite.clone())
        .unwrap()
        .replace("INVITE", "CANCEL")
        .into_bytes();
    let other = String::from_utf8(invite.clone())
        .unwrap()
        .replace("z9hG4bKabc", "z9hG4bKabd")
        .into_bytes();
    let branch = |b: &[u8], host: &str| {
        let mut out = Vec::new();
        stateless_branch(&Message::parse_datagram(b).unwrap(), host, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    };
    let b1 = branch(&invite, "gw");
    assert!(b1.starts_with("z9hG4bK") && b1.len() == 39);
    assert_eq!(b1, branch(&cancel, "gw"));
    assert_ne!(b1, branch(&other, "gw"));
    assert_ne!(b1, branch(&invite, "gw2"));
    // RFC 2543 peer (no magic cookie): derived from Request-URI, tags, Call-ID, CSeq number, Via.
    let old = req("Via: SIP/2.0/UDP a:5060\r\nFrom: <sip:a@x>;tag=9\r\nTo: <sip:b@y>\r\n");
    let old_cancel = String::from_utf8(old.clone())
        .unwrap()
        .replace("INVITE", "CANCEL")
        .into_bytes();
    let old_next = String::from_utf8(old.clone())
        .unwrap()
        .replace("CSeq: 7", "CSeq: 8")
        .into_bytes();
    assert_eq!(branch(&old, "gw"), branch(&old_cancel, "gw"));
    assert_ne!(branch(&old, "gw"), branch(&old_next, "gw"));
}

#[test]
fn forward_rejects_responses_and_bad_via_host() {
    let resp = Message::parse_datagram(samples::RINGING).unwrap();
    assert!(forward_request(&resp, &OPTS, &mut Vec::new()).is_err());
    let m = Message::parse_datagram(samples::INVITE).unwrap();
    for host in ["gw example", "gw;x", "", "a\r\nb"] {
        assert!(
            forward_request(
                &m,
                &ForwardOptions {
                    via_host: host,
                    ..OPTS
                },
                &mut Vec::new()
            )
            .is_err(),
            "{host}"
        );
    }
    assert!(forward_request(
        &m,
        &ForwardOptions {
            via_host: "[2001:db8::1]",
            ..OPTS
        },
        &mut Vec::new()
    )
    .is_ok());
}

#[test]
fn forward_response_removes_only_the_top_via() {
    let r = Message::parse_datagram(samples::RINGING).unwrap();
    let mut out = Vec::new();
    forward_response(&r, &mut out).unwrap();
    let f = Message::parse_datagram(&out).unwrap();
    assert_eq!(f.vias().count(), 1);
    assert_eq!(f.top_via().unwrap().received(), Some("192.0.2.10"));
    let first_via_line = samples::RINGING.split(|&b| b == b'\n').nth(1).unwrap();
    let mut expected = samples::RINGING.to_vec();
    let at = expected
        .windows(first_via_line.len())
        .position(|w| w == first_via_line)
        .unwrap();
    expected.drain(at..=at + first_via_line.len());
    assert_eq!(out, expected);

    let listed = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP gw;branch=z9hG4bK1 ,  SIP/2.0/UDP a;branch=z9hG4bK2\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@y>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
    out.clear();
    forward_response(&Message::parse_datagram(listed).unwrap(), &mut out).unwrap();
    assert!(out.starts_with(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK2\r\nFrom:"));

    let single = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP gw;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@y>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
    out.clear();
    assert_eq!(
        forward_response(&Message::parse_datagram(single).unwrap(), &mut out),
        Err(Error::NoViaLeft)
    );
    assert!(out.is_empty());
}

#[test]
fn gateway_reads_caller_callee_and_diversion() {
    let m = Message::parse_datagram(samples::INVITE).unwrap();
    let caller = m.caller().unwrap();
    assert_eq!(caller.display_name().unwrap().text(), "Zhang Wei");
    assert_eq!(caller.uri().user(), Some("+8617000000001"));
    assert_eq!(m.request_uri().unwrap().user(), Some("+8617100000002"));
    assert!(m.request_uri().unwrap().is_phone());
    let original = m.original_callee().unwrap().unwrap();
    assert_eq!(original.uri().user(), Some("+8617100000009"));
    assert_eq!(original.params().get("reason"), Some(Some("unconditional")));
    assert_eq!(m.headers_of(HeaderKind::PAssertedIdentity).count(), 2);
    let sms = Message::parse_datagram(samples::MESSAGE_ZH).unwrap();
    let ct = sms.content_type().unwrap().unwrap();
    assert!(ct.is("text", "plain") && ct.charset() == Some("UTF-8"));
    assert!(std::str::from_utf8(sms.body())
        .unwrap()
        .contains("安全账户"));
    let hi = b"INVITE sip:b@y SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@y>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nHistory-Info: <sip:orig@y>;index=1, <sip:b@y>;index=1.1;rc=1\r\nContent-Length: 0\r\n\r\n";
    let m = Message::parse_datagram(hi).unwrap();
    assert_eq!(
        m.original_callee().unwrap().unwrap().uri().user(),
        Some("orig")
    );
}
