//! Reading a rule pack directory into checked definitions, every problem with file and line.
//!
//! This is the first half of [`crate::load_pack`]: it reads `pack.toml` and the files it names,
//! parses every line, and checks everything that can be checked without compiling (names,
//! weights, numbers, references between files). Problems are collected, not returned at the
//! first one, so `interdict rules validate` shows all of them at once.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::error::{PackError, PackErrorKind};
use rustc_hash::FxHashMap;

use crate::lists::{parse_prefix, Action, ListId, ListMeta, NumberListsBuilder, Prefix, Source};
use crate::number::{normalise, NumberConfig};

/// Largest file the loader reads (a list of 10 M numbers is about 150 MB).
pub const MAX_FILE_BYTES: u64 = 1 << 30;
/// Highest weight of a phrase or pattern.
pub const MAX_WEIGHT: u8 = 9;
/// Longest phrase or regex accepted, in bytes.
pub const MAX_PHRASE_BYTES: usize = 512;

/// `pack.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestToml {
    name: String,
    version: String,
    #[serde(default = "default_cc")]
    country_code: u16,
    /// IP-call prefixes dial plans strip ([`NumberConfig::ip_call_prefixes`]); absent: the
    /// default list.
    #[serde(default)]
    ip_call_prefixes: Option<Spanned<Vec<String>>>,
    rules: String,
    #[serde(default)]
    patterns: Option<String>,
    #[serde(default)]
    lookalikes: Option<String>,
    #[serde(default)]
    lure_domains: Option<String>,
    #[serde(default)]
    official_domains: Option<String>,
    #[serde(default)]
    shortener_domains: Option<String>,
    #[serde(default)]
    list: Vec<Spanned<ListToml>>,
    #[serde(default)]
    category: Vec<Spanned<CategoryToml>>,
    #[serde(default)]
    matcher: MatcherConfig,
    #[serde(default)]
    behaviour: Option<toml::Table>,
}

fn default_cc() -> u16 {
    86
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListToml {
    name: String,
    file: String,
    category: String,
    action: ListAction,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CategoryToml {
    id: String,
    role: CategoryRole,
    description: String,
    #[serde(default)]
    phrases: Option<String>,
}

/// What a hit on a number list means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListAction {
    /// Official numbers: never blocked on a domestic ingress.
    Allow,
    /// Rules block on a hit.
    Block,
    /// Rules warn on a hit.
    Warn,
}

/// What a text category stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CategoryRole {
    /// A fraud family: reported in decisions.
    Fraud,
    /// Supporting evidence (a request for money, a move to another channel).
    Signal,
    /// Marks legitimate traffic (used in `unless` conditions).
    Guard,
}

/// Matcher settings of the manifest.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MatcherConfig {
    /// Longest prefix of a message scanned, in bytes of the original text.
    pub max_text_bytes: usize,
}

impl Default for MatcherConfig {
    fn default() -> Self {
        MatcherConfig {
            max_text_bytes: 8192,
        }
    }
}

/// Where a definition was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// File, relative to the pack directory.
    pub file: String,
    /// 1-based line.
    pub line: usize,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// A number list as declared (its entries go straight into [`PackSource::numbers`]).
#[derive(Debug, Clone)]
pub struct ListDef {
    /// Unique name, used by rules.
    pub name: String,
    /// Category reported with hits.
    pub category: String,
    /// What a hit means.
    pub action: ListAction,
    /// The list file, relative to the pack directory.
    pub file: String,
    /// Its id in [`PackSource::numbers`].
    pub id: Option<ListId>,
}

/// Exact numbers whose file line is remembered for evidence, at most this many per pack
/// (a 10-million-number list keeps only its file as the source: 4 more bytes per number
/// would break the 16-bytes-per-number budget).
pub const MAX_LINES_KEPT: usize = 200_000;

/// A phrase of a category.
#[derive(Debug, Clone)]
pub struct PhraseLine {
    /// The phrase as written.
    pub text: String,
    /// Its weight (1..=9).
    pub weight: u8,
    /// Where it was written.
    pub origin: Origin,
}

