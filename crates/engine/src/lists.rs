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

/// The open-addressing table of exact numbers (see module docs).
#[derive(Debug, Default)]
struct ExactTable {
    slots: Box<[u64]>,
    len: usize,
}

impl ExactTable {
    fn with_entries(entries: &[u64]) -> ExactTable {
        let cap = if entries.is_empty() {
            0
        } else {
            (entries.len() * LOAD_DEN).div_ceil(LOAD_NUM).max(8)
        };
        let mut table = ExactTable {
            slots: vec![0u64; cap].into_boxed_slice(),
            len: 0,
        };
        for e in entries {
            table.insert(*e);
        }
        table
    }

    fn home(&self, key: u64) -> usize {
        ((u128::from(mix(key)) * self.slots.len() as u128) >> 64) as usize
    }

    /// Inserts a packed entry (list << KEY_BITS | key); duplicates are ignored. The caller
    /// sized the table so a free slot always exists.
    fn insert(&mut self, entry: u64) {
        let cap = self.slots.len();
        let mut i = self.home(entry & KEY_MASK);
        for _ in 0..cap {
            match self.slots.get_mut(i) {
                Some(slot) if *slot == 0 => {
                    *slot = entry;
                    self.len += 1;
                    return;
                }
                Some(slot) if *slot == entry => return,
                _ => {}
            }
            i += 1;
            if i == cap {
                i = 0;
            }
        }
    }

    /// Calls `f` with each list holding `key`.
    #[inline]
    fn for_each_list(&self, key: u64, mut f: impl FnMut(ListId)) {
        let cap = self.slots.len();
        if cap == 0 {
            return;
        }
        let mut i = self.home(key);
        for _ in 0..cap {
            let Some(&slot) = self.slots.get(i) else {
                return;
            };
            if slot == 0 {
                return;
            }
            if slot & KEY_MASK == key {
                f(ListId((slot >> KEY_BITS) as u16));
            }
            i += 1;
            if i == cap {
                i = 0;
            }
        }
    }

    fn contains(&self, key: u64, list: ListId) -> bool {
        let mut found = false;
        self.for_each_list(key, |l| found |= l == list);
        found
    }
}

/// SplitMix64 finaliser: spreads sequential numbers over the table.
#[inline]
fn mix(key: u64) -> u64 {
    let mut z = key;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// An added or removed exact number in the overlay.
#[derive(Debug, Clone, PartialEq, Eq)]
enum OverlayEntry {
    Added { list: ListId, source: Source },
    Removed { list: ListId },
}

impl OverlayEntry {
    fn list(&self) -> ListId {
        match self {
            OverlayEntry::Added { list, .. } | OverlayEntry::Removed { list } => *list,
        }
    }
}

type OverlayMap = FxHashMap<u64, Vec<OverlayEntry>>;

/// Keys the recent layer may hold before it is folded into the frozen one (at least).
const MIN_RECENT: usize = 4_096;

/// Added and removed exact numbers, in two layers so an update copies only the small one:
/// `recent` (copied by every [`NumberLists::with_changes`]) and `frozen` (shared; rebuilt
/// only when `recent` outgrows a quarter of it, so the copying stays amortised constant per
/// change). A key present in `recent`, even with no entries, overrides `frozen`.
#[derive(Debug, Default, Clone)]
struct Overlay {
    frozen: Arc<OverlayMap>,
    recent: OverlayMap,
}

impl Overlay {
    fn is_empty(&self) -> bool {
        self.frozen.is_empty() && self.recent.is_empty()
    }

    fn get(&self, key: u64) -> Option<&[OverlayEntry]> {
        match self.recent.get(&key) {
            Some(entries) => Some(entries),
            None => self.frozen.get(&key).map(Vec::as_slice),
        }
    }

    /// The entries of `key`, copied into `recent` for editing.
    fn entries_mut(&mut self, key: u64) -> &mut Vec<OverlayEntry> {
        let frozen = &self.frozen;
        self.recent
            .entry(key)
            .or_insert_with(|| frozen.get(&key).cloned().unwrap_or_default())
    }

    /// Keys with at least one entry.
    fn len(&self) -> usize {
        let mut len = self.frozen.len();
        for (key, entries) in &self.recent {
            match (self.frozen.contains_key(key), entries.is_empty()) {
                (true, true) => len -= 1,
                (false, false) => len += 1,
                _ => {}
            }
        }
        len
    }

    /// Both layers folded into one map.
    fn merged(&self) -> OverlayMap {
        let mut map = (*self.frozen).clone();
        for (key, entries) in &self.recent {
            if entries.is_empty() {
                map.remove(key);
            } else {
                map.insert(*key, entries.clone());
            }
        }
        map
    }

    /// Folds `recent` into `frozen` once it has grown past its share.
    fn settle(&mut self) {
        if self.recent.len() > MIN_RECENT.max(self.frozen.len() / 4) {
            self.frozen = Arc::new(self.merged());
            self.recent = OverlayMap::default();
        }
    }
}

/// A prefix with its list and source.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PrefixRecord {
    prefix: Prefix,
    list: ListId,
    source: Source,
}

