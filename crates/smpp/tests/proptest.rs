//! Property tests: decode(encode(pdu)) == pdu over generated PDUs of every
//! kind; arbitrary bytes and mutated valid PDUs never panic anywhere in the
//! pipeline (framing, decoding, message view, text, reassembly, rewrite).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use interdict_smpp::rewrite::prefix_text;
use interdict_smpp::text::{self, DefaultAlphabet, TextOptions};
use interdict_smpp::tlv::write_tlv;
use interdict_smpp::*;
use proptest::prelude::*;

/// Owned material a PDU of any kind is built from (the PDU borrows it).
#[derive(Debug, Clone)]
struct Material {
    kind: u8,
    status: u32,
    seq: u32,
    has_body: bool,
    strs: Vec<Vec<u8>>,
    nums: Vec<u8>,
    short_message: Vec<u8>,
    tlvs: Vec<u8>,
    dests: Vec<u8>,
    dest_count: u8,
    unsuccess: Vec<u8>,
    unsuccess_count: u8,
}

const KINDS: u8 = 27;

fn material() -> impl Strategy<Value = Material> {
    let string = prop::collection::vec(1u8..=255, 0..70);
    let tlv = (any::<u16>(), prop::collection::vec(any::<u8>(), 0..40));
    let dest = (
        any::<bool>(),
        any::<u8>(),
        any::<u8>(),
        prop::collection::vec(1u8..=255, 0..20),
    );
    let unsuccess = (
        any::<u8>(),
        any::<u8>(),
        prop::collection::vec(1u8..=255, 0..20),
        any::<u32>(),
    );
    (
        (0..KINDS, any::<u32>(), any::<u32>(), any::<bool>()),
        prop::collection::vec(string, 12),
        prop::collection::vec(any::<u8>(), 16),
        prop::collection::vec(any::<u8>(), 0..=255),
        prop::collection::vec(tlv, 0..4),
        prop::collection::vec(dest, 0..4),
        prop::collection::vec(unsuccess, 0..4),
    )
        .prop_map(
            |(
                (kind, status, seq, has_body),
                strs,
                nums,
                short_message,
                tlv_list,
                dest_list,
                unsuccess_list,
            )| {
                let mut tlvs = Vec::new();
                for (tag, value) in &tlv_list {
                    write_tlv(&mut tlvs, TlvTag::from_u16(*tag), value).unwrap();
                }
                let dest_values: Vec<Dest<'_>> = dest_list
                    .iter()
                    .map(|(sme, ton, npi, addr)| {
                        if *sme {
                            Dest::Sme(Address {
                                ton: *ton,
                                npi: *npi,
                                addr,
                            })
                        } else {
                            Dest::List(addr)
                        }
                    })
                    .collect();
                let mut dests = Vec::new();
                let dest_count = DestList::write(&dest_values, &mut dests).unwrap();
                let entries: Vec<Unsuccess<'_>> = unsuccess_list
                    .iter()
                    .map(|(ton, npi, addr, error_status)| Unsuccess {
                        address: Address {
                            ton: *ton,
                            npi: *npi,
                            addr,
                        },
                        error_status: *error_status,
                    })
                    .collect();
                let mut unsuccess = Vec::new();
                let unsuccess_count = UnsuccessList::write(&entries, &mut unsuccess).unwrap();
                Material {
                    kind,
                    status,
                    seq,
                    has_body,
                    strs,
                    nums,
                    short_message,
                    tlvs,
                    dests,
                    dest_count,
                    unsuccess,
                    unsuccess_count,
                }
            },
        )
}

impl Material {
    /// String `i` cut to fit a field of `max` octets (NUL included).
    fn s(&self, i: usize, max: usize) -> &[u8] {
        let s = &self.strs[i];
        &s[..s.len().min(max - 1)]
    }

