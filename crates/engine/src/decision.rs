//! What the engine answers: a [`Decision`] with its verdict, the rule that fired, the fraud
//! categories and the evidence a police centre needs to follow up.
//!
//! The JSON form (serde) is the contract of `interdict check` and of the decision feed:
//! `{"verdict":"block","rule":"caller-reported-fraud","categories":[...],"evidence":[...],
//! "caller":{"raw":..,"normalised":..,"kind":..},"callee":{..}}`.

use std::fmt;
use std::sync::Arc;

use serde::{Serialize, Serializer};

use crate::number::{Normalised, NumberKind};

/// The three outcomes of a decision.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Forward unchanged.
    Pass,
    /// Forward, marked, and report (the callee is a likely victim).
    Warn,
    /// Do not deliver; report.
    Block,
}

impl Verdict {
    /// Lower-case name: `"pass"`, `"warn"`, `"block"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Warn => "warn",
            Verdict::Block => "block",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Longest raw party text kept inline (longer ones go to the heap).
const INLINE_RAW: usize = 46;

/// A party's raw text, kept inline when short so a decision on ordinary traffic allocates
/// nothing. Bounded by the caller of [`Party::new`] (the number normaliser refuses inputs
/// longer than [`crate::number::MAX_RAW_LEN`], and the raw text is cut there too).
#[derive(Clone, PartialEq, Eq)]
pub struct RawText(RawRepr);

#[derive(Clone, PartialEq, Eq)]
enum RawRepr {
    Inline { len: u8, buf: [u8; INLINE_RAW] },
    Heap(Box<str>),
}

impl RawText {
    /// Copies `s`, cut at `max` bytes (on a character boundary).
    pub fn new(s: &str, max: usize) -> RawText {
        let mut end = s.len().min(max);
        while end > 0 && !s.is_char_boundary(end) {
            end -= 1;
        }
        let s = s.get(..end).unwrap_or("");
        if s.len() <= INLINE_RAW {
            let mut buf = [0u8; INLINE_RAW];
            if let Some(slot) = buf.get_mut(..s.len()) {
                slot.copy_from_slice(s.as_bytes());
            }
            RawText(RawRepr::Inline {
                len: s.len() as u8,
                buf,
            })
        } else {
            RawText(RawRepr::Heap(s.into()))
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            RawRepr::Inline { len, buf } => buf
                .get(..usize::from(*len))
                .and_then(|b| std::str::from_utf8(b).ok())
                .unwrap_or(""),
            RawRepr::Heap(s) => s,
        }
    }
}

impl fmt::Debug for RawText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Serialize for RawText {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// What kind of party the caller or callee turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PartyKind {
    /// A full international number.
    E164,
    /// A home-country short or service number (110, 95588, 10086…).
    Service,
    /// An alphanumeric SMS sender id.
    Alphanumeric,
    /// Could not be read as any of these (itself a signal).
    Unparseable,
}

impl PartyKind {
    /// Lower-case name used in rule files and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            PartyKind::E164 => "e164",
            PartyKind::Service => "service",
            PartyKind::Alphanumeric => "alphanumeric",
            PartyKind::Unparseable => "unparseable",
        }
    }

    /// Parses the lower-case name.
    pub fn from_name(name: &str) -> Option<PartyKind> {
        Some(match name {
            "e164" => PartyKind::E164,
            "service" => PartyKind::Service,
            "alphanumeric" => PartyKind::Alphanumeric,
            "unparseable" => PartyKind::Unparseable,
            _ => return None,
        })
    }
}

impl From<NumberKind> for PartyKind {
    fn from(k: NumberKind) -> Self {
        match k {
            NumberKind::E164 => PartyKind::E164,
            NumberKind::Service => PartyKind::Service,
            NumberKind::Alphanumeric => PartyKind::Alphanumeric,
        }
    }
}

/// The caller or the callee of a decision: as received and as normalised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Party {
    /// The party as received (cut at 256 bytes).
    pub raw: RawText,
    /// The canonical form (`+8613800138000`, `95588`, `ICBC`), `null` when unparseable.
    #[serde(serialize_with = "ser_normalised")]
    pub normalised: Option<Normalised>,
    /// `e164`, `service`, `alphanumeric` or `unparseable`.
    pub kind: PartyKind,
}

fn ser_normalised<S: Serializer>(n: &Option<Normalised>, s: S) -> Result<S::Ok, S::Error> {
    match n {
        Some(n) => s.serialize_str(n.as_str()),
        None => s.serialize_none(),
    }
}

impl Party {
    /// A party from its raw text and the normaliser's result.
    pub fn new(raw: &str, normalised: Option<Normalised>) -> Party {
        Party {
            raw: RawText::new(raw, crate::number::MAX_RAW_LEN),
            kind: normalised.map_or(PartyKind::Unparseable, |n| n.kind().into()),
            normalised,
        }
    }

