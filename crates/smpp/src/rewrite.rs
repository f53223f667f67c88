//! The gateway's "warn" path: forward a submit_sm / deliver_sm with a warning
//! prefix (e.g. `【反诈提醒】`) put in front of its text.

use thiserror::Error;

use crate::encode::{rewrite_sm, Placement};
use crate::error::{EncodeError, MessageError};
use crate::pdu::Pdu;
use crate::text::{self, gsm7, ucs2, Alphabet, TextOptions};

/// Why a message could not be rewritten (the gateway then forwards it unchanged or blocks it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum RewriteError {
    /// The PDU is not a submit_sm / deliver_sm.
    #[error("only submit_sm and deliver_sm can be rewritten")]
    NotAShortMessage,
    /// The message fields are inconsistent.
    #[error(transparent)]
    Message(#[from] MessageError),
    /// Binary or unsupported coding: there is no text to prefix.
    #[error("data_coding {0:#04x} carries no decodable text")]
    NotText(u8),
    /// Encoding the new PDU failed.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The text needs more parts than a concatenation UDH can number.
    #[error("the text needs {0} parts; at most 255 can be concatenated")]
    TooManyParts(usize),
}

/// Largest short_message the rewriter writes; longer user data goes to message_payload.
pub const MAX_SHORT_MESSAGE: usize = 254;

/// Append to `out` the PDU with `prefix` put before its text.
///
/// Only the first part of a concatenated message gets the prefix; other parts
/// are re-encoded unchanged. The text keeps its coding when the prefix can be
/// written in it (GSM unpacked, IA5, Latin-1, UCS-2, GBK); otherwise it becomes UCS-2
/// (data_coding 8). The UDH is kept. When the new user data exceeds
/// [`MAX_SHORT_MESSAGE`] octets (or the original used message_payload) it goes
/// into message_payload. sm_length, TLV lengths and command_length are recomputed.
pub fn prefix_text(
    out: &mut Vec<u8>,
    pdu: &Pdu<'_>,
    prefix: &str,
    options: &TextOptions,
) -> Result<(), RewriteError> {
    let sm = pdu.as_sm().ok_or(RewriteError::NotAShortMessage)?;
    let message = sm.message()?;
    if message.concat.is_some_and(|c| c.seq != 1) {
        pdu.encode(out)?;
        return Ok(());
    }
    let decoded = text::decode(&message, options);
    let new_text = format!("{prefix}{}", decoded.text);
    let mut user_data = Vec::with_capacity(new_text.len() * 2 + 8);
    if let Some(udh) = message.udh {
        user_data.push(u8::try_from(udh.raw().len()).unwrap_or(u8::MAX));
        user_data.extend_from_slice(udh.raw());
    }
    let mut data_coding = sm.data_coding;
    let kept = match decoded.alphabet {
        Alphabet::Gsm7 if !options.gsm_packed => gsm7::encode_unpacked(&new_text).ok(),
        Alphabet::Ascii if new_text.is_ascii() => Some(new_text.as_bytes().to_vec()),
        Alphabet::Latin1
            if decoded.flags.is_empty() || !decoded.flags.contains(text::TextFlags::GUESSED) =>
        {
            new_text
                .chars()
                .map(|c| u8::try_from(u32::from(c)).ok())
                .collect::<Option<Vec<u8>>>()
        }
        Alphabet::Ucs2 => {
            let mut v = Vec::new();
            ucs2::encode(&new_text, &mut v);
            Some(v)
        }
        Alphabet::Gbk => {
            // A character GBK cannot hold sends the text to UCS-2 instead.
            let (octets, _, unmappable) = encoding_rs::GBK.encode(&new_text);
            (!unmappable).then(|| octets.into_owned())
        }
        Alphabet::Binary | Alphabet::Unsupported(_) => {
            return Err(RewriteError::NotText(sm.data_coding))
        }
        _ => None,
    };
    match kept {
        Some(octets) => user_data.extend_from_slice(&octets),
        None => {
            data_coding = 0x08;
            ucs2::encode(&new_text, &mut user_data);
        }
    }
    let placement = if message.from_payload_tlv || user_data.len() > MAX_SHORT_MESSAGE {
        Placement::MessagePayload
    } else {
        Placement::ShortMessage
    };
    rewrite_sm(out, pdu, data_coding, &user_data, placement)?;
    Ok(())
}

