//! The default rule pack decides hand-written examples of every fraud family, while
//! legitimate look-alikes pass; list precedence (allowlist, spoofing, longest prefix) holds at
//! the decision level. All numbers are synthetic (170/171 virtual-operator ranges,
//! 138/139 0000 00xx); all texts are our own sentences.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use interdict_engine::policy::Condition;
use interdict_engine::{load_pack, Decision, Engine, Event, Evidence, Ingress, Verdict};

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

/// Each message from its own synthetic sender, so the burst detector stays out of the way.
fn sms(text: &str) -> Decision {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let caller = format!("1390{:07}", NEXT.fetch_add(1, Ordering::Relaxed));
    engine().decide(&Event::sms(&caller, "13800000001", text, 1_000))
}

fn json(d: &Decision) -> String {
    serde_json::to_string(d).unwrap()
}

fn assert_verdict(text: &str, want: Verdict) -> Decision {
    let d = sms(text);
    assert_eq!(d.verdict, want, "{text}\n{}", json(&d));
    d
}

fn assert_caught(text: &str, family: &str) {
    let d = sms(text);
    assert_ne!(d.verdict, Verdict::Pass, "{text}\n{}", json(&d));
    assert!(
        d.categories.iter().any(|c| &**c == family),
        "{family} expected in {}",
        json(&d)
    );
}

#[test]
fn default_pack_loads_with_enough_phrases_and_patterns() {
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
    assert!(s.rules().len() >= 10);
}

#[test]
fn police_impersonation_is_blocked_with_the_phrase_as_found() {
    let text = "我是市公安局经侦大队的民警，你名下的银行卡涉嫌一起洗钱案，需要把存款转到安全 账户接受资金清查。";
    let d = assert_verdict(text, Verdict::Block);
    let quoted = d.evidence.iter().any(|e| match e {
        Evidence::Phrase {
            found, start, end, ..
        }
        | Evidence::Pattern {
            found, start, end, ..
        } => found.contains("安全 账户") && text.get(*start..*end) == Some(found.as_str()),
        _ => false,
    });
    assert!(quoted, "evidence quotes the evasion as found: {}", json(&d));
    assert!(d.categories.iter().any(|c| &**c == "police_impersonation"));
}

#[test]
fn every_family_is_caught_on_our_own_examples() {
    assert_caught(
        "法院已对你发出传票，案件进入缺席审判程序，请签署保密协议后配合远程笔录。",
        "police_impersonation",
    );
    assert_caught(
        "在家用手机做点赞任务，每单佣金5元，完成三单连单后本金加佣金一起返还。",
        "order_brushing",
    );
    assert_caught(
        "王老师带单炒虚拟币，跟着我投稳赚不赔，一周收益翻倍，名额有限。",
        "investment",
    );
    assert_caught(
        "无抵押贷款，不看征信，黑户可贷，放款前需先交解冻金验证还款能力。",
        "loan_credit",
    );
    assert_caught(
        "您好，我是快递公司客服，您的快递丢失了，我们为您办理双倍赔偿，请加微信操作理赔。",
        "customer_service",
    );
    assert_caught(
        "您之前开通的校园贷需要注销，否则会影响个人征信，请按指引操作。",
        "customer_service",
    );
    assert_caught(
        "小张，我换号了，存一下我的新号。明天来我办公室一趟，有事找你。",
        "acquaintance",
    );
    assert_caught(
        "我在开会不方便接电话，你先帮我转两万给合作方，下午回来就还你。",
        "acquaintance",
    );
}

#[test]
fn evasions_in_writing_are_undone() {
    // Traditional characters, full-width letters, separators, look-alikes.
    assert_caught(
        "兼職刷．單，日結傭金，先墊付後返還本金，加ＶＸ詳談",
        "order_brushing",
    );
    assert_caught(
        "您的帳戶涉嫌洗錢，請將資金轉入安全帳戶",
        "police_impersonation",
    );
}