/// A text category.
#[derive(Debug, Clone)]
pub struct CategoryDef {
    /// Unique id.
    pub id: String,
    /// Fraud family, signal or guard.
    pub role: CategoryRole,
    /// What it stands for.
    pub description: String,
    /// Its phrases.
    pub phrases: Vec<PhraseLine>,
}

/// A regular expression of `patterns.txt`.
#[derive(Debug, Clone)]
pub struct PatternLine {
    /// Unique id.
    pub id: String,
    /// Index of its category in [`PackSource::categories`].
    pub category: usize,
    /// Weight added to the category's score.
    pub weight: u8,
    /// The regex.
    pub regex: String,
    /// Where it was written.
    pub origin: Origin,
}

/// A look-alike pair.
#[derive(Debug, Clone)]
pub struct LookalikeLine {
    /// What scammers write.
    pub from: String,
    /// What it stands for.
    pub to: String,
    /// Where it was written.
    pub origin: Origin,
}

/// A rule as written in `rules.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleToml {
    /// Unique id, reported in decisions.
    pub id: String,
    /// What the rule catches and why.
    pub description: String,
    /// Block, warn or pass.
    pub verdict: crate::decision::Verdict,
    /// Higher wins.
    pub priority: i32,
    /// May fire although the caller or callee is allowlisted (spoofing).
    #[serde(default)]
    pub overrides_allowlist: bool,
    /// The conditions, all of which must hold.
    pub when: WhenToml,
}

/// A group of text categories: met when one of them reaches `min`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextGroupToml {
    /// Category ids.
    pub categories: Vec<String>,
    /// Score to reach.
    pub min: u32,
}

/// Conditions of a rule (all must hold; an absent condition holds).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhenToml {
    /// The caller is in one of these lists.
    #[serde(default)]
    pub caller_in: Vec<String>,
    /// The callee is in one of these lists.
    #[serde(default)]
    pub callee_in: Vec<String>,
    /// A phone contact in the text is in one of these lists.
    #[serde(default)]
    pub contact_in: Vec<String>,
    /// A URL or domain in the text is on the lure-domain list.
    #[serde(default)]
    pub contact_lure_domain: bool,
    /// Every group must be met.
    #[serde(default)]
    pub text: Vec<TextGroupToml>,
    /// The rule does not fire when any group is met.
    #[serde(default)]
    pub unless: Vec<TextGroupToml>,
    /// Ingress class of the event.
    #[serde(default)]
    pub ingress: Option<crate::event::Ingress>,
    /// Channel of the event (`call`, `sms`).
    #[serde(default)]
    pub channel: Option<crate::event::Channel>,
    /// Kinds the caller must be one of (`e164`, `service`, `alphanumeric`, `unparseable`).
    #[serde(default)]
    pub caller_kind: Vec<String>,
    /// The caller is a domestic number (home country E.164 or a service number).
    #[serde(default)]
    pub caller_domestic: Option<bool>,
    /// One of these behaviour flags is raised.
    #[serde(default)]
    pub behaviour: Vec<String>,
    /// One of these behaviour flags is raised too (corroboration of `behaviour`).
    #[serde(default)]
    pub behaviour_also: Vec<String>,
    /// A link of the text is of one of these kinds (`any`, `ip`, `shortener`, `lookalike`,
    /// `unofficial`; see [`crate::text::links`]).
    #[serde(default)]
    pub link: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesToml {
    #[serde(default)]
    rule: Vec<Spanned<RuleToml>>,
}

/// A rule and where it was written.
#[derive(Debug, Clone)]
pub struct RuleDef {
    /// The rule.
    pub rule: RuleToml,
    /// File and line of its `[[rule]]` table.
    pub origin: Origin,
}

