//! Shards: the bounded per-caller tables (one lock each in [`Behaviour`]), in least-recently-
//! seen order.
//!
//! Guarantees: a shard never holds more than its capacity (the least recently seen caller is
//! evicted to make room); each new entry first drops one caller gone idle from the old end,
//! so expiry costs amortised constant time and no sweep.

use super::*;

/// A slot of a shard: a caller and its neighbours in least-recently-seen order.
#[derive(Debug, Clone, Copy)]
pub(super) struct Slot {
    pub(super) state: CallerState,
    pub(super) newer: u32,
    pub(super) older: u32,
}

#[derive(Debug, Default)]
pub(super) struct Shard {
    pub(super) index: FxHashMap<u64, u32>,
    pub(super) slots: Vec<Slot>,
    pub(super) free: Vec<u32>,
    pub(super) newest: u32,
    pub(super) oldest: u32,
    pub(super) evictions: u64,
    pub(super) expired: u64,
}

impl Shard {
    pub(super) fn new(capacity: usize) -> Shard {
        let mut index = FxHashMap::default();
        index.reserve(capacity);
        Shard {
            index,
            slots: Vec::with_capacity(capacity),
            free: Vec::new(),
            newest: NONE,
            oldest: NONE,
            evictions: 0,
            expired: 0,
        }
    }

    pub(super) fn unlink(&mut self, i: u32) {
        let Some(&Slot { newer, older, .. }) = self.slots.get(i as usize) else {
            return;
        };
        match self.slots.get_mut(newer as usize) {
            Some(s) => s.older = older,
            None => self.newest = older,
        }
        match self.slots.get_mut(older as usize) {
            Some(s) => s.newer = newer,
            None => self.oldest = newer,
        }
    }

    pub(super) fn push_newest(&mut self, i: u32) {
        let previous = self.newest;
        if let Some(s) = self.slots.get_mut(i as usize) {
            s.newer = NONE;
            s.older = previous;
        }
        match self.slots.get_mut(previous as usize) {
            Some(s) => s.newer = i,
            None => self.oldest = i,
        }
        self.newest = i;
    }

    pub(super) fn remove_oldest(&mut self) -> Option<u32> {
        let i = self.oldest;
        let key = self.slots.get(i as usize)?.state.key;
        self.unlink(i);
        self.index.remove(&key);
        Some(i)
    }

    /// The caller's state, created (evicting or expiring as needed) when absent.
    pub(super) fn entry(
        &mut self,
        key: u64,
        at_ms: u64,
        capacity: usize,
        idle_ms: u64,
    ) -> Option<&mut CallerState> {
        // Drop one caller that went idle, from the old end: amortised expiry.
        let oldest_idle = self.slots.get(self.oldest as usize).is_some_and(|s| {
            s.state.key != key && s.state.last_seen_ms.saturating_add(idle_ms) <= at_ms
        });
        if oldest_idle {
            if let Some(i) = self.remove_oldest() {
                self.free.push(i);
                self.expired += 1;
            }
        }
        let i = match self.index.get(&key) {
            Some(&i) => {
                self.unlink(i);
                i
            }
            None => {
                let i = if let Some(i) = self.free.pop() {
                    i
                } else if self.slots.len() < capacity {
                    self.slots.push(Slot {
                        state: CallerState::new(key, at_ms),
                        newer: NONE,
                        older: NONE,
                    });
                    (self.slots.len() - 1) as u32
                } else {
                    let i = self.remove_oldest()?;
                    self.evictions += 1;
                    i
                };
                if let Some(s) = self.slots.get_mut(i as usize) {
                    s.state = CallerState::new(key, at_ms);
                }
                self.index.insert(key, i);
                i
            }
        };
        self.push_newest(i);
        let state = &mut self.slots.get_mut(i as usize)?.state;
        if state.last_seen_ms.saturating_add(idle_ms) <= at_ms {
            *state = CallerState::new(key, at_ms); // idle too long: counters expired
        }
        state.last_seen_ms = state.last_seen_ms.max(at_ms);
        Some(state)
    }
}
