//! Number lists: exact-number sets and digit-prefix sets, each with a category, an action
//! and a source, looked up in constant time and updated without a rebuild.
//!
//! * **Exact numbers** live in one open-addressing table of `u64` slots shared by every list:
//!   a slot holds a [`NumberKey`] (52 bits) with the list's index packed into the 12 bits above
//!   it, so a number that is on two lists takes two slots. The table is sized for a load of at
//!   most 5/8 with a capacity that is *not* rounded to a power of two (slots are addressed by
//!   multiplying the hash by the capacity), so memory is at most 8 × 8/5 = 12.8 bytes per
//!   number at any size, plus rounding ([`NumberLists::exact_memory_bytes`]). Lookup is a
//!   hash and a linear probe over a few adjacent slots (expected ≈ 4 on a miss at the
//!   maximum load), whatever the number of entries. Lookups never allocate.
//! * **Prefixes** (E.164 digits including the country code, or service-number digits; at
//!   most [`MAX_PREFIX_DIGITS`]) are hashed per length: a lookup probes the number's prefix
//!   of each length that occurs in the set, longest first, so the cost depends on the number
//!   of distinct prefix lengths (a handful), not on the number of prefixes. For each list the
//!   longest matching prefix wins.
//! * **Updates** ([`NumberLists::with_changes`]) leave the large base table shared (`Arc`) and
//!   copy only the small recent layer of an overlay of added and removed exact numbers (the
//!   bulk of the overlay is a shared frozen layer, refolded when the recent layer outgrows a
//!   quarter of it: amortised constant cost per change) and the prefix set (rebuilt: it is
//!   small). The base is never rebuilt by an update.
//!   Pushed entries may carry an expiry: from that instant they stop matching.
//!
//! What a hit *means* (an `Allow` hit on a party's primary reading wins on a domestic
//! ingress unless another reading of it is on a block or warn list; spoofing on an
//! international ingress overrides it) is the engine's and the policy's decision
//! ([`crate::engine`]); this module only reports which lists matched and how.
//!
//! The parts, each in its own file with its tests: `exact` (the table of exact numbers),
//! `overlay` (added and removed numbers since the build), `prefix` (the prefix index) and
//! `builder` ([`NumberListsBuilder`]); this file holds the public types and [`NumberLists`],
//! which puts them together.
//!
//! Exact numbers loaded from files keep their list's [`Source`] (the file), not their own
//! line: a per-number line would cost 4 more bytes per number. Prefixes and pushed numbers
//! keep their own source.
//!
//! ```
//! use interdict_engine::lists::{Action, ListMeta, NumberListsBuilder, Source, NumberChange};
//! use interdict_engine::number::{normalise, NumberConfig};
//! let cfg = NumberConfig::default();
//! let mut b = NumberListsBuilder::new();
//! let fraud = b.add_list(ListMeta::new("fraud", "reported_fraud", Action::Block,
//!     Source::file("lists/fraud.txt", 1))).unwrap();
//! // Synthetic numbers from the 170 virtual-operator range.
//! b.add_exact(fraud, normalise("+8617000000001", &cfg).unwrap().key()).unwrap();
//! b.add_prefix_str(fraud, "+861709999*", Source::file("lists/fraud.txt", 2)).unwrap();
//! let lists = b.build();
//! let hits = lists.lookup(&normalise("17099990001", &cfg).unwrap(), 0);
//! assert!(hits.has_action(Action::Block));
//! // A pushed number is visible in the next snapshot of the lists, without a rebuild.
//! let pushed = normalise("+8617000000002", &cfg).unwrap();
//! let lists = lists.with_changes(&[NumberChange::add(fraud, pushed.key(),
//!     Source::pushed("case-1", Some(10_000)))]).unwrap();
//! assert!(!lists.lookup(&pushed, 5_000).is_empty());
//! assert!(lists.lookup(&pushed, 10_000).is_empty()); // expired
//! ```

use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde::Deserialize;

use crate::number::{Normalised, NumberKey, NumberKind, KEY_BITS};

mod builder;
mod exact;
pub(crate) use exact::mix;
mod overlay;
mod prefix;

pub use builder::NumberListsBuilder;
use exact::ExactTable;
use overlay::{Overlay, OverlayEntry, OverlayMap};
use prefix::{PrefixIndex, PrefixRecord};

/// Most lists a [`NumberLists`] may hold (12 bits of a table slot).
pub const MAX_LISTS: usize = 1 << (64 - KEY_BITS);
/// Most hits one lookup reports; more are counted in [`ListHits::overflowed`].
pub const MAX_HITS: usize = 8;
/// Longest prefix, in digits.
pub const MAX_PREFIX_DIGITS: usize = 16;
/// 10^0 to 10^MAX_PREFIX_DIGITS.
// Evaluated at compile time: an out-of-range index fails the build, it cannot panic.
#[allow(clippy::indexing_slicing)]
const POW10: [u64; MAX_PREFIX_DIGITS + 1] = {
    let mut t = [1u64; MAX_PREFIX_DIGITS + 1];
    let mut i = 1;
    while i <= MAX_PREFIX_DIGITS {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};
/// Maximum load of the exact table, as a fraction `LOAD_NUM / LOAD_DEN`.
const LOAD_NUM: usize = 5;
const LOAD_DEN: usize = 8;
const KEY_MASK: u64 = (1 << KEY_BITS) - 1;

/// What a hit on a list means to the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Known fraud: block.
    Block,
    /// Suspect: warn.
    Warn,
    /// Official or trusted: never blocked on a domestic ingress.
    Allow,
}

