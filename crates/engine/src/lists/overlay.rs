//! The overlay: exact numbers added and removed since the base table was built, in a
//! frozen shared layer and a small recent one.
//!
//! Guarantees: an update copies only the recent layer (the frozen one is shared and refolded
//! when the recent one outgrows a quarter of it), so the cost per change is amortised
//! constant; a key in the recent layer, even with no entries, overrides the frozen one.

use super::*;

/// An added or removed exact number in the overlay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum OverlayEntry {
    Added { list: ListId, source: Source },
    Removed { list: ListId },
}

impl OverlayEntry {
    pub(super) fn list(&self) -> ListId {
        match self {
            OverlayEntry::Added { list, .. } | OverlayEntry::Removed { list } => *list,
        }
    }
}

pub(super) type OverlayMap = FxHashMap<u64, Vec<OverlayEntry>>;

/// Keys the recent layer may hold before it is folded into the frozen one (at least).
pub(super) const MIN_RECENT: usize = 4_096;

/// Added and removed exact numbers, in two layers so an update copies only the small one:
/// `recent` (copied by every [`NumberLists::with_changes`]) and `frozen` (shared; rebuilt
/// only when `recent` outgrows a quarter of it, so the copying stays amortised constant per
/// change). A key present in `recent`, even with no entries, overrides `frozen`.
#[derive(Debug, Default, Clone)]
pub(super) struct Overlay {
    pub(super) frozen: Arc<OverlayMap>,
    pub(super) recent: OverlayMap,
}

impl Overlay {
    pub(super) fn is_empty(&self) -> bool {
        self.frozen.is_empty() && self.recent.is_empty()
    }

    pub(super) fn get(&self, key: u64) -> Option<&[OverlayEntry]> {
        match self.recent.get(&key) {
            Some(entries) => Some(entries),
            None => self.frozen.get(&key).map(Vec::as_slice),
        }
    }

    /// The entries of `key`, copied into `recent` for editing.
    pub(super) fn entries_mut(&mut self, key: u64) -> &mut Vec<OverlayEntry> {
        let frozen = &self.frozen;
        self.recent
            .entry(key)
            .or_insert_with(|| frozen.get(&key).cloned().unwrap_or_default())
    }

    /// Keys with at least one entry.
    pub(super) fn len(&self) -> usize {
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
    pub(super) fn merged(&self) -> OverlayMap {
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
    pub(super) fn settle(&mut self) {
        if self.recent.len() > MIN_RECENT.max(self.frozen.len() / 4) {
            self.frozen = Arc::new(self.merged());
            self.recent = OverlayMap::default();
        }
    }
}

#[cfg(test)]
mod tests {
    //! Numbers are synthetic (170/171 virtual-operator ranges).
    use super::*;
    use crate::lists::tests::n;

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
}
