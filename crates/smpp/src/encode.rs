//! Encoders: every PDU back to bytes (into a caller's `Vec<u8>`), the replies a
//! proxy sends, in-place sequence number patching, and short_message rewriting.

use crate::cstring::max;
use crate::error::EncodeError;
use crate::header::{CommandId, HEADER_LEN};
use crate::pdu::{Address, Body, MessageIdResp, Pdu, Sm};
use crate::tlv::{write_tlv, TlvTag, Tlvs};

struct Writer<'o> {
    out: &'o mut Vec<u8>,
}

impl Writer<'_> {
    #[inline]
    fn u8(&mut self, v: u8) {
        self.out.push(v);
    }

    #[inline]
    /// A C-Octet string. The encoder writes what [`Pdu::decode_lenient`] reads
    /// (up to 255 octets, no NUL inside); the field maximum is for the error text.
    fn cstr(&mut self, field: &'static str, s: &[u8], _spec_max: usize) -> Result<(), EncodeError> {
        let max = max::LENIENT;
        if s.len() >= max || s.contains(&0) {
            return Err(EncodeError::BadCString {
                field,
                length: s.len(),
                max,
            });
        }
        self.out.extend_from_slice(s);
        self.out.push(0);
        Ok(())
    }

    fn address(
        &mut self,
        field: &'static str,
        a: &Address<'_>,
        max: usize,
    ) -> Result<(), EncodeError> {
        self.u8(a.ton);
        self.u8(a.npi);
        self.cstr(field, a.addr, max)
    }

    fn short_message(&mut self, sm: &[u8]) -> Result<(), EncodeError> {
        let len = u8::try_from(sm.len()).map_err(|_| EncodeError::ShortMessageTooLong(sm.len()))?;
        self.u8(len);
        self.out.extend_from_slice(sm);
        Ok(())
    }

    fn tlvs(&mut self, tlvs: &Tlvs<'_>) {
        self.out.extend_from_slice(tlvs.raw());
    }
}

fn sm_body(w: &mut Writer<'_>, sm: &Sm<'_>) -> Result<(), EncodeError> {
    w.cstr("service_type", sm.service_type, max::SERVICE_TYPE)?;
    w.address("source_addr", &sm.source, max::ADDR)?;
    w.address("destination_addr", &sm.destination, max::ADDR)?;
    w.u8(sm.esm_class);
    w.u8(sm.protocol_id);
    w.u8(sm.priority_flag);
    w.cstr(
        "schedule_delivery_time",
        sm.schedule_delivery_time,
        max::TIME,
    )?;
    w.cstr("validity_period", sm.validity_period, max::TIME)?;
    w.u8(sm.registered_delivery);
    w.u8(sm.replace_if_present_flag);
    w.u8(sm.data_coding);
    w.u8(sm.sm_default_msg_id);
    w.short_message(sm.short_message)?;
    w.tlvs(&sm.tlvs);
    Ok(())
}

fn message_id_resp(w: &mut Writer<'_>, r: &Option<MessageIdResp<'_>>) -> Result<(), EncodeError> {
    if let Some(r) = r {
        w.cstr("message_id", r.message_id, max::MESSAGE_ID)?;
        w.tlvs(&r.tlvs);
    }
    Ok(())
}

