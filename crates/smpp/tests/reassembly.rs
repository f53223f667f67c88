//! Reassembly of concatenated messages: a fraud phrase split across parts is
//! seen whole; out-of-order, duplicate, contradicting, missing-part (expiry)
//! and memory-limit (eviction) cases.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use interdict_smpp::text::{self, TextFlags, TextOptions};
use interdict_smpp::{
    Address, Body, Concat, ConcatSource, Part, PartError, Pdu, Reassembler, ReassemblyConfig, Sm,
};

// Synthetic numbers from the +86 170/171 virtual-operator ranges.
const FROM: &[u8] = b"8617000000001";
const TO: &[u8] = b"8617100000002";

/// Wire bytes of a deliver_sm carrying one UCS-2 part with an 8-bit-reference UDH.
fn part_pdu(reference: u8, total: u8, seq: u8, text: &str) -> Vec<u8> {
    let mut user_data = vec![0x05, 0x00, 0x03, reference, total, seq];
    for unit in text.encode_utf16() {
        user_data.extend_from_slice(&unit.to_be_bytes());
    }
    let sm = Sm {
        source: Address {
            ton: 1,
            npi: 1,
            addr: FROM,
        },
        destination: Address {
            ton: 1,
            npi: 1,
            addr: TO,
        },
        esm_class: 0x40,
        data_coding: 0x08,
        short_message: &user_data,
        ..Default::default()
    };
    Pdu {
        command_status: 0,
        sequence_number: u32::from(seq),
        body: Body::DeliverSm(sm),
    }
    .to_vec()
    .unwrap()
}

/// Decode the PDU and hand its part to the reassembler, as the gateway does.
fn feed(r: &mut Reassembler, now: Instant, wire: &[u8]) -> interdict_smpp::Pushed {
    let pdu = Pdu::decode(wire).unwrap();
    let sm = pdu.as_sm().unwrap();
    let message = sm.message().unwrap();
    let decoded = text::decode(&message, &TextOptions::default());
    let part = Part {
        source: sm.source.addr,
        destination: sm.destination.addr,
        concat: message.concat.unwrap(),
        text: &decoded.text,
        flags: decoded.flags,
    };
    r.push(now, part).unwrap()
}

const PARTS: [&str; 3] = [
    "【公安局】您的账户涉嫌洗钱，请立即将资金转入安",
    "全账户配合调查，否则将冻结",
    "您名下所有银行卡。",
];

#[test]
fn fraud_phrase_straddling_parts_comes_out_whole() {
    let mut r = Reassembler::new(ReassemblyConfig::default());
    let t0 = Instant::now();
    let wires: Vec<Vec<u8>> = (0..3)
        .map(|i| part_pdu(0x7A, 3, i as u8 + 1, PARTS[i]))
        .collect();
    assert!(
        PARTS.iter().all(|p| !p.contains("安全账户")),
        "no part holds the phrase alone"
    );
    assert!(feed(&mut r, t0, &wires[0]).complete.is_none());
    assert!(feed(&mut r, t0, &wires[1]).complete.is_none());
    let done = feed(&mut r, t0, &wires[2])
        .complete
        .expect("third part completes");
    assert_eq!(done.text, PARTS.concat());
    assert!(done.text.contains("安全账户"));
    assert!(done.missing.is_empty());
    assert!(!done.flags.contains(TextFlags::PARTIAL));
    assert!(done.flags.contains(TextFlags::PART));
    assert_eq!(
        (
            done.source.as_slice(),
            done.destination.as_slice(),
            done.reference,
            done.total
        ),
        (FROM, TO, 0x7A, 3)
    );
    assert_eq!(r.pending(), 0);
    assert_eq!(r.bytes(), 0, "all memory released");
    assert_eq!(r.stats().completed, 1);
}

#[test]
fn out_of_order_parts_complete_in_order() {
    let mut r = Reassembler::new(ReassemblyConfig::default());
    let t0 = Instant::now();
    assert!(feed(&mut r, t0, &part_pdu(9, 3, 3, PARTS[2]))
        .complete
        .is_none());
    assert!(feed(&mut r, t0, &part_pdu(9, 3, 1, PARTS[0]))
        .complete
        .is_none());
    let done = feed(&mut r, t0, &part_pdu(9, 3, 2, PARTS[1]))
        .complete
        .unwrap();
    assert_eq!(done.text, PARTS.concat());
}

