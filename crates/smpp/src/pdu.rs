//! `Pdu<'a>`: every SMPP 3.4 PDU, borrowing its strings and message octets
//! from the input buffer.

use crate::cstring::{max, Fail, Reader};
use crate::error::{DecodeError, FieldProblem, FrameError};
use crate::header::{CommandId, Header, HEADER_LEN};
use crate::tlv::Tlvs;

/// An SME address: type of number, numbering plan and the address digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Address<'a> {
    /// Type of number (0 unknown, 1 international, 2 national, 5 alphanumeric, ...).
    pub ton: u8,
    /// Numbering plan indicator (1 = E.164).
    pub npi: u8,
    /// The address as sent, without NUL (ASCII digits or alphanumeric sender id).
    pub addr: &'a [u8],
}

/// bind_transmitter / bind_receiver / bind_transceiver body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Bind<'a> {
    /// Identifies the ESME.
    pub system_id: &'a [u8],
    /// Password.
    pub password: &'a [u8],
    /// Kind of ESME.
    pub system_type: &'a [u8],
    /// SMPP version (0x34 for 3.4).
    pub interface_version: u8,
    /// addr_ton / addr_npi / address_range served by the ESME.
    pub address_range: Address<'a>,
    /// TLVs (none defined; kept if a peer sends them).
    pub tlvs: Tlvs<'a>,
}

/// bind_*_resp body (absent when a failed bind carries no body).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BindResp<'a> {
    /// Identifies the SMSC.
    pub system_id: &'a [u8],
    /// TLVs (sc_interface_version).
    pub tlvs: Tlvs<'a>,
}

/// outbind body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Outbind<'a> {
    /// Identifies the SMSC.
    pub system_id: &'a [u8],
    /// Password.
    pub password: &'a [u8],
    /// TLVs (none defined; kept if sent).
    pub tlvs: Tlvs<'a>,
}

/// submit_sm and deliver_sm body (same layout).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sm<'a> {
    /// service_type.
    pub service_type: &'a [u8],
    /// Originator.
    pub source: Address<'a>,
    /// Recipient.
    pub destination: Address<'a>,
    /// esm_class (0x40 = UDHI, 0x04 = delivery receipt).
    pub esm_class: u8,
    /// protocol_id.
    pub protocol_id: u8,
    /// priority_flag.
    pub priority_flag: u8,
    /// schedule_delivery_time.
    pub schedule_delivery_time: &'a [u8],
    /// validity_period.
    pub validity_period: &'a [u8],
    /// registered_delivery.
    pub registered_delivery: u8,
    /// replace_if_present_flag.
    pub replace_if_present_flag: u8,
    /// data_coding.
    pub data_coding: u8,
    /// sm_default_msg_id.
    pub sm_default_msg_id: u8,
    /// short_message (UDH included when UDHI is set).
    pub short_message: &'a [u8],
    /// TLVs.
    pub tlvs: Tlvs<'a>,
}

/// submit_sm_resp / deliver_sm_resp / data_sm_resp body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MessageIdResp<'a> {
    /// SMSC message id (empty for deliver_sm_resp).
    pub message_id: &'a [u8],
    /// TLVs.
    pub tlvs: Tlvs<'a>,
}

/// data_sm body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DataSm<'a> {
    /// service_type.
    pub service_type: &'a [u8],
    /// Originator.
    pub source: Address<'a>,
    /// Recipient.
    pub destination: Address<'a>,
    /// esm_class.
    pub esm_class: u8,
    /// registered_delivery.
    pub registered_delivery: u8,
    /// data_coding.
    pub data_coding: u8,
    /// TLVs (the text is in message_payload).
    pub tlvs: Tlvs<'a>,
}

/// One destination of a submit_multi.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dest<'a> {
    /// dest_flag 1: an SME address.
    Sme(Address<'a>),
    /// dest_flag 2: a distribution list name.
    List(&'a [u8]),
}

/// The destination list of a submit_multi: validated raw octets and a count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DestList<'a> {
    count: u8,
    raw: &'a [u8],
}

