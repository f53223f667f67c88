//! The normalised text and its offset map: every normalised byte remembers the original
//! character it came from ([`Src`]: offset in the low 24 bits, length in the high 8), so a match
//! in normalised text maps back to the text as found without decoding. Also the passes that
//! run on the whole normalised text: numerals read as digits (step 6) and inserted fillers
//! (step 7).
//!
//! Guarantees: `map.len() == text.len()` after every step; the buffers are reused, so
//! normalising allocates nothing once they have grown to the messages seen; a pass that
//! changes nothing copies nothing.

use super::*;

/// Where a normalised byte came from: the original offset (low 24 bits; offsets are below
/// [`MAX_TEXT_BYTES`]) and the length in bytes of the original character (high 8 bits).
pub(super) type Src = u32;

pub(super) const OFFSET_MASK: u32 = 0x00FF_FFFF;

/// The [`Src`] of the original character at `offset`, `len` bytes long.
#[inline]
pub(super) fn src(offset: usize, len: usize) -> Src {
    ((offset as u32) & OFFSET_MASK) | ((len as u32) << 24)
}

/// A reusable normalisation result: the normalised text and its map back to the original.
///
/// Keep one per thread (or per connection) and pass it to [`Normaliser::normalise_into`] for every
/// message; its buffers are cleared and refilled, so normalising does not allocate once they have
/// grown to the size of the messages seen.
#[derive(Debug, Default, Clone)]
pub struct NormalisedText {
    pub(super) text: String,
    /// For every byte of `text`: where it came from ([`Src`]: the byte offset in the original
    /// text of the character it came from, and that character's length).
    pub(super) map: Vec<Src>,
    /// Separators held back after a CJK character until we know whether another CJK character
    /// follows: (character, where it came from).
    pub(super) pending: Vec<(char, Src)>,
    pub(super) last_cjk: bool,
    pub(super) alt_text: String,
    pub(super) alt_map: Vec<Src>,
    /// Set by the fast loop when step 7 may have something to drop: an ASCII letter right
    /// after a CJK character, or a filler character.
    pub(super) filler_hint: bool,
    pub(super) original_len: usize,
    pub(super) truncated: bool,
}

impl NormalisedText {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// The normalised text (valid UTF-8, what the matcher scans).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Length of the normalised text in bytes.
    pub fn len(&self) -> usize {
        self.text.len()
    }

    /// Whether the normalised text is empty.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Whether the original was longer than [`MAX_TEXT_BYTES`] and only its beginning was normalised.
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// Byte offset in the original text of the character that produced normalised byte `pos`
    /// (exact at character boundaries of the normalised text).
    pub fn original_offset(&self, pos: usize) -> Option<usize> {
        self.map.get(pos).map(|&o| (o & OFFSET_MASK) as usize)
    }

    /// Maps the normalised byte range `start..end` back to the byte range of the original text it
    /// came from, from the first character's start to the last character's end (separators removed
    /// inside the range are included, those around it are not).
    ///
    /// `original` must be the text that was normalised. Returns `None` when the range is empty, out
    /// of bounds or not on character boundaries.
    #[inline]
    pub fn original_range(&self, original: &str, start: usize, end: usize) -> Option<Range<usize>> {
        if start >= end || !self.text.is_char_boundary(start) || !self.text.is_char_boundary(end) {
            return None;
        }
        // The last character starts one to four bytes before `end`; its lead byte says which
        // (`start` is a boundary, so the last character never starts before it).
        let bytes = self.text.as_bytes();
        let lead_at = |back: usize| end.checked_sub(back).and_then(|p| bytes.get(p).copied());
        let last = if lead_at(1)? < 0x80 {
            end - 1
        } else if lead_at(3).is_some_and(|b| b & 0xF0 == 0xE0) {
            end - 3
        } else if lead_at(2).is_some_and(|b| b & 0xE0 == 0xC0) {
            end - 2
        } else {
            end.checked_sub(4)?
        };
        let first = *self.map.get(start)?;
        let last_src = *self.map.get(last)?;
        let from = (first & OFFSET_MASK) as usize;
        let to = (last_src & OFFSET_MASK) as usize + (last_src >> 24) as usize;
        (from < to
            && to <= original.len()
            && original.is_char_boundary(from)
            && original.is_char_boundary(to))
        .then_some(from..to)
    }

