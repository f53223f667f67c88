//! What the gateway hands the engine: one call or message event, borrowing the parsed input.
//!
//! An [`Event`] is built by the SIP and SMPP front ends from views into the received bytes
//! (no copy); the engine reads it and returns a [`crate::Decision`].

use serde::{Deserialize, Serialize};

/// The channel an event belongs to (behaviour detectors and rules can tell them apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// A voice call (SIP INVITE and its outcome).
    Call,
    /// A short message (SMPP submit_sm / deliver_sm, SIP MESSAGE).
    Sms,
}

impl Channel {
    /// Lower-case name used in rule files and JSON: `"call"` or `"sms"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Call => "call",
            Channel::Sms => "sms",
        }
    }
}

/// What happened: a call offered, answered or ended, or a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A call is being set up (SIP INVITE): the decision blocks or forwards it.
    CallOffer,
    /// A call was answered (feeds the concurrency and short-call detectors).
    CallAnswered,
    /// A call ended after `duration_ms` of conversation (feeds the short-call detector).
    CallEnded {
        /// Conversation time in milliseconds (0 if never answered).
        duration_ms: u64,
    },
    /// A short message with its decoded text in [`Event::text`].
    Sms,
}

impl EventKind {
    /// The channel of this kind of event.
    pub fn channel(self) -> Channel {
        match self {
            EventKind::Sms => Channel::Sms,
            EventKind::CallOffer | EventKind::CallAnswered | EventKind::CallEnded { .. } => {
                Channel::Call
            }
        }
    }
}

/// Where the event entered the carrier's network. Spoofing is judged on this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ingress {
    /// From a domestic interconnect or the carrier's own access network.
    #[default]
    Domestic,
    /// From an international gateway / trunk.
    International,
}

impl Ingress {
    /// Lower-case name used in rule files and JSON: `"domestic"` or `"international"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Ingress::Domestic => "domestic",
            Ingress::International => "international",
        }
    }
}

/// One call or message event, borrowing the parsed input (zero copy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event<'a> {
    /// What happened.
    pub kind: EventKind,
    /// The calling party or sender as received (number, URI or alphanumeric id).
    pub caller: &'a str,
    /// The called party or recipient as received.
    pub callee: &'a str,
    /// The decoded message text (SMS), if any.
    pub text: Option<&'a str>,
    /// Domestic or international ingress.
    pub ingress: Ingress,
    /// The trunk or link the event came in on, if the gateway knows it (reported, not judged).
    pub trunk: Option<&'a str>,
    /// Event time in milliseconds since the Unix epoch (behaviour windows, list expiry).
    pub at_ms: u64,
}

impl<'a> Event<'a> {
    /// A message event on a domestic ingress at time `at_ms`: the common case in tests and tools.
    pub fn sms(caller: &'a str, callee: &'a str, text: &'a str, at_ms: u64) -> Event<'a> {
        Event {
            kind: EventKind::Sms,
            caller,
            callee,
            text: Some(text),
            ingress: Ingress::Domestic,
            trunk: None,
            at_ms,
        }
    }

    /// A call offer on a domestic ingress at time `at_ms`.
    pub fn call(caller: &'a str, callee: &'a str, at_ms: u64) -> Event<'a> {
        Event {
            kind: EventKind::CallOffer,
            caller,
            callee,
            text: None,
            ingress: Ingress::Domestic,
            trunk: None,
            at_ms,
        }
    }

    /// The same event on another ingress.
    pub fn with_ingress(mut self, ingress: Ingress) -> Event<'a> {
        self.ingress = ingress;
        self
    }

    /// The channel of the event.
    pub fn channel(&self) -> Channel {
        self.kind.channel()
    }
}
