//! Text decoding: the external vectors of `shared/corpus/smpp/text/*.tsv`,
//! a Chinese UCS-2 submit_sm, a GSM 7-bit submit_sm with extension characters,
//! corpus PDUs with UDH/UCS-2/binary content, and the misbehaving-ESME cases.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use interdict_smpp::text::{self, gsm7, ucs2, Alphabet, DefaultAlphabet, TextFlags, TextOptions};
use interdict_smpp::{ConcatSource, Message, MessageError, Pdu, TlvTag};
use std::path::PathBuf;

fn corpus(name: &str) -> Option<String> {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus/smpp"
    ))
    .join(name);
    match std::fs::read_to_string(&path) {
        Ok(s) => Some(s),
        Err(_) => {
            eprintln!("SKIP: corpus file {} not found", path.display());
            None
        }
    }
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some('f') => out.push('\u{0C}'),
                Some('\\') => out.push('\\'),
                Some(other) => {
                    out.push('\\');
                    out.push(other)
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

#[test]
fn gsm7_packed_vectors_decode_and_encode() {
    let Some(file) = corpus("text/gsm7_packed.tsv") else {
        return;
    };
    let rows = rows(&file);
    assert!(rows.len() >= 15);
    for row in rows {
        let (want, octets) = (unescape(&row[0]), hex(&row[1]));
        let mut got = String::new();
        assert!(
            !gsm7::decode_packed(&octets, 0, &mut got).invalid,
            "{want:?}"
        );
        assert_eq!(got, want, "decode of {}", row[1]);
        let septets = gsm7::encode_unpacked(&want).unwrap();
        assert_eq!(gsm7::pack(&septets, 0), octets, "packing {want:?}");
    }
}

#[test]
fn gsm7_unpacked_vectors_decode_and_encode() {
    let Some(file) = corpus("text/gsm7_unpacked.tsv") else {
        return;
    };
    let rows = rows(&file);
    assert!(rows.len() >= 16);
    for row in rows {
        let (want, octets) = (unescape(&row[0]), hex(&row[1]));
        let mut got = String::new();
        assert!(!gsm7::decode_unpacked(&octets, &mut got).invalid);
        assert_eq!(got, want, "decode of {}", row[1]);
        assert_eq!(
            gsm7::encode_unpacked(&want).unwrap(),
            octets,
            "encode {want:?}"
        );
    }
}

#[test]
fn gsm7_invalid_vectors_are_reported() {
    let Some(file) = corpus("text/gsm7_invalid.tsv") else {
        return;
    };
    let rows = rows(&file);
    assert_eq!(rows.len(), 7);
    for row in rows {
        match row[0].as_str() {
            "encode" => assert_eq!(gsm7::encode_unpacked(&row[1]), Err('你')),
            "decode-unpacked" | "validate-unpacked" => {
                let mut out = String::new();
                assert!(
                    gsm7::decode_unpacked(&hex(&row[1]), &mut out).invalid,
                    "{} must be invalid",
                    row[1]
                );
                assert!(out.contains('\u{FFFD}'));
            }
            other => panic!("unknown kind {other}"),
        }
    }
}

#[test]
fn ucs2_vectors() {
    let Some(file) = corpus("text/ucs2.tsv") else {
        return;
    };
    let mut seen = 0;
    for row in rows(&file) {
        let mut out = String::new();
        let issues = ucs2::decode(&hex(&row[1]), &mut out);
        match row[0].as_str() {
            "howdy" => assert_eq!((out.as_str(), issues), ("你好！Howdy", Default::default())),
            "grin" => assert_eq!((out.as_str(), issues), ("😁", Default::default())),
            "dangling-surrogate" => {
                assert_eq!(out, "Howdy\u{FFFD}");
                assert!(issues.lone_surrogate);
            }
            "odd-length" => {
                assert!(issues.odd_length);
                assert_eq!(out, "\u{0102}\u{0304}\u{FFFD}");
            }
            "empty" => assert_eq!((out.as_str(), issues), ("", Default::default())),
            other => panic!("unknown case {other}"),
        }
        seen += 1;
    }
    assert_eq!(seen, 5);
}

#[test]
fn gosmpp_codings_including_bom_and_little_endian() {
    let Some(file) = corpus("text/gosmpp_codings.tsv") else {
        return;
    };
    for row in rows(&file) {
        let (want, octets) = (row[1].as_str(), hex(&row[2]));
        let mut out = String::new();
        match row[0].as_str() {
            "GSM7BITPACKED" => {
                gsm7::decode_packed(&octets, 0, &mut out);
            }
            "ASCII" | "LATIN1" => out.extend(octets.iter().map(|b| char::from(*b))),
            "UCS2" | "UTF16BE" => assert_eq!(ucs2::decode(&octets, &mut out), Default::default()),
            "UTF16BEM" => assert!(ucs2::decode(&octets, &mut out).bom),
            "UTF16LEM" => {
                let i = ucs2::decode(&octets, &mut out);
                assert!(i.bom && i.little_endian);
            }
            "UTF16LE" => {
                // Without a BOM a handset reads big-endian, and so does the gateway.
                let i = ucs2::decode(&octets, &mut out);
                assert!(!i.little_endian, "no BOM: big-endian");
                let units: Vec<u16> = octets
                    .chunks_exact(2)
                    .map(|p| u16::from_be_bytes([p[0], p[1]]))
                    .collect();
                assert_eq!(out, String::from_utf16_lossy(&units));
                continue;
            }
            other => panic!("unknown coding {other}"),
        }
        assert_eq!(out, want, "{}", row[0]);
    }
}

/// Build a submit_sm by hand (independently of the crate's encoder).
fn submit_sm(esm_class: u8, data_coding: u8, short_message: &[u8], tlvs: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(b"\0"); // service_type
    body.extend_from_slice(&[1, 1]);
    body.extend_from_slice(b"8617000000001\0"); // synthetic +86 170 virtual-operator number
    body.extend_from_slice(&[1, 1]);
    body.extend_from_slice(b"8617100000002\0"); // synthetic +86 171 number
    body.extend_from_slice(&[esm_class, 0, 0]);
    body.extend_from_slice(b"\0\0");
    body.extend_from_slice(&[1, 0, data_coding, 0, short_message.len() as u8]);
    body.extend_from_slice(short_message);
    body.extend_from_slice(tlvs);
    let mut pdu = ((16 + body.len()) as u32).to_be_bytes().to_vec();
    pdu.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 9]);
    pdu.extend_from_slice(&body);
    pdu
}