    /// The canonical form, or the raw text when unparseable.
    pub fn display(&self) -> &str {
        match &self.normalised {
            Some(n) => n.as_str(),
            None => self.raw.as_str(),
        }
    }
}

/// Which party of the event a piece of evidence is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The calling party / sender.
    Caller,
    /// The called party / recipient.
    Callee,
    /// A contact point found in the message text.
    Contact,
}

/// Why a decision was taken: each item names exactly what matched and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Evidence {
    /// A number found in a list (exactly or by prefix).
    ListHit {
        /// Caller, callee or a contact number from the text.
        party: Role,
        /// The normalised number that was looked up.
        number: String,
        /// The list it was found in.
        list: Arc<str>,
        /// The list's category.
        category: Arc<str>,
        /// The list entry that matched: the number, or the prefix followed by `*`.
        entry: String,
        /// Where the entry came from: `file:line`, or `case <id>` for a pushed number.
        source: String,
    },
    /// A phrase of a category found in the text.
    Phrase {
        /// The phrase's category.
        category: Arc<str>,
        /// The phrase as written in the pack.
        phrase: Arc<str>,
        /// The text as found in the message (before normalisation).
        found: String,
        /// Byte offset of `found` in the original text.
        start: usize,
        /// Byte offset just after `found`.
        end: usize,
    },
    /// A regular expression of a category that matched the text.
    Pattern {
        /// The pattern's category.
        category: Arc<str>,
        /// The pattern's id.
        pattern: Arc<str>,
        /// The text as found in the message.
        found: String,
        /// Byte offset of `found` in the original text.
        start: usize,
        /// Byte offset just after `found`.
        end: usize,
    },
    /// A contact point in the text on a lure-domain list.
    Contact {
        /// `url`, `domain`, `phone`, `qq`, `wechat`.
        kind: String,
        /// The contact as extracted.
        value: String,
        /// The lure domain that matched.
        matched: String,
        /// Where the lure domain is listed (`file:line`).
        source: String,
        /// Byte offset in the original text.
        start: usize,
        /// Byte offset just after the contact.
        end: usize,
    },
    /// A domestic or service caller on an international ingress.
    Spoofing {
        /// The caller as normalised.
        caller: String,
        /// Its kind (`e164` or `service`).
        kind: PartyKind,
        /// The ingress the event came in on.
        ingress: crate::event::Ingress,
    },
    /// A behaviour detector over its threshold.
    Behaviour {
        /// The detector (`call_rate`, `sequential_dialling`, …).
        flag: String,
        /// The value observed.
        observed: u64,
        /// The threshold it crossed.
        threshold: u64,
    },
    /// The message's template went to many recipients from several senders
    /// (`text_campaign`): enough for an analyst to write a rule or block its senders.
    Campaign {
        /// The template's id (hex of its fingerprint's smallest hash).
        template: String,
        /// Distinct recipients of the template in the window.
        recipients: u64,
        /// Distinct senders of the template in the window.
        senders: u64,
        /// Messages of the template in the window.
        messages: u64,
        /// The window, in milliseconds.
        window_ms: u64,
        /// This message's text, cut at 140 characters: an example of the template.
        example: String,
    },
    /// A party that could not be read as a number.
    Unparseable {
        /// Caller or callee.
        party: Role,
        /// The raw text.
        raw: String,
        /// What the normaliser said.
        error: String,
    },
}

/// The engine's answer for one event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    /// Pass, warn or block.
    pub verdict: Verdict,
    /// Id of the rule that decided (`null` when no rule fired).
    pub rule: Option<Arc<str>>,
    /// Fraud categories involved (text families, list categories).
    pub categories: Vec<Arc<str>>,
    /// What matched.
    pub evidence: Vec<Evidence>,
    /// The calling party.
    pub caller: Party,
    /// The called party.
    pub callee: Party,
    /// The text could not be fully examined: the scan failed (no scratch space) or stopped
    /// at its hit limit, or the text was longer than the engine scans. A pass then means
    /// "nothing found in what was read", not "nothing there". Serialised only when set.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub degraded: bool,
    /// The conditions of the rule that decided, all of which held (empty when no rule fired).
    /// Serialised, as their names, only when not empty.
    #[serde(skip_serializing_if = "crate::policy::ConditionSet::is_empty")]
    pub conditions: crate::policy::ConditionSet,
}

impl Decision {
    /// A pass with no rule and no evidence (allocates nothing beyond long party texts).
    pub fn pass(caller: Party, callee: Party) -> Decision {
        Decision {
            verdict: Verdict::Pass,
            rule: None,
            categories: Vec::new(),
            evidence: Vec::new(),
            caller,
            callee,
            degraded: false,
            conditions: crate::policy::ConditionSet::default(),
        }
    }
}
