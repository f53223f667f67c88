//! User data headers (esm_class UDHI) and the message view of submit_sm,
//! deliver_sm, data_sm and submit_multi: which octets are the text, which
//! coding, and which part of a concatenated message this is (UDH or SAR TLVs).

use crate::error::MessageError;
use crate::pdu::{DataSm, Sm, SubmitMulti};
use crate::tlv::{TlvTag, Tlvs};

/// esm_class bit saying short_message starts with a UDH.
pub const ESM_UDHI: u8 = 0x40;

/// One information element of a UDH.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InfoElement<'a> {
    /// Information element identifier (IEI).
    pub id: u8,
    /// Its data.
    pub data: &'a [u8],
}

/// A validated UDH (without its length octet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Udh<'a> {
    raw: &'a [u8],
}

/// How a concatenated part says where it belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConcatSource {
    /// UDH IEI 0x00 (8-bit reference).
    Udh8,
    /// UDH IEI 0x08 (16-bit reference).
    Udh16,
    /// sar_msg_ref_num / sar_total_segments / sar_segment_seqnum TLVs.
    Sar,
}

/// Position of one part in a concatenated message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Concat {
    /// Reference shared by all parts.
    pub reference: u16,
    /// Number of parts.
    pub total: u8,
    /// This part's number, from 1.
    pub seq: u8,
    /// Where the information came from.
    pub source: ConcatSource,
}

/// National language shift tables announced in the UDH (3GPP TS 23.038 6.2.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NationalLanguage {
    /// IEI 0x24: single shift table id (e.g. 1 Turkish, 2 Spanish, 3 Portuguese).
    pub single_shift: Option<u8>,
    /// IEI 0x25: locking shift table id.
    pub locking_shift: Option<u8>,
}

impl<'a> Udh<'a> {
    /// Split `message` into its UDH and the rest. Checks the UDH length and
    /// that every element fits inside it.
    pub fn split(message: &'a [u8]) -> Result<(Udh<'a>, &'a [u8]), MessageError> {
        let Some((udhl, rest)) = message.split_first() else {
            return Err(MessageError::UdhiWithEmptyMessage);
        };
        let udhl = usize::from(*udhl);
        let (Some(raw), Some(payload)) = (rest.get(..udhl), rest.get(udhl..)) else {
            return Err(MessageError::UdhPastEnd {
                udh_length: udhl,
                message_length: message.len(),
            });
        };
        let mut at = 0;
        while at < raw.len() {
            let (iei, len) = match raw.get(at..) {
                Some([iei, len, ..]) => (*iei, usize::from(*len)),
                _ => {
                    return Err(MessageError::UdhElementPastEnd {
                        iei: raw.get(at).copied().unwrap_or(0),
                        offset: at,
                        length: 1,
                    })
                }
            };
            if at + 2 + len > raw.len() {
                return Err(MessageError::UdhElementPastEnd {
                    iei,
                    offset: at,
                    length: len,
                });
            }
            at += 2 + len;
        }
        Ok((Udh { raw }, payload))
    }

    /// The UDH octets after the length octet.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// Length of the UDH on the wire, length octet included.
    pub fn wire_len(&self) -> usize {
        self.raw.len() + 1
    }

    /// Iterate the information elements.
    pub fn elements(&self) -> impl Iterator<Item = InfoElement<'a>> + 'a {
        let mut rest = self.raw;
        std::iter::from_fn(move || {
            let [id, len, tail @ ..] = rest else {
                return None;
            };
            let len = usize::from(*len);
            let data = tail.get(..len)?;
            rest = tail.get(len..)?;
            Some(InfoElement { id: *id, data })
        })
    }

    /// Concatenation info from IEI 0x00 or 0x08.
    pub fn concat(&self) -> Option<Concat> {
        self.elements().find_map(|ie| match (ie.id, ie.data) {
            (0x00, [r, t, s]) => Some(Concat {
                reference: u16::from(*r),
                total: *t,
                seq: *s,
                source: ConcatSource::Udh8,
            }),
            (0x08, [r0, r1, t, s]) => Some(Concat {
                reference: u16::from_be_bytes([*r0, *r1]),
                total: *t,
                seq: *s,
                source: ConcatSource::Udh16,
            }),
            _ => None,
        })
    }

