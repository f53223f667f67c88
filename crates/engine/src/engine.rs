//! The [`Engine`]: decides events against the current [`Snapshot`], swapped atomically.
//!
//! Readers load the snapshot through [`ArcSwap`] (lock-free, no reference-count contention on
//! the hot path), so a thread deciding never waits for a rule update, and every decision is
//! taken against exactly one snapshot. Behaviour state (sliding windows per caller) lives
//! outside the snapshot, so it survives rule updates.
//!
//! # Parties read every way a core may route them
//!
//! The caller and the callee are read with [`readings`]: the primary reading (the one shown in
//! the decision, used by the behaviour detectors) and the alternatives a core might route
//! instead (the national reading under a foreign `phone-context`, the number without an
//! IP-call prefix). Every reading is looked up in the number lists:
//!
//! * a **block or warn list** hit on **any** reading counts for the rules (`caller_in`,
//!   `callee_in`), and the evidence names the reading that hit;
//! * **allowlist trust** is granted by a party only when its **primary** reading is on an allow
//!   list **and** none of its alternative readings is on a block or warn list (an allowlisted
//!   number written so that a core may route it to a listed one is not trusted). The primary
//!   reading on both an allow and a block list is a pack conflict the allowlist wins, as
//!   before. An alternative reading on an allow list grants nothing;
//! * the spoofing condition (`caller_domestic`) holds when any reading of the caller is a
//!   domestic number: a handset that ignores the context shows the domestic one.
//!
//! Phone contacts found in a text are looked up under every reading as well.

use std::cell::RefCell;
use std::sync::{Arc, Mutex};

use arc_swap::{ArcSwap, ArcSwapOption};

use crate::behaviour::{Behaviour, BehaviourEvent, BehaviourFlag, BehaviourFlags, BehaviourKind};
use crate::decision::{Decision, Evidence, Party, PartyKind, Role};
use crate::event::EventKind;
use crate::event::{Event, Ingress};
use crate::lists::{ListError, ListHits, NumberChange};
use crate::number::{readings, Normalised, NumberError, MAX_READINGS};
use crate::pack::{CategoryRole, Snapshot};
use crate::policy::{Condition, ConditionSet, Conditions, Facts, Rule};
use crate::text::{extract_contacts, CategoryId, ContactKind, Contacts, HitKind, TextHits};

/// Score from which a fraud category is reported with any block or warn, whatever rule fired.
const REPORT_SCORE: u32 = 3;

/// Per-thread reusable buffers: text matches and contact points of the current message.
#[derive(Default)]
struct Scratch {
    hits: TextHits,
    contacts: Contacts,
}

thread_local! {
    /// No allocation per message once these have grown.
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// The decision engine: the current snapshot and the behaviour state.
pub struct Engine {
    snapshot: ArcSwap<Snapshot>,
    /// Behaviour state, outside the snapshot so it survives rule updates (replaced only when a
    /// new snapshot brings other behaviour settings).
    behaviour: ArcSwapOption<Behaviour>,
    /// Serialises writers (swap, number changes) so no update is lost.
    writer: Mutex<()>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.snapshot.load();
        f.debug_struct("Engine")
            .field("pack", &s.name)
            .field("version", &s.version)
            .finish()
    }
}

/// Why [`Engine::apply_number_changes`] refused a batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// A change names a list the snapshot does not have, or a bad prefix.
    #[error("number change refused: {0}")]
    Lists(#[from] ListError),
}

/// An alternative reading of a party (see the module docs) and the lists it is on.
#[derive(Clone, Copy)]
struct AltHit {
    number: Normalised,
    hits: ListHits,
}

/// Most alternative readings of one party.
const MAX_ALTERNATIVES: usize = MAX_READINGS - 1;

/// What the engine learnt about one party.
struct PartyFacts {
    party: Party,
    /// Lists the primary reading is on.
    hits: ListHits,
    /// Lists of every reading: all of the primary's, the block and warn lists of the
    /// alternatives.
    mask: u64,
    /// The party grants allowlist trust: its primary reading is allowlisted and no alternative
    /// reading is on a block or warn list.
    trusted: bool,
    /// The first reading that is a domestic number, if any (the primary when it is one).
    domestic: Option<Normalised>,
    /// Why the party has no primary reading.
    error: Option<NumberError>,
    /// Alternative readings that are on some block or warn list.
    alts: [Option<AltHit>; MAX_ALTERNATIVES],
}