#[test]
fn duplicates_are_counted_and_contradictions_flagged() {
    let mut r = Reassembler::new(ReassemblyConfig::default());
    let t0 = Instant::now();
    feed(&mut r, t0, &part_pdu(5, 2, 1, "刷单"));
    feed(&mut r, t0, &part_pdu(5, 2, 1, "刷单"));
    let done = feed(&mut r, t0, &part_pdu(5, 2, 2, "返利"))
        .complete
        .unwrap();
    assert_eq!(done.text, "刷单返利");
    assert!(done.flags.contains(TextFlags::DUPLICATE));
    assert!(!done.flags.contains(TextFlags::CONTRADICTION));
    assert_eq!(r.stats().duplicates, 1);

    // Same position, other content: the first is kept, the message is flagged.
    feed(&mut r, t0, &part_pdu(6, 2, 1, "垫付"));
    feed(&mut r, t0, &part_pdu(6, 2, 1, "佣金"));
    let done = feed(&mut r, t0, &part_pdu(6, 2, 2, "返还"))
        .complete
        .unwrap();
    assert_eq!(done.text, "垫付返还");
    assert!(done.flags.contains(TextFlags::CONTRADICTION));

    // Same reference, another total: both messages are flagged.
    feed(&mut r, t0, &part_pdu(7, 3, 1, "导师"));
    let other = feed(&mut r, t0, &part_pdu(7, 2, 2, "带单"));
    assert!(other.complete.is_none());
    let done = feed(&mut r, t0, &part_pdu(7, 2, 1, "稳赚"))
        .complete
        .unwrap();
    assert!(done.flags.contains(TextFlags::CONTRADICTION));
    assert_eq!(r.stats().contradictions, 2);
}

#[test]
fn missing_part_expires_as_flagged_partial() {
    let config = ReassemblyConfig {
        ttl: Duration::from_secs(30),
        ..Default::default()
    };
    let mut r = Reassembler::new(config);
    let t0 = Instant::now();
    feed(&mut r, t0, &part_pdu(1, 3, 1, PARTS[0]));
    feed(
        &mut r,
        t0 + Duration::from_secs(5),
        &part_pdu(1, 3, 3, PARTS[2]),
    );
    assert!(r.expire(t0 + Duration::from_secs(29)).is_empty(), "not yet");
    let expired = r.expire(t0 + Duration::from_secs(30));
    assert_eq!(expired.len(), 1);
    let partial = &expired[0];
    assert_eq!(partial.missing, vec![2]);
    assert_eq!(partial.text, format!("{}\u{FFFD}{}", PARTS[0], PARTS[2]));
    assert!(partial.flags.contains(TextFlags::PARTIAL));
    assert!(!partial.flags.contains(TextFlags::EVICTED));
    assert_eq!(r.stats().expired, 1);
    assert_eq!(r.pending(), 0);
    // A late part now starts a new pending message rather than resurrecting the old one.
    let late = feed(
        &mut r,
        t0 + Duration::from_secs(31),
        &part_pdu(1, 3, 2, PARTS[1]),
    );
    assert!(late.complete.is_none());
    assert_eq!(r.pending(), 1);
}

#[test]
fn push_releases_expired_messages_too() {
    let config = ReassemblyConfig {
        ttl: Duration::from_secs(10),
        ..Default::default()
    };
    let mut r = Reassembler::new(config);
    let t0 = Instant::now();
    feed(&mut r, t0, &part_pdu(1, 2, 1, "解冻金"));
    let pushed = feed(
        &mut r,
        t0 + Duration::from_secs(11),
        &part_pdu(2, 2, 1, "无抵押"),
    );
    assert_eq!(pushed.released.len(), 1);
    assert_eq!(pushed.released[0].reference, 1);
    assert!(pushed.released[0].flags.contains(TextFlags::PARTIAL));
}

