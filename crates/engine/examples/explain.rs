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
    let snap = match load_pack(Path::new(&dir)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let engine = Engine::new(snap.clone());
    let mut hits = interdict_engine::text::TextHits::new();
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
        // Every category's score, what the rules compare (guards included).
        let mut scores = Vec::new();
        if snap.matcher().scan(&line, &mut hits).is_ok() {
            for &(c, score) in hits.scores() {
                if let Some(cat) = snap.categories().get(usize::from(c.0)) {
                    scores.push(format!("{}={score}", cat.id));
                }
            }
        }
        println!(
            "{} {:?} [{}] {{{}}} {}",
            d.verdict,
            d.rule,
            why.join(" "),
            scores.join(" "),
            line.chars().take(60).collect::<String>()
        );
    }
}
