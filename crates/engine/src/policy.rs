//! The policy: rules that combine conditions into a verdict, highest priority first.
//!
//! A rule's conditions are compiled from `rules.toml` into bit masks and small tables so that
//! evaluating the whole policy on one event is a few comparisons per rule, with no allocation.
//! The engine gathers the [`Facts`] of an event (list hits, text scores, behaviour flags…),
//! [`Policy::evaluate`] picks the rule, and the engine then collects the evidence for it.
//!
//! Precedence, built in:
//! - rules are tried by descending priority (file order among equals); the first that fires wins;
//!   no rule firing means pass;
//! - when the caller or the callee is on an allow list and the event came in on a domestic
//!   ingress, only rules marked `overrides_allowlist` may fire (the spoofing rule): official
//!   numbers are never blocked, but a forged official number from abroad is. "On an allow
//!   list" is judged on the party's primary reading, and only while no other reading of it
//!   (a core may route a number written with a foreign `phone-context` or an IP-call prefix
//!   another way) is on a block or warn list: [`Facts::allowlisted`].

use std::sync::Arc;

use crate::decision::{PartyKind, Verdict};
use crate::event::{Channel, Ingress};
use crate::text::{CategoryId, TextHits};

/// Most number lists a pack may declare (lists are bits of a `u64` mask).
pub const MAX_LISTS: usize = 64;

/// A group of categories; met when one of them reaches `min`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextGroup {
    /// The categories.
    pub categories: Vec<CategoryId>,
    /// Score to reach.
    pub min: u32,
}

impl TextGroup {
    /// Whether one of the categories reaches `min` in `hits`.
    pub fn met(&self, hits: Option<&TextHits>) -> bool {
        hits.is_some_and(|h| self.categories.iter().any(|&c| h.score(c) >= self.min))
    }

    /// Whether this `unless` group vetoes a rule whose text groups are `text`: one of its
    /// categories reaches `min` **and** scores at least as much as the strongest category of
    /// `text` in `hits`. A bank's warning or a one-time-code notice that quotes scam words
    /// outweighs them; a scam with a few warning or notice words appended (`谨防诈骗`,
    /// `验证码请勿告诉他人`) does not, so the guard cannot be bought with four characters.
    pub fn outweighs(&self, hits: Option<&TextHits>, text: &[TextGroup]) -> bool {
        let Some(h) = hits else {
            return false;
        };
        let strongest = text
            .iter()
            .flat_map(|g| &g.categories)
            .map(|&c| h.score(c))
            .max()
            .unwrap_or(0);
        self.categories.iter().any(|&c| {
            let s = h.score(c);
            s >= self.min && s >= strongest
        })
    }

    /// The categories of the group that reach `min`.
    pub fn reached<'s>(&'s self, hits: &'s TextHits) -> impl Iterator<Item = CategoryId> + 's {
        self.categories
            .iter()
            .copied()
            .filter(move |&c| hits.score(c) >= self.min)
    }
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Id reported in decisions.
    pub id: Arc<str>,
    /// What the rule catches.
    pub description: Arc<str>,
    /// Its verdict.
    pub verdict: Verdict,
    /// Higher wins.
    pub priority: i32,
    /// May fire although the caller or callee is allowlisted.
    pub overrides_allowlist: bool,
    /// `file:line` of the rule.
    pub origin: Arc<str>,
    /// The conditions.
    pub when: Conditions,
}

/// Compiled conditions; a zero mask or `None` means "no condition".
#[derive(Debug, Clone, Default)]
pub struct Conditions {
    /// The caller is in one of these lists (bit i = list i).
    pub caller_in: u64,
    /// The callee is in one of these lists.
    pub callee_in: u64,
    /// A phone contact in the text is in one of these lists.
    pub contact_in: u64,
    /// A link in the text is on the lure-domain list.
    pub contact_lure_domain: bool,
    /// Every group must be met.
    pub text: Vec<TextGroup>,
    /// No group may be met.
    pub unless: Vec<TextGroup>,
    /// Ingress class.
    pub ingress: Option<Ingress>,
    /// Channel.
    pub channel: Option<Channel>,
    /// Caller kinds allowed (bit per [`PartyKind`]); 0 = any.
    pub caller_kind: u8,
    /// The caller is (or is not) a domestic number.
    pub caller_domestic: Option<bool>,
    /// One of these behaviour flags (bit per [`crate::pack::BEHAVIOUR_FLAGS`] entry); 0 = none needed.
    pub behaviour: u8,
    /// One of these behaviour flags as well (corroboration); 0 = none needed.
    pub behaviour_also: u8,
    /// A link of the text of one of these kinds (`LINK_*` bits of [`crate::text::links`]);
    /// 0 = none needed.
    pub link: u8,
}

