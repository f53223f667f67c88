//! The SMSC simulator and the SMPP load generator against each other, and the simulator
//! against raw PDUs: counts, statuses, recorded texts, receipts, MO delivery, undecodable
//! PDUs, bind states and the silent/stalled modes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use interdict::load_smpp::{self, BindAs, LoadConfig, Rate};
use interdict::smsc_sim::{reassembled_texts, MoMessage, SimConfig, SimMode, SmscSim};
use interdict_smpp::{
    encode, status, Address, Bind, Body, CommandId, DataSm, Header, Pdu, Sm, SubmitMulti,
};

/// A raw ESME over a blocking socket.
struct Esme {
    s: TcpStream,
}

impl Esme {
    fn connect(sim: &SmscSim) -> Esme {
        let s = TcpStream::connect(sim.local_addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        Esme { s }
    }

    fn send(&mut self, wire: &[u8]) {
        self.s.write_all(wire).unwrap();
    }

    fn send_pdu(&mut self, seq: u32, body: Body<'_>) {
        let wire = Pdu {
            command_status: 0,
            sequence_number: seq,
            body,
        }
        .to_vec()
        .unwrap();
        self.send(&wire);
    }

    /// The next PDU, or None on timeout / close.
    fn recv(&mut self) -> Option<Vec<u8>> {
        let mut header = [0u8; 16];
        self.s.read_exact(&mut header).ok()?;
        let h = Header::peek(&header)?;
        let mut pdu = header.to_vec();
        pdu.resize(h.command_length as usize, 0);
        self.s.read_exact(&mut pdu[16..]).ok()?;
        Some(pdu)
    }

    fn expect(&mut self, command: CommandId, status: u32, seq: u32) -> Vec<u8> {
        let pdu = self.recv().expect("a response");
        let h = Header::peek(&pdu).unwrap();
        assert_eq!(
            (h.command_id, h.command_status, h.sequence_number),
            (command as u32, status, seq),
            "expected {} status {status:#x} seq {seq}",
            command.name()
        );
        pdu
    }

    fn bind(&mut self, kind: CommandId, system_id: &str) {
        let b = Bind {
            system_id: system_id.as_bytes(),
            password: b"pw",
            interface_version: 0x34,
            ..Default::default()
        };
        let (body, resp) = match kind {
            CommandId::BindTransmitter => {
                (Body::BindTransmitter(b), CommandId::BindTransmitterResp)
            }
            CommandId::BindReceiver => (Body::BindReceiver(b), CommandId::BindReceiverResp),
            _ => (Body::BindTransceiver(b), CommandId::BindTransceiverResp),
        };
        self.send_pdu(1, body);
        let pdu = self.expect(resp, 0, 1);
        match Pdu::decode(&pdu).unwrap().body {
            Body::BindTransmitterResp(Some(r))
            | Body::BindReceiverResp(Some(r))
            | Body::BindTransceiverResp(Some(r)) => assert_eq!(r.system_id, b"interdict-sim"),
            other => panic!("{other:?}"),
        }
    }
}

fn submit(text: &[u8], data_coding: u8, registered_delivery: u8) -> Body<'_> {
    Body::SubmitSm(Sm {
        source: Address {
            ton: 0,
            npi: 1,
            addr: b"1069000000003",
        },
        destination: Address {
            ton: 1,
            npi: 1,
            addr: b"8617000000456",
        },
        data_coding,
        registered_delivery,
        short_message: text,
        ..Default::default()
    })
}

fn load(sim: &SmscSim, count: u64) -> LoadConfig {
    LoadConfig {
        target: sim.local_addr(),
        sessions: 3,
        window: 32,
        count,
        rate: Rate::Max,
        duration: Duration::from_secs(30),
        drain: Duration::from_secs(5),
        ..Default::default()
    }
}