/// Most octets of user data (UDH included) one short message carries on the air.
pub const MAX_PART_OCTETS: usize = 140;
/// Most septets one GSM 7-bit short message carries (140 octets packed).
pub const MAX_PART_SEPTETS: usize = 160;
/// Most parts a concatenated message can have (the UDH's total is one octet).
pub const MAX_PARTS: usize = 255;

/// A text encoded for the handset and cut into the parts the air interface carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segments {
    /// The data_coding every part is written in.
    pub data_coding: u8,
    /// Each part's user data, UDH included when there is more than one part.
    pub parts: Vec<Vec<u8>>,
}

impl Segments {
    /// Whether the parts carry a concatenation UDH (set UDHI on them).
    pub fn concatenated(&self) -> bool {
        self.parts.len() > 1
    }
}

/// Encode `text` in `data_coding` (read with `options`) when it can be written in it,
/// otherwise in UCS-2 (data_coding 8), and cut it into parts that fit one short message:
/// 140 octets, or 160 septets for unpacked GSM, each part of a longer text with a
/// concatenation UDH (8-bit `reference`, 6 octets). A character is never split across
/// parts (a UCS-2 surrogate pair, a GBK double byte, a GSM escape and its character).
///
/// Why: a warning prefix can push a message past one part; the SMSC would otherwise
/// refuse it or cut it where the handset cannot put it back together.
pub fn segment(
    text: &str,
    data_coding: u8,
    options: &TextOptions,
    reference: u8,
) -> Result<Segments, RewriteError> {
    let declared = text::alphabet(data_coding, options);
    let (coding, units) = match encode_units(text, declared, options) {
        Some(units) => (data_coding, units),
        None => (
            0x08,
            encode_units(text, Alphabet::Ucs2, options).unwrap_or_default(),
        ),
    };
    let gsm = matches!(declared, Alphabet::Gsm7) && coding == data_coding;
    let total: usize = units.iter().map(Vec::len).sum();
    let (single, multi) = if gsm {
        (MAX_PART_SEPTETS, MAX_PART_SEPTETS - 7)
    } else {
        (MAX_PART_OCTETS, MAX_PART_OCTETS - 6)
    };
    if total <= single {
        return Ok(Segments {
            data_coding: coding,
            parts: vec![units.concat()],
        });
    }
    let mut bodies: Vec<Vec<u8>> = vec![Vec::new()];
    for unit in units {
        let full = bodies.last().is_some_and(|b| b.len() + unit.len() > multi);
        if full {
            bodies.push(Vec::new());
        }
        if let Some(body) = bodies.last_mut() {
            body.extend_from_slice(&unit);
        }
    }
    let count = bodies.len();
    let count_u8 = u8::try_from(count)
        .ok()
        .filter(|n| usize::from(*n) <= MAX_PARTS)
        .ok_or(RewriteError::TooManyParts(count))?;
    let parts = bodies
        .into_iter()
        .zip(1u8..)
        .map(|(body, seq)| {
            let mut part = Vec::with_capacity(body.len() + 6);
            part.extend_from_slice(&[0x05, 0x00, 0x03, reference, count_u8, seq]);
            part.extend_from_slice(&body);
            part
        })
        .collect();
    Ok(Segments {
        data_coding: coding,
        parts,
    })
}

