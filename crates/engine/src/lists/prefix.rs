//! The prefix index: digit prefixes hashed per length, probed longest first.
//!
//! Guarantees: a lookup costs one probe per distinct prefix length present (a handful), not
//! one per prefix; the longest matching prefix of each list wins; a gate on the leading
//! digits rules most numbers out with one bit test.

use super::*;

/// A prefix with its list and source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PrefixRecord {
    pub(super) prefix: Prefix,
    pub(super) list: ListId,
    pub(super) source: Source,
}

/// One prefix entry: list, action, expiry (ms, `u64::MAX` = never) and record index.
pub(super) type PrefixEntry = (ListId, Action, u64, u32);

/// Prefixes hashed per length: a number's prefixes of every length that occurs in the set
/// are looked up, longest first. Packs hold few distinct lengths, so this is a handful of
/// independent probes into a small table (no pointer chasing as in a trie).
#[derive(Debug, Default)]
pub(super) struct PrefixIndex {
    /// Per kind (E.164, service): bit `L` set when a prefix of `L` digits exists.
    pub(super) lengths: [u32; 2],
    /// `prefix_key` → range of `entries`.
    pub(super) slots: FxHashMap<u64, (u32, u32)>,
    pub(super) entries: Vec<PrefixEntry>,
    /// One bit per hashed `prefix_key` of `slots` (16 bits per key): a clear bit means the
    /// prefix is absent, so most probes of a number on no list skip the hash map.
    pub(super) filter: Vec<u64>,
    /// `64 - log2(bits of filter)`: the top bits of the mixed key pick the bit.
    pub(super) filter_shift: u32,
    /// Per kind, one bit per value of [`GATE_DIGITS`] leading digits: set when some prefix of
    /// at least that many digits starts with them. A clear bit rules out every longer prefix
    /// of a number at once (one test instead of one filter probe per prefix length).
    pub(super) gate: Vec<u64>,
}

/// Leading digits indexed by [`PrefixIndex::gate`].
pub(super) const GATE_DIGITS: usize = 4;
/// Values of [`GATE_DIGITS`] digits (10^4).
pub(super) const GATE_VALUES: usize = 10_000;

/// Kind index (0 E.164, 1 service), length and value of a prefix in one `u64`: 10^16 < 2^54.
pub(super) fn prefix_key(kind: usize, len: usize, value: u64) -> u64 {
    ((kind as u64) << 61) | ((len as u64) << 56) | value
}

pub(super) fn kind_index(kind: NumberKind) -> Option<usize> {
    match kind {
        NumberKind::E164 => Some(0),
        NumberKind::Service => Some(1),
        NumberKind::Alphanumeric => None,
    }
}

impl PrefixIndex {
    /// Builds the index from records sorted by prefix (equal prefixes adjacent).
    pub(super) fn build(records: &[PrefixRecord], actions: &[Action]) -> PrefixIndex {
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
    pub(super) fn gate_bit(kind: usize, lead: u64) -> usize {
        kind * GATE_VALUES + (lead as usize % GATE_VALUES)
    }

    pub(super) fn open_gate(&mut self, kind: usize, lead: u64) {
        let bit = PrefixIndex::gate_bit(kind, lead);
        if let Some(word) = self.gate.get_mut(bit / 64) {
            *word |= 1u64 << (bit % 64);
        }
    }

    /// Whether some prefix of at least [`GATE_DIGITS`] digits starts with `lead` (false:
    /// certainly none).
    #[inline]
    pub(super) fn gate_open(&self, kind: usize, lead: u64) -> bool {
        let bit = PrefixIndex::gate_bit(kind, lead);
        self.gate
            .get(bit / 64)
            .is_none_or(|w| w & (1u64 << (bit % 64)) != 0)
    }

    /// The bit of `key` in the filter.
    #[inline]
    pub(super) fn filter_bit(&self, key: u64) -> usize {
        (mix(key) >> self.filter_shift) as usize
    }

    /// Whether `key` may be in `slots` (false: certainly not).
    #[inline]
    pub(super) fn may_hold(&self, key: u64) -> bool {
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
    pub(super) fn walk(
        &self,
        kind: NumberKind,
        digits: &[u8],
        mut f: impl FnMut(u8, &PrefixEntry),
    ) {
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

#[cfg(test)]
mod tests {
    //! Numbers are synthetic (170/171 virtual-operator ranges).
    use super::*;
    use crate::lists::tests::n;

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
}
