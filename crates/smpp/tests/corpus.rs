//! Every PDU of the external corpus (`shared/corpus/smpp`, see its INDEX.md)
//! decodes to the command recorded there; valid ones re-encode to the same
//! octets; malformed ones give the typed error the source test expects.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use interdict_smpp::{frame, status, Body, CommandId, DecodeError, FieldProblem, FrameError, Pdu};
use std::path::PathBuf;

fn corpus_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus/smpp"
    ));
    if dir.join("pdus.tsv").exists() {
        Some(dir)
    } else {
        eprintln!("SKIP: SMPP corpus not found at {}", dir.display());
        None
    }
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

struct Row {
    file: String,
    command: String,
    verdict: String,
    bytes: Vec<u8>,
}

fn rows(dir: &std::path::Path) -> Vec<Row> {
    let text = std::fs::read_to_string(dir.join("pdus.tsv")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert_eq!(cols.len(), 5, "bad pdus.tsv line {l}");
            let bytes = hex(cols[4]);
            // The .hex file must hold the same octets as the TSV line.
            let file_hex = std::fs::read_to_string(dir.join(cols[0])).unwrap();
            assert_eq!(
                hex(file_hex.trim()),
                bytes,
                "{} differs from pdus.tsv",
                cols[0]
            );
            Row {
                file: cols[0].to_string(),
                command: cols[2].to_string(),
                verdict: cols[3].to_string(),
                bytes,
            }
        })
        .collect()
}

/// Expected outcome of the malformed/edge vectors, from INDEX.md's notes.
fn check_edge(row: &Row) {
    let name = row
        .file
        .rsplit('/')
        .next()
        .unwrap()
        .trim_end_matches(".hex");
    let b = &row.bytes[..];
    match name {
        "decodeLessThan4Bytes" | "decodeOnly4Bytes" | "decodeLessThan16Bytes" => {
            assert_eq!(
                frame(b, 65536),
                Ok(None),
                "{name}: must wait for more octets"
            );
        }
        "decodeUnsupportedRequestCommandId" | "decodeUnsupportedResponseCommandId" => {
            let err = Pdu::decode(b).unwrap_err();
            assert!(
                matches!(
                    err,
                    DecodeError::UnknownCommandId {
                        sequence_number: 0x0a34_2ee7,
                        ..
                    }
                ),
                "{err}"
            );
            assert!(err.is_recoverable());
            assert_eq!(err.command_status(), status::ESME_RINVCMDID);
        }
        "decodeBadPduButSkipAllDataInBuffer" => {
            let n = frame(b, 65536).unwrap().unwrap();
            assert_eq!(n, 17);
            let err = Pdu::decode(&b[..n]).unwrap_err();
            assert!(matches!(
                err,
                DecodeError::UnknownCommandId {
                    command_id: 0x110,
                    ..
                }
            ));
            assert!(err.is_recoverable());
            let rest = &b[n..];
            let m = frame(rest, 65536).unwrap().unwrap();
            let pdu = Pdu::decode(&rest[..m]).unwrap();
            assert_eq!(pdu.body, Body::EnquireLink);
            assert_eq!(pdu.sequence_number, 171_192_039);
        }
        "decodeSignedIntLength" => {
            let err = frame(b, 65536).unwrap_err();
            assert!(matches!(
                err,
                FrameError::BadCommandLength {
                    length: 0xF000_0011,
                    ..
                }
            ));
            assert_eq!(err.command_status(), status::ESME_RINVCMDLEN);
            assert!(!DecodeError::from(err).is_recoverable());
        }
        "decodeTwoEnquireLinkRespButWithReadRequiredInBetween" => {
            assert_eq!(frame(&b[..31], 65536), Ok(Some(16)));
            assert_eq!(
                frame(&b[16..31], 65536),
                Ok(None),
                "second PDU incomplete: wait"
            );
            let first = Pdu::decode(&b[..16]).unwrap();
            let second = Pdu::decode(&b[16..]).unwrap();
            assert_eq!(
                (first.body, first.sequence_number),
                (Body::EnquireLinkResp, 171_192_045)
            );
            assert_eq!(
                (second.body, second.sequence_number),
                (Body::EnquireLinkResp, 171_192_049)
            );
        }
        "decodeSubmitSmRespWithNoNullByteForMessageId" => {
            let err = Pdu::decode(b).unwrap_err();
            assert!(
                matches!(
                    err,
                    DecodeError::Field {
                        pdu: "submit_sm_resp",
                        field: "message_id",
                        offset: 16,
                        problem: FieldProblem::MissingNul { .. },
                        ..
                    }
                ),
                "{err}"
            );
        }
        "decodeDeliverSmNetforsDeliveryReceiptTriggeredErrorInLegacySmppLibrary" => {
            let err = Pdu::decode(b).unwrap_err();
            assert!(
                matches!(
                    err,
                    DecodeError::Field {
                        pdu: "deliver_sm",
                        problem: FieldProblem::TlvPastEnd {
                            tag: 0x001e,
                            length: 0x41,
                            available: 5
                        },
                        ..
                    }
                ),
                "{err}"
            );
            assert!(err.is_recoverable());
        }
        "decodeDeliverSMWithCorrectTotalByteLengthButInvalidShortMessageLength" => {
            let err = Pdu::decode(b).unwrap_err();
            assert!(
                matches!(
                    err,
                    DecodeError::Field {
                        field: "short_message",
                        problem: FieldProblem::SmLengthPastEnd {
                            length: 16,
                            available: 8
                        },
                        ..
                    }
                ),
                "{err}"
            );
        }
        "test_decode_command_length_too_short" => {
            assert!(matches!(
                frame(b, 65536),
                Err(FrameError::BadCommandLength { length: 15, .. })
            ));
            let err = Pdu::decode(b).unwrap_err();
            assert_eq!(err.command_status(), status::ESME_RINVCMDLEN);
        }
        "test_decode_bad_message_length_msg_too_short" => {
            assert_eq!(frame(b, 65536), Ok(None), "253 claimed, 29 present: wait");
            assert_eq!(
                Pdu::decode(b).unwrap_err().command_status(),
                status::ESME_RINVMSGLEN
            );
        }
        "test_decode_bad_message_length_msg_too_long" => {
            assert_eq!(
                Pdu::decode(b).unwrap_err().command_status(),
                status::ESME_RINVCMDLEN
            );
        }
        "test_decode_bad_message_ends_in_middle_of_option" => {
            let err = Pdu::decode(b).unwrap_err();
            assert!(
                matches!(
                    err,
                    DecodeError::Field {
                        field: "tlv",
                        offset: 24,
                        problem: FieldProblem::TlvHeaderCut { available: 3 },
                        ..
                    }
                ),
                "{err}"
            );
            assert_eq!(err.command_status(), status::ESME_RINVMSGLEN);
        }
        other => panic!("malformed/edge vector {other} has no expectation in this test"),
    }
}