fn list_mask(hits: &ListHits) -> u64 {
    hits.iter()
        .filter(|h| h.list.index() < 64)
        .fold(0u64, |m, h| m | (1u64 << h.list.index()))
}

impl Engine {
    /// An engine deciding with `snapshot`.
    pub fn new(snapshot: Snapshot) -> Engine {
        let behaviour = behaviour_for(&snapshot);
        Engine {
            snapshot: ArcSwap::from_pointee(snapshot),
            behaviour: ArcSwapOption::new(behaviour),
            writer: Mutex::new(()),
        }
    }

    /// Tracked callers and evictions of the behaviour detectors.
    pub fn behaviour_stats(&self) -> crate::behaviour::BehaviourStats {
        self.behaviour
            .load()
            .as_ref()
            .map(|b| b.stats())
            .unwrap_or_default()
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// Replaces the snapshot atomically: decisions already running finish on the old one,
    /// the next ones use the new one.
    pub fn swap(&self, snapshot: Snapshot) {
        let _guard = self.writer.lock();
        let same = self
            .behaviour
            .load()
            .as_ref()
            .is_some_and(|b| b.config() == &snapshot.behaviour);
        if !same {
            self.behaviour.store(behaviour_for(&snapshot));
        }
        self.snapshot.store(Arc::new(snapshot));
    }

    /// Applies added and removed numbers: a new snapshot sharing everything but the list
    /// overlay replaces the current one (visible to the next decision).
    pub fn apply_number_changes(&self, changes: &[NumberChange]) -> Result<(), EngineError> {
        let _guard = self.writer.lock();
        let current = self.snapshot.load_full();
        let lists = current.lists.with_changes(changes)?;
        self.snapshot.store(Arc::new(current.with_lists(lists)));
        Ok(())
    }

    /// Decides one event.
    pub fn decide(&self, ev: &Event<'_>) -> Decision {
        let snap = self.snapshot.load();
        let behaviour = self.behaviour.load();
        decide_with(&snap, behaviour.as_deref(), ev)
    }
}

/// Detectors with the snapshot's settings (validated when the pack was loaded).
fn behaviour_for(snapshot: &Snapshot) -> Option<Arc<Behaviour>> {
    Behaviour::new(snapshot.behaviour.clone())
        .ok()
        .map(Arc::new)
}

fn party(snap: &Snapshot, raw: &str, at_ms: u64) -> PartyFacts {
    let read = readings(raw, &snap.numbers);
    let normalised = read.primary().ok().copied();
    let mut hits = ListHits::default();
    let mut mask = 0;
    if let Some(n) = &normalised {
        snap.lists.lookup_into(n, at_ms, &mut hits);
        mask = list_mask(&hits);
    }
    let mut domestic = normalised.filter(|n| n.is_domestic(&snap.numbers));
    // Alternatives (none for a plain number): their block and warn hits count, their allow
    // hits grant nothing.
    let mut alts = [None::<AltHit>; MAX_ALTERNATIVES];
    let mut alt_listed = 0u64;
    let mut slots = alts.iter_mut();
    for n in read.alternatives() {
        if domestic.is_none() && n.is_domestic(&snap.numbers) {
            domestic = Some(*n);
        }
        let found = snap.lists.lookup(n, at_ms);
        let listed = list_mask(&found) & !snap.allow_mask;
        if listed == 0 {
            continue;
        }
        alt_listed |= listed;
        if let Some(slot) = slots.next() {
            *slot = Some(AltHit {
                number: *n,
                hits: found,
            });
        }
    }
    // One struct expression, written straight into the caller's slot (a local `PartyFacts`
    // returned by name was copied out whole).
    PartyFacts {
        party: Party::new(raw, normalised),
        hits,
        mask: mask | alt_listed,
        trusted: mask & snap.allow_mask != 0 && alt_listed == 0,
        domestic,
        error: read.error(),
        alts,
    }
}

/// A phone contact of the text that is on some list.
#[derive(Clone, Copy)]
struct ContactHit {
    number: Normalised,
    hits: ListHits,
}

/// Most phone contacts of one message looked up in the lists.
const MAX_CONTACT_LOOKUPS: usize = 8;

/// Decides `ev` against one snapshot, feeding `behaviour` if given (what [`Engine::decide`]
/// does after loading both).
pub fn decide_with(snap: &Snapshot, behaviour: Option<&Behaviour>, ev: &Event<'_>) -> Decision {
    let caller = party(snap, ev.caller, ev.at_ms);
    let callee = party(snap, ev.callee, ev.at_ms);
    let caller_domestic = caller.domestic.is_some();
    let allowlisted = ev.ingress == Ingress::Domestic && (caller.trusted || callee.trusted);
    let mut flags = BehaviourFlags::default();
    if let (Some(b), Some(from)) = (behaviour, caller.party.normalised.as_ref()) {
        let kind = match ev.kind {
            EventKind::CallOffer => BehaviourKind::CallOffer,
            EventKind::CallAnswered => BehaviourKind::CallAnswered,
            EventKind::CallEnded { duration_ms } => BehaviourKind::CallEnded { duration_ms },
            EventKind::Sms => BehaviourKind::Sms,
        };
        let event = BehaviourEvent::new(kind, from, callee.party.normalised.as_ref(), ev.at_ms);
        b.observe_into(&event, &mut flags);
    }
    let text = ev.text.map(|t| cut(t, snap.max_text_bytes));

    let (outcome, degraded) = SCRATCH.with(|cell| {
        let mut own = None;
        let mut borrowed = cell.try_borrow_mut().ok();
        let scratch: &mut Scratch = match borrowed.as_deref_mut() {
            Some(s) => s,
            None => own.insert(Scratch::default()),
        };
        let Scratch { hits, contacts } = scratch;
        let mut contact_hits = [None::<ContactHit>; MAX_CONTACT_LOOKUPS];
        let mut contact_lists = 0u64;
        let mut lure_domain = false;
        let mut links = 0u8;
        let mut unofficial_contact = false;
        let mut template = None;
        let mut degraded = false;
        let text_hits = match text {
            Some(t) => {
                // A scan error (no scratch space) fails open: what was found still counts, and
                // the decision says it is degraded.
                let scanned = snap.matcher.scan(t, hits).is_ok();
                degraded = !scanned || hits.truncated() || t.len() < ev.text.map_or(0, str::len);
                extract_contacts(hits.normalised(), t, contacts);
                // Templates of allowlisted (known bulk) senders are not counted.
                if let (Some(b), Some(from), EventKind::Sms, false) = (
                    behaviour,
                    caller.party.normalised.as_ref(),
                    ev.kind,
                    allowlisted,
                ) {
                    template = b.observe_text(
                        hits.normalised().as_str(),
                        from.key(),
                        callee.party.normalised.as_ref().map(|n| n.key()),
                        ev.at_ms,
                        &mut flags,
                    );
                }
                let mut n = 0;
                for c in contacts.iter() {
                    match c.kind {
                        ContactKind::Phone => {
                            let read = readings(c.value, &snap.numbers);
                            let mut official = false;
                            let mut callback = false;
                            for num in read.iter() {
                                callback |= is_callback_number(num, snap.numbers.country_code);
                                let found = snap.lists.lookup(num, ev.at_ms);
                                official |= list_mask(&found) & snap.allow_mask != 0;
                                if found.is_empty() {
                                    continue;
                                }
                                contact_lists |= list_mask(&found);
                                if let Some(slot) = contact_hits.get_mut(n) {
                                    *slot = Some(ContactHit {
                                        number: *num,
                                        hits: found,
                                    });
                                    n += 1;
                                }
                            }
                            unofficial_contact |= callback && !official;
                        }
                        ContactKind::Url | ContactKind::Domain => {
                            if let Some(h) = c.host {
                                lure_domain |= snap.lure_domain(h).is_some();
                                let bits = snap.links.classify(h).bits;
                                links |= bits;
                                unofficial_contact |=
                                    bits & crate::text::links::LINK_UNOFFICIAL != 0;
                            }
                        }
                        ContactKind::Qq | ContactKind::WeChat => unofficial_contact = true,
                    }
                }
                Some(&*hits)
            }
            None => None,
        };
        let facts = Facts {
            channel: ev.channel(),
            ingress: ev.ingress,
            caller_kind: caller.party.kind,
            caller_domestic,
            caller_lists: caller.mask,
            callee_lists: callee.mask,
            contact_lists,
            lure_domain,
            text: text_hits,
            behaviour: flags.bits(),
            links,
            unofficial_contact,
            allowlisted,
        };
        let ctx = Context {
            snap,
            ev,
            text,
            facts: &facts,
            flags: &flags,
            contacts: if text.is_some() {
                Some(&*contacts)
            } else {
                None
            },
            contact_hits: &contact_hits,
            template,
        };
        let outcome = match snap.policy.evaluate(&facts) {
            Some(rule) => Outcome {
                conditions: ConditionSet::used_by(&rule.when),
                ..build(&ctx, rule, &caller, &callee)
            },
            None if allowlisted => {
                // Report the allowlist only when it changed the outcome.
                let unguarded = Facts {
                    allowlisted: false,
                    ..facts
                };
                match snap.policy.evaluate(&unguarded) {
                    Some(r) if r.verdict != crate::decision::Verdict::Pass => {
                        allowlisted_pass(snap, ev, &caller, &callee)
                    }
                    _ => Outcome::pass(),
                }
            }
            None => Outcome::pass(),
        };
        (outcome, degraded)
    });
    // The parties are moved in last: the closure above only borrows them (when it moved them
    // into the decision, capturing them by value copied both).
    Decision {
        verdict: outcome.verdict,
        rule: outcome.rule,
        categories: outcome.categories,
        evidence: outcome.evidence,
        caller: caller.party,
        callee: callee.party,
        degraded,
        conditions: outcome.conditions,
    }
}

/// A decision but its parties.
struct Outcome {
    verdict: crate::decision::Verdict,
    rule: Option<Arc<str>>,
    categories: Vec<Arc<str>>,
    evidence: Vec<Evidence>,
    conditions: ConditionSet,
}

impl Outcome {
    /// What [`Decision::pass`] holds: no rule, no evidence, nothing allocated.
    fn pass() -> Outcome {
        Outcome {
            verdict: crate::decision::Verdict::Pass,
            rule: None,
            categories: Vec::new(),
            evidence: Vec::new(),
            conditions: ConditionSet::default(),
        }
    }
}

/// Everything the evidence of a decision is collected from.
struct Context<'a, 'e> {
    snap: &'a Snapshot,
    ev: &'a Event<'e>,
    text: Option<&'a str>,
    facts: &'a Facts<'a>,
    flags: &'a crate::behaviour::BehaviourFlags,
    contacts: Option<&'a Contacts>,
    contact_hits: &'a [Option<ContactHit>],
    /// The SMS's template counts, when it was fingerprinted.
    template: Option<crate::campaign::TemplateCount>,
}

/// `text` cut at `max` bytes on a character boundary.
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or("")
}