    /// The original text that produced the normalised range `start..end` (see
    /// [`original_range`](Self::original_range)).
    pub fn found<'t>(&self, original: &'t str, start: usize, end: usize) -> Option<&'t str> {
        let range = self.original_range(original, start, end)?;
        original.get(range)
    }

    pub(super) fn clear(&mut self) {
        self.text.clear();
        self.map.clear();
        self.pending.clear();
        self.last_cjk = false;
        self.filler_hint = false;
        self.original_len = 0;
        self.truncated = false;
    }

    /// Appends one output character that came from `from`.
    pub(super) fn put(&mut self, c: char, from: Src) {
        self.text.push(c);
        let len = c.len_utf8();
        self.map.extend(std::iter::repeat_n(from, len));
    }

    /// Writes out the separators held back (a non-CJK character follows them).
    pub(super) fn flush_pending(&mut self) {
        for i in 0..self.pending.len() {
            if let Some(&(p, pf)) = self.pending.get(i) {
                self.put(p, pf);
            }
        }
        self.pending.clear();
    }

    /// Appends a letter, digit or other non-separator character (`cjk` tells which kind).
    #[inline]
    pub(super) fn emit(&mut self, c: char, from: Src, cjk: bool) {
        if !self.pending.is_empty() {
            if cjk {
                self.pending.clear();
            } else {
                self.flush_pending();
            }
        }
        self.put(c, from);
        self.last_cjk = cjk;
    }

    /// Appends `text[start..end]`, a run of `width`-byte characters that normalise to themselves
    /// (`first_cjk` and `last_cjk`: whether its first and last characters are CJK).
    #[inline]
    pub(super) fn emit_run(
        &mut self,
        text: &str,
        (start, end): (usize, usize),
        width: usize,
        first_cjk: bool,
        last_cjk: bool,
    ) {
        let Some(run) = text.get(start..end) else {
            return;
        };
        if !self.pending.is_empty() {
            if first_cjk {
                self.pending.clear();
            } else {
                self.flush_pending();
            }
        }
        self.text.push_str(run);
        self.map.extend(src(start, width)..src(end, width));
        self.last_cjk = last_cjk;
    }

    /// A separator: held back after a CJK character (dropped if another CJK character follows),
    /// kept otherwise.
    #[inline]
    pub(super) fn separator(&mut self, c: char, from: Src) {
        if self.last_cjk {
            self.pending.push((c, from));
        } else {
            self.put(c, from);
        }
    }

    pub(super) fn finish(&mut self) {
        if !self.pending.is_empty() {
            self.flush_pending();
        }
    }

    /// Step 6: a run of at least [`MIN_NUMERAL_RUN`] Chinese numerals (`幺三八零…`, `壹贰叁…`)
    /// is a number written out to dodge digit filters: each numeral becomes its ASCII digit,
    /// mapped to the character it came from. Shorter runs (`一五一十`, `三三两两`) are words
    /// and stay. Ordinary text is only read, never copied.
    pub(super) fn fold_numeral_runs(&mut self) {
        if !has_numeral_run(&self.text) {
            return;
        }
        let NormalisedText {
            text,
            map,
            alt_text,
            alt_map,
            ..
        } = self;
        alt_text.clear();
        alt_map.clear();
        let mut i = 0usize;
        while let Some(rest) = text.get(i..).filter(|r| !r.is_empty()) {
            // The run of numerals starting here (possibly empty) and where it ends.
            let mut n = 0usize;
            let mut end = i;
            for (k, c) in rest.char_indices() {
                if numeral_digit(c).is_none() {
                    break;
                }
                n += 1;
                end = i + k + c.len_utf8();
            }
            if n >= MIN_NUMERAL_RUN {
                for (k, c) in text.get(i..end).unwrap_or_default().char_indices() {
                    if let Some(d) = numeral_digit(c) {
                        alt_text.push(char::from(d));
                        alt_map.push(map.get(i + k).copied().unwrap_or(0));
                    }
                }
            } else {
                if n == 0 {
                    end = i + rest.chars().next().map_or(1, char::len_utf8);
                }
                alt_text.push_str(text.get(i..end).unwrap_or_default());
                alt_map.extend_from_slice(map.get(i..end).unwrap_or_default());
            }
            i = end;
        }
        std::mem::swap(text, alt_text);
        std::mem::swap(map, alt_map);
    }

    /// Step 7: drops the fillers inserted between CJK ideographs (see the module docs): a
    /// single ASCII letter between two ideographs, and a filler character between two
    /// ideographs when the same filler also sits one ideograph before or after (`奔一跑一吧`).
    /// Returns whether something was dropped (only then is the text replaced).
    pub(super) fn fold_fillers(&mut self) -> bool {
        let NormalisedText {
            text,
            map,
            alt_text,
            alt_map,
            ..
        } = self;
        alt_text.clear();
        alt_map.clear();
        let mut dropped = false;
        // The three characters before the current one, nearest first (as found, fillers too).
        let mut back: [Option<char>; 3] = [None; 3];
        let mut chars = text.char_indices();
        while let Some((i, c)) = chars.next() {
            let ascii = c.is_ascii_alphabetic();
            let drop = (ascii || is_filler(c)) && {
                let mut ahead = chars.clone().map(|(_, n)| n);
                let (n1, n2, n3) = (ahead.next(), ahead.next(), ahead.next());
                let ideograph = |x: Option<char>| x.is_some_and(|x| x != c && is_ideograph(x));
                ideograph(back[0])
                    && ideograph(n1)
                    && (ascii
                        || (back[1] == Some(c) && ideograph(back[2]))
                        || (n2 == Some(c) && ideograph(n3)))
            };
            if drop {
                dropped = true;
            } else {
                alt_text.push(c);
                alt_map.extend_from_slice(map.get(i..i + c.len_utf8()).unwrap_or_default());
            }
            back = [Some(c), back[0], back[1]];
        }
        if dropped {
            std::mem::swap(text, alt_text);
            std::mem::swap(map, alt_map);
        }
        dropped
    }

    /// [`fold_fillers`](Self::fold_fillers) again while it drops something (a dropped letter
    /// can bring a filler between two ideographs: `一对一x年`), at most [`FILLER_PASSES`]
    /// times, so the work stays linear; returns whether anything was dropped.
    pub(super) fn fold_fillers_repeatedly(&mut self) -> bool {
        let mut dropped = false;
        for _ in 0..FILLER_PASSES {
            if !self.fold_fillers() {
                break;
            }
            dropped = true;
        }
        dropped
    }

    /// Handles a combining mark: re-composes it with the previous character when Unicode has a
    /// composed form, otherwise treats it as a separator.
    pub(super) fn combining(&mut self, mark: char, from: Src) {
        if self.pending.is_empty() {
            let prev_pos = self.text.char_indices().next_back();
            if let Some((pos, prev)) = prev_pos {
                if let Some(composed) = compose(prev, mark) {
                    let prev_from = self.map.get(pos).copied().unwrap_or(from);
                    self.text.truncate(pos);
                    self.map.truncate(pos);
                    self.put(composed, prev_from);
                    return;
                }
            }
        }
        self.separator(mark, from);
    }
}