fn body(w: &mut Writer<'_>, body: &Body<'_>) -> Result<(), EncodeError> {
    match body {
        Body::Unbind
        | Body::UnbindResp
        | Body::EnquireLink
        | Body::EnquireLinkResp
        | Body::GenericNack
        | Body::CancelSmResp
        | Body::ReplaceSmResp => {}
        Body::BindReceiver(b) | Body::BindTransmitter(b) | Body::BindTransceiver(b) => {
            w.cstr("system_id", b.system_id, max::SYSTEM_ID)?;
            w.cstr("password", b.password, max::PASSWORD)?;
            w.cstr("system_type", b.system_type, max::SYSTEM_TYPE)?;
            w.u8(b.interface_version);
            w.address("address_range", &b.address_range, max::ADDRESS_RANGE)?;
            w.tlvs(&b.tlvs);
        }
        Body::BindReceiverResp(r) | Body::BindTransmitterResp(r) | Body::BindTransceiverResp(r) => {
            if let Some(r) = r {
                w.cstr("system_id", r.system_id, max::SYSTEM_ID)?;
                w.tlvs(&r.tlvs);
            }
        }
        Body::Outbind(o) => {
            w.cstr("system_id", o.system_id, max::SYSTEM_ID)?;
            w.cstr("password", o.password, max::PASSWORD)?;
            w.tlvs(&o.tlvs);
        }
        Body::SubmitSm(sm) | Body::DeliverSm(sm) => sm_body(w, sm)?,
        Body::SubmitSmResp(r) | Body::DeliverSmResp(r) | Body::DataSmResp(r) => {
            message_id_resp(w, r)?
        }
        Body::DataSm(d) => {
            w.cstr("service_type", d.service_type, max::SERVICE_TYPE)?;
            w.address("source_addr", &d.source, max::ADDR_65)?;
            w.address("destination_addr", &d.destination, max::ADDR_65)?;
            w.u8(d.esm_class);
            w.u8(d.registered_delivery);
            w.u8(d.data_coding);
            w.tlvs(&d.tlvs);
        }
        Body::SubmitMulti(m) => {
            w.cstr("service_type", m.service_type, max::SERVICE_TYPE)?;
            w.address("source_addr", &m.source, max::ADDR)?;
            w.u8(u8::try_from(m.destinations.len())
                .map_err(|_| EncodeError::ListTooLong(m.destinations.len()))?);
            w.out.extend_from_slice(m.destinations.raw());
            w.u8(m.esm_class);
            w.u8(m.protocol_id);
            w.u8(m.priority_flag);
            w.cstr(
                "schedule_delivery_time",
                m.schedule_delivery_time,
                max::TIME,
            )?;
            w.cstr("validity_period", m.validity_period, max::TIME)?;
            w.u8(m.registered_delivery);
            w.u8(m.replace_if_present_flag);
            w.u8(m.data_coding);
            w.u8(m.sm_default_msg_id);
            w.short_message(m.short_message)?;
            w.tlvs(&m.tlvs);
        }
        Body::SubmitMultiResp(r) => {
            if let Some(r) = r {
                w.cstr("message_id", r.message_id, max::MESSAGE_ID)?;
                w.u8(u8::try_from(r.unsuccess.len())
                    .map_err(|_| EncodeError::ListTooLong(r.unsuccess.len()))?);
                w.out.extend_from_slice(r.unsuccess.raw());
                w.tlvs(&r.tlvs);
            }
        }
        Body::QuerySm(q) => {
            w.cstr("message_id", q.message_id, max::MESSAGE_ID)?;
            w.address("source_addr", &q.source, max::ADDR)?;
            w.tlvs(&q.tlvs);
        }
        Body::QuerySmResp(r) => {
            if let Some(r) = r {
                w.cstr("message_id", r.message_id, max::MESSAGE_ID)?;
                w.cstr("final_date", r.final_date, max::TIME)?;
                w.u8(r.message_state);
                w.u8(r.error_code);
                w.tlvs(&r.tlvs);
            }
        }
        Body::CancelSm(c) => {
            w.cstr("service_type", c.service_type, max::SERVICE_TYPE)?;
            w.cstr("message_id", c.message_id, max::MESSAGE_ID)?;
            w.address("source_addr", &c.source, max::ADDR)?;
            w.address("destination_addr", &c.destination, max::ADDR)?;
            w.tlvs(&c.tlvs);
        }
        Body::ReplaceSm(r) => {
            w.cstr("message_id", r.message_id, max::MESSAGE_ID)?;
            w.address("source_addr", &r.source, max::ADDR)?;
            w.cstr(
                "schedule_delivery_time",
                r.schedule_delivery_time,
                max::TIME,
            )?;
            w.cstr("validity_period", r.validity_period, max::TIME)?;
            w.u8(r.registered_delivery);
            w.u8(r.sm_default_msg_id);
            w.short_message(r.short_message)?;
            w.tlvs(&r.tlvs);
        }
        Body::AlertNotification(a) => {
            w.address("source_addr", &a.source, max::ADDR_65)?;
            w.address("esme_addr", &a.esme, max::ADDR_65)?;
            w.tlvs(&a.tlvs);
        }
    }
    Ok(())
}

