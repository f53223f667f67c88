//! A bounded memory of recent transactions, forgotten by generations instead of by scans.
//!
//! Entries go into the current generation; every `span` the previous generation is dropped
//! and the current one becomes the previous. An entry is therefore remembered for at least
//! one span and at most two, with no periodic scan over every entry (a scan of 100,000
//! entries ten times a second cost more than the lookups it served). Sharded by key, so
//! workers rarely wait for one another; each generation of a shard is bounded (a full one
//! rotates early).

use std::sync::Mutex;

use rustc_hash::FxHashMap;

const SHARDS: usize = 16;

struct Generations<V> {
    current: FxHashMap<u64, V>,
    previous: FxHashMap<u64, V>,
    started_ms: u64,
}

impl<V> Generations<V> {
    fn rotate_if_due(&mut self, now_ms: u64, span_ms: u64, max: usize) {
        let age = now_ms.saturating_sub(self.started_ms);
        if age >= span_ms.saturating_mul(2) {
            // Idle for two spans: everything is stale.
            self.current.clear();
            self.previous.clear();
            self.started_ms = now_ms;
        } else if age >= span_ms || self.current.len() >= max {
            std::mem::swap(&mut self.current, &mut self.previous);
            self.current.clear();
            self.started_ms = now_ms;
        }
    }
}

/// Recent transactions by 64-bit key, remembered for one to two `span_ms`.
pub struct Recent<V> {
    shards: Vec<Mutex<Generations<V>>>,
    span_ms: u64,
    max_per_generation: usize,
}

impl<V: Copy> Recent<V> {
    /// A memory of about `capacity` entries (per generation), each kept `span_ms` to twice that.
    pub fn new(span_ms: u64, capacity: usize) -> Recent<V> {
        Recent {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Generations {
                        current: FxHashMap::default(),
                        previous: FxHashMap::default(),
                        started_ms: 0,
                    })
                })
                .collect(),
            span_ms: span_ms.max(1),
            max_per_generation: (capacity / SHARDS).max(16),
        }
    }

    fn shard(&self, key: u64) -> Option<&Mutex<Generations<V>>> {
        // The key is a hash already; its top bits pick the shard.
        self.shards.get((key >> 60) as usize % SHARDS)
    }

    /// The value remembered for `key`, if any.
    pub fn get(&self, key: u64, now_ms: u64) -> Option<V> {
        let mut g = self.shard(key)?.lock().ok()?;
        g.rotate_if_due(now_ms, self.span_ms, self.max_per_generation);
        g.current
            .get(&key)
            .or_else(|| g.previous.get(&key))
            .copied()
    }

    /// Remembers `value` for `key`.
    pub fn insert(&self, key: u64, value: V, now_ms: u64) {
        let Some(shard) = self.shard(key) else { return };
        let Ok(mut g) = shard.lock() else { return };
        g.rotate_if_due(now_ms, self.span_ms, self.max_per_generation);
        g.current.insert(key, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_live_one_to_two_spans_and_memory_is_bounded() {
        let r: Recent<u32> = Recent::new(1_000, 16 * 100);
        r.insert(1, 7, 0);
        assert_eq!(r.get(1, 500), Some(7));
        assert_eq!(r.get(1, 1_500), Some(7), "still in the previous generation");
        assert_eq!(r.get(1, 2_600), None, "two spans later it is gone");
        // A flood rotates early instead of growing: every shard stays bounded.
        for k in 0..100_000u64 {
            r.insert(k.wrapping_mul(0x9e37_79b9_7f4a_7c15), 1, 3_000);
        }
        for s in &r.shards {
            let g = s.lock().unwrap();
            assert!(g.current.len() <= 100 && g.previous.len() <= 100);
        }
    }
}
