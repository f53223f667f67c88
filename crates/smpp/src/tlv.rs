//! Tagged optional parameters (TLVs) of SMPP 3.4 and 5.0, kept borrowed.
//!
//! [`Tlvs`] is a view over the raw TLV octets at the end of a PDU. It is
//! validated once when the PDU is decoded (every length fits), then iterated
//! without allocation. Unknown tags stay in place, in order, byte for byte, so
//! re-encoding reproduces the input exactly.

use crate::error::FieldProblem;

macro_rules! tlv_tags {
    ($( $(#[$doc:meta])* $variant:ident = $value:expr; )*) => {
        /// A TLV tag: every standard tag of SMPP 3.4 and 5.0 by name, others kept as numbers.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum TlvTag {
            $( $(#[$doc])* $variant, )*
            /// A vendor-specific or unknown tag.
            Other(u16),
        }

        impl TlvTag {
            /// Map a wire tag to its name (standard tags never map to `Other`).
            #[inline]
            pub fn from_u16(tag: u16) -> TlvTag {
                match tag {
                    $( $value => TlvTag::$variant, )*
                    other => TlvTag::Other(other),
                }
            }

            /// The wire value of the tag.
            #[inline]
            pub fn to_u16(self) -> u16 {
                match self {
                    $( TlvTag::$variant => $value, )*
                    TlvTag::Other(other) => other,
                }
            }
        }
    };
}

tlv_tags! {
    /// dest_addr_subunit (3.4).
    DestAddrSubunit = 0x0005;
    /// dest_network_type (3.4).
    DestNetworkType = 0x0006;
    /// dest_bearer_type (3.4).
    DestBearerType = 0x0007;
    /// dest_telematics_id (3.4).
    DestTelematicsId = 0x0008;
    /// source_addr_subunit (3.4).
    SourceAddrSubunit = 0x000D;
    /// source_network_type (3.4).
    SourceNetworkType = 0x000E;
    /// source_bearer_type (3.4).
    SourceBearerType = 0x000F;
    /// source_telematics_id (3.4).
    SourceTelematicsId = 0x0010;
    /// qos_time_to_live (3.4).
    QosTimeToLive = 0x0017;
    /// payload_type (3.4).
    PayloadType = 0x0019;
    /// additional_status_info_text (3.4).
    AdditionalStatusInfoText = 0x001D;
    /// receipted_message_id (3.4).
    ReceiptedMessageId = 0x001E;
    /// ms_msg_wait_facilities (3.4).
    MsMsgWaitFacilities = 0x0030;
    /// privacy_indicator (3.4).
    PrivacyIndicator = 0x0201;
    /// source_subaddress (3.4).
    SourceSubaddress = 0x0202;
    /// dest_subaddress (3.4).
    DestSubaddress = 0x0203;
    /// user_message_reference (3.4).
    UserMessageReference = 0x0204;
    /// user_response_code (3.4).
    UserResponseCode = 0x0205;
    /// source_port (3.4).
    SourcePort = 0x020A;
    /// destination_port (3.4).
    DestinationPort = 0x020B;
    /// sar_msg_ref_num (3.4).
    SarMsgRefNum = 0x020C;
    /// language_indicator (3.4).
    LanguageIndicator = 0x020D;
    /// sar_total_segments (3.4).
    SarTotalSegments = 0x020E;
    /// sar_segment_seqnum (3.4).
    SarSegmentSeqnum = 0x020F;
    /// sc_interface_version (3.4).
    ScInterfaceVersion = 0x0210;
    /// callback_num_pres_ind (3.4).
    CallbackNumPresInd = 0x0302;
    /// callback_num_atag (3.4).
    CallbackNumAtag = 0x0303;
    /// number_of_messages (3.4).
    NumberOfMessages = 0x0304;
    /// callback_num (3.4).
    CallbackNum = 0x0381;
    /// dpf_result (3.4).
    DpfResult = 0x0420;
    /// set_dpf (3.4).
    SetDpf = 0x0421;
    /// ms_availability_status (3.4).
    MsAvailabilityStatus = 0x0422;
    /// network_error_code (3.4).
    NetworkErrorCode = 0x0423;
    /// message_payload (3.4): replaces short_message.
    MessagePayload = 0x0424;
    /// delivery_failure_reason (3.4).
    DeliveryFailureReason = 0x0425;
    /// more_messages_to_send (3.4).
    MoreMessagesToSend = 0x0426;
    /// message_state (3.4).
    MessageState = 0x0427;
    /// congestion_state (5.0).
    CongestionState = 0x0428;
    /// ussd_service_op (3.4).
    UssdServiceOp = 0x0501;
    /// broadcast_channel_indicator (5.0).
    BroadcastChannelIndicator = 0x0600;
    /// broadcast_content_type (5.0).
    BroadcastContentType = 0x0601;
    /// broadcast_content_type_info (5.0).
    BroadcastContentTypeInfo = 0x0602;
    /// broadcast_message_class (5.0).
    BroadcastMessageClass = 0x0603;
    /// broadcast_rep_num (5.0).
    BroadcastRepNum = 0x0604;
    /// broadcast_frequency_interval (5.0).
    BroadcastFrequencyInterval = 0x0605;
    /// broadcast_area_identifier (5.0).
    BroadcastAreaIdentifier = 0x0606;
    /// broadcast_error_status (5.0).
    BroadcastErrorStatus = 0x0607;
    /// broadcast_area_success (5.0).
    BroadcastAreaSuccess = 0x0608;
    /// broadcast_end_time (5.0).
    BroadcastEndTime = 0x0609;
    /// broadcast_service_group (5.0).
    BroadcastServiceGroup = 0x060A;
    /// billing_identification (5.0).
    BillingIdentification = 0x060B;
    /// source_network_id (5.0).
    SourceNetworkId = 0x060D;
    /// dest_network_id (5.0).
    DestNetworkId = 0x060E;
    /// source_node_id (5.0).
    SourceNodeId = 0x060F;
    /// dest_node_id (5.0).
    DestNodeId = 0x0610;
    /// dest_addr_np_resolution (5.0).
    DestAddrNpResolution = 0x0611;
    /// dest_addr_np_information (5.0).
    DestAddrNpInformation = 0x0612;
    /// dest_addr_np_country (5.0).
    DestAddrNpCountry = 0x0613;
    /// display_time (3.4).
    DisplayTime = 0x1201;
    /// sms_signal (3.4).
    SmsSignal = 0x1203;
    /// ms_validity (3.4).
    MsValidity = 0x1204;
    /// alert_on_message_delivery (3.4).
    AlertOnMessageDelivery = 0x130C;
    /// its_reply_type (3.4).
    ItsReplyType = 0x1380;
    /// its_session_info (3.4).
    ItsSessionInfo = 0x1383;
}

/// One TLV: its tag and borrowed value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// The tag.
    pub tag: TlvTag,
    /// The value octets (length = value.len()).
    pub value: &'a [u8],
}

impl<'a> Tlv<'a> {
    /// The value as a one-octet integer (None if the length differs).
    pub fn as_u8(&self) -> Option<u8> {
        match self.value {
            [v] => Some(*v),
            _ => None,
        }
    }

    /// The value as a big-endian two-octet integer (None if the length differs).
    pub fn as_u16(&self) -> Option<u16> {
        match self.value {
            [a, b] => Some(u16::from_be_bytes([*a, *b])),
            _ => None,
        }
    }

    /// The value as a C-Octet string without its NUL (tolerates a missing NUL).
    pub fn as_cstr(&self) -> &'a [u8] {
        match self.value.split_last() {
            Some((0, head)) => head,
            _ => self.value,
        }
    }
}

/// The TLV block of a PDU: a validated view over its raw octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tlvs<'a> {
    raw: &'a [u8],
}