    /// National language single/locking shift elements (IEI 0x24 / 0x25).
    pub fn national_language(&self) -> NationalLanguage {
        let mut nl = NationalLanguage::default();
        for ie in self.elements() {
            match (ie.id, ie.data) {
                (0x24, [t]) => nl.single_shift = Some(*t),
                (0x25, [t]) => nl.locking_shift = Some(*t),
                _ => {}
            }
        }
        nl
    }

    /// Application port addressing (IEI 0x04 8-bit or 0x05 16-bit): (destination, source).
    pub fn ports(&self) -> Option<(u16, u16)> {
        self.elements().find_map(|ie| match (ie.id, ie.data) {
            (0x04, [d, s]) => Some((u16::from(*d), u16::from(*s))),
            (0x05, [d0, d1, s0, s1]) => Some((
                u16::from_be_bytes([*d0, *d1]),
                u16::from_be_bytes([*s0, *s1]),
            )),
            _ => None,
        })
    }
}

/// The message carried by a PDU: coding, optional UDH, the text octets and concatenation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    /// data_coding of the PDU.
    pub data_coding: u8,
    /// The UDH when esm_class has UDHI.
    pub udh: Option<Udh<'a>>,
    /// The whole user data (UDH included), as on the wire.
    pub user_data: &'a [u8],
    /// The octets after the UDH: the text.
    pub payload: &'a [u8],
    /// True when the message came from the message_payload TLV.
    pub from_payload_tlv: bool,
    /// Concatenation info from the UDH, else from the SAR TLVs.
    pub concat: Option<Concat>,
}

impl<'a> Message<'a> {
    /// Build the message view from the fields of a PDU.
    pub fn from_parts(
        esm_class: u8,
        data_coding: u8,
        short_message: &'a [u8],
        tlvs: &Tlvs<'a>,
    ) -> Result<Message<'a>, MessageError> {
        let payload_tlv = tlvs.message_payload();
        let (user_data, from_payload_tlv) = match payload_tlv {
            Some(p) if !short_message.is_empty() => {
                return Err(MessageError::BothPayloads {
                    sm_length: short_message.len(),
                    payload_length: p.len(),
                })
            }
            Some(p) => (p, true),
            None => (short_message, false),
        };
        let (udh, payload) = if esm_class & ESM_UDHI != 0 {
            let (udh, payload) = Udh::split(user_data)?;
            (Some(udh), payload)
        } else {
            (None, user_data)
        };
        let concat = udh.and_then(|u| u.concat()).or_else(|| sar(tlvs));
        Ok(Message {
            data_coding,
            udh,
            user_data,
            payload,
            from_payload_tlv,
            concat,
        })
    }
}

fn sar(tlvs: &Tlvs<'_>) -> Option<Concat> {
    if tlvs.is_empty() {
        return None;
    }
    Some(Concat {
        reference: tlvs.get(TlvTag::SarMsgRefNum)?.as_u16()?,
        total: tlvs.get(TlvTag::SarTotalSegments)?.as_u8()?,
        seq: tlvs.get(TlvTag::SarSegmentSeqnum)?.as_u8()?,
        source: ConcatSource::Sar,
    })
}

impl<'a> Sm<'a> {
    /// True when esm_class marks an SMSC delivery receipt (message type bits 0x04),
    /// whose text is a receipt, not a message written by a person.
    pub fn is_delivery_receipt(&self) -> bool {
        self.esm_class & 0x3C == 0x04
    }

    /// The message of this submit_sm / deliver_sm (message_payload in place of
    /// short_message; UDH split off; concatenation info). Allocates nothing.
    pub fn message(&self) -> Result<Message<'a>, MessageError> {
        Message::from_parts(
            self.esm_class,
            self.data_coding,
            self.short_message,
            &self.tlvs,
        )
    }
}

impl<'a> SubmitMulti<'a> {
    /// The message of this submit_multi.
    pub fn message(&self) -> Result<Message<'a>, MessageError> {
        Message::from_parts(
            self.esm_class,
            self.data_coding,
            self.short_message,
            &self.tlvs,
        )
    }
}

impl<'a> DataSm<'a> {
    /// The message of this data_sm (always from message_payload).
    pub fn message(&self) -> Result<Message<'a>, MessageError> {
        Message::from_parts(self.esm_class, self.data_coding, &[], &self.tlvs)
    }
}
