//! Typed errors of framing, decoding and message interpretation.
//!
//! Every error says what went wrong and where: the PDU, the field and the byte
//! offset from the start of the PDU. Errors map to the SMPP `command_status`
//! a proxy sends back in a `generic_nack` or a `*_resp`.

use thiserror::Error;

use crate::status;

/// The framing layer refused a buffer: the connection cannot be resynchronised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum FrameError {
    /// `command_length` is below the 16-octet header or above the link's maximum.
    /// The proxy answers `generic_nack` (ESME_RINVCMDLEN) and closes the connection.
    #[error("command_length {length} outside the accepted range 16..={max} (sequence_number {sequence_number:?})")]
    BadCommandLength {
        /// The length the peer claimed.
        length: u32,
        /// The configured maximum.
        max: u32,
        /// Sequence number, when the whole header was already buffered.
        sequence_number: Option<u32>,
    },
}

impl FrameError {
    /// The `command_status` to put in the `generic_nack` sent before closing.
    pub fn command_status(&self) -> u32 {
        status::ESME_RINVCMDLEN
    }
}

/// What is wrong with one field of a PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum FieldProblem {
    /// The PDU ends before the field does.
    #[error("PDU ends inside the field")]
    Truncated,
    /// A C-Octet string has no terminating NUL within its maximum length.
    #[error("no terminating NUL within the maximum of {max} octets (NUL included)")]
    MissingNul {
        /// Maximum length of the field including its NUL.
        max: usize,
    },
    /// `sm_length` claims more octets than remain in the PDU.
    #[error("sm_length {length} but only {available} octets remain")]
    SmLengthPastEnd {
        /// The claimed length.
        length: usize,
        /// Octets left in the PDU.
        available: usize,
    },
    /// A TLV's length runs past the end of the PDU.
    #[error("TLV tag {tag:#06x} claims {length} octets but only {available} remain")]
    TlvPastEnd {
        /// The TLV tag.
        tag: u16,
        /// The claimed length.
        length: usize,
        /// Octets left in the PDU.
        available: usize,
    },
    /// A TLV header (tag + length, 4 octets) is cut by the end of the PDU.
    #[error("TLV header cut after {available} octets")]
    TlvHeaderCut {
        /// Octets left in the PDU.
        available: usize,
    },
    /// A submit_multi dest_flag other than 1 (SME address) or 2 (distribution list).
    #[error("dest_flag {0} is neither 1 (SME address) nor 2 (distribution list)")]
    BadDestFlag(u8),
    /// Octets follow the last mandatory field of a PDU that has no body extension.
    #[error("{0} unexpected octets after the body")]
    TrailingOctets(usize),
}

/// A PDU could not be decoded. Recoverable errors leave the stream in sync (the
/// PDU's `command_length` octets are skipped); the proxy answers with
/// [`DecodeError::command_status`] and the sequence number carried here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The buffer is shorter than the 16-octet header.
    #[error("buffer of {available} octets is shorter than the 16-octet header")]
    ShortHeader {
        /// Octets available.
        available: usize,
    },
    /// `command_length` is out of range (see [`FrameError::BadCommandLength`]).
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The buffer length differs from `command_length`.
    #[error("command_length {length} but the buffer holds {available} octets (sequence_number {sequence_number})")]
    LengthMismatch {
        /// The claimed length.
        length: u32,
        /// Octets given to the decoder.
        available: usize,
        /// Sequence number from the header.
        sequence_number: u32,
    },
    /// The command_id is not an SMPP 3.4 command; answer generic_nack ESME_RINVCMDID.
    #[error("unknown command_id {command_id:#010x} (sequence_number {sequence_number})")]
    UnknownCommandId {
        /// The command id received.
        command_id: u32,
        /// Sequence number to echo in the generic_nack.
        sequence_number: u32,
    },
    /// A field of a known PDU is malformed.
    #[error(
        "{pdu}: field {field} at byte {offset}: {problem} (sequence_number {sequence_number})"
    )]
    Field {
        /// The PDU name (e.g. `submit_sm`).
        pdu: &'static str,
        /// The field name from the specification (e.g. `source_addr`).
        field: &'static str,
        /// Byte offset of the field from the start of the PDU.
        offset: usize,
        /// What is wrong.
        problem: FieldProblem,
        /// Sequence number to echo in the reply.
        sequence_number: u32,
        /// The command id of the PDU.
        command_id: u32,
    },
}

impl DecodeError {
    /// True when the stream stays in sync: the proxy answers and keeps the session.
    pub fn is_recoverable(&self) -> bool {
        !matches!(
            self,
            DecodeError::Frame(_) | DecodeError::ShortHeader { .. }
        )
    }

