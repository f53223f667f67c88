//! Quality of the default rule pack on the labelled Chinese SMS corpus (evaluation only: the
//! corpus's texts are never copied into the pack).
//!
//! Reads `../shared/corpus/text/*.tsv` in place, decides every row as an SMS from an ordinary
//! synthetic number, and reports per file and per label (per family for the fake-base-station
//! file) how many were blocked, warned and passed.
//!
//! - `telecom_fraud_texts_5.tsv` and `spam80w_sample3.tsv` (`label<TAB>text`): the bar is "no
//!   worse than when the detection issue was resolved": fraud caught (block or warn) ≥ 80 %
//!   overall (76.6 % before it) and
//!   ≥ 50 % per fraud label, legitimate (`normal`, `ham`) blocked ≤ 0.13 % overall and < 0.5 %
//!   per label. The spam80w `spam` rows are advertising, not fraud: reported, not asserted.
//! - `fbs_sms_dev.tsv` (`label<TAB>family<TAB>text`, real fake-base-station SMS with their links,
//!   numbers and names replaced by placeholder words): decided twice, as released (`fbs-raw:`) and
//!   with each placeholder replaced by a realistic made-up value (`fbs:`; a link to a made-up
//!   host that is neither an IP address, a shortener nor a look-alike of any institution, a
//!   synthetic number, a common name). The bar, on the substituted texts: ≥ 90 % of the fraud rows
//!   with ten or more Chinese characters caught, ≤ 1 % of the legitimate rows blocked. The
//!   as-released figures are reported only (no rule may match the placeholder words).
//!
//! `INTERDICT_QUALITY_RULES=dir` measures the pack in `dir` instead of `rules/`.
//! `INTERDICT_QUALITY_SHOW=N` prints up to N misclassified rows per label (for pack authors).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::Path;

use interdict_engine::{load_pack, Engine, Event, Verdict};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus/text");
const RULES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/rules");

/// Legitimate messages of the two older files blocked, per label: below this fraction.
const MAX_LEGIT_BLOCKED_PER_LABEL: f64 = 0.005;
/// Legitimate messages of the two older files blocked overall: at most this (the figure
/// before the detection issue, 34 of 25,811: 0.13 %).
const MAX_LEGIT_BLOCKED: f64 = 0.001_32;
/// Fraud scripts caught (block or warn): at least this fraction per fraud label.
const MIN_FRAUD_RECALL_PER_LABEL: f64 = 0.50;
/// Fraud scripts caught over all fraud labels of the older file: 76.6 % before the detection
/// issue (its bar), 80.3 % when it was resolved; the bar is held just under that.
const MIN_FRAUD_RECALL: f64 = 0.80;
/// Fake-base-station fraud SMS with ten or more Chinese characters caught: at least this.
const MIN_FBS_RECALL: f64 = 0.90;
/// Fake-base-station legitimate SMS blocked: at most this.
const MAX_FBS_LEGIT_BLOCKED: f64 = 0.01;

#[derive(Default, Debug, Clone, Copy)]
struct Count {
    total: usize,
    block: usize,
    warn: usize,
}

impl Count {
    fn add(&mut self, v: Verdict) {
        self.total += 1;
        match v {
            Verdict::Block => self.block += 1,
            Verdict::Warn => self.warn += 1,
            Verdict::Pass => {}
        }
    }
    fn merge(&mut self, o: &Count) {
        self.total += o.total;
        self.block += o.block;
        self.warn += o.warn;
    }
    fn caught(&self) -> f64 {
        (self.block + self.warn) as f64 / self.total.max(1) as f64
    }
    fn blocked(&self) -> f64 {
        self.block as f64 / self.total.max(1) as f64
    }
    fn warned(&self) -> f64 {
        self.warn as f64 / self.total.max(1) as f64
    }
    fn row(&self, label: &str) {
        println!(
            "| {label} | {} | {:.2} % | {:.2} % | {:.2} % |",
            self.total,
            100.0 * self.blocked(),
            100.0 * self.warned(),
            100.0 * self.caught()
        );
    }
}

fn is_legit(label: &str) -> bool {
    label == "normal" || label == "ham" || label == "legit"
}

fn is_fraud(label: &str) -> bool {
    label.starts_with("fraud")
}

/// Chinese characters in `text`.
fn cjk_chars(text: &str) -> usize {
    text.chars()
        .filter(|c| ('\u{4e00}'..='\u{9fff}').contains(c))
        .count()
}

/// The fake-base-station text with each anonymisation placeholder replaced by a realistic
/// made-up value (synthetic numbers, a made-up host that is no institution's look-alike).
fn substitute(text: &str, row: usize) -> String {
    const SUBS: [(&str, &str); 9] = [
        ("CELLPHONE", "17100002468"),
        ("HOTLINE", "17100001357"),
        ("PHONE", "17100009753"),
        ("WECHAT", "kf2468z"),
        ("DIGIT", "26"),
        ("BANK", "6222000011112222333"),
        ("NAME", "王伟"),
        ("PLACE", "南山"),
        ("URL", "http://m.kq83.com/"),
    ];
    let mut out = text.to_owned();
    for (from, to) in SUBS {
        out = out.replace(from, to);
    }
    // A different path per row, as real links have.
    out.replace("kq83.com/", &format!("kq83.com/{:x}", row * 7919 % 65_521))
}

/// Counts per label of one file (or one reading of it).
type Table = BTreeMap<String, Count>;

