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
//! Steps 1–4 are defined character by character (`Normaliser::slow_char`); the hot loop only
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
//! The parts: `tables` (the per-character definition of steps 1-4 and its per-process
//! tables), `lookalikes` (step 5 and its gate), `normalised` (the normalised text, its offset
//! map, steps 6 and 7); this file holds [`Normaliser`] and its fast loop.
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

mod lookalikes;
mod normalised;
mod tables;

use lookalikes::{Gate, KeyStarts, Lookalikes};
pub use normalised::NormalisedText;
use normalised::{is_filler, src, Src, FILLERS, OFFSET_MASK};
pub(crate) use tables::build_tables;
use tables::{class, fold_steps, tables, Class, Step, Tables, BMP_HI, BMP_LO};

/// Longest input normalised, in bytes (longer input is cut at a character boundary). A concatenated
/// SMS of 255 parts is about 35 KB, so this covers every real message while bounding the work.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;

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