fn decode_text(wire: &[u8], options: &TextOptions) -> text::Text {
    let pdu = Pdu::decode(wire).unwrap();
    let message = pdu.as_sm().unwrap().message().unwrap();
    text::decode(&message, options)
}

#[test]
fn chinese_ucs2_submit_sm_decodes() {
    let script = "【公安局】您涉嫌洗钱，请将资金转入安全账户配合调查。";
    let mut octets = Vec::new();
    for unit in script.encode_utf16() {
        octets.extend_from_slice(&unit.to_be_bytes());
    }
    let wire = submit_sm(0, 0x08, &octets, &[]);
    let text = decode_text(&wire, &TextOptions::default());
    assert_eq!(text.text, script);
    assert_eq!(text.alphabet, Alphabet::Ucs2);
    assert!(text.flags.is_empty(), "{:?}", text.flags);
}

#[test]
fn gsm_submit_sm_with_extension_characters_decodes() {
    // "Pay €5 [now] {ok}" as unpacked septets, written out by hand.
    let septets = [
        0x50, 0x61, 0x79, 0x20, 0x1B, 0x65, 0x35, 0x20, 0x1B, 0x3C, 0x6E, 0x6F, 0x77, 0x1B, 0x3E,
        0x20, 0x1B, 0x28, 0x6F, 0x6B, 0x1B, 0x29,
    ];
    let wire = submit_sm(0, 0x00, &septets, &[]);
    let text = decode_text(&wire, &TextOptions::default());
    assert_eq!(text.text, "Pay €5 [now] {ok}");
    assert_eq!(text.alphabet, Alphabet::Gsm7);
    assert!(text.flags.is_empty());
    // The same text packed, with a per-link setting.
    let packed = gsm7::pack(&septets, 0);
    let wire = submit_sm(0, 0xF0, &packed, &[]);
    let options = TextOptions {
        gsm_packed: true,
        ..Default::default()
    };
    assert_eq!(decode_text(&wire, &options).text, "Pay €5 [now] {ok}");
}

