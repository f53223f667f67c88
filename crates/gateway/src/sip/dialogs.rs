//! The live calls a stateless proxy still follows: offered, answered, ended.
//!
//! The proxy keeps no transaction state, but a carrier's detectors need a call's outcome:
//! the concurrency and short-call detectors learn when calls are answered and how long they
//! last, and a warned call that is answered and goes on is a victim at risk. The table is
//! bounded (`max_live_calls`): when full, the oldest call is dropped and counted; a call with
//! no news for `call_timeout` is dropped by [`Dialogs::sweep`].
//!
//! Following a call allocates nothing: calls are keyed by a keyed hash of their Call-ID
//! (SipHash with a per-process random key, so a sender cannot make two Call-IDs collide),
//! and the identities a record names are kept inline, cut at a character boundary.

use std::collections::VecDeque;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;

use interdict_engine::Decision;
use rustc_hash::{FxHashMap, FxHashSet};

/// A Call-ID as kept for records: its first 96 octets (Call-IDs are a few dozen in practice).
pub type CallIdText = heapless::String<96>;
/// A caller or callee as kept for records: its first 48 octets (an E.164 number is 16).
pub type PartyText = heapless::String<48>;

/// The longest prefix of `s` that fits in `N` octets, cut at a character boundary.
pub fn inline<const N: usize>(s: &str) -> heapless::String<N> {
    let mut end = s.len().min(N);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = heapless::String::new();
    // Cannot fail: `end <= N` octets and a character boundary.
    let _ = out.push_str(s.get(..end).unwrap_or_default());
    out
}

/// One followed call.
#[derive(Debug, Clone)]
pub struct Call {
    /// The Call-ID.
    pub call_id: CallIdText,
    /// The primary caller as the engine read it.
    pub caller: PartyText,
    /// The primary callee.
    pub callee: PartyText,
    /// When the INVITE arrived (ms since the epoch).
    pub offered_ms: u64,
    /// When a 2xx answered it.
    pub answered_ms: Option<u64>,
    /// The warn decision, for a warned call (a victim-at-risk record repeats it).
    pub warned: Option<Box<Decision>>,
    /// Whether its victim-at-risk record was made.
    pub victim_reported: bool,
    /// Ingress and trunk of the INVITE, for the records.
    pub ingress: interdict_engine::Ingress,
    /// The peer the INVITE came from.
    pub peer: std::net::SocketAddr,
}

/// What happened to a call, for the engine's `CallAnswered` / `CallEnded` events.
#[derive(Debug, Clone)]
pub enum Change {
    /// The call was answered.
    Answered(Call),
    /// The call ended after `duration_ms` of conversation (0 if never answered).
    Ended(Call, u64),
}

/// The bounded table of live calls, keyed by Call-ID.
pub struct Dialogs {
    inner: Mutex<Inner>,
    max: usize,
    keys: RandomState,
}

struct Inner {
    /// Calls by the keyed hash of their Call-ID.
    calls: FxHashMap<u64, Call>,
    /// (offered at, key) in arrival order, for eviction and timeouts.
    order: VecDeque<(u64, u64)>,
    /// Warned calls not yet reported: the only ones the victim sweep looks at (scanning
    /// every call each sweep stalled the workers once the table was full).
    warned: FxHashSet<u64>,
}

impl Dialogs {
    /// A table of at most `max` calls.
    pub fn new(max: usize) -> Dialogs {
        Dialogs {
            inner: Mutex::new(Inner {
                calls: FxHashMap::default(),
                order: VecDeque::new(),
                warned: FxHashSet::default(),
            }),
            max: max.max(1),
            keys: RandomState::new(),
        }
    }

    fn key(&self, call_id: &str) -> u64 {
        self.keys.hash_one(call_id)
    }

    /// Number of calls followed.
    pub fn len(&self) -> usize {
        self.inner.lock().map_or(0, |i| i.calls.len())
    }

    /// Whether no call is followed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Follows a new call; returns how many old calls were dropped to make room and how many
    /// calls are followed now.
    /// `call_id` is the whole Call-ID (the call keeps only its head, for records).
    pub fn offer(&self, call_id: &str, call: Call) -> (u64, usize) {
        let key = self.key(call_id);
        let Ok(mut inner) = self.inner.lock() else {
            return (0, 0);
        };
        if inner.calls.contains_key(&key) {
            return (0, inner.calls.len());
        }
        let mut evicted = 0;
        while inner.calls.len() >= self.max {
            let Some((_, id)) = inner.order.pop_front() else {
                break;
            };
            inner.warned.remove(&id);
            if inner.calls.remove(&id).is_some() {
                evicted += 1;
            }
        }
        inner.order.push_back((call.offered_ms, key));
        if call.warned.is_some() {
            inner.warned.insert(key);
        }
        inner.calls.insert(key, call);
        (evicted, inner.calls.len())
    }

    /// A 2xx to the call's INVITE passed: the call is answered (once).
    pub fn answered(&self, call_id: &str, at_ms: u64) -> Option<Change> {
        let key = self.key(call_id);
        let mut inner = self.inner.lock().ok()?;
        let call = inner.calls.get_mut(&key)?;
        if call.answered_ms.is_some() {
            return None;
        }
        call.answered_ms = Some(at_ms);
        Some(Change::Answered(call.clone()))
    }