/// Evidence and categories being collected for a decision.
#[derive(Default)]
struct Out {
    evidence: Vec<Evidence>,
    cats: Vec<Arc<str>>,
}

fn push_category(cats: &mut Vec<Arc<str>>, c: &Arc<str>) {
    if !cats.iter().any(|x| x == c) {
        cats.push(c.clone());
    }
}

fn list_evidence(
    snap: &Snapshot,
    role: Role,
    n: &Normalised,
    hits: &ListHits,
    mask: u64,
    at_ms: u64,
    out: &mut Out,
) {
    let Out { evidence, cats } = out;
    for hit in hits
        .iter()
        .filter(|h| h.list.index() < 64 && mask & (1u64 << h.list.index()) != 0)
    {
        let Some(ex) = snap.lists.explain(n, hit, at_ms) else {
            continue;
        };
        let source = match &ex.source {
            crate::lists::Source::File { path, line } => {
                let line = if ex.prefix {
                    *line
                } else {
                    let list = u16::try_from(hit.list.index()).unwrap_or(u16::MAX);
                    snap.exact_lines
                        .get(&(n.key().raw(), list))
                        .copied()
                        .unwrap_or(*line)
                };
                if line == 0 {
                    path.to_string()
                } else {
                    format!("{path}:{line}")
                }
            }
            crate::lists::Source::Pushed { case_id, .. } => format!("case {case_id}"),
        };
        push_category(cats, &ex.category);
        evidence.push(Evidence::ListHit {
            party: role,
            number: n.as_str().to_owned(),
            list: ex.list.clone(),
            category: ex.category.clone(),
            entry: if ex.prefix {
                format!("{}*", ex.matched)
            } else {
                ex.matched
            },
            source,
        });
    }
}

