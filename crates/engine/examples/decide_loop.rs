//! Decides the SMS texts of `benches/engine.rs` N times against the default pack, to count
//! instructions per decision with callgrind (stable on a shared machine, where wall-clock
//! timings are not) or to profile with `perf`:
//!
//! ```text
//! cargo build --release -p interdict-engine --example decide_loop
//! valgrind --tool=callgrind target/release/examples/decide_loop 1200
//! valgrind --tool=callgrind target/release/examples/decide_loop 13200
//! # instructions per decision = (second total - first total) / 12000
//! ```
//!
//! With `ordinary` as second argument it decides ordinary traffic instead (the texts the pack
//! passes, one scam in a hundred), as the benchmark's second mix does.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::path::Path;

use interdict_engine::{load_pack, Engine, Event, Verdict};

/// Our own sentences (the same as the criterion benchmark's): ordinary traffic, notices that
/// share words with scams, and scams.
const TEXTS: &str = include_str!("../../../benches/sms.txt");

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules");
    let engine = Engine::new(load_pack(&dir).unwrap_or_else(|e| panic!("{e}")));
    let all: Vec<&str> = TEXTS.lines().filter(|l| !l.is_empty()).collect();
    let texts = if std::env::args().nth(2).as_deref() == Some("ordinary") {
        let passes = |t: &&str| {
            engine
                .decide(&Event::sms("13900000000", "13800000001", t, 0))
                .verdict
                == Verdict::Pass
        };
        let passed: Vec<&str> = all.iter().copied().filter(passes).collect();
        let scams: Vec<&str> = all.iter().copied().filter(|t| !passes(t)).collect();
        (0..100)
            .map(|i| match i {
                99 => scams[0],
                _ => passed[i % passed.len()],
            })
            .collect()
    } else {
        all
    };
    let callers: Vec<String> = (0..4096u64)
        .map(|i| format!("139{:08}", i * 7919 % 100_000_000))
        .collect();
    let mut blocked = 0usize;
    for i in 0..n {
        let ev = Event::sms(
            &callers[i * 31 % callers.len()],
            "13800000001",
            texts[i % texts.len()],
            1_000 * i as u64,
        );
        blocked += usize::from(engine.decide(black_box(&ev)).verdict == Verdict::Block);
    }
    println!("{n} decisions, {blocked} blocked");
}
