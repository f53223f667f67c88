//! Interoperability: python-smpplib (in the project's .venv, from scripts/install-deps)
//! binds to the SMSC simulator as transmitter, receiver and transceiver, submits ordinary,
//! scam, GBK and concatenated UCS-2 messages (a script split mid-character across parts),
//! and sees every response, receipt and mobile-originated message; the simulator records
//! exactly what was sent.
//!
//! Then the same through `interdict serve`'s SMPP proxy: the ESME sees scams refused on every
//! part, and the simulator receives exactly what should pass, the warned text prefixed and
//! re-segmented.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use interdict::smsc_sim::{reassembled_texts, MoMessage, SimConfig, SmscSim};

fn python() -> PathBuf {
    let python = common::root().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/install-deps to create the Python venv with smpplib",
        python.display()
    );
    python
}

fn client(port: u16, args: &[&str]) -> Command {
    let mut c = Command::new(python());
    c.arg(common::root().join("crates/gateway/tests/python/smpp_client.py"))
        .args(["--port", &port.to_string()])
        .args(args);
    c
}

fn events(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn smpplib_binds_submits_and_receives() {
    let sim = SmscSim::spawn(SimConfig::default()).unwrap();
    let port = sim.local_addr().port();

    // Transmitter: five messages, six submit_sm, every one answered with status 0.
    let out = client(port, &["--bind", "transmitter"]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let ev = events(&out.stdout);
    let submitted: Vec<_> = ev.iter().filter(|e| e["event"] == "submitted").collect();
    assert_eq!(submitted.len(), 5);
    for s in &submitted {
        for part in s["parts"].as_array().unwrap() {
            assert_eq!(part["status"], 0, "{s}");
            assert!(part["message_id"].as_str().is_some_and(|id| !id.is_empty()));
        }
    }
    let got = sim.received();
    assert_eq!(got.len(), 6);
    assert!(got.iter().all(|r| r.system_id == "pytest"));
    let gbk = got.iter().find(|r| r.data_coding == 0x0F).unwrap();
    assert_eq!(
        gbk.text.as_deref(),
        Some("【公安局】您的银行卡涉嫌洗钱，请立即将资金转入安全账户接受清查。")
    );
    let texts = reassembled_texts(&got);
    assert!(texts
        .iter()
        .any(|t| t.starts_with("【刑侦支队】") && t.ends_with("否则将依法逮捕。")));
    assert!(
        texts.contains(&"Your parcel is waiting at the front desk, pickup code 2046.".to_string())
    );

    // Transceiver asking for receipts: one receipt per part.
    let out = client(port, &["--bind", "transceiver", "--receipts"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let done = events(&out.stdout).pop().unwrap();
    assert_eq!(done["receipts"], 6, "{done}");

    // Receiver: a mobile-originated message delivered once it is bound.
    let mut child = client(port, &["--bind", "receiver", "--expect", "1"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let bound: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(bound["event"], "bound");
    let deadline = Instant::now() + Duration::from_secs(5);
    while sim.bound_sessions() == 0 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(10));
    }
    sim.deliver(&MoMessage::text(
        "8617000000555",
        "1069000000002",
        "收到，谢谢",
    ))
    .unwrap();
    let rest: Vec<serde_json::Value> = lines
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    assert!(child.wait().unwrap().success(), "{rest:?}");
    let mo = rest.iter().find(|e| e["event"] == "deliver_sm").unwrap();
    assert_eq!(mo["source"], "8617000000555");
    assert_eq!(mo["data_coding"], 8);
    assert_eq!(mo["short_message_hex"], "65365230ff0c8c228c22");
    assert_eq!(sim.stats().deliver_sm_resp_ok, 7);
}

fn statuses(ev: &[serde_json::Value], kind: &str) -> Vec<i64> {
    ev.iter()
        .find(|e| e["event"] == "submitted" && e["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {ev:?}"))["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["status"].as_i64().unwrap_or(-1))
        .collect()
}

#[test]
fn smpplib_through_the_gateway_sees_scams_refused_and_the_rest_delivered() {
    let sim = SmscSim::spawn(SimConfig::default()).unwrap();
    let dir = common::scratch("smpp-python-gateway");
    common::copy_dir(&common::root().join("rules"), &dir.join("rules"));
    let port = common::free_port();
    let _gw = common::Gateway::start_with_tables(
        dir,
        "",
        "",
        &format!(
            "[smpp]\nlisten = \"127.0.0.1:{port}\"\nsmsc = \"{}\"\n",
            sim.local_addr()
        ),
    );

    for bind in ["transmitter", "transceiver"] {
        sim.clear();
        let out = client(port, &["--bind", bind, "--with-warned"])
            .output()
            .unwrap();
        let ev = events(&out.stdout);
        assert!(out.status.success(), "{bind}: {ev:?}");
        assert_eq!(statuses(&ev, "ordinary"), [0]);
        assert_eq!(statuses(&ev, "ordinary_gsm"), [0]);
        assert_eq!(statuses(&ev, "warned"), [0]);
        assert_eq!(statuses(&ev, "scam"), [0x45]);
        assert_eq!(statuses(&ev, "gbk"), [0x45]);
        let concat = statuses(&ev, "concat_ucs2");
        assert!(
            concat.len() > 1 && concat.iter().all(|s| *s == 0x45),
            "{concat:?}"
        );

        let got = sim.received();
        assert!(got.iter().all(|r| r.system_id == "pytest"));
        let texts = reassembled_texts(&got);
        assert_eq!(texts.len(), 3, "{texts:?}");
        assert!(texts
            .iter()
            .any(|t| t.starts_with("【社区驿站】") && t.ends_with("凭码领取。")));
        assert!(
            texts.contains(&"Your parcel is waiting at the front desk, pickup code 2046.".into())
        );
        let warned = texts
            .iter()
            .find(|t| t.contains("停水检修"))
            .expect("the warned text");
        assert!(warned.starts_with("【反诈提醒】【物业】"), "{warned}");
        let warned_parts: Vec<_> = got
            .iter()
            .filter(|r| r.source.addr == "8617055550001")
            .collect();
        assert_eq!(warned_parts.len(), 2, "re-segmented into two parts");
        assert!(warned_parts.iter().all(|p| p.short_message.len() <= 140));
        assert!(!texts.iter().any(|t| t.contains("安全账户")));
    }

    // Receiver: the ordinary mobile-originated message arrives, the scam never does.
    let mut child = client(
        port,
        &["--bind", "receiver", "--expect", "1", "--seconds", "3"],
    )
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let bound: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(bound["event"], "bound");
    assert_eq!(bound["status"], 0);
    let deadline = Instant::now() + Duration::from_secs(5);
    while sim.bound_sessions() == 0 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(10));
    }
    sim.deliver(&MoMessage::text(
        "8613800000001",
        "1069000000002",
        "您涉嫌洗钱，请立即将资金转入安全账户配合调查",
    ))
    .unwrap();
    sim.deliver(&MoMessage::text(
        "8613800000001",
        "1069000000002",
        "收到，谢谢",
    ))
    .unwrap();
    let rest: Vec<serde_json::Value> = lines
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    assert!(child.wait().unwrap().success(), "{rest:?}");
    let delivered: Vec<_> = rest.iter().filter(|e| e["event"] == "deliver_sm").collect();
    assert_eq!(delivered.len(), 1, "{rest:?}");
    assert_eq!(delivered[0]["short_message_hex"], "65365230ff0c8c228c22");
    assert_eq!(sim.stats().deliver_sm_resp_error, 1);
}
