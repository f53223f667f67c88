//! End to end through `interdict serve`'s SMPP proxy: raw PDUs from a test ESME on a real
//! socket, the project's SMSC simulator behind it, and what the SMSC received asserted.
//!
//! Every attacker class of the SMPP gateway issue has its test here: concatenation (a
//! script split mid-character across UCS-2 parts, UDH and SAR), ambiguous fields (both
//! payloads, message_payload twice, UDHI without a UDH), encodings (UCS-2 padded with
//! U+3000, GBK and UTF-8 under narrow codings), length (a script after 20 KB of padding),
//! and a lying command_length beside a bind that carries on.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::{copy_dir, free_port, root, scratch, Gateway};
use interdict::smsc_sim::{reassembled_texts, MoMessage, SimConfig, SimMode, SmscSim};
use interdict_smpp::tlv::{write_tlv, TlvTag};
use interdict_smpp::{status, Address, Bind, Body, CommandId, DataSm, Header, Pdu, Sm, Tlvs};

const SCAM: &str = "您涉嫌洗钱，请立即将资金转入安全账户配合调查，不要告诉任何人";
const ORDINARY: &str = "您的快递已到，请凭取件码取件，谢谢";
/// Synthetic numbers (the +86 138 0000 block is used as an example range only).
const FROM: &str = "8613800000001";
const TO: &str = "8613800000002";
/// On the bundled suspect list (synthetic): its messages are warned.
const SUSPECT: &str = "8617055550001";

struct Setup {
    gw: Gateway,
    sim: SmscSim,
    smpp: SocketAddr,
}

fn setup(name: &str, smpp_extra: &str, tables: &str, sim_cfg: SimConfig) -> Setup {
    let sim = SmscSim::spawn(sim_cfg).expect("smsc sim");
    let dir = scratch(name);
    copy_dir(&root().join("rules"), &dir.join("rules"));
    let port = free_port();
    let table = format!(
        "[smpp]\nlisten = \"127.0.0.1:{port}\"\nsmsc = \"{}\"\n{smpp_extra}\n{tables}",
        sim.local_addr()
    );
    let gw = Gateway::start_with_tables(dir, "", "", &table);
    Setup {
        gw,
        sim,
        smpp: SocketAddr::from(([127, 0, 0, 1], port)),
    }
}

/// A test ESME speaking raw PDUs.
struct Esme {
    s: TcpStream,
    seq: u32,
    /// PDUs read while waiting for something else (e.g. deliver_sm).
    pending: Vec<Vec<u8>>,
}

impl Esme {
    fn connect(addr: SocketAddr) -> Esme {
        let s = TcpStream::connect(addr).expect("connect to the gateway");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Esme {
            s,
            seq: 0,
            pending: Vec::new(),
        }
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).unwrap();
    }

    fn send(&mut self, body: Body<'_>) -> u32 {
        self.seq += 1;
        let pdu = Pdu {
            command_status: 0,
            sequence_number: self.seq,
            body,
        }
        .to_vec()
        .unwrap();
        self.send_raw(&pdu);
        self.seq
    }

    /// The next PDU, or None when the connection closed or nothing came in time.
    fn recv(&mut self) -> Option<Vec<u8>> {
        if !self.pending.is_empty() {
            return Some(self.pending.remove(0));
        }
        self.read_one()
    }

    fn read_one(&mut self) -> Option<Vec<u8>> {
        let mut head = [0u8; 16];
        self.s.read_exact(&mut head).ok()?;
        let len = u32::from_be_bytes(head[..4].try_into().unwrap()) as usize;
        let mut pdu = head.to_vec();
        pdu.resize(len, 0);
        self.s.read_exact(&mut pdu[16..]).ok()?;
        Some(pdu)
    }

    /// Reads until the response to `seq`; other PDUs are kept for later.
    fn response(&mut self, seq: u32) -> Header {
        if let Some(i) = self.pending.iter().position(|p| {
            Header::peek(p).is_some_and(|h| h.is_response() && h.sequence_number == seq)
        }) {
            return Header::peek(&self.pending.remove(i)).unwrap();
        }
        loop {
            let pdu = self
                .read_one()
                .unwrap_or_else(|| panic!("no response to {seq} before the timeout"));
            let h = Header::peek(&pdu).unwrap();
            if h.is_response() && h.sequence_number == seq {
                return h;
            }
            self.pending.push(pdu);
        }
    }

    fn bind(&mut self, command: CommandId) -> u32 {
        let b = Bind {
            system_id: b"esme1",
            password: b"secret",
            system_type: b"",
            interface_version: 0x34,
            address_range: Address::default(),
            tlvs: Tlvs::EMPTY,
        };
        let body = match command {
            CommandId::BindReceiver => Body::BindReceiver(b),
            CommandId::BindTransceiver => Body::BindTransceiver(b),
            _ => Body::BindTransmitter(b),
        };
        let seq = self.send(body);
        self.response(seq).command_status
    }

    fn submit(&mut self, sm: Sm<'_>) -> u32 {
        let seq = self.send(Body::SubmitSm(sm));
        self.response(seq).command_status
    }
}

