//! The police feed end to end: the real `interdict serve` binary with its feed on loopback
//! (plaintext), real SIP traffic, a pushed number, SIGKILL and restart, `interdict tail`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, invite, status, Gateway, Peer};
use interdict_proto::v1 as pb;
use pb::feed_client::FeedClient;
use pb::rules_client::RulesClient;
use tokio_stream::StreamExt;

const LONG: Duration = Duration::from_secs(3);

fn feed_table(dir: &std::path::Path, port: u16) -> String {
    format!(
        "\n[feed]\nenabled = true\nplaintext = true\nlisten = \"127.0.0.1:{port}\"\nlog_dir = {:?}\n",
        dir.join("feed").display().to_string()
    )
}

/// Sends an INVITE and returns the status the border got back (608: blocked).
fn call(gw: &Gateway, core: &Peer, from: &str, to: &str, id: &str) -> Option<u16> {
    let border = Peer::any();
    border.send(gw.sip, &invite("INVITE", from, to, border.port(), "", id));
    let answer = border.recv(LONG).and_then(|(b, _)| status(&b));
    core.drain(Duration::from_millis(100));
    answer
}

async fn events_from(port: u16, from: u64, n: usize) -> Vec<pb::DecisionEvent> {
    let mut client = FeedClient::connect(format!("http://127.0.0.1:{port}"))
        .await
        .unwrap();
    let mut s = client
        .subscribe(pb::SubscribeRequest {
            start: pb::StartFrom::Sequence as i32,
            from_sequence: from,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut out = Vec::new();
    while out.len() < n {
        match tokio::time::timeout(Duration::from_secs(10), s.next()).await {
            Ok(Some(Ok(ev))) => out.push(ev),
            other => panic!("after {} events: {other:?}", out.len()),
        }
    }
    out
}

#[test]
fn sip_blocks_reach_the_feed_pushes_are_enforced_and_survive_sigkill() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let port = free_port();
    let dir = common::scratch("feed-e2e");
    let rules = dir.join("rules");
    common::copy_dir(&common::root().join("rules"), &rules);
    let mut gw = Gateway::start_in(dir.clone(), &feed_table(&dir, port), "");
    let core = Peer::bind(gw.next_hop);

    // A listed caller is blocked and the block is in the feed with its evidence.
    assert_eq!(
        call(
            &gw,
            &core,
            "+8617100000001",
            "+8613800000002",
            "feed-block-1"
        ),
        Some(608)
    );
    let evs = rt.block_on(events_from(port, 1, 1));
    let ev = &evs[0];
    assert_eq!(ev.sequence, 1);
    assert_eq!(ev.kind, pb::EventKind::Call as i32);
    assert_eq!(ev.verdict, pb::Verdict::Block as i32);
    assert_eq!(ev.protocol, pb::Protocol::Sip as i32);
    assert_eq!(ev.rule_id, "caller-reported-fraud");
    assert_eq!(ev.message_id, "feed-block-1");
    assert_eq!(ev.caller.as_ref().unwrap().number, "+8617100000001");
    assert!(
        ev.evidence
            .iter()
            .any(|e| matches!(&e.kind, Some(pb::evidence::Kind::ListHit(h)) if h.number == "+8617100000001")),
        "{:?}",
        ev.evidence
    );

    // A pushed number: the next call from it is blocked.
    let pushed = "+8617055502468";
    assert_ne!(
        call(&gw, &core, pushed, "+8613800000002", "feed-before"),
        Some(608)
    );
    let acked = Instant::now();
    let r = rt
        .block_on(async {
            RulesClient::connect(format!("http://127.0.0.1:{port}"))
                .await
                .unwrap()
                .update_numbers(pb::UpdateNumbersRequest {
                    list: "fraud_numbers".into(),
                    add: vec![pushed.into()],
                    reason: "GOIP device seized".into(),
                    case_id: "case-2026-0042".into(),
                    request_id: "e2e-1".into(),
                    ..Default::default()
                })
                .await
        })
        .unwrap()
        .into_inner();
    assert_eq!(
        call(&gw, &core, pushed, "+8613800000002", "feed-after"),
        Some(608)
    );
    eprintln!("push acknowledged to blocked answer: {:?}", acked.elapsed());
    let evs = rt.block_on(events_from(port, 1, 3));
    let seqs: Vec<u64> = evs.iter().map(|e| e.sequence).collect();
    assert_eq!(seqs, vec![1, 2, 3]);
    assert_eq!(evs[1].sequence, r.audit_sequence);
    assert_eq!(evs[1].kind, pb::EventKind::RuleChange as i32);
    assert_eq!(evs[2].message_id, "feed-after");

    // `interdict tail` prints them and says where to resume on Ctrl-C.
    let out = dir.join("tail.out");
    let err = dir.join("tail.err");
    let mut tail = Command::new(common::interdict())
        .args(["tail", "--plaintext", "--json", "--from", "1", "--server"])
        .arg(format!("127.0.0.1:{port}"))
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::read_to_string(&out).unwrap().lines().count() < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    Command::new("kill")
        .args(["-INT", &tail.id().to_string()])
        .status()
        .unwrap();
    assert!(tail.wait().unwrap().success());
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0]["verdict"], "block");
    assert_eq!(lines[0]["caller"], "+8617100000001");
    assert_eq!(lines[1]["kind"], "rule-change");
    let hint = std::fs::read_to_string(&err).unwrap();
    assert!(hint.contains("resume with --from 4"), "{hint}");

    // SIGKILL under load (blocked calls streaming in), restart on the same log: the push is
    // enforced, and the sequence has no gap and no duplicate.
    let sip = gw.sip;
    let load = std::thread::spawn(move || {
        let border = Peer::any();
        for i in 0..400 {
            let req = invite(
                "INVITE",
                "+8617100000003",
                "+8613800000002",
                border.port(),
                "",
                &format!("load-{i}"),
            );
            border.send(sip, &req);
            std::thread::sleep(Duration::from_micros(500));
        }
    });
    std::thread::sleep(Duration::from_millis(100));
    gw.child.kill().unwrap();
    load.join().unwrap();
    gw.child.wait().unwrap();
    drop(gw);
    let port = free_port();
    let gw = Gateway::start_in(dir.clone(), &feed_table(&dir, port), "");
    let core = Peer::bind(gw.next_hop);
    assert_eq!(
        call(&gw, &core, pushed, "+8613800000002", "feed-restarted"),
        Some(608),
        "the acknowledged push survives SIGKILL"
    );
    let last = rt.block_on(async {
        pb::stats_client::StatsClient::connect(format!("http://127.0.0.1:{port}"))
            .await
            .unwrap()
            .get(pb::StatsRequest {})
            .await
            .unwrap()
            .into_inner()
            .last_sequence
    });
    assert!(last >= 4, "{last}");
    let evs = rt.block_on(events_from(port, 1, last as usize));
    let seqs: Vec<u64> = evs.iter().map(|e| e.sequence).collect();
    assert_eq!(
        seqs,
        (1..=last).collect::<Vec<u64>>(),
        "no gap, no duplicate"
    );
    let mut ids: Vec<&str> = evs.iter().map(|e| e.message_id.as_str()).collect();
    ids.retain(|id| !id.is_empty());
    let before = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), before, "no call logged twice");
    assert_eq!(evs.last().unwrap().message_id, "feed-restarted");
    eprintln!("{} events logged before SIGKILL under load", last - 4);
}

