//! A number on a block list is caught however it is written, as long as a core behind the
//! gateway may route it to that number: under a foreign or area `phone-context` (URI, SIP user
//! part, bare user part), with a trunk 0 kept after the country code, with the international
//! prefix after the `+`, behind an IP-call prefix. Allowlist trust is granted by a party's
//! primary reading only, and not when another reading of it is listed. Every number is
//! synthetic (170/171 virtual-operator ranges, 138 0000 00xx) or a public service number.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use interdict_engine::lists::parse_prefix;
use interdict_engine::number::DEFAULT_IP_CALL_PREFIXES;
use interdict_engine::{
    load_pack, normalise, Decision, Engine, Event, Evidence, Ingress, NumberChange, NumberConfig,
    Role, Source, Verdict,
};

/// Pushed onto `fraud_numbers` below (the file has 17000000001 already).
const PUSHED: &str = "17000000077";
/// On the pack's `fraud_numbers` file.
const FILED: &str = "17000000001";
/// A harmless other party.
const OTHER: &str = "13800000001";
const SCRIPT: &str = "您的身份证涉嫌洗钱，请立即将资金转入安全账户配合调查";

fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules")
}

fn key(raw: &str) -> interdict_engine::number::NumberKey {
    normalise(raw, &NumberConfig::default()).unwrap().key()
}

/// The default pack with the pushed numbers of this test.
fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| {
        let engine = Engine::new(load_pack(&rules_dir()).unwrap());
        let snap = engine.snapshot();
        let fraud = snap.lists().list_id("fraud_numbers").unwrap();
        let allow = snap.lists().list_id("allow_official").unwrap();
        let case = || Source::pushed("case-bypass", None);
        engine
            .apply_number_changes(&[
                NumberChange::add(fraud, key(PUSHED), case()),
                NumberChange::add(fraud, key("+861088880077"), case()),
                // The foreign reading of 95588 under +44 is reported.
                NumberChange::add(fraud, key("+4495588"), case()),
                // Allowlisted foreign numbers whose national reading is (or is not) reported.
                NumberChange::add(allow, key("+4417000000077"), case()),
                NumberChange::add(allow, key("+4417100000088"), case()),
                // Every 10193… service port trusted (so the IP-call reading is what matters).
                NumberChange::AddPrefix {
                    list: allow,
                    prefix: parse_prefix("10193*").unwrap(),
                    source: case(),
                },
            ])
            .unwrap();
        engine
    })
}

/// Events an hour apart, so no behaviour window links them.
fn at() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed) * 3_600_000
}

fn decide(ev: Event<'_>) -> Decision {
    engine().decide(&ev)
}

fn json(d: &Decision) -> String {
    serde_json::to_string(d).unwrap()
}

/// The list evidence of `role`, as `(number looked up, entry)`.
fn list_hits(d: &Decision, role: Role) -> Vec<(String, String)> {
    d.evidence
        .iter()
        .filter_map(|e| match e {
            Evidence::ListHit {
                party,
                number,
                entry,
                ..
            } if *party == role => Some((number.clone(), entry.clone())),
            _ => None,
        })
        .collect()
}

/// Every way of writing national number `n` that a core may route to `+86 n`.
fn bypass_forms(n: &str) -> Vec<String> {
    let mut forms = vec![
        format!("tel:{n};phone-context=+44"),
        format!("sip:{n};phone-context=+44@sbc.example.net;user=phone"),
        format!("<sip:{n};phone-context=+44@sbc.example.net;user=phone>"),
        format!("{n};phone-context=+44"),
        format!("tel:{n};phone-context=+8610"),
        format!("tel:{n};phone-context=+1"),
        format!("tel:{n};phone-context=%%"),
        format!("+86 0 {n}"),
        format!("+860{n}"),
        format!("0086 0 {n}"),
        format!("+0086 {n}"),
        format!("86 0 {n}"),
        format!("tel:+86-0-{n}"),
    ];
    for p in DEFAULT_IP_CALL_PREFIXES {
        forms.push(format!("{p} {n}"));
        forms.push(format!("{p}{n}"));
        forms.push(format!("{p} 0086 {n}"));
        forms.push(format!("{p} 0{n}"));
        forms.push(format!("+86 {p} {n}"));
    }
    forms
}

