//! Decision engine benchmark: whole decisions on SMS events with the default pack plus
//! 10 million exact numbers and 10,000 prefixes (on one thread, and on two sharing the engine),
//! and each stage alone (number lookup, number
//! normaliser, text normaliser), the pack's phrases in Hyperscan and aho-corasick, Hyperscan
//! against the `regex` crate's RegexSet on the same patterns and texts, a batch of 1,000 pushed number changes made visible on the 10 M list,
//! and compiling a pack with 10 million numbers.
//!
//! Run: `cargo bench --bench engine -- --warm-up-time 1 --measurement-time 3`
//!
//! All numbers are synthetic: the 10 M list is drawn from the +86 170 virtual-operator range,
//! the prefixes from +86 171; the texts are our own sentences, not corpus rows.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use interdict_engine::text::{CategoryId, PatternDef, TextHits, TextMatcher};
use interdict_engine::{
    load_pack, normalise, Engine, Event, NumberChange, NumberConfig, Snapshot, Source,
};

const EXACT: usize = 10_000_000;
const PREFIXES: usize = 10_000;

/// Our own sentences, one per line (shared with `crates/engine/examples/decide_loop.rs`):
/// ordinary traffic, notices that share words with scams, and scams.
const SMS: &str = include_str!("sms.txt");

fn texts() -> Vec<&'static str> {
    SMS.lines().filter(|l| !l.is_empty()).collect()
}

fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")
}

/// A copy of the default pack whose fraud lists hold 10 M synthetic numbers and 10 k prefixes,
/// written under the target directory (one copy, replaced by each run: 144 MB left in the
/// system's temporary directory by every run filled the disk).
fn big_pack_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("interdict-bench-pack");
        let _ = std::fs::remove_dir_all(&dir);
        copy_dir(&rules_dir(), &dir);
        let mut f = std::io::BufWriter::new(
            std::fs::File::create(dir.join("lists/fraud_numbers.txt")).unwrap(),
        );
        writeln!(f, "# SYNTHETIC: {EXACT} numbers of the +86 170 range").unwrap();
        for i in 0..EXACT as u64 {
            // Spread over the range (stride 7) so the table sees varied keys.
            writeln!(f, "+86170{:08}", (i * 7) % 100_000_000).unwrap();
        }
        f.flush().unwrap();
        let mut f = std::io::BufWriter::new(
            std::fs::File::create(dir.join("lists/fraud_prefixes.txt")).unwrap(),
        );
        writeln!(f, "# SYNTHETIC: {PREFIXES} prefixes of the +86 171 range").unwrap();
        for i in 0..PREFIXES as u64 {
            writeln!(f, "+86171{:05}*", i * 3).unwrap();
        }
        f.flush().unwrap();
        dir
    })
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

fn big_snapshot() -> &'static Snapshot {
    static SNAP: OnceLock<Snapshot> = OnceLock::new();
    SNAP.get_or_init(|| load_pack(big_pack_dir()).unwrap_or_else(|e| panic!("{e}")))
}

/// Callers: a mix of listed numbers, numbers under listed prefixes and ordinary ones.
fn callers() -> Vec<String> {
    (0..4096u64)
        .map(|i| match i % 8 {
            0 => format!("+86170{:08}", (i * 7 * 1013) % 100_000_000),
            1 => format!("+86171{:05}{:03}", (i % PREFIXES as u64) * 3, i % 1000),
            _ => format!("139{:08}", i * 7919 % 100_000_000),
        })
        .collect()
}

