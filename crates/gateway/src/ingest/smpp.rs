//! SMPP PDUs read for the engine: submit_sm, deliver_sm, data_sm, submit_multi and replace_sm,
//! one PDU or the whole of a concatenated message, as the SMSC and the handset will read them.
//!
//! - **Fields.** short_message and message_payload both present, message_payload twice, or
//!   UDHI without a valid UDH: SMSCs differ on which text they deliver, so the message is
//!   refused with the spec's status ([`IngestError::SmppRefused`]), never decided on one
//!   guess.
//! - **Text.** The declared coding is read as the handset reads it (UCS-2 big-endian unless
//!   a BOM). Octets above 0x7F under a coding that cannot hold them (GSM, IA5, Latin-1,
//!   binary, the 0xF0 class) are what UTF-8 or GBK senders put there and what gateways on
//!   the way render: the text decided is every plausible reading, one per line.
//! - **Whole messages.** [`read_whole`] joins the parts' octets and decodes once, so a
//!   character split across parts (a UCS-2 unit, a GBK double byte, a surrogate pair) is
//!   read as the handset shows it.
//! - **Addresses.** Read by TON: international numbers get their `+`. A digit string whose
//!   TON is unknown, or one that a CMPP/SGIP hop may have stripped of it, is also checked
//!   in the other reading (`+` added or removed) against the block lists.

use std::borrow::Cow;

use interdict_engine::EventKind;
use interdict_smpp::text::{self, Alphabet};
use interdict_smpp::tlv::TlvTag;
use interdict_smpp::{status, Address, Body, Message, Pdu, TextOptions};

use super::{Identities, Identity, IdentitySource, IngestError, IngestOptions, Ingested};
use crate::record::Degraded;

/// The parts of a text-carrying PDU the engine reads.
#[derive(Debug, Clone, Copy)]
pub struct TextPdu<'a> {
    /// The command (submit_sm, deliver_sm, …).
    pub command: &'static str,
    /// source_addr.
    pub source: Address<'a>,
    /// Every destination (one, or each of a submit_multi's; none for replace_sm).
    pub destinations: DestinationsOf<'a>,
    /// The message (coding, UDH, text octets, concatenation).
    pub message: Message<'a>,
    /// esm_class says this is an SMSC delivery receipt (not a person's text).
    pub receipt: bool,
}

/// The destinations of a text PDU, without allocating.
#[derive(Debug, Clone, Copy)]
pub enum DestinationsOf<'a> {
    /// One destination.
    One(Address<'a>),
    /// A submit_multi's list (distribution lists are names, not numbers: skipped).
    Multi(interdict_smpp::DestList<'a>),
    /// replace_sm names no destination.
    None,
}

impl<'a> DestinationsOf<'a> {
    /// Calls `f` with each SME destination.
    pub fn for_each(&self, mut f: impl FnMut(Address<'a>)) {
        match self {
            DestinationsOf::One(a) => f(*a),
            DestinationsOf::Multi(list) => {
                for d in list.iter() {
                    if let interdict_smpp::Dest::Sme(a) = d {
                        f(a);
                    }
                }
            }
            DestinationsOf::None => {}
        }
    }
}

/// The text-carrying view of a PDU, or why it has none / is refused.
///
/// PDUs that carry no text are [`IngestError::NotDecided`]; inconsistent message fields are
/// [`IngestError::SmppRefused`] with the status the `_resp` must carry.
pub fn text_pdu<'a>(pdu: &Pdu<'a>) -> Result<TextPdu<'a>, IngestError> {
    let refuse = |status: u32, message: String| IngestError::SmppRefused { status, message };
    let (command, source, destinations, message, tlvs, esm_class) = match &pdu.body {
        Body::SubmitSm(sm) | Body::DeliverSm(sm) => (
            pdu.command_id().name(),
            sm.source,
            DestinationsOf::One(sm.destination),
            sm.message(),
            sm.tlvs,
            sm.esm_class,
        ),
        Body::DataSm(sm) => (
            "data_sm",
            sm.source,
            DestinationsOf::One(sm.destination),
            sm.message(),
            sm.tlvs,
            sm.esm_class,
        ),
        Body::SubmitMulti(sm) => (
            "submit_multi",
            sm.source,
            DestinationsOf::Multi(sm.destinations),
            sm.message(),
            sm.tlvs,
            sm.esm_class,
        ),
        Body::ReplaceSm(r) => (
            "replace_sm",
            r.source,
            DestinationsOf::None,
            Message::from_parts(0, 0, r.short_message, &r.tlvs),
            r.tlvs,
            0,
        ),
        _ => return Err(IngestError::NotDecided(pdu.command_id().name().to_string())),
    };
    if tlvs
        .iter()
        .filter(|t| t.tag == TlvTag::MessagePayload)
        .nth(1)
        .is_some()
    {
        return Err(refuse(
            status::ESME_RINVOPTPARAMVAL,
            format!("{command}: message_payload given twice (SMSCs differ on which is sent)"),
        ));
    }
    let message = message.map_err(|e| refuse(e.command_status(), format!("{command}: {e}")))?;
    Ok(TextPdu {
        command,
        source,
        destinations,
        message,
        receipt: esm_class & 0x3C == 0x04,
    })
}