/// Shortest run of Chinese numerals read as digits by [`NormalisedText::fold_numeral_runs`]:
/// a mobile number is 11 digits, a fixed line with its area code 10 to 12; idioms built of
/// numerals are four characters, and two of them joined (`三三两两，七七八八`) are eight.
pub(super) const MIN_NUMERAL_RUN: usize = 9;

/// Whether `text` holds a run of at least [`MIN_NUMERAL_RUN`] Chinese numerals, reading about
/// one character in [`MIN_NUMERAL_RUN`] on ordinary text.
///
/// Every numeral is a three-byte character, so such a run spans at least `3 * MIN_NUMERAL_RUN`
/// consecutive bytes and holds one of the byte positions probed (one every `3 *
/// MIN_NUMERAL_RUN`). Only where the character at a probe is a numeral is its run measured,
/// backward and forward. Exact: the tests check it against counting every character.
pub(super) fn has_numeral_run(text: &str) -> bool {
    const SPAN: usize = 3 * MIN_NUMERAL_RUN;
    let mut probe = SPAN - 1;
    while probe < text.len() {
        let mut at = probe;
        while at > 0 && !text.is_char_boundary(at) {
            at -= 1;
        }
        probe += SPAN;
        let after = text.get(at..).unwrap_or_default().chars();
        let is_numeral = |c: &char| numeral_digit(*c).is_some();
        // Most probes land on a character that is no numeral: one test.
        if !after.clone().next().is_some_and(|c| is_numeral(&c)) {
            continue;
        }
        let before = text.get(..at).unwrap_or_default().chars().rev();
        let n = before.take_while(is_numeral).count() + after.take_while(is_numeral).count();
        if n >= MIN_NUMERAL_RUN {
            return true;
        }
    }
    false
}