/// Whole decisions on SMS events. Two mixes of the texts of `sms.txt`: all of them in turn (a
/// third are scams the pack blocks: the worst case, a scam wave), and ordinary traffic (the
/// texts the pack passes, with one scam in a hundred messages).
fn bench_decide(c: &mut Criterion) {
    let engine = Engine::new(big_snapshot().clone());
    let callers = callers();
    let texts = texts();
    let passed: Vec<usize> = (0..texts.len())
        .filter(|&i| {
            let ev = Event::sms("13900000000", "13800000001", texts[i], 0);
            engine.decide(&ev).verdict == interdict_engine::Verdict::Pass
        })
        .collect();
    let scams: Vec<usize> = (0..texts.len()).filter(|i| !passed.contains(i)).collect();
    assert!(!passed.is_empty() && !scams.is_empty());
    let every_text: Vec<(usize, usize)> = (0..1200)
        .map(|i| (i * 31 % callers.len(), i % texts.len()))
        .collect();
    let ordinary: Vec<(usize, usize)> = (0..1200)
        .map(|i| {
            let text = if i % 100 == 99 {
                scams[i / 100 % scams.len()]
            } else {
                passed[i % passed.len()]
            };
            (i * 31 % callers.len(), text)
        })
        .collect();
    let mut g = c.benchmark_group("engine/decide_sms");
    let mut t = 0u64;
    for (name, events) in [
        ("default_pack+10M_numbers+10k_prefixes", &every_text),
        ("ordinary_traffic_1pct_scams", &ordinary),
    ] {
        g.throughput(Throughput::Elements(events.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut blocked = 0usize;
                for &(ci, ti) in events {
                    t += 1_000; // 1 s apart per sender on average: no burst flags
                    let ev = Event::sms(&callers[ci], "13800000001", texts[ti], t);
                    blocked += usize::from(
                        engine.decide(black_box(&ev)).verdict == interdict_engine::Verdict::Block,
                    );
                }
                blocked
            })
        });
    }
    // The same ordinary traffic decided by two threads sharing the engine (one snapshot, the
    // behaviour state's sharded locks, scratch space per thread), each taking half of the
    // events: how throughput grows with cores. Threads are started and warmed up (their
    // Hyperscan scratch and lazy-DFA caches built) before the clock starts.
    g.throughput(Throughput::Elements(ordinary.len() as u64));
    g.bench_function("ordinary_traffic_two_threads", |b| {
        b.iter_custom(|iters| {
            let start = std::sync::Barrier::new(3);
            std::thread::scope(|s| {
                let workers: Vec<_> = ordinary
                    .chunks(ordinary.len().div_ceil(2))
                    .enumerate()
                    .map(|(k, half)| {
                        let (engine, callers, texts, start) = (&engine, &callers, &texts, &start);
                        s.spawn(move || {
                            // Thread k's clock: 1 s per decision, interleaved with the other's.
                            let mut t = t + k as u64 * 1_000;
                            let mut decide = |&(ci, ti): &(usize, usize)| {
                                t += 2_000;
                                let ev = Event::sms(&callers[ci], "13800000001", texts[ti], t);
                                engine.decide(black_box(&ev)).verdict
                                    == interdict_engine::Verdict::Block
                            };
                            half.iter().for_each(|e| {
                                decide(e);
                            });
                            start.wait();
                            for _ in 0..iters {
                                half.iter().for_each(|e| {
                                    black_box(decide(e));
                                });
                            }
                            std::time::Instant::now()
                        })
                    })
                    .collect();
                start.wait();
                let began = std::time::Instant::now();
                let ended = workers
                    .into_iter()
                    .map(|w| w.join().unwrap())
                    .max()
                    .unwrap();
                ended - began
            })
        })
    });
    g.finish();
}

fn bench_numbers(c: &mut Criterion) {
    let snap = big_snapshot();
    let cfg = NumberConfig::default();
    let callers = callers();
    let normalised: Vec<_> = callers
        .iter()
        .map(|s| normalise(s, &cfg).unwrap())
        .collect();
    let mut g = c.benchmark_group("engine/numbers");
    g.throughput(Throughput::Elements(normalised.len() as u64));
    g.bench_function("lookup_10M_exact+10k_prefixes", |b| {
        b.iter(|| {
            normalised
                .iter()
                .map(|n| snap.lists().lookup(black_box(n), 0).len())
                .sum::<usize>()
        })
    });
    let raw: Vec<String> = (0..4096u64)
        .map(|i| match i % 4 {
            0 => format!("+86 139-{:04}-{:04}", i % 10_000, i * 7 % 10_000),
            1 => format!(
                "sip:+86139{:08}@ims.example.net;user=phone",
                i * 13 % 100_000_000
            ),
            2 => "95588".to_owned(),
            _ => format!("0086139{:08}", i * 17 % 100_000_000),
        })
        .collect();
    g.throughput(Throughput::Elements(raw.len() as u64));
    g.bench_function("normalise_number", |b| {
        b.iter(|| {
            raw.iter()
                .filter(|r| normalise(black_box(r), &cfg).is_ok())
                .count()
        })
    });
    g.finish();
}

fn bench_text(c: &mut Criterion) {
    let snap = big_snapshot();
    let texts = texts();
    let bytes: usize = texts.iter().map(|t| t.len()).sum();
    let mut g = c.benchmark_group("engine/text");
    g.throughput(Throughput::Bytes(bytes as u64));
    let mut out = interdict_engine::text::NormalisedText::new();
    g.bench_function("normalise_text", |b| {
        b.iter(|| {
            let mut n = 0;
            for t in &texts {
                snap.matcher()
                    .normaliser()
                    .normalise_into(black_box(t), &mut out);
                n += out.len();
            }
            n
        })
    });
    let mut hits = TextHits::new();
    g.bench_function("normalise+scan_default_pack", |b| {
        b.iter(|| {
            let mut n = 0;
            for t in &texts {
                let _ = snap.matcher().scan(black_box(t), &mut hits);
                n += hits.hits().len();
            }
            n
        })
    });
    g.finish();
}

