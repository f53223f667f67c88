//! Encoders the proxy uses: replies with error statuses, in-place sequence
//! patching, and the warn-path rewrite that prefixes the message text.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use interdict_smpp::encode::{self, generic_nack};
use interdict_smpp::rewrite::{prefix_text, RewriteError};
use interdict_smpp::text::{self, TextFlags, TextOptions};
use interdict_smpp::{
    patch_sequence, status, Address, Body, CommandId, DecodeError, EncodeError, Pdu, Sm, TlvTag,
    Tlvs,
};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

const WARN: &str = "【反诈提醒】";

fn ucs2(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_be_bytes).collect()
}

fn sm<'a>(data_coding: u8, esm_class: u8, short_message: &'a [u8], tlvs: Tlvs<'a>) -> Sm<'a> {
    Sm {
        source: Address {
            ton: 1,
            npi: 1,
            addr: b"8617000000001",
        }, // synthetic
        destination: Address {
            ton: 1,
            npi: 1,
            addr: b"8617100000002",
        }, // synthetic
        esm_class,
        data_coding,
        short_message,
        tlvs,
        ..Default::default()
    }
}

#[test]
fn replies_have_the_exact_wire_form() {
    let mut out = Vec::new();
    generic_nack(&mut out, status::ESME_RINVCMDID, 0x0a34_2ee7);
    assert_eq!(out, hex("0000001080000000000000030a342ee7"));

    // From the corpus note on decodeDeliverSMWithNotPerSpecSequenceNumberButNeedsToBeValid.
    out.clear();
    encode::deliver_sm_resp(&mut out, 0, 0x806A_179B);
    assert_eq!(out, hex("000000118000000500000000806a179b00"));

    out.clear();
    encode::submit_sm_resp(&mut out, status::ESME_RINVDSTADR, 42, None).unwrap();
    assert_eq!(out, hex("00000010800000040000000b0000002a"));

    out.clear();
    encode::submit_sm_resp(&mut out, 0, 42, Some(b"abc")).unwrap();
    assert_eq!(
        out,
        hex(concat!(
            "00000014", "80000004", "00000000", "0000002a", "61626300"
        ))
    );
    let pdu = Pdu::decode(&out).unwrap();
    assert!(matches!(pdu.body, Body::SubmitSmResp(Some(r)) if r.message_id == b"abc"));

    let err = encode::submit_sm_resp(&mut out, 0, 1, Some(&[b'x'; 300])).unwrap_err();
    assert!(matches!(
        err,
        EncodeError::BadCString {
            field: "message_id",
            ..
        }
    ));
    assert_eq!(out.len(), 20, "a refused PDU leaves the buffer as it was");
}

#[test]
fn unknown_command_is_answered_with_generic_nack() {
    let wire = hex("0000001000000110000000000a342ee7");
    let err = Pdu::decode(&wire).unwrap_err();
    assert!(err.is_recoverable());
    let mut out = Vec::new();
    generic_nack(
        &mut out,
        err.command_status(),
        err.sequence_number().unwrap(),
    );
    let nack = Pdu::decode(&out).unwrap();
    assert_eq!(
        (nack.body, nack.command_status, nack.sequence_number),
        (Body::GenericNack, 3, 0x0a34_2ee7)
    );
    assert!(matches!(err, DecodeError::UnknownCommandId { .. }));
}

#[test]
fn patch_sequence_changes_only_the_sequence_number() {
    let body = ucs2("你好");
    let original = Pdu {
        command_status: 0,
        sequence_number: 5,
        body: Body::SubmitSm(sm(8, 0, &body, Tlvs::EMPTY)),
    };
    let wire = original.to_vec().unwrap();
    let mut patched = wire.clone();
    patch_sequence(&mut patched, 0xDEAD_BEEF).unwrap();
    assert_eq!(&patched[..12], &wire[..12]);
    assert_eq!(&patched[16..], &wire[16..]);
    assert_eq!(Pdu::decode(&patched).unwrap().sequence_number, 0xDEAD_BEEF);
    assert_eq!(
        patch_sequence(&mut [0u8; 15], 1),
        Err(EncodeError::NotAPdu(15))
    );
}

