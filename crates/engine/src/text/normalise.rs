//! The text normaliser: undoes the evasions scam scripts use before phrases are matched.
//!
//! One pass over the message, character by character:
//!
//! 1. **Compatibility folding (NFKC)**: full-width ASCII (`ＶＸ` → `VX`) and the ideographic space are
//!    folded directly; the common CJK block and ASCII take a fast path (they are NFKC-stable); any
//!    other character goes through its compatibility decomposition (`⑤` → `5`, `⼀` Kangxi radical →
//!    `一`) and combining marks are re-composed with the preceding character.
//! 2. **Case folding**: lower case (ASCII fast path, Unicode `to_lowercase` otherwise), plus a few
//!    Cyrillic/Greek letters that look exactly like Latin ones (`х` → `x`).
//! 3. **Traditional → simplified** Chinese, character by character, with a table built once per
//!    process from OpenCC's `TSCharacters` dictionary as shipped by the
//!    [`ferrous-opencc`](https://crates.io/crates/ferrous-opencc) crate (licence Apache-2.0; the
//!    dictionaries are compiled into the binary, nothing is read or downloaded at run time).
//!    Character-level conversion keeps one output character per input character, which keeps the
//!    offset map exact; phrases of the rule pack are normalised with the same table, so both sides
//!    agree even where a character has several simplified forms.
//! 4. **Separator removal**: spaces, ASCII and CJK punctuation, symbols and emoji that sit *between
//!    two CJK characters* are dropped (`刷 单`, `刷.单`, `刷🔥单` → `刷单`); zero-width and other
//!    invisible characters are dropped everywhere. Separators next to non-CJK text are kept, so
//!    URLs, numbers and Latin words keep their shape.
//! 5. **Look-alikes**: a table from the rule pack (`徽信`, `薇信`, `V信`, `VX` → `微信`), applied with
//!    aho-corasick leftmost-longest on the text produced by steps 1–4. Keys are normalised the same
//!    way, so `VX` also catches `vx` and `ＶＸ`. A key starting or ending with an ASCII letter or
//!    digit only matches at a word boundary (`vx` inside `wvx`, `vxkf` or `https://vx.top` is left
//!    alone; a digit may follow, as in `VX8866`).
//! 6. **Numbers written in numerals**: a run of nine or more Chinese numerals (`幺三八…`,
//!    `壹贰叁…`) becomes ASCII digits, so contact extraction reads the phone or QQ number; shorter
//!    runs are words (`一五一十`). Circled and full-width digits are folded by step 1.
//! 7. **Inserted fillers**: a single ASCII letter between two CJK ideographs (`刷x单`), and a
//!    stroke-like filler (`一`, `丶`, `丨`, `丿`) repeated between ideographs (`奔一跑一吧`, at
//!    least two in alternation: one `一` between two ideographs is a word), are dropped. Separators
//!    between ideographs (`刷*单`, `兼.职`) are already dropped by step 4. Runs only when the
//!    fast loop saw a letter right after an ideograph or a filler character.
//!
//! Every normalised byte remembers the offset of the original character it came from, so
//! [`NormalisedText::original_range`] maps a match in normalised text back to the text *as found*.
//!
//! Text beyond [`MAX_TEXT_BYTES`] is not normalised (see [`NormalisedText::truncated`]).
//!
//! # How it is kept fast
//!
//! Steps 1–4 are defined character by character ([`Normaliser::slow_char`]); the hot loop only
//! avoids repeating that work:
//! - runs of ASCII are copied at once (lower-cased in place when they held capitals);
//! - runs of three-byte characters that normalise to themselves, are CJK and are not a first or
//!   second character of a look-alike key are copied at once, one bitmap probe per character
//!   indexed straight from the UTF-8 bytes;
//! - any other three-byte character takes its result from a per-process table holding what the
//!   per-character definition gives when that is a single character;
//! - everything else (two- and four-byte characters, decompositions into several characters,
//!   combining marks) goes through the definition itself.
//!
//! The map stores, per normalised byte, the original offset in the low 24 bits and the length of
//! the original character in the high 8, so [`NormalisedText::original_range`] needs no decoding.
//! The tests check the fast path against the per-character definition on arbitrary text.

use std::ops::Range;
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use rustc_hash::FxHashMap;
use unicode_normalization::char::{compose, decompose_compatible, is_combining_mark};

use super::TextError;

/// Longest input normalised, in bytes (longer input is cut at a character boundary). A concatenated
/// SMS of 255 parts is about 35 KB, so this covers every real message while bounding the work.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;

/// Where a normalised byte came from: the original offset (low 24 bits; offsets are below
/// [`MAX_TEXT_BYTES`]) and the length in bytes of the original character (high 8 bits).
type Src = u32;

const OFFSET_MASK: u32 = 0x00FF_FFFF;

/// The [`Src`] of the original character at `offset`, `len` bytes long.
#[inline]
fn src(offset: usize, len: usize) -> Src {
    ((offset as u32) & OFFSET_MASK) | ((len as u32) << 24)
}

/// Normalises message text; built once per rule-pack snapshot (it holds the look-alike table).
#[derive(Debug, Clone)]
pub struct Normaliser {
    tables: &'static Tables,
    lookalikes: Option<Lookalikes>,
    /// Per three-byte character (bit `cp % 64` of word `cp / 64`): it normalises to itself, is
    /// CJK, and is neither a first nor a second character of a look-alike key, so it is copied
    /// as it is and does not move the look-alike gate.
    plain3: Box<[u64; 1024]>,
    /// Per ASCII byte: [`ASCII_FIRST`], [`ASCII_SECOND`], [`ASCII_OPENS`], [`ASCII_KEEP`] and
    /// [`ASCII_UPPER`] flags for the look-alike gate and case folding.
    ascii: [u8; 128],
}

/// The (lower-cased) byte is a first character of a look-alike key.
const ASCII_FIRST: u8 = 1;
/// The (lower-cased) byte is a second character of a look-alike key.
const ASCII_SECOND: u8 = 2;
/// The byte is a first character and some key is a single character: the gate opens.
const ASCII_OPENS: u8 = 4;
/// The byte is a separator: the gate keeps its state.
const ASCII_KEEP: u8 = 8;
/// The byte is an upper-case letter.
const ASCII_UPPER: u8 = 16;

#[derive(Debug, Clone)]
struct Lookalikes {
    automaton: AhoCorasick,
    /// Normalised replacement per key.
    replacements: Vec<String>,
    /// Per key: (starts with an ASCII letter or digit, ends with one): such an edge needs a word
    /// boundary so that keys like `vx` never fire inside words, URLs or ids.
    ascii_edges: Vec<(bool, bool)>,
    /// First characters of the keys: the automaton only runs on text that contains one.
    starts: KeyStarts,
}