impl Action {
    /// Lower-case name: `"block"`, `"warn"`, `"allow"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Block => "block",
            Action::Warn => "warn",
            Action::Allow => "allow",
        }
    }
}

/// Where a list or an entry came from, for evidence.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Source {
    /// Loaded from a rule-pack file.
    File {
        /// Path of the file (as the pack names it).
        path: Arc<str>,
        /// Line of the entry, or of the list's declaration for a whole list.
        line: u32,
    },
    /// Pushed by a police centre.
    Pushed {
        /// The centre's case id.
        case_id: Arc<str>,
        /// When the entry stops matching (ms since the Unix epoch), if ever.
        expires_at_ms: Option<u64>,
    },
}

impl Source {
    /// A file source.
    pub fn file(path: &str, line: u32) -> Source {
        Source::File {
            path: path.into(),
            line,
        }
    }

    /// A pushed source.
    pub fn pushed(case_id: &str, expires_at_ms: Option<u64>) -> Source {
        Source::Pushed {
            case_id: case_id.into(),
            expires_at_ms,
        }
    }

    /// The expiry instant (ms), `u64::MAX` when the entry never expires.
    fn expiry(&self) -> u64 {
        match self {
            Source::Pushed {
                expires_at_ms: Some(at),
                ..
            } => *at,
            _ => u64::MAX,
        }
    }
}

/// Index of a list inside one [`NumberLists`] (stable across [`NumberLists::with_changes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListId(u16);

impl ListId {
    /// The index (0-based, in the order lists were added).
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// Name, category, action and source of one list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListMeta {
    /// Unique name (`fraud_numbers`), used by rules.
    pub name: Arc<str>,
    /// Category reported in decisions (`reported_fraud`).
    pub category: Arc<str>,
    /// What a hit means.
    pub action: Action,
    /// Where the list was declared.
    pub source: Source,
}

impl ListMeta {
    /// Convenience constructor.
    pub fn new(name: &str, category: &str, action: Action, source: Source) -> ListMeta {
        ListMeta {
            name: name.into(),
            category: category.into(),
            action,
            source,
        }
    }
}

/// How a number matched a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matched {
    /// The number itself is on the list.
    Exact,
    /// A prefix of the number's digits ([`Normalised::digits`]) of this many digits is.
    Prefix {
        /// Length of the prefix in digits.
        len: u8,
    },
}

/// One list that matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// Which list.
    pub list: ListId,
    /// The list's action (copied for the policy's convenience).
    pub action: Action,
    /// Exact or (longest) prefix.
    pub matched: Matched,
}

/// The lists a number is on: exact hits first, then at most one prefix hit per list (its
/// longest prefix). Fixed capacity, no heap.
#[derive(Debug, Clone, Copy)]
pub struct ListHits {
    hits: [Hit; MAX_HITS],
    len: u8,
    overflowed: u16,
}

impl Default for ListHits {
    fn default() -> Self {
        ListHits {
            hits: [Hit {
                list: ListId(0),
                action: Action::Warn,
                matched: Matched::Exact,
            }; MAX_HITS],
            len: 0,
            overflowed: 0,
        }
    }
}

impl ListHits {
    /// The hits.
    pub fn as_slice(&self) -> &[Hit] {
        self.hits.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// Iterates over the hits.
    pub fn iter(&self) -> std::slice::Iter<'_, Hit> {
        self.as_slice().iter()
    }

    /// No list matched.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of hits.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Hits that did not fit in [`MAX_HITS`] (0 in any sane pack).
    pub fn overflowed(&self) -> usize {
        usize::from(self.overflowed)
    }

    /// Whether any hit has this action.
    pub fn has_action(&self, action: Action) -> bool {
        self.iter().any(|h| h.action == action)
    }

    /// The hit on this list, if any (exact preferred over prefix).
    pub fn on_list(&self, list: ListId) -> Option<Hit> {
        self.iter().find(|h| h.list == list).copied()
    }

    /// The first hit with this action (an exact hit when there is one).
    pub fn first_with(&self, action: Action) -> Option<Hit> {
        self.iter().find(|h| h.action == action).copied()
    }

    fn push(&mut self, hit: Hit) {
        match self.hits.get_mut(usize::from(self.len)) {
            Some(slot) => {
                *slot = hit;
                self.len += 1;
            }
            None => self.overflowed = self.overflowed.saturating_add(1),
        }
    }

    /// Records a prefix hit, keeping only the longest per list.
    fn push_prefix(&mut self, list: ListId, action: Action, len: u8) {
        let n = usize::from(self.len);
        let existing = self.hits.get_mut(..n).and_then(|s| {
            s.iter_mut()
                .find(|h| h.list == list && matches!(h.matched, Matched::Prefix { .. }))
        });
        match existing {
            Some(h) => {
                if matches!(h.matched, Matched::Prefix { len: old } if old < len) {
                    h.matched = Matched::Prefix { len };
                }
            }
            None => self.push(Hit {
                list,
                action,
                matched: Matched::Prefix { len },
            }),
        }
    }
}

