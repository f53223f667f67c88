//! The default rule pack loaded with a database cache: compiled and written once, then read
//! back, it decides exactly as a pack compiled without a cache. All numbers are synthetic
//! (170/171 virtual-operator ranges, 138/139 0000 00xx); all texts are our own sentences.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use interdict_engine::pack::compile_with;
use interdict_engine::{load_pack_with, Engine, Event, LoadOptions, Snapshot, Verdict};

fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules")
}

fn load(options: &LoadOptions) -> Snapshot {
    match load_pack_with(&rules_dir(), options) {
        Ok(s) => s,
        Err(e) => panic!("default pack: {e}"),
    }
}

/// Every decision of `snapshot` on a few messages, as JSON.
fn decisions(snapshot: Snapshot) -> Vec<String> {
    let engine = Engine::new(snapshot);
    let texts = [
        "您的身份证涉嫌洗钱，请立即将资金转入安全账户配合调查",
        "兼职刷 单，日结佣金三百，先垫付后返利，加徽信 kf8866 详聊",
        "我是你领导，明天来我办公室，先帮我转两万给这个账号6222020200112233",
        "【工商银行】您的验证码为482913，5分钟内有效，请勿告诉他人。",
        "您的快递已放至驿站，请凭取件码取件",
    ];
    texts
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let caller = format!("1390000{i:04}");
            let d = engine.decide(&Event::sms(&caller, "13800000001", text, 1_000));
            serde_json::to_string(&d).unwrap()
        })
        .collect()
}

#[test]
fn the_default_pack_decides_the_same_from_the_cache() {
    let dir = std::env::temp_dir().join(format!("interdict-pack-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let options = LoadOptions::new().with_cache_dir(&dir);

    let reference = decisions(load(&LoadOptions::new()));
    assert!(
        reference.iter().any(|d| d.contains("\"block\"")),
        "{reference:?}"
    );

    let first = load(&options);
    let stats = first.matcher().cache_stats().clone();
    let databases = 1 + 2 * first.matcher().pattern_count();
    assert_eq!(
        (stats.loaded, stats.compiled, stats.not_written),
        (0, databases, 0),
        "{stats:?}"
    );
    assert_eq!(decisions(first), reference);

    let second = load(&options);
    let stats = second.matcher().cache_stats().clone();
    assert_eq!((stats.loaded, stats.compiled), (databases, 0), "{stats:?}");
    assert_eq!(decisions(second), reference);

    // The same through `compile_with`, the loader's second half.
    let mut errors = Vec::new();
    let source = interdict_engine::pack::read_pack(&rules_dir(), &mut errors).unwrap();
    let third = compile_with(source, &mut errors, &options).unwrap();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(third.matcher().cache_stats().loaded, databases);
    let engine = Engine::new(third);
    let d = engine.decide(&Event::sms(
        "13900009999",
        "13800000001",
        "您的身份证涉嫌洗钱，请立即将资金转入安全账户配合调查",
        1_000,
    ));
    assert_eq!(d.verdict, Verdict::Block);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unusable_cache_directory_is_no_error() {
    // A file where the directory should be: everything is compiled, the reason is kept.
    let file = std::env::temp_dir().join(format!("interdict-not-a-dir-{}", std::process::id()));
    std::fs::write(&file, b"x").unwrap();
    let s = load(&LoadOptions::new().with_cache_dir(&file));
    let stats = s.matcher().cache_stats();
    assert_eq!(stats.loaded, 0);
    assert_eq!(stats.compiled, 1 + 2 * s.matcher().pattern_count());
    assert!(stats.last_error.is_some(), "{stats:?}");
    let _ = std::fs::remove_file(&file);
}
