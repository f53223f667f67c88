//! Campaigns: one SMS template sent to many recipients from several senders.
//!
//! Fraud arrives in waves: the same script, with a name, an amount or a link changed, goes out
//! from a handful of numbers (a SIM box, rented cards) to hundreds of recipients. No single
//! sender bursts, and the words may be new to the rule pack, but the *template* repeats.
//!
//! # Fingerprint
//!
//! Each text is reduced to a one-permutation MinHash sketch of its three-character shingles:
//! the shingle hashes fall into [`SKETCH`] buckets by their top bits, and each bucket keeps its
//! smallest. The shingles are taken over the **normalised** text (simplified, lower case,
//! separators between CJK characters removed) with every character but the CJK ideographs
//! skipped: digits, links, ids and Latin names are masked, so `王伟 … http://a.example/x1 … 26元` and
//! `李娜 … http://b.example/y2 … 80元` sketch alike. Two texts whose sketches agree in at least
//! [`MIN_SHARED`] buckets are one template (their shingle sets overlap by roughly that share). A text with fewer than `template_min_chars` CJK ideographs is
//! too short to fingerprint ("好的", "收到") and is left alone; of a longer one only the first
//! [`HEAD_CHARS`] ideographs are read (a template shows in its opening sentences).
//!
//! # Table
//!
//! A fixed array of `template_slots` templates, reused in insertion order (the oldest is
//! overwritten), and an index from each sketch hash to the slot that last used it (a stale
//! index entry is harmless: a candidate is always checked against its own sketch). Each
//! template counts, within a tumbling window of `template_window_ms` from its first sight,
//! its distinct recipients (up to [`RECIPIENTS`]) and senders (up to [`SENDERS`]) as 32-bit
//! hashes. Memory is therefore fixed: about 290 bytes per slot plus two 4-byte index entries,
//! some 2.4 MB at the default 8 192 slots, whatever the traffic.
//!
//! Every message of a template past the thresholds is flagged with the template's id, so the
//! decisions of one wave (and so all of its senders) can be collected by that id.
//!
//! # Cost
//!
//! One pass over the head of the text (a hash and a bucket minimum per shingle of its first
//! [`HEAD_CHARS`] ideographs, no branch), then at most
//! [`SKETCH`] index probes and one small linear scan of the recipients and senders, under one
//! mutex. Nothing is allocated.

/// Buckets (hashes) per sketch; a power of two.
pub const SKETCH: usize = 4;
const _: () = assert!(SKETCH.is_power_of_two() && SKETCH > 1);
/// Sketch buckets two texts must agree in to be one template.
pub const MIN_SHARED: usize = 2;
/// Distinct recipients counted per template (the count saturates here).
pub const RECIPIENTS: usize = 48;
/// Distinct senders counted per template (the count saturates here).
pub const SENDERS: usize = 12;

/// A text's fingerprint: per bucket, the smallest shingle hash that fell in it (`u64::MAX` for
/// an empty bucket).
pub type Sketch = [u64; SKETCH];

/// CJK ideographs of a text that are fingerprinted: its head. A template is recognisable from
/// its first sentences, and the cost per message stays bounded whatever the text's length.
pub const HEAD_CHARS: usize = 48;

/// The sketch of `normalised` text, or `None` when it has fewer than `min_chars` CJK
/// ideographs (too short to be a template). Only the first [`HEAD_CHARS`] ideographs are
/// fingerprinted.
pub fn sketch(normalised: &str, min_chars: usize) -> Option<Sketch> {
    let mut mins = [u64::MAX; SKETCH];
    let (mut a, mut b) = (0u64, 0u64);
    let mut n = 0usize;
    // Only the CJK ideographs count: digits, links, ids and Latin names are masked. Straight
    // over the UTF-8 (valid: it is a `str`): an ideograph in U+3400-U+9FFF is a lead byte
    // E3-E9 and two continuation bytes; every other byte (ASCII, other leads, continuation
    // bytes of other characters, never E3-E9) is stepped over.
    let mut bytes = normalised.as_bytes().iter();
    while let Some(&b0) = bytes.next() {
        if !(0xE3..=0xE9).contains(&b0) {
            continue;
        }
        let (Some(&b1), Some(&b2)) = (bytes.next(), bytes.next()) else {
            break;
        };
        let c = (u64::from(b0 & 0x0F) << 12) | (u64::from(b1 & 0x3F) << 6) | u64::from(b2 & 0x3F);
        if c < 0x3400 {
            continue;
        }
        if n >= 2 {
            let h = shingle_hash((a << 42) ^ (b << 21) ^ c);
            if let Some(m) = mins.get_mut(bucket(h)) {
                *m = (*m).min(h);
            }
        }
        a = b;
        b = c;
        n += 1;
        if n >= HEAD_CHARS {
            break;
        }
    }
    (n >= min_chars.max(3)).then_some(mins)
}