/// Evidence for one hit: which list, what matched, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEvidence {
    /// The list's name.
    pub list: Arc<str>,
    /// The list's category.
    pub category: Arc<str>,
    /// The list's action.
    pub action: Action,
    /// The number (`+8617000000001`) or the prefix (`+861709999`) that matched.
    pub matched: String,
    /// Whether `matched` is a prefix.
    pub prefix: bool,
    /// The entry's source (pushed entries and prefixes) or the list's (file numbers).
    pub source: Source,
}

/// One change to apply with [`NumberLists::with_changes`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NumberChange {
    /// Add an exact number to a list.
    AddExact {
        /// The list.
        list: ListId,
        /// The number.
        key: NumberKey,
        /// Its source (a pushed case, possibly expiring).
        source: Source,
    },
    /// Remove an exact number from a list (whether it came from the base or a push).
    RemoveExact {
        /// The list.
        list: ListId,
        /// The number.
        key: NumberKey,
    },
    /// Add a prefix to a list.
    AddPrefix {
        /// The list.
        list: ListId,
        /// The prefix, as [`parse_prefix`] reads it (`+861709999*`, `955*`).
        prefix: Prefix,
        /// Its source.
        source: Source,
    },
    /// Remove a prefix from a list.
    RemovePrefix {
        /// The list.
        list: ListId,
        /// The prefix.
        prefix: Prefix,
    },
}

impl NumberChange {
    /// Shorthand for [`NumberChange::AddExact`].
    pub fn add(list: ListId, key: NumberKey, source: Source) -> NumberChange {
        NumberChange::AddExact { list, key, source }
    }

    /// Shorthand for [`NumberChange::RemoveExact`].
    pub fn remove(list: ListId, key: NumberKey) -> NumberChange {
        NumberChange::RemoveExact { list, key }
    }
}

/// A digit prefix of one number kind (E.164 digits with country code, or service digits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefix {
    kind: NumberKind,
    len: u8,
    digits: [u8; MAX_PREFIX_DIGITS],
}

impl Prefix {
    /// The kind of numbers it applies to ([`NumberKind::E164`] or [`NumberKind::Service`]).
    pub fn kind(&self) -> NumberKind {
        self.kind
    }

    /// Its ASCII digits.
    pub fn digits(&self) -> &[u8] {
        self.digits.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// Display form: `+861709999` or `955`.
    pub fn display(&self) -> String {
        let digits = String::from_utf8_lossy(self.digits());
        match self.kind {
            NumberKind::E164 => format!("+{digits}"),
            _ => digits.into_owned(),
        }
    }

    /// A prefix from ASCII digits; `None` for an alphanumeric kind, no digits, a non-digit,
    /// or more than [`MAX_PREFIX_DIGITS`].
    pub fn new(kind: NumberKind, digits: &[u8]) -> Option<Prefix> {
        if kind == NumberKind::Alphanumeric
            || digits.is_empty()
            || digits.len() > MAX_PREFIX_DIGITS
            || !digits.iter().all(u8::is_ascii_digit)
        {
            return None;
        }
        let mut buf = [0u8; MAX_PREFIX_DIGITS];
        buf.get_mut(..digits.len())?.copy_from_slice(digits);
        Some(Prefix {
            kind,
            len: digits.len() as u8,
            digits: buf,
        })
    }
}

/// Reads a prefix as written in list files: `+` (or `00`) and digits is an E.164 prefix
/// including the country code (`+861709999*`); digits without `+` are a service-number prefix
/// (`955*`). Spaces and `-` are ignored; a trailing `*` is optional.
pub fn parse_prefix(text: &str) -> Result<Prefix, ListError> {
    let bad = |reason: &'static str| ListError::BadPrefix {
        prefix: text.chars().take(40).collect(),
        reason,
    };
    let body = text.trim();
    let body = body.strip_suffix('*').unwrap_or(body);
    let (kind, rest) = match body.strip_prefix('+') {
        Some(r) => (NumberKind::E164, r),
        None => match body.strip_prefix("00") {
            Some(r) => (NumberKind::E164, r),
            None => (NumberKind::Service, body),
        },
    };
    let mut buf = [0u8; MAX_PREFIX_DIGITS];
    let mut len = 0usize;
    for b in rest.bytes() {
        match b {
            b'0'..=b'9' => {
                *buf.get_mut(len).ok_or_else(|| bad("more than 16 digits"))? = b;
                len += 1;
            }
            b' ' | b'-' => {}
            _ => {
                return Err(bad(
                    "only digits, an optional leading + and a trailing * allowed",
                ))
            }
        }
    }
    let digits = buf.get(..len).unwrap_or(&[]);
    if digits.first() == Some(&b'0') {
        return Err(bad(
            "a prefix never starts with 0 after + (write +86…, or 0086…)",
        ));
    }
    Prefix::new(kind, digits).ok_or_else(|| bad("no digits"))
}

/// Errors building or changing lists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    /// A change or entry names a list that does not exist.
    #[error("unknown list index {0}")]
    UnknownList(usize),
    /// Two lists with one name.
    #[error("duplicate list name {0:?}")]
    DuplicateList(String),
    /// More than [`MAX_LISTS`] lists.
    #[error("more than {MAX_LISTS} lists")]
    TooManyLists,
    /// A prefix that cannot be read.
    #[error("invalid prefix {prefix:?}: {reason}")]
    BadPrefix {
        /// The prefix text (at most 40 characters of it).
        prefix: String,
        /// What is wrong.
        reason: &'static str,
    },
}