/// Binds a transmitter to `addr` and submits `texts` from `source`; the statuses.
fn smpp_submit(addr: std::net::SocketAddr, source: &str, texts: &[&str]) -> Vec<u32> {
    use interdict_smpp::{Address, Bind, Body, Pdu, Sm};
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(LONG)).unwrap();
    let read_resp = |s: &mut std::net::TcpStream| {
        let mut head = [0u8; 16];
        s.read_exact(&mut head).unwrap();
        let len = u32::from_be_bytes(head[..4].try_into().unwrap()) as usize;
        let mut rest = vec![0u8; len - 16];
        s.read_exact(&mut rest).unwrap();
        u32::from_be_bytes(head[8..12].try_into().unwrap())
    };
    let bind = Pdu {
        command_status: 0,
        sequence_number: 1,
        body: Body::BindTransmitter(Bind {
            system_id: b"feed-test",
            password: b"pw",
            interface_version: 0x34,
            ..Bind::default()
        }),
    };
    s.write_all(&bind.to_vec().unwrap()).unwrap();
    assert_eq!(read_resp(&mut s), 0);
    texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let ucs2: Vec<u8> = t.encode_utf16().flat_map(u16::to_be_bytes).collect();
            let pdu = Pdu {
                command_status: 0,
                sequence_number: 2 + i as u32,
                body: Body::SubmitSm(Sm {
                    source: Address {
                        ton: 1,
                        npi: 1,
                        addr: source.as_bytes(),
                    },
                    destination: Address {
                        ton: 1,
                        npi: 1,
                        addr: b"8613800000002",
                    },
                    data_coding: 8,
                    short_message: &ucs2,
                    ..Sm::default()
                }),
            };
            s.write_all(&pdu.to_vec().unwrap()).unwrap();
            read_resp(&mut s)
        })
        .collect()
}

#[test]
fn smpp_decisions_and_dissuasion_sms_reach_the_feed() {
    use interdict::smsc_sim::{SimConfig, SmscSim};
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = SmscSim::spawn(SimConfig::default()).unwrap();
    let port = free_port();
    let smpp_port = free_port();
    let dir = common::scratch("feed-smpp");
    common::copy_dir(&common::root().join("rules"), &dir.join("rules"));
    let tables = format!(
        "{}\n[smpp]\nlisten = \"127.0.0.1:{smpp_port}\"\nsmsc = \"{}\"\n[dissuasion]\nenabled = true\n",
        feed_table(&dir, port),
        sim.local_addr()
    );
    let _gw = Gateway::start_with_tables(dir, "", "", &tables);
    let smpp = std::net::SocketAddr::from(([127, 0, 0, 1], smpp_port));
    let scam = "您涉嫌洗钱，请立即将资金转入安全账户配合调查";
    assert_eq!(smpp_submit(smpp, "8613800000001", &[scam]), [0x45]);
    // A suspect sender (bundled list, synthetic): warned, and its recipient dissuaded.
    assert_eq!(
        smpp_submit(smpp, "8617055550001", &["明天上午十点开会"]),
        [0]
    );
    let evs = rt.block_on(events_from(port, 1, 3));
    let kinds: Vec<(i32, i32, i32)> = evs
        .iter()
        .map(|e| (e.kind, e.protocol, e.verdict))
        .collect();
    assert!(
        evs.iter().any(|e| e.kind == pb::EventKind::Sms as i32
            && e.protocol == pb::Protocol::Smpp as i32
            && e.verdict == pb::Verdict::Block as i32),
        "{kinds:?}"
    );
    assert!(
        evs.iter()
            .any(|e| e.kind == pb::EventKind::Sms as i32 && e.verdict == pb::Verdict::Warn as i32),
        "{kinds:?}"
    );
    assert!(
        evs.iter()
            .any(|e| e.kind == pb::EventKind::DissuasionSent as i32),
        "{kinds:?}"
    );
}