    /// The sequence number to echo in the reply, when the header was readable.
    pub fn sequence_number(&self) -> Option<u32> {
        match self {
            DecodeError::ShortHeader { .. } => None,
            DecodeError::Frame(FrameError::BadCommandLength {
                sequence_number, ..
            }) => *sequence_number,
            DecodeError::LengthMismatch {
                sequence_number, ..
            }
            | DecodeError::UnknownCommandId {
                sequence_number, ..
            }
            | DecodeError::Field {
                sequence_number, ..
            } => Some(*sequence_number),
        }
    }

    /// The SMPP `command_status` that describes this error to the peer.
    pub fn command_status(&self) -> u32 {
        match self {
            DecodeError::ShortHeader { .. } | DecodeError::Frame(_) => status::ESME_RINVCMDLEN,
            DecodeError::LengthMismatch {
                length, available, ..
            } => {
                if (*available as u64) < u64::from(*length) {
                    status::ESME_RINVMSGLEN
                } else {
                    status::ESME_RINVCMDLEN
                }
            }
            DecodeError::UnknownCommandId { .. } => status::ESME_RINVCMDID,
            DecodeError::Field { problem, .. } => match problem {
                FieldProblem::TrailingOctets(_) => status::ESME_RINVCMDLEN,
                FieldProblem::SmLengthPastEnd { .. } => status::ESME_RINVMSGLEN,
                FieldProblem::TlvPastEnd { .. } | FieldProblem::TlvHeaderCut { .. } => {
                    status::ESME_RINVMSGLEN
                }
                FieldProblem::BadDestFlag(_) => status::ESME_RINVDSTADR,
                FieldProblem::Truncated | FieldProblem::MissingNul { .. } => {
                    status::ESME_RINVMSGLEN
                }
            },
        }
    }
}

/// The message content of a submit_sm / deliver_sm / data_sm is inconsistent.
/// The PDU itself decoded; the proxy rejects it with [`MessageError::command_status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum MessageError {
    /// Both a non-empty short_message and a message_payload TLV are present.
    #[error("both short_message ({sm_length} octets) and message_payload ({payload_length} octets) are present")]
    BothPayloads {
        /// sm_length.
        sm_length: usize,
        /// Length of the message_payload TLV.
        payload_length: usize,
    },
    /// esm_class has the UDHI bit set but the message is empty.
    #[error("esm_class UDHI bit set but the message is empty")]
    UdhiWithEmptyMessage,
    /// The UDH length octet claims more than the message holds.
    #[error(
        "UDH length {udh_length} (+1 length octet) exceeds the message length {message_length}"
    )]
    UdhPastEnd {
        /// The UDHL value.
        udh_length: usize,
        /// The message length.
        message_length: usize,
    },
    /// An information element inside the UDH runs past the UDH.
    #[error("UDH information element {iei:#04x} at UDH byte {offset} claims {length} octets past the header end")]
    UdhElementPastEnd {
        /// The element id.
        iei: u8,
        /// Offset inside the UDH.
        offset: usize,
        /// Claimed length.
        length: usize,
    },
}

impl MessageError {
    /// The `command_status` for a submit_sm_resp / deliver_sm_resp rejecting the message.
    pub fn command_status(&self) -> u32 {
        match self {
            MessageError::BothPayloads { .. } => status::ESME_RINVTLVSTREAM,
            _ => status::ESME_RINVMSGLEN,
        }
    }
}

/// An encoder refused its input (a value cannot be represented on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum EncodeError {
    /// A C-Octet string is longer than its field allows, or contains a NUL.
    #[error(
        "field {field}: {length} octets (plus NUL) exceed the encoder limit {max} or contain NUL"
    )]
    BadCString {
        /// Field name.
        field: &'static str,
        /// Length given.
        length: usize,
        /// Maximum including NUL.
        max: usize,
    },
    /// short_message longer than 255 octets (sm_length is one octet).
    #[error("short_message of {0} octets exceeds 255")]
    ShortMessageTooLong(usize),
    /// A TLV value longer than 65535 octets.
    #[error("TLV value of {0} octets exceeds 65535")]
    TlvTooLong(usize),
    /// The PDU would exceed the 32-bit command_length.
    #[error("PDU too large")]
    TooLarge,
    /// The buffer to patch is not a PDU (shorter than the header).
    #[error("buffer of {0} octets is not a PDU")]
    NotAPdu(usize),
    /// The rewritten text cannot be encoded.
    #[error("cannot rewrite: {0}")]
    Rewrite(&'static str),
    /// A list has more entries than its one-octet count allows.
    #[error("list of {0} entries exceeds 255")]
    ListTooLong(usize),
}
