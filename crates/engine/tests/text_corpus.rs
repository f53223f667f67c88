//! The text module over the labelled Chinese SMS corpus (read in place, never copied): every message
//! normalises, scans and yields contacts without panicking; evidence offsets land on the original
//! text; normalisation is idempotent; links in the messages are found as URL contacts.
//!
//! Skips with a message when `../shared/corpus/text` is absent.

// Test helpers outside #[test] functions may fail loudly.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use interdict_engine::text::{
    extract_contacts, CategoryId, ContactKind, Contacts, NormalisedText, Normaliser, PatternDef,
    PhraseDef, TextHits, TextMatcher,
};

fn corpus_dir() -> PathBuf {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus/text"
    ))
    .to_path_buf()
}

/// (label, text) rows of every corpus file, or None when the corpus is absent.
fn rows() -> Option<Vec<(String, String)>> {
    let dir = corpus_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("SKIP: corpus not found at {}", dir.display());
        return None;
    };
    let mut rows = Vec::new();
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "tsv"))
        .collect();
    files.sort();
    for file in files {
        let content = std::fs::read_to_string(&file).unwrap();
        for line in content.lines().skip(1) {
            if let Some((label, text)) = line.split_once('\t') {
                rows.push((label.to_owned(), text.to_owned()));
            }
        }
    }
    Some(rows)
}

fn lookalikes() -> Vec<(&'static str, &'static str)> {
    vec![
        ("徽信", "微信"),
        ("薇信", "微信"),
        ("V信", "微信"),
        ("VX", "微信"),
    ]
}

/// A small matcher written for this test (not from the corpus).
fn matcher() -> TextMatcher {
    let phrases = [
        "安全账户",
        "刷单",
        "垫付",
        "佣金",
        "贷款",
        "信用卡",
        "客服",
        "退款",
        "领导",
    ]
    .iter()
    .enumerate()
    .map(|(i, t)| PhraseDef {
        category: CategoryId((i % 3) as u16),
        text: (*t).to_owned(),
        weight: 1,
    })
    .collect();
    let patterns = vec![
        PatternDef {
            id: "digits".into(),
            category: CategoryId(0),
            regex: r"\d{6,}".into(),
            weight: 1,
        },
        PatternDef {
            id: "transfer".into(),
            category: CategoryId(1),
            regex: "(转账|汇款).{0,10}(账户|卡)".into(),
            weight: 2,
        },
    ];
    TextMatcher::compile(phrases, patterns, &lookalikes()).unwrap()
}

#[test]
fn corpus_scans_with_evidence_inside_the_original() {
    let Some(rows) = rows() else { return };
    assert!(
        rows.len() > 1000,
        "corpus unexpectedly small: {}",
        rows.len()
    );
    let m = matcher();
    let mut hits = TextHits::new();
    let mut contacts = Contacts::new();
    let mut total_hits = 0usize;
    for (label, text) in &rows {
        m.scan(text, &mut hits).unwrap();
        for h in hits.hits() {
            assert!(
                h.start < h.end && h.end <= text.len(),
                "{label}: {h:?} in {text}"
            );
            let found = m.found(text, h);
            assert!(!found.is_empty(), "{label}: empty evidence {h:?} in {text}");
            total_hits += 1;
        }
        extract_contacts(hits.normalised(), text, &mut contacts);
        for c in contacts.iter() {
            assert!(
                text.get(c.start..c.end).is_some(),
                "{label}: {c:?} in {text}"
            );
            assert!(!c.value.is_empty());
        }
    }
    assert!(
        total_hits > 0,
        "the test phrases should occur somewhere in the corpus"
    );
}

#[test]
fn normalisation_is_idempotent_on_the_corpus() {
    let Some(rows) = rows() else { return };
    let n = Normaliser::with_lookalikes(&lookalikes()).unwrap();
    let mut once = NormalisedText::new();
    let mut twice = NormalisedText::new();
    for (_, text) in &rows {
        n.normalise_into(text, &mut once);
        n.normalise_into(once.as_str(), &mut twice);
        assert_eq!(once.as_str(), twice.as_str(), "not idempotent on {text}");
    }
}

#[test]
fn links_in_the_corpus_are_url_contacts() {
    let Some(rows) = rows() else { return };
    let m = matcher();
    let mut hits = TextHits::new();
    let mut contacts = Contacts::new();
    let mut with_link = 0usize;
    for (label, text) in &rows {
        let lower = text.to_ascii_lowercase();
        // A link with a scheme and an unmasked host.
        let Some(at) = lower.find("https://").or_else(|| lower.find("http://")) else {
            continue;
        };
        let host_start = lower[at..].find("//").map_or(at, |p| at + p + 2);
        if !lower[host_start..].starts_with(|c: char| c.is_ascii_alphanumeric()) {
            continue;
        }
        with_link += 1;
        m.scan(text, &mut hits).unwrap();
        extract_contacts(hits.normalised(), text, &mut contacts);
        let url = contacts
            .iter()
            .find(|c| c.kind == ContactKind::Url && c.start == at);
        assert!(url.is_some(), "{label}: link at {at} not found in {text}");
        assert!(url.and_then(|u| u.host).is_some_and(|h| !h.is_empty()));
    }
    assert!(
        with_link > 10,
        "expected links in the corpus, found {with_link}"
    );
}