fn sm<'a>(source: &'a str, dest: &'a str, dcs: u8, esm: u8, short: &'a [u8]) -> Sm<'a> {
    Sm {
        source: Address {
            ton: 1,
            npi: 1,
            addr: source.as_bytes(),
        },
        destination: Address {
            ton: 1,
            npi: 1,
            addr: dest.as_bytes(),
        },
        esm_class: esm,
        data_coding: dcs,
        short_message: short,
        ..Sm::default()
    }
}

fn ucs2(text: &str) -> Vec<u8> {
    let mut v = Vec::new();
    interdict_smpp::text::ucs2::encode(text, &mut v);
    v
}

/// Concatenated parts: each `chunk` of `octets` behind an 8-bit-reference UDH.
fn parts(octets: &[u8], cut: &[usize], reference: u8) -> Vec<Vec<u8>> {
    let mut bounds = vec![0];
    bounds.extend_from_slice(cut);
    bounds.push(octets.len());
    let total = bounds.len() - 1;
    (0..total)
        .map(|i| {
            let mut p = vec![0x05, 0x00, 0x03, reference, total as u8, i as u8 + 1];
            p.extend_from_slice(&octets[bounds[i]..bounds[i + 1]]);
            p
        })
        .collect()
}

fn wait_for(what: &str, mut pred: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if pred() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn binds_are_relayed_and_ordinary_messages_pass_byte_for_byte() {
    let t = setup("smpp-relay", "", "", SimConfig::default());
    let mut esme = Esme::connect(t.smpp);
    // Before a bind: the spec's bind-state error.
    let seq = esme.send(Body::SubmitSm(sm(FROM, TO, 8, 0, &ucs2(ORDINARY))));
    assert_eq!(esme.response(seq).command_status, status::ESME_RINVBNDSTS);
    assert_eq!(esme.bind(CommandId::BindTransmitter), status::ESME_ROK);
    assert_eq!(t.sim.bound_sessions(), 1, "the gateway bound at the SMSC");
    assert_eq!(esme.bind(CommandId::BindTransmitter), status::ESME_RALYBND);
    let seq = esme.send(Body::EnquireLink);
    assert_eq!(esme.response(seq).command_status, status::ESME_ROK);
    let text = ucs2(ORDINARY);
    assert_eq!(esme.submit(sm(FROM, TO, 8, 0, &text)), status::ESME_ROK);
    let got = t.sim.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].short_message, text, "forwarded unchanged");
    assert_eq!(got[0].source.addr, FROM);
    assert_eq!(got[0].destinations[0].addr, TO);
    assert_eq!(got[0].data_coding, 8);
    let seq = esme.send(Body::Unbind);
    assert_eq!(esme.response(seq).command_status, status::ESME_ROK);
    wait_for("the SMSC side to unbind", || t.sim.bound_sessions() == 0);
}

#[test]
fn a_scam_is_refused_with_the_block_status_and_never_reaches_the_smsc() {
    let t = setup("smpp-block", "", "", SimConfig::default());
    let mut esme = Esme::connect(t.smpp);
    assert_eq!(esme.bind(CommandId::BindTransceiver), status::ESME_ROK);
    assert_eq!(
        esme.submit(sm(FROM, TO, 8, 0, &ucs2(SCAM))),
        status::ESME_RSUBMITFAIL
    );
    // A listed sender is refused whatever it says; TON 0 (a hop dropped it) too.
    let mut listed = sm("8617100000001", TO, 8, 0, &[]);
    let text = ucs2(ORDINARY);
    listed.short_message = &text;
    listed.source.ton = 0;
    assert_eq!(esme.submit(listed), status::ESME_RSUBMITFAIL);
    assert_eq!(esme.submit(sm(FROM, TO, 8, 0, &text)), status::ESME_ROK);
    assert_eq!(t.sim.received().len(), 1, "only the ordinary message");
    let records = t.gw.wait_records(|r| r.len() >= 2);
    assert!(records
        .iter()
        .any(|r| r["protocol"] == "smpp" && r["acted"] == "block"));
}

#[test]
fn a_warned_message_reaches_the_smsc_prefixed_and_segmented() {
    let t = setup("smpp-warn", "", "", SimConfig::default());
    let mut esme = Esme::connect(t.smpp);
    assert_eq!(esme.bind(CommandId::BindTransmitter), status::ESME_ROK);
    // GSM text from a suspect sender: the Chinese prefix turns it into UCS-2.
    let short = b"Your parcel is held at the depot";
    assert_eq!(esme.submit(sm(SUSPECT, TO, 0, 0, short)), status::ESME_ROK);
    // A UCS-2 text of 70 characters fills one part; with the prefix it needs two.
    let long = "您".repeat(10) + &"好".repeat(60);
    assert_eq!(
        esme.submit(sm(SUSPECT, TO, 8, 0, &ucs2(&long))),
        status::ESME_ROK
    );
    wait_for("three PDUs at the SMSC", || t.sim.received().len() >= 3);
    let got = t.sim.received();
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].data_coding, 8);
    assert_eq!(
        got[0].text.as_deref(),
        Some("【反诈提醒】Your parcel is held at the depot")
    );
    for part in &got[1..] {
        assert!(
            part.short_message.len() <= 140,
            "{}",
            part.short_message.len()
        );
        assert_eq!(part.esm_class & 0x40, 0x40, "UDHI on re-segmented parts");
    }
    let texts = reassembled_texts(&got);
    assert_eq!(texts[1], format!("【反诈提醒】{long}"));
}

