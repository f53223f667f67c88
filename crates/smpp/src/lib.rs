#![cfg_attr(not(test), deny(clippy::indexing_slicing))]
//! Zero-copy SMPP 3.4 codec (with the SMPP 5.0 TLVs) for the Interdict gateway.
//!
//! * [`frame`] finds complete PDUs in a TCP buffer; [`Pdu::decode`] turns one into
//!   a [`Pdu`] whose strings and message octets borrow the buffer (no allocation).
//! * [`Sm::message`] gives the message view: data_coding, UDH, text octets
//!   (message_payload in place of short_message) and concatenation info
//!   ([`Concat`], from UDH IEI 0x00/0x08 or the SAR TLVs).
//! * [`text::decode`] turns a message into text (GSM 03.38, IA5, Latin-1, UCS-2, and GBK
//!   under data_coding 0x0F as Chinese SMSCs send it), flagging anything guessed or replaced; [`Reassembler`] joins the parts of
//!   concatenated messages within bounded memory.
//! * [`encode`] writes responses (`generic_nack`, `submit_sm_resp`, ...), any PDU,
//!   rewritten messages ([`rewrite::prefix_text`]) and patches sequence numbers in place.
//!
//! ```
//! use interdict_smpp::{frame, text, Body, Pdu, DEFAULT_MAX_PDU_LEN};
//!
//! // A submit_sm from 10086 to the synthetic number 17000000001, UCS-2 "安全账户".
//! let mut wire = Vec::new();
//! let sm = interdict_smpp::Sm {
//!     source: interdict_smpp::Address { ton: 0, npi: 1, addr: b"10086" },
//!     destination: interdict_smpp::Address { ton: 1, npi: 1, addr: b"8617000000001" },
//!     data_coding: 8,
//!     short_message: &[0x5b, 0x89, 0x51, 0x68, 0x8d, 0x26, 0x62, 0x37],
//!     ..Default::default()
//! };
//! Pdu { command_status: 0, sequence_number: 7, body: Body::SubmitSm(sm) }.encode(&mut wire)?;
//!
//! let len = frame(&wire, DEFAULT_MAX_PDU_LEN)?.expect("a whole PDU is buffered");
//! let pdu = Pdu::decode(&wire[..len])?;
//! let sm = pdu.as_sm().expect("submit_sm");
//! assert_eq!(sm.destination.addr, b"8617000000001");
//! let message = sm.message()?;
//! let decoded = text::decode(&message, &text::TextOptions::default());
//! assert_eq!(decoded.text, "安全账户");
//!
//! // Block it: answer the ESME ourselves.
//! let mut reply = Vec::new();
//! interdict_smpp::encode::submit_sm_resp(&mut reply, interdict_smpp::status::ESME_RINVDSTADR, pdu.sequence_number, None)?;
//! assert_eq!(reply.len(), 16);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod cstring;
pub mod encode;
pub mod error;
pub mod header;
pub mod pdu;
pub mod reassembly;
pub mod rewrite;
pub mod status;
pub mod text;
pub mod tlv;
pub mod udh;

pub use encode::{patch_sequence, Placement};
pub use error::{DecodeError, EncodeError, FieldProblem, FrameError, MessageError};
pub use header::{frame, CommandId, Header, DEFAULT_MAX_PDU_LEN, HEADER_LEN};
pub use pdu::*;
pub use reassembly::{
    Part, PartError, Pushed, Reassembled, Reassembler, ReassemblyConfig, ReassemblyStats,
};
pub use text::{Text, TextFlags, TextOptions};
pub use tlv::{Tlv, TlvTag, Tlvs};
pub use udh::{Concat, ConcatSource, Message, Udh};