/// Each character of `text` encoded alone in `alphabet` (unpacked septets for GSM), or
/// None when one cannot be written in it.
fn encode_units(text: &str, alphabet: Alphabet, options: &TextOptions) -> Option<Vec<Vec<u8>>> {
    let mut buf = [0u8; 4];
    text.chars()
        .map(|c| match alphabet {
            Alphabet::Gsm7 if !options.gsm_packed => {
                gsm7::encode_unpacked(c.encode_utf8(&mut buf)).ok()
            }
            Alphabet::Ascii => c.is_ascii().then(|| vec![c as u8]),
            Alphabet::Latin1 => u8::try_from(u32::from(c)).ok().map(|b| vec![b]),
            Alphabet::Ucs2 => {
                let mut v = Vec::with_capacity(4);
                ucs2::encode(c.encode_utf8(&mut buf), &mut v);
                Some(v)
            }
            Alphabet::Gbk => {
                let (octets, _, unmappable) = encoding_rs::GBK.encode(c.encode_utf8(&mut buf));
                (!unmappable).then(|| octets.into_owned())
            }
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod segment_tests {
    use super::*;

    fn joined_ucs2(s: &Segments) -> String {
        let mut out = String::new();
        let octets: Vec<u8> = s
            .parts
            .iter()
            .flat_map(|p| p.get(6..).unwrap_or_default().to_vec())
            .collect();
        ucs2::decode(&octets, &mut out);
        out
    }

    #[test]
    fn a_prefixed_ucs2_text_is_cut_into_numbered_parts_of_140_octets() {
        let text = format!("【反诈提醒】{}", "您的账户存在风险请立即处理".repeat(6));
        let s = segment(&text, 0x08, &TextOptions::default(), 7).unwrap();
        assert_eq!(s.data_coding, 0x08);
        assert!(s.concatenated());
        let n = s.parts.len() as u8;
        for (i, p) in s.parts.iter().enumerate() {
            assert!(p.len() <= MAX_PART_OCTETS, "part {i}: {}", p.len());
            assert_eq!(&p[..6], &[0x05, 0x00, 0x03, 7, n, i as u8 + 1]);
        }
        assert_eq!(joined_ucs2(&s), text);
    }

    #[test]
    fn a_gsm_text_that_cannot_hold_the_prefix_becomes_ucs2_and_short_text_stays_whole() {
        let s = segment(
            "【反诈提醒】Your parcel is held",
            0x00,
            &TextOptions::default(),
            1,
        )
        .unwrap();
        assert_eq!(s.data_coding, 0x08);
        assert_eq!(s.parts.len(), 1, "fits one part: no UDH");
        let s = segment(&"a".repeat(160), 0x00, &TextOptions::default(), 1).unwrap();
        assert_eq!((s.data_coding, s.parts.len()), (0x00, 1));
        let s = segment(&"a".repeat(161), 0x00, &TextOptions::default(), 1).unwrap();
        assert_eq!(s.parts.len(), 2);
        assert!(s.parts.iter().all(|p| p.len() <= 6 + 153));
    }

    #[test]
    fn surrogate_pairs_and_gbk_characters_are_never_split() {
        let text = "😀".repeat(40); // 160 octets in UCS-2: two parts
        let s = segment(&text, 0x08, &TextOptions::default(), 2).unwrap();
        assert!(s.parts.iter().all(|p| (p.len() - 6) % 4 == 0));
        assert_eq!(joined_ucs2(&s), text);
        let text = "刷单返利".repeat(20); // 160 octets in GBK
        let s = segment(&text, 0x0F, &TextOptions::default(), 3).unwrap();
        assert_eq!(s.data_coding, 0x0F);
        let octets: Vec<u8> = s.parts.iter().flat_map(|p| p[6..].to_vec()).collect();
        assert!(s.parts.iter().all(|p| (p.len() - 6) % 2 == 0));
        assert_eq!(encoding_rs::GBK.decode(&octets).0, text);
    }
}