impl<'a> DestList<'a> {
    /// Number of destinations.
    pub fn len(&self) -> usize {
        usize::from(self.count)
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The raw octets of the list (after number_of_dests).
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// Iterate the destinations in order.
    pub fn iter(&self) -> impl Iterator<Item = Dest<'a>> + 'a {
        let mut rest = self.raw;
        std::iter::from_fn(move || {
            let (flag, tail) = rest.split_first()?;
            match flag {
                1 => {
                    let (ton, tail) = tail.split_first()?;
                    let (npi, tail) = tail.split_first()?;
                    let nul = tail.iter().position(|b| *b == 0)?;
                    let addr = tail.get(..nul)?;
                    rest = tail.get(nul + 1..)?;
                    Some(Dest::Sme(Address {
                        ton: *ton,
                        npi: *npi,
                        addr,
                    }))
                }
                _ => {
                    let nul = tail.iter().position(|b| *b == 0)?;
                    let name = tail.get(..nul)?;
                    rest = tail.get(nul + 1..)?;
                    Some(Dest::List(name))
                }
            }
        })
    }

    /// A list from its wire form as written by [`DestList::write`] (`count`
    /// entries in `raw`). Malformed `raw` never panics: iteration stops early.
    pub fn from_raw(count: u8, raw: &'a [u8]) -> Self {
        DestList { count, raw }
    }

    /// Append the wire form of `dests` to `out` and return the count.
    pub fn write(dests: &[Dest<'_>], out: &mut Vec<u8>) -> Result<u8, crate::EncodeError> {
        let count =
            u8::try_from(dests.len()).map_err(|_| crate::EncodeError::ListTooLong(dests.len()))?;
        for dest in dests {
            match dest {
                Dest::Sme(a) => {
                    check_cstr("dest_address", a.addr, max::ADDR)?;
                    out.extend_from_slice(&[1, a.ton, a.npi]);
                    out.extend_from_slice(a.addr);
                }
                Dest::List(name) => {
                    check_cstr("dl_name", name, max::DL_NAME)?;
                    out.push(2);
                    out.extend_from_slice(name);
                }
            }
            out.push(0);
        }
        Ok(count)
    }
}

/// submit_multi body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SubmitMulti<'a> {
    /// service_type.
    pub service_type: &'a [u8],
    /// Originator.
    pub source: Address<'a>,
    /// Destinations.
    pub destinations: DestList<'a>,
    /// esm_class.
    pub esm_class: u8,
    /// protocol_id.
    pub protocol_id: u8,
    /// priority_flag.
    pub priority_flag: u8,
    /// schedule_delivery_time.
    pub schedule_delivery_time: &'a [u8],
    /// validity_period.
    pub validity_period: &'a [u8],
    /// registered_delivery.
    pub registered_delivery: u8,
    /// replace_if_present_flag.
    pub replace_if_present_flag: u8,
    /// data_coding.
    pub data_coding: u8,
    /// sm_default_msg_id.
    pub sm_default_msg_id: u8,
    /// short_message.
    pub short_message: &'a [u8],
    /// TLVs.
    pub tlvs: Tlvs<'a>,
}

/// One unsuccessful destination of a submit_multi_resp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsuccess<'a> {
    /// The destination that failed.
    pub address: Address<'a>,
    /// Why (a command_status value).
    pub error_status: u32,
}

/// The unsuccess_sme list of a submit_multi_resp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UnsuccessList<'a> {
    count: u8,
    raw: &'a [u8],
}

