//! Zero copy: framing and decoding a submit_sm (UCS-2, UDH, TLVs), reading its
//! addresses, TLVs and message view allocate nothing. A counting global
//! allocator proves it (counting on this thread only).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use interdict_smpp::{frame, text, Address, Body, Pdu, Sm, TlvTag, DEFAULT_MAX_PDU_LEN};

#[path = "../../../tests/support/counting_alloc.rs"]
mod counting_alloc;

#[global_allocator]
static GLOBAL: counting_alloc::Counting = counting_alloc::Counting;

#[test]
fn decoding_a_submit_sm_allocates_nothing() {
    let mut user_data = vec![0x05, 0x00, 0x03, 0x42, 0x02, 0x01];
    for unit in "您涉嫌洗钱，请立即将资金转入安全账户".encode_utf16() {
        user_data.extend_from_slice(&unit.to_be_bytes());
    }
    let tlv = [
        0x02, 0x04, 0x00, 0x02, 0x00, 0x07, 0x14, 0x03, 0x00, 0x01, 0xAA,
    ];
    let sm = Sm {
        source: Address {
            ton: 1,
            npi: 1,
            addr: b"8617000000001",
        },
        destination: Address {
            ton: 1,
            npi: 1,
            addr: b"8617100000002",
        },
        esm_class: 0x40,
        data_coding: 0x08,
        registered_delivery: 1,
        short_message: &user_data,
        tlvs: interdict_smpp::Tlvs::parse(&tlv).unwrap(),
        ..Default::default()
    };
    let wire = Pdu {
        command_status: 0,
        sequence_number: 77,
        body: Body::SubmitSm(sm),
    }
    .to_vec()
    .unwrap();

    let (pdu, framing) = counting_alloc::allocations_in(|| {
        let len = frame(&wire, DEFAULT_MAX_PDU_LEN).unwrap().unwrap();
        Pdu::decode(&wire[..len]).unwrap()
    });
    let ((src, dst, reference, vendor, message, concat), reading) =
        counting_alloc::allocations_in(|| {
            let sm = pdu.as_sm().unwrap();
            let (src, dst) = (sm.source, sm.destination);
            let reference = sm
                .tlvs
                .get(TlvTag::UserMessageReference)
                .and_then(|t| t.as_u16());
            let vendor = sm
                .tlvs
                .iter()
                .filter(|t| matches!(t.tag, TlvTag::Other(0x1403)))
                .count();
            let message = sm.message().unwrap();
            let concat = message.concat.unwrap();
            (src, dst, reference, vendor, message, concat)
        });
    assert_eq!(
        (framing, reading),
        (0, 0),
        "allocations while framing and decoding, while reading"
    );
    assert_eq!((src.ton, src.npi, src.addr), (1, 1, &b"8617000000001"[..]));
    assert_eq!(dst.addr, b"8617100000002");
    assert_eq!(reference, Some(7));
    assert_eq!(vendor, 1);
    assert_eq!((concat.reference, concat.total, concat.seq), (0x42, 2, 1));
    // Text decoding is allowed to allocate (one String).
    let decoded = text::decode(&message, &text::TextOptions::default());
    assert!(decoded.text.ends_with("安全账户"));
}
