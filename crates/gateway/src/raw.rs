//! Raw inputs for `interdict check`: a file holding one SIP message or one SMPP
//! PDU (binary, or as hex text like the corpus vectors), turned into the event
//! the inline proxies will hand the engine.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use interdict_engine::{Decision, Ingress};
use interdict_sip::Message;
use interdict_smpp::Pdu;

use crate::check::{now_ms, Output};
use crate::decide::Decider;
use crate::ingest::{self, IngestOptions};

/// Largest input file read; SIP and SMPP messages are far smaller.
const MAX_FILE: u64 = 1 << 20;

/// Decides every file in order; a file that cannot be read or decided gets an
/// error line and the others are still decided.
pub fn check<W: Write>(
    engine: &Decider,
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
fn decide(engine: &Decider, bytes: &[u8], ingress: Ingress) -> Result<Decision, String> {
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

fn decide_sip(engine: &Decider, bytes: &[u8], ingress: Ingress) -> Result<Decision, String> {
    let message = Message::parse_datagram(bytes).map_err(|e| format!("SIP: {e}"))?;
    if message.trailing_len(bytes) > 0 {
        return Err("SIP: bytes after Content-Length (the gateway refuses it with 400)".into());
    }
    message.validate().map_err(|e| format!("SIP: {e}"))?;
    let ingested =
        ingest::sip::read(&message, &IngestOptions::default()).map_err(|e| format!("SIP: {e}"))?;
    Ok(engine.decide(&ingested, ingress, None, now_ms()).decision)
}

fn decide_smpp(engine: &Decider, bytes: &[u8], ingress: Ingress) -> Result<Decision, String> {
    let pdu = Pdu::decode(bytes).map_err(|e| format!("SMPP: {e}"))?;
    let ingested =
        ingest::smpp::read(&pdu, &IngestOptions::default()).map_err(|e| format!("SMPP: {e}"))?;
    Ok(engine.decide(&ingested, ingress, None, now_ms()).decision)
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
}