/// A rule pack read and checked line by line, ready to compile.
#[derive(Debug)]
pub struct PackSource {
    /// The pack's directory.
    pub dir: PathBuf,
    /// Pack name.
    pub name: String,
    /// Pack version.
    pub version: String,
    /// Numbering configuration (country code).
    pub number_config: NumberConfig,
    /// Number lists as declared.
    pub lists: Vec<ListDef>,
    /// The lists' entries, ready to build.
    pub numbers: NumberListsBuilder,
    /// `(number key, list index) -> line` of exact entries, while fewer than [`MAX_LINES_KEPT`].
    pub exact_lines: FxHashMap<(u64, u16), u32>,
    /// Text categories with their phrases.
    pub categories: Vec<CategoryDef>,
    /// Regular expressions.
    pub patterns: Vec<PatternLine>,
    /// Look-alike pairs.
    pub lookalikes: Vec<LookalikeLine>,
    /// Lure domains (lower case) with their origin.
    pub lure_domains: Vec<(String, Origin)>,
    /// Institutions' official domains (lower case) with their origin.
    pub official_domains: Vec<(String, Origin)>,
    /// URL shortener domains (lower case) with their origin.
    pub shortener_domains: Vec<(String, Origin)>,
    /// Rules.
    pub rules: Vec<RuleDef>,
    /// Matcher settings.
    pub matcher: MatcherConfig,
    /// The `[behaviour]` table as written (deserialised by the behaviour module).
    pub behaviour: Option<toml::Table>,
}

struct Reader<'e> {
    dir: PathBuf,
    errors: &'e mut Vec<PackError>,
}

impl Reader<'_> {
    fn err(&mut self, file: &str, line: usize, kind: PackErrorKind) {
        self.errors.push(PackError {
            file: file.to_owned(),
            line,
            kind,
        });
    }

    /// Reads a file of the pack; a problem is recorded (line 0) and `None` returned.
    fn read(&mut self, file: &str, from: &Origin) -> Option<String> {
        let rel = Path::new(file);
        if rel.is_absolute()
            || rel
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            self.err(
                &from.file,
                from.line,
                PackErrorKind::PathOutsidePack(file.to_owned()),
            );
            return None;
        }
        let path = self.dir.join(rel);
        let res = std::fs::metadata(&path).and_then(|m| {
            if m.len() > MAX_FILE_BYTES {
                Err(std::io::Error::other(format!(
                    "{} bytes, more than the {} accepted",
                    m.len(),
                    MAX_FILE_BYTES
                )))
            } else {
                std::fs::read_to_string(&path)
            }
        });
        match res {
            Ok(s) => Some(s),
            Err(e) => {
                self.err(file, 0, PackErrorKind::Io(e.to_string()));
                None
            }
        }
    }
}

/// 1-based line of a byte offset.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()
        .get(..end)
        .map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count())
        + 1
}

/// Lines of a line-oriented file without comments and blank lines: `(line number, content)`.
fn content_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    raw_lines(text).enumerate().filter_map(|(i, l)| {
        // Nearly every line of a number list: no comment, nothing to trim.
        if plain_number(l) {
            return Some((i + 1, l));
        }
        let l = l.trim_end_matches('\r');
        let l = match l.find('#') {
            // `#` starts a comment at the start of a line or after whitespace.
            Some(0) => "",
            Some(p) if l.get(..p).is_some_and(|b| b.ends_with([' ', '\t'])) => {
                l.get(..p).unwrap_or("")
            }
            _ => l,
        };
        let l = l.trim();
        (!l.is_empty()).then_some((i + 1, l))
    })
}

/// The lines of `text` split at `\n`, with their `\r` (blank and `\r`-only lines are dropped by
/// [`content_lines`] anyway, so its result is that of `str::lines`). A byte loop: a number
/// list's lines are a dozen bytes, too short for `memchr` to pay.
fn raw_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut start = 0;
    std::iter::from_fn(move || {
        let rest = text.as_bytes().get(start..)?;
        let len = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        let line = text.get(start..start + len).unwrap_or_default();
        start += len + 1;
        Some(line)
    })
}

