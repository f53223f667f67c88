//! Parts of a concatenated SMS over IP (3GPP TS 24.341), which arrive one SIP MESSAGE each,
//! decided together.
//!
//! Decided alone, a script split across two MESSAGEs passes: no part holds it whole. Over
//! UDP the proxy holds each part (it forwards nothing and answers nothing, so the sender
//! retransmits, RFC 3261 Timer E) until the last part arrives or `hold_ms` passes; the whole
//! text is then decided once and the verdict remembered for every held part's transaction,
//! so each retransmission gets it: forwarded, or refused like the last part. Over TCP (no
//! retransmissions) nothing is held: each part is decided on the text of every part seen so
//! far, so the part that completes a script is refused. Memory is bounded: at most `max`
//! messages and `max_bytes` octets of held text are followed, the oldest forgotten first.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::ingest::{SmsPart, SmsPiece};

/// Which message a part belongs to: caller, callee, reference, total.
pub type HoldKey = (String, String, u16, u8);

struct Entry {
    since_ms: u64,
    bytes: usize,
    pieces: Vec<Option<SmsPiece>>,
    have: usize,
    held: Vec<u64>,
}

/// What to do with a part.
#[derive(Debug, PartialEq, Eq)]
pub enum Joined {
    /// Hold it: the message is not complete yet.
    Hold,
    /// Decide now on `text` (every part that arrived, in order) and give the same verdict to
    /// the `held` transactions.
    Decide {
        /// The joined text.
        text: String,
        /// Every part arrived.
        complete: bool,
        /// Transactions of the parts held until now.
        held: Vec<u64>,
    },
}

/// The parts being followed.
pub struct SmsHold {
    entries: Mutex<Entries>,
    hold_ms: u64,
    max: usize,
    max_bytes: usize,
}

#[derive(Default)]
struct Entries {
    map: HashMap<HoldKey, Entry>,
    bytes: usize,
}

impl Entries {
    fn remove(&mut self, key: &HoldKey) -> Option<Entry> {
        let e = self.map.remove(key)?;
        self.bytes -= e.bytes;
        Some(e)
    }

    fn forget_oldest(&mut self) {
        let oldest = self
            .map
            .iter()
            .min_by_key(|(_, e)| e.since_ms)
            .map(|(k, _)| k.clone());
        if let Some(k) = oldest {
            self.remove(&k);
        }
    }
}

impl SmsPiece {
    fn len(&self) -> usize {
        match self {
            SmsPiece::Ucs2(o) => o.len(),
            SmsPiece::Text(t) => t.len(),
        }
    }
}

impl SmsHold {
    /// Follows at most `max` messages holding at most `max_bytes` octets of text; a part
    /// waits at most `hold_ms` for the others.
    pub fn new(hold_ms: u64, max: usize, max_bytes: usize) -> SmsHold {
        SmsHold {
            entries: Mutex::new(Entries::default()),
            hold_ms,
            max: max.max(1),
            max_bytes,
        }
    }