fn print_table(title: &str, t: &Table) -> (Count, Count) {
    println!("\n### {title}\n");
    println!("| label | messages | blocked | warned | caught (block+warn) |");
    println!("|---|---:|---:|---:|---:|");
    let mut fraud = Count::default();
    let mut legit = Count::default();
    for (label, c) in t {
        c.row(label);
        let head = label.split('/').next().unwrap_or(label);
        if is_fraud(head) && !label.contains("≥10") {
            fraud.merge(c);
        } else if is_legit(head) {
            legit.merge(c);
        }
    }
    fraud.row("**all fraud**");
    legit.row("**all legitimate**");
    (fraud, legit)
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
    // `INTERDICT_QUALITY_RULES=dir` measures another pack (e.g. an older one, for a before/after).
    let rules = std::env::var("INTERDICT_QUALITY_RULES").unwrap_or_else(|_| RULES.to_owned());
    let engine = Engine::new(load_pack(Path::new(&rules)).unwrap_or_else(|e| panic!("{e}")));
    let show: usize = std::env::var("INTERDICT_QUALITY_SHOW")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut shown: BTreeMap<String, usize> = BTreeMap::new();
    let mut sent = 0u64;
    let mut decide = |label: &str, text: &str, table: &mut Table| {
        // Synthetic senders (one per message, so the burst detector stays out of the way)
        // and recipient: the text alone decides.
        sent += 1;
        let caller = format!("1390{:07}", sent % 10_000_000);
        let d = engine.decide(&Event::sms(&caller, "13800000001", text, sent));
        table.entry(label.to_owned()).or_default().add(d.verdict);
        let head = label.split('/').next().unwrap_or(label);
        let wrong = (is_legit(head) && d.verdict != Verdict::Pass)
            || (is_fraud(head) && d.verdict == Verdict::Pass);
        let n = shown.entry(label.to_owned()).or_default();
        if wrong && *n < show {
            *n += 1;
            let cats: Vec<&str> = d.categories.iter().map(|c| &**c).collect();
            println!("[{label}] {:?} {:?} {cats:?} {text}", d.verdict, d.rule);
        }
        d.verdict
    };

    let mut older = Table::new();
    for name in ["telecom_fraud_texts_5.tsv", "spam80w_sample3.tsv"] {
        let Ok(content) = std::fs::read_to_string(dir.join(name)) else {
            println!("SKIPPED: {name} not found");
            continue;
        };
        let mut table = Table::new();
        for line in content.lines().skip(1) {
            let Some((label, text)) = line.split_once('\t') else {
                continue;
            };
            decide(label, text, &mut table);
        }
        print_table(name, &table);
        for (l, c) in &table {
            older.entry(l.clone()).or_default().merge(c);
        }
    }
    let (fraud, legit) = print_table("both older files", &older);

    let mut fbs = Table::new();
    let mut fbs_raw = Table::new();
    if let Ok(content) = std::fs::read_to_string(dir.join("fbs_sms_dev.tsv")) {
        for (row, line) in content.lines().enumerate().skip(1) {
            let mut cols = line.splitn(3, '\t');
            let (Some(label), Some(family), Some(text)) = (cols.next(), cols.next(), cols.next())
            else {
                continue;
            };
            let label = if label == "fraud" {
                format!("fraud/{family}")
            } else {
                label.to_owned()
            };
            let real = substitute(text, row);
            let v = decide(&label, &real, &mut fbs);
            if label.starts_with("fraud") && cjk_chars(text) >= 10 {
                fbs.entry("fraud ≥10 CJK".into()).or_default().add(v);
            }
            let v = decide(&label, text, &mut fbs_raw);
            if label.starts_with("fraud") && cjk_chars(text) >= 10 {
                fbs_raw.entry("fraud ≥10 CJK".into()).or_default().add(v);
            }
        }
    } else {
        println!("SKIPPED: fbs_sms_dev.tsv not found");
    }
    let (_, fbs_legit) = print_table("fbs_sms_dev.tsv, placeholders substituted", &fbs);
    print_table("fbs_sms_dev.tsv, as released (placeholders)", &fbs_raw);

    assert!(
        legit.total > 0 && fraud.total > 0,
        "corpus has no legitimate or no fraud rows"
    );
    assert!(
        legit.blocked() <= MAX_LEGIT_BLOCKED,
        "legitimate messages blocked: {:.3} % (bar ≤ {:.2} %)",
        100.0 * legit.blocked(),
        100.0 * MAX_LEGIT_BLOCKED
    );
    for (label, c) in older.iter().filter(|(l, _)| is_legit(l)) {
        assert!(
            c.blocked() < MAX_LEGIT_BLOCKED_PER_LABEL,
            "{label}: {:.3} % blocked",
            100.0 * c.blocked()
        );
    }
    for (label, c) in older.iter().filter(|(l, _)| is_fraud(l)) {
        assert!(
            c.caught() >= MIN_FRAUD_RECALL_PER_LABEL,
            "{label}: only {:.1} % caught (bar {:.0} %)",
            100.0 * c.caught(),
            100.0 * MIN_FRAUD_RECALL_PER_LABEL
        );
    }
    assert!(
        fraud.caught() >= MIN_FRAUD_RECALL,
        "fraud caught {:.1} % (bar {:.1} %)",
        100.0 * fraud.caught(),
        100.0 * MIN_FRAUD_RECALL
    );
    if let Some(c) = fbs.get("fraud ≥10 CJK") {
        assert!(
            c.caught() >= MIN_FBS_RECALL,
            "fbs fraud (≥10 CJK) caught {:.1} % (bar {:.0} %)",
            100.0 * c.caught(),
            100.0 * MIN_FBS_RECALL
        );
        assert!(
            fbs_legit.blocked() <= MAX_FBS_LEGIT_BLOCKED,
            "fbs legitimate blocked {:.1} % (bar ≤ {:.0} %)",
            100.0 * fbs_legit.blocked(),
            100.0 * MAX_FBS_LEGIT_BLOCKED
        );
    }
}