/// Number of `\n` in `text` (the loops vectorise).
fn count_newlines(text: &str) -> usize {
    text.as_bytes()
        .chunks(4096)
        .map(|chunk| chunk.iter().map(|&b| u32::from(b == b'\n')).sum::<u32>() as usize)
        .sum()
}

/// `13800000001` or `+8613800000001`: digits after an optional `+`, nothing else.
fn plain_number(line: &str) -> bool {
    let b = line.as_bytes();
    let digits = b.strip_prefix(b"+").unwrap_or(b);
    !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

fn parse_weight(s: &str) -> Option<u8> {
    s.parse::<u8>()
        .ok()
        .filter(|w| (1..=MAX_WEIGHT).contains(w))
}

/// Reads and checks the pack in `dir`; all problems are appended to `errors`.
pub fn read_pack(dir: &Path, errors: &mut Vec<PackError>) -> Option<PackSource> {
    let mut r = Reader {
        dir: dir.to_path_buf(),
        errors,
    };
    let top = Origin {
        file: "pack.toml".into(),
        line: 0,
    };
    let manifest_text = r.read("pack.toml", &top)?;
    let manifest: ManifestToml = match toml::from_str(&manifest_text) {
        Ok(m) => m,
        Err(e) => {
            let line = e.span().map_or(0, |s| line_of(&manifest_text, s.start));
            r.err(
                "pack.toml",
                line,
                PackErrorKind::Toml(e.message().to_owned()),
            );
            return None;
        }
    };
    let mut number_config = NumberConfig {
        country_code: manifest.country_code,
        ..NumberConfig::default()
    };
    if let Some(prefixes) = &manifest.ip_call_prefixes {
        let line = line_of(&manifest_text, prefixes.span().start);
        for p in prefixes.get_ref() {
            if !(3..=8).contains(&p.len()) || !p.bytes().all(|b| b.is_ascii_digit()) {
                r.err(
                    "pack.toml",
                    line,
                    PackErrorKind::Syntax(format!(
                        "ip_call_prefixes: {:?} is not 3 to 8 digits",
                        p.chars().take(40).collect::<String>()
                    )),
                );
            }
        }
        number_config.ip_call_prefixes = prefixes.get_ref().clone();
    }
    if !valid_name(&manifest.name) {
        r.err(
            "pack.toml",
            1,
            PackErrorKind::BadName(manifest.name.clone()),
        );
    }

    // Number lists: entries go straight into the builder (10 M numbers must not be held twice).
    let mut lists = Vec::new();
    let mut builder = NumberListsBuilder::new();
    let mut exact_lines: FxHashMap<(u64, u16), u32> = FxHashMap::default();
    let mut list_names = HashSet::new();
    for spanned in &manifest.list {
        let line = line_of(&manifest_text, spanned.span().start);
        let l = spanned.get_ref();
        let at = Origin {
            file: "pack.toml".into(),
            line,
        };
        if !valid_name(&l.name) {
            r.err("pack.toml", line, PackErrorKind::BadName(l.name.clone()));
        }
        if !list_names.insert(l.name.clone()) {
            r.err(
                "pack.toml",
                line,
                PackErrorKind::Duplicate(format!("list {}", l.name)),
            );
            continue;
        }
        let action = match l.action {
            ListAction::Allow => Action::Allow,
            ListAction::Block => Action::Block,
            ListAction::Warn => Action::Warn,
        };
        let meta = ListMeta::new(&l.name, &l.category, action, Source::file(&l.file, 0));
        let id = match builder.add_list(meta) {
            Ok(id) => Some(id),
            Err(e) => {
                r.err("pack.toml", line, PackErrorKind::Compile(e.to_string()));
                None
            }
        };
        if let (Some(id), Some(text)) = (id, r.read(&l.file, &at)) {
            let list_bits = id.index() as u16;
            // At most one number per line.
            builder.reserve(count_newlines(&text) + 1);
            for (n, content) in content_lines(&text) {
                let n32 = u32::try_from(n).unwrap_or(u32::MAX);
                match parse_list_entry(content, &number_config) {
                    Ok(ListEntry::Exact(key)) => {
                        if exact_lines.len() < MAX_LINES_KEPT {
                            if let Some(first) = exact_lines.insert((key, list_bits), n32) {
                                r.err(
                                    &l.file,
                                    n,
                                    PackErrorKind::Duplicate(format!(
                                        "number {content:?} (first on line {first})"
                                    )),
                                );
                                continue;
                            }
                        }
                        if let Some(k) = crate::number::NumberKey::from_raw(key) {
                            if let Err(e) = builder.add_exact(id, k) {
                                r.err(&l.file, n, PackErrorKind::Compile(e.to_string()));
                            }
                        }
                    }
                    Ok(ListEntry::Prefix(p)) => {
                        if let Err(e) = builder.add_prefix(id, p, Source::file(&l.file, n32)) {
                            r.err(&l.file, n, PackErrorKind::Compile(e.to_string()));
                        }
                    }
                    Err(kind) => r.err(&l.file, n, kind),
                }
            }
        }
        lists.push(ListDef {
            name: l.name.clone(),
            category: l.category.clone(),
            action: l.action,
            file: l.file.clone(),
            id,
        });
    }

    // Categories and phrases.
    let mut categories = Vec::new();
    let mut category_ids: HashMap<String, usize> = HashMap::new();
    for spanned in &manifest.category {
        let line = line_of(&manifest_text, spanned.span().start);
        let c = spanned.get_ref();
        let at = Origin {
            file: "pack.toml".into(),
            line,
        };
        if !valid_name(&c.id) {
            r.err("pack.toml", line, PackErrorKind::BadName(c.id.clone()));
        }
        if category_ids
            .insert(c.id.clone(), categories.len())
            .is_some()
        {
            r.err(
                "pack.toml",
                line,
                PackErrorKind::Duplicate(format!("category {}", c.id)),
            );
        }
        let mut phrases = Vec::new();
        if let Some(file) = &c.phrases {
            if let Some(text) = r.read(file, &at) {
                let mut seen = HashMap::new();
                for (n, content) in content_lines(&text) {
                    match parse_phrase(content) {
                        Ok((phrase, weight)) => {
                            if let Some(first) = seen.insert(phrase.to_owned(), n) {
                                r.err(
                                    file,
                                    n,
                                    PackErrorKind::Duplicate(format!(
                                        "phrase {phrase:?} (first on line {first})"
                                    )),
                                );
                                continue;
                            }
                            phrases.push(PhraseLine {
                                text: phrase.to_owned(),
                                weight,
                                origin: Origin {
                                    file: file.clone(),
                                    line: n,
                                },
                            });
                        }
                        Err(kind) => r.err(file, n, kind),
                    }
                }
            }
        }
        categories.push(CategoryDef {
            id: c.id.clone(),
            role: c.role,
            description: c.description.clone(),
            phrases,
        });
    }

    // Patterns.
    let mut patterns = Vec::new();
    if let Some(file) = &manifest.patterns {
        if let Some(text) = r.read(file, &top) {
            let mut ids = HashMap::new();
            for (n, content) in content_lines(&text) {
                match parse_pattern(content, &category_ids) {
                    Ok((id, category, weight, regex)) => {
                        if let Some(first) = ids.insert(id.to_owned(), n) {
                            r.err(
                                file,
                                n,
                                PackErrorKind::Duplicate(format!(
                                    "pattern {id} (first on line {first})"
                                )),
                            );
                            continue;
                        }
                        if let Err(e) = regex::Regex::new(regex) {
                            r.err(file, n, PackErrorKind::BadRegex(first_line(&e.to_string())));
                            continue;
                        }
                        patterns.push(PatternLine {
                            id: id.to_owned(),
                            category,
                            weight,
                            regex: regex.to_owned(),
                            origin: Origin {
                                file: file.clone(),
                                line: n,
                            },
                        });
                    }
                    Err(kind) => r.err(file, n, kind),
                }
            }
        }
    }

    // Look-alikes.
    let mut lookalikes = Vec::new();
    if let Some(file) = &manifest.lookalikes {
        if let Some(text) = r.read(file, &top) {
            for (n, content) in content_lines(&text) {
                let mut parts = content.split('\t').map(str::trim).filter(|p| !p.is_empty());
                match (parts.next(), parts.next(), parts.next()) {
                    (Some(from), Some(to), None) if from != to => lookalikes.push(LookalikeLine {
                        from: from.to_owned(),
                        to: to.to_owned(),
                        origin: Origin {
                            file: file.clone(),
                            line: n,
                        },
                    }),
                    _ => r.err(
                        file,
                        n,
                        PackErrorKind::Syntax(
                            "expected `from<TAB>to` with two different texts".into(),
                        ),
                    ),
                }
            }
        }
    }

    // Lure, official and shortener domains.
    let lure_domains = read_domains(&mut r, manifest.lure_domains.as_ref(), &top);
    let official_domains = read_domains(&mut r, manifest.official_domains.as_ref(), &top);
    let shortener_domains = read_domains(&mut r, manifest.shortener_domains.as_ref(), &top);

    // Rules.
    let mut rules = Vec::new();
    let rules_file = manifest.rules.clone();
    if let Some(text) = r.read(&rules_file, &top) {
        match toml::from_str::<RulesToml>(&text) {
            Ok(parsed) => {
                let mut ids = HashMap::new();
                for spanned in parsed.rule {
                    let line = line_of(&text, spanned.span().start);
                    let rule = spanned.into_inner();
                    if !valid_name(&rule.id) {
                        r.err(&rules_file, line, PackErrorKind::BadName(rule.id.clone()));
                    }
                    if let Some(first) = ids.insert(rule.id.clone(), line) {
                        r.err(
                            &rules_file,
                            line,
                            PackErrorKind::Duplicate(format!(
                                "rule {} (first on line {first})",
                                rule.id
                            )),
                        );
                    }
                    check_rule(&rule, &list_names, &category_ids, &mut |kind| {
                        r.errors.push(PackError {
                            file: rules_file.clone(),
                            line,
                            kind,
                        })
                    });
                    rules.push(RuleDef {
                        rule,
                        origin: Origin {
                            file: rules_file.clone(),
                            line,
                        },
                    });
                }
            }
            Err(e) => {
                let line = e.span().map_or(0, |s| line_of(&text, s.start));
                r.err(
                    &rules_file,
                    line,
                    PackErrorKind::Toml(e.message().to_owned()),
                );
            }
        }
    }

    Some(PackSource {
        dir: dir.to_path_buf(),
        name: manifest.name,
        version: manifest.version,
        number_config,
        lists,
        numbers: builder,
        exact_lines,
        categories,
        patterns,
        lookalikes,
        lure_domains,
        official_domains,
        shortener_domains,
        rules,
        matcher: manifest.matcher,
        behaviour: manifest.behaviour,
    })
}

/// A domain file: one domain per line (lower-cased), each checked and unique.
fn read_domains(r: &mut Reader<'_>, file: Option<&String>, top: &Origin) -> Vec<(String, Origin)> {
    let mut domains = Vec::new();
    let Some(file) = file else {
        return domains;
    };
    let Some(text) = r.read(file, top) else {
        return domains;
    };
    let mut seen = HashSet::new();
    for (n, content) in content_lines(&text) {
        let d = content.trim_end_matches('.').to_ascii_lowercase();
        let ok = d.contains('.')
            && d.len() <= 253
            && d.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !ok {
            r.err(file, n, PackErrorKind::BadDomain(content.to_owned()));
        } else if !seen.insert(d.clone()) {
            r.err(file, n, PackErrorKind::Duplicate(format!("domain {d}")));
        } else {
            domains.push((
                d,
                Origin {
                    file: file.clone(),
                    line: n,
                },
            ));
        }
    }
    domains
}

fn first_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

enum ListEntry {
    Exact(u64),
    Prefix(Prefix),
}

/// `+8617100000001`, `95588`, `ICBC` (exact) or `+861709999*` / `955*` (prefix).
fn parse_list_entry(content: &str, cfg: &NumberConfig) -> Result<ListEntry, PackErrorKind> {
    if content.ends_with('*') {
        return parse_prefix(content)
            .map(ListEntry::Prefix)
            .map_err(|e| PackErrorKind::BadNumber(e.to_string()));
    }
    normalise(content, cfg)
        .map(|n| ListEntry::Exact(n.key().raw()))
        .map_err(|e| PackErrorKind::BadNumber(format!("{content:?}: {e}")))
}

/// `phrase [weight]`.
fn parse_phrase(content: &str) -> Result<(&str, u8), PackErrorKind> {
    let (phrase, weight) = match content.rsplit_once([' ', '\t']) {
        Some((p, w)) if w.bytes().all(|b| b.is_ascii_digit()) => {
            let w = parse_weight(w).ok_or_else(|| PackErrorKind::BadWeight(w.to_owned()))?;
            (p.trim(), w)
        }
        _ => (content, 1),
    };
    if phrase.is_empty() || phrase.len() > MAX_PHRASE_BYTES {
        return Err(PackErrorKind::Syntax(format!(
            "a phrase must have 1 to {MAX_PHRASE_BYTES} bytes"
        )));
    }
    Ok((phrase, weight))
}

/// `id<TAB>category<TAB>weight<TAB>regex`.
fn parse_pattern<'a>(
    content: &'a str,
    categories: &HashMap<String, usize>,
) -> Result<(&'a str, usize, u8, &'a str), PackErrorKind> {
    let mut parts = content.splitn(4, '\t');
    let (Some(id), Some(cat), Some(weight), Some(regex)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(PackErrorKind::Syntax(
            "expected `id<TAB>category<TAB>weight<TAB>regex`".into(),
        ));
    };
    let (id, cat, weight, regex) = (id.trim(), cat.trim(), weight.trim(), regex.trim());
    if !valid_name(id) {
        return Err(PackErrorKind::BadName(id.to_owned()));
    }
    let category = *categories
        .get(cat)
        .ok_or_else(|| PackErrorKind::UnknownCategory(cat.to_owned()))?;
    let weight = parse_weight(weight).ok_or_else(|| PackErrorKind::BadWeight(weight.to_owned()))?;
    if regex.is_empty() || regex.len() > MAX_PHRASE_BYTES {
        return Err(PackErrorKind::Syntax(format!(
            "a regex must have 1 to {MAX_PHRASE_BYTES} bytes"
        )));
    }
    Ok((id, category, weight, regex))
}

