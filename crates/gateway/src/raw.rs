//! Raw inputs for `interdict check`: a file holding one SIP message or one SMPP
//! PDU (binary, or as hex text like the corpus vectors), turned into the event
//! the inline proxies will hand the engine.
//!
//! The parts of a concatenated SMS given as separate files (SMPP PDUs with a UDH or SAR
//! fields, or SIP MESSAGEs carrying 3GPP parts) are joined and decided once, as the
//! inline gateway does: a script split across parts is read whole here too, and every
//! part's line carries the whole message's decision.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use interdict_engine::{Decision, Ingress};
use interdict_sip::Message;
use interdict_smpp::Pdu;

use crate::check::{now_ms, Output};
use crate::decide::Decider;
use crate::ingest::{self, IngestOptions, SmsPiece};

/// Largest input file read; SIP and SMPP messages are far smaller.
const MAX_FILE: u64 = 1 << 20;

/// Decides every file in order; a file that cannot be read or decided gets an
/// error line and the others are still decided. Parts of one concatenated message
/// (same protocol, sender, recipient, reference and total) are decided together.
pub fn check<W: Write>(
    engine: &Decider,
    files: &[PathBuf],
    ingress: Ingress,
    output: &mut Output<W>,
) -> io::Result<()> {
    let inputs: Vec<Result<Input, String>> = files.iter().map(|p| read_input(p)).collect();
    let mut groups: BTreeMap<PartKey, Vec<usize>> = BTreeMap::new();
    for (i, input) in inputs.iter().enumerate() {
        if let Some(key) = input.as_ref().ok().and_then(part_key) {
            groups.entry(key).or_default().push(i);
        }
    }
    let mut results: Vec<Option<Result<Decision, String>>> = vec![None; inputs.len()];
    for members in groups.values() {
        let parts: Vec<&Input> = members
            .iter()
            .filter_map(|&i| inputs.get(i)?.as_ref().ok())
            .collect();
        let whole = decide_parts(engine, &parts, ingress);
        for &i in members {
            if let Some(slot) = results.get_mut(i) {
                *slot = Some(whole.clone());
            }
        }
    }
    for ((path, input), result) in files.iter().zip(&inputs).zip(results) {
        let name = path.to_string_lossy();
        let result = result.unwrap_or_else(|| {
            input
                .as_ref()
                .map_err(String::clone)
                .and_then(|input| decide(engine, input, ingress))
        });
        match result {
            Ok(decision) => output.decision(&name, &decision)?,
            Err(message) => output.error(&name, &message)?,
        }
    }
    Ok(())
}

/// One input file's octets, hex already decoded, and what they hold.
struct Input {
    octets: Vec<u8>,
    sip: bool,
}

fn read_input(path: &Path) -> Result<Input, String> {
    let bytes = read(path)?;
    Ok(match hex_decode(&bytes) {
        Some(octets) => Input { octets, sip: false },
        None => Input {
            sip: looks_like_sip(&bytes),
            octets: bytes,
        },
    })
}

/// Which concatenated message a part belongs to: protocol, sender, recipient, reference
/// and total (the key the inline gateway holds parts by).
type PartKey = (bool, String, String, u16, u8);

/// The message an input is a part of, if it is a part of a concatenated SMS.
fn part_key(input: &Input) -> Option<PartKey> {
    if input.sip {
        let msg = Message::parse_datagram(&input.octets).ok()?;
        let ing = ingest::sip::read(&msg, &IngestOptions::default()).ok()?;
        let part = ing.sms_part.as_ref().filter(|p| p.total > 1)?;
        Some((
            true,
            ing.callers.first()?.value.to_string(),
            ing.callees.first()?.value.to_string(),
            part.reference,
            part.total,
        ))
    } else {
        let pdu = Pdu::decode(&input.octets).ok()?;
        let t = ingest::smpp::text_pdu(&pdu).ok()?;
        let c = t.message.concat.filter(|c| c.total > 1)?;
        let mut destination = String::new();
        t.destinations.for_each(|a| {
            if destination.is_empty() {
                destination = String::from_utf8_lossy(a.addr).into_owned();
            }
        });
        Some((
            false,
            String::from_utf8_lossy(t.source.addr).into_owned(),
            destination,
            c.reference,
            c.total,
        ))
    }
}

/// Decides the parts of one message together: their text joined in part order (a part
/// given twice counts once), marked degraded when parts are missing.
fn decide_parts(engine: &Decider, parts: &[&Input], ingress: Ingress) -> Result<Decision, String> {
    let opts = IngestOptions::default();
    let Some(first) = parts.first() else {
        return Err("no part".into());
    };
    if first.sip {
        let messages: Vec<Message<'_>> = parts
            .iter()
            .map(|p| Message::parse_datagram(&p.octets).map_err(|e| format!("SIP: {e}")))
            .collect::<Result<_, _>>()?;
        let read: Vec<_> = messages
            .iter()
            .map(|m| ingest::sip::read(m, &opts).map_err(|e| format!("SIP: {e}")))
            .collect::<Result<_, _>>()?;
        let mut pieces: Vec<Option<SmsPiece>> = Vec::new();
        for part in read.iter().filter_map(|ing| ing.sms_part.as_ref()) {
            if pieces.len() < usize::from(part.total) {
                pieces.resize(usize::from(part.total), None);
            }
            let at = usize::from(part.seq.saturating_sub(1));
            if let Some(slot) = pieces.get_mut(at).filter(|s| s.is_none()) {
                *slot = Some(part.piece.clone());
            }
        }
        let Some(mut whole) = read.into_iter().next() else {
            return Err("no part".into());
        };
        let complete = pieces.iter().all(Option::is_some);
        whole.text = Some(SmsPiece::join(&pieces).into());
        whole.degraded.text_truncated |= !complete;
        whole.sms_part = None;
        return Ok(engine.decide(&whole, ingress, None, now_ms()).decision);
    }
    let pdus: Vec<Pdu<'_>> = parts
        .iter()
        .map(|p| Pdu::decode(&p.octets).map_err(|e| format!("SMPP: {e}")))
        .collect::<Result<_, _>>()?;
    let mut views: Vec<(u8, ingest::smpp::TextPdu<'_>)> = Vec::new();
    let mut total = 0;
    for pdu in &pdus {
        let t = ingest::smpp::text_pdu(pdu).map_err(|e| format!("SMPP: {e}"))?;
        let Some(c) = t.message.concat else { continue };
        total = c.total;
        if views.iter().all(|(seq, _)| *seq != c.seq) {
            views.push((c.seq, t));
        }
    }
    views.sort_by_key(|(seq, _)| *seq);
    let missing = views.len() < usize::from(total);
    let ordered: Vec<ingest::smpp::TextPdu<'_>> = views.into_iter().map(|(_, t)| t).collect();
    let whole = ingest::smpp::read_whole(&ordered, missing, "parts".into(), &opts)
        .map_err(|e| format!("SMPP: {e}"))?;
    Ok(engine.decide(&whole, ingress, None, now_ms()).decision)
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    if meta.len() > MAX_FILE {
        return Err(format!("{} bytes is larger than {MAX_FILE}", meta.len()));
    }
    std::fs::read(path).map_err(|e| format!("cannot read: {e}"))
}

/// Decides one raw input on its own.
fn decide(engine: &Decider, input: &Input, ingress: Ingress) -> Result<Decision, String> {
    if input.sip {
        decide_sip(engine, &input.octets, ingress)
    } else {
        decide_smpp(engine, &input.octets, ingress)
    }
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