    fn addr(&self, i: usize, max: usize) -> Address<'_> {
        Address {
            ton: self.nums[i],
            npi: self.nums[i + 1],
            addr: self.s(i, max),
        }
    }

    fn tlvs(&self) -> Tlvs<'_> {
        Tlvs::parse(&self.tlvs).unwrap()
    }

    fn sm(&self) -> Sm<'_> {
        Sm {
            service_type: self.s(0, 6),
            source: self.addr(1, 21),
            destination: self.addr(2, 21),
            esm_class: self.nums[3],
            protocol_id: self.nums[4],
            priority_flag: self.nums[5],
            schedule_delivery_time: self.s(3, 17),
            validity_period: self.s(4, 17),
            registered_delivery: self.nums[6],
            replace_if_present_flag: self.nums[7],
            data_coding: self.nums[8],
            sm_default_msg_id: self.nums[9],
            short_message: &self.short_message,
            tlvs: self.tlvs(),
        }
    }

    fn bind(&self) -> Bind<'_> {
        Bind {
            system_id: self.s(0, 16),
            password: self.s(1, 9),
            system_type: self.s(2, 13),
            interface_version: self.nums[0],
            address_range: self.addr(3, 41),
            tlvs: self.tlvs(),
        }
    }

    fn message_id_resp(&self) -> Option<MessageIdResp<'_>> {
        self.has_body.then(|| MessageIdResp {
            message_id: self.s(5, 65),
            tlvs: self.tlvs(),
        })
    }

    fn bind_resp(&self) -> Option<BindResp<'_>> {
        self.has_body.then(|| BindResp {
            system_id: self.s(5, 16),
            tlvs: self.tlvs(),
        })
    }

    fn pdu(&self) -> Pdu<'_> {
        let body = match self.kind {
            0 => Body::BindReceiver(self.bind()),
            1 => Body::BindTransmitter(self.bind()),
            2 => Body::BindTransceiver(self.bind()),
            3 => Body::BindReceiverResp(self.bind_resp()),
            4 => Body::BindTransmitterResp(self.bind_resp()),
            5 => Body::BindTransceiverResp(self.bind_resp()),
            6 => Body::Outbind(Outbind {
                system_id: self.s(0, 16),
                password: self.s(1, 9),
                tlvs: self.tlvs(),
            }),
            7 => Body::Unbind,
            8 => Body::UnbindResp,
            9 => Body::EnquireLink,
            10 => Body::EnquireLinkResp,
            11 => Body::GenericNack,
            12 => Body::SubmitSm(self.sm()),
            13 => Body::SubmitSmResp(self.message_id_resp()),
            14 => Body::DeliverSm(self.sm()),
            15 => Body::DeliverSmResp(self.message_id_resp()),
            16 => Body::DataSm(DataSm {
                service_type: self.s(0, 6),
                source: self.addr(1, 65),
                destination: self.addr(2, 65),
                esm_class: self.nums[3],
                registered_delivery: self.nums[4],
                data_coding: self.nums[5],
                tlvs: self.tlvs(),
            }),
            17 => Body::DataSmResp(self.message_id_resp()),
            18 => {
                let sm = self.sm();
                Body::SubmitMulti(SubmitMulti {
                    service_type: sm.service_type,
                    source: sm.source,
                    destinations: DestList::from_raw(self.dest_count, &self.dests),
                    esm_class: sm.esm_class,
                    protocol_id: sm.protocol_id,
                    priority_flag: sm.priority_flag,
                    schedule_delivery_time: sm.schedule_delivery_time,
                    validity_period: sm.validity_period,
                    registered_delivery: sm.registered_delivery,
                    replace_if_present_flag: sm.replace_if_present_flag,
                    data_coding: sm.data_coding,
                    sm_default_msg_id: sm.sm_default_msg_id,
                    short_message: sm.short_message,
                    tlvs: sm.tlvs,
                })
            }
            19 => Body::SubmitMultiResp(self.has_body.then(|| SubmitMultiResp {
                message_id: self.s(5, 65),
                unsuccess: UnsuccessList::from_raw(self.unsuccess_count, &self.unsuccess),
                tlvs: self.tlvs(),
            })),
            20 => Body::QuerySm(QuerySm {
                message_id: self.s(5, 65),
                source: self.addr(1, 21),
                tlvs: self.tlvs(),
            }),
            21 => Body::QuerySmResp(self.has_body.then(|| QuerySmResp {
                message_id: self.s(5, 65),
                final_date: self.s(3, 17),
                message_state: self.nums[10],
                error_code: self.nums[11],
                tlvs: self.tlvs(),
            })),
            22 => Body::CancelSm(CancelSm {
                service_type: self.s(0, 6),
                message_id: self.s(5, 65),
                source: self.addr(1, 21),
                destination: self.addr(2, 21),
                tlvs: self.tlvs(),
            }),
            23 => Body::CancelSmResp,
            24 => Body::ReplaceSm(ReplaceSm {
                message_id: self.s(5, 65),
                source: self.addr(1, 21),
                schedule_delivery_time: self.s(3, 17),
                validity_period: self.s(4, 17),
                registered_delivery: self.nums[6],
                sm_default_msg_id: self.nums[9],
                short_message: &self.short_message,
                tlvs: self.tlvs(),
            }),
            25 => Body::ReplaceSmResp,
            _ => Body::AlertNotification(AlertNotification {
                source: self.addr(1, 65),
                esme: self.addr(2, 65),
                tlvs: self.tlvs(),
            }),
        };
        Pdu {
            command_status: self.status,
            sequence_number: self.seq,
            body,
        }
    }
}

