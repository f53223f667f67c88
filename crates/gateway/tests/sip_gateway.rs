//! End-to-end: `interdict serve` on loopback between a border peer and a fake core, driven
//! with raw SIP the way an attacker would write it. Every test asserts what the core
//! received (or that it received nothing) and what the border was answered.
//!
//! All numbers are synthetic: +86 171 0000 000x are on the default pack's fraud list,
//! +86 170 5555 000x on its suspect (warn) list, 95588 is an allowlisted bank number.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{header, invite, message, rp_submit_part, status, Gateway, Peer};

const SHORT: Duration = Duration::from_millis(600);
const LONG: Duration = Duration::from_secs(3);

/// Sends `req` from a fresh border peer; returns (what the border got, what the core got).
fn exchange(gw: &Gateway, core: &Peer, req: &[u8]) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let border = Peer::any();
    border.send(gw.sip, req);
    let at_core = core.recv(SHORT).map(|(b, _)| b);
    let at_border = border.recv(SHORT).map(|(b, _)| b);
    (at_border, at_core)
}

fn blocked(gw: &Gateway, core: &Peer, req: &[u8], what: &str) -> Vec<u8> {
    let (border, core_got) = exchange(gw, core, req);
    assert!(
        core_got.is_none(),
        "{what}: the core must receive nothing, got:\n{}",
        String::from_utf8_lossy(&core_got.unwrap_or_default())
    );
    let answer = border.unwrap_or_else(|| panic!("{what}: no answer; log:\n{}", gw.log()));
    assert_eq!(
        status(&answer),
        Some(608),
        "{what}: {}",
        String::from_utf8_lossy(&answer)
    );
    answer
}

/// Sends `req`, expects it at the core, and has the core answer an INVITE with 100 Trying
/// at once (so the gateway does not send it again for want of an answer).
fn forwarded(gw: &Gateway, core: &Peer, req: &[u8], what: &str) -> Vec<u8> {
    let border = Peer::any();
    border.send(gw.sip, req);
    let got = core
        .recv(SHORT)
        .map(|(b, _)| b)
        .unwrap_or_else(|| panic!("{what}: nothing reached the core; log:\n{}", gw.log()));
    if got.starts_with(b"INVITE ") {
        let trying = String::from_utf8(ok_for(&got))
            .unwrap()
            .replacen("200 OK", "100 Trying", 1);
        core.send(gw.sip, trying.as_bytes());
    }
    if let Some((answer, _)) = border.recv(SHORT) {
        assert_eq!(
            status(&answer),
            Some(100),
            "{what}: unexpected answer {}",
            String::from_utf8_lossy(&answer)
        );
    }
    got
}

#[test]
fn an_ordinary_call_is_forwarded_with_only_the_proxy_edits() {
    let gw = Gateway::start("pass", "", "");
    let core = Peer::bind(gw.next_hop);
    let border = Peer::any();
    let req = invite(
        "INVITE",
        "+8613800000001",
        "+8613800000002",
        border.port(),
        "",
        "pass-1",
    );
    border.send(gw.sip, &req);
    let (got, _) = core.recv(LONG).expect("forwarded INVITE");
    let text = String::from_utf8_lossy(&got);
    let mut vias = text.lines().filter(|l| l.starts_with("Via:"));
    let ours = vias.next().expect("our Via");
    assert!(
        ours.contains(&format!("127.0.0.1:{}", gw.sip.port())),
        "{ours}"
    );
    assert!(ours.contains("branch=z9hG4bK"), "{ours}");
    let theirs = vias.next().expect("border Via");
    assert!(
        theirs.contains(&format!("received=127.0.0.1;rport={}", border.port())),
        "{theirs}"
    );
    assert_eq!(header(&got, "Max-Forwards").as_deref(), Some("69"));
    let rr = header(&got, "Record-Route").expect("Record-Route");
    assert!(
        rr.contains(&format!("127.0.0.1:{};lr", gw.sip.port())),
        "{rr}"
    );
    assert_eq!(
        header(&got, "From").as_deref(),
        Some("\"Caller\" <sip:+8613800000001@127.0.0.1>;tag=f-pass-1")
    );
    // The core answers 200; it returns to the border by the Via, the proxy's Via removed.
    let ok = format!(
        "SIP/2.0 200 OK\r\n{}\r\nFrom: <sip:+8613800000001@127.0.0.1>;tag=f-pass-1\r\nTo: <sip:+8613800000002@127.0.0.1>;tag=t1\r\nCall-ID: pass-1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
        text.lines().filter(|l| l.starts_with("Via:")).collect::<Vec<_>>().join("\r\n")
    );
    core.send(gw.sip, ok.as_bytes());
    let (resp, _) = border.recv(LONG).expect("200 back at the border");
    assert_eq!(status(&resp), Some(200));
    let vias: Vec<_> = String::from_utf8_lossy(&resp)
        .lines()
        .filter(|l| l.starts_with("Via:"))
        .map(str::to_string)
        .collect();
    assert_eq!(vias.len(), 1, "{vias:?}");
}

