//! Raw inputs for `interdict check`: a file holding one SIP message or one SMPP
//! PDU (binary, or as hex text like the corpus vectors), turned into the event
//! the inline proxies will hand the engine.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use interdict_engine::{Decision, Engine, Event, EventKind, Ingress};
use interdict_sip::{Message, Method};
use interdict_smpp::{text, Body, Pdu, TextOptions};

use crate::check::{now_ms, Output};

/// Largest input file read; SIP and SMPP messages are far smaller.
const MAX_FILE: u64 = 1 << 20;

/// Decides every file in order; a file that cannot be read or decided gets an
/// error line and the others are still decided.
pub fn check<W: Write>(
    engine: &Engine,
    files: &[PathBuf],
    ingress: Ingress,
    output: &mut Output<W>,
) -> io::Result<()> {
    for path in files {
        let name = path.to_string_lossy();
        match read(path).and_then(|bytes| decide(engine, &bytes, ingress)) {
            Ok(decision) => output.decision(&name, &decision)?,
            Err(message) => output.error(&name, &message)?,
        }
    }
    Ok(())
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    if meta.len() > MAX_FILE {
        return Err(format!("{} bytes is larger than {MAX_FILE}", meta.len()));
    }
    std::fs::read(path).map_err(|e| format!("cannot read: {e}"))
}

/// Decides one raw input, telling SIP, SMPP and hex-encoded SMPP apart.
fn decide(engine: &Engine, bytes: &[u8], ingress: Ingress) -> Result<Decision, String> {
    if let Some(pdu) = hex_decode(bytes) {
        return decide_smpp(engine, &pdu, ingress);
    }
    if looks_like_sip(bytes) {
        return decide_sip(engine, bytes, ingress);
    }
    decide_smpp(engine, bytes, ingress)
}

/// A SIP message starts with a printable token (a method, or `SIP/2.0`); an
/// SMPP PDU starts with a big-endian length whose first octet is almost always 0.
fn looks_like_sip(bytes: &[u8]) -> bool {
    bytes.first().is_some_and(|b| b.is_ascii_alphabetic())
}

/// The octets of a file of hex digits (whitespace allowed), or `None`.
fn hex_decode(bytes: &[u8]) -> Option<Vec<u8>> {
    let digits: Vec<u8> = bytes
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if digits.is_empty()
        || !digits.len().is_multiple_of(2)
        || !digits.iter().all(u8::is_ascii_hexdigit)
    {
        return None;
    }
    digits
        .chunks_exact(2)
        .map(|pair| {
            let text = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(text, 16).ok()
        })
        .collect()
}

fn decide_sip(engine: &Engine, bytes: &[u8], ingress: Ingress) -> Result<Decision, String> {
    let message = Message::parse_datagram(bytes).map_err(|e| format!("SIP: {e}"))?;
    message.validate().map_err(|e| format!("SIP: {e}"))?;
    let method = message
        .method()
        .ok_or("SIP: a response is not a call or a message; nothing to decide")?;
    let kind = match method {
        Method::Invite => EventKind::CallOffer,
        Method::Message => EventKind::Sms,
        other => {
            return Err(format!(
                "SIP: {} is neither a call (INVITE) nor a message (MESSAGE); nothing to decide",
                other.as_str()
            ))
        }
    };
    let caller = message.caller().map_err(|e| format!("SIP: caller: {e}"))?;
    let callee = match message.request_uri() {
        Some(uri) => uri.as_str(),
        None => return Err("SIP: request without a Request-URI".into()),
    };
    // The text of a SIP MESSAGE is its body when that is plain text (RFC 3428).
    let plain_text = matches!(message.content_type(), Ok(None))
        || matches!(message.content_type(), Ok(Some(ct)) if ct.is("text", "plain"));
    let body_text;
    let text = if matches!(kind, EventKind::Sms) && plain_text {
        body_text = String::from_utf8_lossy(message.body());
        Some(body_text.as_ref())
    } else {
        None
    };
    Ok(engine.decide(&Event {
        kind,
        caller: caller.uri().as_str(),
        callee,
        text,
        ingress,
        trunk: None,
        at_ms: now_ms(),
    }))
}

fn decide_smpp(engine: &Engine, bytes: &[u8], ingress: Ingress) -> Result<Decision, String> {
    let pdu = Pdu::decode(bytes).map_err(|e| format!("SMPP: {e}"))?;
    let (source, destination, message) = match &pdu.body {
        Body::SubmitSm(sm) | Body::DeliverSm(sm) => (sm.source, sm.destination, sm.message()),
        Body::DataSm(sm) => (sm.source, sm.destination, sm.message()),
        _ => {
            return Err(format!(
                "SMPP: {} carries no short message; nothing to decide",
                pdu.command_id().name()
            ))
        }
    };
    let message = message.map_err(|e| format!("SMPP: {e}"))?;
    let decoded = text::decode(&message, &TextOptions::default());
    let caller = address(source.ton, source.addr);
    let callee = address(destination.ton, destination.addr);
    Ok(engine.decide(&Event {
        kind: EventKind::Sms,
        caller: &caller,
        callee: &callee,
        text: Some(&decoded.text),
        ingress,
        trunk: None,
        at_ms: now_ms(),
    }))
}

/// An SMPP address as the engine reads numbers: international (TON 1) numbers
/// get their `+`, alphanumeric sender ids and others stay as sent.
fn address(ton: u8, addr: &[u8]) -> String {
    let text = String::from_utf8_lossy(addr);
    if ton == 1 && !text.starts_with('+') && text.bytes().all(|b| b.is_ascii_digit()) {
        format!("+{text}")
    } else {
        text.into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_files_are_told_from_binary_and_sip() {
        assert_eq!(
            hex_decode(b"0000001000000015\n00000000 00000001\n"),
            Some(vec![0, 0, 0, 16, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 1])
        );
        assert_eq!(hex_decode(b"abc"), None, "odd number of digits");
        assert_eq!(hex_decode(b"INVITE sip:x SIP/2.0"), None);
        assert_eq!(hex_decode(b" \n"), None);
        assert!(looks_like_sip(b"INVITE sip:+8613800000000@h SIP/2.0\r\n"));
        assert!(!looks_like_sip(&[0, 0, 0, 16, 0, 0, 0, 0x15]));
    }

    #[test]
    fn international_smpp_addresses_get_their_plus() {
        assert_eq!(address(1, b"8613800000000"), "+8613800000000");
        assert_eq!(address(1, b"+8613800000000"), "+8613800000000");
        assert_eq!(address(0, b"13800000000"), "13800000000");
        assert_eq!(address(5, b"ICBC"), "ICBC");
        assert_eq!(address(1, b"ICBC"), "ICBC", "alphanumeric stays as sent");
    }
}
