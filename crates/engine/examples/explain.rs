//! Decides each line of standard input as an SMS from an ordinary synthetic number and prints
//! the verdict, the rule and the evidence: a pack author's tool.
//!
//! `cargo run --release -p interdict-engine --example explain -- [rules-dir] < texts.txt`

use std::io::BufRead;
use std::path::Path;

use interdict_engine::{load_pack, Engine, Event, Evidence};

fn main() {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../../rules").to_owned());
    let engine = match load_pack(Path::new(&dir)) {
        Ok(s) => Engine::new(s),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    for (i, line) in std::io::stdin()
        .lock()
        .lines()
        .map_while(Result::ok)
        .enumerate()
    {
        let caller = format!("1390{:07}", i);
        let d = engine.decide(&Event::sms(&caller, "13800000001", &line, i as u64));
        let mut why = Vec::new();
        for e in &d.evidence {
            match e {
                Evidence::Phrase {
                    category, phrase, ..
                } => why.push(format!("{category}:{phrase}")),
                Evidence::Pattern {
                    category, pattern, ..
                } => why.push(format!("{category}:/{pattern}/")),
                Evidence::Contact { value, matched, .. } => {
                    why.push(format!("link {value} {matched}"))
                }
                other => why.push(format!("{other:?}")),
            }
        }
        println!(
            "{} {:?} [{}] {}",
            d.verdict,
            d.rule,
            why.join(" "),
            line.chars().take(60).collect::<String>()
        );
    }
}