#[test]
fn packed_gsm_after_udh_skips_fill_bits() {
    // UDH 05 00 03 2a 02 01 is 6 octets = 48 bits: text starts at septet 7 (1 fill bit).
    let udh = [0x05, 0x00, 0x03, 0x2a, 0x02, 0x01];
    let septets = gsm7::encode_unpacked("Hello {world}").unwrap();
    let mut user_data = udh.to_vec();
    let packed = gsm7::pack(&septets, 1);
    user_data.extend_from_slice(&packed);
    let wire = submit_sm(0x40, 0x00, &user_data, &[]);
    let options = TextOptions {
        gsm_packed: true,
        ..Default::default()
    };
    let pdu = Pdu::decode(&wire).unwrap();
    let message = pdu.as_sm().unwrap().message().unwrap();
    let concat = message.concat.unwrap();
    assert_eq!(
        (concat.reference, concat.total, concat.seq, concat.source),
        (0x2a, 2, 1, ConcatSource::Udh8)
    );
    let text = text::decode(&message, &options);
    assert_eq!(text.text, "Hello {world}");
    assert!(text.flags.contains(TextFlags::PART));
}

#[test]
fn data_coding_zero_follows_the_link_setting() {
    let wire = submit_sm(0, 0x00, b"@home_$5", &[]);
    assert_eq!(decode_text(&wire, &TextOptions::default()).text, "¡home§¤5");
    let ia5 = TextOptions {
        default_alphabet: DefaultAlphabet::Ia5,
        ..Default::default()
    };
    assert_eq!(decode_text(&wire, &ia5).text, "@home_$5");
    let latin1 = TextOptions {
        default_alphabet: DefaultAlphabet::Latin1,
        ..Default::default()
    };
    let wire = submit_sm(0, 0x00, &[0x63, 0x61, 0x66, 0xE9], &[]);
    assert_eq!(decode_text(&wire, &latin1).text, "café");
}

#[test]
fn utf8_sent_as_data_coding_zero_is_read_and_flagged() {
    let wire = submit_sm(0, 0x00, "刷单返利".as_bytes(), &[]);
    let text = decode_text(&wire, &TextOptions::default());
    assert_eq!(text.text, "刷单返利");
    assert_eq!(text.alphabet, Alphabet::Utf8);
    assert!(text.flags.contains(TextFlags::GUESSED));
}

#[test]
fn ucs2_with_bom_and_lone_surrogate_is_flagged() {
    let wire = submit_sm(0, 0x08, &[0xFF, 0xFE, 0x37, 0x52, 0x55, 0x53], &[]);
    let text = decode_text(&wire, &TextOptions::default());
    assert_eq!(text.text, "刷单");
    assert!(text
        .flags
        .contains(TextFlags::BOM | TextFlags::LITTLE_ENDIAN));
    let wire = submit_sm(0, 0x08, &[0x52, 0x37, 0xD8, 0x3D, 0x53, 0x55], &[]);
    let text = decode_text(&wire, &TextOptions::default());
    assert_eq!(text.text, "刷\u{FFFD}单");
    assert!(text.flags.contains(TextFlags::LONE_SURROGATE));
}

