//! Normalises every SIP/tel URI found in the RFC 4475 torture messages of the shared corpus:
//! nothing panics, the three E.164 numbers in them are read, and every other URI (names,
//! escaped names, IPv6 hosts without a user) is a typed error, never a guessed number.

use std::path::Path;

use interdict_engine::number::{normalise, NumberConfig, NumberKind};

const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/corpus/sip/rfc4475"
);

/// URI-looking tokens (`sip:`, `sips:`, `tel:` in any case) up to a delimiter.
fn uris(text: &str) -> Vec<&str> {
    let lower = text.to_ascii_lowercase();
    let mut out = Vec::new();
    for scheme in ["sip:", "sips:", "tel:"] {
        let mut from = 0;
        while let Some(pos) = lower.get(from..).and_then(|l| l.find(scheme)) {
            let start = from + pos;
            let rest = &text[start..];
            let end = rest
                .find(|c: char| c.is_whitespace() || matches!(c, '>' | ',' | '"'))
                .unwrap_or(rest.len());
            out.push(&rest[..end]);
            from = start + scheme.len();
        }
    }
    out
}

#[test]
fn rfc4475_uris_never_panic_and_numbers_are_read() {
    let dir = Path::new(CORPUS);
    if !dir.exists() {
        println!("skipping: corpus not found at {CORPUS}");
        return;
    }
    let cfg = NumberConfig::default();
    let mut numbers = Vec::new();
    let mut errors = 0usize;
    let mut files = 0usize;
    for sub in ["valid", "invalid"] {
        for entry in std::fs::read_dir(dir.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            files += 1;
            for uri in uris(&text) {
                match normalise(uri, &cfg) {
                    Ok(n) => {
                        assert_eq!(n.kind(), NumberKind::E164, "{uri} in {path:?}");
                        numbers.push(n.as_str().to_owned());
                    }
                    Err(e) => {
                        errors += 1;
                        assert!(!e.to_string().is_empty());
                    }
                }
            }
        }
    }
    numbers.sort();
    numbers.dedup();
    println!("{files} files: numbers {numbers:?}, {errors} URIs rejected");
    assert!(files >= 50, "expected the 50 RFC 4475 files, found {files}");
    assert_eq!(
        numbers,
        ["+13035551111", "+16505552222", "+19725552222"],
        "the only telephone numbers in RFC 4475"
    );
    assert!(
        errors > 100,
        "names and host-only URIs are errors ({errors})"
    );
}