/// Immutable number lists; clone is cheap (`Arc`s). See module docs.
#[derive(Debug, Clone)]
pub struct NumberLists {
    meta: Arc<[ListMeta]>,
    actions: Arc<[Action]>,
    exact: Arc<ExactTable>,
    overlay: Arc<Overlay>,
    prefixes: Arc<[PrefixRecord]>,
    prefix_index: Arc<PrefixIndex>,
}

impl Default for NumberLists {
    fn default() -> Self {
        NumberListsBuilder::new().build()
    }
}

impl NumberLists {
    /// Lists with no list at all.
    pub fn empty() -> NumberLists {
        NumberLists::default()
    }

    /// Which lists hold `n` at `now_ms` (ms since the Unix epoch; expired pushed entries do
    /// not match): exact hits, then the longest matching prefix per list. No allocation.
    #[inline]
    pub fn lookup(&self, n: &Normalised, now_ms: u64) -> ListHits {
        let mut hits = ListHits::default();
        self.lookup_into(n, now_ms, &mut hits);
        hits
    }

    /// [`NumberLists::lookup`] into `hits` (cleared first), for a caller that keeps the hits
    /// in a larger structure: no copy of the result.
    #[inline]
    pub fn lookup_into(&self, n: &Normalised, now_ms: u64, hits: &mut ListHits) {
        hits.len = 0;
        hits.overflowed = 0;
        let key = n.key().raw();
        let over = if self.overlay.is_empty() {
            None
        } else {
            self.overlay.get(key)
        };
        let actions = &self.actions;
        self.exact.for_each_list(key, |list| {
            let shadowed = over.is_some_and(|entries| {
                entries.iter().any(|e| match e {
                    OverlayEntry::Removed { list: l } => *l == list,
                    OverlayEntry::Added { list: l, source } => {
                        *l == list && now_ms < source.expiry()
                    }
                })
            });
            if !shadowed {
                let action = actions.get(list.index()).copied().unwrap_or(Action::Warn);
                hits.push(Hit {
                    list,
                    action,
                    matched: Matched::Exact,
                });
            }
        });
        for e in over.unwrap_or(&[]) {
            if let OverlayEntry::Added { list, source } = e {
                if now_ms < source.expiry() {
                    let action = actions.get(list.index()).copied().unwrap_or(Action::Warn);
                    hits.push(Hit {
                        list: *list,
                        action,
                        matched: Matched::Exact,
                    });
                }
            }
        }
        if !self.prefix_index.entries.is_empty() {
            self.prefix_index
                .walk(n.kind(), n.digits(), |depth, (list, action, expiry, _)| {
                    if now_ms < *expiry {
                        hits.push_prefix(*list, *action, depth);
                    }
                });
        }
    }

    /// Evidence for a hit returned by [`NumberLists::lookup`] on the same `n` and `now_ms`.
    pub fn explain(&self, n: &Normalised, hit: &Hit, now_ms: u64) -> Option<ListEvidence> {
        let meta = self.meta.get(hit.list.index())?;
        let (matched, prefix, source) = match hit.matched {
            Matched::Exact => {
                let pushed = self.overlay.get(n.key().raw()).and_then(|entries| {
                    entries.iter().find_map(|e| match e {
                        OverlayEntry::Added { list, source }
                            if *list == hit.list && now_ms < source.expiry() =>
                        {
                            Some(source.clone())
                        }
                        _ => None,
                    })
                });
                let source = pushed.unwrap_or_else(|| meta.source.clone());
                (n.as_str().to_owned(), false, source)
            }
            Matched::Prefix { len } => {
                let digits = n.digits().get(..usize::from(len))?;
                let mut source = None;
                self.prefix_index
                    .walk(n.kind(), digits, |depth, (list, _, expiry, record)| {
                        if depth == len && *list == hit.list && now_ms < *expiry {
                            source = self
                                .prefixes
                                .get(*record as usize)
                                .map(|r| r.source.clone());
                        }
                    });
                let p = Prefix::new(n.kind(), digits)?;
                (
                    p.display(),
                    true,
                    source.unwrap_or_else(|| meta.source.clone()),
                )
            }
        };
        Some(ListEvidence {
            list: meta.name.clone(),
            category: meta.category.clone(),
            action: meta.action,
            matched,
            prefix,
            source,
        })
    }

