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