#[test]
fn a_listed_caller_gets_608_retransmissions_the_same_answer_and_the_ack_is_absorbed() {
    let gw = Gateway::start("block", "", "");
    let core = Peer::bind(gw.next_hop);
    let border = Peer::any();
    let req = invite(
        "INVITE",
        "+8617100000001",
        "+8613800000002",
        border.port(),
        "",
        "block-1",
    );
    border.send(gw.sip, &req);
    let (first, _) = border.recv(LONG).expect("answer");
    assert_eq!(status(&first), Some(608));
    let call_info = header(&first, "Call-Info").expect("Call-Info (RFC 8688)");
    assert!(call_info.contains("purpose=jwscard"), "{call_info}");
    let reason = header(&first, "Reason").expect("Reason");
    assert!(reason.contains("cause=608"), "{reason}");
    // A retransmission gets the identical answer (same To-tag), without a second decision.
    border.send(gw.sip, &req);
    let (second, _) = border.recv(LONG).expect("second answer");
    assert_eq!(first, second);
    // The ACK to the 608 is absorbed.
    let to = header(&first, "To").expect("To");
    let ack = format!(
        "ACK sip:+8613800000002@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{};branch=z9hG4bK-block-1;rport\r\nMax-Forwards: 70\r\nFrom: \"Caller\" <sip:+8617100000001@127.0.0.1>;tag=f-block-1\r\nTo: {to}\r\nCall-ID: block-1\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
        border.port()
    );
    border.send(gw.sip, ack.as_bytes());
    assert!(
        core.drain(SHORT).is_empty(),
        "nothing of a blocked call reaches the core"
    );
    let records = gw.wait_records(|r| !r.is_empty());
    assert_eq!(
        records.len(),
        1,
        "one decision, not one per retransmission: {records:?}"
    );
    assert_eq!(records[0]["acted"], "block");
    assert_eq!(records[0]["decision"]["rule"], "caller-reported-fraud");
    assert_eq!(records[0]["message_id"], "block-1");
    assert!(gw.metric("interdict_absorbed_total{protocol=\"sip\",kind=\"ack\"}") >= 1.0);
}

#[test]
fn block_code_603_or_607_by_configuration() {
    let gw = Gateway::start("code607", "", "block_code = 607");
    let core = Peer::bind(gw.next_hop);
    let border = Peer::any();
    border.send(
        gw.sip,
        &invite(
            "INVITE",
            "+8617100000002",
            "+8613800000002",
            border.port(),
            "",
            "c607",
        ),
    );
    let (answer, _) = border.recv(LONG).expect("answer");
    assert_eq!(status(&answer), Some(607));
    assert!(
        header(&answer, "Call-Info").is_none(),
        "Call-Info goes with 608 only"
    );
    assert!(core.drain(SHORT).is_empty());
}

#[test]
fn every_identity_is_checked_and_untrusted_identity_headers_earn_no_trust() {
    let gw = Gateway::start("identities", "", "");
    let core = Peer::bind(gw.next_hop);
    let port = 5999;
    // A second PAI naming a listed number behind a clean first one.
    blocked(&gw, &core, &invite("INVITE", "+8613800000001", "+8613800000002", port,
        "P-Asserted-Identity: <sip:+8613800000001@127.0.0.1>\r\nP-Asserted-Identity: <tel:+8617100000003>\r\n", "id-pai2"), "second PAI");
    // A PAI of the bank from an untrusted peer must not switch on the allowlist for a
    // listed From.
    blocked(
        &gw,
        &core,
        &invite(
            "INVITE",
            "+8617100000004",
            "+8613800000002",
            port,
            "P-Asserted-Identity: <tel:95588>\r\n",
            "id-bank",
        ),
        "bank PAI over listed From",
    );
    // P-Preferred-Identity and Remote-Party-ID are identities too.
    blocked(
        &gw,
        &core,
        &invite(
            "INVITE",
            "+8613800000001",
            "+8613800000002",
            port,
            "P-Preferred-Identity: <sip:+8617100000005@127.0.0.1>\r\n",
            "id-ppi",
        ),
        "PPI",
    );
    blocked(
        &gw,
        &core,
        &invite(
            "INVITE",
            "+8613800000001",
            "+8613800000002",
            port,
            "Remote-Party-ID: \"x\" <sip:+8617000000001@127.0.0.1>;party=calling;screen=no\r\n",
            "id-rpid",
        ),
        "RPID",
    );
    // The original called party of a diverted call.
    blocked(
        &gw,
        &core,
        &invite(
            "INVITE",
            "+8613800000001",
            "+8613800000002",
            port,
            "Diversion: <sip:+8617100000001@127.0.0.1>;reason=unconditional\r\n",
            "id-div",
        ),
        "Diversion",
    );
    // A percent-encoded user part is the number the core decodes.
    blocked(
        &gw,
        &core,
        &invite(
            "INVITE",
            "%2B%38617100000001",
            "+8613800000002",
            port,
            "",
            "id-pct",
        ),
        "percent-encoded",
    );
    // An ordinary call with a clean PAI still passes.
    forwarded(
        &gw,
        &core,
        &invite(
            "INVITE",
            "+8613800000001",
            "+8613800000002",
            port,
            "P-Asserted-Identity: <sip:+8613800000001@127.0.0.1>\r\n",
            "id-ok",
        ),
        "clean call",
    );
}

#[test]
fn methods_in_any_letter_case_are_decided() {
    let gw = Gateway::start("case", "", "");
    let core = Peer::bind(gw.next_hop);
    for (i, m) in ["invite", "Invite", "iNVITE"].iter().enumerate() {
        let req = String::from_utf8(invite(
            m,
            "+8617100000001",
            "+8613800000002",
            5998,
            "",
            &format!("case-{i}"),
        ))
        .unwrap();
        blocked(&gw, &core, req.as_bytes(), m);
    }
    let msg = message(
        "+8617100000001",
        "+8613800000002",
        5998,
        "text/plain",
        "",
        "你好".as_bytes(),
        "case-msg",
    );
    let lower = String::from_utf8(msg)
        .unwrap()
        .replacen("MESSAGE", "message", 1)
        .replace("CSeq: 1 MESSAGE", "CSeq: 1 message");
    blocked(&gw, &core, lower.as_bytes(), "message in lower case");
}

