//! Lazy DFAs (`regex-automata`) that read a pack pattern exactly as Hyperscan does, so they can
//! answer for it on the hot path.
//!
//! One Hyperscan scan of a single-pattern database costs about 2.5 k instructions on a
//! 100-byte message, whatever the pattern (set-up and a byte-at-a-time NFA); a warm lazy DFA
//! costs about a quarter of that. The patterns that fire on ordinary traffic (one-time codes,
//! bank notices) are confirmed on most messages, so the matcher asks the DFA first and asks
//! Hyperscan only when there is no DFA for the pattern or the DFA gives up.
//!
//! That is sound only where both engines mean the same thing by the pattern. Hyperscan compiles
//! a pack pattern with `UTF8 | CASELESS` and without `UCP`, so `\d`, `\s` and `\w` are ASCII
//! classes, while `regex-syntax` reads `\d` as every Unicode digit. Case is folded alike: both
//! use Unicode's simple case folding (the long s is an `s`, the Kelvin sign a `k`; measured,
//! see the matcher's tests). [`hyperscan_reading`] rewrites a pattern into the `regex-syntax`
//! text with Hyperscan's meaning, and refuses whatever it cannot vouch for (anchors, inline
//! flags, Unicode properties, POSIX classes, set operations, cased non-ASCII letters, whose
//! folding tables could differ between the two libraries' Unicode versions, `{,n}`): a
//! refused pattern keeps Hyperscan as its only judge.

use regex_automata::hybrid::dfa::{Cache as DfaCache, DFA};
use regex_automata::nfa::thompson;
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input, MatchKind};
use regex_syntax::ast::{self, Ast, ClassPerl, ClassPerlKind, ClassSetItem, GroupKind, Span};

/// Most memory one lazy DFA may use per thread; a search that needs more gives up and
/// Hyperscan answers instead.
const CACHE_BYTES: usize = 256 * 1024;

/// A pattern's two lazy DFAs: the forward one finds where the first match ends (what a
/// `SINGLEMATCH` Hyperscan database reports) and how far a match reaches from a start; the
/// reverse one, anchored at a match's end, finds its leftmost start.
pub(super) struct Locator {
    reverse: DFA,
    forward: DFA,
}

/// One thread's caches of a [`Locator`]'s two lazy DFAs.
pub(super) struct LocatorCaches {
    reverse: DfaCache,
    forward: DfaCache,
}

impl Locator {
    /// The locator of `regex`, if [`hyperscan_reading`] vouches for it and the DFAs build.
    pub(super) fn new(regex: &str) -> Option<Locator> {
        let regex = hyperscan_reading(regex)?;
        // Hyperscan's CASELESS: Unicode simple case folding, as `regex-syntax` does it.
        let syntax = syntax::Config::new().case_insensitive(true).utf8(true);
        let config = || {
            DFA::config()
                .match_kind(MatchKind::All)
                .cache_capacity(CACHE_BYTES)
        };
        let reverse = DFA::builder()
            .syntax(syntax)
            .thompson(thompson::Config::new().reverse(true))
            .configure(config())
            .build(&regex)
            .ok()?;
        let forward = DFA::builder()
            .syntax(syntax)
            .configure(config())
            .build(&regex)
            .ok()?;
        Some(Locator { reverse, forward })
    }

    /// Fresh caches for one thread.
    pub(super) fn caches(&self) -> LocatorCaches {
        LocatorCaches {
            reverse: self.reverse.create_cache(),
            forward: self.forward.create_cache(),
        }
    }

    /// Where the first match in `haystack` ends (the smallest end of any match): `Some(None)`
    /// when there is no match, `None` when the DFA gave up.
    pub(super) fn first_end(
        &self,
        caches: &mut LocatorCaches,
        haystack: &[u8],
    ) -> Option<Option<usize>> {
        let input = Input::new(haystack).earliest(true);
        let found = self
            .forward
            .try_search_fwd(&mut caches.forward, &input)
            .ok()?;
        Some(found.map(|m| m.offset()))
    }

    /// The match of `haystack` ending at `end` that starts leftmost, extended to the farthest end
    /// a match from that start reaches; `None` if the DFAs gave up (or disagree with Hyperscan).
    pub(super) fn locate(
        &self,
        caches: &mut LocatorCaches,
        haystack: &[u8],
        end: usize,
    ) -> Option<(usize, usize)> {
        let back = Input::new(haystack).range(..end).anchored(Anchored::Yes);
        let start = self
            .reverse
            .try_search_rev(&mut caches.reverse, &back)
            .ok()??
            .offset();
        let ahead = Input::new(haystack).range(start..).anchored(Anchored::Yes);
        let farthest = self
            .forward
            .try_search_fwd(&mut caches.forward, &ahead)
            .ok()??
            .offset();
        (farthest >= end).then_some((start, farthest))
    }
}

