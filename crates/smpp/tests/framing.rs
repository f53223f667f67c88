//! TCP framing: PDUs arriving in arbitrary chunks are found whole, in order;
//! bad command_length values are refused before anything is allocated.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use interdict_smpp::{frame, status, Address, Body, FrameError, MessageIdResp, Pdu, Sm, Tlvs};
use proptest::prelude::*;

fn stream() -> (Vec<u8>, Vec<u32>) {
    let text: Vec<u8> = "安全账户"
        .encode_utf16()
        .flat_map(u16::to_be_bytes)
        .collect();
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
        data_coding: 8,
        short_message: &text,
        ..Default::default()
    };
    let bodies = [
        Body::EnquireLink,
        Body::SubmitSm(sm),
        Body::SubmitSmResp(Some(MessageIdResp {
            message_id: b"42",
            tlvs: Tlvs::EMPTY,
        })),
        Body::DeliverSm(sm),
        Body::Unbind,
    ];
    let mut wire = Vec::new();
    let mut seqs = Vec::new();
    for (i, body) in bodies.into_iter().enumerate() {
        let seq = 100 + i as u32;
        Pdu {
            command_status: 0,
            sequence_number: seq,
            body,
        }
        .encode(&mut wire)
        .unwrap();
        seqs.push(seq);
    }
    (wire, seqs)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn chunked_stream_yields_every_pdu_in_order(cuts in prop::collection::vec(1usize..40, 1..40)) {
        let (wire, seqs) = stream();
        let mut buffer: Vec<u8> = Vec::new();
        let mut got = Vec::new();
        let mut fed = 0;
        let mut cuts = cuts.into_iter().cycle();
        while fed < wire.len() {
            let n = cuts.next().unwrap().min(wire.len() - fed);
            buffer.extend_from_slice(&wire[fed..fed + n]);
            fed += n;
            while let Some(len) = frame(&buffer, 4096).unwrap() {
                let pdu = Pdu::decode(&buffer[..len]).unwrap();
                got.push(pdu.sequence_number);
                buffer.drain(..len);
            }
        }
        prop_assert!(buffer.is_empty());
        prop_assert_eq!(got, seqs);
    }
}

#[test]
fn bad_command_lengths_are_refused_with_their_sequence_number() {
    let mut header = vec![0, 0, 0, 15, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 9];
    assert_eq!(
        frame(&header, 4096),
        Err(FrameError::BadCommandLength {
            length: 15,
            max: 4096,
            sequence_number: Some(9)
        })
    );
    header[..4].copy_from_slice(&5000u32.to_be_bytes());
    let err = frame(&header, 4096).unwrap_err();
    assert_eq!(
        err,
        FrameError::BadCommandLength {
            length: 5000,
            max: 4096,
            sequence_number: Some(9)
        }
    );
    assert_eq!(err.command_status(), status::ESME_RINVCMDLEN);
    // Only the length is buffered: refused at once, sequence unknown.
    assert_eq!(
        frame(&u32::MAX.to_be_bytes(), 4096),
        Err(FrameError::BadCommandLength {
            length: u32::MAX,
            max: 4096,
            sequence_number: None
        })
    );
    assert_eq!(frame(&[0, 0, 0], 4096), Ok(None));
    assert_eq!(frame(&[0, 0, 0, 17, 0, 0, 0, 6], 4096), Ok(None));
}