#[test]
fn binary_and_message_class_codings() {
    assert_eq!(
        text::alphabet(0x04, &TextOptions::default()),
        Alphabet::Binary
    );
    assert_eq!(
        text::alphabet(0x02, &TextOptions::default()),
        Alphabet::Binary
    );
    assert_eq!(
        text::alphabet(0xF5, &TextOptions::default()),
        Alphabet::Binary
    );
    assert_eq!(
        text::alphabet(0xF1, &TextOptions::default()),
        Alphabet::Gsm7
    );
    assert_eq!(
        text::alphabet(0x18, &TextOptions::default()),
        Alphabet::Ucs2
    );
    assert_eq!(
        text::alphabet(0x01, &TextOptions::default()),
        Alphabet::Ascii
    );
    assert_eq!(
        text::alphabet(0x03, &TextOptions::default()),
        Alphabet::Latin1
    );
    let wire = submit_sm(0, 0x04, &[1, 2, 3], &[]);
    let text = decode_text(&wire, &TextOptions::default());
    assert!(text.text.is_empty());
    assert!(text.flags.contains(TextFlags::BINARY));
    let wire = submit_sm(0, 0xF1, b"Hi", &[]);
    assert_eq!(decode_text(&wire, &TextOptions::default()).text, "Hi");
}

#[test]
fn national_language_shift_is_reported() {
    let user_data = [0x03, 0x24, 0x01, 0x01, 0x48, 0x69];
    let wire = submit_sm(0x40, 0x00, &user_data, &[]);
    let pdu = Pdu::decode(&wire).unwrap();
    let message = pdu.as_sm().unwrap().message().unwrap();
    let nl = message.udh.unwrap().national_language();
    assert_eq!((nl.single_shift, nl.locking_shift), (Some(1), None));
    let text = text::decode(&message, &TextOptions::default());
    assert_eq!(text.text, "Hi");
    assert!(text.flags.contains(TextFlags::NATIONAL_LANGUAGE));
}

#[test]
fn message_payload_replaces_short_message_and_sar_tlvs_give_concat() {
    let mut tlvs = Vec::new();
    for (tag, value) in [
        (0x020Cu16, &[0x12, 0x34][..]),
        (0x020E, &[3][..]),
        (0x020F, &[2][..]),
        (0x0424, &[0x00, 0x48, 0x00, 0x69][..]),
    ] {
        tlvs.extend_from_slice(&tag.to_be_bytes());
        tlvs.extend_from_slice(&(value.len() as u16).to_be_bytes());
        tlvs.extend_from_slice(value);
    }
    let wire = submit_sm(0, 0x08, &[], &tlvs);
    let pdu = Pdu::decode(&wire).unwrap();
    let sm = pdu.as_sm().unwrap();
    assert_eq!(
        sm.tlvs.get(TlvTag::SarMsgRefNum).unwrap().as_u16(),
        Some(0x1234)
    );
    let message = sm.message().unwrap();
    assert!(message.from_payload_tlv);
    let concat = message.concat.unwrap();
    assert_eq!(
        (concat.reference, concat.total, concat.seq, concat.source),
        (0x1234, 3, 2, ConcatSource::Sar)
    );
    assert_eq!(text::decode(&message, &TextOptions::default()).text, "Hi");
}

