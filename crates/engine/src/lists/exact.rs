//! The exact table: one open-addressing table of `u64` slots shared by every list, a
//! [`NumberKey`] with its list index packed above it per slot.
//!
//! Guarantees: a load of at most 5/8 (`LOAD_NUM / LOAD_DEN`), so a lookup probes a few
//! adjacent slots whatever the number of entries; lookups never allocate; memory is
//! `slots.len() * 8` bytes, at most 12.8 bytes per number plus rounding.

use super::*;

/// The open-addressing table of exact numbers (see module docs).
#[derive(Debug, Default)]
pub(super) struct ExactTable {
    pub(super) slots: Box<[u64]>,
    pub(super) len: usize,
}

impl ExactTable {
    pub(super) fn with_entries(entries: &[u64]) -> ExactTable {
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

    pub(super) fn home(&self, key: u64) -> usize {
        ((u128::from(mix(key)) * self.slots.len() as u128) >> 64) as usize
    }

    /// Inserts a packed entry (list << KEY_BITS | key); duplicates are ignored. The caller
    /// sized the table so a free slot always exists.
    pub(super) fn insert(&mut self, entry: u64) {
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
    pub(super) fn for_each_list(&self, key: u64, mut f: impl FnMut(ListId)) {
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

    pub(super) fn contains(&self, key: u64, list: ListId) -> bool {
        let mut found = false;
        self.for_each_list(key, |l| found |= l == list);
        found
    }
}

/// SplitMix64 finaliser: spreads sequential numbers over the table (and, in behaviour, over
/// shards and fingerprints).
#[inline]
pub(crate) fn mix(key: u64) -> u64 {
    let mut z = key;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    //! Numbers are synthetic (170/171 virtual-operator ranges).
    use crate::lists::tests::big_list;

    /// Memory per exact number, measured on a real table of one million synthetic numbers.
    #[test]
    fn exact_memory_at_most_16_bytes_per_number() {
        const COUNT: u64 = 1_000_000;
        let (b, _, first) = big_list(COUNT, 7);
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
}
