//! Times loading a rule pack, stage by stage: reading and checking its files (the number lists
//! included), then compiling the lists, the text matcher and the policy; with a second argument,
//! the Hyperscan databases are cached in that directory.
//!
//! ```text
//! cargo build --release -p interdict-engine --example pack_load
//! target/release/examples/pack_load rules /tmp/interdict-cache
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use interdict_engine::pack::{compile_with, read_pack, LoadOptions};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().unwrap_or_else(|| "rules".into()));
    let mut options = LoadOptions::new();
    if let Some(cache) = args.next() {
        options = options.with_cache_dir(cache);
    }
    let t0 = Instant::now();
    let mut errors = Vec::new();
    let source = read_pack(&dir, &mut errors);
    let t1 = Instant::now();
    let snapshot = source.and_then(|s| compile_with(s, &mut errors, &options));
    let t2 = Instant::now();
    for e in &errors {
        eprintln!("{e}");
    }
    let Some(snapshot) = snapshot else {
        return ExitCode::FAILURE;
    };
    println!(
        "read {:?}, compile {:?}, {} exact numbers, cache {:?}",
        t1 - t0,
        t2 - t1,
        snapshot.lists().exact_len(),
        snapshot.matcher().cache_stats()
    );
    ExitCode::SUCCESS
}