/// Most passes of step 7 (each drops at least one character; real texts need one or two).
pub(super) const FILLER_PASSES: usize = 4;

/// Stroke-like characters scripts insert between the characters of a phrase (`奔一跑一吧`).
pub(super) const FILLERS: [char; 4] = ['一', '丶', '丨', '丿'];

/// Whether `c` is one of the [`FILLERS`].
#[inline]
pub(super) fn is_filler(c: char) -> bool {
    FILLERS.contains(&c)
}

/// Whether `c` is a CJK ideograph of the blocks phrases are written in (U+3400-U+9FFF).
pub(super) fn is_ideograph(c: char) -> bool {
    ('\u{3400}'..='\u{9fff}').contains(&c)
}

/// The ASCII digit a Chinese numeral stands for (`幺` is how 1 is read out in numbers, the
/// financial forms `壹贰叁…` are how amounts and numbers are written to resist tampering).
pub(super) fn numeral_digit(c: char) -> Option<u8> {
    Some(match c {
        '〇' | '零' => b'0',
        '一' | '幺' | '壹' => b'1',
        '二' | '两' | '贰' => b'2',
        '三' | '叁' => b'3',
        '四' | '肆' => b'4',
        '五' | '伍' => b'5',
        '六' | '陆' => b'6',
        '七' | '柒' => b'7',
        '八' | '捌' => b'8',
        '九' | '玖' => b'9',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The run check as defined: counting every character.
    fn numeral_run_by_counting(text: &str) -> bool {
        let mut run = 0usize;
        text.chars().any(|c| {
            run = if numeral_digit(c).is_some() {
                run + 1
            } else {
                0
            };
            run >= MIN_NUMERAL_RUN
        })
    }

    #[test]
    fn numeral_run_probe_agrees_with_counting_at_every_position() {
        // Runs of 8, 9 and 10 numerals at every offset of mixed-width text.
        for pad in 0..40 {
            for len in 7..=10 {
                for filler in ["a", "é", "中", "🙂", "三"] {
                    let head = filler.repeat(pad);
                    let text = format!("{head}{}x{}", "幺".repeat(len), "贰".repeat(len / 2));
                    assert_eq!(
                        has_numeral_run(&text),
                        numeral_run_by_counting(&text),
                        "{text}"
                    );
                }
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        #[test]
        fn numeral_run_probe_agrees_with_counting(s in "[一二三四五六七八九〇零幺壹贰两玖a中é🙂 ]{0,64}") {
            proptest::prop_assert_eq!(has_numeral_run(&s), numeral_run_by_counting(&s));
        }
    }
}