/// The bucket of a shingle hash: its top bits.
#[inline]
fn bucket(h: u64) -> usize {
    (h >> (64 - SKETCH.trailing_zeros())) as usize
}

/// A shingle's hash: one multiply and a shift (a bijection of the 63-bit shingle, so distinct
/// shingles never collide, and well enough mixed for taking the smallest).
#[inline]
fn shingle_hash(x: u64) -> u64 {
    let h = x.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    h ^ (h >> 29)
}

/// Buckets in which `a` and `b` agree (empty buckets excluded).
fn shared(a: &Sketch, b: &Sketch) -> usize {
    a.iter()
        .zip(b)
        .filter(|&(x, y)| x == y && *x != u64::MAX)
        .count()
}

/// A template's id: the smallest hash of its sketch.
fn id(s: &Sketch) -> u64 {
    s.iter().copied().min().unwrap_or(u64::MAX)
}

/// What the table knows of the template a message belongs to, after counting the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateCount {
    /// The template's id: the smallest hash of its first sketch.
    pub template: u64,
    /// Distinct recipients in the window (at most [`RECIPIENTS`]).
    pub recipients: u32,
    /// Distinct senders in the window (at most [`SENDERS`]).
    pub senders: u32,
    /// Messages in the window.
    pub messages: u32,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    sketch: Sketch,
    first_ms: u64,
    messages: u32,
    n_recipients: u8,
    n_senders: u8,
    recipients: [u32; RECIPIENTS],
    senders: [u32; SENDERS],
}

const EMPTY: Entry = Entry {
    sketch: [u64::MAX; SKETCH],
    first_ms: 0,
    messages: 0,
    n_recipients: 0,
    n_senders: 0,
    recipients: [0; RECIPIENTS],
    senders: [0; SENDERS],
};

/// Adds `v` to the first `*n` items of `set` if absent and there is room; returns the count.
fn add(set: &mut [u32], n: &mut u8, v: u32) -> u32 {
    let len = usize::from(*n).min(set.len());
    if !set.get(..len).unwrap_or(&[]).contains(&v) {
        if let Some(slot) = set.get_mut(len) {
            *slot = v;
            *n = n.saturating_add(1);
        }
    }
    u32::from(*n)
}

/// The bounded template table (see the module docs).
#[derive(Debug)]
pub struct TemplateTable {
    entries: Box<[Entry]>,
    /// Slot + 1 per index position (0: empty); two positions per slot.
    index: Box<[u32]>,
    next: usize,
    window_ms: u64,
}

impl TemplateTable {
    /// A table of `slots` templates (at least 1) counting within `window_ms`.
    pub fn new(slots: usize, window_ms: u64) -> TemplateTable {
        let slots = slots.max(1);
        TemplateTable {
            entries: vec![EMPTY; slots].into_boxed_slice(),
            index: vec![0u32; (slots * 2).next_power_of_two()].into_boxed_slice(),
            next: 0,
            window_ms,
        }
    }

    fn position(&self, h: u64) -> usize {
        (h as usize) & (self.index.len() - 1)
    }

    /// Counts one message of sketch `s` from `sender` to `recipient` (32-bit hashes) at
    /// `at_ms` and returns its template's counts.
    pub fn observe(
        &mut self,
        s: &Sketch,
        sender: u32,
        recipient: u32,
        at_ms: u64,
    ) -> TemplateCount {
        let mut found = None;
        for &h in s.iter().filter(|&&h| h != u64::MAX) {
            let Some(&slot) = self.index.get(self.position(h)) else {
                continue;
            };
            let Some(i) = (slot as usize).checked_sub(1) else {
                continue;
            };
            if self
                .entries
                .get(i)
                .is_some_and(|e| e.messages > 0 && shared(&e.sketch, s) >= MIN_SHARED)
            {
                found = Some(i);
                break;
            }
        }
        let i = match found {
            Some(i) => i,
            None => {
                let i = self.next;
                self.next = (i + 1) % self.entries.len();
                if let Some(e) = self.entries.get_mut(i) {
                    *e = Entry {
                        sketch: *s,
                        first_ms: at_ms,
                        ..EMPTY
                    };
                }
                i
            }
        };
        // Point every hash of this sketch at the slot (new hashes of a known template too).
        let slot = u32::try_from(i + 1).unwrap_or(0);
        for &h in s.iter().filter(|&&h| h != u64::MAX) {
            let p = self.position(h);
            if let Some(x) = self.index.get_mut(p) {
                *x = slot;
            }
        }
        let window_ms = self.window_ms;
        let Some(e) = self.entries.get_mut(i) else {
            return TemplateCount {
                template: id(s),
                recipients: 0,
                senders: 0,
                messages: 0,
            };
        };
        if at_ms.saturating_sub(e.first_ms) > window_ms {
            // A new window for a known template.
            *e = Entry {
                sketch: e.sketch,
                first_ms: at_ms,
                ..EMPTY
            };
        }
        e.messages = e.messages.saturating_add(1);
        let recipients = add(&mut e.recipients, &mut e.n_recipients, recipient);
        let senders = add(&mut e.senders, &mut e.n_senders, sender);
        TemplateCount {
            template: id(&e.sketch),
            recipients,
            senders,
            messages: e.messages,
        }
    }

