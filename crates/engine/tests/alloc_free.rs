//! A pass decision allocates nothing: once the per-thread scratch space has grown and the
//! callers are tracked, deciding ordinary calls and SMS touches no allocator (text scan,
//! contacts, link kinds, template fingerprint and behaviour windows included).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use interdict_engine::{load_pack, Engine, Event, Verdict};

#[path = "../../../tests/support/counting_alloc.rs"]
mod counting_alloc;

#[global_allocator]
static GLOBAL: counting_alloc::Counting = counting_alloc::Counting;

#[test]
fn a_pass_decision_allocates_nothing() {
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules");
    let engine = Engine::new(load_pack(&rules).unwrap());
    let texts = [
        "妈，我明天下午到家，晚饭不用等我。",
        "会议改到明天上午十点，在三楼会议室，请带上季度报表。",
        "周末一起去爬山吗？天气预报说是晴天，详情看 http://hiking.example/route",
        "【顺丰速运】您的快件已到达小区驿站，取件码 5-2-3017，请凭码取件。",
    ];
    let callers: Vec<String> = (0..8).map(|i| format!("+86171000090{i:02}")).collect();
    let run = |at: u64| {
        for (i, caller) in callers.iter().enumerate() {
            let text = texts[i % texts.len()];
            let d = engine.decide(&Event::sms(caller, "+8617100009999", text, at + i as u64));
            assert_eq!(d.verdict, Verdict::Pass, "{text}");
            let d = engine.decide(&Event::call(caller, "+8617100009998", at + 500 + i as u64));
            assert_eq!(d.verdict, Verdict::Pass);
        }
    };
    // Warm-up: scratch space, lazy DFA caches, tracked callers.
    for k in 0..3 {
        run(1_000 + k * 60_000);
    }
    let ((), allocations) = counting_alloc::allocations_in(|| run(400_000));
    assert_eq!(allocations, 0);
}
