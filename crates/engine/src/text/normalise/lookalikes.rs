//! Look-alikes (step 5): the pack's table applied with aho-corasick leftmost-longest, and the
//! cheap gate in front of it.
//!
//! Guarantees: the gate never skips a key (the automaton runs from the earliest place a key
//! could start, or on the whole text when unsure); a key with an ASCII letter or digit at an
//! edge only matches at a word boundary.

use super::*;

#[derive(Debug, Clone)]
pub(super) struct Lookalikes {
    pub(super) automaton: AhoCorasick,
    /// Normalised replacement per key.
    pub(super) replacements: Vec<String>,
    /// Per key: (starts with an ASCII letter or digit, ends with one): such an edge needs a word
    /// boundary so that keys like `vx` never fire inside words, URLs or ids.
    pub(super) ascii_edges: Vec<(bool, bool)>,
    /// First characters of the keys: the automaton only runs on text that contains one.
    pub(super) starts: KeyStarts,
}

/// The first and second characters of the look-alike keys (after normalisation): the automaton
/// only runs on text where a first character is followed by a second one, which plain text rarely
/// has, while testing a character costs a table lookup.
#[derive(Debug, Clone)]
pub(super) struct KeyStarts {
    pub(super) first: CharSet,
    pub(super) second: CharSet,
    /// Some key is a single character: any first character is enough.
    pub(super) single: bool,
}

#[derive(Debug, Clone)]
pub(super) struct CharSet {
    pub(super) ascii: [bool; 128],
    /// Bitmap over `BMP_LO..BMP_HI` (the CJK blocks).
    pub(super) cjk: Box<[u64]>,
    /// Whether the set holds a character outside ASCII and the CJK blocks.
    pub(super) other: bool,
}

impl CharSet {
    pub(super) fn new() -> Self {
        Self {
            ascii: [false; 128],
            cjk: vec![0u64; ((BMP_HI - BMP_LO) as usize).div_ceil(64)].into_boxed_slice(),
            other: false,
        }
    }

    pub(super) fn insert(&mut self, c: char) {
        let cp = c as u32;
        if let Some(slot) = self.ascii.get_mut(cp as usize) {
            *slot = true;
        } else if (BMP_LO..BMP_HI).contains(&cp) {
            let k = (cp - BMP_LO) as usize;
            if let Some(word) = self.cjk.get_mut(k / 64) {
                *word |= 1u64 << (k % 64);
            }
        } else {
            self.other = true;
        }
    }

    #[inline]
    pub(super) fn ascii(&self, b: u8) -> bool {
        self.ascii.get(b as usize).copied().unwrap_or(false)
    }

    #[inline]
    pub(super) fn cjk(&self, cp: u32) -> bool {
        let k = cp.wrapping_sub(BMP_LO) as usize;
        self.cjk
            .get(k / 64)
            .is_some_and(|word| (word >> (k % 64)) & 1 == 1)
    }

    /// Whether the set holds `c` (outside ASCII and the CJK blocks: whether it holds any such
    /// character, which only errs towards "yes").
    pub(super) fn contains(&self, c: char) -> bool {
        let cp = c as u32;
        if cp < 0x80 {
            self.ascii(cp as u8)
        } else if (BMP_LO..BMP_HI).contains(&cp) {
            self.cjk(cp)
        } else {
            self.other
        }
    }
}

impl KeyStarts {
    pub(super) fn new<'k>(keys: impl Iterator<Item = &'k str>) -> Self {
        let mut starts = Self {
            first: CharSet::new(),
            second: CharSet::new(),
            single: false,
        };
        for key in keys {
            let mut chars = key.chars();
            if let Some(c) = chars.next() {
                starts.first.insert(c);
            }
            match chars.next() {
                Some(c) => starts.second.insert(c),
                None => starts.single = true,
            }
        }
        starts
    }

    /// Whether the automaton must run whatever the text (keys starting with rare characters).
    pub(super) fn always(&self) -> bool {
        self.first.other || self.second.other
    }
}

/// Tracks, over the normalised characters, whether a key's first character was followed by a
/// key's second character (separators in between are ignored, which only errs towards running
/// the automaton), and where the earliest such first character is: no key can match before it,
/// so the automaton starts there.
#[derive(Debug)]
pub(super) struct Gate {
    pub(super) after_first: bool,
    /// Normalised position (at most) of the last first character seen.
    pub(super) first_at: usize,
    /// Where the automaton must start; `usize::MAX` while the gate is closed.
    pub(super) open_at: usize,
}

