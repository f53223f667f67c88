//! End-to-end: the real `interdict` binary decides the bundled samples, keeps
//! going past bad input, and `rules validate` names file and line.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn run(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(common::interdict())
        .args(args)
        .current_dir(common::root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start interdict");
    let mut pipe = child.stdin.take().expect("stdin");
    if let Some(text) = stdin {
        pipe.write_all(text.as_bytes()).expect("write stdin");
    }
    drop(pipe);
    child.wait_with_output().expect("interdict output")
}

fn lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

fn verdict(v: &Value) -> &str {
    v["verdict"]
        .as_str()
        .unwrap_or_else(|| panic!("no verdict in {v}"))
}

#[test]
fn jsonl_samples_get_the_expected_verdicts_in_order() {
    let out = run(
        &[
            "check",
            "--rules",
            "rules",
            "--jsonl",
            "tests/samples/events.jsonl",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = lines(&out);
    let expected = [
        "block", // police impersonation, safe account, from a listed fraud number
        "pass",  // bank one-time code
        "block", // 95588 shown on an international trunk: spoofing
        "pass",  // ordinary fixed-line call
        "warn",  // order brushing with separators and a look-alike 微信
        "pass",  // the anti-fraud centre's own warning
        "warn",  // "I changed my number", boss wants a transfer
        "pass",  // delivery notice with a pickup code
    ];
    assert_eq!(got.len(), expected.len(), "one output line per input line");
    for (i, (line, want)) in got.iter().zip(expected).enumerate() {
        assert_eq!(
            line["input"].as_str(),
            Some(format!("tests/samples/events.jsonl:{}", i + 1).as_str())
        );
        let v = verdict(line);
        // "warn" samples may be blocked by a stronger rule; never passed.
        let ok = v == want || (want == "warn" && v == "block");
        assert!(ok, "line {}: want {want}, got {line}", i + 1);
        for key in ["rule", "categories", "evidence", "caller", "callee"] {
            assert!(line.get(key).is_some(), "line {}: no {key}: {line}", i + 1);
        }
        if v != "pass" {
            assert!(line["rule"].is_string(), "a {v} names its rule: {line}");
            assert!(
                line["evidence"].as_array().is_some_and(|e| !e.is_empty()),
                "a {v} carries evidence: {line}"
            );
        }
    }
    // The caller is reported normalised.
    assert!(
        got[0]["caller"].to_string().contains("+8617100000001"),
        "{}",
        got[0]
    );
}

#[test]
fn bad_lines_are_reported_and_the_rest_still_decided() {
    let input = concat!(
        "{\"kind\":\"sms\",\"caller\":\"13900000001\",\"callee\":\"13800000001\",\"text\":\"你好\"}\n",
        "this is not json\n",
        "{\"kind\":\"sms\",\"caller\":\"13900000001\",\"callee\":\"13800000001\",\"ts\":\"yesterday\"}\n",
        "{\"kind\":\"call\",\"caller\":\"13900000002\",\"callee\":\"13800000002\"}\n",
    );
    let out = run(&["check", "--rules", "rules", "--jsonl", "-"], Some(input));
    assert_eq!(out.status.code(), Some(1), "exit 1 when some input failed");
    let got = lines(&out);
    assert_eq!(got.len(), 4);
    assert_eq!(verdict(&got[0]), "pass");
    assert_eq!(got[1]["input"], "stdin:2");
    assert!(got[1]["error"]
        .as_str()
        .is_some_and(|e| e.contains("not an event")));
    assert!(got[2]["error"]
        .as_str()
        .is_some_and(|e| e.contains("RFC 3339")));
    assert_eq!(verdict(&got[3]), "pass");
}

#[test]
fn raw_sip_and_smpp_files_are_decided() {
    let out = run(
        &[
            "check",
            "--rules",
            "rules",
            "tests/samples/sip/invite-fraud-number.sip",
            "tests/samples/sip/invite-ordinary.sip",
            "tests/samples/sip/message-scam.sip",
            "tests/samples/smpp/submit-sm-ucs2-scam.hex",
            "tests/samples/smpp/submit-sm-gsm-notice.hex",
            "tests/samples/does-not-exist.sip",
            "tests/samples/smpp/submit-sm-gbk-scam.hex",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1), "the missing file is an error");
    let got = lines(&out);
    assert_eq!(got.len(), 7);
    assert_eq!(verdict(&got[0]), "block", "{}", got[0]);
    assert_eq!(verdict(&got[1]), "pass", "{}", got[1]);
    assert_ne!(verdict(&got[2]), "pass", "{}", got[2]);
    assert_ne!(verdict(&got[3]), "pass", "{}", got[3]);
    assert_eq!(verdict(&got[4]), "pass", "{}", got[4]);
    assert!(got[5]["error"].is_string(), "{}", got[5]);
    // The scam inside the UCS-2 SMPP PDU is quoted as found in the decoded text.
    assert!(
        got[3]["evidence"].to_string().contains("安全账户"),
        "{}",
        got[3]
    );
    // The same kind of script in GBK (data_coding 0x0F, as Chinese SMSCs send it) is read too;
    // the file after the missing one is still decided.
    assert_eq!(verdict(&got[6]), "block", "{}", got[6]);
    assert!(
        got[6]["evidence"].to_string().contains("安全账户"),
        "{}",
        got[6]
    );
}

#[test]
fn rules_validate_accepts_the_default_pack_and_names_file_and_line() {
    let out = run(&["rules", "validate", "rules"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A copy of the default pack with a broken regex line must be refused,
    // naming the file and the line.
    let dir = std::env::temp_dir().join(format!("interdict-badpack-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(&common::root().join("rules"), &dir);
    let patterns = dir.join("patterns.txt");
    let mut text = std::fs::read_to_string(&patterns).expect("rules/patterns.txt");
    let line = text.lines().count() + 1;
    text.push_str("broken_regex\tpolice_impersonation\t3\t(unclosed\n");
    std::fs::write(&patterns, text).expect("write patterns");
    let dir_s = dir.to_string_lossy().into_owned();
    let out = run(&["rules", "validate", &dir_s], None);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("patterns.txt:{line}")), "{err}");
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// A submit_sm PDU from a synthetic number carrying `short` (UCS-2, UDH indicated).
fn part_pdu(short: &[u8], seq: u32) -> Vec<u8> {
    interdict_smpp::Pdu {
        command_status: 0,
        sequence_number: seq,
        body: interdict_smpp::Body::SubmitSm(interdict_smpp::Sm {
            source: interdict_smpp::Address {
                ton: 1,
                npi: 1,
                addr: b"8613800000001",
            },
            destination: interdict_smpp::Address {
                ton: 1,
                npi: 1,
                addr: b"8613800000002",
            },
            esm_class: 0x40,
            data_coding: 8,
            short_message: short,
            ..Default::default()
        }),
    }
    .to_vec()
    .unwrap()
}

/// `text` in UCS-2 cut at `cuts` (odd octets: no part decodes to the text alone), each
/// part behind an 8-bit-reference UDH, written as one binary PDU file per part.
fn write_parts(
    dir: &std::path::Path,
    name: &str,
    text: &str,
    cuts: &[usize],
    r: u8,
) -> Vec<String> {
    let octets: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(octets.len());
    let total = bounds.len() - 1;
    (0..total)
        .map(|i| {
            let mut short = vec![0x05, 0x00, 0x03, r, total as u8, i as u8 + 1];
            short.extend_from_slice(&octets[bounds[i]..bounds[i + 1]]);
            let path = dir.join(format!("{name}-{}.pdu", i + 1));
            std::fs::write(&path, part_pdu(&short, i as u32 + 1)).unwrap();
            path.to_string_lossy().into_owned()
        })
        .collect()
}

#[test]
fn parts_of_a_concatenated_sms_in_separate_files_are_decided_whole() {
    // The attacker's split: a script cut across three parts (mid-character), given to
    // `check` as separate files, out of order and mixed with an ordinary two-part message.
    let dir = common::scratch("check-parts");
    let scam = write_parts(
        &dir,
        "scam",
        "您涉嫌洗钱，请立即将资金转入安全账户配合调查，不要告诉任何人",
        &[17, 41],
        9,
    );
    let ordinary = write_parts(&dir, "ok", "您的快递已到，请凭取件码取件，谢谢", &[15], 10);
    // Alone, the second and third parts pass: the join is what catches them.
    for part in &scam[1..] {
        let alone = run(&["check", "--rules", "rules", part], None);
        assert_eq!(verdict(&lines(&alone)[0]), "pass", "a later part alone");
    }
    let files = [&scam[2], &ordinary[1], &scam[0], &ordinary[0], &scam[1]];
    let mut args = vec!["check", "--rules", "rules"];
    args.extend(files.iter().map(|s| s.as_str()));
    let out = run(&args, None);
    let got = lines(&out);
    assert_eq!(got.len(), 5, "one line per file");
    for i in [0, 2, 4] {
        assert_eq!(verdict(&got[i]), "block", "scam part: {}", got[i]);
        assert!(
            got[i]["evidence"].to_string().contains("安全账户"),
            "{}",
            got[i]
        );
    }
    for i in [1, 3] {
        assert_eq!(verdict(&got[i]), "pass", "ordinary part: {}", got[i]);
    }
}

#[test]
fn sms_over_ip_parts_in_separate_files_are_decided_whole() {
    // The same split over SIP: two MESSAGEs each carrying one 3GPP part, cut inside 全.
    let dir = common::scratch("check-sip-parts");
    let scam: Vec<u8> = "请将资金转入安全账户"
        .encode_utf16()
        .flat_map(u16::to_be_bytes)
        .collect();
    let (a, b) = scam.split_at(15);
    let files: Vec<String> = [(a, 1), (b, 2)]
        .iter()
        .map(|&(octets, seq)| {
            let path = dir.join(format!("part-{seq}.sip"));
            let msg = common::message(
                "+8613800000001",
                "+8613800000002",
                5062,
                "application/vnd.3gpp.sms",
                "",
                &common::rp_submit_part(octets, 21, 2, seq),
                &format!("check-part-{seq}"),
            );
            std::fs::write(&path, msg).unwrap();
            path.to_string_lossy().into_owned()
        })
        .collect();
    for file in &files {
        let alone = run(&["check", "--rules", "rules", file], None);
        assert_eq!(verdict(&lines(&alone)[0]), "pass", "one part alone");
    }
    let out = run(&["check", "--rules", "rules", &files[1], &files[0]], None);
    let got = lines(&out);
    assert_eq!(got.len(), 2);
    for line in &got {
        assert_eq!(verdict(line), "block", "{line}");
    }
}