/// Reads one PDU for the engine (a part of a concatenated message is read alone: the
/// proxy holds parts and uses [`read_whole`]).
pub fn read<'a>(pdu: &Pdu<'a>, opts: &IngestOptions) -> Result<Ingested<'a>, IngestError> {
    read_text(&text_pdu(pdu)?, pdu.sequence_number, opts)
}

/// Reads one PDU already viewed by [`text_pdu`] (the proxy views it once, to tell parts of
/// a concatenated message from whole ones); `sequence` becomes the message id.
pub fn read_text<'a>(
    t: &TextPdu<'a>,
    sequence: u32,
    opts: &IngestOptions,
) -> Result<Ingested<'a>, IngestError> {
    let (mut text, degraded) = render(&[t.message], &TextOptions::default());
    if t.command == "replace_sm" {
        // replace_sm carries no data_coding (the replaced message's applies): UCS-2 too.
        let mut ucs2 = String::new();
        interdict_smpp::text::ucs2::decode(t.message.payload, &mut ucs2);
        push_reading(&mut text, &ucs2);
    }
    ingested(t, text, degraded, Cow::Owned(sequence.to_string()), opts)
}

/// Reads a whole concatenated message: `parts` in order (the first gives the addresses and
/// the coding), their text octets joined and decoded once. `missing` parts (a reassembly
/// that timed out) mark the text degraded.
pub fn read_whole<'a>(
    parts: &[TextPdu<'a>],
    missing: bool,
    id: String,
    opts: &IngestOptions,
) -> Result<Ingested<'a>, IngestError> {
    let Some(first) = parts.first() else {
        return Err(IngestError::NotDecided("an empty message".into()));
    };
    let messages: Vec<Message<'a>> = parts.iter().map(|p| p.message).collect();
    let (text, mut degraded) = render(&messages, &TextOptions::default());
    degraded.text_truncated |= missing;
    ingested(first, text, degraded, Cow::Owned(id), opts)
}

fn ingested<'a>(
    t: &TextPdu<'a>,
    text: String,
    degraded: Degraded,
    id: Cow<'a, str>,
    opts: &IngestOptions,
) -> Result<Ingested<'a>, IngestError> {
    if text.len() > opts.max_text_bytes {
        return Err(IngestError::TooLarge {
            len: text.len(),
            max: opts.max_text_bytes,
        });
    }
    let mut callers = Identities::new();
    push_readings(&mut callers, IdentitySource::SmppSource, t.source);
    let mut callees = Identities::new();
    t.destinations
        .for_each(|a| push_readings(&mut callees, IdentitySource::SmppDestination, a));
    Ok(Ingested {
        kind: EventKind::Sms,
        callers,
        callees,
        text: Some(Cow::Owned(text)),
        degraded,
        id,
        sms_part: None,
    })
}