impl<'a> Tlvs<'a> {
    /// An empty TLV block.
    pub const EMPTY: Tlvs<'static> = Tlvs { raw: &[] };

    /// Validate `raw` as a sequence of TLVs. On error returns the offset inside
    /// `raw` where the bad TLV starts and what is wrong.
    #[inline]
    pub fn parse(raw: &'a [u8]) -> Result<Tlvs<'a>, (usize, FieldProblem)> {
        let mut at = 0usize;
        while at < raw.len() {
            let rest = raw.get(at..).unwrap_or_default();
            let (tag, len) = match rest {
                [t0, t1, l0, l1, ..] => (
                    u16::from_be_bytes([*t0, *t1]),
                    usize::from(u16::from_be_bytes([*l0, *l1])),
                ),
                _ => {
                    return Err((
                        at,
                        FieldProblem::TlvHeaderCut {
                            available: rest.len(),
                        },
                    ))
                }
            };
            let available = rest.len() - 4;
            if len > available {
                return Err((
                    at,
                    FieldProblem::TlvPastEnd {
                        tag,
                        length: len,
                        available,
                    },
                ));
            }
            at += 4 + len;
        }
        Ok(Tlvs { raw })
    }

    /// The raw TLV octets, exactly as received.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// True when there are no TLVs.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Iterate the TLVs in wire order.
    pub fn iter(&self) -> TlvIter<'a> {
        TlvIter { rest: self.raw }
    }