/// A WAP-push-like 8-bit binary payload (data_coding 4): no text the warning could go into.
const BINARY: &[u8] = &[
    0x06, 0x05, 0x04, 0x0b, 0x84, 0x23, 0xf0, 0x01, 0x06, 0x03, 0xae,
];

#[test]
fn a_warned_binary_message_is_forwarded_unmarked_and_counted_by_default() {
    let t = setup("smpp-warn-binary", "", "", SimConfig::default());
    let mut esme = Esme::connect(t.smpp);
    assert_eq!(esme.bind(CommandId::BindTransmitter), status::ESME_ROK);
    assert_eq!(esme.submit(sm(SUSPECT, TO, 4, 0, BINARY)), status::ESME_ROK);
    wait_for("the binary message at the SMSC", || {
        !t.sim.received().is_empty()
    });
    let got = t.sim.received();
    assert_eq!(got[0].short_message, BINARY, "forwarded as it came");
    assert_eq!(got[0].data_coding, 4);
    let records = t.gw.wait_records(|r| !r.is_empty());
    assert_eq!(records[0]["acted"], "warn", "{:?}", records[0]);
    assert_eq!(
        t.gw.metric("interdict_smpp_events_total{protocol=\"smpp\",kind=\"warned_unmarked\"}"),
        1.0
    );
}

#[test]
fn a_warned_binary_message_is_blocked_and_recorded_so_when_configured() {
    let t = setup(
        "smpp-warn-binary-block",
        "warn_unmarkable = \"block\"",
        "",
        SimConfig::default(),
    );
    let mut esme = Esme::connect(t.smpp);
    assert_eq!(esme.bind(CommandId::BindTransmitter), status::ESME_ROK);
    assert_eq!(
        esme.submit(sm(SUSPECT, TO, 4, 0, BINARY)),
        status::ESME_RSUBMITFAIL
    );
    // A warned text still goes through, marked.
    assert_eq!(
        esme.submit(sm(SUSPECT, TO, 8, 0, &ucs2(ORDINARY))),
        status::ESME_ROK
    );
    wait_for("the text at the SMSC", || !t.sim.received().is_empty());
    let got = t.sim.received();
    assert_eq!(got.len(), 1, "the binary message never reached the SMSC");
    assert!(got[0]
        .text
        .as_deref()
        .is_some_and(|x| x.starts_with("【反诈提醒】")));
    let records = t.gw.wait_records(|r| r.len() >= 2);
    let acted: Vec<&str> = records.iter().filter_map(|r| r["acted"].as_str()).collect();
    assert_eq!(acted, ["block", "warn"], "{records:?}");
    assert_eq!(
        t.gw.metric(
            "interdict_smpp_events_total{protocol=\"smpp\",kind=\"warned_unmarkable_blocked\"}"
        ),
        1.0
    );
}

#[test]
fn a_script_split_mid_character_across_parts_is_decided_whole() {
    let t = setup("smpp-concat", "", "", SimConfig::default());
    let mut esme = Esme::connect(t.smpp);
    assert_eq!(esme.bind(CommandId::BindTransmitter), status::ESME_ROK);
    // UCS-2 cut at odd octets: no part decodes to the script alone.
    let octets = ucs2(SCAM);
    let udh_parts = parts(&octets, &[17, 41], 9);
    let seqs: Vec<u32> = udh_parts
        .iter()
        .rev() // out of order too
        .map(|p| esme.send(Body::SubmitSm(sm(FROM, TO, 8, 0x40, p))))
        .collect();
    for seq in seqs {
        assert_eq!(esme.response(seq).command_status, status::ESME_RSUBMITFAIL);
    }
    // GBK cut inside a double byte, with SAR TLVs instead of a UDH.
    let gbk = encoding_rs::GBK.encode(SCAM).0.into_owned();
    let halves = [&gbk[..11], &gbk[11..]];
    let mut seqs = Vec::new();
    for (i, half) in halves.iter().enumerate() {
        let mut raw = Vec::new();
        write_tlv(&mut raw, TlvTag::SarMsgRefNum, &[0, 42]).unwrap();
        write_tlv(&mut raw, TlvTag::SarTotalSegments, &[2]).unwrap();
        write_tlv(&mut raw, TlvTag::SarSegmentSeqnum, &[i as u8 + 1]).unwrap();
        let mut s = sm(FROM, TO, 0x0F, 0, half);
        s.tlvs = Tlvs::parse(&raw).unwrap();
        seqs.push(esme.send(Body::SubmitSm(s)));
    }
    for seq in seqs {
        assert_eq!(esme.response(seq).command_status, status::ESME_RSUBMITFAIL);
    }
    assert!(
        t.sim.received().is_empty(),
        "no part of a scam is forwarded"
    );
    // An ordinary concatenated message: every part forwarded, each answered.
    let octets = ucs2(&ORDINARY.repeat(8));
    let ok_parts = parts(&octets, &[134, 268], 10);
    let seqs: Vec<u32> = ok_parts
        .iter()
        .map(|p| esme.send(Body::SubmitSm(sm(FROM, TO, 8, 0x40, p))))
        .collect();
    for seq in seqs {
        assert_eq!(esme.response(seq).command_status, status::ESME_ROK);
    }
    let got = t.sim.received();
    assert_eq!(got.len(), 3);
    assert_eq!(reassembled_texts(&got), vec![ORDINARY.repeat(8)]);
}