fn text_evidence(
    snap: &Snapshot,
    text: &str,
    hits: &TextHits,
    categories: &[CategoryId],
    out: &mut Out,
) {
    let Out { evidence, cats } = out;
    for &c in categories {
        if let Some(cat) = snap.categories.get(usize::from(c.0)) {
            if cat.role == CategoryRole::Fraud {
                push_category(cats, &cat.id);
            }
        }
    }
    for hit in hits
        .hits()
        .iter()
        .filter(|h| categories.contains(&h.category))
    {
        let Some(cat) = snap.categories.get(usize::from(hit.category.0)) else {
            continue;
        };
        let found = snap.matcher.found(text, hit).to_owned();
        match hit.kind {
            HitKind::Phrase(i) => {
                if let Some(p) = snap.phrases.get(i) {
                    evidence.push(Evidence::Phrase {
                        category: cat.id.clone(),
                        phrase: p.clone(),
                        found,
                        start: hit.start,
                        end: hit.end,
                    });
                }
            }
            HitKind::Pattern(i) => {
                if let Some(p) = snap.pattern_ids.get(i) {
                    evidence.push(Evidence::Pattern {
                        category: cat.id.clone(),
                        pattern: p.clone(),
                        found,
                        start: hit.start,
                        end: hit.end,
                    });
                }
            }
        }
    }
}