/// `wire` with `prefix` put before its text, by the warn-path rewrite.
fn prefixed(wire: &[u8], prefix: &str) -> Vec<u8> {
    let mut out = Vec::new();
    prefix_text(
        &mut out,
        &Pdu::decode(wire).unwrap(),
        prefix,
        &TextOptions::default(),
    )
    .unwrap();
    out
}

fn rewritten_text(wire: &[u8]) -> (Pdu<'_>, String, TextFlags) {
    let pdu = Pdu::decode(wire).unwrap();
    let message = pdu.as_sm().unwrap().message().unwrap();
    let t = text::decode(&message, &TextOptions::default());
    (pdu, t.text, t.flags)
}

#[test]
fn warn_prefix_on_ucs2_keeps_everything_else() {
    let body = ucs2("请将资金转入安全账户");
    let tlv_bytes = hex("0204000200071403000101");
    let original = Pdu {
        command_status: 0,
        sequence_number: 9,
        body: Body::SubmitSm(sm(8, 0, &body, Tlvs::parse(&tlv_bytes).unwrap())),
    };
    let wire = original.to_vec().unwrap();
    let out = prefixed(&wire, WARN);
    assert_eq!(
        u32::from_be_bytes(out[..4].try_into().unwrap()) as usize,
        out.len()
    );
    let (pdu, text, _) = rewritten_text(&out);
    assert_eq!(text, format!("{WARN}请将资金转入安全账户"));
    let sm = pdu.as_sm().unwrap();
    assert_eq!(sm.short_message.len(), (6 + 10) * 2, "sm_length recomputed");
    assert_eq!(
        sm.tlvs.raw(),
        &tlv_bytes[..],
        "other TLVs kept byte for byte"
    );
    assert_eq!(pdu.sequence_number, 9);
    assert_eq!(sm.destination.addr, b"8617100000002");
}

#[test]
fn warn_prefix_on_gsm_switches_to_ucs2() {
    let original = Pdu {
        command_status: 0,
        sequence_number: 1,
        body: Body::DeliverSm(sm(0, 0, b"Call 95588 now", Tlvs::EMPTY)),
    };
    let wire = original.to_vec().unwrap();
    let mut out = prefixed(&wire, WARN);
    let (pdu, text, _) = rewritten_text(&out);
    assert_eq!(pdu.command_id(), CommandId::DeliverSm);
    assert_eq!(pdu.as_sm().unwrap().data_coding, 8);
    assert_eq!(text, format!("{WARN}Call 95588 now"));

    // A GSM-representable prefix keeps the GSM coding.
    out = prefixed(&wire, "[WARN] ");
    let (pdu, text, _) = rewritten_text(&out);
    assert_eq!(
        (pdu.as_sm().unwrap().data_coding, text.as_str()),
        (0, "[WARN] Call 95588 now")
    );
}

#[test]
fn warn_prefix_on_gbk_keeps_gbk_unless_a_character_needs_ucs2() {
    // 刷单加微信 in GBK under data_coding 0x0F.
    let body = [0xcb, 0xa2, 0xb5, 0xa5, 0xbc, 0xd3, 0xce, 0xa2, 0xd0, 0xc5];
    let wire = Pdu {
        command_status: 0,
        sequence_number: 5,
        body: Body::SubmitSm(sm(0x0F, 0, &body, Tlvs::EMPTY)),
    }
    .to_vec()
    .unwrap();
    let mut out = prefixed(&wire, WARN);
    let (pdu, text, flags) = rewritten_text(&out);
    assert_eq!(text, format!("{WARN}刷单加微信"));
    assert!(flags.is_empty(), "{flags:?}");
    let sm_out = pdu.as_sm().unwrap();
    assert_eq!(sm_out.data_coding, 0x0F);
    // Two octets per character, the prefix's six included.
    assert_eq!(sm_out.short_message.len(), 2 * (6 + 5));

    // A prefix GBK cannot hold (an emoji) turns the text into UCS-2.
    out = prefixed(&wire, "\u{26a0}\u{fe0f}");
    let (pdu, text, _) = rewritten_text(&out);
    assert_eq!(pdu.as_sm().unwrap().data_coding, 8);
    assert_eq!(text, "\u{26a0}\u{fe0f}刷单加微信");
}