/// Bit of a party kind in [`Conditions::caller_kind`].
pub fn kind_bit(k: PartyKind) -> u8 {
    match k {
        PartyKind::E164 => 1,
        PartyKind::Service => 2,
        PartyKind::Alphanumeric => 4,
        PartyKind::Unparseable => 8,
    }
}

/// What the engine found out about one event, in the form the rules test.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// Channel of the event.
    pub channel: Channel,
    /// Ingress of the event.
    pub ingress: Ingress,
    /// Kind of the caller.
    pub caller_kind: PartyKind,
    /// Whether the caller is a home-country number (E.164 under the home code, or service)
    /// in some reading of it (a handset that ignores a foreign `phone-context` shows the
    /// domestic one).
    pub caller_domestic: bool,
    /// Lists the caller is in (bit i = list i).
    pub caller_lists: u64,
    /// Lists the callee is in.
    pub callee_lists: u64,
    /// Lists some phone contact of the text is in.
    pub contact_lists: u64,
    /// Whether some link of the text is on the lure-domain list.
    pub lure_domain: bool,
    /// Text matches, when the event has text.
    pub text: Option<&'a TextHits>,
    /// Behaviour flags raised (bit per [`crate::pack::BEHAVIOUR_FLAGS`] entry).
    pub behaviour: u8,
    /// Kinds of the links in the text (`LINK_*` bits of [`crate::text::links`]).
    pub links: u8,
    /// The text gives a contact that is on no allow list: a mobile number none of whose
    /// readings is allowlisted (fixed lines and 400 numbers, which police stations and shops
    /// give too, do not count), a QQ or WeChat id, or a link to an unofficial host. A guard
    /// (`unless`) never rescues such a text: a real notice or warning sends the reader to
    /// official numbers and hosts only (`【京东】验证码…如非本人操作请致电客服171…` is a scam).
    pub unofficial_contact: bool,
    /// The ingress is domestic and the caller or the callee grants allowlist trust: its
    /// primary reading is on an allow list and none of its alternative readings is on a block
    /// or warn list (see [`crate::engine`]).
    pub allowlisted: bool,
}

/// One kind of rule condition: what `when.<name>` in `rules.toml` compiles to. Each variant
/// owns, in one `match` each:
/// - its name, the key in the pack ([`Condition::name`]; a test checks the pack reader
///   accepts exactly these keys, and refuses others with file and line);
/// - whether a rule uses it ([`Condition::used_by`]);
/// - its fact: the yes/no bits of an event it reads, and the bits a rule using it needs
///   (`fact`, `needs`: the one-word pre-check [`Policy::evaluate`] runs before any test);
/// - its test against the facts of an event ([`Condition::holds`]; [`Conditions::hold`] is
///   the conjunction);
/// - its evidence: what the decision quotes to show it held (`evidence`, in the engine).
///
/// A [`crate::Decision`] names the conditions of the rule that fired ([`ConditionSet`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Condition {
    /// `caller_in`: the caller is on one of these lists.
    CallerIn,
    /// `callee_in`: the callee is on one of these lists.
    CalleeIn,
    /// `contact_in`: a phone contact of the text is on one of these lists.
    ContactIn,
    /// `contact_lure_domain`: a link of the text is on the lure-domain list.
    ContactLureDomain,
    /// `text`: every text group is met.
    Text,
    /// `unless`: no group of these outweighs the rule's text ([`TextGroup::outweighs`]), or the
    /// text gives an unofficial contact ([`Facts::unofficial_contact`]).
    Unless,
    /// `ingress`: the ingress class.
    Ingress,
    /// `channel`: call or SMS.
    Channel,
    /// `caller_kind`: the caller is one of these kinds.
    CallerKind,
    /// `caller_domestic`: the caller is (or is not) a domestic number.
    CallerDomestic,
    /// `behaviour`: one of these behaviour flags is raised.
    Behaviour,
    /// `behaviour_also`: one of these behaviour flags is raised too.
    BehaviourAlso,
    /// `link`: a link of the text is of one of these kinds.
    Link,
}