/// Most evidence items `build` can produce for this context: the vector is allocated once.
fn evidence_bound(ctx: &Context<'_, '_>, caller: &PartyFacts, callee: &PartyFacts) -> usize {
    let contacts = ctx.contacts.map_or(0, Contacts::len);
    let contact_hits: usize = ctx
        .contact_hits
        .iter()
        .flatten()
        .map(|c| c.hits.len())
        .sum();
    let text = ctx.facts.text.map_or(0, |h| h.hits().len());
    let alt_hits =
        |p: &PartyFacts| -> usize { p.alts.iter().flatten().map(|a| a.hits.len()).sum() };
    2 + caller.hits.len()
        + callee.hits.len()
        + alt_hits(caller)
        + alt_hits(callee)
        + contact_hits
        + contacts
        + 2 * ctx.flags.iter().count()
        + text
}

fn build(ctx: &Context<'_, '_>, rule: &Rule, caller: &PartyFacts, callee: &PartyFacts) -> Outcome {
    let mut out = Out {
        evidence: Vec::with_capacity(evidence_bound(ctx, caller, callee)),
        cats: Vec::with_capacity(4),
    };
    let parties = Parties { caller, callee };
    for c in ConditionSet::used_by(&rule.when).iter() {
        c.evidence(ctx, &rule.when, &parties, &mut out);
    }
    // A rule that blocks or warns on other grounds (a listed caller) also quotes the fraud
    // the text shows, so the analyst sees it.
    if let (Some(t), Some(hits), true) = (
        ctx.text,
        ctx.facts.text,
        rule.verdict != crate::decision::Verdict::Pass,
    ) {
        let reached = |c: &CategoryId| {
            rule.when
                .text
                .iter()
                .any(|g| g.reached(hits).any(|r| r == *c))
        };
        let also: Vec<CategoryId> = ctx
            .snap
            .fraud_categories
            .iter()
            .copied()
            .filter(|&c| hits.score(c) >= REPORT_SCORE && !reached(&c))
            .collect();
        if !also.is_empty() {
            text_evidence(ctx.snap, t, hits, &also, &mut out);
        }
    }
    Outcome {
        conditions: ConditionSet::default(),
        verdict: rule.verdict,
        rule: Some(rule.id.clone()),
        categories: out.cats,
        evidence: out.evidence,
    }
}

