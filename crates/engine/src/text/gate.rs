//! Literal gates of regular expressions: the literals a pattern cannot match without.
//!
//! Most pack patterns read like `(转|汇)(入|到)?.{0,12}(安全|监管)账户`: whatever the text, a match
//! contains one of `转`/`汇`, one of `安全`/`监管` and `账户`. The matcher adds those literals to its
//! literal database (caseless, like the patterns) and scans a pattern only when every one of its
//! clauses has a literal present, so an ordinary message costs one literal scan instead of a
//! scan of every pattern.
//!
//! The gate is *sound*: it is derived from the parsed expression (`regex-syntax`), and anything
//! it does not understand (a syntax it cannot parse, a large character class, a literal whose
//! case Hyperscan might fold differently) simply adds no clause, which makes the pattern run
//! more often, never less. A pattern with no clause at all runs on every message.

use regex_syntax::hir::{Class, Hir, HirKind};

/// Most literals in one clause (a larger alternation adds no clause).
const MAX_CLAUSE_LITERALS: usize = 64;

/// Literals shorter than this (one CJK character) are used only when nothing longer is
/// required.
const MIN_PREFERRED_BYTES: usize = 4;

/// Most characters a class may hold to be expanded into literals.
const MAX_CLASS_CHARS: u32 = 16;

/// A conjunction of clauses: a match contains, for every clause, at least one of its literals.
pub(crate) type Clauses = Vec<Vec<String>>;

/// The clauses of `regex` (empty when nothing is certain, e.g. it does not parse here).
pub(crate) fn clauses(regex: &str) -> Clauses {
    let parsed = regex_syntax::ParserBuilder::new()
        .utf8(true)
        .nest_limit(64)
        .build()
        .parse(regex);
    let mut out = match parsed {
        Ok(hir) => cnf(&hir),
        Err(_) => Vec::new(),
    };
    for clause in &mut out {
        clause.sort();
        clause.dedup();
        // A literal holding another of its clause adds nothing (`转入` when `转` is there).
        let all = clause.clone();
        clause.retain(|x| !all.iter().any(|y| y != x && x.contains(y.as_str())));
    }
    // Single-character clauses cost the literal scan most (frequent, short); keep them only
    // when the pattern has no longer clause.
    if out
        .iter()
        .any(|c| c.iter().all(|t| t.len() >= MIN_PREFERRED_BYTES))
    {
        out.retain(|c| c.iter().all(|t| t.len() >= MIN_PREFERRED_BYTES));
    }
    out.retain(|c| !c.is_empty() && c.len() <= MAX_CLAUSE_LITERALS);
    out
}

/// The longest run of ASCII digits every match of `regex` holds (`\d{16,19}`, `1\d{10}`), or 0
/// when nothing is certain.
///
/// The matcher scans a pattern only when the text has a digit run this long, so a pattern
/// gated on a common word (`银行`) but needing a card number costs nothing on a bank notice
/// with a four-digit amount. Sound in the same way as the clauses: `\d` is an ASCII digit for
/// Hyperscan without `UCP` (the Unicode class `regex-syntax` reads it as is recognised only as
/// written `\d`; a pattern with a `\p` property or that does not parse gives 0), and whatever
/// this does not understand counts as no digit.
pub(crate) fn digit_run(regex: &str) -> usize {
    if regex.contains("\\p") || regex.contains("\\P") {
        return 0;
    }
    let parse = |re: &str| {
        regex_syntax::ParserBuilder::new()
            .utf8(true)
            .nest_limit(64)
            .build()
            .parse(re)
            .ok()
    };
    let (Some(hir), Some(d)) = (parse(regex), parse(r"\d")) else {
        return 0;
    };
    let HirKind::Class(unicode_d) = d.kind() else {
        return 0;
    };
    min_digit_run(&hir, unicode_d)
}

/// Whether every character of `class` is an ASCII digit for Hyperscan.
fn is_digit_class(class: &Class, unicode_d: &Class) -> bool {
    match class {
        Class::Unicode(u) => {
            class == unicode_d
                || u.ranges()
                    .iter()
                    .all(|r| r.start() >= '0' && r.end() <= '9')
        }
        Class::Bytes(b) => b
            .ranges()
            .iter()
            .all(|r| r.start() >= b'0' && r.end() <= b'9'),
    }
}

/// The shortest length of the strings `hir` matches when every one of them is ASCII digits.
fn all_digits(hir: &Hir, d: &Class) -> Option<usize> {
    match hir.kind() {
        HirKind::Empty => Some(0),
        HirKind::Literal(lit) => lit.0.iter().all(u8::is_ascii_digit).then_some(lit.0.len()),
        HirKind::Class(class) => is_digit_class(class, d).then_some(1),
        HirKind::Capture(cap) => all_digits(&cap.sub, d),
        HirKind::Repetition(rep) => {
            all_digits(&rep.sub, d).map(|m| m.saturating_mul(rep.min as usize))
        }
        HirKind::Concat(parts) => parts
            .iter()
            .try_fold(0usize, |sum, p| Some(sum.saturating_add(all_digits(p, d)?))),
        HirKind::Alternation(alts) => alts.iter().map(|a| all_digits(a, d)).min().flatten(),
        HirKind::Look(_) => None,
    }
}

