//! A cursor over a PDU body built on nom primitives: fixed-size integers,
//! C-Octet strings bounded by their specification maximum, and octet runs.
//! Every failure becomes a [`DecodeError::Field`] naming PDU, field and offset.

use nom::bytes::complete::take;
use nom::number::complete::be_u32;
use nom::Parser;

use crate::error::{DecodeError, FieldProblem};
use crate::tlv::Tlvs;

type NomError<'a> = nom::error::Error<&'a [u8]>;

/// Maximum lengths (NUL included) from the SMPP 3.4 field tables.
pub mod max {
    /// system_id.
    pub const SYSTEM_ID: usize = 16;
    /// password.
    pub const PASSWORD: usize = 9;
    /// system_type.
    pub const SYSTEM_TYPE: usize = 13;
    /// address_range.
    pub const ADDRESS_RANGE: usize = 41;
    /// service_type.
    pub const SERVICE_TYPE: usize = 6;
    /// source_addr / destination_addr of submit_sm, deliver_sm, query/cancel/replace_sm.
    pub const ADDR: usize = 21;
    /// source_addr / destination_addr of data_sm, alert_notification addresses.
    pub const ADDR_65: usize = 65;
    /// schedule_delivery_time, validity_period, final_date.
    pub const TIME: usize = 17;
    /// message_id.
    pub const MESSAGE_ID: usize = 65;
    /// dl_name of submit_multi.
    pub const DL_NAME: usize = 21;
    /// Bound applied to every C-Octet string by [`crate::Pdu::decode_lenient`]
    /// for peers that exceed the specification (e.g. 9-character passwords).
    pub const LENIENT: usize = 256;
}

/// Marker that a field failed; the details are kept in the [`Reader`] so the
/// hot path only moves a zero-sized error around.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fail;

/// Reads the fields of one PDU; offsets are counted from the PDU start.
pub(crate) struct Reader<'a> {
    failure: Option<(&'static str, usize, FieldProblem)>,
    rest: &'a [u8],
    total: usize,
    command_id: u32,
    sequence_number: u32,
    lenient: bool,
}

impl<'a> Reader<'a> {
    /// A reader over `body`, which starts 16 octets into a PDU of `total` octets.
    #[inline]
    pub(crate) fn new(
        body: &'a [u8],
        total: usize,
        command_id: u32,
        sequence_number: u32,
        lenient: bool,
    ) -> Self {
        Reader {
            failure: None,
            rest: body,
            total,
            command_id,
            sequence_number,
            lenient,
        }
    }

    #[inline]
    fn offset(&self) -> usize {
        self.total.saturating_sub(self.rest.len())
    }

    /// Record a failure of `field` at `offset`.
    #[cold]
    pub(crate) fn error_at(
        &mut self,
        field: &'static str,
        offset: usize,
        problem: FieldProblem,
    ) -> Fail {
        self.failure = Some((field, offset, problem));
        Fail
    }

    #[cold]
    fn error(&mut self, field: &'static str, problem: FieldProblem) -> Fail {
        let offset = self.offset();
        self.error_at(field, offset, problem)
    }

    /// The typed error for the recorded failure.
    #[cold]
    pub(crate) fn into_error(self) -> DecodeError {
        let (field, offset, problem) =
            self.failure
                .unwrap_or(("body", self.total, FieldProblem::Truncated));
        DecodeError::Field {
            pdu: crate::CommandId::from_u32(self.command_id).map_or("unknown", |c| c.name()),
            field,
            offset,
            problem,
            sequence_number: self.sequence_number,
            command_id: self.command_id,
        }
    }

    /// True when the body is used up.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// One octet.
    #[inline(always)]
    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, Fail> {
        match self.rest.split_first() {
            Some((v, rest)) => {
                self.rest = rest;
                Ok(*v)
            }
            None => Err(self.error(field, FieldProblem::Truncated)),
        }
    }

    /// A big-endian 32-bit integer.
    #[inline]
    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, Fail> {
        match be_u32::<_, NomError<'a>>(self.rest) {
            Ok((rest, v)) => {
                self.rest = rest;
                Ok(v)
            }
            Err(_) => Err(self.error(field, FieldProblem::Truncated)),
        }
    }

    /// A C-Octet string of at most `max` octets including its NUL; returned without the NUL.
    #[inline(always)]
    pub(crate) fn cstr(&mut self, field: &'static str, max: usize) -> Result<&'a [u8], Fail> {
        let max = if self.lenient { max::LENIENT } else { max };
        let window = self.rest.get(..max).unwrap_or(self.rest);
        let found = memchr::memchr(0, window)
            .and_then(|nul| Some((self.rest.get(..nul)?, self.rest.get(nul + 1..)?)));
        match found {
            Some((value, rest)) => {
                self.rest = rest;
                Ok(value)
            }
            None => Err(self.error(field, FieldProblem::MissingNul { max })),
        }
    }

    /// `len` octets (short_message after sm_length).
    #[inline]
    pub(crate) fn octets(&mut self, field: &'static str, len: usize) -> Result<&'a [u8], Fail> {
        match take::<_, _, NomError<'a>>(len).parse(self.rest) {
            Ok((rest, v)) => {
                self.rest = rest;
                Ok(v)
            }
            Err(_) => {
                let available = self.rest.len();
                Err(self.error(
                    field,
                    FieldProblem::SmLengthPastEnd {
                        length: len,
                        available,
                    },
                ))
            }
        }
    }

    /// The rest of the body, validated as TLVs.
    #[inline]
    pub(crate) fn tlvs(&mut self) -> Result<Tlvs<'a>, Fail> {
        let start = self.offset();
        let raw = self.rest;
        match Tlvs::parse(raw) {
            Ok(tlvs) => {
                self.rest = &[];
                Ok(tlvs)
            }
            Err((at, problem)) => Err(self.error_at("tlv", start + at, problem)),
        }
    }

    /// Refuse octets left over in a PDU that has no body extension.
    #[inline]
    pub(crate) fn finish(&mut self) -> Result<(), Fail> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            let extra = self.rest.len();
            Err(self.error("body", FieldProblem::TrailingOctets(extra)))
        }
    }
}

impl<'a> Reader<'a> {
    /// The unread octets.
    #[inline]
    pub(crate) fn remaining(&self) -> &'a [u8] {
        self.rest
    }

    /// Offset of the next field from the PDU start.
    #[inline]
    pub(crate) fn position(&self) -> usize {
        self.offset()
    }
}