#[test]
fn inconsistent_lengths_are_typed_errors() {
    let payload = [0x04, 0x24, 0x00, 0x01, 0x41];
    // Both short_message and message_payload.
    let wire = submit_sm(0, 0, b"A", &payload);
    let pdu = Pdu::decode(&wire).unwrap();
    assert_eq!(
        pdu.as_sm().unwrap().message(),
        Err(MessageError::BothPayloads {
            sm_length: 1,
            payload_length: 1
        })
    );
    // sm_length 0 with the UDHI bit set.
    let wire = submit_sm(0x40, 0, &[], &[]);
    let pdu = Pdu::decode(&wire).unwrap();
    assert_eq!(
        pdu.as_sm().unwrap().message(),
        Err(MessageError::UdhiWithEmptyMessage)
    );
    // A UDH longer than the message.
    let wire = submit_sm(0x40, 0, &[0x05, 0x00, 0x03, 0x01], &[]);
    let pdu = Pdu::decode(&wire).unwrap();
    assert_eq!(
        pdu.as_sm().unwrap().message(),
        Err(MessageError::UdhPastEnd {
            udh_length: 5,
            message_length: 4
        })
    );
    // An element longer than the UDH.
    let wire = submit_sm(0x40, 0, &[0x03, 0x00, 0x03, 0x01, 0x41], &[]);
    let pdu = Pdu::decode(&wire).unwrap();
    assert!(matches!(
        pdu.as_sm().unwrap().message(),
        Err(MessageError::UdhElementPastEnd { iei: 0, .. })
    ));
    assert!(
        Message::from_parts(0x40, 0, &[0x00], &Default::default()).is_ok(),
        "empty UDH is fine"
    );
}

#[test]
fn turkish_and_spanish_single_shift_tables_apply() {
    let decode = |id: u8, septets: &[u8]| {
        let mut user_data = vec![0x03, 0x24, 0x01, id];
        user_data.extend_from_slice(septets);
        let wire = submit_sm(0x40, 0x00, &user_data, &[]);
        decode_text(&wire, &TextOptions::default())
    };
    // "Sí, señor" style words: 1B 69 is 'í' in the Spanish table, 'ı' in the Turkish one.
    let spanish = decode(2, &[0x53, 0x1B, 0x69, 0x20, 0x1B, 0x65]);
    assert_eq!(spanish.text, "Sí €");
    assert!(spanish.flags.contains(TextFlags::NATIONAL_LANGUAGE));
    assert!(!spanish.flags.contains(TextFlags::NATIONAL_TABLE_MISSING));
    let turkish = decode(1, &[0x1B, 0x53, 0x61, 0x1B, 0x69, 0x1B, 0x73]);
    assert_eq!(turkish.text, "Şaış");
    let unknown = decode(3, &[0x48, 0x69]);
    assert_eq!(unknown.text, "Hi");
    assert!(unknown.flags.contains(TextFlags::NATIONAL_TABLE_MISSING));
}

fn corpus_pdu(file: &str) -> Option<Vec<u8>> {
    corpus(file).map(|s| hex(s.trim()))
}