/// Behaviour flag names a rule may use.
pub const BEHAVIOUR_FLAGS: [&str; 8] = [
    "call_rate",
    "distinct_callees",
    "sequential_dialling",
    "sms_burst",
    "concurrent",
    "short_calls",
    "campaign",
    "text_campaign",
];

fn check_rule(
    rule: &RuleToml,
    lists: &HashSet<String>,
    categories: &HashMap<String, usize>,
    report: &mut dyn FnMut(PackErrorKind),
) {
    let w = &rule.when;
    for name in w.caller_in.iter().chain(&w.callee_in).chain(&w.contact_in) {
        if !lists.contains(name) {
            report(PackErrorKind::UnknownList(name.clone()));
        }
    }
    for group in w.text.iter().chain(&w.unless) {
        if group.categories.is_empty() {
            report(PackErrorKind::Syntax(
                "a text group needs at least one category".into(),
            ));
        }
        if group.min == 0 {
            report(PackErrorKind::Syntax(
                "a text group's `min` must be at least 1".into(),
            ));
        }
        for c in &group.categories {
            if !categories.contains_key(c) {
                report(PackErrorKind::UnknownCategory(c.clone()));
            }
        }
    }
    for k in &w.caller_kind {
        if crate::decision::PartyKind::from_name(k).is_none() {
            report(PackErrorKind::Syntax(format!(
                "unknown caller kind {k:?} (e164, service, alphanumeric, unparseable)"
            )));
        }
    }
    for b in w.behaviour.iter().chain(&w.behaviour_also) {
        if crate::behaviour::BehaviourFlag::from_name(b).is_none() {
            report(PackErrorKind::Syntax(format!(
                "unknown behaviour flag {b:?} (one of {})",
                BEHAVIOUR_FLAGS.join(", ")
            )));
        }
    }
    for k in &w.link {
        if crate::text::link_bit(k).is_none() {
            let names: Vec<&str> = crate::text::LINK_KINDS.iter().map(|(n, _)| *n).collect();
            report(PackErrorKind::Syntax(format!(
                "unknown link kind {k:?} (one of {})",
                names.join(", ")
            )));
        }
    }
    let has_condition = !w.caller_in.is_empty()
        || !w.callee_in.is_empty()
        || !w.contact_in.is_empty()
        || w.contact_lure_domain
        || !w.text.is_empty()
        || w.ingress.is_some()
        || w.channel.is_some()
        || !w.caller_kind.is_empty()
        || w.caller_domestic.is_some()
        || !w.behaviour.is_empty()
        || !w.behaviour_also.is_empty()
        || !w.link.is_empty();
    if !has_condition {
        report(PackErrorKind::Syntax(
            "a rule needs at least one condition in [rule.when]".into(),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every [`crate::policy::Condition`] is a `when` key of the pack, under its own name, and
    /// a key that is none of them is refused.
    #[test]
    fn every_condition_is_a_when_key_and_nothing_else_is() {
        use crate::policy::Condition;
        for c in Condition::ALL {
            let value = match c {
                Condition::ContactLureDomain | Condition::CallerDomestic => "true",
                Condition::Ingress => "\"domestic\"",
                Condition::Channel => "\"sms\"",
                _ => "[]",
            };
            let toml_text = format!("{} = {value}", c.name());
            let parsed: Result<WhenToml, _> = toml::from_str(&toml_text);
            assert!(parsed.is_ok(), "{toml_text}: {parsed:?}");
        }
        let refused: Result<WhenToml, _> = toml::from_str("caller_on = []");
        assert!(refused.is_err());
    }

    #[test]
    fn content_lines_drop_comments_and_blanks_and_keep_line_numbers() {
        let text = "# header\n13800000001\n+8613800000002\r\n\n  13800000003  # note\n\
                    95588#x\n+\n170*\n12345\r\r\n\t+86 138\t\n";
        let got: Vec<_> = content_lines(text).collect();
        assert_eq!(
            got,
            vec![
                (2, "13800000001"),
                (3, "+8613800000002"),
                (5, "13800000003"),
                (6, "95588#x"),
                (7, "+"),
                (8, "170*"),
                (9, "12345"),
                (10, "+86 138"),
            ]
        );
        assert!(plain_number("+8613800000001") && plain_number("7"));
        assert!(!plain_number("+") && !plain_number("") && !plain_number("138 0"));
        assert!(!plain_number("138\r") && !plain_number("++1"));
    }

    #[test]
    fn content_lines_read_as_str_lines_would() {
        for text in [
            "",
            "\n",
            "a",
            "a\n",
            "a\n\n",
            "\r\n\r\nx\r",
            "x\ry\nz",
            "中文\n  短语 2 \r\n#注释\n",
        ] {
            let with_std: Vec<(usize, &str)> = text
                .lines()
                .enumerate()
                .filter_map(|(i, l)| {
                    let l = l.trim_end_matches('\r').trim();
                    (!l.is_empty() && !l.starts_with('#')).then_some((i + 1, l))
                })
                .collect();
            assert_eq!(
                content_lines(text).collect::<Vec<_>>(),
                with_std,
                "{text:?}"
            );
        }
        let text = "1\n\n3\r\n".repeat(5000);
        assert_eq!(count_newlines(&text), 15000);
        assert_eq!(count_newlines(""), 0);
    }
}
