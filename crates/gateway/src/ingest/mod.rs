//! The one place where protocol bytes become what the engine decides.
//!
//! [`sip::read`] and [`smpp::read`] turn a parsed message into an [`Ingested`]: the kind of
//! event, every identity a core or handset may act on (callers and callees, the primary one
//! first), the text the handset will render, and the stages that could not run. The inline
//! proxies and `interdict check` both go through here, so the offline tool and the inline
//! path cannot read a message differently.

pub mod sip;
pub mod smpp;

use std::borrow::Cow;

use interdict_engine::EventKind;
use serde::Serialize;

use crate::record::Degraded;

/// Where an identity was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentitySource {
    /// SIP From.
    From,
    /// A SIP P-Asserted-Identity value.
    PAssertedIdentity,
    /// SIP P-Preferred-Identity.
    PPreferredIdentity,
    /// SIP Remote-Party-ID.
    RemotePartyId,
    /// The SIP Request-URI (who the core routes the call to).
    RequestUri,
    /// SIP To.
    To,
    /// A SIP Diversion entry (a party the call was forwarded from).
    Diversion,
    /// A SIP History-Info entry.
    HistoryInfo,
    /// SMPP source address.
    SmppSource,
    /// SMPP destination address.
    SmppDestination,
}

/// One identity to check, as the engine reads numbers (a user part, a dialled string or an
/// alphanumeric sender id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity<'a> {
    /// Where it was read from.
    pub source: IdentitySource,
    /// The number or id.
    pub value: Cow<'a, str>,
}

/// The identities of one side of a message. Inline up to four, so reading an ordinary
/// call or SMS allocates nothing for them (the hot path allocates nothing per message).
pub type Identities<'a> = smallvec::SmallVec<[Identity<'a>; 4]>;

/// A message read for the engine.
#[derive(Debug, Clone)]
pub struct Ingested<'a> {
    /// Call offer or message.
    pub kind: EventKind,
    /// Every calling identity; the first is the one behaviour is counted on and the only one
    /// that may earn trust (the allowlist). The others are checked against the block lists.
    pub callers: Identities<'a>,
    /// Every called identity, the routed one first.
    pub callees: Identities<'a>,
    /// The text the handset will render, every part of it.
    pub text: Option<Cow<'a, str>>,
    /// Stages that could not run.
    pub degraded: Degraded,
    /// Call-ID or message id.
    pub id: Cow<'a, str>,
    /// For a SIP MESSAGE carrying one part of a concatenated SMS over IP: that part, for
    /// the proxy to decide the parts together (they arrive one MESSAGE each).
    pub sms_part: Option<SmsPart>,
}

/// One part of a concatenated SMS carried over IP (3GPP TS 24.341), its text still in the
/// octets it was sent in so that a character split across two parts is joined whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsPart {
    /// Concatenation reference (8- or 16-bit).
    pub reference: u16,
    /// Parts announced.
    pub total: u8,
    /// This part's number, from 1.
    pub seq: u8,
    /// Its text.
    pub piece: SmsPiece,
}

/// The text of one SMS part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmsPiece {
    /// UCS-2 octets (big-endian), joined before decoding.
    Ucs2(Vec<u8>),
    /// Text decoded from GSM 7-bit septets (septets never split a character).
    Text(String),
}

impl SmsPiece {
    /// The text of `pieces` in order, as the handset shows the whole message (a missing
    /// part is one U+FFFD).
    pub fn join(pieces: &[Option<SmsPiece>]) -> String {
        let mut out = String::new();
        let mut octets: Vec<u8> = Vec::new();
        let flush = |octets: &mut Vec<u8>, out: &mut String| {
            if !octets.is_empty() {
                out.push_str(&encoding_rs::UTF_16BE.decode_without_bom_handling(octets).0);
                octets.clear();
            }
        };
        for piece in pieces {
            match piece {
                Some(SmsPiece::Ucs2(o)) => octets.extend_from_slice(o),
                Some(SmsPiece::Text(t)) => {
                    flush(&mut octets, &mut out);
                    out.push_str(t);
                }
                None => {
                    flush(&mut octets, &mut out);
                    out.push(char::REPLACEMENT_CHARACTER);
                }
            }
        }
        flush(&mut octets, &mut out);
        out
    }
}

/// Why a message could not be read for a decision. Each names what and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    /// Not a message the gateway decides (a response, a BYE, an enquire_link …).
    #[error("{0} is not decided")]
    NotDecided(String),
    /// The message is malformed.
    #[error("{protocol}: {message}")]
    Malformed {
        /// SIP or SMPP.
        protocol: &'static str,
        /// What and where.
        message: String,
    },
    /// The body could not be decoded and the configuration refuses such messages.
    #[error("body not decodable: {0}")]
    Undecodable(String),
    /// An SMPP message whose fields contradict each other (both payload fields, UDHI without
    /// a UDH, …): refused with `status` in its `_resp`, never forwarded.
    #[error("SMPP: {message} (command_status {status:#010x})")]
    SmppRefused {
        /// The command_status of the `_resp`.
        status: u32,
        /// What and where.
        message: String,
    },
    /// The text is larger than the configured bound.
    #[error("text of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Decoded length.
        len: usize,
        /// The bound.
        max: usize,
    },
}

/// Bounds and choices of the ingest layer.
#[derive(Debug, Clone, Copy)]
pub struct IngestOptions {
    /// Refuse a message whose body cannot be decoded (otherwise: degraded).
    pub refuse_undecodable: bool,
    /// Largest decoded text decided; beyond it the message is refused.
    pub max_text_bytes: usize,
    /// Whether the sender is a trusted peer: its identity headers are believed.
    pub trusted: bool,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            refuse_undecodable: false,
            max_text_bytes: interdict_engine::text::MAX_TEXT_BYTES,
            trusted: false,
        }
    }
}