impl Default for Gate {
    fn default() -> Self {
        Self {
            after_first: false,
            first_at: 0,
            open_at: usize::MAX,
        }
    }
}

impl Gate {
    /// Opens the gate from the start of the text (a case the gate cannot judge).
    #[inline]
    pub(super) fn open_all(&mut self) {
        self.open_at = 0;
    }

    /// Whether the automaton must run.
    pub(super) fn is_open(&self) -> bool {
        self.open_at != usize::MAX
    }

    /// A letter or CJK character at normalised position `pos` (at most) that is a key's first
    /// character or not (`first`), a key's second character or not (`second`).
    #[inline]
    pub(super) fn char_at(&mut self, pos: usize, first: bool, second: bool, single: bool) {
        if self.after_first && second {
            self.open_at = self.open_at.min(self.first_at);
        }
        self.after_first = first;
        if first {
            self.first_at = pos;
            if single {
                self.open_at = self.open_at.min(pos);
            }
        }
    }

    #[inline]
    pub(super) fn ascii(&mut self, starts: Option<&KeyStarts>, b: u8, pos: usize) {
        if let Some(s) = starts {
            self.char_at(pos, s.first.ascii(b), s.second.ascii(b), s.single);
        }
    }

    #[inline]
    pub(super) fn cjk(&mut self, starts: Option<&KeyStarts>, cp: u32, pos: usize) {
        if let Some(s) = starts {
            self.char_at(pos, s.first.cjk(cp), s.second.cjk(cp), s.single);
        }
    }
}

/// Bytes that continue an ASCII word, id, URL or e-mail address.
pub(super) fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'/' | b'@' | b'=' | b'&' | b'%')
}

impl Lookalikes {
    /// Replaces look-alike keys starting at or after normalised position `from` in `out`,
    /// rebuilding its map.
    pub(super) fn apply(&self, out: &mut NormalisedText, from: usize) {
        let mut last = 0usize;
        let mut replaced = false;
        out.alt_text.clear();
        out.alt_map.clear();
        let input =
            aho_corasick::Input::new(out.text.as_str()).span(from.min(out.len())..out.len());
        for m in self.automaton.find_iter(input) {
            let (start, end) = (m.start(), m.end());
            let (left_edge, right_edge) = self
                .ascii_edges
                .get(m.pattern().as_usize())
                .copied()
                .unwrap_or_default();
            let bytes = out.text.as_bytes();
            let before = start.checked_sub(1).and_then(|i| bytes.get(i)).copied();
            let after = bytes.get(end).copied();
            if (left_edge && before.is_some_and(is_word_byte))
                || (right_edge && after.is_some_and(|b| is_word_byte(b) && !b.is_ascii_digit()))
            {
                continue;
            }
            let Some(replacement) = self.replacements.get(m.pattern().as_usize()) else {
                continue;
            };
            let (Some(before), Some(before_map)) =
                (out.text.get(last..start), out.map.get(last..start))
            else {
                continue;
            };
            out.alt_text.push_str(before);
            out.alt_map.extend_from_slice(before_map);
            let span_from = out.map.get(start).copied().unwrap_or(0);
            let last_char = out
                .text
                .get(start..end)
                .and_then(|s| s.char_indices().next_back())
                .map_or(start, |(p, _)| start + p);
            let last_from = out.map.get(last_char).copied().unwrap_or(span_from);
            let count = replacement.chars().count();
            for (k, r) in replacement.chars().enumerate() {
                let from = if k + 1 == count && k > 0 {
                    last_from
                } else {
                    span_from
                };
                out.alt_text.push(r);
                out.alt_map.extend(std::iter::repeat_n(from, r.len_utf8()));
            }
            last = end;
            replaced = true;
        }
        if !replaced {
            return;
        }
        if let (Some(rest), Some(rest_map)) = (out.text.get(last..), out.map.get(last..)) {
            out.alt_text.push_str(rest);
            out.alt_map.extend_from_slice(rest_map);
        }
        std::mem::swap(&mut out.text, &mut out.alt_text);
        std::mem::swap(&mut out.map, &mut out.alt_map);
    }
}
