//! SMPP codec benchmarks (criterion, PDUs per second per core).
//!
//! Decodes, from the same bytes in the same run: a submit_sm carrying 70
//! Chinese characters in UCS-2, a deliver_sm delivery receipt and an
//! enquire_link with `interdict-smpp`; the submit_sm decode + text; and the same
//! bytes with `rusmpp-core` (borrowed, the fastest `rusmpp` path) and `smpp-codec` for
//! reference. Run: `cargo bench --bench smpp`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use interdict_smpp::text::{self, TextOptions};
use interdict_smpp::tlv::write_tlv;
use interdict_smpp::{Address, Body, Pdu, Sm, TlvTag, Tlvs};

/// 70 Chinese characters (an impersonation-of-police script, synthetic).
const SCRIPT: &str = "【公安局】您的身份信息涉嫌一起洗钱案件，已被列入通缉名单，请立即将名下资金转入国家安全账户配合调查，否则将冻结您全部银行账户，详情请联系专案民警核实处理。";

fn submit_sm() -> Vec<u8> {
    let text: String = SCRIPT.chars().take(70).collect();
    assert_eq!(text.chars().count(), 70);
    let ucs2: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
    let sm = Sm {
        source: Address {
            ton: 1,
            npi: 1,
            addr: b"8617000000001",
        }, // synthetic +86 170
        destination: Address {
            ton: 1,
            npi: 1,
            addr: b"8617100000002",
        }, // synthetic +86 171
        registered_delivery: 1,
        data_coding: 8,
        short_message: &ucs2,
        ..Default::default()
    };
    Pdu {
        command_status: 0,
        sequence_number: 0x1234,
        body: Body::SubmitSm(sm),
    }
    .to_vec()
    .unwrap()
}

fn delivery_receipt() -> Vec<u8> {
    let receipt = b"id:0123456789 sub:001 dlvrd:001 submit date:2611230101 done date:2611230102 stat:DELIVRD err:000 text:";
    let mut tlvs = Vec::new();
    write_tlv(&mut tlvs, TlvTag::ReceiptedMessageId, b"0123456789\0").unwrap();
    write_tlv(&mut tlvs, TlvTag::MessageState, &[2]).unwrap();
    let sm = Sm {
        source: Address {
            ton: 1,
            npi: 1,
            addr: b"8617100000002",
        },
        destination: Address {
            ton: 1,
            npi: 1,
            addr: b"8617000000001",
        },
        esm_class: 0x04,
        short_message: receipt,
        tlvs: Tlvs::parse(&tlvs).unwrap(),
        ..Default::default()
    };
    Pdu {
        command_status: 0,
        sequence_number: 99,
        body: Body::DeliverSm(sm),
    }
    .to_vec()
    .unwrap()
}

fn enquire_link() -> Vec<u8> {
    Pdu {
        command_status: 0,
        sequence_number: 7,
        body: Body::EnquireLink,
    }
    .to_vec()
    .unwrap()
}

fn rusmpp_core_borrowed(buf: &[u8]) -> bool {
    use rusmpp_core::command::borrowed::Command;
    use rusmpp_core::decode::borrowed::DecodeWithLength;
    Command::<'_, 16>::decode(&buf[4..], buf.len() - 4).is_ok()
}

fn bench(c: &mut Criterion) {
    let submit = submit_sm();
    let receipt = delivery_receipt();
    let link = enquire_link();
    // Same bytes decode to the same meaning in every library.
    assert!(
        rusmpp_core_borrowed(&submit)
            && rusmpp_core_borrowed(&receipt)
            && rusmpp_core_borrowed(&link)
    );
    let other = smpp_codec::pdus::SubmitSmRequest::decode(&submit).unwrap();
    assert_eq!(other.dest_addr, "8617100000002");

    let mut g = c.benchmark_group("smpp_decode");
    g.throughput(Throughput::Elements(1));
    g.bench_function("interdict/submit_sm_ucs2_70", |b| {
        b.iter(|| {
            let pdu = Pdu::decode(black_box(&submit)).unwrap();
            black_box(pdu.as_sm().unwrap().short_message.len())
        })
    });
    g.bench_function("interdict/deliver_sm_receipt", |b| {
        b.iter(|| {
            let pdu = Pdu::decode(black_box(&receipt)).unwrap();
            black_box(pdu.as_sm().unwrap().tlvs.receipted_message_id())
        })
    });
    g.bench_function("interdict/enquire_link", |b| {
        b.iter(|| black_box(Pdu::decode(black_box(&link)).unwrap().sequence_number))
    });
    g.bench_function("interdict/submit_sm_ucs2_70+text", |b| {
        let options = TextOptions::default();
        b.iter(|| {
            let pdu = Pdu::decode(black_box(&submit)).unwrap();
            let message = pdu.as_sm().unwrap().message().unwrap();
            black_box(text::decode(&message, &options).text.len())
        })
    });
    g.bench_function("rusmpp_core_borrowed/submit_sm_ucs2_70", |b| {
        b.iter(|| black_box(rusmpp_core_borrowed(black_box(&submit))))
    });
    g.bench_function("rusmpp_core_borrowed/deliver_sm_receipt", |b| {
        b.iter(|| black_box(rusmpp_core_borrowed(black_box(&receipt))))
    });
    g.bench_function("rusmpp_core_borrowed/enquire_link", |b| {
        b.iter(|| black_box(rusmpp_core_borrowed(black_box(&link))))
    });
    g.bench_function("smpp_codec/submit_sm_ucs2_70", |b| {
        b.iter(|| black_box(smpp_codec::pdus::SubmitSmRequest::decode(black_box(&submit)).is_ok()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