    /// Adds `part` (transaction `txn`) of message `key` at `now_ms`; `may_hold` is false
    /// over TCP. A part seen before (a retransmission) keeps the first copy's text.
    pub fn add(
        &self,
        key: HoldKey,
        part: SmsPart,
        txn: u64,
        now_ms: u64,
        may_hold: bool,
    ) -> Joined {
        let Ok(mut entries) = self.entries.lock() else {
            return Joined::Decide {
                text: SmsPiece::join(&[Some(part.piece)]),
                complete: false,
                held: Vec::new(),
            };
        };
        if !entries.map.contains_key(&key) && entries.map.len() >= self.max {
            entries.forget_oldest();
        }
        let total = usize::from(part.total);
        let piece_len = part.piece.len();
        let entries = &mut *entries;
        let entry = entries.map.entry(key.clone()).or_insert_with(|| Entry {
            since_ms: now_ms,
            bytes: 0,
            pieces: vec![None; total],
            have: 0,
            held: Vec::new(),
        });
        if let Some(slot) = usize::from(part.seq)
            .checked_sub(1)
            .and_then(|i| entry.pieces.get_mut(i))
        {
            if slot.is_none() {
                *slot = Some(part.piece);
                entry.have += 1;
                entry.bytes += piece_len;
                entries.bytes += piece_len;
            }
        }
        let complete = entry.have == total;
        let expired = now_ms.saturating_sub(entry.since_ms) >= self.hold_ms;
        if may_hold && !complete && !expired {
            if !entry.held.contains(&txn) {
                entry.held.push(txn);
            }
            while entries.bytes > self.max_bytes && entries.map.len() > 1 {
                entries.forget_oldest();
            }
            return Joined::Hold;
        }
        let text = SmsPiece::join(&entry.pieces);
        let held = std::mem::take(&mut entry.held);
        if complete || expired {
            entries.remove(&key);
        }
        while entries.bytes > self.max_bytes && !entries.map.is_empty() {
            entries.forget_oldest();
        }
        Joined::Decide {
            text,
            complete,
            held,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(seq: u8, octets: &[u8]) -> SmsPart {
        SmsPart {
            reference: 7,
            total: 2,
            seq,
            piece: SmsPiece::Ucs2(octets.to_vec()),
        }
    }

    fn key() -> HoldKey {
        ("a".into(), "b".into(), 7, 2)
    }

    #[test]
    fn parts_are_held_then_decided_whole_with_a_split_character() {
        let h = SmsHold::new(10_000, 100, 1 << 20);
        let octets: Vec<u8> = "安全账户"
            .encode_utf16()
            .flat_map(u16::to_be_bytes)
            .collect();
        assert_eq!(
            h.add(key(), part(2, &octets[3..]), 2, 0, true),
            Joined::Hold
        );
        assert_eq!(
            h.add(key(), part(2, &octets[3..]), 2, 10, true),
            Joined::Hold
        );
        assert_eq!(
            h.add(key(), part(1, &octets[..3]), 1, 20, true),
            Joined::Decide {
                text: "安全账户".into(),
                complete: true,
                held: vec![2],
            }
        );
    }

    #[test]
    fn without_holding_each_part_sees_what_came_before_and_time_releases_a_hold() {
        let h = SmsHold::new(1_000, 100, 1 << 20);
        let octets: Vec<u8> = "安全账户"
            .encode_utf16()
            .flat_map(u16::to_be_bytes)
            .collect();
        match h.add(key(), part(1, &octets[..4]), 1, 0, false) {
            Joined::Decide { text, complete, .. } => {
                assert_eq!(text, "安全\u{FFFD}");
                assert!(!complete);
            }
            other => panic!("{other:?}"),
        }
        match h.add(key(), part(2, &octets[4..]), 2, 5, false) {
            Joined::Decide { text, complete, .. } => {
                assert_eq!(text, "安全账户");
                assert!(complete);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            h.add(key(), part(1, &octets[..4]), 3, 0, true),
            Joined::Hold
        );
        match h.add(key(), part(1, &octets[..4]), 3, 1_000, true) {
            Joined::Decide { complete, held, .. } => {
                assert!(!complete);
                assert_eq!(held, vec![3]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn held_octets_are_bounded_and_the_oldest_message_goes_first() {
        let h = SmsHold::new(10_000, 100, 300);
        for r in 0..4u16 {
            let k: HoldKey = ("a".into(), "b".into(), r, 2);
            let p = SmsPart {
                reference: r,
                total: 2,
                seq: 1,
                piece: SmsPiece::Ucs2(vec![0; 140]),
            };
            assert_eq!(h.add(k, p, u64::from(r), u64::from(r), true), Joined::Hold);
        }
        let e = h.entries.lock().unwrap();
        assert!(e.bytes <= 300, "{}", e.bytes);
        assert_eq!(e.map.len(), 2);
        assert!(e.map.keys().all(|k| k.2 >= 2), "the oldest were forgotten");
    }
}
