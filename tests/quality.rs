//! Quality of the default rule pack on the labelled Chinese SMS corpus (evaluation only: the
//! corpus's texts are never copied into the pack).
//!
//! Reads `../shared/corpus/text/*.tsv` in place (`label<TAB>text`), decides every row as an SMS
//! from an ordinary synthetic number, and reports per label how many were blocked, warned and
//! passed. Asserts the bar: legitimate messages (`normal`, `ham`) blocked < 0.5 %, and most of
//! the fraud scripts caught (block or warn). The spam80w `spam` rows are advertising, not fraud:
//! reported, not asserted.
//!
//! `INTERDICT_QUALITY_SHOW=N` prints up to N misclassified rows per label (for pack authors).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::Path;

use interdict_engine::{load_pack, Engine, Event, Verdict};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus/text");
const RULES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/rules");

/// Legitimate messages blocked: at most this fraction.
const MAX_LEGIT_BLOCKED: f64 = 0.005;
/// Fraud scripts caught (block or warn): at least this fraction per fraud label.
const MIN_FRAUD_RECALL_PER_LABEL: f64 = 0.50;
/// Fraud scripts caught over all fraud labels.
const MIN_FRAUD_RECALL: f64 = 0.75;

#[derive(Default, Debug)]
struct Count {
    total: usize,
    block: usize,
    warn: usize,
}

impl Count {
    fn caught(&self) -> f64 {
        (self.block + self.warn) as f64 / self.total.max(1) as f64
    }
    fn blocked(&self) -> f64 {
        self.block as f64 / self.total.max(1) as f64
    }
    fn warned(&self) -> f64 {
        self.warn as f64 / self.total.max(1) as f64
    }
}

fn is_legit(label: &str) -> bool {
    label == "normal" || label == "ham"
}

fn is_fraud(label: &str) -> bool {
    label.starts_with("fraud")
}

#[test]
fn default_pack_quality_on_labelled_corpus() {
    let dir = Path::new(CORPUS);
    if !dir.is_dir() {
        println!(
            "SKIPPED: corpus not found at {CORPUS} (quality figures need ../shared/corpus/text)"
        );
        return;
    }
    let engine = Engine::new(load_pack(Path::new(RULES)).unwrap_or_else(|e| panic!("{e}")));
    let show: usize = std::env::var("INTERDICT_QUALITY_SHOW")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut counts: BTreeMap<String, Count> = BTreeMap::new();
    let mut shown: BTreeMap<String, usize> = BTreeMap::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "tsv"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .tsv files in {CORPUS}");
    let mut sent = 0u64;
    for file in &files {
        let content = std::fs::read_to_string(file).unwrap();
        // The real fake-base-station SMS (fbs_*.tsv) are the held-out set of the detection
        // issue: reported under their own labels (`fbs:fraud`, `fbs:legit`), not gated here,
        // until that issue raises the pack's recall on them (about 8 % caught today).
        let held_out = file
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("fbs_"));
        for (i, line) in content.lines().enumerate().skip(1) {
            let Some((label, text)) = line.split_once('\t') else {
                continue;
            };
            // Synthetic senders (one per message, so the burst detector stays out of the way)
            // and recipient: the text alone decides.
            sent += 1;
            let caller = format!("1390{:07}", sent % 10_000_000);
            let d = engine.decide(&Event::sms(&caller, "13800000001", text, i as u64));
            let label = if held_out {
                format!("fbs:{label}")
            } else {
                label.to_owned()
            };
            let label = label.as_str();
            let c = counts.entry(label.to_owned()).or_default();
            c.total += 1;
            match d.verdict {
                Verdict::Block => c.block += 1,
                Verdict::Warn => c.warn += 1,
                Verdict::Pass => {}
            }
            let wrong = (is_legit(label) && d.verdict != Verdict::Pass)
                || (is_fraud(label) && d.verdict == Verdict::Pass);
            let n = shown.entry(label.to_owned()).or_default();
            if wrong && *n < show {
                *n += 1;
                let cats: Vec<&str> = d.categories.iter().map(|c| &**c).collect();
                println!("[{label}] {:?} {:?} {cats:?} {text}", d.verdict, d.rule);
            }
        }
    }

    println!("\n| label | messages | blocked | warned | caught (block+warn) |");
    println!("|---|---:|---:|---:|---:|");
    let mut fraud = Count::default();
    let mut legit = Count::default();
    for (label, c) in &counts {
        println!(
            "| {label} | {} | {:.2} % | {:.2} % | {:.2} % |",
            c.total,
            100.0 * c.blocked(),
            100.0 * c.warned(),
            100.0 * c.caught()
        );
        let agg = if is_fraud(label) {
            Some(&mut fraud)
        } else if is_legit(label) {
            Some(&mut legit)
        } else {
            None
        };
        if let Some(a) = agg {
            a.total += c.total;
            a.block += c.block;
            a.warn += c.warn;
        }
    }
    println!(
        "| **all fraud** | {} | {:.2} % | {:.2} % | {:.2} % |",
        fraud.total,
        100.0 * fraud.blocked(),
        100.0 * fraud.warned(),
        100.0 * fraud.caught()
    );
    println!(
        "| **all legitimate** | {} | {:.2} % | {:.2} % | {:.2} % |",
        legit.total,
        100.0 * legit.blocked(),
        100.0 * legit.warned(),
        100.0 * legit.caught()
    );

    assert!(
        legit.total > 0 && fraud.total > 0,
        "corpus has no legitimate or no fraud rows"
    );
    assert!(
        legit.blocked() < MAX_LEGIT_BLOCKED,
        "legitimate messages blocked: {:.3} % (bar < {:.1} %)",
        100.0 * legit.blocked(),
        100.0 * MAX_LEGIT_BLOCKED
    );
    for (label, c) in counts.iter().filter(|(l, _)| is_legit(l)) {
        assert!(
            c.blocked() < MAX_LEGIT_BLOCKED,
            "{label}: {:.3} % blocked",
            100.0 * c.blocked()
        );
    }
    for (label, c) in counts.iter().filter(|(l, _)| is_fraud(l)) {
        assert!(
            c.caught() >= MIN_FRAUD_RECALL_PER_LABEL,
            "{label}: only {:.1} % caught (bar {:.0} %)",
            100.0 * c.caught(),
            100.0 * MIN_FRAUD_RECALL_PER_LABEL
        );
    }
    assert!(
        fraud.caught() >= MIN_FRAUD_RECALL,
        "fraud caught {:.1} % (bar {:.0} %)",
        100.0 * fraud.caught(),
        100.0 * MIN_FRAUD_RECALL
    );
}