impl<'a> UnsuccessList<'a> {
    /// Number of entries.
    pub fn len(&self) -> usize {
        usize::from(self.count)
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Raw octets after no_unsuccess.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// Iterate the entries.
    pub fn iter(&self) -> impl Iterator<Item = Unsuccess<'a>> + 'a {
        let mut rest = self.raw;
        std::iter::from_fn(move || {
            let (ton, tail) = rest.split_first()?;
            let (npi, tail) = tail.split_first()?;
            let nul = tail.iter().position(|b| *b == 0)?;
            let addr = tail.get(..nul)?;
            let status: [u8; 4] = tail.get(nul + 1..nul + 5)?.try_into().ok()?;
            rest = tail.get(nul + 5..)?;
            Some(Unsuccess {
                address: Address {
                    ton: *ton,
                    npi: *npi,
                    addr,
                },
                error_status: u32::from_be_bytes(status),
            })
        })
    }

    /// A list from its wire form as written by [`UnsuccessList::write`].
    /// Malformed `raw` never panics: iteration stops early.
    pub fn from_raw(count: u8, raw: &'a [u8]) -> Self {
        UnsuccessList { count, raw }
    }

    /// Append the wire form of `entries` to `out` and return the count.
    pub fn write(entries: &[Unsuccess<'_>], out: &mut Vec<u8>) -> Result<u8, crate::EncodeError> {
        let count = u8::try_from(entries.len())
            .map_err(|_| crate::EncodeError::ListTooLong(entries.len()))?;
        for e in entries {
            check_cstr("unsuccess_sme", e.address.addr, max::ADDR)?;
            out.extend_from_slice(&[e.address.ton, e.address.npi]);
            out.extend_from_slice(e.address.addr);
            out.push(0);
            out.extend_from_slice(&e.error_status.to_be_bytes());
        }
        Ok(count)
    }
}

/// submit_multi_resp body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SubmitMultiResp<'a> {
    /// SMSC message id.
    pub message_id: &'a [u8],
    /// Destinations that failed.
    pub unsuccess: UnsuccessList<'a>,
    /// TLVs.
    pub tlvs: Tlvs<'a>,
}

/// query_sm body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QuerySm<'a> {
    /// Message to query.
    pub message_id: &'a [u8],
    /// Its originator.
    pub source: Address<'a>,
    /// TLVs (none defined; kept if sent).
    pub tlvs: Tlvs<'a>,
}

/// query_sm_resp body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QuerySmResp<'a> {
    /// Message queried.
    pub message_id: &'a [u8],
    /// When it reached its final state.
    pub final_date: &'a [u8],
    /// Its state.
    pub message_state: u8,
    /// Network error code.
    pub error_code: u8,
    /// TLVs (none defined; kept if sent).
    pub tlvs: Tlvs<'a>,
}

/// cancel_sm body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CancelSm<'a> {
    /// service_type.
    pub service_type: &'a [u8],
    /// Message to cancel.
    pub message_id: &'a [u8],
    /// Originator.
    pub source: Address<'a>,
    /// Recipient.
    pub destination: Address<'a>,
    /// TLVs (none defined; kept if sent).
    pub tlvs: Tlvs<'a>,
}

/// replace_sm body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReplaceSm<'a> {
    /// Message to replace.
    pub message_id: &'a [u8],
    /// Its originator.
    pub source: Address<'a>,
    /// schedule_delivery_time.
    pub schedule_delivery_time: &'a [u8],
    /// validity_period.
    pub validity_period: &'a [u8],
    /// registered_delivery.
    pub registered_delivery: u8,
    /// sm_default_msg_id.
    pub sm_default_msg_id: u8,
    /// The new short_message.
    pub short_message: &'a [u8],
    /// TLVs (message_payload in SMPP 5.0).
    pub tlvs: Tlvs<'a>,
}

/// alert_notification body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AlertNotification<'a> {
    /// The mobile that became available.
    pub source: Address<'a>,
    /// The ESME that asked to be alerted.
    pub esme: Address<'a>,
    /// TLVs (ms_availability_status).
    pub tlvs: Tlvs<'a>,
}

