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