#[test]
fn an_incomplete_message_is_decided_on_what_arrived_after_the_timeout() {
    let t = setup(
        "smpp-partial",
        "reassembly_timeout_ms = 300\n",
        "",
        SimConfig::default(),
    );
    let mut esme = Esme::connect(t.smpp);
    assert_eq!(esme.bind(CommandId::BindTransmitter), status::ESME_ROK);
    let octets = ucs2(SCAM);
    let p = parts(&octets, &[40], 3);
    // Only part 1 of 2 (which holds the whole script) ever comes.
    let mut first = p[0].clone();
    first.extend_from_slice(&octets[40..]);
    let seq = esme.send(Body::SubmitSm(sm(FROM, TO, 8, 0x40, &first)));
    assert_eq!(esme.response(seq).command_status, status::ESME_RSUBMITFAIL);
    assert!(t.sim.received().is_empty());
    assert!(
        t.gw.metric("interdict_smpp_events_total{protocol=\"smpp\",kind=\"reassembly_expired\"}")
            >= 1.0
    );
}

#[test]
fn ambiguous_message_fields_are_refused_never_forwarded() {
    let t = setup("smpp-ambiguous", "", "", SimConfig::default());
    let mut esme = Esme::connect(t.smpp);
    assert_eq!(esme.bind(CommandId::BindTransmitter), status::ESME_ROK);
    // short_message ordinary, message_payload the scam.
    let mut raw = Vec::new();
    write_tlv(&mut raw, TlvTag::MessagePayload, &ucs2(SCAM)).unwrap();
    let text = ucs2(ORDINARY);
    let mut both = sm(FROM, TO, 8, 0, &text);
    both.tlvs = Tlvs::parse(&raw).unwrap();
    assert_eq!(esme.submit(both), status::ESME_RINVTLVSTREAM);
    // message_payload twice.
    let mut raw = Vec::new();
    write_tlv(&mut raw, TlvTag::MessagePayload, &ucs2(ORDINARY)).unwrap();
    write_tlv(&mut raw, TlvTag::MessagePayload, &ucs2(SCAM)).unwrap();
    let mut twice = sm(FROM, TO, 8, 0, &[]);
    twice.tlvs = Tlvs::parse(&raw).unwrap();
    assert_eq!(esme.submit(twice), status::ESME_RINVOPTPARAMVAL);
    // UDHI set, but the "UDH" length runs past the message.
    let bad_udh = [0x30u8, 0x00, 0x03];
    assert_ne!(
        esme.submit(sm(FROM, TO, 8, 0x40, &bad_udh)),
        status::ESME_ROK
    );
    // sm_length past the end of the PDU: patched by hand on the wire.
    let mut pdu = Pdu {
        command_status: 0,
        sequence_number: 77,
        body: Body::SubmitSm(sm(FROM, TO, 8, 0, &text)),
    }
    .to_vec()
    .unwrap();
    let sm_length_at = pdu.len() - text.len() - 1;
    pdu[sm_length_at] = 250;
    esme.send_raw(&pdu);
    assert_eq!(esme.response(77).command_status, status::ESME_RINVMSGLEN);
    // The session carries on.
    assert_eq!(esme.submit(sm(FROM, TO, 8, 0, &text)), status::ESME_ROK);
    assert_eq!(t.sim.received().len(), 1);
}

#[test]
fn text_is_read_as_the_handset_renders_it() {
    let t = setup("smpp-encodings", "", "", SimConfig::default());
    let mut esme = Esme::connect(t.smpp);
    assert_eq!(esme.bind(CommandId::BindTransmitter), status::ESME_ROK);
    // UCS-2 padded with U+3000: big-endian, as the handset reads it.
    let padded = format!("{}{SCAM}", "\u{3000}".repeat(30));
    assert_eq!(
        esme.submit(sm(FROM, TO, 8, 0, &ucs2(&padded))),
        status::ESME_RSUBMITFAIL
    );
    let padded = format!("{}{SCAM}", "\u{4E00}".repeat(30));
    assert_eq!(
        esme.submit(sm(FROM, TO, 8, 0, &ucs2(&padded))),
        status::ESME_RSUBMITFAIL
    );
    // GBK and UTF-8 sent under codings that cannot hold them.
    let gbk = encoding_rs::GBK.encode(SCAM).0.into_owned();
    for dcs in [0x00, 0x01, 0x03, 0x04, 0xF0] {
        assert_eq!(
            esme.submit(sm(FROM, TO, dcs, 0, &gbk)),
            status::ESME_RSUBMITFAIL,
            "GBK under data_coding {dcs:#x}"
        );
    }
    assert_eq!(
        esme.submit(sm(FROM, TO, 0x03, 0, SCAM.as_bytes())),
        status::ESME_RSUBMITFAIL
    );
    // The script after 20 KB of padding in message_payload.
    let mut long = ucs2(&" ".repeat(10_000));
    long.extend_from_slice(&ucs2(SCAM));
    let mut raw = Vec::new();
    write_tlv(&mut raw, TlvTag::MessagePayload, &long).unwrap();
    let mut s = sm(FROM, TO, 8, 0, &[]);
    s.tlvs = Tlvs::parse(&raw).unwrap();
    assert_eq!(esme.submit(s), status::ESME_RSUBMITFAIL);
    // data_sm carries its text in message_payload.
    let mut raw = Vec::new();
    write_tlv(&mut raw, TlvTag::MessagePayload, &ucs2(SCAM)).unwrap();
    let seq = esme.send(Body::DataSm(DataSm {
        source: Address {
            ton: 1,
            npi: 1,
            addr: FROM.as_bytes(),
        },
        destination: Address {
            ton: 1,
            npi: 1,
            addr: TO.as_bytes(),
        },
        data_coding: 8,
        tlvs: Tlvs::parse(&raw).unwrap(),
        ..DataSm::default()
    }));
    assert_eq!(esme.response(seq).command_status, status::ESME_RSUBMITFAIL);
    assert!(t.sim.received().is_empty());
}

