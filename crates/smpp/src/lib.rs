#![cfg_attr(not(test), deny(clippy::indexing_slicing))]
//! Zero-copy SMPP codec (placeholder docs, replaced below).

pub mod cstring;
pub mod encode;
pub mod error;
pub mod header;
pub mod pdu;
pub mod status;

pub mod tlv;

pub use encode::{patch_sequence, Placement};
pub use error::{DecodeError, EncodeError, FieldProblem, FrameError, MessageError};
pub use header::{frame, CommandId, Header, DEFAULT_MAX_PDU_LEN, HEADER_LEN};
pub use pdu::*;
pub use tlv::{Tlv, TlvTag, Tlvs};