/// The longest digit run every match of `hir` holds (a lower bound).
fn min_digit_run(hir: &Hir, d: &Class) -> usize {
    if let Some(n) = all_digits(hir, d) {
        return n;
    }
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) | HirKind::Class(_) => 0,
        HirKind::Literal(lit) => lit
            .0
            .split(|b| !b.is_ascii_digit())
            .map(<[u8]>::len)
            .max()
            .unwrap_or(0),
        HirKind::Capture(cap) => min_digit_run(&cap.sub, d),
        HirKind::Repetition(rep) if rep.min >= 1 => min_digit_run(&rep.sub, d),
        HirKind::Repetition(_) => 0,
        HirKind::Concat(parts) => {
            // Adjacent all-digit parts make one run (`1` then `\d{10}`).
            let (mut best, mut run) = (0usize, 0usize);
            for p in parts {
                match all_digits(p, d) {
                    Some(n) => run = run.saturating_add(n),
                    None => {
                        best = best.max(run).max(min_digit_run(p, d));
                        run = 0;
                    }
                }
            }
            best.max(run)
        }
        HirKind::Alternation(alts) => alts.iter().map(|a| min_digit_run(a, d)).min().unwrap_or(0),
    }
}

/// The clause that lets the fewest messages through: longest shortest literal, then fewest
/// literals.
pub(crate) fn most_selective(clauses: &Clauses) -> Option<usize> {
    clauses
        .iter()
        .enumerate()
        .max_by_key(|(_, c)| {
            let shortest = c.iter().map(String::len).min().unwrap_or(0);
            (shortest, usize::MAX - c.len())
        })
        .map(|(i, _)| i)
}

/// Whether Hyperscan's caseless matching treats this text exactly as its ASCII-caseless gate
/// literal does: only ASCII letters may have case.
fn usable(text: &str) -> bool {
    !text.is_empty()
        && text.chars().all(|c| {
            c.is_ascii()
                || (c.to_lowercase().eq(std::iter::once(c))
                    && c.to_uppercase().eq(std::iter::once(c)))
        })
}

fn cnf(hir: &Hir) -> Clauses {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Vec::new(),
        HirKind::Literal(lit) => match std::str::from_utf8(&lit.0) {
            Ok(text) if usable(text) => vec![vec![text.to_owned()]],
            _ => Vec::new(),
        },
        HirKind::Class(class) => class_literals(class).map_or_else(Vec::new, |set| vec![set]),
        HirKind::Capture(cap) => cnf(&cap.sub),
        HirKind::Repetition(rep) => {
            if rep.min >= 1 {
                cnf(&rep.sub)
            } else {
                Vec::new()
            }
        }
        HirKind::Concat(parts) => {
            // Runs of parts with a small finite language become one clause of their products
            // (`(刷|补)(单|好评)` → 刷单, 刷好评, 补单, 补好评): longer literals, fewer false
            // candidates than one clause per part.
            let mut out = Vec::new();
            let mut run: Option<Vec<String>> = None;
            for part in parts {
                match (exact(part), run.take()) {
                    (Some(set), None) => run = Some(set),
                    (Some(set), Some(prev)) => match product(&prev, &set) {
                        Some(joined) => run = Some(joined),
                        None => {
                            out.extend(run_clause(prev));
                            run = Some(set);
                        }
                    },
                    (None, prev) => {
                        out.extend(prev.and_then(run_clause));
                        out.extend(cnf(part));
                    }
                }
            }
            out.extend(run.and_then(run_clause));
            out
        }
        HirKind::Alternation(alts) => {
            // Any match matches one branch, so it holds one literal of that branch's clause.
            let mut union = Vec::new();
            for alt in alts {
                let sub = cnf(alt);
                let Some(best) = most_selective(&sub).and_then(|i| sub.into_iter().nth(i)) else {
                    return Vec::new();
                };
                union.extend(best);
                if union.len() > MAX_CLAUSE_LITERALS {
                    return Vec::new();
                }
            }
            vec![union]
        }
    }
}

/// Every string `hir` can match, when that is a small finite set of usable literals.
fn exact(hir: &Hir) -> Option<Vec<String>> {
    let set = match hir.kind() {
        HirKind::Empty => vec![String::new()],
        HirKind::Literal(lit) => {
            let text = std::str::from_utf8(&lit.0).ok()?;
            usable(text).then(|| vec![text.to_owned()])?
        }
        HirKind::Class(class) => class_literals(class)?,
        HirKind::Capture(cap) => exact(&cap.sub)?,
        HirKind::Repetition(rep) => match (rep.min, rep.max) {
            (1, Some(1)) => exact(&rep.sub)?,
            (0, Some(1)) => {
                let mut set = exact(&rep.sub)?;
                set.push(String::new());
                set
            }
            _ => return None,
        },
        HirKind::Concat(parts) => {
            let mut acc = vec![String::new()];
            for part in parts {
                acc = product(&acc, &exact(part)?)?;
            }
            acc
        }
        HirKind::Alternation(alts) => {
            let mut union = Vec::new();
            for alt in alts {
                union.extend(exact(alt)?);
                if union.len() > MAX_CLAUSE_LITERALS {
                    return None;
                }
            }
            union
        }
        HirKind::Look(_) => return None,
    };
    (set.len() <= MAX_CLAUSE_LITERALS).then_some(set)
}

