//! TLVs: named tags for SMPP 3.4 and 5.0, unknown tags kept in order byte for
//! byte, typed accessors, and TLV length lies reported with their offset.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use interdict_smpp::{DecodeError, FieldProblem, Pdu, TlvTag, Tlvs};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

#[test]
fn named_tags_round_trip_and_unknown_tags_stay_numbers() {
    for (value, tag) in [
        (0x0424, TlvTag::MessagePayload),
        (0x020C, TlvTag::SarMsgRefNum),
        (0x020E, TlvTag::SarTotalSegments),
        (0x020F, TlvTag::SarSegmentSeqnum),
        (0x020A, TlvTag::SourcePort),
        (0x0204, TlvTag::UserMessageReference),
        (0x001E, TlvTag::ReceiptedMessageId),
        (0x0427, TlvTag::MessageState),
        (0x0423, TlvTag::NetworkErrorCode),
        (0x0428, TlvTag::CongestionState),
        (0x060B, TlvTag::BillingIdentification),
        (0x0613, TlvTag::DestAddrNpCountry),
    ] {
        assert_eq!(TlvTag::from_u16(value), tag);
        assert_eq!(tag.to_u16(), value);
    }
    for value in 0..=u16::MAX {
        assert_eq!(TlvTag::from_u16(value).to_u16(), value);
    }
    assert_eq!(TlvTag::from_u16(0x1454), TlvTag::Other(0x1454));
}

#[test]
fn vendor_tlvs_are_preserved_in_order() {
    let raw = hex("14540002abcd0427000102141800030102030424000148");
    let tlvs = Tlvs::parse(&raw).unwrap();
    let tags: Vec<TlvTag> = tlvs.iter().map(|t| t.tag).collect();
    assert_eq!(
        tags,
        [
            TlvTag::Other(0x1454),
            TlvTag::MessageState,
            TlvTag::Other(0x1418),
            TlvTag::MessagePayload
        ]
    );
    assert_eq!(tlvs.iter().next().unwrap().value, [0xab, 0xcd]);
    assert_eq!(tlvs.message_state(), Some(2));
    assert_eq!(tlvs.message_payload(), Some(&b"H"[..]));
    assert_eq!(tlvs.raw(), &raw[..]);
}

#[test]
fn tlv_length_past_the_end_names_the_offset() {
    // enquire_link has no TLVs; use a bind_transceiver_resp: system_id "X" then a cut TLV.
    let wire = hex("0000001a80000009000000000000000158000210000501");
    let err = Pdu::decode(&wire[..]).unwrap_err();
    assert!(matches!(err, DecodeError::LengthMismatch { .. }), "{err}");
    let mut fixed = wire.clone();
    fixed[3] = wire.len() as u8;
    let err = Pdu::decode(&fixed).unwrap_err();
    assert_eq!(
        err,
        DecodeError::Field {
            pdu: "bind_transceiver_resp",
            field: "tlv",
            offset: 18,
            problem: FieldProblem::TlvPastEnd {
                tag: 0x0210,
                length: 5,
                available: 1
            },
            sequence_number: 1,
            command_id: 0x8000_0009,
        }
    );
    assert!(err.to_string().contains("byte 18"), "{err}");
}