/// The campaign detector alone ([`interdict_engine::campaign`]): fingerprint an SMS's
/// normalised text and count it in the template table, per message (the texts of `sms.txt`
/// from 4 096 senders to one recipient, as in `decide_sms`). The decision benches include it.
fn bench_campaign(c: &mut Criterion) {
    use interdict_engine::behaviour::{Behaviour, BehaviourConfig, BehaviourFlags};
    let snap = big_snapshot();
    let cfg = NumberConfig::default();
    let behaviour = Behaviour::new(BehaviourConfig::default()).unwrap();
    let mut out = interdict_engine::text::NormalisedText::new();
    let texts: Vec<String> = texts()
        .iter()
        .map(|t| {
            snap.matcher().normaliser().normalise_into(t, &mut out);
            out.as_str().to_owned()
        })
        .collect();
    let senders: Vec<_> = callers()
        .iter()
        .filter_map(|c| normalise(c, &cfg).ok())
        .map(|n| n.key())
        .collect();
    let recipient = normalise("13800000001", &cfg).unwrap().key();
    let mut g = c.benchmark_group("engine/campaign");
    g.throughput(Throughput::Elements(1200));
    let mut t = 0u64;
    g.bench_function("fingerprint+count_per_sms", |b| {
        b.iter(|| {
            let mut n = 0u32;
            for i in 0..1200usize {
                t += 1_000;
                let mut flags = BehaviourFlags::default();
                let text = &texts[i % texts.len()];
                let sender = senders[i * 31 % senders.len()];
                if let Some(c) =
                    behaviour.observe_text(black_box(text), sender, Some(recipient), t, &mut flags)
                {
                    n += c.messages;
                }
            }
            n
        })
    });
    g.finish();
}

/// The pack's phrases alone, one literal per distinct normalised phrase, on the same normalised
/// texts: Hyperscan's literal API as the engine compiles it (no `SINGLEMATCH`, which doubles
/// the cost of a short message), with `SINGLEMATCH`, and aho-corasick's DFA, the fastest
/// alternative. The cost per message is the floor of any decision that reads the text.
fn bench_phrases(c: &mut Criterion) {
    use hyperscan::{BlockDatabase, Builder, Literal, LiteralFlags, Literals, Matching};
    let snap = big_snapshot();
    let matcher = snap.matcher();
    let normaliser = matcher.normaliser();
    let mut phrases: Vec<String> = (0..matcher.phrase_count())
        .filter_map(|i| matcher.phrase(i))
        .map(|p| normaliser.normalise(&p.text))
        .collect();
    phrases.sort();
    phrases.dedup();
    let texts: Vec<String> = texts().iter().map(|t| normaliser.normalise(t)).collect();
    let bytes: usize = texts.iter().map(String::len).sum();
    let database = |flags: LiteralFlags| -> BlockDatabase {
        let literals: Literals = phrases
            .iter()
            .enumerate()
            .map(|(i, p)| Literal {
                expression: p.clone(),
                flags,
                id: Some(i),
                som: None,
            })
            .collect();
        literals.build().unwrap()
    };
    let mut g = c.benchmark_group(format!("engine/phrases_{}", phrases.len()));
    g.throughput(Throughput::Bytes(bytes as u64));
    for (name, flags) in [
        ("hyperscan_literals", LiteralFlags::empty()),
        ("hyperscan_literals_singlematch", LiteralFlags::SINGLEMATCH),
    ] {
        let db = database(flags);
        let scratch = db.alloc_scratch().unwrap();
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut n = 0usize;
                for t in &texts {
                    let _ = db.scan(black_box(t.as_bytes()), &scratch, |_, _, _, _| {
                        n += 1;
                        Matching::Continue
                    });
                }
                n
            })
        });
    }
    let ac = aho_corasick::AhoCorasick::builder()
        .kind(Some(aho_corasick::AhoCorasickKind::DFA))
        .build(&phrases)
        .unwrap();
    g.bench_function("aho_corasick_dfa", |b| {
        b.iter(|| {
            texts
                .iter()
                .map(|t| ac.find_overlapping_iter(black_box(t.as_str())).count())
                .sum::<usize>()
        })
    });
    g.finish();
}