/// One prefix entry: list, action, expiry (ms, `u64::MAX` = never) and record index.
type PrefixEntry = (ListId, Action, u64, u32);

/// Prefixes hashed per length: a number's prefixes of every length that occurs in the set
/// are looked up, longest first. Packs hold few distinct lengths, so this is a handful of
/// independent probes into a small table (no pointer chasing as in a trie).
#[derive(Debug, Default)]
struct PrefixIndex {
    /// Per kind (E.164, service): bit `L` set when a prefix of `L` digits exists.
    lengths: [u32; 2],
    /// `prefix_key` → range of `entries`.
    slots: FxHashMap<u64, (u32, u32)>,
    entries: Vec<PrefixEntry>,
    /// One bit per hashed `prefix_key` of `slots` (16 bits per key): a clear bit means the
    /// prefix is absent, so most probes of a number on no list skip the hash map.
    filter: Vec<u64>,
    /// `64 - log2(bits of filter)`: the top bits of the mixed key pick the bit.
    filter_shift: u32,
    /// Per kind, one bit per value of [`GATE_DIGITS`] leading digits: set when some prefix of
    /// at least that many digits starts with them. A clear bit rules out every longer prefix
    /// of a number at once (one test instead of one filter probe per prefix length).
    gate: Vec<u64>,
}

/// Leading digits indexed by [`PrefixIndex::gate`].
const GATE_DIGITS: usize = 4;
/// Values of [`GATE_DIGITS`] digits (10^4).
const GATE_VALUES: usize = 10_000;

/// Kind index (0 E.164, 1 service), length and value of a prefix in one `u64`: 10^16 < 2^54.
fn prefix_key(kind: usize, len: usize, value: u64) -> u64 {
    ((kind as u64) << 61) | ((len as u64) << 56) | value
}

fn kind_index(kind: NumberKind) -> Option<usize> {
    match kind {
        NumberKind::E164 => Some(0),
        NumberKind::Service => Some(1),
        NumberKind::Alphanumeric => None,
    }
}