/// The body of a PDU, one variant per command. Response bodies are `None` when
/// the PDU carries the header only (error responses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Body<'a> {
    BindReceiver(Bind<'a>),
    BindReceiverResp(Option<BindResp<'a>>),
    BindTransmitter(Bind<'a>),
    BindTransmitterResp(Option<BindResp<'a>>),
    BindTransceiver(Bind<'a>),
    BindTransceiverResp(Option<BindResp<'a>>),
    Outbind(Outbind<'a>),
    Unbind,
    UnbindResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    SubmitSm(Sm<'a>),
    SubmitSmResp(Option<MessageIdResp<'a>>),
    DeliverSm(Sm<'a>),
    DeliverSmResp(Option<MessageIdResp<'a>>),
    DataSm(DataSm<'a>),
    DataSmResp(Option<MessageIdResp<'a>>),
    SubmitMulti(SubmitMulti<'a>),
    SubmitMultiResp(Option<SubmitMultiResp<'a>>),
    QuerySm(QuerySm<'a>),
    QuerySmResp(Option<QuerySmResp<'a>>),
    CancelSm(CancelSm<'a>),
    CancelSmResp,
    ReplaceSm(ReplaceSm<'a>),
    ReplaceSmResp,
    AlertNotification(AlertNotification<'a>),
}

impl Body<'_> {
    /// The command id of this body.
    pub fn command_id(&self) -> CommandId {
        use CommandId as C;
        match self {
            Body::BindReceiver(_) => C::BindReceiver,
            Body::BindReceiverResp(_) => C::BindReceiverResp,
            Body::BindTransmitter(_) => C::BindTransmitter,
            Body::BindTransmitterResp(_) => C::BindTransmitterResp,
            Body::BindTransceiver(_) => C::BindTransceiver,
            Body::BindTransceiverResp(_) => C::BindTransceiverResp,
            Body::Outbind(_) => C::Outbind,
            Body::Unbind => C::Unbind,
            Body::UnbindResp => C::UnbindResp,
            Body::EnquireLink => C::EnquireLink,
            Body::EnquireLinkResp => C::EnquireLinkResp,
            Body::GenericNack => C::GenericNack,
            Body::SubmitSm(_) => C::SubmitSm,
            Body::SubmitSmResp(_) => C::SubmitSmResp,
            Body::DeliverSm(_) => C::DeliverSm,
            Body::DeliverSmResp(_) => C::DeliverSmResp,
            Body::DataSm(_) => C::DataSm,
            Body::DataSmResp(_) => C::DataSmResp,
            Body::SubmitMulti(_) => C::SubmitMulti,
            Body::SubmitMultiResp(_) => C::SubmitMultiResp,
            Body::QuerySm(_) => C::QuerySm,
            Body::QuerySmResp(_) => C::QuerySmResp,
            Body::CancelSm(_) => C::CancelSm,
            Body::CancelSmResp => C::CancelSmResp,
            Body::ReplaceSm(_) => C::ReplaceSm,
            Body::ReplaceSmResp => C::ReplaceSmResp,
            Body::AlertNotification(_) => C::AlertNotification,
        }
    }
}

/// A decoded PDU: status, sequence number and a body borrowing the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pdu<'a> {
    /// command_status (0 in requests).
    pub command_status: u32,
    /// sequence_number.
    pub sequence_number: u32,
    /// The command-specific body.
    pub body: Body<'a>,
}

impl<'a> Pdu<'a> {
    /// The command id.
    pub fn command_id(&self) -> CommandId {
        self.body.command_id()
    }

    /// Decode exactly one PDU: `buf` must be `command_length` octets long
    /// (as returned by [`crate::frame`]). C-Octet strings must fit the maximum
    /// lengths of the SMPP 3.4 field tables. Allocates nothing.
    #[inline]
    pub fn decode(buf: &'a [u8]) -> Result<Pdu<'a>, DecodeError> {
        Self::decode_with(buf, false)
    }

    /// Like [`Pdu::decode`] but accepts C-Octet strings up to 255 octets in any
    /// field, for links whose peers exceed the specification (configurable per link).
    #[inline]
    pub fn decode_lenient(buf: &'a [u8]) -> Result<Pdu<'a>, DecodeError> {
        Self::decode_with(buf, true)
    }

    #[inline(always)]
    fn decode_with(buf: &'a [u8], lenient: bool) -> Result<Pdu<'a>, DecodeError> {
        let header = Header::peek(buf).ok_or(DecodeError::ShortHeader {
            available: buf.len(),
        })?;
        let total = header.command_length as usize;
        if total < HEADER_LEN {
            return Err(FrameError::BadCommandLength {
                length: header.command_length,
                max: u32::MAX,
                sequence_number: Some(header.sequence_number),
            }
            .into());
        }
        if total != buf.len() {
            return Err(DecodeError::LengthMismatch {
                length: header.command_length,
                available: buf.len(),
                sequence_number: header.sequence_number,
            });
        }
        let Some(command) = CommandId::from_u32(header.command_id) else {
            return Err(DecodeError::UnknownCommandId {
                command_id: header.command_id,
                sequence_number: header.sequence_number,
            });
        };
        let body_bytes = buf.get(HEADER_LEN..).unwrap_or_default();
        let mut r = Reader::new(
            body_bytes,
            total,
            header.command_id,
            header.sequence_number,
            lenient,
        );
        let Ok(body) = decode_body(command, &mut r).and_then(|body| r.finish().map(|()| body))
        else {
            return Err(r.into_error());
        };
        Ok(Pdu {
            command_status: header.command_status,
            sequence_number: header.sequence_number,
            body,
        })
    }

    /// The submit_sm / deliver_sm body, if this is one.
    pub fn as_sm(&self) -> Option<&Sm<'a>> {
        match &self.body {
            Body::SubmitSm(sm) | Body::DeliverSm(sm) => Some(sm),
            _ => None,
        }
    }
}

fn check_cstr(field: &'static str, s: &[u8], max: usize) -> Result<(), crate::EncodeError> {
    if s.len() >= max || s.contains(&0) {
        return Err(crate::EncodeError::BadCString {
            field,
            length: s.len(),
            max,
        });
    }
    Ok(())
}

#[inline(always)]
fn address<'a>(
    r: &mut Reader<'a>,
    addr_field: &'static str,
    max: usize,
) -> Result<Address<'a>, Fail> {
    Ok(Address {
        ton: r.u8("addr_ton")?,
        npi: r.u8("addr_npi")?,
        addr: r.cstr(addr_field, max)?,
    })
}

fn bind<'a>(r: &mut Reader<'a>) -> Result<Bind<'a>, Fail> {
    Ok(Bind {
        system_id: r.cstr("system_id", max::SYSTEM_ID)?,
        password: r.cstr("password", max::PASSWORD)?,
        system_type: r.cstr("system_type", max::SYSTEM_TYPE)?,
        interface_version: r.u8("interface_version")?,
        address_range: address(r, "address_range", max::ADDRESS_RANGE)?,
        tlvs: r.tlvs()?,
    })
}

fn optional<'a, T>(
    r: &mut Reader<'a>,
    f: impl FnOnce(&mut Reader<'a>) -> Result<T, Fail>,
) -> Result<Option<T>, Fail> {
    if r.is_empty() {
        Ok(None)
    } else {
        f(r).map(Some)
    }
}

fn bind_resp<'a>(r: &mut Reader<'a>) -> Result<Option<BindResp<'a>>, Fail> {
    optional(r, |r| {
        Ok(BindResp {
            system_id: r.cstr("system_id", max::SYSTEM_ID)?,
            tlvs: r.tlvs()?,
        })
    })
}

fn message_id_resp<'a>(r: &mut Reader<'a>) -> Result<Option<MessageIdResp<'a>>, Fail> {
    optional(r, |r| {
        Ok(MessageIdResp {
            message_id: r.cstr("message_id", max::MESSAGE_ID)?,
            tlvs: r.tlvs()?,
        })
    })
}

#[inline(always)]
fn sm<'a>(r: &mut Reader<'a>) -> Result<Sm<'a>, Fail> {
    let service_type = r.cstr("service_type", max::SERVICE_TYPE)?;
    let source = address(r, "source_addr", max::ADDR)?;
    let destination = address(r, "destination_addr", max::ADDR)?;
    let esm_class = r.u8("esm_class")?;
    let protocol_id = r.u8("protocol_id")?;
    let priority_flag = r.u8("priority_flag")?;
    let schedule_delivery_time = r.cstr("schedule_delivery_time", max::TIME)?;
    let validity_period = r.cstr("validity_period", max::TIME)?;
    let registered_delivery = r.u8("registered_delivery")?;
    let replace_if_present_flag = r.u8("replace_if_present_flag")?;
    let data_coding = r.u8("data_coding")?;
    let sm_default_msg_id = r.u8("sm_default_msg_id")?;
    let sm_length = r.u8("sm_length")?;
    let short_message = r.octets("short_message", usize::from(sm_length))?;
    Ok(Sm {
        service_type,
        source,
        destination,
        esm_class,
        protocol_id,
        priority_flag,
        schedule_delivery_time,
        validity_period,
        registered_delivery,
        replace_if_present_flag,
        data_coding,
        sm_default_msg_id,
        short_message,
        tlvs: r.tlvs()?,
    })
}

/// Walk `count` entries with `walk` over a sub-reader to find where a list ends.
fn dest_list<'a>(r: &mut Reader<'a>) -> Result<DestList<'a>, Fail> {
    let count = r.u8("number_of_dests")?;
    let start = r.remaining();
    for _ in 0..count {
        let offset = r.position();
        match r.u8("dest_flag")? {
            1 => {
                address(r, "dest_address", max::ADDR)?;
            }
            2 => {
                r.cstr("dl_name", max::DL_NAME)?;
            }
            other => {
                return Err(r.error_at("dest_flag", offset, FieldProblem::BadDestFlag(other)));
            }
        }
    }
    let used = start.len() - r.remaining().len();
    Ok(DestList::from_raw(
        count,
        start.get(..used).unwrap_or_default(),
    ))
}

fn unsuccess_list<'a>(r: &mut Reader<'a>) -> Result<UnsuccessList<'a>, Fail> {
    let count = r.u8("no_unsuccess")?;
    let start = r.remaining();
    for _ in 0..count {
        address(r, "unsuccess_sme", max::ADDR)?;
        r.u32("error_status_code")?;
    }
    let used = start.len() - r.remaining().len();
    Ok(UnsuccessList::from_raw(
        count,
        start.get(..used).unwrap_or_default(),
    ))
}

fn decode_body<'a>(command: CommandId, r: &mut Reader<'a>) -> Result<Body<'a>, Fail> {
    use CommandId as C;
    Ok(match command {
        C::SubmitSm => Body::SubmitSm(sm(r)?),
        C::DeliverSm => Body::DeliverSm(sm(r)?),
        C::SubmitSmResp => Body::SubmitSmResp(message_id_resp(r)?),
        C::DeliverSmResp => Body::DeliverSmResp(message_id_resp(r)?),
        C::DataSmResp => Body::DataSmResp(message_id_resp(r)?),
        C::EnquireLink => Body::EnquireLink,
        C::EnquireLinkResp => Body::EnquireLinkResp,
        C::Unbind => Body::Unbind,
        C::UnbindResp => Body::UnbindResp,
        C::GenericNack => Body::GenericNack,
        C::CancelSmResp => Body::CancelSmResp,
        C::ReplaceSmResp => Body::ReplaceSmResp,
        C::BindReceiver => Body::BindReceiver(bind(r)?),
        C::BindTransmitter => Body::BindTransmitter(bind(r)?),
        C::BindTransceiver => Body::BindTransceiver(bind(r)?),
        C::BindReceiverResp => Body::BindReceiverResp(bind_resp(r)?),
        C::BindTransmitterResp => Body::BindTransmitterResp(bind_resp(r)?),
        C::BindTransceiverResp => Body::BindTransceiverResp(bind_resp(r)?),
        C::Outbind => Body::Outbind(Outbind {
            system_id: r.cstr("system_id", max::SYSTEM_ID)?,
            password: r.cstr("password", max::PASSWORD)?,
            tlvs: r.tlvs()?,
        }),
        C::DataSm => Body::DataSm(DataSm {
            service_type: r.cstr("service_type", max::SERVICE_TYPE)?,
            source: address(r, "source_addr", max::ADDR_65)?,
            destination: address(r, "destination_addr", max::ADDR_65)?,
            esm_class: r.u8("esm_class")?,
            registered_delivery: r.u8("registered_delivery")?,
            data_coding: r.u8("data_coding")?,
            tlvs: r.tlvs()?,
        }),
        C::SubmitMulti => {
            let service_type = r.cstr("service_type", max::SERVICE_TYPE)?;
            let source = address(r, "source_addr", max::ADDR)?;
            let destinations = dest_list(r)?;
            let esm_class = r.u8("esm_class")?;
            let protocol_id = r.u8("protocol_id")?;
            let priority_flag = r.u8("priority_flag")?;
            let schedule_delivery_time = r.cstr("schedule_delivery_time", max::TIME)?;
            let validity_period = r.cstr("validity_period", max::TIME)?;
            let registered_delivery = r.u8("registered_delivery")?;
            let replace_if_present_flag = r.u8("replace_if_present_flag")?;
            let data_coding = r.u8("data_coding")?;
            let sm_default_msg_id = r.u8("sm_default_msg_id")?;
            let sm_length = r.u8("sm_length")?;
            let short_message = r.octets("short_message", usize::from(sm_length))?;
            Body::SubmitMulti(SubmitMulti {
                service_type,
                source,
                destinations,
                esm_class,
                protocol_id,
                priority_flag,
                schedule_delivery_time,
                validity_period,
                registered_delivery,
                replace_if_present_flag,
                data_coding,
                sm_default_msg_id,
                short_message,
                tlvs: r.tlvs()?,
            })
        }
        C::SubmitMultiResp => Body::SubmitMultiResp(optional(r, |r| {
            Ok(SubmitMultiResp {
                message_id: r.cstr("message_id", max::MESSAGE_ID)?,
                unsuccess: unsuccess_list(r)?,
                tlvs: r.tlvs()?,
            })
        })?),
        C::QuerySm => Body::QuerySm(QuerySm {
            message_id: r.cstr("message_id", max::MESSAGE_ID)?,
            source: address(r, "source_addr", max::ADDR)?,
            tlvs: r.tlvs()?,
        }),
        C::QuerySmResp => Body::QuerySmResp(optional(r, |r| {
            Ok(QuerySmResp {
                message_id: r.cstr("message_id", max::MESSAGE_ID)?,
                final_date: r.cstr("final_date", max::TIME)?,
                message_state: r.u8("message_state")?,
                error_code: r.u8("error_code")?,
                tlvs: r.tlvs()?,
            })
        })?),
        C::CancelSm => Body::CancelSm(CancelSm {
            service_type: r.cstr("service_type", max::SERVICE_TYPE)?,
            message_id: r.cstr("message_id", max::MESSAGE_ID)?,
            source: address(r, "source_addr", max::ADDR)?,
            destination: address(r, "destination_addr", max::ADDR)?,
            tlvs: r.tlvs()?,
        }),
        C::ReplaceSm => {
            let message_id = r.cstr("message_id", max::MESSAGE_ID)?;
            let source = address(r, "source_addr", max::ADDR)?;
            let schedule_delivery_time = r.cstr("schedule_delivery_time", max::TIME)?;
            let validity_period = r.cstr("validity_period", max::TIME)?;
            let registered_delivery = r.u8("registered_delivery")?;
            let sm_default_msg_id = r.u8("sm_default_msg_id")?;
            let sm_length = r.u8("sm_length")?;
            Body::ReplaceSm(ReplaceSm {
                message_id,
                source,
                schedule_delivery_time,
                validity_period,
                registered_delivery,
                sm_default_msg_id,
                short_message: r.octets("short_message", usize::from(sm_length))?,
                tlvs: r.tlvs()?,
            })
        }
        C::AlertNotification => Body::AlertNotification(AlertNotification {
            source: address(r, "source_addr", max::ADDR_65)?,
            esme: address(r, "esme_addr", max::ADDR_65)?,
            tlvs: r.tlvs()?,
        }),
    })
}