#[test]
fn framing_tricks_are_refused_with_400_and_never_forwarded() {
    let gw = Gateway::start("framing", "", "");
    let core = Peer::bind(gw.next_hop);
    // Bytes after Content-Length: a second request smuggled behind the first.
    let mut req = invite(
        "INVITE",
        "+8613800000001",
        "+8613800000002",
        5997,
        "",
        "frame-1",
    );
    req.extend_from_slice(&invite(
        "INVITE",
        "+8617100000001",
        "+8613800000002",
        5997,
        "",
        "frame-2",
    ));
    let (border, at_core) = exchange(&gw, &core, &req);
    assert!(at_core.is_none());
    assert_eq!(border.and_then(|b| status(&b)), Some(400));
    // Content-Length larger than the body.
    let req = String::from_utf8(message(
        "+8613800000001",
        "+8613800000002",
        5997,
        "text/plain",
        "",
        "hello".as_bytes(),
        "frame-3",
    ))
    .unwrap();
    let req = req.replace("Content-Length: 5", "Content-Length: 500");
    let (border, at_core) = exchange(&gw, &core, req.as_bytes());
    assert!(at_core.is_none());
    assert_eq!(border.and_then(|b| status(&b)), Some(400));
    assert!(
        gw.metric("interdict_parse_errors_total{protocol=\"sip\",kind=\"bytes_after_body\"}")
            >= 1.0
    );
    assert!(
        gw.metric("interdict_parse_errors_total{protocol=\"sip\",kind=\"body_truncated\"}") >= 1.0
    );
}

#[test]
fn message_texts_are_read_in_their_charset_and_in_full() {
    let gw = Gateway::start("texts", "", "");
    let core = Peer::bind(gw.next_hop);
    let scam = "您好，这里是公安局，您涉嫌洗钱，请立即将资金转入安全账户配合调查";
    // GBK, as Chinese handsets and SMSCs send it.
    let (gbk, _, _) = encoding_rs::GBK.encode(scam);
    blocked(
        &gw,
        &core,
        &message(
            "+8613800000001",
            "+8613800000002",
            5996,
            "text/plain;charset=GBK",
            "",
            &gbk,
            "txt-gbk",
        ),
        "GBK body",
    );
    // Padding pushes the script far beyond the first kilobytes.
    let padded = format!("{}{}", " \u{3000}\n".repeat(6000), scam);
    blocked(
        &gw,
        &core,
        &message(
            "+8613800000001",
            "+8613800000002",
            5996,
            "text/plain;charset=utf-8",
            "",
            padded.as_bytes(),
            "txt-pad",
        ),
        "padded body",
    );
    // An ordinary message passes, byte for byte in its body.
    let got = forwarded(
        &gw,
        &core,
        &message(
            "+8613800000001",
            "+8613800000002",
            5996,
            "text/plain;charset=utf-8",
            "",
            "晚上一起吃饭吗？".as_bytes(),
            "txt-ok",
        ),
        "ordinary message",
    );
    assert!(got.ends_with("晚上一起吃饭吗？".as_bytes()));
}

#[test]
fn a_suspect_caller_is_forwarded_marked() {
    let gw = Gateway::start("warn", "", "");
    let core = Peer::bind(gw.next_hop);
    let got = forwarded(
        &gw,
        &core,
        &invite(
            "INVITE",
            "+8617055550001",
            "+8613800000002",
            5995,
            "P-Asserted-Identity: \"Li\" <tel:+8617055550001>\r\n",
            "warn-1",
        ),
        "suspect caller",
    );
    let from = header(&got, "From").expect("From");
    assert!(from.starts_with("\"[疑似诈骗]Caller\""), "{from}");
    let pai = header(&got, "P-Asserted-Identity").expect("PAI");
    assert!(pai.starts_with("\"[疑似诈骗]Li\""), "{pai}");
    let records = gw.wait_records(|r| !r.is_empty());
    assert_eq!(records[0]["acted"], "warn");
}

#[test]
fn max_forwards_zero_gets_483_and_a_malformed_request_400() {
    let gw = Gateway::start("hops", "", "");
    let core = Peer::bind(gw.next_hop);
    let req = String::from_utf8(invite(
        "INVITE",
        "+8613800000001",
        "+8613800000002",
        5994,
        "",
        "hops-1",
    ))
    .unwrap();
    let req = req.replace("Max-Forwards: 70", "Max-Forwards: 0");
    let (border, at_core) = exchange(&gw, &core, req.as_bytes());
    assert!(at_core.is_none());
    assert_eq!(border.and_then(|b| status(&b)), Some(483));
    let req = String::from_utf8(invite(
        "INVITE",
        "+8613800000001",
        "+8613800000002",
        5994,
        "",
        "bad-1",
    ))
    .unwrap();
    let req = req.replace("CSeq: 1 INVITE", "CSeq: one INVITE");
    let (border, at_core) = exchange(&gw, &core, req.as_bytes());
    assert!(at_core.is_none());
    assert_eq!(border.and_then(|b| status(&b)), Some(400));
}

#[test]
fn a_zero_deadline_fails_open_and_is_counted() {
    let gw = Gateway::start("deadline", "decision_deadline_us = 0", "");
    let core = Peer::bind(gw.next_hop);
    // Even a listed caller passes: the decision came too late to be acted on.
    let got = forwarded(
        &gw,
        &core,
        &invite(
            "INVITE",
            "+8617100000001",
            "+8613800000002",
            5993,
            "",
            "dl-1",
        ),
        "fail-open",
    );
    assert!(header(&got, "From").is_some_and(|f| !f.contains("疑似")));
    assert!(gw.metric("interdict_fail_open_total{protocol=\"any\",kind=\"deadline\"}") >= 1.0);
    let records = gw.wait_records(|r| !r.is_empty());
    assert_eq!(records[0]["degraded"]["deadline"], true);
    assert_eq!(records[0]["acted"], "pass");
    assert_eq!(records[0]["decision"]["verdict"], "block");
}