/// The caller's and the callee's facts, for evidence.
struct Parties<'p> {
    caller: &'p PartyFacts,
    callee: &'p PartyFacts,
}

impl Condition {
    /// Appends to `out` what shows that this condition of `w` held for the event of `ctx`
    /// (called only for the conditions the rule that fired uses). Conditions with nothing to
    /// quote (`unless`, `ingress`, `channel`) add nothing; `caller_domestic` on international
    /// ingress quotes the spoofed caller.
    fn evidence(self, ctx: &Context<'_, '_>, w: &Conditions, parties: &Parties<'_>, out: &mut Out) {
        let (snap, ev) = (ctx.snap, ctx.ev);
        match self {
            Condition::CallerDomestic => {
                if w.ingress == Some(Ingress::International) && w.caller_domestic == Some(true) {
                    if let Some(n) = parties.caller.domestic {
                        out.evidence.push(Evidence::Spoofing {
                            caller: n.as_str().to_owned(),
                            kind: n.kind().into(),
                            ingress: ev.ingress,
                        });
                    }
                }
            }
            Condition::CallerIn => {
                party_evidence(
                    snap,
                    Role::Caller,
                    parties.caller,
                    w.caller_in,
                    ev.at_ms,
                    out,
                );
            }
            Condition::CalleeIn => {
                party_evidence(
                    snap,
                    Role::Callee,
                    parties.callee,
                    w.callee_in,
                    ev.at_ms,
                    out,
                );
            }
            Condition::ContactIn => {
                for c in ctx.contact_hits.iter().flatten() {
                    list_evidence(
                        snap,
                        Role::Contact,
                        &c.number,
                        &c.hits,
                        w.contact_in,
                        ev.at_ms,
                        out,
                    );
                }
            }
            Condition::ContactLureDomain => {
                for c in ctx.contacts.iter().flat_map(|c| c.iter()) {
                    let Some((domain, origin)) = c.host.and_then(|h| snap.lure_domain(h)) else {
                        continue;
                    };
                    out.evidence.push(Evidence::Contact {
                        kind: c.kind.name().to_owned(),
                        value: c.value.to_owned(),
                        matched: domain.to_owned(),
                        source: origin.to_string(),
                        start: c.start,
                        end: c.end,
                    });
                }
            }
            Condition::Link => link_evidence(ctx, w.link, out),
            Condition::Behaviour => behaviour_evidence(ctx, w.behaviour, out),
            // Flags `behaviour` has quoted already are not quoted twice.
            Condition::BehaviourAlso => {
                behaviour_evidence(ctx, w.behaviour_also & !w.behaviour, out)
            }
            Condition::CallerKind => {
                let caller = parties.caller;
                if caller.party.kind == PartyKind::Unparseable {
                    out.evidence.push(Evidence::Unparseable {
                        party: Role::Caller,
                        raw: caller.party.raw.as_str().to_owned(),
                        error: caller.error.map(|e| e.to_string()).unwrap_or_default(),
                    });
                }
            }
            Condition::Text => {
                let (Some(t), Some(hits)) = (ctx.text, ctx.facts.text) else {
                    return;
                };
                // The categories the groups reached, in order, without duplicates.
                let mut reached: Vec<CategoryId> = Vec::with_capacity(hits.scores().len());
                for c in w.text.iter().flat_map(|g| g.reached(hits)) {
                    if !reached.contains(&c) {
                        reached.push(c);
                    }
                }
                text_evidence(snap, t, hits, &reached, out);
            }
            Condition::Unless | Condition::Ingress | Condition::Channel => {}
        }
    }
}