/// Run every stage of the pipeline on `buf`; any panic fails the property.
fn exercise(buf: &[u8]) {
    let _ = Header::peek(buf);
    let _ = frame(buf, DEFAULT_MAX_PDU_LEN);
    for pdu in [Pdu::decode(buf), Pdu::decode_lenient(buf)] {
        let pdu = match pdu {
            Ok(pdu) => pdu,
            Err(e) => {
                let _ = (
                    e.to_string(),
                    e.command_status(),
                    e.sequence_number(),
                    e.is_recoverable(),
                );
                continue;
            }
        };
        let mut out = Vec::new();
        if pdu.encode(&mut out).is_ok() {
            assert_eq!(
                Pdu::decode_lenient(&out).unwrap(),
                pdu,
                "re-encoding a decoded PDU must round-trip"
            );
        }
        for tlv in pdu.as_sm().map(|sm| sm.tlvs).unwrap_or_default() {
            let _ = (tlv.as_u8(), tlv.as_u16(), tlv.as_cstr());
        }
        if let Body::SubmitMulti(m) = &pdu.body {
            let _ = m.destinations.iter().count();
            let _ = m
                .message()
                .map(|msg| text::decode(&msg, &TextOptions::default()));
        }
        if let Body::SubmitMultiResp(Some(r)) = &pdu.body {
            let _ = r.unsuccess.iter().count();
        }
        if let Body::DataSm(d) = &pdu.body {
            let _ = d
                .message()
                .map(|msg| text::decode(&msg, &TextOptions::default()));
        }
        let Some(sm) = pdu.as_sm() else { continue };
        let Ok(message) = sm.message() else { continue };
        if let Some(udh) = message.udh {
            let _ = (
                udh.concat(),
                udh.national_language(),
                udh.ports(),
                udh.elements().count(),
            );
        }
        for options in [
            TextOptions::default(),
            TextOptions {
                gsm_packed: true,
                ..Default::default()
            },
            TextOptions {
                default_alphabet: DefaultAlphabet::Latin1,
                ..Default::default()
            },
        ] {
            let decoded = text::decode(&message, &options);
            if let Some(concat) = message.concat {
                let mut r = Reassembler::new(ReassemblyConfig {
                    ttl: Duration::from_secs(1),
                    max_pending: 2,
                    max_bytes: 512,
                });
                let part = Part {
                    source: sm.source.addr,
                    destination: sm.destination.addr,
                    concat,
                    text: &decoded.text,
                    flags: decoded.flags,
                };
                let now = Instant::now();
                let _ = r.push(now, part);
                let _ = r.push(now, part);
                let _ = r.expire(now + Duration::from_secs(2));
            }
            let mut rewritten = Vec::new();
            if prefix_text(&mut rewritten, &pdu, "【反诈提醒】", &options).is_ok() {
                Pdu::decode_lenient(&rewritten).expect("a rewritten PDU decodes");
            }
        }
    }
}

fn seed_pdus() -> Vec<Vec<u8>> {
    let mut user_data = vec![0x05, 0x00, 0x03, 0x42, 0x02, 0x01];
    user_data.extend("请转入安全账户".encode_utf16().flat_map(u16::to_be_bytes));
    let mut tlvs = Vec::new();
    write_tlv(&mut tlvs, TlvTag::SarMsgRefNum, &[0, 1]).unwrap();
    write_tlv(&mut tlvs, TlvTag::ReceiptedMessageId, b"abc\0").unwrap();
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
        data_coding: 8,
        short_message: &user_data,
        tlvs: Tlvs::parse(&tlvs).unwrap(),
        ..Default::default()
    };
    let mut payload = Vec::new();
    write_tlv(
        &mut payload,
        TlvTag::MessagePayload,
        &[0x04, 0x00, 0x03, 0x01, 0x02, 0x01, 0x1b, 0x65],
    )
    .unwrap();
    let sm_payload = Sm {
        esm_class: 0x40,
        data_coding: 0,
        short_message: &[],
        tlvs: Tlvs::parse(&payload).unwrap(),
        ..sm
    };
    [
        Body::SubmitSm(sm),
        Body::DeliverSm(sm_payload),
        Body::EnquireLink,
    ]
    .into_iter()
    .map(|body| {
        Pdu {
            command_status: 0,
            sequence_number: 1,
            body,
        }
        .to_vec()
        .unwrap()
    })
    .collect()
}

#[derive(Debug, Clone)]
enum Mutation {
    Set(usize, u8),
    Truncate(usize),
    Insert(usize, u8),
    Remove(usize),
    DropNul(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Remove),
        any::<usize>().prop_map(Mutation::DropNul),
    ]
}

