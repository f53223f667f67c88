//! `Policy::evaluate` tests text groups through category masks; it must pick exactly the rule
//! the conditions as written pick (`Conditions::hold`, first firing rule by priority) on the
//! default pack, for texts made of the pack's own phrases and for every party/ingress variant.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use interdict_engine::policy::{Facts, Policy, Rule};
use interdict_engine::text::TextHits;
use interdict_engine::{load_pack, Channel, Ingress, PartyKind, Snapshot};
use proptest::prelude::*;

fn pack() -> Snapshot {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules");
    load_pack(&dir).unwrap_or_else(|e| panic!("{e}"))
}

/// The phrases of the default pack (first field of each non-comment line).
fn phrases() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/phrases");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let phrase = line.rsplit_once(' ').map_or(line, |(p, _)| p).trim();
            if !phrase.is_empty() {
                out.push(phrase.to_owned());
            }
        }
    }
    out.sort();
    out
}

fn naive<'p>(policy: &'p Policy, f: &Facts<'_>) -> Option<&'p Rule> {
    policy
        .rules()
        .iter()
        .filter(|r| !f.allowlisted || r.overrides_allowlist)
        .find(|r| r.when.hold(f))
}

fn facts<'a>(text: Option<&'a TextHits>, variant: u32) -> Facts<'a> {
    Facts {
        channel: if variant & 1 == 0 {
            Channel::Sms
        } else {
            Channel::Call
        },
        ingress: if variant & 2 == 0 {
            Ingress::Domestic
        } else {
            Ingress::International
        },
        caller_kind: if variant & 4 == 0 {
            PartyKind::E164
        } else {
            PartyKind::Unparseable
        },
        caller_domestic: variant & 8 != 0,
        caller_lists: u64::from(variant >> 4 & 0b11),
        callee_lists: u64::from(variant >> 6 & 0b11),
        contact_lists: u64::from(variant >> 8 & 0b11),
        lure_domain: variant & 1024 != 0,
        text,
        behaviour: (variant >> 11 & 0b111) as u8,
        links: (variant >> 15 & 0b11) as u8,
        unofficial_contact: variant >> 17 & 1 == 1,
        allowlisted: variant & 16384 != 0,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn mask_evaluation_picks_the_rule_the_conditions_pick(
        picks in proptest::collection::vec(any::<proptest::sample::Index>(), 0..5),
        variant in 0u32..262_144,
    ) {
        thread_local! {
            static PACK: (Snapshot, Vec<String>) = (pack(), phrases());
        }
        PACK.with(|(snap, phrases)| {
            let text: String = picks.iter().map(|i| i.get(phrases).as_str()).collect::<Vec<_>>().join("，");
            let mut hits = TextHits::new();
            snap.matcher().scan(&text, &mut hits).unwrap();
            for t in [Some(&hits), None] {
                let f = facts(t, variant);
                let fast = snap.policy().evaluate(&f).map(|r| r.id.clone());
                let slow = naive(snap.policy(), &f).map(|r| r.id.clone());
                prop_assert_eq!(fast, slow, "text {:?}", text);
            }
            Ok(())
        })?;
    }
}

#[test]
fn phrases_of_the_pack_fire_text_rules() {
    // Guards the test above against a pack whose phrases fire nothing (it would then only
    // compare "no rule" with "no rule").
    let snap = pack();
    let phrases = phrases();
    assert!(phrases.len() > 50, "{} phrases", phrases.len());
    let mut hits = TextHits::new();
    let mut fired = 0;
    for p in &phrases {
        snap.matcher().scan(p, &mut hits).unwrap();
        let f = facts(Some(&hits), 0);
        if snap.policy().evaluate(&f).is_some() {
            fired += 1;
        }
        assert_eq!(
            snap.policy().evaluate(&f).map(|r| r.id.clone()),
            naive(snap.policy(), &f).map(|r| r.id.clone()),
            "{p}"
        );
    }
    assert!(fired > 10, "only {fired} phrases fire a rule alone");
}