/// The pack's regexes, read from patterns.txt.
fn pack_patterns() -> Vec<PatternDef> {
    let text = std::fs::read_to_string(rules_dir().join("patterns.txt")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let mut f = l.splitn(4, '\t');
            let (id, _cat, w, re) = (f.next()?, f.next()?, f.next()?, f.next()?);
            Some(PatternDef {
                id: id.to_owned(),
                category: CategoryId(0),
                regex: re.to_owned(),
                weight: w.parse().ok()?,
            })
        })
        .collect()
}

/// The pack's patterns in Hyperscan and in the `regex` crate, like for like: one database (one
/// set) of every pattern, which patterns match, on the same normalised texts. The matcher the
/// engine uses (gated, with evidence offsets) is measured alongside.
fn bench_regex_engines(c: &mut Criterion) {
    use hyperscan::{BlockDatabase, Builder, Matching, Pattern, PatternFlags, Patterns};
    let defs = pack_patterns();
    let matcher = TextMatcher::compile(Vec::new(), defs.clone(), &[] as &[(&str, &str)]).unwrap();
    let flags = PatternFlags::UTF8 | PatternFlags::CASELESS | PatternFlags::SINGLEMATCH;
    let patterns: Patterns = defs
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let mut p = Pattern::with_flags(d.regex.as_str(), flags).unwrap();
            p.id = Some(i);
            p
        })
        .collect();
    let hs: BlockDatabase = patterns.build().unwrap();
    let scratch = hs.alloc_scratch().unwrap();
    let set = regex::RegexSetBuilder::new(defs.iter().map(|d| d.regex.as_str()))
        .case_insensitive(true)
        .size_limit(1 << 28)
        .dfa_size_limit(1 << 28)
        .build()
        .unwrap();
    // Every engine sees the same normalised texts.
    let texts: Vec<String> = texts()
        .iter()
        .map(|t| matcher.normaliser().normalise(t))
        .collect();
    let bytes: usize = texts.iter().map(String::len).sum();
    let mut g = c.benchmark_group(format!("engine/regex_{}_patterns", defs.len()));
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("hyperscan_one_database", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for t in &texts {
                let _ = hs.scan(black_box(t.as_bytes()), &scratch, |_, _, _, _| {
                    n += 1;
                    Matching::Continue
                });
            }
            n
        })
    });
    g.bench_function("regex_RegexSet", |b| {
        b.iter(|| {
            texts
                .iter()
                .map(|t| set.matches(black_box(t)).iter().count())
                .sum::<usize>()
        })
    });
    let mut hits = TextHits::new();
    g.bench_function("interdict_gated_with_evidence", |b| {
        b.iter(|| {
            let mut n = 0;
            for t in &texts {
                let _ = matcher.scan(black_box(t), &mut hits);
                n += hits.hits().len();
            }
            n
        })
    });
    g.finish();
}

fn bench_compile(c: &mut Criterion) {
    let dir = big_pack_dir();
    let mut g = c.benchmark_group("engine/pack");
    g.sample_size(10);
    g.bench_function("load_and_compile_10M_numbers", |b| {
        b.iter_batched(
            || (),
            |()| load_pack(black_box(dir)).unwrap(),
            BatchSize::PerIteration,
        )
    });
    g.bench_function("load_and_compile_default_pack", |b| {
        b.iter(|| load_pack(black_box(&rules_dir())).unwrap())
    });
    g.finish();
}

/// A police push of 1,000 numbers (half added, half removed) against the 10 M list: the time
/// until the next decision sees them (the limit is 50 ms).
fn bench_push(c: &mut Criterion) {
    let snap = big_snapshot();
    let cfg = NumberConfig::default();
    let list = snap
        .lists()
        .list_id("fraud_numbers")
        .expect("fraud_numbers list");
    let changes: Vec<NumberChange> = (0..1_000u64)
        .map(|i| {
            let key = normalise(&format!("+86170{:08}", i * 99_991 % 100_000_000), &cfg)
                .unwrap()
                .key();
            if i % 2 == 0 {
                NumberChange::add(list, key, Source::pushed("bench-case", None))
            } else {
                NumberChange::remove(list, key)
            }
        })
        .collect();
    let mut g = c.benchmark_group("engine/push");
    g.bench_function("1000_changes_on_10M_visible", |b| {
        b.iter_batched(
            || Engine::new(snap.clone()),
            |engine| {
                engine.apply_number_changes(black_box(&changes)).unwrap();
                engine
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(
    benches,
    bench_decide,
    bench_numbers,
    bench_text,
    bench_campaign,
    bench_phrases,
    bench_regex_engines,
    bench_push,
    bench_compile
);
criterion_main!(benches);