#[test]
fn load_against_the_sim_counts_match_and_every_status_is_zero() {
    let sim = SmscSim::spawn(SimConfig::default()).unwrap();
    let report = load_smpp::run_blocking(load(&sim, 3_000)).unwrap();
    assert!(report.clean(), "{report:?}");
    assert_eq!(report.sessions_bound, 3);
    // The last concatenated message is finished, so a few more than asked may go.
    assert!(
        report.submitted >= 3_000 && report.submitted < 3_010,
        "{report:?}"
    );
    assert_eq!(report.responses, report.submitted);
    assert_eq!(report.by_status.len(), 1, "{report:?}");
    assert_eq!(report.by_status.get("0x00000000"), Some(&report.submitted));
    for (kind, n) in &report.submitted_by_kind {
        assert!(*n > 0, "{kind}");
        assert_eq!(report.by_kind_status[kind].get("0x00000000"), Some(n));
    }
    assert!(report.rate > 0.0 && report.latency_us.p50 > 0.0);
    assert!(report.latency_us.p50 <= report.latency_us.p99);

    let stats = sim.stats();
    assert_eq!(stats.submit_sm, report.submitted);
    assert_eq!(stats.binds, 3);
    assert!(sim.wait_received(report.submitted as usize, Duration::from_secs(5)));
    let received = sim.received();
    assert_eq!(received.len() as u64, report.submitted);

    // The mix arrived: ordinary texts whole, scams, concatenated parts that only make
    // sense joined (each part splits a character).
    let texts: Vec<String> = received.iter().filter_map(|r| r.text.clone()).collect();
    assert!(texts.iter().any(|t| t.contains("取件码6-2-3018")));
    assert!(texts.iter().any(|t| t.contains("library books")));
    assert!(texts.iter().any(|t| t.contains("安全账户配合调查")));
    let parts: Vec<_> = received.iter().filter(|r| r.concat.is_some()).collect();
    assert!(!parts.is_empty());
    assert!(parts.iter().all(|r| r.short_message.len() <= 140));
    let whole = reassembled_texts(&received);
    assert!(whole
        .iter()
        .any(|t| t.contains("将全部资金转入安全账户接受清查") && t.ends_with("否则将依法逮捕。")));
    assert!(whole.iter().any(|t| t.contains("感谢您的理解与配合")));
    // Destinations are the synthetic block.
    assert!(received
        .iter()
        .all(|r| r.destinations[0].addr.starts_with("861380001")));
}

#[test]
fn rate_and_time_bound_the_run() {
    let sim = SmscSim::spawn(SimConfig {
        keep: 0,
        ..Default::default()
    })
    .unwrap();
    let mut cfg = load(&sim, 1_000_000);
    cfg.rate = Rate::PerSecond(2_000.0);
    cfg.duration = Duration::from_millis(500);
    let started = Instant::now();
    let report = load_smpp::run_blocking(cfg).unwrap();
    assert!(started.elapsed() < Duration::from_secs(4));
    assert!(report.clean(), "{report:?}");
    // About 1,000 in half a second at 2,000/s.
    assert!(
        (700..=1_300).contains(&report.submitted),
        "{}",
        report.submitted
    );
    assert_eq!(sim.stats().submit_sm, report.submitted);
}