#[test]
fn a_lying_command_length_is_answered_while_another_bind_carries_on() {
    let t = setup("smpp-length", "", "", SimConfig::default());
    let mut good = Esme::connect(t.smpp);
    assert_eq!(good.bind(CommandId::BindTransmitter), status::ESME_ROK);
    let mut liar = Esme::connect(t.smpp);
    assert_eq!(liar.bind(CommandId::BindTransmitter), status::ESME_ROK);
    // command_length far beyond any PDU, then junk.
    let mut lie = Vec::new();
    lie.extend_from_slice(&0x7FFF_FFF0u32.to_be_bytes());
    lie.extend_from_slice(&(CommandId::SubmitSm as u32).to_be_bytes());
    lie.extend_from_slice(&0u32.to_be_bytes());
    lie.extend_from_slice(&99u32.to_be_bytes());
    lie.extend_from_slice(&[0xAB; 64]);
    liar.send_raw(&lie);
    let nack = liar.recv().expect("generic_nack");
    let h = Header::peek(&nack).unwrap();
    assert_eq!(h.command_id, CommandId::GenericNack as u32);
    assert_eq!(h.command_status, status::ESME_RINVCMDLEN);
    assert_eq!(h.sequence_number, 99);
    assert!(liar.recv().is_none(), "the lying connection is closed");
    // An unknown command id on the good session: generic_nack, and it carries on.
    let mut unknown = Vec::new();
    unknown.extend_from_slice(&16u32.to_be_bytes());
    unknown.extend_from_slice(&0x0000_0999u32.to_be_bytes());
    unknown.extend_from_slice(&0u32.to_be_bytes());
    unknown.extend_from_slice(&5u32.to_be_bytes());
    good.send_raw(&unknown);
    let h = good.response(5);
    assert_eq!(h.command_id, CommandId::GenericNack as u32);
    assert_eq!(h.command_status, status::ESME_RINVCMDID);
    for _ in 0..20 {
        assert_eq!(
            good.submit(sm(FROM, TO, 8, 0, &ucs2(ORDINARY))),
            status::ESME_ROK
        );
    }
    assert_eq!(t.sim.received().len(), 20);
    assert!(
        t.gw.metric("interdict_parse_errors_total{protocol=\"SMPP\",kind=\"command_length\"}")
            >= 1.0
    );
}

#[test]
fn mobile_originated_scams_are_refused_towards_the_smsc() {
    let t = setup("smpp-mo", "", "", SimConfig::default());
    let mut esme = Esme::connect(t.smpp);
    assert_eq!(esme.bind(CommandId::BindReceiver), status::ESME_ROK);
    // A receiver may not submit.
    let seq = esme.send(Body::SubmitSm(sm(FROM, TO, 8, 0, &ucs2(ORDINARY))));
    assert_eq!(esme.response(seq).command_status, status::ESME_RINVBNDSTS);
    t.sim
        .deliver(&MoMessage::text(&format!("+{FROM}"), "10690000", SCAM))
        .unwrap();
    t.sim
        .deliver(&MoMessage::text(&format!("+{FROM}"), "10690000", ORDINARY))
        .unwrap();
    let pdu = esme.recv().expect("the ordinary deliver_sm");
    let parsed = Pdu::decode(&pdu).unwrap();
    let Body::DeliverSm(d) = parsed.body else {
        panic!("expected deliver_sm, got {:?}", parsed.command_id());
    };
    assert_eq!(d.short_message, &ucs2(ORDINARY)[..]);
    let mut resp = Vec::new();
    interdict_smpp::encode::deliver_sm_resp(&mut resp, 0, parsed.sequence_number);
    esme.send_raw(&resp);
    wait_for("the SMSC to see both answers", || {
        let s = t.sim.stats();
        s.deliver_sm_resp_ok == 1 && s.deliver_sm_resp_error == 1
    });
}