impl Condition {
    /// Every condition, in the order their evidence is reported (the most specific first:
    /// a spoofed caller, list hits, contacts and links, behaviour, then the text) and of their
    /// bits in a [`ConditionSet`].
    pub const ALL: [Condition; 13] = [
        Condition::CallerDomestic,
        Condition::CallerIn,
        Condition::CalleeIn,
        Condition::ContactIn,
        Condition::ContactLureDomain,
        Condition::Link,
        Condition::Behaviour,
        Condition::BehaviourAlso,
        Condition::CallerKind,
        Condition::Text,
        Condition::Unless,
        Condition::Ingress,
        Condition::Channel,
    ];

    /// The conditions that do not read the text's scores (tested first by the policy).
    const NOT_TEXT: [Condition; 11] = [
        Condition::CallerIn,
        Condition::CalleeIn,
        Condition::ContactIn,
        Condition::ContactLureDomain,
        Condition::Ingress,
        Condition::Channel,
        Condition::CallerKind,
        Condition::CallerDomestic,
        Condition::Behaviour,
        Condition::BehaviourAlso,
        Condition::Link,
    ];

    /// Its key under `when` in `rules.toml` (the pack refuses any other key, with its file
    /// and line).
    pub fn name(self) -> &'static str {
        match self {
            Condition::CallerIn => "caller_in",
            Condition::CalleeIn => "callee_in",
            Condition::ContactIn => "contact_in",
            Condition::ContactLureDomain => "contact_lure_domain",
            Condition::Text => "text",
            Condition::Unless => "unless",
            Condition::Ingress => "ingress",
            Condition::Channel => "channel",
            Condition::CallerKind => "caller_kind",
            Condition::CallerDomestic => "caller_domestic",
            Condition::Behaviour => "behaviour",
            Condition::BehaviourAlso => "behaviour_also",
            Condition::Link => "link",
        }
    }

    /// Its bit in a [`ConditionSet`].
    pub fn bit(self) -> u16 {
        let index = Condition::ALL.iter().position(|&c| c == self).unwrap_or(0);
        1 << index
    }

    /// Whether the rule conditions `w` use this condition (an unused one always holds).
    pub fn used_by(self, w: &Conditions) -> bool {
        match self {
            Condition::CallerIn => w.caller_in != 0,
            Condition::CalleeIn => w.callee_in != 0,
            Condition::ContactIn => w.contact_in != 0,
            Condition::ContactLureDomain => w.contact_lure_domain,
            Condition::Text => !w.text.is_empty(),
            Condition::Unless => !w.unless.is_empty(),
            Condition::Ingress => w.ingress.is_some(),
            Condition::Channel => w.channel.is_some(),
            Condition::CallerKind => w.caller_kind != 0,
            Condition::CallerDomestic => w.caller_domestic.is_some(),
            Condition::Behaviour => w.behaviour != 0,
            Condition::BehaviourAlso => w.behaviour_also != 0,
            Condition::Link => w.link != 0,
        }
    }

    /// Whether this condition of `w` holds for the facts `f` (true when `w` does not use it).
    #[inline]
    pub fn holds(self, w: &Conditions, f: &Facts<'_>) -> bool {
        match self {
            Condition::CallerIn => w.caller_in == 0 || w.caller_in & f.caller_lists != 0,
            Condition::CalleeIn => w.callee_in == 0 || w.callee_in & f.callee_lists != 0,
            Condition::ContactIn => w.contact_in == 0 || w.contact_in & f.contact_lists != 0,
            Condition::ContactLureDomain => !w.contact_lure_domain || f.lure_domain,
            Condition::Text => w.text.iter().all(|g| g.met(f.text)),
            Condition::Unless => {
                f.unofficial_contact || !w.unless.iter().any(|g| g.outweighs(f.text, &w.text))
            }
            Condition::Ingress => w.ingress.is_none_or(|i| i == f.ingress),
            Condition::Channel => w.channel.is_none_or(|c| c == f.channel),
            Condition::CallerKind => {
                w.caller_kind == 0 || w.caller_kind & kind_bit(f.caller_kind) != 0
            }
            Condition::CallerDomestic => w.caller_domestic.is_none_or(|d| d == f.caller_domestic),
            Condition::Behaviour => w.behaviour == 0 || w.behaviour & f.behaviour != 0,
            Condition::BehaviourAlso => {
                w.behaviour_also == 0 || w.behaviour_also & f.behaviour != 0
            }
            Condition::Link => w.link == 0 || w.link & f.links != 0,
        }
    }

    /// The yes/no facts of `f` this condition reads, as bits of the word [`Policy::evaluate`]
    /// computes once per event (see [`Condition::needs`]).
    #[inline]
    fn fact(self, f: &Facts<'_>) -> u32 {
        let bit = |cond: bool, bit: u32| if cond { bit } else { 0 };
        match self {
            Condition::CallerIn => bit(f.caller_lists != 0, FACT_CALLER_LISTED),
            Condition::CalleeIn => bit(f.callee_lists != 0, FACT_CALLEE_LISTED),
            Condition::ContactIn => bit(f.contact_lists != 0, FACT_CONTACT_LISTED),
            Condition::ContactLureDomain => bit(f.lure_domain, FACT_LURE_DOMAIN),
            Condition::Text => {
                bit(f.text.is_some(), FACT_TEXT)
                    | bit(f.text.is_some_and(|h| !h.scores().is_empty()), FACT_SCORED)
            }
            Condition::Ingress => bit(f.ingress == Ingress::International, FACT_INTERNATIONAL),
            Condition::Channel => bit(f.channel == Channel::Call, FACT_CALL),
            Condition::CallerDomestic => bit(f.caller_domestic, FACT_DOMESTIC_CALLER),
            Condition::Behaviour | Condition::BehaviourAlso => {
                bit(f.behaviour != 0, FACT_BEHAVIOUR)
            }
            Condition::Link => bit(f.links != 0, FACT_LINK),
            Condition::Unless | Condition::CallerKind => 0,
        }
    }

    /// The fact bits this condition of `w` needs set, and needs clear: necessary for
    /// [`Condition::holds`], never sufficient, so most rules that cannot fire are rejected by
    /// one test of the fact word before any condition is read.
    fn needs(self, w: &Conditions) -> (u32, u32) {
        let when = |cond: bool, bit: u32| if cond { bit } else { 0 };
        match self {
            Condition::CallerIn => (when(w.caller_in != 0, FACT_CALLER_LISTED), 0),
            Condition::CalleeIn => (when(w.callee_in != 0, FACT_CALLEE_LISTED), 0),
            Condition::ContactIn => (when(w.contact_in != 0, FACT_CONTACT_LISTED), 0),
            Condition::ContactLureDomain => (when(w.contact_lure_domain, FACT_LURE_DOMAIN), 0),
            Condition::Text => {
                let masked = w
                    .text
                    .iter()
                    .any(|g| matches!(FastGroup::new(g), FastGroup::Mask { .. }));
                (
                    when(!w.text.is_empty(), FACT_TEXT) | when(masked, FACT_SCORED),
                    0,
                )
            }
            Condition::Ingress => (
                when(
                    w.ingress == Some(Ingress::International),
                    FACT_INTERNATIONAL,
                ),
                when(w.ingress == Some(Ingress::Domestic), FACT_INTERNATIONAL),
            ),
            Condition::Channel => (
                when(w.channel == Some(Channel::Call), FACT_CALL),
                when(w.channel == Some(Channel::Sms), FACT_CALL),
            ),
            Condition::CallerDomestic => (
                when(w.caller_domestic == Some(true), FACT_DOMESTIC_CALLER),
                when(w.caller_domestic == Some(false), FACT_DOMESTIC_CALLER),
            ),
            Condition::Behaviour => (when(w.behaviour != 0, FACT_BEHAVIOUR), 0),
            Condition::BehaviourAlso => (when(w.behaviour_also != 0, FACT_BEHAVIOUR), 0),
            Condition::Link => (when(w.link != 0, FACT_LINK), 0),
            Condition::Unless | Condition::CallerKind => (0, 0),
        }
    }
}