    /// A BYE, a CANCEL or a final non-2xx answer ended the call.
    pub fn ended(&self, call_id: &str, at_ms: u64) -> Option<Change> {
        let key = self.key(call_id);
        let mut inner = self.inner.lock().ok()?;
        inner.warned.remove(&key);
        let call = inner.calls.remove(&key)?;
        let duration = call
            .answered_ms
            .map_or(0, |answered| at_ms.saturating_sub(answered));
        Some(Change::Ended(call, duration))
    }

    /// Drops calls with no news for `timeout_ms` and returns the warned, answered calls that
    /// have lasted `victim_after_ms` and were not yet reported (marking them reported).
    pub fn sweep(&self, now_ms: u64, timeout_ms: u64, victim_after_ms: u64) -> Vec<Call> {
        let Ok(mut inner) = self.inner.lock() else {
            return Vec::new();
        };
        while let Some(&(offered, id)) = inner.order.front() {
            if now_ms.saturating_sub(offered) < timeout_ms {
                break;
            }
            inner.order.pop_front();
            inner.warned.remove(&id);
            inner.calls.remove(&id);
        }
        // The order queue may hold ids of calls already ended; bound it too.
        if inner.order.len() > inner.calls.len().saturating_mul(2) + 1024 {
            let Inner { calls, order, .. } = &mut *inner;
            order.retain(|(_, key)| calls.contains_key(key));
        }
        let mut victims = Vec::new();
        let Inner { calls, warned, .. } = &mut *inner;
        warned.retain(|id| {
            let Some(call) = calls.get_mut(id) else {
                return false;
            };
            match call.answered_ms {
                Some(answered) if now_ms.saturating_sub(answered) >= victim_after_ms => {
                    call.victim_reported = true;
                    victims.push(call.clone());
                    false
                }
                _ => true,
            }
        });
        victims
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use interdict_engine::{Party, Verdict};

    fn call(id: &str, at: u64, warned: bool) -> Call {
        let mut d = Decision::pass(
            Party::new("+8617055550001", None),
            Party::new("+8613800000001", None),
        );
        d.verdict = Verdict::Warn;
        Call {
            call_id: inline(id),
            caller: inline("+8617055550001"),
            callee: inline("+8613800000001"),
            offered_ms: at,
            answered_ms: None,
            warned: warned.then(|| Box::new(d)),
            victim_reported: false,
            ingress: interdict_engine::Ingress::Domestic,
            peer: "127.0.0.1:5060".parse().unwrap(),
        }
    }

    #[test]
    fn the_table_is_bounded_and_the_oldest_call_goes_first() {
        let d = Dialogs::new(2);
        assert_eq!(d.offer("a", call("a", 0, false)), (0, 1));
        assert_eq!(d.offer("b", call("b", 1, false)), (0, 2));
        assert_eq!(d.offer("c", call("c", 2, false)), (1, 2));
        assert!(d.answered("a", 3).is_none(), "a was evicted");
        assert!(d.answered("c", 3).is_some());
    }

    #[test]
    fn a_warned_call_is_a_victim_once_it_has_lasted_and_never_after_it_ended() {
        let d = Dialogs::new(10);
        for (id, warned) in [("long", true), ("short", true), ("plain", false)] {
            d.offer(id, call(id, 0, warned));
        }
        for id in ["long", "short", "plain"] {
            d.answered(id, 1_000);
        }
        assert!(matches!(
            d.ended("short", 2_000),
            Some(Change::Ended(_, 1_000))
        ));
        assert!(
            d.sweep(60_000, 3_600_000, 120_000).is_empty(),
            "not long enough yet"
        );
        let victims = d.sweep(121_000, 3_600_000, 120_000);
        assert_eq!(victims.len(), 1);
        assert_eq!(victims[0].call_id.as_str(), "long");
        assert!(
            d.sweep(200_000, 3_600_000, 120_000).is_empty(),
            "reported once"
        );
        // Calls with no news for the timeout are dropped.
        d.sweep(4_000_000, 3_600_000, 120_000);
        assert!(d.is_empty());
    }

    #[test]
    fn long_call_ids_are_told_apart_by_the_whole_id_and_kept_cut_for_records() {
        let d = Dialogs::new(10);
        let head = "x".repeat(200);
        let (a, b) = (format!("{head}a"), format!("{head}b"));
        d.offer(&a, call(&a, 0, false));
        d.offer(&b, call(&b, 0, false));
        assert_eq!(
            d.len(),
            2,
            "ids equal in their first 96 octets are two calls"
        );
        let Some(Change::Answered(c)) = d.answered(&b, 5) else {
            panic!("b is followed")
        };
        assert_eq!(c.call_id.len(), 96);
        assert!(d.ended(&a, 6).is_some() && d.ended(&a, 7).is_none());
    }

    #[test]
    fn inline_cuts_at_a_character_boundary() {
        let s: PartyText = inline(&"号".repeat(20)); // 60 octets
        assert_eq!(s.len(), 48);
        assert!(s.chars().all(|c| c == '号'));
    }
}