    /// Bytes the table holds (fixed at construction).
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of_val(&*self.entries) + std::mem::size_of_val(&*self.index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sk(t: &str) -> Sketch {
        sketch(t, 8).unwrap_or([u64::MAX; SKETCH])
    }

    #[test]
    fn digits_links_and_names_are_masked() {
        let a = sk("尊敬的用户您的积分已满可兑换现金请登录http://a.example/x1领取逾期清零王伟");
        let b = sk("尊敬的用户您的积分已满可兑换现金请登录http://b.example/q9领取逾期清零李娜");
        assert!(shared(&a, &b) >= MIN_SHARED, "{a:x?} {b:x?}");
        let c = sk("今天下午三点在会议室开会请准时参加不要迟到");
        assert!(shared(&a, &c) < MIN_SHARED);
    }

    #[test]
    fn default_table_fits_in_two_and_a_half_megabytes() {
        let t = TemplateTable::new(8_192, 600_000);
        assert!(t.memory_bytes() < 2_500_000, "{}", t.memory_bytes());
    }

    /// The sketch as defined: the ideographs by `chars()`, every shingle inserted.
    fn sketch_by_chars(text: &str, min_chars: usize) -> Option<Sketch> {
        let cjk: Vec<u64> = text
            .chars()
            .map(|c| u64::from(u32::from(c)))
            .filter(|c| (0x3400..=0x9FFF).contains(c))
            .take(HEAD_CHARS)
            .collect();
        // Every shingle hash into its bucket by the top bits; each bucket keeps its smallest.
        let mut mins = [u64::MAX; SKETCH];
        for w in cjk.windows(3) {
            let h = shingle_hash((w[0] << 42) ^ (w[1] << 21) ^ w[2]);
            let slot = (h >> 62) as usize;
            mins[slot] = mins[slot].min(h);
        }
        (cjk.len() >= min_chars.max(3)).then_some(mins)
    }

    proptest::proptest! {
        #[test]
        fn byte_loop_sketch_is_the_defined_sketch(s in "[a-z0-9 .:/é£ぁ〇㐀一刷单您的积分兑换现金𠀀🔥\u{9fff}\u{a000}]{0,80}") {
            proptest::prop_assert_eq!(sketch(&s, 3), sketch_by_chars(&s, 3));
        }
    }

    #[test]
    fn only_the_head_is_fingerprinted() {
        let head: String = (0..HEAD_CHARS as u32)
            .map(|i| char::from_u32(0x4e00 + 7 * i).unwrap())
            .collect();
        let a = sk(&format!("{head}请登录领取大奖逾期作废"));
        let b = sk(&format!("{head}今天下午开会不要迟到"));
        assert_eq!(a, b);
        // Within the head every ideograph counts.
        let other: String = head.chars().rev().collect();
        assert_ne!(a, sk(&format!("{other}请登录领取大奖逾期作废")));
    }

    #[test]
    fn short_texts_have_no_sketch() {
        assert!(sketch("好的收到", 8).is_none());
        assert!(sketch("ok 123 http://x.example", 8).is_none());
    }

    #[test]
    fn counts_distinct_recipients_and_senders_in_a_window() {
        let mut t = TemplateTable::new(64, 60_000);
        let s = sk("恭喜您被抽中为幸运用户请登录领取大奖逾期作废");
        let mut last = None;
        for i in 0..20u32 {
            last = Some(t.observe(&s, i % 3, 100 + i, 1_000 + u64::from(i)));
        }
        let c = last.unwrap();
        assert_eq!((c.recipients, c.senders, c.messages), (20, 3, 20));
        // After the window, counting starts again.
        let c = t.observe(&s, 0, 100, 200_000);
        assert_eq!((c.recipients, c.senders, c.messages), (1, 1, 1));
    }

    #[test]
    fn counts_saturate_and_memory_is_fixed() {
        let mut t = TemplateTable::new(8, 60_000);
        let before = t.memory_bytes();
        let s = sk("这是一条发给很多人的模板短信内容请注意查收");
        let mut c = None;
        for i in 0..1_000u32 {
            c = Some(t.observe(&s, i, i, 1));
        }
        let c = c.unwrap();
        assert_eq!(c.recipients as usize, RECIPIENTS);
        assert_eq!(c.senders as usize, SENDERS);
        // Many different templates only reuse the slots.
        for i in 0..10_000u32 {
            let text = format!(
                "第{}批不同的模板短信内容{}",
                char::from_u32(0x4e00 + i).unwrap(),
                char::from_u32(0x5e00 + i).unwrap()
            );
            if let Some(s) = sketch(&text, 8) {
                t.observe(&s, 1, 1, 2);
            }
        }
        assert_eq!(t.memory_bytes(), before);
    }
}