/// `regex` rewritten so that `regex-syntax`, case-insensitive and in Unicode mode, reads it as
/// Hyperscan reads it with `UTF8 | CASELESS` (no `UCP`); `None` for anything this cannot vouch
/// for. Perl classes become their ASCII sets.
pub(super) fn hyperscan_reading(regex: &str) -> Option<String> {
    let parsed = ast::parse::ParserBuilder::new()
        .nest_limit(64)
        .build()
        .parse(regex)
        .ok()?;
    let mut edits = ast::visit(
        &parsed,
        Rewrite {
            regex,
            edits: Vec::new(),
        },
    )
    .ok()?;
    edits.sort_unstable_by_key(|e| std::cmp::Reverse(e.0));
    let mut out = regex.to_owned();
    for (from, to, with) in edits {
        // Spans come from parsing this very text, so they are in range and on character
        // boundaries; a span that is not refuses the pattern rather than panicking.
        if from > to || !out.is_char_boundary(from) || !out.is_char_boundary(to) {
            return None;
        }
        out.replace_range(from..to, &with);
    }
    Some(out)
}

/// Collects the span replacements of [`hyperscan_reading`]; any error refuses the pattern.
struct Rewrite<'a> {
    regex: &'a str,
    edits: Vec<(usize, usize, String)>,
}

/// Why a pattern is refused (the reason is not reported: refused patterns just stay with
/// Hyperscan).
struct Refused;

impl Rewrite<'_> {
    fn edit(&mut self, span: &Span, with: String) {
        self.edits.push((span.start.offset, span.end.offset, with));
    }

    /// A cased letter beyond ASCII refuses the pattern; any other literal stays.
    fn literal(&self, lit: &ast::Literal) -> Result<(), Refused> {
        if cased_beyond_ascii(lit.c) {
            Err(Refused)
        } else {
            Ok(())
        }
    }
}

/// The ASCII members of a Perl class as Hyperscan reads it without `UCP`, for use inside
/// brackets; `\w` is refused (its letters would be case-folded by `regex-syntax`, and whether
/// Hyperscan folds a class under `CASELESS` the same way is not measured).
fn perl_members(kind: &ClassPerlKind) -> Result<&'static str, Refused> {
    match kind {
        ClassPerlKind::Digit => Ok("0-9"),
        // PCRE's `\s`: tab, newline, vertical tab, form feed, carriage return, space.
        ClassPerlKind::Space => Ok(r"\t\n\x0B\x0C\r\x20"),
        ClassPerlKind::Word => Err(Refused),
    }
}

/// Whether `c` has another case that `regex-syntax` or Hyperscan might fold it to, outside ASCII.
fn cased_beyond_ascii(c: char) -> bool {
    !c.is_ascii() && (c.is_lowercase() || c.is_uppercase() || c.to_lowercase().ne(c.to_uppercase()))
}