/// The text of `messages` (the parts of one message, in order) as the handset renders it,
/// followed by every other plausible reading, one per line.
pub fn render(messages: &[Message<'_>], options: &TextOptions) -> (String, Degraded) {
    let mut degraded = Degraded::default();
    let Some(first) = messages.first() else {
        return (String::new(), degraded);
    };
    let declared = text::alphabet(first.data_coding, options);
    let joined_payload;
    let mixed = messages.iter().any(|m| m.data_coding != first.data_coding);
    let whole = match messages {
        [only] => *only,
        _ if mixed || (matches!(declared, Alphabet::Gsm7) && options.gsm_packed) => {
            // Parts in different codings (a handset decodes each in its own) or packed
            // septets (aligned per part): each part decoded alone, then joined.
            let mut out = String::new();
            for m in messages {
                let (t, d) = render(std::slice::from_ref(m), options);
                degraded.text_undecodable |= d.text_undecodable;
                out.push_str(&t);
            }
            return (out, degraded);
        }
        _ => {
            joined_payload = messages
                .iter()
                .flat_map(|m| m.payload.iter().copied())
                .collect::<Vec<u8>>();
            Message {
                data_coding: first.data_coding,
                udh: first.udh,
                user_data: &joined_payload,
                payload: &joined_payload,
                from_payload_tlv: first.from_payload_tlv,
                concat: None,
            }
        }
    };
    let decoded = text::decode(&whole, options);
    note(&mut degraded, &decoded);
    let mut out = decoded.text;
    let narrow = matches!(
        declared,
        Alphabet::Gsm7 | Alphabet::Ascii | Alphabet::Latin1 | Alphabet::Binary
    );
    if narrow && whole.payload.iter().any(|b| *b > 0x7F) {
        if let Ok(utf8) = std::str::from_utf8(whole.payload) {
            push_reading(&mut out, utf8);
        }
        let (gbk, replaced) = encoding_rs::GBK.decode_without_bom_handling(whole.payload);
        if !replaced {
            push_reading(&mut out, &gbk);
        }
    }
    (out, degraded)
}

/// The text of `messages` (the parts of one message, in order) as the handset shows it:
/// the declared coding only (what a warning prefix is put in front of).
pub fn handset_text(messages: &[Message<'_>], options: &TextOptions) -> String {
    let Some(first) = messages.first() else {
        return String::new();
    };
    let mixed = messages.iter().any(|m| m.data_coding != first.data_coding);
    if messages.len() == 1 || options.gsm_packed || mixed {
        return messages
            .iter()
            .map(|m| text::decode(m, options).text)
            .collect();
    }
    let joined: Vec<u8> = messages
        .iter()
        .flat_map(|m| m.payload.iter().copied())
        .collect();
    let whole = Message {
        data_coding: first.data_coding,
        udh: first.udh,
        user_data: &joined,
        payload: &joined,
        from_payload_tlv: first.from_payload_tlv,
        concat: None,
    };
    text::decode(&whole, options).text
}

fn push_reading(out: &mut String, reading: &str) {
    if !out.contains(reading) {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(reading);
    }
}

fn note(degraded: &mut Degraded, t: &text::Text) {
    use interdict_smpp::TextFlags;
    if t.flags.contains(TextFlags::UNSUPPORTED)
        || (t.flags.contains(TextFlags::REPLACED) && t.text.is_empty())
    {
        degraded.text_undecodable = true;
    }
}

/// An SMPP address as the engine reads numbers: international (TON 1) numbers get their
/// `+`, alphanumeric sender ids and others stay as sent.
pub fn address(ton: u8, addr: &[u8]) -> Cow<'_, str> {
    let text = String::from_utf8_lossy(addr);
    if ton == 1 && !text.starts_with('+') && text.bytes().all(|b| b.is_ascii_digit()) {
        Cow::Owned(format!("+{text}"))
    } else {
        text
    }
}

/// Every reading of an address: as its TON says first, then, for a digit string whose TON
/// a hop may have dropped or mis-set (unknown, national, international), the other one.
fn push_readings<'a>(out: &mut Identities<'a>, source: IdentitySource, a: Address<'a>) {
    let primary = address(a.ton, a.addr);
    let digits = a.addr.len() > 6 && a.addr.iter().all(u8::is_ascii_digit);
    let other = match a.ton {
        0..=2 if digits => Some(if primary.starts_with('+') {
            String::from_utf8_lossy(a.addr) // ASCII digits: borrowed, not copied
        } else {
            Cow::Owned(format!("+{primary}"))
        }),
        _ => None,
    };
    out.push(Identity {
        source,
        value: primary,
    });
    if let Some(value) = other {
        out.push(Identity { source, value });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn international_smpp_addresses_get_their_plus() {
        assert_eq!(address(1, b"8613800000000"), "+8613800000000");
        assert_eq!(address(1, b"+8613800000000"), "+8613800000000");
        assert_eq!(address(0, b"13800000000"), "13800000000");
        assert_eq!(address(5, b"ICBC"), "ICBC");
        assert_eq!(address(1, b"ICBC"), "ICBC", "alphanumeric stays as sent");
    }

    #[test]
    fn a_digit_address_is_read_both_ways() {
        let mut v = Identities::new();
        push_readings(
            &mut v,
            IdentitySource::SmppSource,
            Address {
                ton: 0,
                npi: 1,
                addr: b"85255501234",
            },
        );
        let values: Vec<&str> = v.iter().map(|i| i.value.as_ref()).collect();
        assert_eq!(values, ["85255501234", "+85255501234"]);
        v.clear();
        push_readings(
            &mut v,
            IdentitySource::SmppSource,
            Address {
                ton: 5,
                npi: 0,
                addr: b"ICBC",
            },
        );
        assert_eq!(v.len(), 1);
    }

    fn msg(dcs: u8, payload: &[u8]) -> Message<'_> {
        Message {
            data_coding: dcs,
            udh: None,
            user_data: payload,
            payload,
            from_payload_tlv: false,
            concat: None,
        }
    }

    #[test]
    fn a_character_split_across_parts_is_read_whole() {
        let mut octets = Vec::new();
        interdict_smpp::text::ucs2::encode("安全账户", &mut octets);
        let (a, b) = octets.split_at(3); // mid-character
        let (text, _) = render(&[msg(8, a), msg(8, b)], &TextOptions::default());
        assert_eq!(text, "安全账户");
        let gbk = encoding_rs::GBK.encode("安全账户").0.into_owned();
        let (a, b) = gbk.split_at(3);
        let (text, _) = render(&[msg(0x0F, a), msg(0x0F, b)], &TextOptions::default());
        assert_eq!(text, "安全账户");
    }

    #[test]
    fn gbk_or_utf8_under_a_narrow_coding_is_read_as_well() {
        let gbk = encoding_rs::GBK.encode("转账到安全账户").0.into_owned();
        for dcs in [0x00, 0x01, 0x03, 0x04, 0xF0] {
            let (text, _) = render(&[msg(dcs, &gbk)], &TextOptions::default());
            assert!(text.contains("安全账户"), "dcs {dcs:#x}: {text}");
        }
        let (text, _) = render(&[msg(0x00, "安全账户".as_bytes())], &TextOptions::default());
        assert!(text.contains("安全账户"));
    }

    #[test]
    fn parts_in_different_codings_are_each_read_in_their_own() {
        let gbk = encoding_rs::GBK.encode("账户").0.into_owned();
        let (text, _) = render(
            &[msg(8, &ucs2_of("转入安全")), msg(0x0F, &gbk)],
            &TextOptions::default(),
        );
        assert_eq!(text, "转入安全账户");
    }

    fn ucs2_of(t: &str) -> Vec<u8> {
        let mut v = Vec::new();
        interdict_smpp::text::ucs2::encode(t, &mut v);
        v
    }
}