    /// Returns new lists with `changes` applied in order. The base table is shared; the
    /// recent layer of the overlay (exact changes) and the prefix set are copied, so the cost
    /// grows with the batch and the recent layer (at most a few thousand keys, or a quarter of
    /// the pushed numbers), not with the base. Removing a number that is in no list is not
    /// an error.
    pub fn with_changes(&self, changes: &[NumberChange]) -> Result<NumberLists, ListError> {
        let known = |list: ListId| {
            if list.index() < self.meta.len() {
                Ok(())
            } else {
                Err(ListError::UnknownList(list.index()))
            }
        };
        let mut overlay = None::<Overlay>;
        let mut prefixes = None::<Vec<PrefixRecord>>;
        for change in changes {
            match change {
                NumberChange::AddExact { list, key, source } => {
                    known(*list)?;
                    let layer = overlay.get_or_insert_with(|| (*self.overlay).clone());
                    let entries = layer.entries_mut(key.raw());
                    entries.retain(|e| e.list() != *list);
                    entries.push(OverlayEntry::Added {
                        list: *list,
                        source: source.clone(),
                    });
                }
                NumberChange::RemoveExact { list, key } => {
                    known(*list)?;
                    let layer = overlay.get_or_insert_with(|| (*self.overlay).clone());
                    let entries = layer.entries_mut(key.raw());
                    entries.retain(|e| e.list() != *list);
                    if self.exact.contains(key.raw(), *list) {
                        entries.push(OverlayEntry::Removed { list: *list });
                    }
                }
                NumberChange::AddPrefix {
                    list,
                    prefix,
                    source,
                } => {
                    known(*list)?;
                    let set = prefixes.get_or_insert_with(|| self.prefixes.to_vec());
                    set.retain(|r| !(r.list == *list && r.prefix == *prefix));
                    set.push(PrefixRecord {
                        prefix: *prefix,
                        list: *list,
                        source: source.clone(),
                    });
                }
                NumberChange::RemovePrefix { list, prefix } => {
                    known(*list)?;
                    let set = prefixes.get_or_insert_with(|| self.prefixes.to_vec());
                    set.retain(|r| !(r.list == *list && r.prefix == *prefix));
                }
            }
        }
        let mut next = self.clone();
        if let Some(mut layer) = overlay {
            layer.settle();
            next.overlay = Arc::new(layer);
        }
        if let Some(mut set) = prefixes {
            set.sort_by_key(|r| r.prefix);
            next.prefix_index = Arc::new(PrefixIndex::build(&set, &self.actions));
            next.prefixes = set.into();
        }
        Ok(next)
    }

    /// Returns new lists without the overlay entries and prefixes that expired by `now_ms`
    /// (they already do not match; this reclaims their memory).
    pub fn pruned(&self, now_ms: u64) -> NumberLists {
        let mut next = self.clone();
        let mut map = self.overlay.merged();
        map.retain(|_, entries| {
            entries.retain(|e| match e {
                OverlayEntry::Added { source, .. } => now_ms < source.expiry(),
                OverlayEntry::Removed { .. } => true,
            });
            !entries.is_empty()
        });
        next.overlay = Arc::new(Overlay {
            frozen: Arc::new(map),
            recent: OverlayMap::default(),
        });
        let set: Vec<PrefixRecord> = self
            .prefixes
            .iter()
            .filter(|r| now_ms < r.source.expiry())
            .cloned()
            .collect();
        next.prefix_index = Arc::new(PrefixIndex::build(&set, &self.actions));
        next.prefixes = set.into();
        next
    }

    /// The list with this name.
    pub fn list_id(&self, name: &str) -> Option<ListId> {
        self.meta
            .iter()
            .position(|m| &*m.name == name)
            .map(|i| ListId(i as u16))
    }

    /// Metadata of a list.
    pub fn meta(&self, list: ListId) -> Option<&ListMeta> {
        self.meta.get(list.index())
    }

    /// All lists, indexed by [`ListId::index`].
    pub fn lists(&self) -> &[ListMeta] {
        &self.meta
    }

    /// Exact `(number, list)` entries in the base table.
    pub fn exact_len(&self) -> usize {
        self.exact.len
    }

    /// Numbers with pending additions or removals in the overlay.
    pub fn overlay_len(&self) -> usize {
        self.overlay.len()
    }

    /// Prefix entries.
    pub fn prefix_len(&self) -> usize {
        self.prefixes.len()
    }

    /// Bytes held by the base exact table (capacity × 8).
    pub fn exact_memory_bytes(&self) -> usize {
        self.exact.slots.len() * std::mem::size_of::<u64>()
    }
}

#[cfg(test)]
mod tests {
    //! Numbers are synthetic (170/171 virtual-operator ranges); service numbers are public
    //! short codes.
    use super::*;
    use crate::number::{normalise, NumberConfig};

    pub(super) fn n(raw: &str) -> Normalised {
        normalise(raw, &NumberConfig::default()).unwrap()
    }

    /// A builder holding one block list "big" of `count` synthetic numbers from
    /// +86 170 0000 0000 on, `stride` apart; returns the builder, the list and the first key.
    pub(super) fn big_list(count: u64, stride: u64) -> (NumberListsBuilder, ListId, u64) {
        let mut b = NumberListsBuilder::with_capacity(count as usize);
        let l = b
            .add_list(ListMeta::new(
                "big",
                "c",
                Action::Block,
                Source::file("f", 1),
            ))
            .unwrap();
        let first = n("+8617000000000").key().raw();
        for i in 0..count {
            b.add_exact(l, NumberKey::from_raw(first + i * stride).unwrap())
                .unwrap();
        }
        (b, l, first)
    }

    struct Fixture {
        lists: NumberLists,
        allow: ListId,
        fraud: ListId,
        suspect: ListId,
    }