#[test]
fn long_or_payload_messages_go_to_message_payload() {
    let body = ucs2(&"稳赚不赔".repeat(31)); // 248 octets: with the prefix over 254
    let original = Pdu {
        command_status: 0,
        sequence_number: 3,
        body: Body::SubmitSm(sm(8, 0, &body, Tlvs::EMPTY)),
    };
    let wire = original.to_vec().unwrap();
    let mut out = prefixed(&wire, WARN);
    let (pdu, text, _) = rewritten_text(&out);
    let sm_out = pdu.as_sm().unwrap();
    assert!(sm_out.short_message.is_empty());
    assert_eq!(sm_out.tlvs.message_payload().unwrap().len(), 260);
    assert_eq!(text, format!("{WARN}{}", "稳赚不赔".repeat(31)));

    let mut payload_tlv = vec![0x04, 0x24, 0x00, 0x04];
    payload_tlv.extend_from_slice(&ucs2("刷单"));
    let original = Pdu {
        command_status: 0,
        sequence_number: 4,
        body: Body::DeliverSm(sm(8, 0, &[], Tlvs::parse(&payload_tlv).unwrap())),
    };
    let wire = original.to_vec().unwrap();
    out = prefixed(&wire, WARN);
    let (pdu, text, _) = rewritten_text(&out);
    assert_eq!(text, format!("{WARN}刷单"));
    assert_eq!(
        pdu.as_sm()
            .unwrap()
            .tlvs
            .get(TlvTag::MessagePayload)
            .unwrap()
            .value
            .len(),
        16
    );
}

#[test]
fn only_the_first_part_of_a_concatenated_message_is_prefixed() {
    let mut first = vec![0x05, 0x00, 0x03, 0x11, 0x02, 0x01];
    first.extend_from_slice(&ucs2("转入安"));
    let mut second = vec![0x05, 0x00, 0x03, 0x11, 0x02, 0x02];
    second.extend_from_slice(&ucs2("全账户"));
    let wire1 = Pdu {
        command_status: 0,
        sequence_number: 1,
        body: Body::SubmitSm(sm(8, 0x40, &first, Tlvs::EMPTY)),
    }
    .to_vec()
    .unwrap();
    let wire2 = Pdu {
        command_status: 0,
        sequence_number: 2,
        body: Body::SubmitSm(sm(8, 0x40, &second, Tlvs::EMPTY)),
    }
    .to_vec()
    .unwrap();
    let mut out = prefixed(&wire1, WARN);
    let (pdu, text, _) = rewritten_text(&out);
    assert_eq!(text, format!("{WARN}转入安"));
    let message = pdu.as_sm().unwrap().message().unwrap();
    assert_eq!(message.concat.unwrap().seq, 1, "UDH kept");
    out = prefixed(&wire2, WARN);
    assert_eq!(out, wire2, "later parts are forwarded unchanged");
}

#[test]
fn binary_messages_and_other_pdus_are_not_rewritten() {
    let wire = Pdu {
        command_status: 0,
        sequence_number: 1,
        body: Body::SubmitSm(sm(4, 0, &[1, 2], Tlvs::EMPTY)),
    }
    .to_vec()
    .unwrap();
    let mut out = Vec::new();
    let err = prefix_text(
        &mut out,
        &Pdu::decode(&wire).unwrap(),
        WARN,
        &TextOptions::default(),
    )
    .unwrap_err();
    assert_eq!(err, RewriteError::NotText(4));
    let wire = hex("00000010000000150000000000000001");
    let err = prefix_text(
        &mut out,
        &Pdu::decode(&wire).unwrap(),
        WARN,
        &TextOptions::default(),
    )
    .unwrap_err();
    assert_eq!(err, RewriteError::NotAShortMessage);
    assert!(out.is_empty());
}