/// Every concatenation of one string of `a` and one of `b`, if not too many.
fn product(a: &[String], b: &[String]) -> Option<Vec<String>> {
    if a.len().saturating_mul(b.len()) > MAX_CLAUSE_LITERALS {
        return None;
    }
    Some(
        a.iter()
            .flat_map(|x| b.iter().map(move |y| format!("{x}{y}")))
            .collect(),
    )
}

/// A run's strings as a clause: none if the run can match the empty string.
fn run_clause(set: Vec<String>) -> Option<Vec<String>> {
    (!set.is_empty() && set.iter().all(|t| !t.is_empty())).then_some(set)
}

/// The characters of a small class as one-character literals.
fn class_literals(class: &Class) -> Option<Vec<String>> {
    let mut out = Vec::new();
    match class {
        Class::Unicode(u) => {
            let mut total = 0u32;
            for r in u.ranges() {
                total = total.saturating_add((r.end() as u32).saturating_sub(r.start() as u32) + 1);
                if total > MAX_CLASS_CHARS {
                    return None;
                }
                for c in r.start()..=r.end() {
                    out.push(c.to_string());
                }
            }
        }
        Class::Bytes(b) => {
            let mut total = 0u32;
            for r in b.ranges() {
                total = total.saturating_add(u32::from(r.end() - r.start()) + 1);
                if total > MAX_CLASS_CHARS {
                    return None;
                }
                for byte in r.start()..=r.end() {
                    if !byte.is_ascii() {
                        return None;
                    }
                    out.push(char::from(byte).to_string());
                }
            }
        }
    }
    (!out.is_empty() && out.iter().all(|t| usable(t))).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_literals_of_a_typical_pattern() {
        let c = clauses("(转|汇)(入|到)?.{0,12}(安全|监管)账户");
        // The single-character clause {汇, 转} is left out: a longer one is required.
        assert_eq!(c, vec![vec!["安全账户".to_owned(), "监管账户".to_owned()]]);
        let best = most_selective(&c).unwrap();
        assert_eq!(c[best], vec!["安全账户".to_owned(), "监管账户".to_owned()]);
        assert_eq!(
            clauses("(刷|补)(单|好评)"),
            vec![vec![
                "刷单".to_owned(),
                "刷好评".to_owned(),
                "补单".to_owned(),
                "补好评".to_owned()
            ]]
        );
    }

    #[test]
    fn optional_parts_and_wide_classes_add_no_clause() {
        assert!(clauses(r"\d{5,}").is_empty());
        assert!(clauses(r"(刷单)?\d+").is_empty());
        assert!(clauses(".*").is_empty());
        assert_eq!(clauses(r"\d+万"), vec![vec!["万".to_owned()]]);
    }

    #[test]
    fn an_alternation_with_a_branch_free_of_literals_adds_no_clause() {
        assert!(clauses(r"(刷单|\d+)").is_empty());
        assert_eq!(
            clauses("(刷单|.{0,3}垫付)"),
            vec![vec!["刷单".to_owned(), "垫付".to_owned()]]
        );
    }

    #[test]
    fn digit_runs_every_match_holds() {
        assert_eq!(digit_run(r"(银行|支行)(卡号)?\d{16,19}"), 16);
        assert_eq!(digit_run(r"\d{16,19}.{0,8}(工行|银行)"), 16);
        assert_eq!(digit_run(r"1[3-9]\d{9}"), 11);
        assert_eq!(digit_run(r"(拨打|联系)12\d{3,}"), 5);
        assert_eq!(digit_run(r"(\d{6}|\d{8,})"), 6);
        // Nothing certain: an optional run, a branch without digits, a property class.
        assert_eq!(digit_run(r"(卡号)?(\d{16})?"), 0);
        assert_eq!(digit_run(r"(元|万|\d)(与|和)"), 0);
        assert_eq!(digit_run(r"\p{Nd}{16}"), 0);
        assert_eq!(digit_run(r"[0-9a]{16}"), 0);
        assert_eq!(digit_run("(unclosed"), 0);
    }

    #[test]
    fn unparseable_or_case_sensitive_non_ascii_adds_no_clause() {
        assert!(clauses("(unclosed").is_empty());
        assert!(clauses("ÉTAPE").is_empty());
        assert_eq!(clauses("usdt"), vec![vec!["usdt".to_owned()]]);
    }
}
