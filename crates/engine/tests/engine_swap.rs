//! Snapshots are swapped atomically while other threads keep deciding, and pushed number
//! changes are visible to the next decision. Numbers are synthetic (+86 170 range).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use interdict_engine::lists::{parse_prefix, NumberChange};
use interdict_engine::{load_pack, normalise, Engine, Event, Evidence, Snapshot, Source, Verdict};

fn pack() -> Snapshot {
    load_pack(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules")).unwrap()
}

/// Callers under this prefix are listed in the "watched" snapshot only. Each event uses its own
/// caller so the behaviour detectors never flag one.
const WATCHED: &str = "+861700001*";

/// The default pack with the WATCHED prefix pushed to `fraud_prefixes`.
fn with_watched(base: &Snapshot) -> Snapshot {
    let lists = base.lists();
    let list = lists.list_id("fraud_prefixes").unwrap();
    let prefix = parse_prefix(WATCHED).unwrap();
    let changed = lists
        .with_changes(&[NumberChange::AddPrefix {
            list,
            prefix,
            source: Source::pushed("case-7", None),
        }])
        .unwrap();
    base.with_lists(changed)
}

#[test]
fn swap_under_concurrent_deciding_gives_one_snapshot_or_the_other() {
    let plain = pack();
    let watched = with_watched(&plain);
    let engine = Arc::new(Engine::new(plain.clone()));
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let deciders: Vec<_> = (0..3)
        .map(|t| {
            let (engine, stop, seen) = (engine.clone(), stop.clone(), seen.clone());
            std::thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) || i < 200 {
                    i += 1;
                    let caller = format!("+861700001{t}{:03}", i % 1000);
                    let callee = format!("1380000{t}{:03}", i % 1000);
                    let d = engine.decide(&Event::call(&caller, &callee, i * 1_000_000));
                    match d.verdict {
                        Verdict::Pass => {
                            assert!(d.rule.is_none() && d.evidence.is_empty(), "{d:?}");
                            seen[0].fetch_add(1, Ordering::Relaxed);
                        }
                        Verdict::Block => {
                            assert_eq!(d.rule.as_deref(), Some("caller-reported-fraud"));
                            let from_case = d.evidence.iter().any(|e| {
                                matches!(e, Evidence::ListHit { source, .. } if source == "case case-7")
                            });
                            assert!(from_case, "{d:?}");
                            seen[1].fetch_add(1, Ordering::Relaxed);
                        }
                        Verdict::Warn => panic!("no snapshot warns here: {d:?}"),
                    }
                }
            })
        })
        .collect();
    for round in 0..200 {
        engine.swap(if round % 2 == 0 {
            watched.clone()
        } else {
            plain.clone()
        });
        std::thread::yield_now();
    }
    engine.swap(watched.clone());
    stop.store(true, Ordering::Relaxed);
    for d in deciders {
        d.join().unwrap();
    }
    assert!(
        seen[1].load(Ordering::Relaxed) > 0,
        "the watched snapshot was never seen"
    );
    // After the last swap every decision uses it.
    let d = engine.decide(&Event::call("+8617000019999", "13800000001", 1));
    assert_eq!(d.verdict, Verdict::Block);
}

#[test]
fn number_changes_apply_to_the_next_decision_and_can_be_undone() {
    let engine = Engine::new(pack());
    let ev = Event::call("+8617000000123", "13800000001", 5);
    assert_eq!(engine.decide(&ev).verdict, Verdict::Pass);
    let snap = engine.snapshot();
    let list = snap.lists().list_id("fraud_numbers").unwrap();
    let key = normalise("+8617000000123", snap.number_config())
        .unwrap()
        .key();
    engine
        .apply_number_changes(&[NumberChange::add(
            list,
            key,
            Source::pushed("case-9", Some(1_000)),
        )])
        .unwrap();
    let d = engine.decide(&ev);
    assert_eq!(d.verdict, Verdict::Block);
    assert!(serde_json::to_string(&d).unwrap().contains("case case-9"));
    // Expired at 1 000 ms: an event at 2 000 ms passes again.
    let later = Event::call("+8617000000123", "13800000002", 2_000);
    assert_eq!(engine.decide(&later).verdict, Verdict::Pass);
    engine
        .apply_number_changes(&[NumberChange::remove(list, key)])
        .unwrap();
    assert_eq!(engine.decide(&ev).verdict, Verdict::Pass);
}