/// The first and second characters of the look-alike keys (after normalisation): the automaton
/// only runs on text where a first character is followed by a second one, which plain text rarely
/// has, while testing a character costs a table lookup.
#[derive(Debug, Clone)]
struct KeyStarts {
    first: CharSet,
    second: CharSet,
    /// Some key is a single character: any first character is enough.
    single: bool,
}

#[derive(Debug, Clone)]
struct CharSet {
    ascii: [bool; 128],
    /// Bitmap over `BMP_LO..BMP_HI` (the CJK blocks).
    cjk: Box<[u64]>,
    /// Whether the set holds a character outside ASCII and the CJK blocks.
    other: bool,
}

impl CharSet {
    fn new() -> Self {
        Self {
            ascii: [false; 128],
            cjk: vec![0u64; ((BMP_HI - BMP_LO) as usize).div_ceil(64)].into_boxed_slice(),
            other: false,
        }
    }

    fn insert(&mut self, c: char) {
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
    fn ascii(&self, b: u8) -> bool {
        self.ascii.get(b as usize).copied().unwrap_or(false)
    }

    #[inline]
    fn cjk(&self, cp: u32) -> bool {
        let k = cp.wrapping_sub(BMP_LO) as usize;
        self.cjk
            .get(k / 64)
            .is_some_and(|word| (word >> (k % 64)) & 1 == 1)
    }

    /// Whether the set holds `c` (outside ASCII and the CJK blocks: whether it holds any such
    /// character, which only errs towards "yes").
    fn contains(&self, c: char) -> bool {
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
    fn new<'k>(keys: impl Iterator<Item = &'k str>) -> Self {
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
    fn always(&self) -> bool {
        self.first.other || self.second.other
    }
}

/// Tracks, over the normalised characters, whether a key's first character was followed by a
/// key's second character (separators in between are ignored, which only errs towards running
/// the automaton), and where the earliest such first character is: no key can match before it,
/// so the automaton starts there.
#[derive(Debug)]
struct Gate {
    after_first: bool,
    /// Normalised position (at most) of the last first character seen.
    first_at: usize,
    /// Where the automaton must start; `usize::MAX` while the gate is closed.
    open_at: usize,
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
    fn open_all(&mut self) {
        self.open_at = 0;
    }

    /// Whether the automaton must run.
    fn is_open(&self) -> bool {
        self.open_at != usize::MAX
    }

    /// A letter or CJK character at normalised position `pos` (at most) that is a key's first
    /// character or not (`first`), a key's second character or not (`second`).
    #[inline]
    fn char_at(&mut self, pos: usize, first: bool, second: bool, single: bool) {
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
    fn ascii(&mut self, starts: Option<&KeyStarts>, b: u8, pos: usize) {
        if let Some(s) = starts {
            self.char_at(pos, s.first.ascii(b), s.second.ascii(b), s.single);
        }
    }

    #[inline]
    fn cjk(&mut self, starts: Option<&KeyStarts>, cp: u32, pos: usize) {
        if let Some(s) = starts {
            self.char_at(pos, s.first.cjk(cp), s.second.cjk(cp), s.single);
        }
    }
}

/// A reusable normalisation result: the normalised text and its map back to the original.
///
/// Keep one per thread (or per connection) and pass it to [`Normaliser::normalise_into`] for every
/// message; its buffers are cleared and refilled, so normalising does not allocate once they have
/// grown to the size of the messages seen.
#[derive(Debug, Default, Clone)]
pub struct NormalisedText {
    text: String,
    /// For every byte of `text`: where it came from ([`Src`]: the byte offset in the original
    /// text of the character it came from, and that character's length).
    map: Vec<Src>,
    /// Separators held back after a CJK character until we know whether another CJK character
    /// follows: (character, where it came from).
    pending: Vec<(char, Src)>,
    last_cjk: bool,
    alt_text: String,
    alt_map: Vec<Src>,
    /// Set by the fast loop when step 7 may have something to drop: an ASCII letter right
    /// after a CJK character, or a filler character.
    filler_hint: bool,
    original_len: usize,
    truncated: bool,
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

    fn clear(&mut self) {
        self.text.clear();
        self.map.clear();
        self.pending.clear();
        self.last_cjk = false;
        self.filler_hint = false;
        self.original_len = 0;
        self.truncated = false;
    }

    /// Appends one output character that came from `from`.
    fn put(&mut self, c: char, from: Src) {
        self.text.push(c);
        let len = c.len_utf8();
        self.map.extend(std::iter::repeat_n(from, len));
    }

    /// Writes out the separators held back (a non-CJK character follows them).
    fn flush_pending(&mut self) {
        for i in 0..self.pending.len() {
            if let Some(&(p, pf)) = self.pending.get(i) {
                self.put(p, pf);
            }
        }
        self.pending.clear();
    }

    /// Appends a letter, digit or other non-separator character (`cjk` tells which kind).
    #[inline]
    fn emit(&mut self, c: char, from: Src, cjk: bool) {
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
    fn emit_run(
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
    fn separator(&mut self, c: char, from: Src) {
        if self.last_cjk {
            self.pending.push((c, from));
        } else {
            self.put(c, from);
        }
    }

    fn finish(&mut self) {
        if !self.pending.is_empty() {
            self.flush_pending();
        }
    }

    /// Step 6: a run of at least [`MIN_NUMERAL_RUN`] Chinese numerals (`幺三八零…`, `壹贰叁…`)
    /// is a number written out to dodge digit filters: each numeral becomes its ASCII digit,
    /// mapped to the character it came from. Shorter runs (`一五一十`, `三三两两`) are words
    /// and stay. Ordinary text is only read, never copied.
    fn fold_numeral_runs(&mut self) {
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
    fn fold_fillers(&mut self) -> bool {
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
    fn fold_fillers_repeatedly(&mut self) -> bool {
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
    fn combining(&mut self, mark: char, from: Src) {
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
const MIN_NUMERAL_RUN: usize = 9;

/// Whether `text` holds a run of at least [`MIN_NUMERAL_RUN`] Chinese numerals, reading about
/// one character in [`MIN_NUMERAL_RUN`] on ordinary text.
///
/// Every numeral is a three-byte character, so such a run spans at least `3 * MIN_NUMERAL_RUN`
/// consecutive bytes and holds one of the byte positions probed (one every `3 *
/// MIN_NUMERAL_RUN`). Only where the character at a probe is a numeral is its run measured,
/// backward and forward. Exact: the tests check it against counting every character.
fn has_numeral_run(text: &str) -> bool {
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
const FILLER_PASSES: usize = 4;

/// Stroke-like characters scripts insert between the characters of a phrase (`奔一跑一吧`).
const FILLERS: [char; 4] = ['一', '丶', '丨', '丿'];

/// Whether `c` is one of the [`FILLERS`].
#[inline]
fn is_filler(c: char) -> bool {
    FILLERS.contains(&c)
}

/// Whether `c` is a CJK ideograph of the blocks phrases are written in (U+3400-U+9FFF).
fn is_ideograph(c: char) -> bool {
    ('\u{3400}'..='\u{9fff}').contains(&c)
}

/// The ASCII digit a Chinese numeral stands for (`幺` is how 1 is read out in numbers, the
/// financial forms `壹贰叁…` are how amounts and numbers are written to resist tampering).
fn numeral_digit(c: char) -> Option<u8> {
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

/// What a (folded) character is for the separator rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// A CJK ideograph (or ideographic iteration mark / number).
    Cjk,
    /// Space, punctuation, symbol, emoji: removed between two CJK characters.
    Separator,
    /// Zero-width and other invisible characters: always removed.
    Invisible,
    /// Letters and digits of other scripts.
    Other,
}

impl Class {
    /// Code in a [`Fold3`] entry (never 0, which means "no entry").
    fn code(self) -> u32 {
        match self {
            Class::Cjk => 1,
            Class::Separator => 2,
            Class::Invisible => 3,
            Class::Other => 4,
        }
    }

    fn from_code(code: u32) -> Option<Self> {
        match code {
            1 => Some(Class::Cjk),
            2 => Some(Class::Separator),
            3 => Some(Class::Invisible),
            4 => Some(Class::Other),
            _ => None,
        }
    }
}

fn class(c: char) -> Class {
    let cp = c as u32;
    if cp < 0x80 {
        return if c.is_ascii_alphanumeric() {
            Class::Other
        } else {
            Class::Separator
        };
    }
    match cp {
        0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xF900..=0xFAFF
        | 0x20000..=0x3134F
        | 0x3005..=0x3007
        | 0x3021..=0x3029
        | 0x3038..=0x303B => Class::Cjk,
        0x00AD
        | 0x034F
        | 0x061C
        | 0x115F
        | 0x1160
        | 0x17B4
        | 0x17B5
        | 0x180B..=0x180F
        | 0x200B..=0x200F
        | 0x202A..=0x202E
        | 0x2060..=0x206F
        | 0x2800
        | 0x3164
        | 0xFE00..=0xFE0F
        | 0xFEFF
        | 0xFFA0
        | 0x1BCA0..=0x1BCA3
        | 0xE0000..=0xE0FFF => Class::Invisible,
        0x0080..=0x00BF
        | 0x00D7
        | 0x00F7
        | 0x2000..=0x2BFF
        | 0x2E00..=0x2E7F
        | 0x3000..=0x303F
        | 0x30FB
        | 0xFE10..=0xFE1F
        | 0xFE30..=0xFE6F
        | 0xFF00..=0xFF0F
        | 0xFF1A..=0xFF20
        | 0xFF3B..=0xFF40
        | 0xFF5B..=0xFF65
        | 0xFFE0..=0xFFEF
        | 0xFFF0..=0xFFFF
        | 0xE000..=0xF8FF
        | 0x1F000..=0x1FAFF
        | 0xF0000..=0x10FFFF => Class::Separator,
        _ => Class::Other,
    }
}

/// Latin look-alikes from Cyrillic and Greek (lower case) that scripts use to dodge ASCII keywords.
fn latin_lookalike(c: char) -> char {
    match c {
        'а' | 'α' => 'a',
        'в' => 'b',
        'с' | 'ϲ' => 'c',
        'е' | 'ε' => 'e',
        'һ' => 'h',
        'і' | 'ι' => 'i',
        'ј' => 'j',
        'к' | 'κ' => 'k',
        'м' => 'm',
        'о' | 'ο' => 'o',
        'р' | 'ρ' => 'p',
        'ѕ' => 's',
        'т' | 'τ' => 't',
        'ν' => 'v',
        'ѡ' | 'ω' => 'w',
        'х' | 'χ' => 'x',
        'у' | 'γ' => 'y',
        _ => c,
    }
}

/// One result of the per-character fold (steps 1 and 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// A character, already case-folded.
    Char(char),
    /// A combining mark, to compose with the previous character.
    Mark(char),
}

/// Case folding of one decomposed character: ASCII lower case, Latin look-alikes.
#[inline]
fn lower_fold(c: char) -> char {
    if c.is_ascii() {
        c.to_ascii_lowercase()
    } else {
        latin_lookalike(c)
    }
}

/// Steps 1 and 2 for one character: full-width forms, the ideographic space, compatibility
/// decomposition and case folding, in output order.
fn fold_steps(c: char, mut step: impl FnMut(Step)) {
    let cp = c as u32;
    if (0xFF01..=0xFF5E).contains(&cp) {
        // Full-width ASCII: same order as ASCII, offset 0xFEE0.
        if let Some(ascii) = char::from_u32(cp - 0xFEE0) {
            step(Step::Char(ascii.to_ascii_lowercase()));
        }
        return;
    }
    if cp == 0x3000 {
        step(Step::Char(' '));
        return;
    }
    decompose_compatible(c, |d| {
        if is_combining_mark(d) {
            step(Step::Mark(d));
        } else if d.is_uppercase() {
            for l in d.to_lowercase() {
                step(Step::Char(lower_fold(l)));
            }
        } else {
            step(Step::Char(lower_fold(d)));
        }
    });
}

impl Normaliser {
    /// A normaliser with no look-alike table.
    pub fn new() -> Result<Self, TextError> {
        let tables = tables()?;
        let mut ascii = [0u8; 128];
        for (b, flags) in (0u8..).zip(ascii.iter_mut()) {
            if !b.is_ascii_alphanumeric() {
                *flags |= ASCII_KEEP;
            }
            if b.is_ascii_uppercase() {
                *flags |= ASCII_UPPER;
            }
        }
        // Fillers leave the plain set, so the fast loop sees them (step 7's hint).
        let mut plain3 = tables.plain3.clone();
        for c in FILLERS {
            let cp = c as usize;
            if let Some(word) = plain3.get_mut(cp / 64) {
                *word &= !(1u64 << (cp % 64));
            }
        }
        Ok(Self {
            tables,
            lookalikes: None,
            plain3,
            ascii,
        })
    }

    /// A normaliser with a look-alike table of `(look-alike, replacement)` pairs, e.g.
    /// `("徽信", "微信")`. Keys and replacements are normalised first; keys are matched
    /// leftmost-longest. Errors name the index of the offending pair.
    pub fn with_lookalikes<K, V>(pairs: &[(K, V)]) -> Result<Self, TextError>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut base = Self::new()?;
        if pairs.is_empty() {
            return Ok(base);
        }
        let mut keys = Vec::with_capacity(pairs.len());
        let mut replacements = Vec::with_capacity(pairs.len());
        let mut ascii_edges = Vec::with_capacity(pairs.len());
        for (index, (key, value)) in pairs.iter().enumerate() {
            let key_norm = base.normalise(key.as_ref());
            if !key_norm.chars().any(char::is_alphanumeric) {
                return Err(TextError::EmptyLookalike {
                    index,
                    key: key.as_ref().to_owned(),
                });
            }
            let bytes = key_norm.as_bytes();
            ascii_edges.push((
                bytes.first().is_some_and(u8::is_ascii_alphanumeric),
                bytes.last().is_some_and(u8::is_ascii_alphanumeric),
            ));
            keys.push(key_norm);
            replacements.push(base.normalise(value.as_ref()));
        }
        let automaton = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&keys)
            .map_err(|e| TextError::LookalikeTable {
                message: e.to_string(),
            })?;
        let starts = KeyStarts::new(keys.iter().map(String::as_str));
        base.gate_tables(&starts);
        base.lookalikes = Some(Lookalikes {
            starts,
            automaton,
            replacements,
            ascii_edges,
        });
        Ok(base)
    }

    /// Marks the key characters in the fast-path tables: three-byte ones leave the plain set
    /// (they must go through the gate), ASCII ones get their gate flags.
    fn gate_tables(&mut self, starts: &KeyStarts) {
        for (word_index, word) in self.plain3.iter_mut().enumerate() {
            for bit in 0..64 {
                let cp = (word_index * 64 + bit) as u32;
                let Some(c) = char::from_u32(cp) else {
                    continue;
                };
                if starts.first.contains(c) || starts.second.contains(c) {
                    *word &= !(1u64 << bit);
                }
            }
        }
        for (b, flags) in (0u8..).zip(self.ascii.iter_mut()) {
            let lower = b.to_ascii_lowercase();
            if !b.is_ascii_alphanumeric() {
                continue;
            }
            if starts.first.ascii(lower) {
                *flags |= ASCII_FIRST;
                if starts.single {
                    *flags |= ASCII_OPENS;
                }
            }
            if starts.second.ascii(lower) {
                *flags |= ASCII_SECOND;
            }
        }
    }

    /// Normalises `text` into `out` (cleared first). Does not allocate once `out` has grown to the
    /// size of the messages seen.
    pub fn normalise_into(&self, text: &str, out: &mut NormalisedText) {
        out.clear();
        let text = if text.len() > MAX_TEXT_BYTES {
            out.truncated = true;
            let mut cut = MAX_TEXT_BYTES;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.get(..cut).unwrap_or_default()
        } else {
            text
        };
        out.original_len = text.len();
        out.text.reserve(text.len());
        out.map.reserve(text.len());
        // Whether the text may hold a look-alike key.
        let mut gate = Gate::default();
        let bytes = text.as_bytes();
        let mut i = 0usize;
        while let Some(&b) = bytes.get(i) {
            if b < 0x80 {
                i = self.ascii_run(text, i, out, &mut gate);
                continue;
            }
            if b & 0xF0 == 0xE0 {
                if let Some(&[b0, b1, b2]) = bytes.get(i..i + 3) {
                    if self.plain3_at(b0, b1, b2) {
                        i = self.plain3_run(text, i, out, &mut gate);
                        continue;
                    }
                    let cp = (u32::from(b0 & 0x0F) << 12)
                        | (u32::from(b1 & 0x3F) << 6)
                        | u32::from(b2 & 0x3F);
                    if let Some((c, class)) = self.tables.fold3(cp) {
                        self.dispatch(c, class, src(i, 3), out, &mut gate);
                        i += 3;
                        continue;
                    }
                }
            }
            let Some(c) = text.get(i..).and_then(|rest| rest.chars().next()) else {
                break;
            };
            self.slow_char(c, src(i, c.len_utf8()), out, &mut gate);
            i += c.len_utf8();
        }
        out.finish();
        if let Some(lookalikes) = &self.lookalikes {
            if lookalikes.starts.always() {
                lookalikes.apply(out, 0);
            } else if gate.is_open() {
                lookalikes.apply(out, gate.open_at);
            }
        }
        // Step 7 before step 6; look-alikes the dropped fillers joined (`薇x信`) are folded too.
        if out.filler_hint && out.fold_fillers_repeatedly() {
            if let Some(lookalikes) = &self.lookalikes {
                lookalikes.apply(out, 0);
            }
        }
        out.fold_numeral_runs();
    }

    /// Whether the three-byte character `b0 b1 b2` is in the plain set.
    #[inline]
    fn plain3_at(&self, b0: u8, b1: u8, b2: u8) -> bool {
        let word = (usize::from(b0 & 0x0F) << 6) | usize::from(b1 & 0x3F);
        self.plain3
            .get(word)
            .is_some_and(|w| (w >> (b2 & 0x3F)) & 1 == 1)
    }

    /// Copies the run of plain three-byte characters starting at `start`; returns where it ends.
    #[inline]
    fn plain3_run(
        &self,
        text: &str,
        start: usize,
        out: &mut NormalisedText,
        gate: &mut Gate,
    ) -> usize {
        let bytes = text.as_bytes();
        let mut i = start;
        while let Some(&[b0, b1, b2]) = bytes.get(i..i + 3) {
            if b0 & 0xF0 != 0xE0 || !self.plain3_at(b0, b1, b2) {
                break;
            }
            i += 3;
        }
        // A plain character is no key character: the gate forgets a first character seen before.
        gate.after_first = false;
        out.emit_run(text, (start, i), 3, true, true);
        i
    }

    /// Handles the ASCII starting at `start` (one byte at least); returns where it ends.
    #[inline]
    fn ascii_run(
        &self,
        text: &str,
        mut start: usize,
        out: &mut NormalisedText,
        gate: &mut Gate,
    ) -> usize {
        let bytes = text.as_bytes();
        if out.last_cjk {
            // Separators after a CJK character wait to see what follows.
            while let Some(&b) = bytes.get(start) {
                if b >= 0x80 || b.is_ascii_alphanumeric() {
                    break;
                }
                out.pending.push((char::from(b), src(start, 1)));
                start += 1;
            }
            if !bytes.get(start).is_some_and(u8::is_ascii_alphanumeric) {
                return start;
            }
            out.filler_hint |= bytes.get(start).is_some_and(u8::is_ascii_alphabetic);
        }
        // From here every byte is copied: a letter or digit first (which ends `last_cjk`, so
        // separators held back are written first), or separators that follow no CJK character.
        out.finish();
        let written = out.text.len();
        let mut i = start;
        let mut seen = 0u8;
        while let Some(&b) = bytes.get(i) {
            if b >= 0x80 {
                break;
            }
            let flags = self.ascii.get(usize::from(b)).copied().unwrap_or(0);
            if flags & ASCII_KEEP == 0 {
                let first = flags & ASCII_FIRST != 0;
                if gate.after_first && flags & ASCII_SECOND != 0 {
                    gate.open_at = gate.open_at.min(gate.first_at);
                }
                gate.after_first = first;
                if first {
                    gate.first_at = written + (i - start);
                    if flags & ASCII_OPENS != 0 {
                        gate.open_at = gate.open_at.min(gate.first_at);
                    }
                }
            }
            seen |= flags;
            i += 1;
        }
        out.emit_run(text, (start, i), 1, false, false);
        if seen & ASCII_UPPER != 0 {
            if let Some(run) = out.text.get_mut(written..) {
                run.make_ascii_lowercase();
            }
        }
        i
    }

    /// Normalises `text` into a new string (for compiling phrases; use
    /// [`normalise_into`](Self::normalise_into) on the hot path).
    pub fn normalise(&self, text: &str) -> String {
        let mut out = NormalisedText::new();
        self.normalise_into(text, &mut out);
        out.text
    }

    /// The definition of steps 1–4 for one character `c` that came from `from`.
    fn slow_char(&self, c: char, from: Src, out: &mut NormalisedText, gate: &mut Gate) {
        fold_steps(c, |step| match step {
            Step::Mark(d) => {
                gate.open_all();
                out.combining(d, from);
            }
            Step::Char(d) => {
                let class = class(d);
                let c = if class == Class::Cjk {
                    self.tables.t2s.get(d)
                } else {
                    d
                };
                self.dispatch(c, class, from, out, gate);
            }
        });
    }

    /// Appends a folded (and converted) character `c` of class `class` (the class of the
    /// character before traditional → simplified conversion, which keeps CJK as CJK).
    #[inline]
    fn dispatch(
        &self,
        c: char,
        class: Class,
        from: Src,
        out: &mut NormalisedText,
        gate: &mut Gate,
    ) {
        let starts = self.lookalikes.as_ref().map(|l| &l.starts);
        // Where `c` lands (or later, when held-back separators are written first).
        let pos = out.text.len();
        match class {
            Class::Cjk => {
                gate.cjk(starts, c as u32, pos);
                out.filler_hint |= is_filler(c);
                out.emit(c, from, true);
            }
            Class::Other => {
                out.filler_hint |= out.last_cjk && out.pending.is_empty();
                match u8::try_from(c) {
                    Ok(b) if b.is_ascii() => gate.ascii(starts, b, pos),
                    // Letters of other scripts: be conservative.
                    _ => gate.open_all(),
                }
                out.emit(c, from, false);
            }
            Class::Separator => out.separator(c, from),
            Class::Invisible => {}
        }
    }
}

/// Bytes that continue an ASCII word, id, URL or e-mail address.
fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'/' | b'@' | b'=' | b'&' | b'%')
}

impl Lookalikes {
    /// Replaces look-alike keys starting at or after normalised position `from` in `out`,
    /// rebuilding its map.
    fn apply(&self, out: &mut NormalisedText, from: usize) {
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

/// Character-level traditional → simplified table: a bitmap over the BMP CJK blocks for a quick
/// "no change" answer (most text is already simplified), and a hash map for the characters that do
/// change.
#[derive(Debug)]
struct T2s {
    bitmap: Box<[u64]>,
    map: FxHashMap<char, char>,
}

const BMP_LO: u32 = 0x3400;
const BMP_HI: u32 = 0xA000;
const SIP_LO: u32 = 0x20000;
const SIP_HI: u32 = 0x30000;

impl T2s {
    #[inline]
    fn get(&self, c: char) -> char {
        let cp = c as u32;
        if (BMP_LO..BMP_HI).contains(&cp) {
            let k = (cp - BMP_LO) as usize;
            let word = self.bitmap.get(k / 64).copied().unwrap_or(0);
            if (word >> (k % 64)) & 1 == 0 {
                return c;
            }
        } else if !(SIP_LO..SIP_HI).contains(&cp) {
            return c;
        }
        self.map.get(&c).copied().unwrap_or(c)
    }

    fn build() -> Result<Self, TextError> {
        let converter =
            ferrous_opencc::OpenCC::from_config(ferrous_opencc::config::BuiltinConfig::T2s)
                .map_err(|e| TextError::T2sTable {
                    message: e.to_string(),
                })?;
        // Convert every candidate character on its own line so phrases never apply.
        let candidates: Vec<char> = (BMP_LO..BMP_HI)
            .chain(SIP_LO..SIP_HI)
            .filter_map(char::from_u32)
            .collect();
        let mut input = String::with_capacity(candidates.len() * 5);
        for &c in &candidates {
            input.push(c);
            input.push('\n');
        }
        let converted = converter.convert(&input);
        let mut map = FxHashMap::default();
        let mut bitmap = vec![0u64; ((BMP_HI - BMP_LO) as usize).div_ceil(64)].into_boxed_slice();
        for (&from, line) in candidates.iter().zip(converted.split('\n')) {
            let mut chars = line.chars();
            let (Some(to), None) = (chars.next(), chars.next()) else {
                continue;
            };
            if to == from || class(to) != Class::Cjk {
                continue;
            }
            map.insert(from, to);
            let cp = from as u32;
            if (BMP_LO..BMP_HI).contains(&cp) {
                let k = (cp - BMP_LO) as usize;
                if let Some(word) = bitmap.get_mut(k / 64) {
                    *word |= 1u64 << (k % 64);
                }
            }
        }
        for &(variant, preferred) in VARIANT_FOLDS {
            for to in map.values_mut() {
                if *to == variant {
                    *to = preferred;
                }
            }
            map.insert(variant, preferred);
            let k = (variant as u32).wrapping_sub(BMP_LO) as usize;
            if let Some(word) = bitmap.get_mut(k / 64) {
                *word |= 1u64 << (k % 64);
            }
        }
        Ok(Self { bitmap, map })
    }
}

/// Simplified variants that scripts use interchangeably, folded to one form after conversion
/// (OpenCC turns `帳戶` into `帐户`, while most texts write `账户`).
///
/// Also the Japanese (shinjitai) forms scam texts borrow to dodge filters, which OpenCC's
/// traditional table leaves alone: 査 証 験 検 脳 覌 戸 → 查 证 验 检 脑 观 户. Folding them
/// here, character by character, keeps them out of the pack's look-alike table, where a
/// one-character key would make the look-alike automaton run on most messages.
const VARIANT_FOLDS: &[(char, char)] = &[
    ('帐', '账'),
    ('査', '查'),
    ('証', '证'),
    ('験', '验'),
    ('検', '检'),
    ('脳', '脑'),
    ('覌', '观'),
    ('戸', '户'),
];

/// Per-process tables: traditional → simplified, and the results of steps 1–3 for every
/// three-byte character (U+0800–U+FFFF), computed once from the per-character definition.
#[derive(Debug)]
struct Tables {
    t2s: T2s,
    /// Per code point below U+10000: 0 when the character needs the full definition (it folds to
    /// several characters or a combining mark), else the character it becomes (low 24 bits) and
    /// its [`Class`] code (high 8 bits).
    fold3: Box<[u32]>,
    /// Per code point below U+10000 (bit `cp % 64` of word `cp / 64`): a three-byte CJK character
    /// that becomes itself.
    plain3: Box<[u64; 1024]>,
}

impl Tables {
    fn build() -> Result<Self, TextError> {
        let t2s = T2s::build()?;
        let mut fold3 = vec![0u32; 0x10000].into_boxed_slice();
        let mut plain3 = Box::new([0u64; 1024]);
        for cp in 0x800u32..0x10000 {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            let mut steps = [Step::Char('\0'); 2];
            let mut n = 0usize;
            fold_steps(c, |step| {
                if let Some(slot) = steps.get_mut(n) {
                    *slot = step;
                }
                n += 1;
            });
            let [first, _] = steps;
            let (1, Step::Char(d)) = (n, first) else {
                continue;
            };
            let class = class(d);
            let to = if class == Class::Cjk { t2s.get(d) } else { d };
            if let Some(entry) = fold3.get_mut(cp as usize) {
                *entry = (to as u32) | (class.code() << 24);
            }
            if class == Class::Cjk && to == c {
                if let Some(word) = plain3.get_mut((cp / 64) as usize) {
                    *word |= 1u64 << (cp % 64);
                }
            }
        }
        Ok(Self { t2s, fold3, plain3 })
    }

    /// What the three-byte character `cp` becomes, when it is a single character.
    #[inline]
    fn fold3(&self, cp: u32) -> Option<(char, Class)> {
        let entry = *self.fold3.get(cp as usize)?;
        let class = Class::from_code(entry >> 24)?;
        Some((char::from_u32(entry & OFFSET_MASK)?, class))
    }
}

/// Builds the per-process tables now if they are not yet built (a few tens of milliseconds, once):
/// the pack loader does it on another thread while it reads the number lists.
pub(crate) fn build_tables() {
    let _ = tables();
}

fn tables() -> Result<&'static Tables, TextError> {
    static TABLES: OnceLock<Result<Tables, TextError>> = OnceLock::new();
    TABLES
        .get_or_init(Tables::build)
        .as_ref()
        .map_err(Clone::clone)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::{prop_assert_eq, TestCaseError};

    fn norm() -> Normaliser {
        Normaliser::with_lookalikes(&[
            ("徽信", "微信"),
            ("薇信", "微信"),
            ("V信", "微信"),
            ("VX", "微信"),
        ])
        .unwrap()
    }

    /// Normalises and returns (normalised, what the whole normalised text maps back to).
    fn run(input: &str) -> String {
        norm().normalise(input)
    }

    #[test]
    fn plain_simplified_text_is_unchanged() {
        assert_eq!(run("您的快递已到"), "您的快递已到");
    }

    #[test]
    fn numbers_written_in_numerals_become_digits() {
        assert_eq!(run("请拨打幺三八零零零零零零零幺"), "请拨打13800000001");
        assert_eq!(run("加扣扣：壹贰叁肆伍陆柒捌玖"), "加扣扣123456789");
        assert_eq!(run("一 三 八 零 零 一 三 八 零 零 零"), "13800138000");
        // Idioms and short counts stay words.
        assert_eq!(run("一五一十地说"), "一五一十地说");
        assert_eq!(run("三三两两，七七八八"), "三三两两七七八八");
        // The digits map back to the numerals as written.
        let original = "请拨打幺三八零零零零零零零幺";
        let mut out = NormalisedText::new();
        norm().normalise_into(original, &mut out);
        let at = out.as_str().find('1').unwrap_or_default();
        assert_eq!(
            out.found(original, at, out.len()),
            Some("幺三八零零零零零零零幺")
        );
    }

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

    #[test]
    fn fillers_inserted_between_characters_are_dropped() {
        assert_eq!(run("奔一跑一吧"), "奔跑吧");
        assert_eq!(run("兼丶职丶刷丶单"), "兼职刷单");
        assert_eq!(run("刷*单"), "刷单");
        assert_eq!(run("兼.职"), "兼职");
        assert_eq!(run("刷x单返利"), "刷单返利");
        assert_eq!(run("刷Ｘ单"), "刷单");
        // The phrase reads through the fillers, and maps back to the text as written.
        let original = "加我奔一跑一吧";
        let mut out = NormalisedText::new();
        norm().normalise_into(original, &mut out);
        let at = out.as_str().find("奔跑吧").unwrap_or_default();
        assert_eq!(
            out.found(original, at, at + "奔跑吧".len()),
            Some("奔一跑一吧")
        );
    }

    #[test]
    fn words_that_look_like_fillers_stay() {
        // One 一 between two characters is a word; 一 next to one 一 is a count.
        assert_eq!(run("我们一起去"), "我们一起去");
        assert_eq!(run("一心一意"), "一心一意");
        assert_eq!(run("一一对应"), "一一对应");
        // Letters and digits next to one ideograph, or several letters, stay.
        assert_eq!(run("A股上涨"), "a股上涨");
        assert_eq!(run("第3页"), "第3页");
        assert_eq!(run("买iphone手机"), "买iphone手机");
        assert_eq!(run("刷 x 单"), "刷 x 单");
    }

    #[test]
    fn space_between_cjk_is_removed() {
        assert_eq!(run("刷 单"), "刷单");
        assert_eq!(run("刷   单返利"), "刷单返利");
        assert_eq!(run("刷\u{3000}单"), "刷单");
    }

    #[test]
    fn punctuation_between_cjk_is_removed() {
        assert_eq!(run("刷.单"), "刷单");
        assert_eq!(run("刷、单，返·利"), "刷单返利");
        assert_eq!(run("安-全-账-户"), "安全账户");
    }

    #[test]
    fn zero_width_characters_are_removed_everywhere() {
        assert_eq!(run("刷\u{200b}单"), "刷单");
        assert_eq!(run("刷\u{feff}\u{200d}单"), "刷单");
        assert_eq!(run("v\u{200b}x"), "微信");
    }

    #[test]
    fn emoji_between_cjk_is_removed() {
        assert_eq!(run("刷🔥单"), "刷单");
        assert_eq!(run("刷👍🏻单"), "刷单");
        assert_eq!(run("刷❤\u{fe0f}单"), "刷单");
    }

    #[test]
    fn separators_next_to_latin_and_digits_are_kept() {
        assert_eq!(run("call 400-800-1234 now"), "call 400-800-1234 now");
        assert_eq!(run("退款 100 元"), "退款 100 元");
        assert_eq!(run("确认。 Thanks"), "确认。 thanks");
    }

    #[test]
    fn full_width_letters_and_digits_fold_to_ascii() {
        assert_eq!(run("ＱＱ１２３４５"), "qq12345");
        assert_eq!(run("加ＶＸ"), "加微信");
        assert_eq!(run("刷，单"), "刷单");
    }

    #[test]
    fn nfkc_compatibility_forms_fold() {
        assert_eq!(run("①②③"), "123");
        // Kangxi radical U+2F00 is NFKC-equivalent to 一.
        assert_eq!(run("\u{2f00}"), "一");
        // Precomposed and decomposed accents end up identical.
        assert_eq!(run("cafe\u{301}"), run("café"));
    }

    #[test]
    fn traditional_characters_become_simplified() {
        assert_eq!(run("帳戶"), "账户");
        assert_eq!(run("詐騙"), "诈骗");
        assert_eq!(run("安全帳戶 涉嫌洗錢"), "安全账户涉嫌洗钱");
        // The simplified variant 帐 is folded too, so 帐户 and 账户 match the same phrase.
        assert_eq!(run("帐户"), run("账户"));
    }

    #[test]
    fn lookalikes_fold_to_wechat() {
        assert_eq!(run("加徽信"), "加微信");
        assert_eq!(run("加薇信"), "加微信");
        assert_eq!(run("加V信"), "加微信");
        assert_eq!(run("加VX kf8866"), "加微信 kf8866");
        assert_eq!(run("加vx"), "加微信");
        assert_eq!(run("加ＶＸ"), "加微信");
    }

    #[test]
    fn ascii_lookalike_needs_word_boundaries() {
        assert_eq!(run("wvx"), "wvx");
        assert_eq!(run("xvx"), "xvx");
        // Nor inside URLs, domains or ids; a digit may follow (`VX8866`).
        assert_eq!(run("https://vx.abc.top"), "https://vx.abc.top");
        assert_eq!(run("vxkf8866"), "vxkf8866");
        assert_eq!(run("VX8866"), "微信8866");
        assert_eq!(run("VX：kf8866"), "微信:kf8866");
    }

    #[test]
    fn cyrillic_lookalike_letters_fold_to_latin() {
        // Cyrillic а, р, р in "аpp".
        assert_eq!(run("\u{430}\u{440}\u{440}"), "app");
    }

    #[test]
    fn mixed_case_urls_fold_to_lower_case() {
        assert_eq!(run("HTTP://ABC-Pay.TOP/Login"), "http://abc-pay.top/login");
    }

    #[test]
    fn offsets_map_back_to_text_as_found() {
        let n = norm();
        let mut out = NormalisedText::new();
        let original = "请加 徽 信：kf8866，刷\u{200b}单返利";
        n.normalise_into(original, &mut out);
        let text = out.as_str().to_owned();
        let pos = text.find("微信").unwrap();
        assert_eq!(out.found(original, pos, pos + "微信".len()), Some("徽 信"));
        let pos = text.find("刷单").unwrap();
        assert_eq!(
            out.found(original, pos, pos + "刷单".len()),
            Some("刷\u{200b}单")
        );
        let pos = text.find("kf8866").unwrap();
        assert_eq!(
            out.original_range(original, pos, pos + 6),
            original.find("kf8866").map(|s| s..s + 6)
        );
    }

    #[test]
    fn offsets_of_replaced_ascii_lookalike_cover_both_letters() {
        let n = norm();
        let mut out = NormalisedText::new();
        let original = "加ＶＸ好友";
        n.normalise_into(original, &mut out);
        assert_eq!(out.as_str(), "加微信好友");
        let pos = out.as_str().find("微信").unwrap();
        assert_eq!(out.found(original, pos, pos + 6), Some("ＶＸ"));
        assert_eq!(out.found(original, 0, out.len()), Some(original));
    }

    #[test]
    fn traditional_phrase_quotes_the_traditional_original() {
        let n = norm();
        let mut out = NormalisedText::new();
        let original = "轉到安全帳戶";
        n.normalise_into(original, &mut out);
        let pos = out.as_str().find("安全账户").unwrap();
        assert_eq!(
            out.found(original, pos, pos + "安全账户".len()),
            Some("安全帳戶")
        );
    }

    #[test]
    fn bad_ranges_are_none() {
        let n = norm();
        let mut out = NormalisedText::new();
        n.normalise_into("刷单", &mut out);
        assert_eq!(out.original_range("刷单", 1, 3), None);
        assert_eq!(out.original_range("刷单", 3, 3), None);
        assert_eq!(out.original_range("刷单", 0, 99), None);
    }

    #[test]
    fn buffer_is_reused_between_messages() {
        let n = norm();
        let mut out = NormalisedText::new();
        n.normalise_into("一段比较长的消息文本用于占用缓冲区", &mut out);
        n.normalise_into("短", &mut out);
        assert_eq!(out.as_str(), "短");
        assert_eq!(out.original_offset(0), Some(0));
        assert!(!out.truncated());
    }

    #[test]
    fn overlong_text_is_truncated_on_a_char_boundary() {
        let n = norm();
        let mut out = NormalisedText::new();
        let long = "刷".repeat(MAX_TEXT_BYTES / 3 + 10);
        n.normalise_into(&long, &mut out);
        assert!(out.truncated());
        assert!(out.len() <= MAX_TEXT_BYTES);
    }

    #[test]
    fn empty_lookalike_key_is_rejected_with_its_index() {
        let err = Normaliser::with_lookalikes(&[("徽信", "微信"), (" . ", "x")]).unwrap_err();
        assert_eq!(
            err,
            TextError::EmptyLookalike {
                index: 1,
                key: " . ".into()
            }
        );
    }

    /// The straightforward definition: every character through [`Normaliser::slow_char`], no
    /// runs, no tables, and the look-alike automaton always run.
    fn reference(n: &Normaliser, text: &str) -> NormalisedText {
        let mut out = NormalisedText::new();
        let mut gate = Gate::default();
        for (i, c) in text.char_indices() {
            n.slow_char(c, src(i, c.len_utf8()), &mut out, &mut gate);
        }
        out.finish();
        if let Some(l) = &n.lookalikes {
            l.apply(&mut out, 0);
            if out.fold_fillers_repeatedly() {
                l.apply(&mut out, 0);
            }
        } else {
            out.fold_fillers_repeatedly();
        }
        out.fold_numeral_runs();
        out
    }

    /// Asserts that the fast path and the definition give the same text and the same map back to
    /// the original at every pair of character boundaries.
    fn assert_same_as_reference(n: &Normaliser, text: &str) -> Result<(), TestCaseError> {
        let mut fast = NormalisedText::new();
        n.normalise_into(text, &mut fast);
        let slow = reference(n, text);
        prop_assert_eq!(fast.as_str(), slow.as_str(), "text of {:?}", text);
        prop_assert_eq!(fast.map.len(), fast.len());
        let bounds: Vec<usize> = fast
            .as_str()
            .char_indices()
            .map(|(p, _)| p)
            .chain([fast.len()])
            .collect();
        for (k, &start) in bounds.iter().enumerate() {
            prop_assert_eq!(
                fast.original_offset(start),
                slow.original_offset(start),
                "offset {} of {:?}",
                start,
                text
            );
            for &end in bounds.iter().skip(k + 1) {
                prop_assert_eq!(
                    fast.original_range(text, start, end),
                    reference_range(&slow, text, start, end),
                    "range {}..{} of {:?}",
                    start,
                    end,
                    text
                );
            }
        }
        Ok(())
    }

    /// `original_range` as first written: decode the last character in the original.
    fn reference_range(
        n: &NormalisedText,
        original: &str,
        start: usize,
        end: usize,
    ) -> Option<Range<usize>> {
        if start >= end || !n.text.is_char_boundary(start) || !n.text.is_char_boundary(end) {
            return None;
        }
        let last = n.text.get(start..end)?.char_indices().next_back()?.0 + start;
        let from = n.original_offset(start)?;
        let last_from = n.original_offset(last)?;
        let last_len = original.get(last_from..)?.chars().next()?.len_utf8();
        let to = last_from.checked_add(last_len)?;
        (from < to && to <= original.len()).then_some(from..to)
    }

    /// The look-alike table of the default rule pack (`rules/lookalikes.txt`), as pairs.
    fn pack_lookalikes() -> Vec<(String, String)> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../rules/lookalikes.txt");
        let text = std::fs::read_to_string(path).unwrap();
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| l.split_once('\t'))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    #[test]
    fn fast_path_matches_definition_on_examples() {
        let pack = Normaliser::with_lookalikes(&pack_lookalikes()).unwrap();
        let bare = Normaliser::new().unwrap();
        let texts = [
            "【工商银行】您的验证码为482913，5分钟内有效，请勿告诉他人。",
            "兼职刷 单，日结佣金三百，先垫付后返利，加徽信 kf8866 详聊",
            "Your parcel is waiting at the locker, code 4471. Thanks for shopping with us.",
            "安全帳戶 涉嫌洗錢，請加ＶＸ：kf8866 或 V信 ①②③ cafe\u{301} 刷🔥单 刷\u{200b}单",
            "zhuan账 ZFB yhk 微x 扣扣 wei信 shua单, SHUA单 刷dan",
            "\u{430}\u{440}\u{440} ﬁle ＡＢＣ ｶﾀｶﾅ ㈱ ㎏ \u{2f00}\u{f900}",
        ];
        for n in [&pack, &bare, &norm()] {
            for t in texts {
                assert_same_as_reference(n, t).unwrap();
            }
        }
    }

    #[test]
    fn three_byte_table_agrees_with_definition_for_every_character() {
        let n = Normaliser::with_lookalikes(&pack_lookalikes()).unwrap();
        let mut s = String::new();
        for cp in 0x800u32..0x10000 {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            // Between CJK characters and between letters, so both separator cases are seen.
            s.clear();
            s.push('中');
            s.push(c);
            s.push('文');
            s.push(' ');
            s.push('a');
            s.push(c);
            s.push('b');
            assert_same_as_reference(&n, &s).unwrap();
        }
    }

    /// Characters that exercise every path: CJK (plain, traditional, look-alike key characters),
    /// full-width forms, separators of each kind, emoji, invisible characters, combining marks,
    /// capitals and look-alike keys.
    const MIXED: &str = "[刷单您的快递账户帳戶詐騙錢微信徽薇威扣蔻鹅转贷佣菠菜x中文一二\
        ＡＢＶＸｖｘ１２，。：【】、·\u{3000} ,.:/@\\-\u{200b}\u{feff}🔥👍❤\u{fe0f}\u{301}①ﬁ\
        aAbBvVwWxXzZsShHdDyYqQ0-9\u{430}\u{440}éÉ\u{2f00}\u{f900}𠀀]{0,40}";

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        #[test]
        fn fast_path_matches_definition_on_mixed_text(s in MIXED) {
            let n = Normaliser::with_lookalikes(&pack_lookalikes()).unwrap();
            assert_same_as_reference(&n, &s)?;
            assert_same_as_reference(&norm(), &s)?;
        }

        #[test]
        fn fast_path_matches_definition_on_keys_and_words(
            parts in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::sample::select(pack_lookalikes().into_iter().map(|(k, _)| k).collect::<Vec<_>>()),
                    "[a-zA-Z0-9 .,/]{1,6}",
                    "[刷单账户帳戶微信中文，。 ]{1,4}",
                ],
                0..8,
            )
        ) {
            let s: String = parts.concat();
            let n = Normaliser::with_lookalikes(&pack_lookalikes()).unwrap();
            assert_same_as_reference(&n, &s)?;
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        #[test]
        fn numeral_run_probe_agrees_with_counting(s in "[一二三四五六七八九〇零幺壹贰两玖a中é🙂 ]{0,64}") {
            proptest::prop_assert_eq!(has_numeral_run(&s), numeral_run_by_counting(&s));
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        #[test]
        fn fast_path_matches_definition_on_arbitrary_text(s in "\\PC{0,48}") {
            assert_same_as_reference(&norm(), &s)?;
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        /// The cheap gate in front of the look-alike automaton never skips a key: running the
        /// automaton again on the result finds nothing left to replace.
        #[test]
        fn lookalike_gate_never_skips_a_key(s in "[徽薇信微vVxXＶＸ刷单 ,.\u{200b}a-z0-9]{0,24}") {
            let n = norm();
            let mut out = NormalisedText::new();
            n.normalise_into(&s, &mut out);
            let before = out.as_str().to_owned();
            if let Some(l) = &n.lookalikes {
                l.apply(&mut out, 0);
            }
            proptest::prop_assert_eq!(before, out.as_str());
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        #[test]
        fn never_panics_and_maps_into_the_original(s in "\\PC{0,64}") {
            let n = norm();
            let mut out = NormalisedText::new();
            n.normalise_into(&s, &mut out);
            proptest::prop_assert_eq!(out.map.len(), out.len());
            for (pos, _) in out.as_str().char_indices() {
                let o = out.original_offset(pos).unwrap();
                proptest::prop_assert!(o < s.len());
                proptest::prop_assert!(s.is_char_boundary(o));
            }
            if !out.is_empty() {
                proptest::prop_assert!(out.original_range(&s, 0, out.len()).is_some());
            }
        }
    }
}