impl PrefixIndex {
    /// Builds the index from records sorted by prefix (equal prefixes adjacent).
    fn build(records: &[PrefixRecord], actions: &[Action]) -> PrefixIndex {
        let mut index = PrefixIndex {
            entries: Vec::with_capacity(records.len()),
            gate: vec![0u64; (2 * GATE_VALUES).div_ceil(64)],
            ..PrefixIndex::default()
        };
        index.slots.reserve(records.len());
        let mut previous = None;
        for (i, r) in records.iter().enumerate() {
            let Some(kind) = kind_index(r.prefix.kind) else {
                continue;
            };
            let digits = r.prefix.digits();
            let value = digits
                .iter()
                .fold(0u64, |v, d| v * 10 + u64::from(d - b'0'));
            let key = prefix_key(kind, digits.len(), value);
            if let Some(lead) = digits
                .len()
                .checked_sub(GATE_DIGITS)
                .and_then(|k| POW10.get(k))
            {
                index.open_gate(kind, value / lead);
            }
            if let Some(bits) = index.lengths.get_mut(kind) {
                *bits |= 1 << digits.len();
            }
            let action = actions.get(r.list.index()).copied().unwrap_or(Action::Warn);
            let at = index.entries.len() as u32;
            index
                .entries
                .push((r.list, action, r.source.expiry(), i as u32));
            if previous == Some(key) {
                if let Some(range) = index.slots.get_mut(&key) {
                    range.1 += 1;
                }
            } else {
                index.slots.insert(key, (at, 1));
                previous = Some(key);
            }
        }
        let bits = (index.slots.len().saturating_mul(16))
            .next_power_of_two()
            .max(64);
        index.filter = vec![0u64; bits / 64];
        index.filter_shift = 64 - bits.trailing_zeros();
        let keys: Vec<u64> = index.slots.keys().copied().collect();
        for key in keys {
            let bit = index.filter_bit(key);
            if let Some(word) = index.filter.get_mut(bit / 64) {
                *word |= 1u64 << (bit % 64);
            }
        }
        index
    }

    /// Bit of `lead` (the value of [`GATE_DIGITS`] leading digits) for kind index `kind`.
    #[inline]
    fn gate_bit(kind: usize, lead: u64) -> usize {
        kind * GATE_VALUES + (lead as usize % GATE_VALUES)
    }

    fn open_gate(&mut self, kind: usize, lead: u64) {
        let bit = PrefixIndex::gate_bit(kind, lead);
        if let Some(word) = self.gate.get_mut(bit / 64) {
            *word |= 1u64 << (bit % 64);
        }
    }

    /// Whether some prefix of at least [`GATE_DIGITS`] digits starts with `lead` (false:
    /// certainly none).
    #[inline]
    fn gate_open(&self, kind: usize, lead: u64) -> bool {
        let bit = PrefixIndex::gate_bit(kind, lead);
        self.gate
            .get(bit / 64)
            .is_none_or(|w| w & (1u64 << (bit % 64)) != 0)
    }

    /// The bit of `key` in the filter.
    #[inline]
    fn filter_bit(&self, key: u64) -> usize {
        (mix(key) >> self.filter_shift) as usize
    }

    /// Whether `key` may be in `slots` (false: certainly not).
    #[inline]
    fn may_hold(&self, key: u64) -> bool {
        if self.filter.is_empty() {
            return true;
        }
        let bit = self.filter_bit(key);
        self.filter
            .get(bit / 64)
            .is_none_or(|w| w & (1u64 << (bit % 64)) != 0)
    }