#[test]
fn receipts_reach_a_transceiver() {
    let sim = SmscSim::spawn(SimConfig::default()).unwrap();
    let mut cfg = load(&sim, 200);
    cfg.bind_as = BindAs::Transceiver;
    cfg.registered_delivery = 1;
    cfg.sessions = 2;
    let report = load_smpp::run_blocking(cfg).unwrap();
    assert!(report.clean(), "{report:?}");
    // The load tool stops once every submit is answered: most receipts arrive before.
    let stats = sim.stats();
    assert_eq!(stats.receipts, report.submitted);
    assert!(report.receipts > 0 && report.receipts <= report.submitted);

    // A raw transmitter + receiver pair with the same system_id: the receipt goes to the
    // receiver, with receipted_message_id and message_state.
    let mut rx = Esme::connect(&sim);
    rx.bind(CommandId::BindReceiver, "pair");
    let mut tx = Esme::connect(&sim);
    tx.bind(CommandId::BindTransmitter, "pair");
    tx.send_pdu(2, submit(b"hello receipt", 1, 1));
    let resp = tx.expect(CommandId::SubmitSmResp, 0, 2);
    let message_id = match Pdu::decode(&resp).unwrap().body {
        Body::SubmitSmResp(Some(r)) => r.message_id.to_vec(),
        other => panic!("{other:?}"),
    };
    let receipt = rx.recv().expect("a receipt");
    let pdu = Pdu::decode(&receipt).unwrap();
    let sm = pdu.as_sm().expect("deliver_sm");
    assert!(sm.is_delivery_receipt());
    assert_eq!(sm.tlvs.receipted_message_id(), Some(&message_id[..]));
    assert_eq!(sm.tlvs.message_state(), Some(2));
    assert_eq!(sm.source.addr, b"8617000000456");
    assert!(String::from_utf8_lossy(sm.short_message).contains("stat:DELIVRD"));
    let mut ack = Vec::new();
    encode::deliver_sm_resp(&mut ack, 0, pdu.sequence_number);
    rx.send(&ack);
    let deadline = Instant::now() + Duration::from_secs(3);
    while sim.stats().deliver_sm_resp_ok < stats.deliver_sm_resp_ok + 1 {
        assert!(Instant::now() < deadline, "no deliver_sm_resp counted");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn mobile_originated_messages_reach_receivers() {
    let sim = SmscSim::spawn(SimConfig::default()).unwrap();
    assert!(sim
        .deliver(&MoMessage::text("8617000000789", "10690000", "hi"))
        .is_err());
    let mut rx = Esme::connect(&sim);
    rx.bind(CommandId::BindTransceiver, "mo");
    sim.deliver(&MoMessage::text(
        "8617000000789",
        "1069000000001",
        "退订 please",
    ))
    .unwrap();
    let pdu = rx.recv().unwrap();
    let pdu = Pdu::decode(&pdu).unwrap();
    let sm = pdu.as_sm().unwrap();
    assert_eq!(pdu.command_id(), CommandId::DeliverSm);
    assert_eq!((sm.source.ton, sm.source.addr), (1, &b"8617000000789"[..]));
    assert_eq!(sm.data_coding, 8);
    let text = interdict_smpp::text::decode(&sm.message().unwrap(), &Default::default());
    assert_eq!(text.text, "退订 please");
}

#[test]
fn undecodable_pdus_get_generic_nack_and_the_session_carries_on() {
    let sim = SmscSim::spawn(SimConfig::default()).unwrap();
    let mut esme = Esme::connect(&sim);

    // Before the bind: a submit is refused with the bind-state error.
    esme.send_pdu(5, submit(b"too early", 1, 0));
    esme.expect(CommandId::SubmitSmResp, status::ESME_RINVBNDSTS, 5);
    esme.bind(CommandId::BindTransmitter, "raw");
    esme.send_pdu(6, submit(b"x", 1, 0));
    esme.bind_again_refused();

    // A submit_sm whose service_type never ends: generic_nack with its sequence number.
    let mut bad = Vec::new();
    encode::write_header_only(&mut bad, CommandId::SubmitSm, 0, 7);
    bad.extend_from_slice(b"CMT-CMT-CMT-CMT");
    let len = bad.len() as u32;
    bad[0..4].copy_from_slice(&len.to_be_bytes());
    esme.send(&bad);
    let nack = esme.expect(CommandId::GenericNack, status::ESME_RINVMSGLEN, 7);
    assert_eq!(nack.len(), 16);

    // An unknown command id.
    let mut unknown = Vec::new();
    encode::write_header_only(&mut unknown, CommandId::EnquireLink, 0, 8);
    unknown[4..8].copy_from_slice(&0x0000_0999u32.to_be_bytes());
    esme.send(&unknown);
    esme.expect(CommandId::GenericNack, status::ESME_RINVCMDID, 8);

    // The session carries on: enquire_link, then every message command.
    esme.send_pdu(9, Body::EnquireLink);
    esme.expect(CommandId::EnquireLinkResp, 0, 9);
    esme.send_pdu(10, submit(b"still here", 1, 0));
    let resp = esme.expect(CommandId::SubmitSmResp, 0, 10);
    let id = match Pdu::decode(&resp).unwrap().body {
        Body::SubmitSmResp(Some(r)) => String::from_utf8(r.message_id.to_vec()).unwrap(),
        other => panic!("{other:?}"),
    };
    let mut payload = Vec::new();
    interdict_smpp::tlv::write_tlv(
        &mut payload,
        interdict_smpp::TlvTag::MessagePayload,
        b"data sm text",
    )
    .unwrap();
    esme.send_pdu(
        11,
        Body::DataSm(DataSm {
            source: Address {
                ton: 0,
                npi: 1,
                addr: b"10690000",
            },
            destination: Address {
                ton: 1,
                npi: 1,
                addr: b"8617000000111",
            },
            data_coding: 1,
            tlvs: interdict_smpp::Tlvs::parse(&payload).unwrap(),
            ..Default::default()
        }),
    );
    esme.expect(CommandId::DataSmResp, 0, 11);
    let mut dests = Vec::new();
    let count = interdict_smpp::DestList::write(
        &[
            interdict_smpp::Dest::Sme(Address {
                ton: 1,
                npi: 1,
                addr: b"8617000000112",
            }),
            interdict_smpp::Dest::Sme(Address {
                ton: 1,
                npi: 1,
                addr: b"8617000000113",
            }),
        ],
        &mut dests,
    )
    .unwrap();
    esme.send_pdu(
        12,
        Body::SubmitMulti(SubmitMulti {
            source: Address {
                ton: 0,
                npi: 1,
                addr: b"10690000",
            },
            destinations: interdict_smpp::DestList::from_raw(count, &dests),
            data_coding: 1,
            short_message: b"multi",
            ..Default::default()
        }),
    );
    esme.expect(CommandId::SubmitMultiResp, 0, 12);
    esme.send_pdu(
        13,
        Body::QuerySm(interdict_smpp::QuerySm {
            message_id: id.as_bytes(),
            ..Default::default()
        }),
    );
    esme.expect(CommandId::QuerySmResp, 0, 13);
    esme.send_pdu(
        14,
        Body::ReplaceSm(interdict_smpp::ReplaceSm {
            message_id: id.as_bytes(),
            short_message: b"replaced text",
            ..Default::default()
        }),
    );
    esme.expect(CommandId::ReplaceSmResp, 0, 14);
    esme.send_pdu(
        15,
        Body::CancelSm(interdict_smpp::CancelSm {
            message_id: b"ffffffff",
            ..Default::default()
        }),
    );
    esme.expect(CommandId::CancelSmResp, 0x0000_000C, 15);
    esme.send_pdu(16, Body::Unbind);
    esme.expect(CommandId::UnbindResp, 0, 16);
    assert!(esme.recv().is_none(), "closed after unbind");

    let got = sim.received();
    let commands: Vec<&str> = got.iter().map(|r| r.command).collect();
    assert_eq!(
        commands,
        [
            "submit_sm",
            "submit_sm",
            "data_sm",
            "submit_multi",
            "query_sm",
            "replace_sm"
        ]
    );
    assert_eq!(got[1].text.as_deref(), Some("still here"));
    assert_eq!(got[2].text.as_deref(), Some("data sm text"));
    assert_eq!(
        got[2].message_payload.as_deref(),
        Some(&b"data sm text"[..])
    );
    assert_eq!(got[3].destinations.len(), 2);
    assert_eq!(got[5].text.as_deref(), Some("replaced text"));
    let stats = sim.stats();
    assert_eq!(stats.generic_nack, 2);
    assert_eq!(stats.refused, 3); // too early, bound twice, cancel of an unknown id
}

impl Esme {
    /// A second bind on a bound session is refused with ESME_RALYBND (after the submit
    /// sent just before is answered).
    fn bind_again_refused(&mut self) {
        self.expect(CommandId::SubmitSmResp, 0, 6);
        let b = Bind {
            system_id: b"raw",
            ..Default::default()
        };
        self.send_pdu(20, Body::BindTransmitter(b));
        self.expect(CommandId::BindTransmitterResp, status::ESME_RALYBND, 20);
    }
}

#[test]
fn a_lying_command_length_is_answered_then_the_connection_closes() {
    let sim = SmscSim::spawn(SimConfig {
        max_pdu_len: 4096,
        ..Default::default()
    })
    .unwrap();
    let mut other = Esme::connect(&sim);
    other.bind(CommandId::BindTransmitter, "other");
    let mut esme = Esme::connect(&sim);
    esme.bind(CommandId::BindTransmitter, "liar");
    let mut lie = Vec::new();
    encode::write_header_only(&mut lie, CommandId::SubmitSm, 0, 33);
    lie[0..4].copy_from_slice(&1_000_000u32.to_be_bytes());
    esme.send(&lie);
    esme.expect(CommandId::GenericNack, status::ESME_RINVCMDLEN, 33);
    assert!(esme.recv().is_none());
    // The other bind carries on.
    other.send_pdu(2, submit(b"fine", 1, 0));
    other.expect(CommandId::SubmitSmResp, 0, 2);
}

#[test]
fn accounts_restrict_binds_and_every_bind_is_listed() {
    let sim = SmscSim::spawn(SimConfig {
        accounts: vec![("esme1".into(), "pw".into())],
        ..Default::default()
    })
    .unwrap();
    let mut ok = Esme::connect(&sim);
    let b = Bind {
        system_id: b"esme1",
        password: b"pw",
        interface_version: 0x34,
        ..Default::default()
    };
    ok.send_pdu(1, Body::BindTransceiver(b));
    ok.expect(CommandId::BindTransceiverResp, 0, 1);
    for (system_id, password, expected) in [
        (&b"esme1"[..], &b"wrong"[..], status::ESME_RINVPASWD),
        (b"nobody", b"pw", 0x0000_000F),
    ] {
        let mut e = Esme::connect(&sim);
        e.send_pdu(
            3,
            Body::BindTransmitter(Bind {
                system_id,
                password,
                interface_version: 0x34,
                ..Default::default()
            }),
        );
        e.expect(CommandId::BindTransmitterResp, expected, 3);
        // Still unbound: a submit is refused.
        e.send_pdu(4, submit(b"x", 1, 0));
        e.expect(CommandId::SubmitSmResp, status::ESME_RINVBNDSTS, 4);
    }
    let binds = sim.binds();
    assert_eq!(binds.len(), 3);
    assert_eq!(
        (
            binds[0].kind,
            binds[0].system_id.as_str(),
            binds[0].password.as_str(),
            binds[0].status
        ),
        ("transceiver", "esme1", "pw", 0)
    );
    assert_eq!(binds[1].status, status::ESME_RINVPASWD);
    assert_eq!(binds[2].system_id, "nobody");
    assert_eq!(sim.stats().binds, 1);
}

#[test]
fn silent_and_stalled_modes_never_answer() {
    for mode in [SimMode::Silent, SimMode::Stalled] {
        let sim = SmscSim::spawn(SimConfig {
            mode,
            ..Default::default()
        })
        .unwrap();
        let mut esme = Esme::connect(&sim);
        esme.s
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let b = Bind {
            system_id: b"x",
            ..Default::default()
        };
        esme.send_pdu(1, Body::BindTransmitter(b));
        esme.send_pdu(2, Body::EnquireLink);
        let mut buf = [0u8; 1];
        match esme.s.read(&mut buf) {
            Err(e) => assert!(
                matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ),
                "{mode:?}: {e}"
            ),
            Ok(n) => panic!("{mode:?}: read {n} octets, the connection should stay open and mute"),
        }
        assert_eq!(sim.stats().binds, 0);
        if mode == SimMode::Silent {
            let deadline = Instant::now() + Duration::from_secs(2);
            while sim.stats().ignored_octets == 0 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            assert!(sim.stats().ignored_octets > 0);
        }
    }
}

#[test]
fn silent_after_bind_and_refusing_smscs() {
    let sim = SmscSim::spawn(SimConfig {
        mode: SimMode::SilentAfterBind,
        ..Default::default()
    })
    .unwrap();
    let mut esme = Esme::connect(&sim);
    esme.bind(CommandId::BindTransmitter, "x");
    esme.s
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    esme.send_pdu(2, Body::EnquireLink);
    esme.send_pdu(3, submit(b"lost", 1, 0));
    assert!(esme.recv().is_none(), "no answer after the bind");
    assert!(sim.received().is_empty());

    let sim = SmscSim::spawn(SimConfig {
        submit_status: status::ESME_RTHROTTLED,
        ..Default::default()
    })
    .unwrap();
    let report = load_smpp::run_blocking(load(&sim, 100)).unwrap();
    assert_eq!(report.by_status.get("0x00000058"), Some(&report.submitted));
    assert!(sim.received().is_empty());
}

#[test]
fn a_response_delay_shows_in_the_latency() {
    let sim = SmscSim::spawn(SimConfig {
        response_delay: Duration::from_millis(30),
        ..Default::default()
    })
    .unwrap();
    let mut cfg = load(&sim, 40);
    cfg.sessions = 1;
    cfg.window = 8;
    let report = load_smpp::run_blocking(cfg).unwrap();
    assert!(report.clean(), "{report:?}");
    assert!(report.latency_us.p50 >= 29_000.0, "{:?}", report.latency_us);
}

#[test]
fn the_commands_run_end_to_end() {
    let dir = common::scratch("smsc-sim-cli");
    let log = dir.join("sim.jsonl");
    let port = common::free_port();
    let mo = dir.join("mo.jsonl");
    std::fs::write(
        &mo,
        "{\"source\":\"8617000000321\",\"destination\":\"10690000\",\"text\":\"TD\"}\n",
    )
    .unwrap();
    let mut sim = Command::new(common::interdict())
        .args(["smsc-sim", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--log")
        .arg(&log)
        .arg("--mo")
        .arg(&mo)
        .arg("--deliver-receipts")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait for the listener.
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "smsc-sim did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = Command::new(common::interdict())
        .args(["load", "smpp", "--target"])
        .arg(format!("127.0.0.1:{port}"))
        .args([
            "--sessions",
            "2",
            "--window",
            "16",
            "--count",
            "500",
            "--seconds",
            "20",
            "--bind",
            "transceiver",
            "--mix",
            "ordinary=1,scam=1,concat_ucs2=1",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let submitted = report["submitted"].as_u64().unwrap();
    assert!(submitted >= 500);
    assert_eq!(report["responses"].as_u64(), Some(submitted));
    assert_eq!(report["by_status"]["0x00000000"].as_u64(), Some(submitted));
    // The MO message went to one of the transceivers.
    assert_eq!(report["deliver_sm"].as_u64(), Some(1));

    // A non-loopback target is refused.
    let refused = Command::new(common::interdict())
        .args(["load", "smpp", "--target", "192.0.2.1:2775", "--count", "1"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));

    stop_child(&mut sim);
    let lines = std::fs::read_to_string(&log).unwrap();
    let records: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len() as u64, submitted);
    let r = &records[0];
    for key in [
        "command",
        "sequence",
        "system_id",
        "source",
        "destinations",
        "data_coding",
        "esm_class",
        "registered_delivery",
        "short_message_hex",
        "message_payload_hex",
        "tlvs_hex",
        "text",
    ] {
        assert!(r.get(key).is_some(), "{key} missing in {r}");
    }
    assert_eq!(r["system_id"], "load");
    assert_eq!(r["source"]["npi"], 1);
}

/// Stops a child with SIGTERM and waits for it (SIGKILL after 5 s).
fn stop_child(child: &mut std::process::Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A target that binds, then answers every submit_sm under the wrong sequence number
/// (odd ones) or without a message_id (even ones), as a broken proxy might.
fn broken_target() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(s) = stream else { return };
            std::thread::spawn(move || {
                let mut esme = Esme { s };
                while let Some(pdu) = esme.recv() {
                    let h = Header::peek(&pdu).unwrap();
                    let mut out = Vec::new();
                    match CommandId::from_u32(h.command_id) {
                        Some(CommandId::BindTransmitter) => {
                            encode::write_header_only(
                                &mut out,
                                CommandId::BindTransmitterResp,
                                0,
                                h.sequence_number,
                            );
                            out.push(0);
                            out[3] = 17;
                        }
                        Some(CommandId::SubmitSm) if h.sequence_number % 2 == 1 => {
                            encode::submit_sm_resp(
                                &mut out,
                                0,
                                h.sequence_number + 100_000,
                                Some(b"1"),
                            )
                            .unwrap();
                        }
                        Some(CommandId::SubmitSm) => {
                            encode::write_header_only(
                                &mut out,
                                CommandId::SubmitSmResp,
                                0,
                                h.sequence_number,
                            );
                        }
                        Some(CommandId::Unbind) => {
                            encode::write_header_only(
                                &mut out,
                                CommandId::UnbindResp,
                                0,
                                h.sequence_number,
                            );
                        }
                        _ => {}
                    }
                    esme.send(&out);
                }
            });
        }
    });
    addr
}

#[test]
fn wrong_sequence_numbers_and_missing_message_ids_are_reported() {
    let cfg = LoadConfig {
        target: broken_target(),
        sessions: 1,
        window: 10,
        count: 20,
        mix: "ordinary=1".parse().unwrap(),
        drain: Duration::from_millis(300),
        ..Default::default()
    };
    let report = load_smpp::run_blocking(cfg).unwrap();
    assert!(!report.clean());
    assert_eq!(report.submitted, 20);
    assert_eq!(report.unknown_sequence, 10, "{report:?}");
    assert_eq!(report.unanswered, 10, "{report:?}");
    assert_eq!(report.responses, 10);
    assert_eq!(report.missing_message_id, 10);
}