#[test]
fn pending_limit_evicts_oldest_first_and_counts() {
    let config = ReassemblyConfig {
        max_pending: 2,
        ..Default::default()
    };
    let mut r = Reassembler::new(config);
    let t0 = Instant::now();
    feed(&mut r, t0, &part_pdu(1, 2, 1, "一"));
    feed(&mut r, t0, &part_pdu(2, 2, 1, "二"));
    let pushed = feed(&mut r, t0, &part_pdu(3, 2, 1, "三"));
    assert_eq!(pushed.released.len(), 1);
    let evicted = &pushed.released[0];
    assert_eq!(evicted.reference, 1, "oldest first");
    assert!(evicted
        .flags
        .contains(TextFlags::EVICTED | TextFlags::PARTIAL));
    assert_eq!(evicted.text, "一\u{FFFD}");
    assert_eq!(r.stats().evicted, 1);
    assert_eq!(r.pending(), 2);
    // The survivors still complete.
    assert_eq!(
        feed(&mut r, t0, &part_pdu(2, 2, 2, "二"))
            .complete
            .unwrap()
            .text,
        "二二"
    );
}

#[test]
fn byte_limit_bounds_memory() {
    let config = ReassemblyConfig {
        max_bytes: 600,
        ..Default::default()
    };
    let mut r = Reassembler::new(config);
    let t0 = Instant::now();
    let long = "诈".repeat(60); // 180 bytes of text
    let mut evicted = 0;
    for reference in 0..20u8 {
        let pushed = feed(&mut r, t0, &part_pdu(reference, 4, 1, &long));
        evicted += pushed.released.len();
        assert!(r.bytes() <= 600, "held {} bytes", r.bytes());
    }
    assert!(evicted >= 15, "evicted {evicted}");
    assert_eq!(r.stats().evicted as usize, evicted);
    // A part too large to hold at all comes straight back, flagged.
    let huge = "骗".repeat(300);
    let concat = Concat {
        reference: 99,
        total: 2,
        seq: 1,
        source: ConcatSource::Sar,
    };
    let part = Part {
        source: FROM,
        destination: TO,
        concat,
        text: &huge,
        flags: TextFlags::NONE,
    };
    let pushed = r.push(t0, part).unwrap();
    assert!(pushed
        .released
        .iter()
        .any(|m| m.reference == 99 && m.flags.contains(TextFlags::EVICTED)));
}

#[test]
fn one_message_with_many_parts_cannot_exceed_the_byte_limit() {
    let config = ReassemblyConfig {
        max_bytes: 600,
        ..Default::default()
    };
    let mut r = Reassembler::new(config);
    let t0 = Instant::now();
    feed(&mut r, t0, &part_pdu(50, 2, 1, "早到"));
    let long = "诈".repeat(60); // 180 bytes per part
    let mut released = Vec::new();
    for seq in 1..=10u8 {
        released.extend(feed(&mut r, t0, &part_pdu(1, 10, seq, &long)).released);
        assert!(
            r.bytes() <= 600,
            "held {} bytes after part {seq}",
            r.bytes()
        );
    }
    // The older, unrelated message went first; then the big one came back partial.
    assert_eq!(released[0].reference, 50);
    let big: Vec<_> = released.iter().filter(|m| m.reference == 1).collect();
    assert!(!big.is_empty());
    assert!(big.iter().all(|m| m.flags.contains(TextFlags::EVICTED)));
    assert!(big[0].text.starts_with(&long));
}

#[test]
fn impossible_positions_are_refused() {
    let mut r = Reassembler::new(ReassemblyConfig::default());
    let concat = |total, seq| Concat {
        reference: 1,
        total,
        seq,
        source: ConcatSource::Udh8,
    };
    for (total, seq) in [(0, 0), (3, 0), (3, 4)] {
        let part = Part {
            source: FROM,
            destination: TO,
            concat: concat(total, seq),
            text: "x",
            flags: TextFlags::NONE,
        };
        assert_eq!(
            r.push(Instant::now(), part).unwrap_err(),
            PartError::BadPosition { seq, total }
        );
    }
}