/// The evasions real senders use on contact points and on 微信: circled and full-width digits
/// in a phone number, ⅴ / 𝐕 / 威信 / wx for 微信, Japanese forms (査, 証).
#[test]
fn evasions_of_contacts_and_wechat_are_undone() {
    // A listed (synthetic) fraud number written in circled and full-width digits.
    let d = sms("有问题请回电①⑦①０００００００①");
    assert_eq!(d.verdict, Verdict::Block, "{}", json(&d));
    assert_eq!(d.rule.as_deref(), Some("contact-reported-fraud"));
    let d = sms("有问题请回电⑴⑺⑴⑽⑽⑽⑽⑴");
    let _ = d; // parenthesised digits fold to "(1)(7)…": not a number, and no panic
               // The same number read out in Chinese numerals, with spaces between them.
    let d = sms("有问题请回电 幺 七 幺 零 零 零 零 零 零 零 幺");
    assert_eq!(
        d.rule.as_deref(),
        Some("contact-reported-fraud"),
        "{}",
        json(&d)
    );
    let snap = engine().snapshot();
    let mut out = interdict_engine::text::NormalisedText::new();
    for variant in [
        "ⅴ信", "𝐕信", "威信", "wx", "vx", "ＶＸ", "徽信", "薇信", "v 信",
    ] {
        let text = format!("加{variant} kf8866 详谈");
        snap.matcher().normaliser().normalise_into(&text, &mut out);
        assert!(out.as_str().contains("微信"), "{text} -> {}", out.as_str());
    }
    snap.matcher()
        .normaliser()
        .normalise_into("请査看詳情，領取獎品", &mut out);
    assert_eq!(out.as_str(), "请查看详情领取奖品");
    // Shinjitai in the words scripts are made of: 刷単, 転账, 支払, 保険, 実名.
    snap.matcher()
        .normaliser()
        .normalise_into("兼职刷単日結佣金，先転账，支払宝保険実名", &mut out);
    assert_eq!(out.as_str(), "兼职刷单日结佣金先转账支付宝保险实名");
    assert_caught("兼职刷単日结佣金三百，先墊付后返利", "order_brushing");
    assert_caught(
        "您已被抽中为幸运用户，获得现金8888元及笔记本电脑一台，详情请査看 http://prize.example/a 领取，需先缴纳公证费",
        "prize",
    );
}

#[test]
fn notice_or_warning_words_appended_to_a_scam_buy_no_pass() {
    // The guards (anti-fraud warnings, one-time-code notices) exist for real notices that
    // quote scam words; an attacker who appends a notice's or a warning's words to a script
    // must not get the script through. A guard vetoes only when it outweighs the script.
    for (script, tail) in [
        (
            "您涉嫌洗钱，请立即将资金转入安全账户配合调查。",
            "验证码请勿告诉他人",
        ),
        (
            "您涉嫌洗钱，请立即将资金转入安全账户配合调查。",
            "警惕电信诈骗",
        ),
        (
            "兼职刷单日结佣金三百，先垫付后返利，加微信kf8866。",
            "谨防诈骗",
        ),
        (
            "兼职刷单日结佣金三百，先垫付后返利，加微信kf8866。",
            "验证码123456，5分钟内有效，请勿告诉他人",
        ),
        (
            "国内顶尖操盘手建群，每晚公布明日涨停牛股，人满即封。",
            "QQ验证码，回T退订",
        ),
        (
            "您已被抽中为幸运用户，获得现金8888元，详情请登录 http://prize.example/a 领取",
            "。谨防诈骗",
        ),
        // A look-alike of the bank's domain is no warning's: no guard rescues it.
        (
            "【工商银行】您的网银即将过期，请登录 http://icbc-jf.top 更新",
            "。谨防诈骗",
        ),
    ] {
        let alone = sms(script);
        let appended = sms(&format!("{script}{tail}"));
        assert_ne!(alone.verdict, Verdict::Pass, "{script}\n{}", json(&alone));
        assert_eq!(
            appended.verdict,
            alone.verdict,
            "{script}{tail}\n{}",
            json(&appended)
        );
    }
}

#[test]
fn a_one_time_code_notice_with_an_unofficial_callback_is_a_scam() {
    // The fake "auto-charge" notice: a real-looking one-time code, then a number to call to
    // cancel. A real notice names the service's official number, and passes.
    let scam = "【京东金融】您的验证码为482913，5分钟内有效，请勿告诉他人。\
                您正在开通百万医疗保障，每月自动扣费，如非本人操作请致电客服17100009753取消。";
    let d = sms(scam);
    assert_eq!(d.verdict, Verdict::Block, "{}", json(&d));
    assert_verdict(
        "【工商银行】您的验证码为482913，5分钟内有效，请勿告诉他人。如有疑问请致电95588。",
        Verdict::Pass,
    );
}