/// A scam submitted with a receipt asked for, under silent drop, on a `submit_on` bind: the
/// UNDELIV receipt must arrive on the `receiver` bind of the same account when there is one,
/// else on the submitting bind, and nothing reach the SMSC.
fn silent_drop_receipt(name: &str, submit_on: CommandId, receiver: Option<CommandId>) {
    let t = setup(
        name,
        "block = \"silent_drop\"\nreceipt_after_ms = 200\n",
        "",
        SimConfig::default(),
    );
    let mut rx = receiver.map(|kind| {
        let mut rx = Esme::connect(t.smpp);
        assert_eq!(rx.bind(kind), status::ESME_ROK);
        rx
    });
    let mut tx = Esme::connect(t.smpp);
    assert_eq!(tx.bind(submit_on), status::ESME_ROK);
    let text = ucs2(SCAM);
    let mut s = sm(FROM, TO, 8, 0, &text);
    s.registered_delivery = 1;
    let seq = tx.send(Body::SubmitSm(s));
    assert_eq!(tx.response(seq).command_status, status::ESME_ROK);
    let receipt = rx.as_mut().unwrap_or(&mut tx).recv().expect("a receipt");
    let Body::DeliverSm(d) = Pdu::decode(&receipt).unwrap().body else {
        panic!("expected a receipt");
    };
    assert_eq!(d.esm_class & 0x04, 0x04);
    assert!(String::from_utf8_lossy(d.short_message).contains("stat:UNDELIV"));
    assert!(t.sim.received().is_empty(), "never delivered");
}

#[test]
fn silent_drop_answers_success_and_later_an_undelivered_receipt() {
    silent_drop_receipt("smpp-silent", CommandId::BindTransceiver, None);
}

#[test]
fn a_silently_dropped_message_s_receipt_reaches_the_account_s_receiver_bind() {
    // An ESME submitting on a transmitter bind takes its receipts on a receiver bind of the
    // same account, as from an SMSC: the receipt of a silently dropped message goes there.
    silent_drop_receipt(
        "smpp-silent-rx",
        CommandId::BindTransmitter,
        Some(CommandId::BindReceiver),
    );
}

#[test]
fn a_dissuasion_sms_reaches_the_warned_subscriber_once_per_period() {
    let t = setup(
        "smpp-dissuade",
        "",
        "[dissuasion]\nenabled = true\nsender = \"96110\"\nperiod_s = 3600\n",
        SimConfig::default(),
    );
    let mut esme = Esme::connect(t.smpp);
    assert_eq!(esme.bind(CommandId::BindTransmitter), status::ESME_ROK);
    let text = ucs2(ORDINARY);
    for _ in 0..3 {
        assert_eq!(esme.submit(sm(SUSPECT, TO, 8, 0, &text)), status::ESME_ROK);
    }
    wait_for("three warned messages and one dissuasion SMS", || {
        t.sim.received().len() >= 4
    });
    std::thread::sleep(Duration::from_millis(300));
    let got = t.sim.received();
    let dissuasions: Vec<_> = got.iter().filter(|r| r.source.addr == "96110").collect();
    assert_eq!(dissuasions.len(), 1, "once per period");
    assert_eq!(dissuasions[0].destinations[0].addr, TO);
    assert_eq!(dissuasions[0].system_id, "interdict");
    assert!(dissuasions[0]
        .text
        .as_deref()
        .unwrap_or("")
        .contains("96110"));
    let records =
        t.gw.wait_records(|r| r.iter().any(|x| x["kind"] == "dissuasion_sent"));
    let sent = records
        .iter()
        .find(|x| x["kind"] == "dissuasion_sent")
        .expect("a dissuasion_sent record");
    assert_eq!(
        sent["decision"]["callee"]["raw"],
        format!("+{TO}"),
        "{sent}"
    );
    assert!(
        sent["pack_version"].as_str().is_some_and(|v| !v.is_empty()),
        "{sent}"
    );
}