    /// The first TLV with this tag.
    #[inline]
    pub fn get(&self, tag: TlvTag) -> Option<Tlv<'a>> {
        let wanted = tag.to_u16();
        let mut rest = self.raw;
        while let [t0, t1, l0, l1, tail @ ..] = rest {
            let len = usize::from(u16::from_be_bytes([*l0, *l1]));
            let value = tail.get(..len)?;
            if u16::from_be_bytes([*t0, *t1]) == wanted {
                return Some(Tlv {
                    tag: TlvTag::from_u16(wanted),
                    value,
                });
            }
            rest = tail.get(len..)?;
        }
        None
    }

    /// The message_payload TLV value, when present.
    pub fn message_payload(&self) -> Option<&'a [u8]> {
        self.get(TlvTag::MessagePayload).map(|t| t.value)
    }

    /// The receipted_message_id of a delivery receipt.
    pub fn receipted_message_id(&self) -> Option<&'a [u8]> {
        self.get(TlvTag::ReceiptedMessageId).map(|t| t.as_cstr())
    }

    /// The message_state of a delivery receipt.
    pub fn message_state(&self) -> Option<u8> {
        self.get(TlvTag::MessageState).and_then(|t| t.as_u8())
    }
}

impl<'a> IntoIterator for Tlvs<'a> {
    type Item = Tlv<'a>;
    type IntoIter = TlvIter<'a>;
    fn into_iter(self) -> TlvIter<'a> {
        self.iter()
    }
}

/// Iterator over the TLVs of a [`Tlvs`] block.
#[derive(Debug, Clone)]
pub struct TlvIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for TlvIter<'a> {
    type Item = Tlv<'a>;
    fn next(&mut self) -> Option<Tlv<'a>> {
        let [t0, t1, l0, l1, tail @ ..] = self.rest else {
            return None;
        };
        let len = usize::from(u16::from_be_bytes([*l0, *l1]));
        let value = tail.get(..len)?;
        self.rest = tail.get(len..).unwrap_or_default();
        Some(Tlv {
            tag: TlvTag::from_u16(u16::from_be_bytes([*t0, *t1])),
            value,
        })
    }
}

/// Append one TLV to `out` (value longer than 65535 octets is refused).
pub fn write_tlv(out: &mut Vec<u8>, tag: TlvTag, value: &[u8]) -> Result<(), crate::EncodeError> {
    let len =
        u16::try_from(value.len()).map_err(|_| crate::EncodeError::TlvTooLong(value.len()))?;
    out.extend_from_slice(&tag.to_u16().to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(value);
    Ok(())
}