/// A set of [`Condition`]s as bits (no allocation): the conditions of the rule that decided,
/// on a [`crate::Decision`]. Serialised as the list of their names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ConditionSet(u16);

impl ConditionSet {
    /// The conditions `w` uses (all of which held, when its rule fired).
    pub fn used_by(w: &Conditions) -> ConditionSet {
        ConditionSet(
            Condition::ALL
                .iter()
                .filter(|c| c.used_by(w))
                .fold(0, |bits, c| bits | c.bit()),
        )
    }

    /// Whether the set holds `c`.
    pub fn contains(self, c: Condition) -> bool {
        self.0 & c.bit() != 0
    }

    /// Whether the set is empty (no rule fired, or a rule without conditions).
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    /// The conditions of the set, in [`Condition::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Condition> {
        Condition::ALL
            .into_iter()
            .filter(move |&c| self.contains(c))
    }
}

impl serde::Serialize for ConditionSet {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter().map(Condition::name))
    }
}

impl Conditions {
    /// Whether every condition holds for `f`.
    pub fn hold(&self, f: &Facts<'_>) -> bool {
        Condition::ALL.iter().all(|c| c.holds(self, f))
    }

    /// Whether every condition but the text groups holds for `f` (lists, contacts, ingress,
    /// channel, caller kind, behaviour).
    #[inline]
    fn non_text_hold(&self, f: &Facts<'_>) -> bool {
        Condition::NOT_TEXT.iter().all(|c| c.holds(self, f))
    }
}