/// An SMSC that answers the bind and then never answers anything (reads and discards).
fn dead_after_bind() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            std::thread::spawn(move || {
                let mut head = [0u8; 16];
                if s.read_exact(&mut head).is_err() {
                    return;
                }
                let len = u32::from_be_bytes(head[..4].try_into().unwrap()) as usize;
                let mut rest = vec![0u8; len - 16];
                let _ = s.read_exact(&mut rest);
                let mut resp = Vec::new();
                interdict_smpp::encode::write_header_only(
                    &mut resp,
                    CommandId::BindTransmitterResp,
                    0,
                    u32::from_be_bytes(head[12..16].try_into().unwrap()),
                );
                resp.push(0); // system_id ""
                resp[3] = 17;
                let _ = s.write_all(&resp);
                let mut sink = [0u8; 65536];
                while matches!(s.read(&mut sink), Ok(n) if n > 0) {}
            });
        }
    });
    addr
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_dead_smsc_throttles_and_times_out_without_holding_memory() {
    // A silent SMSC never answers the bind: the ESME gets a bind failure in time.
    let t = setup(
        "smpp-dead",
        "window = 8\nresponse_timeout_ms = 500\nbind_timeout_ms = 1000\n",
        "",
        SimConfig {
            mode: SimMode::Silent,
            ..SimConfig::default()
        },
    );
    let mut esme = Esme::connect(t.smpp);
    let started = Instant::now();
    assert_eq!(
        esme.bind(CommandId::BindTransmitter),
        status::ESME_RBINDFAIL
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(t);

    // An SMSC that binds and then goes silent: the window fills, the rest is throttled,
    // the waiting requests are answered ESME_RSYSERR, and memory stays flat.
    let dead = dead_after_bind();
    let dir = scratch("smpp-dead-after-bind");
    copy_dir(&root().join("rules"), &dir.join("rules"));
    let port = free_port();
    let gw = Gateway::start_with_tables(
        dir,
        "",
        "",
        &format!(
            "[smpp]\nlisten = \"127.0.0.1:{port}\"\nsmsc = \"{dead}\"\nwindow = 8\nresponse_timeout_ms = 500\n"
        ),
    );
    let mut esme = Esme::connect(SocketAddr::from(([127, 0, 0, 1], port)));
    assert_eq!(esme.bind(CommandId::BindTransmitter), status::ESME_ROK);
    let text = ucs2(ORDINARY);
    let before = rss_kb(gw.child.id());
    let mut statuses = std::collections::BTreeMap::new();
    for _ in 0..5 {
        let seqs: Vec<u32> = (0..2_000)
            .map(|_| esme.send(Body::SubmitSm(sm(FROM, TO, 8, 0, &text))))
            .collect();
        for seq in seqs {
            *statuses
                .entry(esme.response(seq).command_status)
                .or_insert(0) += 1;
        }
    }
    let after = rss_kb(gw.child.id());
    assert_eq!(
        statuses.get(&status::ESME_RSYSERR),
        Some(&40),
        "{statuses:x?}"
    );
    assert_eq!(
        statuses.get(&status::ESME_RTHROTTLED),
        Some(&(10_000 - 40)),
        "{statuses:x?}"
    );
    assert!(
        after < before + 8 * 1024,
        "RSS grew from {before} kB to {after} kB"
    );
}

#[test]
fn a_slow_smsc_gets_at_most_the_window_and_the_rest_is_throttled() {
    let t = setup(
        "smpp-window",
        "window = 4\n",
        "",
        SimConfig {
            response_delay: Duration::from_millis(400),
            ..SimConfig::default()
        },
    );
    let mut esme = Esme::connect(t.smpp);
    assert_eq!(esme.bind(CommandId::BindTransmitter), status::ESME_ROK);
    let text = ucs2(ORDINARY);
    let seqs: Vec<u32> = (0..10)
        .map(|_| esme.send(Body::SubmitSm(sm(FROM, TO, 8, 0, &text))))
        .collect();
    let statuses: Vec<u32> = seqs
        .iter()
        .map(|s| esme.response(*s).command_status)
        .collect();
    let ok = statuses.iter().filter(|s| **s == status::ESME_ROK).count();
    let throttled = statuses
        .iter()
        .filter(|s| **s == status::ESME_RTHROTTLED)
        .count();
    assert_eq!(ok + throttled, 10, "{statuses:x?}");
    assert!(ok >= 4 && throttled >= 1, "{statuses:x?}");
}

#[test]
fn sigterm_unbinds_both_sides_and_exits() {
    let mut t = setup("smpp-drain", "", "", SimConfig::default());
    let mut esme = Esme::connect(t.smpp);
    assert_eq!(esme.bind(CommandId::BindTransmitter), status::ESME_ROK);
    assert_eq!(
        esme.submit(sm(FROM, TO, 8, 0, &ucs2(ORDINARY))),
        status::ESME_ROK
    );
    t.gw.signal("TERM");
    let unbind = esme.recv().expect("an unbind from the gateway");
    let h = Header::peek(&unbind).unwrap();
    assert_eq!(h.command_id, CommandId::Unbind as u32);
    let mut resp = Vec::new();
    interdict_smpp::encode::write_header_only(
        &mut resp,
        CommandId::UnbindResp,
        0,
        h.sequence_number,
    );
    esme.send_raw(&resp);
    let deadline = Instant::now() + Duration::from_secs(10);
    let code = loop {
        if let Some(code) = t.gw.child.try_wait().unwrap() {
            break code;
        }
        assert!(Instant::now() < deadline, "gateway did not exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(code.success(), "{code:?}");
    wait_for("the SMSC side to unbind", || t.sim.bound_sessions() == 0);
    assert!(t.sim.stats().unbind >= 1);
}

#[test]
fn reload_under_load_loses_no_message() {
    use interdict::load_smpp::{self, LoadConfig, Rate};
    let t = setup("smpp-reload", "", "", SimConfig::default());
    let target = t.smpp;
    let load = std::thread::spawn(move || {
        load_smpp::run_blocking(LoadConfig {
            target,
            sessions: 2,
            window: 32,
            count: 6_000,
            rate: Rate::PerSecond(2_000.0),
            duration: Duration::from_secs(20),
            drain: Duration::from_secs(5),
            ..LoadConfig::default()
        })
        .unwrap()
    });
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(700));
        t.gw.signal("HUP");
    }
    let report = load.join().unwrap();
    assert!(report.errors.is_empty(), "{report:?}");
    assert_eq!(report.unanswered, 0, "{report:?}");
    assert_eq!(report.generic_nack, 0, "{report:?}");
    assert_eq!(report.responses, report.submitted, "{report:?}");
    let ok = report.by_status.get("0x00000000").copied().unwrap_or(0);
    let refused = report.by_status.get("0x00000045").copied().unwrap_or(0);
    assert_eq!(ok + refused, report.submitted, "{report:?}");
    let ordinary = &report.by_kind_status["ordinary"];
    assert_eq!(
        ordinary.len(),
        1,
        "every ordinary message passed: {ordinary:?}"
    );
    let scam = &report.by_kind_status["scam"];
    assert_eq!(scam.keys().collect::<Vec<_>>(), ["0x00000045"], "{scam:?}");
    // Every accepted PDU reached the SMSC (warned ones re-segmented into more parts), and
    // no refused text did.
    assert!(t.sim.wait_received(ok as usize, Duration::from_secs(5)));
    let received = t.sim.received();
    assert!(received.len() as u64 >= ok, "{} < {ok}", received.len());
    assert!(!reassembled_texts(&received)
        .iter()
        .any(|text| text.contains("安全账户")));
    let reloads = t.gw.metric("interdict_reloads_total{result=\"ok\"}");
    assert!(reloads >= 3.0, "{reloads}");
}

#[test]
fn submit_multi_and_replace_sm_are_decided_too() {
    use interdict_smpp::{Dest, DestList, ReplaceSm, SubmitMulti};
    let t = setup("smpp-multi", "", "", SimConfig::default());
    let mut esme = Esme::connect(t.smpp);
    assert_eq!(esme.bind(CommandId::BindTransmitter), status::ESME_ROK);
    let text = ucs2(ORDINARY);
    let multi = |dests: &[&'static str], raw: &mut Vec<u8>| -> u8 {
        let list: Vec<Dest<'_>> = dests
            .iter()
            .map(|d| {
                Dest::Sme(Address {
                    ton: 1,
                    npi: 1,
                    addr: d.as_bytes(),
                })
            })
            .collect();
        DestList::write(&list, raw).unwrap()
    };
    // One destination of three is a listed fraud number: the whole submit_multi is refused.
    let mut raw = Vec::new();
    let n = multi(&[TO, "8617000000001", "8613800000003"], &mut raw);
    let seq = esme.send(Body::SubmitMulti(SubmitMulti {
        source: Address {
            ton: 1,
            npi: 1,
            addr: FROM.as_bytes(),
        },
        destinations: DestList::from_raw(n, &raw),
        data_coding: 8,
        short_message: &text,
        ..SubmitMulti::default()
    }));
    assert_eq!(esme.response(seq).command_status, status::ESME_RSUBMITFAIL);
    let mut raw = Vec::new();
    let n = multi(&[TO, "8613800000003"], &mut raw);
    let seq = esme.send(Body::SubmitMulti(SubmitMulti {
        source: Address {
            ton: 1,
            npi: 1,
            addr: FROM.as_bytes(),
        },
        destinations: DestList::from_raw(n, &raw),
        data_coding: 8,
        short_message: &text,
        ..SubmitMulti::default()
    }));
    assert_eq!(esme.response(seq).command_status, status::ESME_ROK);
    // replace_sm swapping an accepted notice's text for a script (no data_coding: UCS-2
    // is read too).
    let scam = ucs2(SCAM);
    let seq = esme.send(Body::ReplaceSm(ReplaceSm {
        message_id: b"1",
        source: Address {
            ton: 1,
            npi: 1,
            addr: FROM.as_bytes(),
        },
        short_message: &scam,
        ..ReplaceSm::default()
    }));
    assert_eq!(esme.response(seq).command_status, status::ESME_RSUBMITFAIL);
    // A replace_sm from a suspect (warn) sender: the warning cannot be written into a text
    // whose coding the PDU does not name, so it is refused rather than passed unmarked.
    let seq = esme.send(Body::ReplaceSm(ReplaceSm {
        message_id: b"2",
        source: Address {
            ton: 1,
            npi: 1,
            addr: SUSPECT.as_bytes(),
        },
        short_message: &text,
        ..ReplaceSm::default()
    }));
    assert_eq!(esme.response(seq).command_status, status::ESME_RREPLACEFAIL);
    // An ordinary replace_sm passes (the simulator, not knowing message id 3, answers it).
    let seq = esme.send(Body::ReplaceSm(ReplaceSm {
        message_id: b"3",
        source: Address {
            ton: 1,
            npi: 1,
            addr: FROM.as_bytes(),
        },
        short_message: &text,
        ..ReplaceSm::default()
    }));
    assert_eq!(
        esme.response(seq).command_status,
        0x0C, // ESME_RINVMSGID: the SMSC's own answer, so it was forwarded
        "answered by the SMSC, not refused by the gateway"
    );
    let got = t.sim.received();
    assert_eq!(got.len(), 1, "only the clean submit_multi was accepted");
    assert_eq!(got[0].command, "submit_multi");
}

#[test]
fn a_warned_call_sends_a_dissuasion_sms_to_its_callee() {
    let t = setup(
        "smpp-dissuade-call",
        "",
        "[dissuasion]\nenabled = true\n",
        SimConfig::default(),
    );
    let core = common::Peer::bind(t.gw.next_hop);
    let border = common::Peer::any();
    let invite = common::invite(
        "INVITE",
        &format!("+{SUSPECT}"),
        "+8613800000009",
        border.port(),
        "",
        "warned-call-1",
    );
    border.send(t.gw.sip, &invite);
    let (forwarded, _) = core
        .recv(Duration::from_secs(5))
        .expect("the warned call goes on");
    assert!(String::from_utf8_lossy(&forwarded).starts_with("INVITE "));
    wait_for("the dissuasion SMS", || !t.sim.received().is_empty());
    let got = t.sim.received();
    assert_eq!(got[0].destinations[0].addr, "8613800000009");
    assert_eq!(got[0].destinations[0].ton, 1);
    assert!(got[0].text.as_deref().unwrap_or("").contains("电话"));
}