/// Evidence of the behaviour flags raised whose bits are in `mask` (a campaign with its
/// template).
fn behaviour_evidence(ctx: &Context<'_, '_>, mask: u8, out: &mut Out) {
    for e in ctx.flags.iter().filter(|e| mask & e.flag.bit() != 0) {
        out.evidence.push(Evidence::Behaviour {
            flag: e.flag.name().to_owned(),
            observed: u64::from(e.observed),
            threshold: u64::from(e.threshold),
        });
        if let (BehaviourFlag::TextCampaign, Some(c)) = (e.flag, ctx.template) {
            out.evidence.push(Evidence::Campaign {
                template: format!("{:016x}", c.template),
                recipients: u64::from(c.recipients),
                senders: u64::from(c.senders),
                messages: u64::from(c.messages),
                window_ms: e.window_ms,
                example: ctx.text.unwrap_or("").chars().take(140).collect(),
            });
        }
    }
}

/// Evidence of the links of the text whose kinds are in `mask`: which kinds, and the
/// institution a look-alike imitates or the shortener it uses.
fn link_evidence(ctx: &Context<'_, '_>, mask: u8, out: &mut Out) {
    for c in ctx.contacts.iter().flat_map(|c| c.iter()) {
        let Some(host) = c.host else {
            continue;
        };
        let class = ctx.snap.links.classify(host);
        let held = class.bits & mask;
        if held == 0 {
            continue;
        }
        let mut matched = String::new();
        for (name, bit) in crate::text::LINK_KINDS {
            if held & bit != 0 {
                if !matched.is_empty() {
                    matched.push(',');
                }
                matched.push_str(name);
            }
        }
        if let Some(d) = class.matched {
            matched.push_str(" (");
            matched.push_str(d);
            matched.push(')');
        }
        out.evidence.push(Evidence::Contact {
            kind: c.kind.name().to_owned(),
            value: c.value.to_owned(),
            matched,
            source: class.origin.map(|o| o.to_string()).unwrap_or_default(),
            start: c.start,
            end: c.end,
        });
    }
}

/// List evidence of one party for the lists in `mask`: its primary reading's hits, then those
/// of its alternative readings (block and warn lists only), each naming the reading that hit.
/// Whether `n` is the kind of callback number a scam gives: a home mobile (`+86 1[3-9]…` in
/// China), or any full number under another country's plan. Fixed lines and 400/800 numbers
/// are not: a police station's or a shop's notice gives them too, and a guard must still
/// be able to pass those notices.
fn is_callback_number(n: &Normalised, country_code: u16) -> bool {
    if n.kind() != crate::number::NumberKind::E164 {
        return false;
    }
    if country_code != 86 {
        return true;
    }
    let s = n.as_str().as_bytes();
    s.len() == 14 && s.starts_with(b"+861") && s.get(4).is_some_and(|d| (b'3'..=b'9').contains(d))
}

fn party_evidence(
    snap: &Snapshot,
    role: Role,
    p: &PartyFacts,
    mask: u64,
    at_ms: u64,
    out: &mut Out,
) {
    if let Some(n) = &p.party.normalised {
        list_evidence(snap, role, n, &p.hits, mask, at_ms, out);
    }
    for alt in p.alts.iter().flatten() {
        list_evidence(
            snap,
            role,
            &alt.number,
            &alt.hits,
            mask & !snap.allow_mask,
            at_ms,
            out,
        );
    }
}

fn allowlisted_pass(
    snap: &Snapshot,
    ev: &Event<'_>,
    caller: &PartyFacts,
    callee: &PartyFacts,
) -> Outcome {
    let mut out = Out::default();
    // Only a party that granted the trust is named.
    for (role, p) in [(Role::Caller, caller), (Role::Callee, callee)] {
        if let Some(n) = p.party.normalised.as_ref().filter(|_| p.trusted) {
            list_evidence(snap, role, n, &p.hits, snap.allow_mask, ev.at_ms, &mut out);
        }
    }
    Outcome {
        conditions: ConditionSet::default(),
        verdict: crate::decision::Verdict::Pass,
        rule: Some(snap.policy.allowlist_rule()),
        categories: out.cats,
        evidence: out.evidence,
    }
}