    fn fixture() -> Fixture {
        let mut b = NumberListsBuilder::new();
        let allow = b
            .add_list(ListMeta::new(
                "allow",
                "official",
                Action::Allow,
                Source::file("allow.txt", 0),
            ))
            .unwrap();
        let fraud = b
            .add_list(ListMeta::new(
                "fraud",
                "reported_fraud",
                Action::Block,
                Source::file("fraud.txt", 0),
            ))
            .unwrap();
        let suspect = b
            .add_list(ListMeta::new(
                "suspect",
                "suspect",
                Action::Warn,
                Source::file("suspect.txt", 0),
            ))
            .unwrap();
        b.add_exact(allow, n("95588").key()).unwrap();
        b.add_exact(allow, n("110").key()).unwrap();
        b.add_exact(fraud, n("+8617000000001").key()).unwrap();
        b.add_exact(fraud, n("+8617000000001").key()).unwrap(); // duplicate ignored
        b.add_exact(suspect, n("+8617000000001").key()).unwrap();
        b.add_exact(fraud, n("ICBC-FAKE").key()).unwrap();
        b.add_prefix_str(fraud, "+86170999*", Source::file("fraud.txt", 7))
            .unwrap();
        b.add_prefix_str(fraud, "+861709999*", Source::file("fraud.txt", 8))
            .unwrap();
        b.add_prefix_str(suspect, "+8617*", Source::file("suspect.txt", 3))
            .unwrap();
        b.add_prefix_str(suspect, "955*", Source::file("suspect.txt", 4))
            .unwrap();
        Fixture {
            lists: b.build(),
            allow,
            fraud,
            suspect,
        }
    }

    #[test]
    fn exact_hits_and_misses() {
        let f = fixture();
        assert_eq!(f.lists.exact_len(), 5);
        // 95588 is on the allowlist exactly and matches the service prefix 955 of `suspect`.
        let h = f.lists.lookup(&n("95588"), 0);
        assert_eq!(
            h.as_slice(),
            &[
                Hit {
                    list: f.allow,
                    action: Action::Allow,
                    matched: Matched::Exact
                },
                Hit {
                    list: f.suspect,
                    action: Action::Warn,
                    matched: Matched::Prefix { len: 3 }
                }
            ]
        );
        assert_eq!(f.lists.lookup(&n("110"), 0).len(), 1);
        assert!(f.lists.lookup(&n("+86 95588"), 0).has_action(Action::Allow));
        assert!(f.lists.lookup(&n("icbc-fake"), 0).has_action(Action::Block));
        assert!(f.lists.lookup(&n("96110"), 0).is_empty());
        assert!(f.lists.lookup(&n("+442079460000"), 0).is_empty());
        // A number on two lists is reported on both, exact before prefix.
        let h = f.lists.lookup(&n("17000000001"), 0);
        assert_eq!(h.on_list(f.fraud).map(|h| h.matched), Some(Matched::Exact));
        assert_eq!(
            h.on_list(f.suspect).map(|h| h.matched),
            Some(Matched::Exact)
        );
        assert_eq!(
            h.first_with(Action::Warn).map(|h| h.matched),
            Some(Matched::Exact)
        );
        // The suspect list also matches by prefix +8617: one exact and one prefix hit.
        assert_eq!(h.len(), 4 - 1);
        assert_eq!(
            h.as_slice().last(),
            Some(&Hit {
                list: f.suspect,
                action: Action::Warn,
                matched: Matched::Prefix { len: 4 }
            })
        );
        assert!(NumberLists::empty().lookup(&n("110"), 0).is_empty());
    }

    #[test]
    fn longest_prefix_wins_per_list() {
        let f = fixture();
        let h = f.lists.lookup(&n("+8617099990001"), 0);
        assert_eq!(
            h.on_list(f.fraud).map(|h| h.matched),
            Some(Matched::Prefix { len: 9 })
        );
        assert_eq!(
            h.on_list(f.suspect).map(|h| h.matched),
            Some(Matched::Prefix { len: 4 })
        );
        assert_eq!(h.len(), 2);
        let h = f.lists.lookup(&n("+8617099900001"), 0);
        assert_eq!(
            h.on_list(f.fraud).map(|h| h.matched),
            Some(Matched::Prefix { len: 8 })
        );
        let ev = f
            .lists
            .explain(
                &n("+8617099990001"),
                &h_of(&f.lists, "+8617099990001", f.fraud),
                0,
            )
            .unwrap();
        assert_eq!(ev.matched, "+861709999");
        assert!(ev.prefix);
        assert_eq!(ev.source, Source::file("fraud.txt", 8));
        assert_eq!(&*ev.list, "fraud");
        assert_eq!(&*ev.category, "reported_fraud");
        // Service prefixes match service numbers only, E.164 prefixes E.164 numbers only.
        let h = f.lists.lookup(&n("95588"), 0);
        assert_eq!(
            h.on_list(f.suspect).map(|h| h.matched),
            Some(Matched::Prefix { len: 3 })
        );
        assert!(f
            .lists
            .lookup(&n("+8695588"), 0)
            .on_list(f.suspect)
            .is_some()); // same service number
        assert!(f.lists.lookup(&n("+44955000000"), 0).is_empty());
        assert!(f.lists.lookup(&n("ICBC"), 0).is_empty());
    }

    fn h_of(lists: &NumberLists, raw: &str, list: ListId) -> Hit {
        lists.lookup(&n(raw), 0).on_list(list).unwrap()
    }