/// A text group in the form [`Policy::evaluate`] tests: the categories as a bit mask, so a group
/// is tested against the few categories the message scored, not each category looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FastGroup {
    /// Met when a scored category of `mask` reaches `min` (`min` > 0, all ids below 64).
    Mask { mask: u64, min: u32 },
    /// Met whenever the event has text (`min` 0 and at least one category: a score of 0
    /// reaches it).
    AnyText,
    /// Never met (no category).
    Never,
    /// Tested as written (a category id of 64 or more).
    Slow,
}

impl FastGroup {
    fn new(g: &TextGroup) -> FastGroup {
        if g.categories.is_empty() {
            return FastGroup::Never;
        }
        if g.min == 0 {
            return FastGroup::AnyText;
        }
        let mut mask = 0u64;
        for c in &g.categories {
            if c.0 >= 64 {
                return FastGroup::Slow;
            }
            mask |= 1u64 << c.0;
        }
        FastGroup::Mask { mask, min: g.min }
    }

    /// False only when the group cannot be met by a message whose categories with a score
    /// above 0 are the bits of `scored` (a mask group needs one of its categories scored).
    #[inline]
    fn may_meet(self, scored: u64) -> bool {
        match self {
            FastGroup::Mask { mask, .. } => mask & scored != 0,
            FastGroup::AnyText | FastGroup::Never | FastGroup::Slow => true,
        }
    }

    /// Same answer as [`TextGroup::met`] for `g`, the group this was made from.
    #[inline]
    fn met(self, g: &TextGroup, text: Option<&TextHits>) -> bool {
        match self {
            FastGroup::Mask { mask, min } => text.is_some_and(|h| {
                h.scores()
                    .iter()
                    .any(|&(c, s)| s >= min && c.0 < 64 && mask & (1u64 << c.0) != 0)
            }),
            FastGroup::AnyText => text.is_some(),
            FastGroup::Never => false,
            FastGroup::Slow => g.met(text),
        }
    }
}