/// Write a PDU framed by `write_body`, fixing command_length at the end. On
/// error `out` is restored to its previous length.
fn framed(
    out: &mut Vec<u8>,
    command_id: u32,
    command_status: u32,
    sequence_number: u32,
    write_body: impl FnOnce(&mut Writer<'_>) -> Result<(), EncodeError>,
) -> Result<(), EncodeError> {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&command_id.to_be_bytes());
    out.extend_from_slice(&command_status.to_be_bytes());
    out.extend_from_slice(&sequence_number.to_be_bytes());
    let result = write_body(&mut Writer { out })
        .and_then(|()| u32::try_from(out.len() - start).map_err(|_| EncodeError::TooLarge));
    match result {
        Ok(length) => {
            if let Some(slot) = out.get_mut(start..start + 4) {
                slot.copy_from_slice(&length.to_be_bytes());
            }
            Ok(())
        }
        Err(e) => {
            out.truncate(start);
            Err(e)
        }
    }
}

impl Pdu<'_> {
    /// Append the wire form of this PDU to `out`. Strings that break their
    /// field's limits are refused (nothing is appended then).
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        framed(
            out,
            self.command_id() as u32,
            self.command_status,
            self.sequence_number,
            |w| body(w, &self.body),
        )
    }

    /// The wire form in a new vector.
    pub fn to_vec(&self) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::new();
        self.encode(&mut out)?;
        Ok(out)
    }
}

/// Append a `generic_nack` with `command_status` (e.g. ESME_RINVCMDID) echoing `sequence_number`.
pub fn generic_nack(out: &mut Vec<u8>, command_status: u32, sequence_number: u32) {
    write_header_only(out, CommandId::GenericNack, command_status, sequence_number);
}

/// Append a header-only PDU (enquire_link_resp, unbind_resp, an error response without body).
pub fn write_header_only(
    out: &mut Vec<u8>,
    command: CommandId,
    command_status: u32,
    sequence_number: u32,
) {
    out.extend_from_slice(&(HEADER_LEN as u32).to_be_bytes());
    out.extend_from_slice(&(command as u32).to_be_bytes());
    out.extend_from_slice(&command_status.to_be_bytes());
    out.extend_from_slice(&sequence_number.to_be_bytes());
}

fn message_id_response(
    out: &mut Vec<u8>,
    command: CommandId,
    command_status: u32,
    sequence_number: u32,
    message_id: Option<&[u8]>,
) -> Result<(), EncodeError> {
    framed(
        out,
        command as u32,
        command_status,
        sequence_number,
        |w| match message_id {
            Some(id) => w.cstr("message_id", id, max::MESSAGE_ID),
            None => Ok(()),
        },
    )
}

/// Append a submit_sm_resp. With an error status pass `message_id: None` (header-only body,
/// as SMPP 3.4 section 4.4.2 requires); on success pass the id the gateway or SMSC assigned.
pub fn submit_sm_resp(
    out: &mut Vec<u8>,
    command_status: u32,
    sequence_number: u32,
    message_id: Option<&[u8]>,
) -> Result<(), EncodeError> {
    message_id_response(
        out,
        CommandId::SubmitSmResp,
        command_status,
        sequence_number,
        message_id,
    )
}