/// Vectors whose strings exceed the SMPP 3.4 field tables (file and field).
const KNOWN_OVER_LONG: &[&str] = &["pdus/gosmpp/TestOutbind_0.hex password"];

#[test]
fn every_corpus_pdu_decodes_to_its_recorded_meaning() {
    let Some(dir) = corpus_dir() else { return };
    let rows = rows(&dir);
    assert!(rows.len() >= 150, "corpus has {} rows", rows.len());
    let (mut valid, mut edge) = (0, 0);
    let mut over_long = Vec::new();
    for row in &rows {
        if row.verdict != "valid" {
            check_edge(row);
            edge += 1;
            continue;
        }
        // One vector is marked valid but documents the source's expected error.
        if row
            .file
            .ends_with("test_decode_command_length_too_long.hex")
        {
            let err = Pdu::decode(&row.bytes).unwrap_err();
            assert!(
                matches!(
                    err,
                    DecodeError::Field {
                        pdu: "unbind",
                        problem: FieldProblem::TrailingOctets(1),
                        ..
                    }
                ),
                "{err}"
            );
            assert_eq!(err.command_status(), status::ESME_RINVCMDLEN);
            continue;
        }
        assert_eq!(
            frame(&row.bytes, 65536),
            Ok(Some(row.bytes.len())),
            "{}",
            row.file
        );
        let pdu = match Pdu::decode(&row.bytes) {
            Ok(pdu) => pdu,
            Err(
                e @ DecodeError::Field {
                    field,
                    problem: FieldProblem::MissingNul { .. },
                    ..
                },
            ) => {
                // Over-long strings are refused by the strict decoder with a typed
                // error naming the field; the lenient decoder accepts them.
                over_long.push(format!("{} {field}: {e}", row.file));
                Pdu::decode_lenient(&row.bytes).unwrap_or_else(|e| panic!("{}: {e}", row.file))
            }
            Err(e) => panic!("{}: {e}", row.file),
        };
        assert_eq!(pdu.command_id().name(), row.command, "{}", row.file);
        assert_eq!(
            CommandId::from_u32(pdu.command_id() as u32),
            Some(pdu.command_id())
        );
        let again = pdu.to_vec().unwrap_or_else(|e| panic!("{}: {e}", row.file));
        assert_eq!(again, row.bytes, "{}: re-encoding differs", row.file);
        valid += 1;
    }
    eprintln!("corpus: {valid} valid PDUs round-tripped, {edge} edge cases checked");
    assert!(valid >= 130);
    eprintln!("strings above the SMPP 3.4 maximum (strict error, lenient OK): {over_long:#?}");
    assert_eq!(over_long.len(), KNOWN_OVER_LONG.len(), "{over_long:#?}");
    for known in KNOWN_OVER_LONG {
        assert!(
            over_long.iter().any(|o| o.starts_with(known)),
            "{known} not refused strictly"
        );
    }
    assert_eq!(edge, 15);
}
