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
    fn unparseable_or_case_sensitive_non_ascii_adds_no_clause() {
        assert!(clauses("(unclosed").is_empty());
        assert!(clauses("ÉTAPE").is_empty());
        assert_eq!(clauses("usdt"), vec![vec!["usdt".to_owned()]]);
    }
}