fn mutate(mut buf: Vec<u8>, mutations: &[Mutation], fix_length: bool) -> Vec<u8> {
    for m in mutations {
        let len = buf.len().max(1);
        match *m {
            Mutation::Set(i, b) if !buf.is_empty() => buf[i % len] = b,
            Mutation::Truncate(i) => buf.truncate(i % len),
            Mutation::Insert(i, b) => buf.insert(i % (buf.len() + 1), b),
            Mutation::Remove(i) if !buf.is_empty() => {
                buf.remove(i % len);
            }
            Mutation::DropNul(i) => {
                // A C-Octet string loses its terminating NUL.
                if let Some(pos) = buf.iter().skip(16).position(|b| *b == 0) {
                    let at = 16 + (pos + i % 8).min(buf.len() - 17);
                    if buf[at] == 0 {
                        buf[at] = b'A';
                    }
                }
            }
            _ => {}
        }
    }
    if fix_length && buf.len() >= 4 {
        let len = (buf.len() as u32).to_be_bytes();
        buf[..4].copy_from_slice(&len);
    }
    buf
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn decode_encode_round_trip_for_every_kind(m in material()) {
        let pdu = m.pdu();
        let wire = pdu.to_vec().unwrap();
        prop_assert_eq!(frame(&wire, DEFAULT_MAX_PDU_LEN).unwrap(), Some(wire.len()));
        let decoded = Pdu::decode(&wire).unwrap();
        prop_assert_eq!(decoded, pdu);
        prop_assert_eq!(decoded.to_vec().unwrap(), wire);
    }

    #[test]
    fn arbitrary_bytes_never_panic(buf in prop::collection::vec(any::<u8>(), 0..300)) {
        exercise(&buf);
    }

    #[test]
    fn arbitrary_bodies_behind_a_valid_header_never_panic(
        command in prop::sample::select(vec![1u32, 2, 3, 4, 5, 6, 7, 8, 9, 0xB, 0x15, 0x21, 0x102, 0x103,
            0x8000_0000, 0x8000_0001, 0x8000_0003, 0x8000_0004, 0x8000_0005, 0x8000_0021, 0x8000_0103]),
        body in prop::collection::vec(prop_oneof![Just(0u8), Just(0x40), Just(0x08), Just(0x1b), any::<u8>()], 0..300),
    ) {
        let mut buf = ((16 + body.len()) as u32).to_be_bytes().to_vec();
        buf.extend_from_slice(&command.to_be_bytes());
        buf.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1]);
        buf.extend_from_slice(&body);
        exercise(&buf);
    }

    #[test]
    fn mutated_valid_pdus_never_panic(
        which in 0usize..3,
        generated in material(),
        use_generated in any::<bool>(),
        mutations in prop::collection::vec(mutation(), 1..6),
        fix_length in any::<bool>(),
    ) {
        let base = if use_generated { generated.pdu().to_vec().unwrap() } else { seed_pdus()[which].clone() };
        exercise(&mutate(base, &mutations, fix_length));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// The UCS-2 decoder agrees with the standard library's UTF-16 decoder
    /// (lone surrogates become U+FFFD) whenever it reads big-endian.
    #[test]
    fn ucs2_matches_std_utf16(units in prop::collection::vec(prop_oneof![any::<u16>(), 0xD800u16..0xE000, 0x4E00u16..0x9FA5], 0..100)) {
        let octets: Vec<u8> = units.iter().flat_map(|u| u.to_be_bytes()).collect();
        let mut out = String::new();
        let issues = text::ucs2::decode(&octets, &mut out);
        if !issues.little_endian && !issues.bom {
            prop_assert_eq!(&out, &String::from_utf16_lossy(&units));
            prop_assert_eq!(issues.lone_surrogate, out.contains('\u{FFFD}') && !String::from_utf16_lossy(&units).is_empty() && char::decode_utf16(units.iter().copied()).any(|c| c.is_err()));
        }
    }

    /// Text written as UCS-2 comes back unchanged.
    #[test]
    fn ucs2_round_trips_text(s in "[\\p{Han}a-zA-Z0-9，。！😀\u{3000}\u{4E00}]{0,60}") {
        let mut octets = Vec::new();
        text::ucs2::encode(&s, &mut octets);
        let mut out = String::new();
        let issues = text::ucs2::decode(&octets, &mut out);
        // Big-endian as the handset reads it, whatever the characters (U+3000 padding
        // included): every text round-trips.
        prop_assert!(!issues.little_endian);
        prop_assert_eq!(out, s);
        prop_assert!(!issues.lone_surrogate);
    }
}