    /// Calls `f(length, entry)` for every prefix of `digits` in the set, longest first.
    #[inline]
    fn walk(&self, kind: NumberKind, digits: &[u8], mut f: impl FnMut(u8, &PrefixEntry)) {
        let Some(k) = kind_index(kind) else {
            return;
        };
        let lengths = self.lengths.get(k).copied().unwrap_or(0);
        if lengths == 0 {
            return;
        }
        let longest = (31 - lengths.leading_zeros()) as usize;
        let max = digits.len().min(longest).min(MAX_PREFIX_DIGITS);
        let mut pending = lengths & ((2u32 << max) - 1);
        if pending == 0 {
            return;
        }
        // `digits` are ASCII digits (from `Normalised::digits`): `& 0x0f` is their value. The
        // value of a shorter prefix is this one divided by a power of ten.
        let full = digits
            .iter()
            .take(max)
            .fold(0u64, |v, d| v * 10 + u64::from(d & 0x0f));
        // Lengths of GATE_DIGITS and more: all ruled out by one test of the leading digits.
        if pending >> GATE_DIGITS != 0 {
            let lead = max
                .checked_sub(GATE_DIGITS)
                .and_then(|k| POW10.get(k))
                .map(|p| full / p);
            if lead.is_some_and(|lead| !self.gate_open(k, lead)) {
                pending &= (1u32 << GATE_DIGITS) - 1;
            }
        }
        while pending != 0 {
            let len = (31 - pending.leading_zeros()) as usize;
            pending &= !(1u32 << len);
            let value = max
                .checked_sub(len)
                .and_then(|k| POW10.get(k))
                .map_or(0, |p| full / p);
            let key = prefix_key(k, len, value);
            if !self.may_hold(key) {
                continue;
            }
            if let Some(&(from, count)) = self.slots.get(&key) {
                let (from, to) = (from as usize, from as usize + count as usize);
                for e in self.entries.get(from..to).unwrap_or(&[]) {
                    f(len as u8, e);
                }
            }
        }
    }
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

/// Builds [`NumberLists`] from a rule pack (the pack loader feeds it parsed lines).
#[derive(Debug, Default)]
pub struct NumberListsBuilder {
    meta: Vec<ListMeta>,
    exact: Vec<u64>,
    prefixes: Vec<PrefixRecord>,
    pushed: Vec<NumberChange>,
}

impl NumberListsBuilder {
    /// An empty builder.
    pub fn new() -> NumberListsBuilder {
        NumberListsBuilder::default()
    }

    /// An empty builder with room for `exact` exact numbers (avoids regrowth when loading
    /// millions of numbers).
    pub fn with_capacity(exact: usize) -> NumberListsBuilder {
        NumberListsBuilder {
            exact: Vec::with_capacity(exact),
            ..NumberListsBuilder::default()
        }
    }

    /// Makes room for `additional` more exact numbers (the pack loader calls it with a list
    /// file's line count, so a 10-million-number file never regrows the table being filled).
    pub fn reserve(&mut self, additional: usize) {
        self.exact.reserve(additional);
    }

    /// Declares a list; its id is its position.
    pub fn add_list(&mut self, meta: ListMeta) -> Result<ListId, ListError> {
        if self.meta.iter().any(|m| m.name == meta.name) {
            return Err(ListError::DuplicateList(meta.name.to_string()));
        }
        if self.meta.len() >= MAX_LISTS {
            return Err(ListError::TooManyLists);
        }
        let id = ListId(self.meta.len() as u16);
        self.meta.push(meta);
        Ok(id)
    }

    /// The list with this name, if declared.
    pub fn list_id(&self, name: &str) -> Option<ListId> {
        self.meta
            .iter()
            .position(|m| &*m.name == name)
            .map(|i| ListId(i as u16))
    }

    fn check(&self, list: ListId) -> Result<(), ListError> {
        if list.index() < self.meta.len() {
            Ok(())
        } else {
            Err(ListError::UnknownList(list.index()))
        }
    }

    /// Adds an exact number (duplicates are ignored).
    #[inline]
    pub fn add_exact(&mut self, list: ListId, key: NumberKey) -> Result<(), ListError> {
        self.check(list)?;
        self.exact.push((u64::from(list.0) << KEY_BITS) | key.raw());
        Ok(())
    }

    /// Adds an exact number with its own source (a pushed entry, possibly expiring): it is
    /// kept in the overlay so its source and expiry are known.
    pub fn add_exact_with_source(
        &mut self,
        list: ListId,
        key: NumberKey,
        source: Source,
    ) -> Result<(), ListError> {
        self.check(list)?;
        self.pushed.push(NumberChange::add(list, key, source));
        Ok(())
    }

    /// Adds a prefix.
    pub fn add_prefix(
        &mut self,
        list: ListId,
        prefix: Prefix,
        source: Source,
    ) -> Result<(), ListError> {
        self.check(list)?;
        self.prefixes.push(PrefixRecord {
            prefix,
            list,
            source,
        });
        Ok(())
    }