/// Append a deliver_sm_resp (message_id is always empty per SMPP 3.4).
pub fn deliver_sm_resp(out: &mut Vec<u8>, command_status: u32, sequence_number: u32) {
    // An empty message_id can never fail the C-Octet check.
    let _ = message_id_response(
        out,
        CommandId::DeliverSmResp,
        command_status,
        sequence_number,
        Some(&[]),
    );
}

/// Append a data_sm_resp.
pub fn data_sm_resp(
    out: &mut Vec<u8>,
    command_status: u32,
    sequence_number: u32,
    message_id: Option<&[u8]>,
) -> Result<(), EncodeError> {
    message_id_response(
        out,
        CommandId::DataSmResp,
        command_status,
        sequence_number,
        message_id,
    )
}

/// Overwrite the sequence_number of an encoded PDU in place (the proxy's
/// sequence mapping), without re-encoding anything else.
#[inline]
pub fn patch_sequence(pdu: &mut [u8], sequence_number: u32) -> Result<(), EncodeError> {
    let len = pdu.len();
    let slot = pdu.get_mut(12..16).ok_or(EncodeError::NotAPdu(len))?;
    slot.copy_from_slice(&sequence_number.to_be_bytes());
    Ok(())
}

/// Where [`rewrite_sm`] puts the new message octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// In short_message (sm_length updated); any message_payload TLV is dropped.
    ShortMessage,
    /// In a message_payload TLV (sm_length 0).
    MessagePayload,
}

/// Re-encode a submit_sm or deliver_sm whose message is replaced by `message`
/// (UDH included when the esm_class has UDHI) coded with `data_coding`.
/// Header, every other field and every other TLV are kept byte for byte;
/// sm_length, the message_payload length and command_length are recomputed.
pub fn rewrite_sm(
    out: &mut Vec<u8>,
    original: &Pdu<'_>,
    data_coding: u8,
    message: &[u8],
    placement: Placement,
) -> Result<(), EncodeError> {
    let esm_class = original.as_sm().map_or(0, |sm| sm.esm_class);
    rewrite_sm_part(
        out,
        original,
        esm_class,
        data_coding,
        message,
        placement,
        false,
    )
}

/// Like [`rewrite_sm`] with a new esm_class (to set or clear UDHI for a re-segmented
/// part) and, with `drop_sar`, without the sar_* TLVs (a part whose concatenation is now
/// in its UDH must not also carry the old segmentation).
pub fn rewrite_sm_part(
    out: &mut Vec<u8>,
    original: &Pdu<'_>,
    esm_class: u8,
    data_coding: u8,
    message: &[u8],
    placement: Placement,
    drop_sar: bool,
) -> Result<(), EncodeError> {
    let Some(sm) = original.as_sm() else {
        return Err(EncodeError::Rewrite(
            "only submit_sm and deliver_sm carry a short_message",
        ));
    };
    framed(
        out,
        original.command_id() as u32,
        original.command_status,
        original.sequence_number,
        |w| {
            let mut copy = *sm;
            copy.esm_class = esm_class;
            copy.data_coding = data_coding;
            copy.tlvs = Tlvs::EMPTY;
            copy.short_message = match placement {
                Placement::ShortMessage => message,
                Placement::MessagePayload => &[],
            };
            sm_body(w, &copy)?;
            for tlv in sm.tlvs.iter() {
                let sar = matches!(
                    tlv.tag,
                    TlvTag::SarMsgRefNum | TlvTag::SarTotalSegments | TlvTag::SarSegmentSeqnum
                );
                if tlv.tag != TlvTag::MessagePayload && !(drop_sar && sar) {
                    write_tlv(w.out, tlv.tag, tlv.value)?;
                }
            }
            if placement == Placement::MessagePayload {
                write_tlv(w.out, TlvTag::MessagePayload, message)?;
            }
            Ok(())
        },
    )
}