/// Per rule: the bits of [`fact_word`] it needs set and needs clear, and its text groups in
/// fast form. A rule that cannot fire is mostly rejected by the word test alone.
#[derive(Debug, Clone, Default)]
struct FastRule {
    must_set: u32,
    must_clear: u32,
    text: Vec<FastGroup>,
}

const FACT_INTERNATIONAL: u32 = 1;
const FACT_CALL: u32 = 1 << 1;
const FACT_DOMESTIC_CALLER: u32 = 1 << 2;
const FACT_LURE_DOMAIN: u32 = 1 << 3;
const FACT_TEXT: u32 = 1 << 4;
const FACT_SCORED: u32 = 1 << 5;
const FACT_CALLER_LISTED: u32 = 1 << 6;
const FACT_CALLEE_LISTED: u32 = 1 << 7;
const FACT_CONTACT_LISTED: u32 = 1 << 8;
const FACT_BEHAVIOUR: u32 = 1 << 9;
/// An allowlisted party: rules that do not override the allowlist need it clear.
const FACT_ALLOWLISTED: u32 = 1 << 10;
/// The text holds a link.
const FACT_LINK: u32 = 1 << 11;

/// The yes/no facts of `f` as bits, tested against [`FastRule::must_set`] and `must_clear`:
/// each condition's [`Condition::fact`], and whether a party is allowlisted.
#[inline]
fn fact_word(f: &Facts<'_>) -> u32 {
    let allowlisted = if f.allowlisted { FACT_ALLOWLISTED } else { 0 };
    Condition::ALL
        .iter()
        .fold(allowlisted, |word, c| word | c.fact(f))
}

impl FastRule {
    fn new(r: &Rule) -> FastRule {
        let w = &r.when;
        let (must_set, mut must_clear) = Condition::ALL
            .iter()
            .map(|c| c.needs(w))
            .fold((0, 0), |(set, clear), (s, c)| (set | s, clear | c));
        if !r.overrides_allowlist {
            must_clear |= FACT_ALLOWLISTED;
        }
        FastRule {
            must_set,
            must_clear,
            text: w.text.iter().map(FastGroup::new).collect(),
        }
    }
}

/// The rules of a pack, sorted by descending priority.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    rules: Vec<Rule>,
    /// `fast[i]` is `rules[i]`'s text groups in mask form.
    fast: Vec<FastRule>,
    /// Id used in decisions passed because of the allowlist.
    allowlist_rule: Option<Arc<str>>,
}

/// [`Conditions::hold`], with the text groups tested through their masks.
#[inline]
fn holds(w: &Conditions, fast: &FastRule, word: u32, scored: u64, f: &Facts<'_>) -> bool {
    word & fast.must_set == fast.must_set
        && word & fast.must_clear == 0
        && fast.text.iter().all(|g| g.may_meet(scored))
        && w.non_text_hold(f)
        && fast
            .text
            .iter()
            .zip(&w.text)
            .all(|(fg, g)| fg.met(g, f.text))
        && Condition::Unless.holds(w, f)
}

/// The categories below 64 the message scored in (score above 0), as bits: a rule whose text
/// group names none of them is rejected before its other conditions are read.
#[inline]
fn scored_mask(text: Option<&TextHits>) -> u64 {
    text.map_or(0, |h| {
        h.scores()
            .iter()
            .filter(|&&(c, s)| s > 0 && c.0 < 64)
            .fold(0, |m, &(c, _)| m | 1u64 << c.0)
    })
}

/// Id reported when an allowlisted party made a decision pass.
pub const ALLOWLIST_RULE: &str = "allowlisted";

impl Policy {
    /// A policy from compiled rules (sorted here; equal priorities keep their order).
    pub fn new(mut rules: Vec<Rule>) -> Policy {
        rules.sort_by_key(|r| std::cmp::Reverse(r.priority));
        let fast = rules.iter().map(FastRule::new).collect();
        Policy {
            rules,
            fast,
            allowlist_rule: Some(Arc::from(ALLOWLIST_RULE)),
        }
    }