#[test]
fn fail_closed_refuses_instead() {
    let gw = Gateway::start("closed", "decision_deadline_us = 0\nfail_closed = true", "");
    let core = Peer::bind(gw.next_hop);
    let (border, at_core) = exchange(
        &gw,
        &core,
        &invite(
            "INVITE",
            "+8613800000001",
            "+8613800000002",
            5992,
            "",
            "fc-1",
        ),
    );
    assert!(at_core.is_none());
    assert_eq!(border.and_then(|b| status(&b)), Some(503));
}

#[test]
fn reload_refuses_a_bad_pack_and_applies_a_good_one() {
    let gw = Gateway::start("reload", "", "");
    let core = Peer::bind(gw.next_hop);
    let new_number = "+8617123450001";
    forwarded(
        &gw,
        &core,
        &invite("INVITE", new_number, "+8613800000002", 5991, "", "rl-1"),
        "before reload",
    );
    // A broken pack is refused; the old one keeps deciding.
    let rules = gw.dir.join("rules/rules.toml");
    let good = std::fs::read_to_string(&rules).unwrap();
    std::fs::write(
        &rules,
        format!("{good}\n[[rule]]\nid = \"broken\"\nverdict = \"maybe\"\n"),
    )
    .unwrap();
    gw.signal("HUP");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while gw.metric("interdict_reloads_total{result=\"refused\"}") < 1.0
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        gw.metric("interdict_reloads_total{result=\"refused\"}"),
        1.0,
        "{}",
        gw.log()
    );
    blocked(
        &gw,
        &core,
        &invite(
            "INVITE",
            "+8617100000001",
            "+8613800000002",
            5991,
            "",
            "rl-2",
        ),
        "old pack still blocks",
    );
    // A good pack with the new number listed is applied.
    std::fs::write(&rules, good).unwrap();
    let list = gw.dir.join("rules/lists/fraud_numbers.txt");
    let mut numbers = std::fs::read_to_string(&list).unwrap();
    numbers.push_str(&format!("{new_number}\n"));
    std::fs::write(&list, numbers).unwrap();
    gw.signal("HUP");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while gw.metric("interdict_reloads_total{result=\"ok\"}") < 1.0
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    blocked(
        &gw,
        &core,
        &invite("INVITE", new_number, "+8613800000002", 5991, "", "rl-3"),
        "after reload",
    );
}