#[test]
fn a_listed_number_is_blocked_in_every_form_as_caller_and_callee() {
    for n in [PUSHED, FILED] {
        let e164 = format!("+86{n}");
        for form in bypass_forms(n) {
            let d = decide(Event::call(&form, OTHER, at()));
            assert_eq!(d.verdict, Verdict::Block, "caller {form:?}\n{}", json(&d));
            assert_eq!(d.rule.as_deref(), Some("caller-reported-fraud"), "{form:?}");
            assert!(
                list_hits(&d, Role::Caller)
                    .iter()
                    .any(|(number, entry)| *number == e164 && *entry == e164),
                "{form:?}: the evidence names the reading that hit\n{}",
                json(&d)
            );

            let d = decide(Event::call(OTHER, &form, at()));
            assert_eq!(d.verdict, Verdict::Block, "callee {form:?}\n{}", json(&d));
            assert_eq!(d.rule.as_deref(), Some("callee-reported-fraud"), "{form:?}");
            assert!(list_hits(&d, Role::Callee).iter().any(|(n, _)| *n == e164));

            let d = decide(Event::sms(
                &form,
                OTHER,
                "明天下午三点开会，收到请回复。",
                at(),
            ));
            assert_eq!(
                d.verdict,
                Verdict::Block,
                "sms sender {form:?}\n{}",
                json(&d)
            );
        }
    }
}

#[test]
fn a_fixed_line_behind_a_kept_trunk_zero_or_an_ip_prefix_is_blocked() {
    for form in [
        "+86 010 8888 0077",
        "0086 010 8888 0077",
        "17951 010 8888 0077",
        "tel:88880077;phone-context=+8610",
        "tel:01088880077;phone-context=+44",
    ] {
        let d = decide(Event::call(form, OTHER, at()));
        assert_eq!(d.verdict, Verdict::Block, "{form:?}\n{}", json(&d));
        let d = decide(Event::call(OTHER, form, at()));
        assert_eq!(d.verdict, Verdict::Block, "{form:?}\n{}", json(&d));
    }
}

#[test]
fn the_primary_reading_stays_the_display_form() {
    let d = decide(Event::call(
        &format!("tel:{PUSHED};phone-context=+44"),
        OTHER,
        at(),
    ));
    let shown = d.caller.normalised.map(|n| n.as_str().to_owned());
    assert_eq!(shown.as_deref(), Some("+4417000000077"));
    assert_eq!(
        list_hits(&d, Role::Caller),
        [("+8617000000077".to_owned(), "+8617000000077".to_owned())]
    );
    // Unambiguous forms are read as the number itself.
    let d = decide(Event::call(&format!("17951 {PUSHED}"), OTHER, at()));
    let shown = d.caller.normalised.map(|n| n.as_str().to_owned());
    assert_eq!(shown.as_deref(), Some("+8617000000077"));
}

#[test]
fn allowlist_trust_needs_the_primary_reading_and_no_listed_alternative() {
    // 95588 under +44: the primary reading +4495588 is reported; the allowlisted national
    // reading grants nothing.
    let d = decide(Event::call("tel:95588;phone-context=+44", OTHER, at()));
    assert_eq!(d.verdict, Verdict::Block, "{}", json(&d));
    assert_eq!(d.rule.as_deref(), Some("caller-reported-fraud"));
    let d = decide(Event::call("sip:95588;phone-context=+44@h", OTHER, at()));
    assert_eq!(d.verdict, Verdict::Block, "{}", json(&d));

    // The primary reading allowlisted, the other reading reported: no trust, blocked.
    let form = format!("tel:{PUSHED};phone-context=+44");
    let d = decide(Event::sms(&form, OTHER, SCRIPT, at()));
    assert_eq!(d.verdict, Verdict::Block, "{}", json(&d));
    assert_eq!(d.rule.as_deref(), Some("caller-reported-fraud"));
    let d = decide(Event::call(OTHER, &form, at()));
    assert_eq!(d.verdict, Verdict::Block, "{}", json(&d));
    // Same with an IP-call prefix that is also a trusted 10193… service port.
    let d = decide(Event::call(&format!("10193 {PUSHED}"), OTHER, at()));
    assert_eq!(d.verdict, Verdict::Block, "{}", json(&d));
    assert_eq!(d.rule.as_deref(), Some("caller-reported-fraud"));
    let d = decide(Event::call(OTHER, &format!("10193{PUSHED}"), at()));
    assert_eq!(d.verdict, Verdict::Block, "{}", json(&d));

    // The primary reading allowlisted and no other reading listed: trusted as before.
    let d = decide(Event::sms(
        "tel:17100000088;phone-context=+44",
        OTHER,
        SCRIPT,
        at(),
    ));
    assert_eq!(d.verdict, Verdict::Pass, "{}", json(&d));
    assert_eq!(d.rule.as_deref(), Some("allowlisted"), "{}", json(&d));
    // An allowlisted alternative reading grants nothing: the script is caught.
    let d = decide(Event::sms(
        "tel:96110;phone-context=+44",
        OTHER,
        SCRIPT,
        at(),
    ));
    assert_eq!(d.verdict, Verdict::Block, "{}", json(&d));
}

