//! An SMPP PDU read for the engine: submit_sm, deliver_sm and data_sm with their decoded text.
//!
//! Addresses are read by TON: international numbers (TON 1) get their `+`, alphanumeric
//! sender ids and the others stay as sent. The SMPP gateway issue extends this module
//! (both readings where the TON is ambiguous, whole concatenated messages).

use std::borrow::Cow;

use interdict_engine::EventKind;
use interdict_smpp::{text, Body, Pdu, TextOptions};

use super::{Identity, IdentitySource, IngestError, IngestOptions, Ingested};
use crate::record::Degraded;

/// Reads a decoded PDU for the engine; PDUs that carry no short message are
/// [`IngestError::NotDecided`].
pub fn read<'a>(pdu: &Pdu<'a>, opts: &IngestOptions) -> Result<Ingested<'a>, IngestError> {
    let (source, destination, message) = match &pdu.body {
        Body::SubmitSm(sm) | Body::DeliverSm(sm) => (sm.source, sm.destination, sm.message()),
        Body::DataSm(sm) => (sm.source, sm.destination, sm.message()),
        _ => return Err(IngestError::NotDecided(pdu.command_id().name().to_string())),
    };
    let message = message.map_err(|e| IngestError::Malformed {
        protocol: "SMPP",
        message: e.to_string(),
    })?;
    let decoded = text::decode(&message, &TextOptions::default());
    let mut degraded = Degraded::default();
    if !decoded.flags.is_empty() && decoded.text.is_empty() {
        degraded.text_undecodable = true;
    }
    if decoded.text.len() > opts.max_text_bytes {
        return Err(IngestError::TooLarge {
            len: decoded.text.len(),
            max: opts.max_text_bytes,
        });
    }
    Ok(Ingested {
        kind: EventKind::Sms,
        callers: vec![Identity {
            source: IdentitySource::SmppSource,
            value: address(source.ton, source.addr),
        }],
        callees: vec![Identity {
            source: IdentitySource::SmppDestination,
            value: address(destination.ton, destination.addr),
        }],
        text: Some(Cow::Owned(decoded.text)),
        degraded,
        id: Cow::Owned(pdu.sequence_number.to_string()),
    })
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
}