    #[test]
    fn explain_exact_reports_number_and_source() {
        let f = fixture();
        let num = n("17000000001");
        let hit = h_of(&f.lists, "17000000001", f.fraud);
        let ev = f.lists.explain(&num, &hit, 0).unwrap();
        assert_eq!(ev.matched, "+8617000000001");
        assert!(!ev.prefix);
        assert_eq!(ev.action, Action::Block);
        assert_eq!(ev.source, Source::file("fraud.txt", 0));
    }

    #[test]
    fn changes_are_visible_without_touching_the_base() {
        let f = fixture();
        let new = n("+8617100000009");
        let base = n("+8617000000001");
        let next = f
            .lists
            .with_changes(&[
                NumberChange::add(f.fraud, new.key(), Source::pushed("case-42", None)),
                NumberChange::remove(f.fraud, base.key()),
                NumberChange::remove(f.allow, n("+8617100000008").key()), // absent: no-op
            ])
            .unwrap();
        assert!(
            Arc::ptr_eq(&f.lists.exact, &next.exact),
            "base table is shared"
        );
        assert!(next.lookup(&new, 0).has_action(Action::Block));
        assert!(next.lookup(&base, 0).on_list(f.fraud).is_none());
        assert!(
            next.lookup(&base, 0).on_list(f.suspect).is_some(),
            "other lists unaffected"
        );
        assert_eq!(next.overlay_len(), 2);
        // The previous snapshot is unchanged.
        assert!(f.lists.lookup(&new, 0).on_list(f.fraud).is_none());
        assert!(f.lists.lookup(&base, 0).on_list(f.fraud).is_some());
        // Evidence of a pushed number names its case.
        let ev = next
            .explain(&new, &next.lookup(&new, 0).as_slice()[0], 0)
            .unwrap();
        assert_eq!(ev.source, Source::pushed("case-42", None));
        // Re-adding a removed base number, then removing a pushed one.
        let again = next
            .with_changes(&[
                NumberChange::add(f.fraud, base.key(), Source::pushed("case-43", None)),
                NumberChange::remove(f.fraud, new.key()),
            ])
            .unwrap();
        assert_eq!(
            again.lookup(&base, 0).on_list(f.fraud).map(|h| h.matched),
            Some(Matched::Exact)
        );
        assert_eq!(
            again
                .lookup(&base, 0)
                .iter()
                .filter(|h| h.list == f.fraud)
                .count(),
            1
        );
        assert!(again.lookup(&new, 0).on_list(f.fraud).is_none());
        assert_eq!(
            f.lists
                .with_changes(&[NumberChange::remove(ListId(99), new.key())])
                .err(),
            Some(ListError::UnknownList(99))
        );
    }

    #[test]
    fn prefix_changes() {
        let f = fixture();
        let num = n("+8617188880001");
        assert!(f.lists.lookup(&num, 0).on_list(f.fraud).is_none());
        let p = parse_prefix("+86171888*").unwrap();
        let next = f
            .lists
            .with_changes(&[NumberChange::AddPrefix {
                list: f.fraud,
                prefix: p,
                source: Source::pushed("c1", None),
            }])
            .unwrap();
        assert_eq!(
            next.lookup(&num, 0).on_list(f.fraud).map(|h| h.matched),
            Some(Matched::Prefix { len: 8 })
        );
        assert_eq!(next.prefix_len(), f.lists.prefix_len() + 1);
        let back = next
            .with_changes(&[NumberChange::RemovePrefix {
                list: f.fraud,
                prefix: p,
            }])
            .unwrap();
        assert!(back.lookup(&num, 0).on_list(f.fraud).is_none());
        // Removing the longer prefix makes the shorter one win again.
        let shorter = f
            .lists
            .with_changes(&[NumberChange::RemovePrefix {
                list: f.fraud,
                prefix: parse_prefix("+861709999").unwrap(),
            }])
            .unwrap();
        let h = shorter.lookup(&n("+8617099990001"), 0);
        assert_eq!(
            h.on_list(f.fraud).map(|h| h.matched),
            Some(Matched::Prefix { len: 8 })
        );
    }

    #[test]
    fn pushed_entries_expire() {
        let f = fixture();
        let pushed = n("+8617100000001");
        let base = n("+8617000000001");
        let next = f
            .lists
            .with_changes(&[
                NumberChange::add(f.fraud, pushed.key(), Source::pushed("c", Some(1_000))),
                // A pushed re-add of a base entry that expires leaves the base entry in force.
                NumberChange::add(f.fraud, base.key(), Source::pushed("c", Some(1_000))),
                NumberChange::AddPrefix {
                    list: f.fraud,
                    prefix: parse_prefix("+8617155").unwrap(),
                    source: Source::pushed("c", Some(2_000)),
                },
            ])
            .unwrap();
        assert!(next.lookup(&pushed, 999).has_action(Action::Block));
        assert!(next.lookup(&pushed, 1_000).on_list(f.fraud).is_none());
        let ev = next
            .explain(&base, &h_of(&next, "+8617000000001", f.fraud), 999)
            .unwrap();
        assert_eq!(ev.source, Source::pushed("c", Some(1_000)));
        let after = next.lookup(&base, 5_000);
        assert_eq!(after.iter().filter(|h| h.list == f.fraud).count(), 1);
        let ev = next
            .explain(&base, &after.on_list(f.fraud).unwrap(), 5_000)
            .unwrap();
        assert_eq!(ev.source, Source::file("fraud.txt", 0));
        let in_range = n("+8617155000001");
        assert!(next.lookup(&in_range, 1_999).on_list(f.fraud).is_some());
        assert!(next.lookup(&in_range, 2_000).on_list(f.fraud).is_none());
        let pruned = next.pruned(5_000);
        assert_eq!(pruned.overlay_len(), 0);
        assert_eq!(pruned.prefix_len(), f.lists.prefix_len());
        assert!(pruned.lookup(&base, 5_000).on_list(f.fraud).is_some());
    }