#[test]
fn official_numbers_still_pass() {
    for official in [
        "110",
        "96110",
        "95588",
        "+86 96110",
        "+86 0 110",
        "tel:110;phone-context=+86",
        "sip:96110@ims.example.net;user=phone",
        "96110;phone-context=+86",
    ] {
        let d = decide(Event::call(official, OTHER, at()));
        assert_eq!(
            d.verdict,
            Verdict::Pass,
            "caller {official:?}\n{}",
            json(&d)
        );
        let d = decide(Event::call(OTHER, official, at()));
        assert_eq!(
            d.verdict,
            Verdict::Pass,
            "callee {official:?}\n{}",
            json(&d)
        );
    }
    // The anti-fraud line's own warning naming the scams passes as an allowlisted sender.
    let d = decide(Event::sms("96110", OTHER, SCRIPT, at()));
    assert_eq!(d.verdict, Verdict::Pass, "{}", json(&d));
    // Ordinary numbers are unaffected.
    let d = decide(Event::call("13800000002", "+8613800000003", at()));
    assert_eq!(d.verdict, Verdict::Pass, "{}", json(&d));
}

#[test]
fn a_domestic_reading_from_abroad_is_spoofing() {
    let d = decide(
        Event::call("tel:95566;phone-context=+44", OTHER, at())
            .with_ingress(Ingress::International),
    );
    assert_eq!(d.verdict, Verdict::Block, "{}", json(&d));
    assert_eq!(d.rule.as_deref(), Some("spoofed-domestic-caller"));
    assert!(
        d.evidence
            .iter()
            .any(|e| matches!(e, Evidence::Spoofing { caller, .. } if caller == "95566")),
        "{}",
        json(&d)
    );
    // A foreign number in local form stays foreign.
    let d = decide(
        Event::call("tel:2079460000;phone-context=+44", OTHER, at())
            .with_ingress(Ingress::International),
    );
    assert_eq!(d.verdict, Verdict::Pass, "{}", json(&d));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The default pack with `line` added after its `country_code`.
fn pack_with(name: &str, line: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "interdict-number-bypass-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(&rules_dir(), &dir);
    let manifest = dir.join("pack.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    assert!(text.contains("\ncountry_code = 86\n"));
    let text = text.replace(
        "\ncountry_code = 86\n",
        &format!("\ncountry_code = 86\n{line}\n"),
    );
    std::fs::write(&manifest, text).unwrap();
    dir
}

#[test]
fn the_pack_may_name_its_ip_call_prefixes() {
    let dir = pack_with("own", r#"ip_call_prefixes = ["12345"]"#);
    let snap = load_pack(&dir).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(snap.number_config().ip_call_prefixes, ["12345"]);
    let engine = Engine::new(snap);
    let d = engine.decide(&Event::call(OTHER, &format!("12345 {FILED}"), 1));
    assert_eq!(d.verdict, Verdict::Block, "{}", json(&d));
    // 17951 is no longer one: the number is unreadable, not the listed one.
    let d = engine.decide(&Event::call(OTHER, &format!("17951 {FILED}"), 2));
    assert_eq!(d.verdict, Verdict::Pass, "{}", json(&d));

    let dir = pack_with("bad", r#"ip_call_prefixes = ["17951", "12"]"#);
    let err = load_pack(&dir).expect_err("a 2-digit prefix is refused");
    let _ = std::fs::remove_dir_all(&dir);
    let text = err.to_string();
    assert!(text.contains("pack.toml:"), "{text}");
    assert!(text.contains("\"12\""), "{text}");
}
