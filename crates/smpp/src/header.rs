//! The 16-octet PDU header, command ids and TCP stream framing.

use crate::error::FrameError;

/// Length of the PDU header in octets.
pub const HEADER_LEN: usize = 16;

/// Default maximum `command_length` accepted by [`frame`] callers that have no
/// link-specific setting (64 KiB holds any legitimate PDU, including a full
/// message_payload).
pub const DEFAULT_MAX_PDU_LEN: u32 = 65_536;

/// The four header fields of every SMPP PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// Total PDU length, header included.
    pub command_length: u32,
    /// The command id (bit 31 set for responses).
    pub command_id: u32,
    /// Status (0 in requests).
    pub command_status: u32,
    /// Sequence number correlating requests and responses.
    pub sequence_number: u32,
}

#[inline(always)]
fn be32(buf: &[u8], at: usize) -> Option<u32> {
    let bytes: [u8; 4] = buf.get(at..at + 4)?.try_into().ok()?;
    Some(u32::from_be_bytes(bytes))
}

impl Header {
    /// Read the header from the first 16 octets of `buf` (None when fewer are present).
    #[inline]
    pub fn peek(buf: &[u8]) -> Option<Header> {
        Some(Header {
            command_length: be32(buf, 0)?,
            command_id: be32(buf, 4)?,
            command_status: be32(buf, 8)?,
            sequence_number: be32(buf, 12)?,
        })
    }

    /// True for response PDUs (bit 31 of command_id).
    pub fn is_response(&self) -> bool {
        self.command_id & 0x8000_0000 != 0
    }
}

/// Stream framing for TCP: is a complete PDU at the start of `buf`?
///
/// Returns `Ok(Some(len))` when the first `len` octets are one complete PDU,
/// `Ok(None)` when more octets are needed, and an error when `command_length` is
/// below 16 or above `max_len`: the proxy then answers `generic_nack`
/// (ESME_RINVCMDLEN) and closes. Nothing is ever allocated from the claimed length.
#[inline]
pub fn frame(buf: &[u8], max_len: u32) -> Result<Option<usize>, FrameError> {
    let Some(length) = be32(buf, 0) else {
        return Ok(None);
    };
    if (length as usize) < HEADER_LEN || length > max_len {
        return Err(FrameError::BadCommandLength {
            length,
            max: max_len,
            sequence_number: be32(buf, 12),
        });
    }
    let length = length as usize;
    Ok((buf.len() >= length).then_some(length))
}

macro_rules! command_ids {
    ($( $(#[$doc:meta])* $variant:ident = $value:expr, $name:literal; )*) => {
        /// Every SMPP 3.4 command id, requests and responses.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u32)]
        pub enum CommandId {
            $( $(#[$doc])* $variant = $value, )*
        }

        impl CommandId {
            /// Map a wire value to a known command id.
            #[inline]
            pub fn from_u32(value: u32) -> Option<CommandId> {
                match value {
                    $( $value => Some(CommandId::$variant), )*
                    _ => None,
                }
            }

            /// The specification's name, e.g. `submit_sm_resp`.
            pub fn name(self) -> &'static str {
                match self {
                    $( CommandId::$variant => $name, )*
                }
            }
        }
    };
}

command_ids! {
    /// generic_nack.
    GenericNack = 0x8000_0000, "generic_nack";
    /// bind_receiver.
    BindReceiver = 0x0000_0001, "bind_receiver";
    /// bind_receiver_resp.
    BindReceiverResp = 0x8000_0001, "bind_receiver_resp";
    /// bind_transmitter.
    BindTransmitter = 0x0000_0002, "bind_transmitter";
    /// bind_transmitter_resp.
    BindTransmitterResp = 0x8000_0002, "bind_transmitter_resp";
    /// query_sm.
    QuerySm = 0x0000_0003, "query_sm";
    /// query_sm_resp.
    QuerySmResp = 0x8000_0003, "query_sm_resp";
    /// submit_sm.
    SubmitSm = 0x0000_0004, "submit_sm";
    /// submit_sm_resp.
    SubmitSmResp = 0x8000_0004, "submit_sm_resp";
    /// deliver_sm.
    DeliverSm = 0x0000_0005, "deliver_sm";
    /// deliver_sm_resp.
    DeliverSmResp = 0x8000_0005, "deliver_sm_resp";
    /// unbind.
    Unbind = 0x0000_0006, "unbind";
    /// unbind_resp.
    UnbindResp = 0x8000_0006, "unbind_resp";
    /// replace_sm.
    ReplaceSm = 0x0000_0007, "replace_sm";
    /// replace_sm_resp.
    ReplaceSmResp = 0x8000_0007, "replace_sm_resp";
    /// cancel_sm.
    CancelSm = 0x0000_0008, "cancel_sm";
    /// cancel_sm_resp.
    CancelSmResp = 0x8000_0008, "cancel_sm_resp";
    /// bind_transceiver.
    BindTransceiver = 0x0000_0009, "bind_transceiver";
    /// bind_transceiver_resp.
    BindTransceiverResp = 0x8000_0009, "bind_transceiver_resp";
    /// outbind.
    Outbind = 0x0000_000B, "outbind";
    /// enquire_link.
    EnquireLink = 0x0000_0015, "enquire_link";
    /// enquire_link_resp.
    EnquireLinkResp = 0x8000_0015, "enquire_link_resp";
    /// submit_multi.
    SubmitMulti = 0x0000_0021, "submit_multi";
    /// submit_multi_resp.
    SubmitMultiResp = 0x8000_0021, "submit_multi_resp";
    /// alert_notification.
    AlertNotification = 0x0000_0102, "alert_notification";
    /// data_sm.
    DataSm = 0x0000_0103, "data_sm";
    /// data_sm_resp.
    DataSmResp = 0x8000_0103, "data_sm_resp";
}