    #[test]
    fn prefix_syntax() {
        let p = parse_prefix("+86 170-9999*").unwrap();
        assert_eq!(
            (p.kind(), p.digits()),
            (NumberKind::E164, &b"861709999"[..])
        );
        assert_eq!(p.display(), "+861709999");
        let p = parse_prefix("0086170").unwrap();
        assert_eq!(p.digits(), b"86170");
        let s = parse_prefix("955*").unwrap();
        assert_eq!(
            (s.kind(), s.display().as_str()),
            (NumberKind::Service, "955")
        );
        assert!(matches!(
            parse_prefix("*"),
            Err(ListError::BadPrefix { .. })
        ));
        assert!(matches!(
            parse_prefix("+86a"),
            Err(ListError::BadPrefix { .. })
        ));
        assert!(matches!(
            parse_prefix("+0"),
            Err(ListError::BadPrefix { .. })
        ));
        assert!(matches!(
            parse_prefix(&"9".repeat(21)),
            Err(ListError::BadPrefix { .. })
        ));
    }

    #[test]
    fn hits_never_exceed_capacity() {
        let mut b = NumberListsBuilder::new();
        let key = n("+8617000000001").key();
        for i in 0..20 {
            let l = b
                .add_list(ListMeta::new(
                    &format!("l{i}"),
                    "c",
                    Action::Block,
                    Source::file("f", 1),
                ))
                .unwrap();
            b.add_exact(l, key).unwrap();
        }
        let h = b.build().lookup(&n("+8617000000001"), 0);
        assert_eq!((h.len(), h.overflowed()), (MAX_HITS, 20 - MAX_HITS));
    }

    /// A batch of 1,000 pushed changes on a 200k base: only the overlay is new.
    #[test]
    fn batch_of_changes_leaves_base_shared() {
        let (b, l, first) = big_list(200_000, 1);
        let lists = b.build();
        let changes: Vec<NumberChange> = (0..1_000u64)
            .map(|i| {
                let key = NumberKey::from_raw(first + 1_000_000 + i).unwrap();
                if i % 2 == 0 {
                    NumberChange::add(l, key, Source::pushed("batch", None))
                } else {
                    NumberChange::remove(l, NumberKey::from_raw(first + i).unwrap())
                }
            })
            .collect();
        let next = lists.with_changes(&changes).unwrap();
        assert!(Arc::ptr_eq(&lists.exact, &next.exact));
        assert_eq!(next.overlay_len(), 1_000);
        for i in 0..1_000u64 {
            let added = NumberKey::from_raw(first + 1_000_000 + i).unwrap();
            let removed = NumberKey::from_raw(first + i).unwrap();
            let on_list = |key: NumberKey| {
                let digits = key.raw() & ((1 << 50) - 1);
                let num = normalise(&format!("+{digits}"), &NumberConfig::default()).unwrap();
                assert_eq!(num.key(), key);
                !next.lookup(&num, 0).is_empty()
            };
            if i % 2 == 0 {
                assert!(on_list(added));
            } else {
                assert!(!on_list(removed));
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        /// Prefix lookups (through the leading-digits gate and the filter) agree with a scan
        /// of every prefix: the longest matching prefix per list, and nothing else. Numbers and
        /// prefixes are synthetic (+86 13x/17x with digits 0 and 1), short and long prefixes
        /// mixed so the gate is both open and closed.
        #[test]
        fn prefix_lookup_agrees_with_a_scan(
            prefixes in proptest::collection::vec(
                (0usize..2, "(8|86|861|861[37][01]{0,7})"),
                0..24,
            ),
            numbers in proptest::collection::vec("861[37][01]{9}", 1..16),
        ) {
            let mut b = NumberListsBuilder::new();
            let lists_ids = [
                b.add_list(ListMeta::new("a", "c", Action::Block, Source::file("a", 0))).unwrap(),
                b.add_list(ListMeta::new("b", "c", Action::Warn, Source::file("b", 0))).unwrap(),
            ];
            for (l, p) in &prefixes {
                b.add_prefix_str(lists_ids[*l], &format!("+{p}"), Source::file("p", 1)).unwrap();
            }
            let lists = b.build();
            for digits in &numbers {
                let num = n(&format!("+{digits}"));
                let hits = lists.lookup(&num, 0);
                for (l, id) in lists_ids.iter().enumerate() {
                    let longest = prefixes
                        .iter()
                        .filter(|(pl, p)| *pl == l && digits.starts_with(p.as_str()))
                        .map(|(_, p)| p.len())
                        .max();
                    let found = hits.on_list(*id).map(|h| h.matched);
                    proptest::prop_assert_eq!(
                        found,
                        longest.map(|len| Matched::Prefix { len: len as u8 }),
                        "number {} list {}", digits, l
                    );
                }
            }
        }
    }
}