    /// The rules, highest priority first.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The rule that decides `f`, if any fires.
    pub fn evaluate(&self, f: &Facts<'_>) -> Option<&Rule> {
        let word = fact_word(f);
        let scored = scored_mask(f.text);
        // The allowlist is a bit of the word (`FACT_ALLOWLISTED`): no separate filter.
        self.rules
            .iter()
            .zip(&self.fast)
            .find(|(r, fast)| holds(&r.when, fast, word, scored, f))
            .map(|(r, _)| r)
    }

    /// Id reported for a pass caused by the allowlist.
    pub fn allowlist_rule(&self) -> Arc<str> {
        self.allowlist_rule
            .clone()
            .unwrap_or_else(|| Arc::from(ALLOWLIST_RULE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_names_the_conditions_it_uses() {
        let w = Conditions {
            caller_in: 0b10,
            channel: Some(Channel::Sms),
            text: vec![TextGroup {
                categories: vec![CategoryId(1)],
                min: 3,
            }],
            ..Default::default()
        };
        let set = ConditionSet::used_by(&w);
        let names: Vec<&str> = set.iter().map(Condition::name).collect();
        assert_eq!(names, ["caller_in", "text", "channel"]);
        assert!(set.contains(Condition::Text) && !set.contains(Condition::Link));
        assert!(ConditionSet::used_by(&Conditions::default()).is_empty());
        // Each condition has its own bit and name.
        let bits: u16 = Condition::ALL.iter().fold(0, |b, c| b | c.bit());
        assert_eq!(bits.count_ones() as usize, Condition::ALL.len());
    }

    #[test]
    fn an_unused_condition_holds_and_a_used_one_tests_its_fact() {
        let f = facts();
        let w = Conditions {
            caller_in: 0b1,
            ..Default::default()
        };
        for c in Condition::ALL {
            assert!(c.holds(&Conditions::default(), &f), "{}", c.name());
        }
        assert!(!Condition::CallerIn.holds(&w, &f));
        let listed = Facts {
            caller_lists: 0b1,
            ..f
        };
        assert!(Condition::CallerIn.holds(&w, &listed) && w.hold(&listed));
    }

    fn rule(id: &str, verdict: Verdict, priority: i32, when: Conditions) -> Rule {
        Rule {
            id: id.into(),
            description: "".into(),
            verdict,
            priority,
            overrides_allowlist: false,
            origin: "rules.toml:1".into(),
            when,
        }
    }

    fn facts() -> Facts<'static> {
        Facts {
            channel: Channel::Call,
            ingress: Ingress::Domestic,
            caller_kind: PartyKind::E164,
            caller_domestic: true,
            caller_lists: 0,
            callee_lists: 0,
            contact_lists: 0,
            lure_domain: false,
            text: None,
            behaviour: 0,
            links: 0,
            unofficial_contact: false,
            allowlisted: false,
        }
    }

    #[test]
    fn highest_priority_firing_rule_wins_and_none_means_no_rule() {
        let p = Policy::new(vec![
            rule(
                "warn-list",
                Verdict::Warn,
                10,
                Conditions {
                    caller_in: 0b10,
                    ..Default::default()
                },
            ),
            rule(
                "block-list",
                Verdict::Block,
                20,
                Conditions {
                    caller_in: 0b01,
                    ..Default::default()
                },
            ),
        ]);
        let mut f = facts();
        assert!(p.evaluate(&f).is_none());
        f.caller_lists = 0b11;
        assert_eq!(p.evaluate(&f).map(|r| &*r.id), Some("block-list"));
        f.caller_lists = 0b10;
        assert_eq!(p.evaluate(&f).map(|r| &*r.id), Some("warn-list"));
    }

    #[test]
    fn allowlist_silences_all_but_overriding_rules() {
        let mut spoof = rule(
            "spoof",
            Verdict::Block,
            5,
            Conditions {
                ingress: Some(Ingress::International),
                caller_domestic: Some(true),
                ..Default::default()
            },
        );
        spoof.overrides_allowlist = true;
        let p = Policy::new(vec![
            spoof,
            rule(
                "fraud",
                Verdict::Block,
                50,
                Conditions {
                    caller_in: 1,
                    ..Default::default()
                },
            ),
        ]);
        let mut f = facts();
        f.caller_lists = 1;
        f.allowlisted = true;
        assert!(p.evaluate(&f).is_none());
        f.ingress = Ingress::International;
        assert_eq!(p.evaluate(&f).map(|r| &*r.id), Some("spoof"));
    }

    fn kind_of(i: u8) -> PartyKind {
        [
            PartyKind::E164,
            PartyKind::Service,
            PartyKind::Alphanumeric,
            PartyKind::Unparseable,
        ][usize::from(i % 4)]
    }

    /// Conditions from a few random small numbers (each 0 = no condition most of the time).
    fn conditions(c: [u8; 8]) -> Conditions {
        let tri = |v: u8| match v % 3 {
            0 => None,
            1 => Some(true),
            _ => Some(false),
        };
        Conditions {
            caller_in: u64::from(c[0] % 4),
            callee_in: u64::from(c[1] % 4),
            contact_in: u64::from(c[2] % 4),
            contact_lure_domain: c[3].is_multiple_of(4),
            ingress: tri(c[4]).map(|i| {
                if i {
                    Ingress::International
                } else {
                    Ingress::Domestic
                }
            }),
            channel: tri(c[5]).map(|i| if i { Channel::Call } else { Channel::Sms }),
            caller_kind: c[6] % 16,
            caller_domestic: tri(c[7]),
            behaviour: c[7] / 3 % 4,
            behaviour_also: c[5] / 3 % 4,
            link: c[6] / 16 % 4,
            ..Default::default()
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        /// The fast evaluation (fact word with the allowlist bit, then the conditions) picks
        /// the rule the plain one does: the first rule by priority, not silenced by the
        /// allowlist, whose conditions hold.
        #[test]
        fn evaluate_equals_the_plain_scan(
            rules in proptest::collection::vec((proptest::prelude::any::<[u8; 8]>(), proptest::prelude::any::<bool>()), 0..12),
            fact in proptest::prelude::any::<[u8; 8]>(),
            allowlisted in proptest::prelude::any::<bool>(),
        ) {
            let rules: Vec<Rule> = rules
                .iter()
                .enumerate()
                .map(|(i, (c, overrides))| {
                    let mut r = rule(&format!("r{i}"), Verdict::Block, (i % 3) as i32, conditions(*c));
                    r.overrides_allowlist = *overrides;
                    r
                })
                .collect();
            let p = Policy::new(rules);
            let f = Facts {
                channel: if fact[0].is_multiple_of(2) { Channel::Call } else { Channel::Sms },
                ingress: if fact[1].is_multiple_of(2) { Ingress::Domestic } else { Ingress::International },
                caller_kind: kind_of(fact[2]),
                caller_domestic: fact[3].is_multiple_of(2),
                caller_lists: u64::from(fact[4] % 4),
                callee_lists: u64::from(fact[5] % 4),
                contact_lists: u64::from(fact[6] % 4),
                lure_domain: fact[7].is_multiple_of(2),
                text: None,
                behaviour: fact[7] / 2 % 4,
                links: fact[6] / 4 % 4,
                unofficial_contact: fact[5] / 4 % 2 == 1,
                allowlisted,
            };
            let plain = p
                .rules()
                .iter()
                .filter(|r| !f.allowlisted || r.overrides_allowlist)
                .find(|r| r.when.hold(&f))
                .map(|r| r.id.clone());
            proptest::prop_assert_eq!(p.evaluate(&f).map(|r| r.id.clone()), plain);
        }
    }

    #[test]
    fn caller_kind_and_behaviour_masks() {
        let c = Conditions {
            caller_kind: kind_bit(PartyKind::Unparseable),
            behaviour: 0b100,
            ..Default::default()
        };
        let mut f = facts();
        f.behaviour = 0b100;
        assert!(!c.hold(&f));
        f.caller_kind = PartyKind::Unparseable;
        assert!(c.hold(&f));
        f.behaviour = 0b010;
        assert!(!c.hold(&f));
    }
}
