//! Interoperability: python-smpplib (in the project's .venv, from scripts/install-deps)
//! binds to the SMSC simulator as transmitter, receiver and transceiver, submits ordinary,
//! scam, GBK and concatenated UCS-2 messages (a script split mid-character across parts),
//! and sees every response, receipt and mobile-originated message; the simulator records
//! exactly what was sent.
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