    /// Adds a prefix written as in list files (see [`parse_prefix`]).
    pub fn add_prefix_str(
        &mut self,
        list: ListId,
        text: &str,
        source: Source,
    ) -> Result<(), ListError> {
        let prefix = parse_prefix(text)?;
        self.add_prefix(list, prefix, source)
    }

    /// Builds the lists.
    pub fn build(mut self) -> NumberLists {
        let actions: Arc<[Action]> = self.meta.iter().map(|m| m.action).collect();
        self.prefixes.sort_by_key(|r| (r.prefix, r.list));
        self.prefixes
            .dedup_by(|a, b| a.prefix == b.prefix && a.list == b.list);
        let prefix_index = PrefixIndex::build(&self.prefixes, &actions);
        let exact = ExactTable::with_entries(&self.exact);
        let lists = NumberLists {
            meta: self.meta.into(),
            actions,
            exact: Arc::new(exact),
            overlay: Arc::new(Overlay::default()),
            prefixes: self.prefixes.into(),
            prefix_index: Arc::new(prefix_index),
        };
        if self.pushed.is_empty() {
            return lists;
        }
        // Every list id in `pushed` was checked when it was added.
        match lists.with_changes(&self.pushed) {
            Ok(l) => l,
            Err(_) => lists,
        }
    }
}

#[cfg(test)]
mod tests {
    //! Numbers are synthetic (170/171 virtual-operator ranges); service numbers are public
    //! short codes.
    use super::*;
    use crate::number::{normalise, NumberConfig};