#[test]
fn corpus_pdus_carry_the_recorded_text() {
    let options = TextOptions::default();
    let Some(wire) = corpus_pdu("pdus/gosmpp/TestDeliverSMwithUDH_1.hex") else {
        return;
    };
    let pdu = Pdu::decode(&wire).unwrap();
    let message = pdu.as_sm().unwrap().message().unwrap();
    let c = message.concat.unwrap();
    assert_eq!((c.reference, c.total, c.seq), (254, 2, 1));
    assert_eq!(
        text::decode(&message, &options).text,
        "nghắ nghiêng nghiễng ngả"
    );

    let wire = corpus_pdu("pdus/telenor/DeliverSmTest.splitMo_1.hex").unwrap();
    let pdu = Pdu::decode(&wire).unwrap();
    let message = pdu.as_sm().unwrap().message().unwrap();
    let c = message.concat.unwrap();
    assert_eq!((c.reference, c.total, c.seq), (47, 10, 2));
    assert_eq!(
        text::decode(&message, &options).text,
        "g, Harry, but perhaps those who are best suited to power are those "
    );

    let wire = corpus_pdu("pdus/cloudhopper/decodeDeliverSmAsDeliveryReceipt.hex").unwrap();
    assert!(Pdu::decode(&wire)
        .unwrap()
        .as_sm()
        .unwrap()
        .is_delivery_receipt());
    let wire = corpus_pdu("pdus/jasmin/test_smpp_drop_on_unknown_char.hex").unwrap();
    assert!(!Pdu::decode(&wire)
        .unwrap()
        .as_sm()
        .unwrap()
        .is_delivery_receipt());
    let pdu = Pdu::decode(&wire).unwrap();
    assert_eq!(
        text::decode(&pdu.as_sm().unwrap().message().unwrap(), &options).text,
        "§"
    );

    let wire = corpus_pdu("pdus/smpp.pdu/test_SubmitSM_ringtone_conversion.hex").unwrap();
    let pdu = Pdu::decode(&wire).unwrap();
    let message = pdu.as_sm().unwrap().message().unwrap();
    assert_eq!(message.udh.unwrap().ports(), Some((5505, 5505)));
    assert!(text::decode(&message, &options)
        .flags
        .contains(TextFlags::BINARY));

    let wire =
        corpus_pdu("pdus/cloudhopper/decodeDeliverSmWithOptionalMessagePayload.hex").unwrap();
    let pdu = Pdu::decode(&wire).unwrap();
    let message = pdu.as_sm().unwrap().message().unwrap();
    assert!(message.from_payload_tlv);
    assert_eq!(
        text::decode(&message, &options).text,
        "¡Maidenman664 was it sappy? &Romantic?"
    );
    let ia5 = TextOptions {
        default_alphabet: DefaultAlphabet::Ia5,
        ..Default::default()
    };
    assert_eq!(
        text::decode(&message, &ia5).text,
        "@Maidenman664 was it sappy? &Romantic?"
    );
}

#[test]
fn gbk_data_coding_0x0f_decodes() {
    // 【公安局】您涉嫌洗钱，请将资金转入安全账户。 in GBK, as Chinese SMSCs send it under the
    // reserved data_coding 0x0F (CMPP's msg_fmt 15); written out by hand.
    let octets = [
        0xa1, 0xbe, 0xb9, 0xab, 0xb0, 0xb2, 0xbe, 0xd6, 0xa1, 0xbf, 0xc4, 0xfa, 0xc9, 0xe6, 0xcf,
        0xd3, 0xcf, 0xb4, 0xc7, 0xae, 0xa3, 0xac, 0xc7, 0xeb, 0xbd, 0xab, 0xd7, 0xca, 0xbd, 0xf0,
        0xd7, 0xaa, 0xc8, 0xeb, 0xb0, 0xb2, 0xc8, 0xab, 0xd5, 0xcb, 0xbb, 0xa7, 0xa1, 0xa3,
    ];
    let wire = submit_sm(0, 0x0F, &octets, &[]);
    let text = decode_text(&wire, &TextOptions::default());
    assert_eq!(text.text, "【公安局】您涉嫌洗钱，请将资金转入安全账户。");
    assert_eq!(text.alphabet, Alphabet::Gbk);
    assert!(text.flags.is_empty(), "{:?}", text.flags);
    // GB18030's four-byte form (U+20000) and ASCII mixed in.
    let wire = submit_sm(0, 0x0F, &[b'V', 0xce, 0xa2, 0x95, 0x32, 0x82, 0x36], &[]);
    assert_eq!(
        decode_text(&wire, &TextOptions::default()).text,
        "V微\u{20000}"
    );
}

#[test]
fn malformed_gbk_is_replaced_and_flagged() {
    // 刷 (CB A2), then a lead byte cut off at the end of the message.
    let wire = submit_sm(0, 0x0F, &[0xcb, 0xa2, 0xb5], &[]);
    let text = decode_text(&wire, &TextOptions::default());
    assert_eq!(text.text, "刷\u{FFFD}");
    assert!(text.flags.contains(TextFlags::REPLACED));
}