impl ast::Visitor for Rewrite<'_> {
    type Output = Vec<(usize, usize, String)>;
    type Err = Refused;

    fn finish(self) -> Result<Self::Output, Refused> {
        Ok(self.edits)
    }

    fn visit_pre(&mut self, node: &Ast) -> Result<(), Refused> {
        match node {
            Ast::Empty(_) | Ast::Dot(_) | Ast::Alternation(_) | Ast::Concat(_) => Ok(()),
            Ast::ClassBracketed(_) => Ok(()),
            Ast::Flags(_) | Ast::Assertion(_) | Ast::ClassUnicode(_) => Err(Refused),
            Ast::Group(group) => match &group.kind {
                GroupKind::NonCapturing(flags) if !flags.items.is_empty() => Err(Refused),
                _ => Ok(()),
            },
            Ast::Repetition(rep) => {
                // `{,n}`: a repetition to `regex-syntax`, literal text to Hyperscan (PCRE).
                let op = self
                    .regex
                    .get(rep.op.span.start.offset..rep.op.span.end.offset)
                    .unwrap_or_default();
                if op.starts_with("{,") {
                    Err(Refused)
                } else {
                    Ok(())
                }
            }
            Ast::Literal(lit) => self.literal(lit),
            Ast::ClassPerl(class) => {
                let ClassPerl {
                    span,
                    kind,
                    negated,
                } = &**class;
                let caret = if *negated { "^" } else { "" };
                self.edit(span, format!("[{caret}{}]", perl_members(kind)?));
                Ok(())
            }
        }
    }

    fn visit_class_set_item_pre(&mut self, item: &ClassSetItem) -> Result<(), Refused> {
        match item {
            ClassSetItem::Empty(_) | ClassSetItem::Bracketed(_) | ClassSetItem::Union(_) => Ok(()),
            ClassSetItem::Ascii(_) | ClassSetItem::Unicode(_) => Err(Refused),
            ClassSetItem::Perl(class) if class.negated => Err(Refused),
            ClassSetItem::Perl(class) => {
                self.edit(&class.span, perl_members(&class.kind)?.to_owned());
                Ok(())
            }
            ClassSetItem::Literal(lit) => self.literal(lit),
            ClassSetItem::Range(range) => {
                if cased_beyond_ascii(range.start.c) || cased_beyond_ascii(range.end.c) {
                    Err(Refused)
                } else {
                    Ok(())
                }
            }
        }
    }

    fn visit_class_set_binary_op_pre(
        &mut self,
        _op: &ast::ClassSetBinaryOp,
    ) -> Result<(), Refused> {
        Err(Refused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perl_classes_become_their_ascii_sets() {
        assert_eq!(hyperscan_reading(r"码\d{4,8}").unwrap(), "码[0-9]{4,8}");
        assert_eq!(hyperscan_reading(r"[\d-]").unwrap(), "[0-9-]");
        assert_eq!(hyperscan_reading(r"\D").unwrap(), "[^0-9]");
        assert_eq!(
            hyperscan_reading(r"[:：]?\s{0,2}").unwrap(),
            r"[:：]?[\t\n\x0B\x0C\r\x20]{0,2}"
        );
    }

    #[test]
    fn letters_stay_and_case_folds_as_unicode_simple_folding() {
        assert_eq!(hyperscan_reading("加qq[a-f]").unwrap(), "加qq[a-f]");
        let locator = Locator::new("sk").unwrap();
        let mut caches = locator.caches();
        let mut end = |t: &str| locator.first_end(&mut caches, t.as_bytes()).unwrap();
        assert_eq!(end("SK"), Some(2));
        // As Hyperscan: the long s and the Kelvin sign fold to `s` and `k`.
        assert_eq!(end("\u{17F}\u{212A}"), Some(5));
    }

    #[test]
    fn what_the_engines_might_read_differently_is_refused() {
        for regex in [
            "^登录",
            r"\b验证码",
            "(?i)qq",
            "(?s:a.b)",
            r"\p{Han}{2}",
            "[[:digit:]]",
            r"[\D]",
            "[a-z&&b]",
            "é",
            "[Α-Ω]",
            r"\w+",
            "a{,3}",
            r"\Q安全\E",
        ] {
            assert!(hyperscan_reading(regex).is_none(), "{regex}");
        }
    }

    #[test]
    fn first_end_is_the_smallest_end_of_any_match() {
        let locator = Locator::new(r"(验证码|码)(是|为)?\d{4,8}").unwrap();
        let mut caches = locator.caches();
        let text = "您的验证码为482913，请勿告诉他人";
        let end = locator.first_end(&mut caches, text.as_bytes()).unwrap();
        assert_eq!(end, Some(text.find("4829").unwrap() + 4));
        assert_eq!(
            locator.first_end(&mut caches, "验证码为٤٨٢٩".as_bytes()),
            Some(None)
        );
    }

    proptest::proptest! {
        /// A pack author's typo is no panic: any text either is refused or rewrites to an
        /// expression `regex-syntax` reads.
        #[test]
        fn any_pattern_is_refused_or_rewritten_to_a_readable_one(
            regex in r"[a-zA-Z0-9你好\\\[\]\(\)\{\}\|\.\*\+\?\^\$:,\-dswDSWbpPQE]{0,24}"
        ) {
            if let Some(rewritten) = hyperscan_reading(&regex) {
                proptest::prop_assert!(
                    regex_syntax::ParserBuilder::new().build().parse(&rewritten).is_ok(),
                    "{} -> {}", regex, rewritten
                );
            }
        }
    }

    #[test]
    fn every_default_pack_pattern_has_a_locator() {
        let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/../../rules/patterns.txt");
        let text = std::fs::read_to_string(rules).unwrap();
        let regexes: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| l.splitn(4, '\t').nth(3))
            .collect();
        assert!(regexes.len() >= 50);
        for regex in regexes {
            assert!(Locator::new(regex).is_some(), "{regex}");
        }
    }
}