#[test]
fn sigterm_drains_and_exits() {
    let mut gw = Gateway::start("drain", "", "drain_ms = 1000");
    gw.signal("TERM");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(status) = gw.child.try_wait().expect("wait") {
            assert!(status.success(), "{status:?}\n{}", gw.log());
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(gw.log().contains("drained"));
}

/// The core's 200 OK to a forwarded INVITE (`fwd`), with its Vias, and a To tag.
fn ok_for(fwd: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(fwd);
    let vias: Vec<&str> = text.lines().filter(|l| l.starts_with("Via:")).collect();
    let keep = |name: &str| header(fwd, name).unwrap_or_default();
    format!(
        "SIP/2.0 200 OK\r\n{}\r\nFrom: {}\r\nTo: {};tag=uas\r\nCall-ID: {}\r\nCSeq: {}\r\nContact: <sip:uas@{}>\r\nContent-Length: 0\r\n\r\n",
        vias.join("\r\n"),
        keep("From"),
        keep("To"),
        keep("Call-ID"),
        keep("CSeq"),
        "127.0.0.1"
    )
    .into_bytes()
}

/// A BYE from the border for a call answered with `ok_for`.
fn bye(from_user: &str, to_user: &str, port: u16, gw_port: u16, call_id: &str) -> Vec<u8> {
    format!(
        "BYE sip:uas@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-bye-{call_id};rport\r\n\
         Route: <sip:127.0.0.1:{gw_port};lr>\r\n\
         Max-Forwards: 70\r\n\
         From: \"Caller\" <sip:{from_user}@127.0.0.1>;tag=f-{call_id}\r\n\
         To: <sip:{to_user}@127.0.0.1>;tag=uas\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 2 BYE\r\n\
         Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

#[test]
fn a_warned_answered_long_call_names_its_callee_as_a_victim_at_risk() {
    let gw = Gateway::start("victim", "", "victim_after_s = 1");
    let core = Peer::bind(gw.next_hop);
    let border = Peer::any();
    border.send(
        gw.sip,
        &invite(
            "INVITE",
            "+8617055550002",
            "+8613800000077",
            border.port(),
            "",
            "victim-1",
        ),
    );
    let (fwd, _) = core.recv(LONG).expect("warned INVITE forwarded");
    core.send(gw.sip, &ok_for(&fwd));
    let (ok, _) = border.recv(LONG).expect("200 at the border");
    assert_eq!(status(&ok), Some(200));
    let records = gw.wait_records(|r| r.iter().any(|x| x["kind"] == "victim_at_risk"));
    let victim = records
        .iter()
        .find(|x| x["kind"] == "victim_at_risk")
        .unwrap_or_else(|| panic!("no victim-at-risk record: {records:?}\n{}", gw.log()));
    assert_eq!(victim["decision"]["callee"]["normalised"], "+8613800000077");
    assert_eq!(victim["message_id"], "victim-1");
    assert!(victim["call_seconds"].as_u64().is_some());
    assert_eq!(gw.metric("interdict_victims_at_risk_total"), 1.0);
}

#[test]
fn a_warned_call_that_ends_quickly_is_no_victim() {
    let gw = Gateway::start("novictim", "", "victim_after_s = 2");
    let core = Peer::bind(gw.next_hop);
    let border = Peer::any();
    border.send(
        gw.sip,
        &invite(
            "INVITE",
            "+8617055550002",
            "+8613800000078",
            border.port(),
            "",
            "nv-1",
        ),
    );
    let (fwd, _) = core.recv(LONG).expect("forwarded");
    core.send(gw.sip, &ok_for(&fwd));
    border.recv(LONG).expect("200");
    border.send(
        gw.sip,
        &bye(
            "+8617055550002",
            "+8613800000078",
            border.port(),
            gw.sip.port(),
            "nv-1",
        ),
    );
    let (fwd_bye, _) = core.recv(LONG).expect("BYE forwarded to the core");
    assert!(String::from_utf8_lossy(&fwd_bye).starts_with("BYE "));
    assert!(
        header(&fwd_bye, "Route").is_none(),
        "the proxy removes its own Route"
    );
    std::thread::sleep(Duration::from_millis(2500));
    assert!(gw.records().iter().all(|r| r["kind"] != "victim_at_risk"));
}

#[test]
fn short_calls_from_real_dialogs_feed_the_detector() {
    let gw = Gateway::start("shortcalls", "", "");
    let core = Peer::bind(gw.next_hop);
    let border = Peer::any();
    let caller = "+8613900000123";
    // Answered and hung up at once, to scattered callees (not sequential dialling).
    for i in 0..12u32 {
        let callee = format!("+86139{:08}", (i * 7_919_003 + 1_234_567) % 100_000_000);
        let id = format!("sc-{i}");
        border.send(
            gw.sip,
            &invite("INVITE", caller, &callee, border.port(), "", &id),
        );
        let (fwd, _) = core.recv(LONG).expect("forwarded");
        core.send(gw.sip, &ok_for(&fwd));
        border.recv(LONG).expect("200");
        border.send(
            gw.sip,
            &bye(caller, &callee, border.port(), gw.sip.port(), &id),
        );
        core.recv(LONG).expect("BYE forwarded");
        // Slower than the call-rate detector's 3 calls a second: only the short calls count.
        std::thread::sleep(Duration::from_millis(400));
    }
    border.send(
        gw.sip,
        &invite(
            "INVITE",
            caller,
            "+8613911112222",
            border.port(),
            "",
            "sc-last",
        ),
    );
    let (fwd, _) = core.recv(LONG).expect("forwarded");
    let from = header(&fwd, "From").unwrap();
    assert!(
        from.contains("[疑似诈骗]"),
        "a robot dialler's next call is marked: {from}"
    );
    let records = gw.wait_records(|r| r.iter().any(|x| x["message_id"] == "sc-last"));
    let last = records
        .iter()
        .find(|x| x["message_id"] == "sc-last")
        .unwrap();
    let evidence = last["decision"]["evidence"].to_string();
    assert!(evidence.contains("short"), "{last}");
}

#[test]
fn a_shadow_pack_records_where_it_differs_and_enforces_nothing() {
    let dir = common::scratch("shadow");
    common::copy_dir(&common::root().join("rules"), &dir.join("rules"));
    common::copy_dir(&common::root().join("rules"), &dir.join("shadow"));
    let list = dir.join("shadow/lists/fraud_numbers.txt");
    let mut numbers = std::fs::read_to_string(&list).unwrap();
    numbers.push_str("+8617122220001\n");
    std::fs::write(&list, numbers).unwrap();
    let gw = Gateway::start_in(
        dir.clone(),
        &format!(
            "shadow_rules = {:?}",
            dir.join("shadow").display().to_string()
        ),
        "",
    );
    let core = Peer::bind(gw.next_hop);
    forwarded(
        &gw,
        &core,
        &invite(
            "INVITE",
            "+8617122220001",
            "+8613800000002",
            5990,
            "",
            "sh-1",
        ),
        "enforced pack passes",
    );
    let records = gw.wait_records(|r| !r.is_empty());
    let diff = records
        .iter()
        .find(|r| r["kind"] == "shadow_difference")
        .unwrap_or_else(|| panic!("{records:?}"));
    assert_eq!(diff["acted"], "pass");
    assert_eq!(diff["shadow"]["verdict"], "block");
    assert_eq!(diff["shadow"]["rule"], "caller-reported-fraud");
    assert!(gw.metric("interdict_shadow_differences_total{rule=\"caller-reported-fraud\"}") >= 1.0);
    // Promoting the shadow pack (SIGUSR2) enforces it in one swap.
    gw.signal("USR2");
    std::thread::sleep(Duration::from_millis(300));
    blocked(
        &gw,
        &core,
        &invite(
            "INVITE",
            "+8617122220001",
            "+8613800000002",
            5990,
            "",
            "sh-2",
        ),
        "after promotion",
    );
}

#[test]
fn a_silent_next_hop_gets_the_invite_again_then_the_border_gets_503() {
    let gw = Gateway::start(
        "upstream",
        "",
        "upstream_timeout_ms = 150\nupstream_attempts = 2",
    );
    let core = Peer::bind(gw.next_hop);
    let border = Peer::any();
    border.send(
        gw.sip,
        &invite(
            "INVITE",
            "+8613800000001",
            "+8613800000002",
            border.port(),
            "",
            "up-1",
        ),
    );
    let (answer, _) = border
        .recv(Duration::from_secs(5))
        .expect("503 at the border");
    assert_eq!(
        status(&answer),
        Some(503),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    let copies = core.drain(SHORT);
    assert!(!copies.is_empty(), "the INVITE was sent again");
    assert_eq!(gw.metric("interdict_upstream_timeouts_total"), 1.0);
    // A next hop that answers is not retried.
    border.send(
        gw.sip,
        &invite(
            "INVITE",
            "+8613800000001",
            "+8613800000003",
            border.port(),
            "",
            "up-2",
        ),
    );
    let (fwd, _) = core.recv(LONG).expect("forwarded");
    core.send(gw.sip, &ok_for(&fwd));
    assert_eq!(border.recv(LONG).and_then(|(b, _)| status(&b)), Some(200));
    assert!(
        core.drain(Duration::from_millis(700)).is_empty(),
        "no retransmission after an answer"
    );
}

#[test]
fn options_to_the_gateway_itself_are_answered() {
    let gw = Gateway::start("options", "", "");
    let border = Peer::any();
    let req = format!(
        "OPTIONS sip:127.0.0.1:{p} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{b};branch=z9hG4bK-opt\r\nMax-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=o\r\nTo: <sip:127.0.0.1:{p}>\r\nCall-ID: opt-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        p = gw.sip.port(),
        b = border.port()
    );
    border.send(gw.sip, req.as_bytes());
    let (answer, _) = border.recv(LONG).expect("answer");
    assert_eq!(status(&answer), Some(200));
}

#[test]
fn numbers_are_read_as_the_core_routes_them() {
    let gw = Gateway::start("numbers", "", "");
    let core = Peer::bind(gw.next_hop);
    let port = 5989;
    // 17000000001 (+8617000000001) is listed; each form below is how a core may see it.
    for (i, from) in [
        "17000000001;phone-context=+44",
        "+86017000000001",
        "0086017000000001",
        "+008617000000001",
        "1795117000000001",
        "17951008617000000001",
    ]
    .iter()
    .enumerate()
    {
        blocked(
            &gw,
            &core,
            &invite(
                "INVITE",
                from,
                "+8613800000002",
                port,
                "",
                &format!("num-{i}"),
            ),
            from,
        );
    }
    // A tel URI with a foreign phone-context in PAI, from an untrusted peer.
    blocked(
        &gw,
        &core,
        &invite(
            "INVITE",
            "+8613800000001",
            "+8613800000002",
            port,
            "P-Asserted-Identity: <tel:17000000001;phone-context=+44>\r\n",
            "num-tel",
        ),
        "tel PAI",
    );
    // Callee side: a listed callee behind an IP-call prefix.
    blocked(
        &gw,
        &core,
        &invite(
            "INVITE",
            "+8613800000001",
            "1795117100000002",
            port,
            "",
            "num-callee",
        ),
        "callee",
    );
}

#[test]
fn message_bodies_in_every_container_are_read() {
    let gw = Gateway::start("bodies", "", "");
    let core = Peer::bind(gw.next_hop);
    let scam = "您涉嫌洗钱，请立即将资金转入安全账户配合调查，不要告诉任何人";
    let port = 5988;
    let from = "+8613800000001";
    let to = "+8613800000002";
    // base64 transfer encoding.
    let b64 = "5oKo5raJ5auM5rSX6ZKx77yM6K+356uL5Y2z5bCG6LWE6YeR6L2s5YWl5a6J5YWo6LSm5oi36YWN5ZCI6LCD5p+l77yM5LiN6KaB5ZGK6K+J5Lu75L2V5Lq6";
    blocked(
        &gw,
        &core,
        &message(
            from,
            to,
            port,
            "text/plain;charset=utf-8",
            "Content-Transfer-Encoding: base64\r\n",
            b64.as_bytes(),
            "b-64",
        ),
        "base64",
    );
    // multipart/mixed with the script in the second part.
    let mp = format!("--XyZ\r\nContent-Type: text/plain\r\n\r\n你好\r\n--XyZ\r\nContent-Type: text/plain;charset=utf-8\r\n\r\n{scam}\r\n--XyZ--\r\n");
    blocked(
        &gw,
        &core,
        &message(
            from,
            to,
            port,
            "multipart/mixed;boundary=XyZ",
            "",
            mp.as_bytes(),
            "b-mp",
        ),
        "multipart",
    );
    // message/cpim (RCS).
    let cpim = format!("From: <sip:a@example.invalid>\r\nTo: <sip:b@example.invalid>\r\nDateTime: 2026-12-01T00:00:00Z\r\n\r\nContent-Type: text/plain;charset=UTF-8\r\n\r\n{scam}");
    blocked(
        &gw,
        &core,
        &message(
            from,
            to,
            port,
            "message/cpim",
            "",
            cpim.as_bytes(),
            "b-cpim",
        ),
        "cpim",
    );
    // HTML with tags splitting the characters.
    let html = format!(
        "<html><body><p>{}</p></body></html>",
        scam.chars()
            .map(|c| format!("{c}<b></b>"))
            .collect::<String>()
    );
    blocked(
        &gw,
        &core,
        &message(
            from,
            to,
            port,
            "text/html;charset=utf-8",
            "",
            html.as_bytes(),
            "b-html",
        ),
        "html",
    );
    // UTF-16 (big-endian, no BOM).
    let utf16: Vec<u8> = scam.encode_utf16().flat_map(|u| u.to_be_bytes()).collect();
    blocked(
        &gw,
        &core,
        &message(
            from,
            to,
            port,
            "text/plain;charset=UTF-16",
            "",
            &utf16,
            "b-u16",
        ),
        "utf-16",
    );
    // Big5 (traditional characters).
    let (big5, _, _) =
        encoding_rs::BIG5.encode("您涉嫌洗錢，請立即將資金轉入安全賬戶配合調查，不要告訴任何人");
    blocked(
        &gw,
        &core,
        &message(
            from,
            to,
            port,
            "text/plain;charset=Big5",
            "",
            &big5,
            "b-big5",
        ),
        "big5",
    );
}

#[test]
fn concurrent_answered_calls_from_real_dialogs_feed_the_detector() {
    let gw = Gateway::start("concurrent", "", "");
    let core = Peer::bind(gw.next_hop);
    let border = Peer::any();
    let caller = "+8613900000456";
    // Nine calls answered and left up (a SIM box holding many lines at once).
    for i in 0..9u32 {
        let callee = format!("+86139{:08}", (i * 7_919_003 + 7_654_321) % 100_000_000);
        border.send(
            gw.sip,
            &invite(
                "INVITE",
                caller,
                &callee,
                border.port(),
                "",
                &format!("cc-{i}"),
            ),
        );
        let (fwd, _) = core.recv(LONG).expect("forwarded");
        core.send(gw.sip, &ok_for(&fwd));
        border.recv(LONG).expect("200");
        std::thread::sleep(Duration::from_millis(400));
    }
    border.send(
        gw.sip,
        &invite(
            "INVITE",
            caller,
            "+8613922223333",
            border.port(),
            "",
            "cc-last",
        ),
    );
    let (fwd, _) = core.recv(LONG).expect("forwarded");
    assert!(header(&fwd, "From").unwrap().contains("[疑似诈骗]"));
    let records = gw.wait_records(|r| r.iter().any(|x| x["message_id"] == "cc-last"));
    let last = records
        .iter()
        .find(|x| x["message_id"] == "cc-last")
        .unwrap();
    assert!(
        last["decision"]["evidence"]
            .to_string()
            .contains("concurrent"),
        "{last}"
    );
}

#[test]
fn what_cores_accept_is_accepted_and_still_decided() {
    let gw = Gateway::start("lenient", "", "");
    let core = Peer::bind(gw.next_hop);
    let port = 5987;
    // LF-only line ends and a leading CRLF: forwarded, decided like any other.
    let lf = String::from_utf8(invite(
        "INVITE",
        "+8613800000001",
        "+8613800000002",
        port,
        "",
        "len-lf",
    ))
    .unwrap();
    let lf = format!("\r\n{}", lf.replace("\r\n", "\n"));
    forwarded(&gw, &core, lf.as_bytes(), "LF-only");
    let lf_listed = String::from_utf8(invite(
        "INVITE",
        "+8617100000001",
        "+8613800000002",
        port,
        "",
        "len-lf2",
    ))
    .unwrap();
    blocked(
        &gw,
        &core,
        lf_listed.replace("\r\n", "\n").as_bytes(),
        "LF-only from a listed number",
    );
    // More than 64 headers.
    let many: String = (0..100).map(|i| format!("X-Extra-{i}: {i}\r\n")).collect();
    forwarded(
        &gw,
        &core,
        &invite(
            "INVITE",
            "+8613800000001",
            "+8613800000002",
            port,
            &many,
            "len-many",
        ),
        "100 extra headers",
    );
    // A GBK display name and a Date not in GMT.
    let mut gbk = invite(
        "INVITE",
        "+8613800000001",
        "+8613800000002",
        port,
        "Date: Tue, 01 Dec 2026 08:00:00 +0800\r\n",
        "len-gbk",
    );
    let (name, _, _) = encoding_rs::GBK.encode("张三");
    let at = gbk.windows(8).position(|w| w == b"\"Caller\"").unwrap();
    gbk.splice(at + 1..at + 7, name.iter().copied());
    forwarded(&gw, &core, &gbk, "GBK display name");
    // A duplicate From: the core reads the first, so both are checked.
    let dup = invite(
        "INVITE",
        "+8613800000001",
        "+8613800000002",
        port,
        "From: <sip:+8617100000003@127.0.0.1>;tag=x\r\n",
        "len-dup",
    );
    blocked(&gw, &core, &dup, "second From listed");
}

#[test]
fn tcp_frames_many_messages_per_connection_answers_pings_and_limits_connections() {
    use std::io::{Read, Write};
    let gw = Gateway::start("tcp", "", "max_tcp_connections = 2\ntcp_idle_timeout_s = 2");
    let core = Peer::bind(gw.next_hop);
    let mut conn = std::net::TcpStream::connect(gw.sip).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let port = conn.local_addr().unwrap().port();
    let tcp = |req: Vec<u8>| {
        String::from_utf8(req)
            .unwrap()
            .replace("SIP/2.0/UDP", "SIP/2.0/TCP")
    };
    // A listed caller and an ordinary one in a single write: both framed by Content-Length.
    let two = format!(
        "{}{}",
        tcp(invite(
            "INVITE",
            "+8617100000001",
            "+8613800000002",
            port,
            "",
            "tcp-1"
        )),
        tcp(invite(
            "INVITE",
            "+8613800000001",
            "+8613800000002",
            port,
            "",
            "tcp-2"
        ))
    );
    conn.write_all(two.as_bytes()).unwrap();
    let (fwd, _) = core.recv(LONG).expect("the ordinary call reaches the core");
    assert!(String::from_utf8_lossy(&fwd).contains("Call-ID: tcp-2"));
    let mut buf = vec![0u8; 4096];
    let n = conn.read(&mut buf).unwrap();
    let answer = &buf[..n];
    assert_eq!(
        status(answer),
        Some(608),
        "{}",
        String::from_utf8_lossy(answer)
    );
    assert!(String::from_utf8_lossy(answer).contains("Call-ID: tcp-1"));
    // The core's answer to the second call returns over the same connection.
    core.send(gw.sip, &ok_for(&fwd));
    let n = conn.read(&mut buf).unwrap();
    assert_eq!(status(&buf[..n]), Some(200));
    // A CRLFCRLF ping gets a CRLF pong (RFC 5626).
    conn.write_all(b"\r\n\r\n").unwrap();
    let n = conn.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"\r\n");
    // The connection limit: a third connection is closed at once.
    let _second = std::net::TcpStream::connect(gw.sip).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let mut third = std::net::TcpStream::connect(gw.sip).unwrap();
    third
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    assert_eq!(
        third.read(&mut buf).unwrap_or(0),
        0,
        "refused beyond the limit"
    );
    // An idle connection is closed after tcp_idle_timeout_s.
    let n = conn.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "idle connection closed");
}

#[test]
fn garbage_on_tcp_closes_only_that_connection() {
    use std::io::{Read, Write};
    let gw = Gateway::start("tcpgarbage", "", "");
    let core = Peer::bind(gw.next_hop);
    let mut bad = std::net::TcpStream::connect(gw.sip).unwrap();
    bad.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    bad.write_all(b"\x00\x01\x02 not sip at all\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(
        bad.read(&mut buf).unwrap_or(0),
        0,
        "the garbage connection is closed"
    );
    // Everyone else carries on.
    forwarded(
        &gw,
        &core,
        &invite(
            "INVITE",
            "+8613800000001",
            "+8613800000002",
            5986,
            "",
            "after-garbage",
        ),
        "UDP after TCP garbage",
    );
    assert!(gw.metric("interdict_parse_errors_total{protocol=\"sip\"") >= 1.0);
}

#[test]
fn a_script_split_across_sms_over_ip_messages_is_decided_whole() {
    let gw = Gateway::start("sms-over-ip-concat", "", "");
    let core = Peer::bind(gw.next_hop);
    let border = Peer::any();
    // Blocked whole; each half alone ("请将资金转入安…", "…账户") passes.
    let scam: Vec<u8> = "请将资金转入安全账户"
        .encode_utf16()
        .flat_map(u16::to_be_bytes)
        .collect();
    // Cut at an odd octet, inside 全: neither part holds the phrase, nor every character.
    let (a, b) = scam.split_at(15);
    let part = |octets: &[u8], seq: u8, id: &str| {
        message(
            "+8613800000001",
            "+8613800000002",
            border.port(),
            "application/vnd.3gpp.sms",
            "",
            &rp_submit_part(octets, 21, 2, seq),
            id,
        )
    };
    let second = part(b, 2, "sms-part-2");
    border.send(gw.sip, &second);
    assert!(
        border.recv(Duration::from_millis(300)).is_none(),
        "a held part is not answered"
    );
    assert!(
        core.recv(Duration::from_millis(50)).is_none(),
        "nor forwarded"
    );
    border.send(gw.sip, &part(a, 1, "sms-part-1"));
    let (answer, _) = border.recv(SHORT).expect("the completing part is answered");
    assert_eq!(
        status(&answer),
        Some(608),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    // The held part's retransmission gets the same refusal.
    border.send(gw.sip, &second);
    let (answer, _) = border.recv(SHORT).expect("the retransmission is answered");
    assert_eq!(status(&answer), Some(608));
    assert_eq!(header(&answer, "Call-ID").as_deref(), Some("sms-part-2"));
    assert!(
        core.recv(Duration::from_millis(200)).is_none(),
        "no part reached the core"
    );

    // An ordinary concatenated SMS: every part is forwarded once the message is whole.
    let ok: Vec<u8> = "周六下午三点在小区门口集合，一起去公园放风筝，记得带水和帽子"
        .encode_utf16()
        .flat_map(u16::to_be_bytes)
        .collect();
    let (a, b) = ok.split_at(31);
    let first = message(
        "+8613800000001",
        "+8613800000002",
        border.port(),
        "application/vnd.3gpp.sms",
        "",
        &rp_submit_part(a, 22, 2, 1),
        "ok-part-1",
    );
    border.send(gw.sip, &first);
    assert!(core.recv(Duration::from_millis(300)).is_none());
    border.send(
        gw.sip,
        &message(
            "+8613800000001",
            "+8613800000002",
            border.port(),
            "application/vnd.3gpp.sms",
            "",
            &rp_submit_part(b, 22, 2, 2),
            "ok-part-2",
        ),
    );
    let (got, _) = core.recv(SHORT).expect("the completing part is forwarded");
    assert_eq!(header(&got, "Call-ID").as_deref(), Some("ok-part-2"));
    border.send(gw.sip, &first);
    let (got, _) = core
        .recv(SHORT)
        .expect("the held part, retransmitted, is forwarded");
    assert_eq!(header(&got, "Call-ID").as_deref(), Some("ok-part-1"));
}

#[test]
fn a_burst_is_decided_whole_and_forwarded_in_order() {
    // Datagrams arriving faster than one at a time are read and sent in batches: every one
    // must still be decided on its own, none lost, and the core must see them in order.
    // The core answers nothing here: the gateway must not send an INVITE again meanwhile.
    let gw = Gateway::start("burst", "", "upstream_timeout_ms = 60000\n");
    let core = Peer::bind(gw.next_hop);
    let border = Peer::any();
    const N: usize = 300;
    for i in 0..N {
        // Every tenth call is from a listed number and must be answered 608 instead.
        let from = if i % 10 == 7 {
            "+8617100000001"
        } else {
            "+8613800000001"
        };
        border.send(
            gw.sip,
            &invite(
                "INVITE",
                from,
                "+8613800000002",
                border.port(),
                "",
                &format!("burst-{i:03}"),
            ),
        );
    }
    let at_core: Vec<String> = core
        .drain(Duration::from_secs(2))
        .iter()
        .filter_map(|b| header(b, "Call-ID"))
        .collect();
    let expected: Vec<String> = (0..N)
        .filter(|i| i % 10 != 7)
        .map(|i| format!("burst-{i:03}"))
        .collect();
    assert_eq!(at_core, expected, "every pass forwarded once, in order");
    let answers = border.drain(Duration::from_millis(500));
    let refused = answers.iter().filter(|a| status(a) == Some(608)).count();
    assert_eq!(refused, N / 10, "every listed caller answered 608");
}