#[test]
fn legitimate_look_alikes_pass() {
    for text in [
        "【工商银行】您的验证码为482913，5分钟内有效，请勿告诉他人。",
        "【招商银行】您尾号6789的信用卡本月账单已出，应还金额1234.56元，请按时还款。",
        "【中国银行】您尾号1234的账户于10月3日转账支出500.00元，余额2000.00元。",
        "【顺丰速运】您的快件已到达小区驿站，取件码 5-2-3017，请凭码取件。",
        "【京东】您申请的退货退款已审核通过，款项将在1-3个工作日原路退回。",
        "【反诈中心】公安机关不会通过电话要求您转账到安全账户，凡是要求刷单垫付的都是诈骗。",
        "【国家反诈中心】警惕冒充客服以快递丢失理赔为由诈骗，不听不信不转账，如有疑问拨打96110。",
        // A police station's own warning, with its landline: a guard still passes it.
        "【南山派出所】凡是自称公检法要求转账到安全账户的都是诈骗，如有疑问请拨打派出所电话0755-26881234。",
        "妈，我明天下午到家，晚饭不用等我。",
        "会议改到明天上午十点，在三楼会议室。",
    ] {
        assert_verdict(text, Verdict::Pass);
    }
}

#[test]
fn listed_fraud_number_is_blocked_with_its_source() {
    // +8617100000001 is line-listed in rules/lists/fraud_numbers.txt (synthetic).
    let d = engine().decide(&Event::call("+86 171 0000 0001", "13800000001", 1));
    assert_eq!(d.verdict, Verdict::Block, "{}", json(&d));
    assert_eq!(d.rule.as_deref(), Some("caller-reported-fraud"));
    let ok = d.evidence.iter().any(|e| {
        matches!(e, Evidence::ListHit { list, source, number, .. }
            if &**list == "fraud_numbers" && source.starts_with("lists/fraud_numbers.txt:")
                && number == "+8617100000001")
    });
    assert!(ok, "{}", json(&d));
    assert_eq!(
        d.caller
            .normalised
            .map(|n| n.as_str().to_owned())
            .as_deref(),
        Some("+8617100000001")
    );
}