    fn n(raw: &str) -> Normalised {
        normalise(raw, &NumberConfig::default()).unwrap()
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

    /// The prefix filter never hides a listed prefix: every one of several thousand prefixes
    /// of mixed lengths is found, and numbers under none of them are not.
    #[test]
    fn prefix_filter_keeps_every_listed_prefix() {
        let mut b = NumberListsBuilder::new();
        let list = b
            .add_list(ListMeta::new(
                "ranges",
                "reported_fraud",
                Action::Block,
                Source::file("ranges.txt", 0),
            ))
            .unwrap();
        // Synthetic 170/171 ranges: +86170NNNN (9 digits) and +86171NNNNN (10 digits).
        for i in 0..3000u32 {
            b.add_prefix_str(
                list,
                &format!("+86170{i:04}"),
                Source::file("ranges.txt", 1),
            )
            .unwrap();
            b.add_prefix_str(
                list,
                &format!("+86171{i:05}"),
                Source::file("ranges.txt", 2),
            )
            .unwrap();
        }
        let lists = b.build();
        for i in 0..3000u32 {
            let h = lists.lookup(&n(&format!("+86170{i:04}0001")), 0);
            assert_eq!(
                h.on_list(list).map(|h| h.matched),
                Some(Matched::Prefix { len: 9 }),
                "170 {i}"
            );
            let h = lists.lookup(&n(&format!("+86171{i:05}001")), 0);
            assert_eq!(
                h.on_list(list).map(|h| h.matched),
                Some(Matched::Prefix { len: 10 }),
                "171 {i}"
            );
            assert!(lists
                .lookup(&n(&format!("+86170{:04}0001", 5000 + i)), 0)
                .is_empty());
        }
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
    fn builder_pushed_entries_and_errors() {
        let mut b = NumberListsBuilder::with_capacity(4);
        let l = b
            .add_list(ListMeta::new("a", "c", Action::Warn, Source::file("a", 1)))
            .unwrap();
        assert_eq!(
            b.add_list(ListMeta::new("a", "c", Action::Warn, Source::file("a", 1))),
            Err(ListError::DuplicateList("a".into()))
        );
        assert_eq!(b.list_id("a"), Some(l));
        assert_eq!(
            b.add_exact(ListId(5), n("110").key()),
            Err(ListError::UnknownList(5))
        );
        b.add_exact_with_source(l, n("110").key(), Source::pushed("x", Some(10)))
            .unwrap();
        let lists = b.build();
        assert!(lists.lookup(&n("110"), 9).has_action(Action::Warn));
        assert!(lists.lookup(&n("110"), 10).is_empty());
        assert_eq!(lists.list_id("a"), Some(l));
        assert_eq!(lists.meta(l).map(|m| m.action), Some(Action::Warn));
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

    /// Memory per exact number, measured on a real table of one million synthetic numbers.
    #[test]
    fn exact_memory_at_most_16_bytes_per_number() {
        const COUNT: u64 = 1_000_000;
        let mut b = NumberListsBuilder::with_capacity(COUNT as usize);
        let l = b
            .add_list(ListMeta::new(
                "big",
                "c",
                Action::Block,
                Source::file("f", 1),
            ))
            .unwrap();
        let first = n("+8617000000000").key().raw();
        for i in 0..COUNT {
            b.add_exact(l, NumberKey::from_raw(first + i * 7).unwrap())
                .unwrap();
        }
        let lists = b.build();
        assert_eq!(lists.exact_len(), COUNT as usize);
        let per_number = lists.exact_memory_bytes() as f64 / COUNT as f64;
        println!(
            "exact table: {} bytes for {COUNT} numbers = {per_number:.2} bytes/number",
            lists.exact_memory_bytes()
        );
        assert!(per_number <= 16.0, "{per_number} bytes per number");
        // Every inserted number is found, its neighbours are not.
        for i in (0..COUNT).step_by(9_973) {
            let k = first + i * 7;
            let mut found = 0;
            lists.exact.for_each_list(k, |_| found += 1);
            assert_eq!(found, 1);
            let mut missing = 0;
            lists.exact.for_each_list(k + 1, |_| missing += 1);
            assert_eq!(missing, 0);
        }
    }

    /// A batch of 1,000 pushed changes on a 200k base: only the overlay is new.
    #[test]
    fn batch_of_changes_leaves_base_shared() {
        let mut b = NumberListsBuilder::with_capacity(200_000);
        let l = b
            .add_list(ListMeta::new(
                "big",
                "c",
                Action::Block,
                Source::file("f", 1),
            ))
            .unwrap();
        let first = n("+8617000000000").key().raw();
        for i in 0..200_000u64 {
            b.add_exact(l, NumberKey::from_raw(first + i).unwrap())
                .unwrap();
        }
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

    /// Many batches of adds and removes, with the overlay folding its layers on the way,
    /// agree with a plain set at every step.
    #[test]
    fn overlay_layers_agree_with_a_model() {
        let mut b = NumberListsBuilder::new();
        let l = b
            .add_list(ListMeta::new("l", "c", Action::Block, Source::file("f", 1)))
            .unwrap();
        let first = n("+8617000000000").key().raw();
        let key = |i: u64| NumberKey::from_raw(first + i).unwrap();
        let mut model = std::collections::HashSet::new();
        for i in 0..1_000u64 {
            b.add_exact(l, key(i * 3)).unwrap();
            model.insert(i * 3);
        }
        let mut lists = b.build();
        let mut x: u64 = 7;
        let mut settled = false;
        for _batch in 0..12 {
            let mut changes = Vec::new();
            for _ in 0..1_000 {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                let i = (x >> 33) % 20_000;
                if (x >> 20).is_multiple_of(3) {
                    changes.push(NumberChange::remove(l, key(i)));
                    model.remove(&i);
                } else {
                    changes.push(NumberChange::add(l, key(i), Source::pushed("p", None)));
                    model.insert(i);
                }
            }
            lists = lists.with_changes(&changes).unwrap();
            settled |= !lists.overlay.frozen.is_empty();
            assert!(lists.overlay.recent.len() <= MIN_RECENT.max(lists.overlay.frozen.len() / 4));
            for i in (0..20_000u64).step_by(7) {
                let num = n(&format!("+{}", 8_617_000_000_000 + i));
                assert_eq!(num.key(), key(i));
                let on = lists.lookup(&num, 0).on_list(l).is_some();
                assert_eq!(on, model.contains(&i), "key {i}");
            }
        }
        assert!(settled, "the recent layer was folded at least once");
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