#[test]
fn a_listed_sender_of_a_scam_is_quoted_list_hit_first_then_the_text() {
    // What the analyst reads first (the feed's one-line view shows the first item) is the
    // most specific ground: the listed number, then the fraud the text shows as well.
    let d = engine().decide(&Event::sms(
        "+8617100000001",
        "13800000001",
        "您的身份证涉嫌洗钱，请立即将资金转入安全账户配合调查",
        1,
    ));
    assert_eq!(d.verdict, Verdict::Block, "{}", json(&d));
    let kinds: Vec<&str> = d
        .evidence
        .iter()
        .map(|e| match e {
            Evidence::ListHit { .. } => "list",
            Evidence::Phrase { .. } | Evidence::Pattern { .. } => "text",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds.first(), Some(&"list"), "{}", json(&d));
    assert!(kinds.contains(&"text"), "{}", json(&d));
    // Each condition of the rule that fired is quoted by something.
    for c in d.conditions.iter() {
        let quoted = match c {
            Condition::CallerIn => kinds.contains(&"list"),
            Condition::Text => kinds.contains(&"text"),
            _ => true,
        };
        assert!(quoted, "{} not quoted: {}", c.name(), json(&d));
    }
}

#[test]
fn prefix_lists_match_and_report_the_prefix() {
    let d = engine().decide(&Event::call("17099991234", "13800000001", 1));
    assert_eq!(d.verdict, Verdict::Block, "{}", json(&d));
    assert!(json(&d).contains("+861709999*"), "{}", json(&d));
    // A neighbour outside the prefix passes.
    let d = engine().decide(&Event::call("17099981234", "13800000001", 1));
    assert_eq!(d.verdict, Verdict::Pass, "{}", json(&d));
}

#[test]
fn allowlist_wins_on_domestic_ingress_and_spoofing_overrides_it() {
    // 95588 shown on a domestic call: official, passes even with scam text.
    let ev = Event::sms(
        "95588",
        "13800000001",
        "请将资金转入安全账户配合调查，涉嫌洗钱",
        1,
    );
    let d = engine().decide(&ev);
    assert_eq!(d.verdict, Verdict::Pass, "{}", json(&d));
    assert_eq!(d.rule.as_deref(), Some("allowlisted"), "{}", json(&d));
    // The same number from an international trunk: spoofing, blocked.
    let d = engine().decide(&ev.with_ingress(Ingress::International));
    assert_eq!(d.verdict, Verdict::Block);
    assert_eq!(d.rule.as_deref(), Some("spoofed-domestic-caller"));
    assert!(d
        .evidence
        .iter()
        .any(|e| matches!(e, Evidence::Spoofing { .. })));
    // A domestic mobile on an international trunk too; a foreign number is not spoofing.
    let d = engine().decide(
        &Event::call("+8613900000002", "13800000001", 1).with_ingress(Ingress::International),
    );
    assert_eq!(d.verdict, Verdict::Block);
    let d = engine().decide(
        &Event::call("+4420700000000", "13800000001", 1).with_ingress(Ingress::International),
    );
    assert_eq!(d.verdict, Verdict::Pass, "{}", json(&d));
    // Calling 110 is never blocked, even from a listed number.
    let d = engine().decide(&Event::call("+8617100000001", "110", 1));
    assert_eq!(d.verdict, Verdict::Pass, "{}", json(&d));
}

#[test]
fn contact_on_fraud_list_or_lure_domain_blocks() {
    let d = sms("有问题请回电 171-0000-0002 咨询");
    assert_eq!(d.verdict, Verdict::Block, "{}", json(&d));
    assert_eq!(d.rule.as_deref(), Some("contact-reported-fraud"));
    let d = sms("查看详情 http://warrant-query.invalid/case?id=1");
    assert_eq!(d.verdict, Verdict::Block, "{}", json(&d));
    assert_eq!(d.rule.as_deref(), Some("contact-lure-domain"));
}

#[test]
fn unparseable_caller_on_a_call_is_a_warning() {
    let d = engine().decide(&Event::call("sip:anonymous@invalid", "13800000001", 1));
    assert_eq!(d.verdict, Verdict::Warn, "{}", json(&d));
    assert!(d
        .evidence
        .iter()
        .any(|e| matches!(e, Evidence::Unparseable { .. })));
    assert!(json(&d).contains("\"kind\":\"unparseable\""));
}

#[test]
fn sequential_dialling_is_blocked() {
    // A fresh engine so other tests' events do not mix in.
    let e = Engine::new(load_pack(&rules_dir()).unwrap());
    let mut last = Verdict::Pass;
    for i in 0..12u64 {
        let callee = format!("138000001{i:02}");
        last = e
            .decide(&Event::call("13900000777", &callee, 1_000 + i * 100))
            .verdict;
    }
    assert_eq!(last, Verdict::Block);
}

/// The false alarm of sequential dialling: an ordinary subscriber ringing six colleagues'
/// direct lines in one block (increasing by small steps) over an hour. Must pass.
#[test]
fn ordinary_caller_ringing_nearby_lines_over_an_hour_passes() {
    let e = Engine::new(load_pack(&rules_dir()).unwrap());
    for i in 0..6u64 {
        let callee = format!("+861710000{:04}", 2001 + i * 2);
        let at = 1_000 + i * 8 * 60_000;
        let d = e.decide(&Event::call("+8617100009001", &callee, at));
        assert_eq!(d.verdict, Verdict::Pass, "call {i}: {}", json(&d));
    }
}

/// The same ordinary subscriber calling back quickly (a few calls a minute apart) is at most
/// warned, never blocked: sequential dialling alone is one weak signal.
#[test]
fn a_quick_handful_of_nearby_calls_is_never_blocked() {
    let e = Engine::new(load_pack(&rules_dir()).unwrap());
    for i in 0..8u64 {
        let callee = format!("+861710000{:04}", 3001 + i);
        let d = e.decide(&Event::call("+8617100009002", &callee, 1_000 + i * 10_000));
        assert_ne!(d.verdict, Verdict::Block, "call {i}: {}", json(&d));
    }
}

/// A SIM-box burst (a call every two seconds to sequential numbers) is warned once the run
/// builds and blocked, with corroboration, within 30 calls.
#[test]
fn simbox_burst_is_blocked_within_30_calls() {
    let e = Engine::new(load_pack(&rules_dir()).unwrap());
    let mut first_warn = None;
    let mut first_block = None;
    for i in 0..30u64 {
        let callee = format!("+861710001{:04}", i);
        let d = e.decide(&Event::call("+8617100009003", &callee, 1_000 + i * 2_000));
        if d.verdict == Verdict::Warn && first_warn.is_none() {
            first_warn = Some(i);
        }
        if d.verdict == Verdict::Block {
            first_block = Some(i);
            assert_eq!(d.rule.as_deref(), Some("simbox-sequential-dialling"));
            break;
        }
    }
    assert!(
        first_warn.is_some_and(|w| w < 8),
        "warned at {first_warn:?}"
    );
    assert!(first_block.is_some(), "not blocked within 30 calls");
}

/// An ordinary subscriber's busy day, the false-alarm case of every other detector at once:
/// fifteen calls over two hours to friends and shops (a few of them short, none concurrent),
/// and twenty-five New Year greetings sent over twenty minutes. Every event must pass.
#[test]
fn ordinary_subscriber_busy_day_passes() {
    use interdict_engine::EventKind;
    let e = Engine::new(load_pack(&rules_dir()).unwrap());
    let me = "+8617100009004";
    let mut at = 1_000u64;
    for i in 0..15u64 {
        // Scattered numbers, not a block.
        let callee = format!("+86171{:08}", 10_000_000 + (i * 7_919_993) % 89_999_999);
        let d = e.decide(&Event::call(me, &callee, at));
        assert_eq!(d.verdict, Verdict::Pass, "call {i}: {}", json(&d));
        let mut ev = Event::call(me, &callee, at + 5_000);
        ev.kind = EventKind::CallAnswered;
        assert_eq!(e.decide(&ev).verdict, Verdict::Pass);
        // Every fifth call is short (a wrong number, a closed shop).
        let duration_ms = if i % 5 == 0 { 4_000 } else { 180_000 };
        let mut ev = Event::call(me, &callee, at + 5_000 + duration_ms);
        ev.kind = EventKind::CallEnded { duration_ms };
        assert_eq!(e.decide(&ev).verdict, Verdict::Pass);
        at += 8 * 60_000;
    }
    for i in 0..25u64 {
        let friend = format!("+86171{:08}", 20_000_000 + i * 3_331);
        let d = e.decide(&Event::sms(
            me,
            &friend,
            "新年快乐，万事如意！",
            at + i * 48_000,
        ));
        assert_eq!(d.verdict, Verdict::Pass, "sms {i}: {}", json(&d));
    }
}

/// One template (names, amounts and links vary) sent by four ordinary numbers to many
/// recipients is flagged within a bounded number of messages, with the template, its counts
/// and an example in the evidence.
#[test]
fn sms_template_to_many_recipients_from_several_senders_is_a_campaign() {
    let e = Engine::new(load_pack(&rules_dir()).unwrap());
    let names = ["王伟", "李娜", "张敏", "刘洋", "陈静"];
    let mut flagged = None;
    for i in 0..30u64 {
        let sender = format!("+86171000050{:02}", i % 4);
        let recipient = format!("+86171000060{:02}", i);
        let name = names[(i % 5) as usize];
        let text = format!(
            "{name}您好，周末新店开业全场五折，凭本短信到店再送{}元购物券，详情点击http://s{i}.example/a{i}",
            20 + i
        );
        let d = e.decide(&Event::sms(&sender, &recipient, &text, 1_000 + i * 3_000));
        if d.verdict != Verdict::Pass {
            assert_eq!(d.verdict, Verdict::Warn, "{}", json(&d));
            assert_eq!(d.rule.as_deref(), Some("sms-template-campaign"));
            let campaign = d.evidence.iter().find_map(|e| match e {
                Evidence::Campaign {
                    recipients,
                    senders,
                    example,
                    ..
                } => Some((*recipients, *senders, example.clone())),
                _ => None,
            });
            let (recipients, senders, example) = campaign.expect("campaign evidence");
            assert!(recipients >= 10 && senders >= 3, "{}", json(&d));
            assert!(example.contains("新店开业"));
            flagged = Some(i);
            break;
        }
    }
    assert!(flagged.is_some_and(|i| i < 12), "flagged at {flagged:?}");
}

/// The false alarm of the campaign detector: a bank's or operator's bulk notice from its own
/// (allowlisted) number to many customers, and a family group greeting sent by one person.
#[test]
fn bulk_notices_from_known_senders_are_not_a_campaign() {
    let e = Engine::new(load_pack(&rules_dir()).unwrap());
    for i in 0..60u64 {
        let recipient = format!("+86171000070{:02}", i);
        let text = format!(
            "尊敬的客户，您尾号{:04}的账户于今日完成年度结息，利息已存入您的账户，详询客服。",
            1000 + i
        );
        let d = e.decide(&Event::sms("95588", &recipient, &text, 1_000 + i * 500));
        assert_eq!(d.verdict, Verdict::Pass, "{i}: {}", json(&d));
    }
    for i in 0..15u64 {
        let recipient = format!("+86171000080{:02}", i);
        let d = e.decide(&Event::sms(
            "+8617100008100",
            &recipient,
            "祝大家新年快乐，身体健康，万事如意，阖家幸福！",
            1_000 + i * 30_000,
        ));
        assert_eq!(d.verdict, Verdict::Pass, "{i}: {}", json(&d));
    }
}

/// A text the engine could not examine whole (here longer than `max_text_bytes`; a scan
/// failure or the matcher's hit limit count the same) is decided on what was read, and the
/// decision says it is degraded; an ordinary text is not.
#[test]
fn text_not_examined_whole_makes_a_degraded_decision() {
    assert!(!sms("今天下午开会").degraded);
    let flood = "今天天气很好".repeat(4_000);
    let d = sms(&flood);
    assert!(d.degraded, "{}", json(&d));
    assert!(json(&d).contains("\"degraded\":true"));
    assert!(!json(&sms("你好")).contains("degraded"));
}

/// Scam shapes written for this test (not taken from any corpus; hosts on reserved names,
/// numbers synthetic): each is caught by what it claims, threatens and asks, and where its link
/// goes, while the institutions' own notices pass.
#[test]
fn scam_shapes_are_caught_and_official_notices_pass() {
    let caught = [
        (Verdict::Block, "【中国移动】尊敬的用户，您的话费积分即将清零，可兑换现金128元，请登录 http://10086-jf.example/d 领取。"),
        (Verdict::Block, "尊敬的客户：您的ETC卡已失效，为避免影响高速通行，请于今日登录 http://etc-rz.example/a 重新认证。"),
        (Verdict::Warn, "【社保局】您有一笔年度社保补贴待领取，请点击 https://sb-bt.example/q 填写银行卡信息申领。"),
        (Verdict::Block, "尊敬的建设银行用户，您的账户存在异常已被临时冻结，请登录 http://203.0.113.9/ccb 解除限制。"),
        (Verdict::Block, "恭喜您成为本季幸运用户，获得现金8888元及笔记本电脑一台，请点击 http://t.cn/AbCdE 领取，需先缴纳公证费。"),
        (Verdict::Block, "尊敬的旅客，您预订的航班因机械故障已取消，请致电客服 17100001111 办理改签，改签成功后每位补偿300元。"),
        (Verdict::Warn, "这是我们上次聚会的照片，你看看是不是你 http://photo-share.example/x8"),
        (Verdict::Block, "免费荐股，每天推荐两只涨停牛股，绝不收费，人满即封，加老师微信 gp6688 进群。"),
        (Verdict::Block, "【工商银行】您的电子密码器将于明日过期，请尽快登录 http://icbc-mm.example/ 进行升级，否则将无法使用。"),
    ];
    for (want, text) in caught {
        let d = sms(text);
        assert!(d.verdict >= want, "{text}: {}", json(&d));
    }
    for text in [
        "【工商银行】您尾号1234的卡于10月3日消费支出500.00元，余额2000.00元。",
        "【中国移动】您本月套餐内流量已使用80%，详情请登录 https://wap.10086.cn/ 查询。",
        "明天下午三点开会，请大家准时参加，会议链接 https://meeting.example.com/123",
    ] {
        assert_verdict(text, Verdict::Pass);
    }
}

#[test]
fn decision_json_has_the_contract_fields() {
    let d = sms("你好");
    let v: serde_json::Value = serde_json::from_str(&json(&d)).unwrap();
    for key in [
        "verdict",
        "rule",
        "categories",
        "evidence",
        "caller",
        "callee",
    ] {
        assert!(v.get(key).is_some(), "{key} missing: {v}");
    }
    assert_eq!(v["verdict"], "pass");
    assert_eq!(v["callee"]["normalised"], "+8613800000001");
    assert_eq!(v["caller"]["kind"], "e164");
}

#[test]
fn a_decision_names_the_conditions_of_its_rule() {
    let d = sms("您的身份证涉嫌洗钱，请立即将资金转入安全账户配合调查，否则冻结名下所有账户。");
    assert_eq!(d.verdict, Verdict::Block);
    assert!(
        d.conditions
            .contains(interdict_engine::policy::Condition::Text),
        "{:?}",
        d.conditions
    );
    assert!(json(&d).contains("\"conditions\":[") && json(&d).contains("\"text\""));
    // A pass names none, and says nothing of them.
    let pass = sms("周末一起去爬山吗？天气预报说是晴天。");
    assert_eq!(pass.verdict, Verdict::Pass);
    assert!(pass.conditions.is_empty() && !json(&pass).contains("conditions"));
}
