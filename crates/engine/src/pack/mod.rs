//! The rule pack: read a `rules/` directory, check it, and compile it into a [`Snapshot`].
//!
//! [`load_pack`] reads `pack.toml` and every file it names (see `rules/README.md` for the
//! format), reports EVERY problem with its file and line ([`PackErrors`]), and compiles the
//! number lists, the text matcher (Hyperscan) and the policy into an immutable [`Snapshot`]
//! that the [`crate::Engine`] swaps in atomically.
//!
//! Compiling the Hyperscan databases is most of the load time; [`load_pack_with`] with
//! [`LoadOptions::cache_dir`] keeps them on disk so a restart with an unchanged pack reads them
//! back (see [`crate::text::DbCache`]); [`load_pack`] caches only when `INTERDICT_CACHE_DIR` is
//! set.

mod error;
mod source;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustc_hash::FxHashMap;

pub use error::{PackError, PackErrorKind, PackErrors};
pub use source::{
    read_pack, CategoryDef, CategoryRole, ListAction, ListDef, MatcherConfig, Origin, PackSource,
    BEHAVIOUR_FLAGS, MAX_LINES_KEPT,
};

use crate::behaviour::{BehaviourConfig, BehaviourFlag};
use crate::decision::PartyKind;
use crate::lists::{Action, NumberLists};
use crate::number::NumberConfig;
use crate::policy::{kind_bit, Conditions, Policy, Rule, TextGroup, MAX_LISTS};
use crate::text::{CategoryId, DbCache, LinkTables, PatternDef, PhraseDef, TextError, TextMatcher};

/// A text category of a compiled pack.
#[derive(Debug, Clone)]
pub struct Category {
    /// Its id (`police_impersonation`).
    pub id: Arc<str>,
    /// Fraud family, signal or guard.
    pub role: CategoryRole,
    /// What it stands for.
    pub description: Arc<str>,
}

/// A compiled rule pack: everything a decision reads, immutable and shared.
///
/// Cloning is cheap (every part is reference-counted); [`Snapshot::with_lists`] makes a new
/// snapshot that shares everything but the number lists.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub(crate) name: Arc<str>,
    pub(crate) version: Arc<str>,
    pub(crate) numbers: NumberConfig,
    pub(crate) lists: NumberLists,
    /// Bit i set when list i has action Allow.
    pub(crate) allow_mask: u64,
    /// `(key, list) -> line` of exact entries (small packs only; see [`MAX_LINES_KEPT`]).
    pub(crate) exact_lines: Arc<FxHashMap<(u64, u16), u32>>,
    pub(crate) matcher: Arc<TextMatcher>,
    pub(crate) categories: Arc<[Category]>,
    /// Per phrase index: the phrase as written.
    pub(crate) phrases: Arc<[Arc<str>]>,
    /// Per pattern index: its id.
    pub(crate) pattern_ids: Arc<[Arc<str>]>,
    /// Lure domain -> `file:line`.
    pub(crate) lure_domains: Arc<FxHashMap<Box<str>, Arc<str>>>,
    /// Official and shortener domains: what a link's host is.
    pub(crate) links: Arc<LinkTables>,
    pub(crate) policy: Arc<Policy>,
    pub(crate) behaviour: BehaviourConfig,
    pub(crate) max_text_bytes: usize,
    /// Fraud-role categories (reported with any non-pass decision).
    pub(crate) fraud_categories: Arc<[CategoryId]>,
}

impl Snapshot {
    /// The pack's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The pack's version.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The numbering configuration (country code).
    pub fn number_config(&self) -> &NumberConfig {
        &self.numbers
    }

    /// The number lists.
    pub fn lists(&self) -> &NumberLists {
        &self.lists
    }

    /// The text matcher.
    pub fn matcher(&self) -> &TextMatcher {
        &self.matcher
    }

    /// The text categories, indexed by [`CategoryId`].
    pub fn categories(&self) -> &[Category] {
        &self.categories
    }

    /// The category with this id.
    pub fn category_id(&self, id: &str) -> Option<CategoryId> {
        self.categories
            .iter()
            .position(|c| &*c.id == id)
            .and_then(|i| u16::try_from(i).ok())
            .map(CategoryId)
    }

    /// The rules, highest priority first.
    pub fn rules(&self) -> &[Rule] {
        self.policy.rules()
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Behaviour thresholds of the pack.
    pub fn behaviour_config(&self) -> &BehaviourConfig {
        &self.behaviour
    }

    /// Number of lure domains.
    pub fn lure_domain_count(&self) -> usize {
        self.lure_domains.len()
    }

    /// The official and shortener domains links are classified with.
    pub fn link_tables(&self) -> &LinkTables {
        &self.links
    }

    /// A snapshot sharing everything with this one except the number lists.
    pub fn with_lists(&self, lists: NumberLists) -> Snapshot {
        Snapshot {
            lists,
            ..self.clone()
        }
    }

    /// The lure domain `domain` (lower case) is on or under, with its `file:line`.
    pub fn lure_domain(&self, domain: &str) -> Option<(&str, &Arc<str>)> {
        let mut d = domain.trim_end_matches('.');
        loop {
            if let Some((k, origin)) = self.lure_domains.get_key_value(d) {
                return Some((k, origin));
            }
            match d.split_once('.') {
                Some((_, rest)) if rest.contains('.') => d = rest,
                _ => return None,
            }
        }
    }
}

/// The environment variable [`LoadOptions::from_env`] (and so [`load_pack`]) reads the cache
/// directory from.
pub const CACHE_DIR_ENV: &str = "INTERDICT_CACHE_DIR";

/// How a pack is loaded (see [`load_pack_with`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoadOptions {
    /// Directory of compiled Hyperscan databases ([`DbCache`]): read when it holds this pack's
    /// databases, written when they had to be compiled. `None` (the default): everything is
    /// compiled, nothing is written.
    pub cache_dir: Option<PathBuf>,
}

impl LoadOptions {
    /// No cache: everything is compiled.
    pub fn new() -> LoadOptions {
        LoadOptions::default()
    }

    /// These options with the database cache in `dir`.
    pub fn with_cache_dir(mut self, dir: impl Into<PathBuf>) -> LoadOptions {
        self.cache_dir = Some(dir.into());
        self
    }

    /// The cache directory named by the environment variable [`CACHE_DIR_ENV`]
    /// (`INTERDICT_CACHE_DIR`), if it is set and not empty; no cache otherwise.
    pub fn from_env() -> LoadOptions {
        LoadOptions {
            cache_dir: std::env::var_os(CACHE_DIR_ENV)
                .filter(|d| !d.is_empty())
                .map(PathBuf::from),
        }
    }
}

/// Reads, checks and compiles the rule pack in `dir`.
///
/// Every problem is reported (not only the first), each with its file and line.
///
/// Compiled Hyperscan databases are cached only when the environment variable
/// `INTERDICT_CACHE_DIR` names a directory ([`LoadOptions::from_env`]); a program that configures
/// its cache calls [`load_pack_with`].
pub fn load_pack(dir: &Path) -> Result<Snapshot, PackErrors> {
    load_pack_with(dir, &LoadOptions::from_env())
}

/// [`load_pack`] with explicit options: with a cache directory, a restart with an unchanged
/// pack reads its Hyperscan databases back instead of compiling them (milliseconds instead of
/// seconds); what was loaded and compiled is in `snapshot.matcher().cache_stats()`. A cache
/// directory that cannot be used is no error (everything is compiled; `cache_stats()` says
/// why).
pub fn load_pack_with(dir: &Path, options: &LoadOptions) -> Result<Snapshot, PackErrors> {
    let mut errors = Vec::new();
    // The normaliser's per-process tables are built on another core while the files (number
    // lists above all) are read.
    let source = std::thread::scope(|scope| {
        let tables = std::thread::Builder::new()
            .name("pack-tables".into())
            .spawn_scoped(scope, crate::text::normalise::build_tables)
            .ok();
        let source = read_pack(dir, &mut errors);
        if let Some(t) = tables {
            let _ = t.join();
        }
        source
    });
    let snapshot = source.and_then(|s| compile_with(s, &mut errors, options));
    match snapshot {
        Some(s) if errors.is_empty() => Ok(s),
        _ => {
            if errors.is_empty() {
                errors.push(PackError {
                    file: "pack.toml".into(),
                    line: 0,
                    kind: PackErrorKind::Compile("the pack could not be compiled".into()),
                });
            }
            Err(PackErrors(errors))
        }
    }
}

fn category_id(i: usize) -> CategoryId {
    CategoryId(u16::try_from(i).unwrap_or(u16::MAX))
}

/// Compiles a checked [`PackSource`]; problems are appended to `errors`. No database cache.
pub fn compile(source: PackSource, errors: &mut Vec<PackError>) -> Option<Snapshot> {
    compile_with(source, errors, &LoadOptions::default())
}

/// [`compile`] with options (the database cache).
pub fn compile_with(
    source: PackSource,
    errors: &mut Vec<PackError>,
    options: &LoadOptions,
) -> Option<Snapshot> {
    let mut err = |file: &str, line: usize, kind: PackErrorKind| {
        errors.push(PackError {
            file: file.to_owned(),
            line,
            kind,
        })
    };
    let PackSource {
        dir: _,
        name,
        version,
        number_config,
        lists: list_defs,
        numbers,
        exact_lines,
        categories: category_defs,
        patterns,
        lookalikes,
        lure_domains,
        official_domains,
        shortener_domains,
        rules,
        matcher,
        behaviour,
    } = source;

    if category_defs.len() > usize::from(u16::MAX) {
        err(
            "pack.toml",
            0,
            PackErrorKind::Compile("too many categories".into()),
        );
        return None;
    }
    if list_defs.len() > MAX_LISTS {
        err(
            "pack.toml",
            0,
            PackErrorKind::Compile(format!("more than {MAX_LISTS} lists")),
        );
        return None;
    }

    // Text matcher: phrases and patterns keep their origin so Hyperscan's errors map to lines.
    let mut phrase_defs = Vec::new();
    let mut phrase_texts: Vec<Arc<str>> = Vec::new();
    let mut phrase_origins = Vec::new();
    for (ci, c) in category_defs.iter().enumerate() {
        for p in &c.phrases {
            phrase_defs.push(PhraseDef {
                category: category_id(ci),
                text: p.text.clone(),
                weight: p.weight,
            });
            phrase_texts.push(Arc::from(p.text.as_str()));
            phrase_origins.push(p.origin.clone());
        }
    }
    let mut pattern_defs = Vec::new();
    let mut pattern_origins = Vec::new();
    // Patterns are checked one by one only when the whole set fails to compile (to report
    // every bad line, not just the first): compiling twice would double the pack's load time.
    for p in &patterns {
        pattern_defs.push(PatternDef {
            id: p.id.clone(),
            category: category_id(p.category),
            regex: p.regex.clone(),
            weight: p.weight,
        });
        pattern_origins.push(p.origin.clone());
    }
    let pattern_ids: Vec<Arc<str>> = pattern_defs
        .iter()
        .map(|p| Arc::from(p.id.as_str()))
        .collect();
    let pairs: Vec<(String, String)> = lookalikes
        .iter()
        .map(|l| (l.from.clone(), l.to.clone()))
        .collect();
    let cache = options.cache_dir.as_ref().map(DbCache::new);
    let matcher_result =
        TextMatcher::compile_with(phrase_defs, pattern_defs, &pairs, cache.as_ref());
    let text_matcher = match matcher_result {
        Ok(m) => Some(m),
        Err(e) => {
            let (origin, kind) = match &e {
                TextError::EmptyPhrase { index, .. } | TextError::Phrase { index, .. } => (
                    phrase_origins.get(*index),
                    PackErrorKind::Text(e.to_string()),
                ),
                TextError::Pattern { index, message, .. } => (
                    pattern_origins.get(*index),
                    PackErrorKind::BadRegex(message.clone()),
                ),
                TextError::EmptyLookalike { index, .. } => (
                    lookalikes.get(*index).map(|l| &l.origin),
                    PackErrorKind::Text(e.to_string()),
                ),
                _ => (None, PackErrorKind::Text(e.to_string())),
            };
            match origin {
                Some(o) => err(&o.file, o.line, kind),
                None => err("pack.toml", 0, kind),
            }
            None
        }
    };

    // Behaviour thresholds (absent keys keep the detectors' defaults).
    let behaviour_config = match behaviour {
        Some(table) => toml::Value::Table(table)
            .try_into::<BehaviourConfig>()
            .map_err(|e| e.to_string())
            .and_then(|c| c.validate().map(|()| c).map_err(|e| e.to_string())),
        None => Ok(BehaviourConfig::default()),
    };
    let behaviour_config = match behaviour_config {
        Ok(c) => c,
        Err(e) => {
            err("pack.toml", 0, PackErrorKind::Behaviour(e));
            BehaviourConfig::default()
        }
    };

    // Policy.
    let list_index = |name: &str| -> Option<usize> {
        list_defs
            .iter()
            .find(|l| l.name == name)
            .and_then(|l| l.id)
            .map(|id| id.index())
    };
    let mask = |names: &[String]| -> u64 {
        names
            .iter()
            .filter_map(|n| list_index(n))
            .filter(|&i| i < MAX_LISTS)
            .fold(0u64, |m, i| m | (1u64 << i))
    };
    let cat_index: FxHashMap<&str, usize> = category_defs
        .iter()
        .enumerate()
        .map(|(i, c)| (c.id.as_str(), i))
        .collect();
    let group = |g: &source::TextGroupToml| TextGroup {
        categories: g
            .categories
            .iter()
            .filter_map(|c| cat_index.get(c.as_str()).copied())
            .map(category_id)
            .collect(),
        min: g.min,
    };
    let mut compiled_rules = Vec::with_capacity(rules.len());
    for def in &rules {
        let r = &def.rule;
        let w = &r.when;
        let behaviour_bits = w
            .behaviour
            .iter()
            .filter_map(|b| BehaviourFlag::from_name(b))
            .fold(0u8, |m, f| m | f.bit());
        let behaviour_also = w
            .behaviour_also
            .iter()
            .filter_map(|b| BehaviourFlag::from_name(b))
            .fold(0u8, |m, f| m | f.bit());
        let link = w
            .link
            .iter()
            .filter_map(|k| crate::text::link_bit(k))
            .fold(0u8, |m, b| m | b);
        let kinds = w
            .caller_kind
            .iter()
            .filter_map(|k| PartyKind::from_name(k))
            .fold(0u8, |m, k| m | kind_bit(k));
        compiled_rules.push(Rule {
            id: Arc::from(r.id.as_str()),
            description: Arc::from(r.description.as_str()),
            verdict: r.verdict,
            priority: r.priority,
            overrides_allowlist: r.overrides_allowlist,
            origin: Arc::from(def.origin.to_string()),
            when: Conditions {
                caller_in: mask(&w.caller_in),
                callee_in: mask(&w.callee_in),
                contact_in: mask(&w.contact_in),
                contact_lure_domain: w.contact_lure_domain,
                text: w.text.iter().map(group).collect(),
                unless: w.unless.iter().map(group).collect(),
                ingress: w.ingress,
                channel: w.channel,
                caller_kind: kinds,
                caller_domestic: w.caller_domestic,
                behaviour: behaviour_bits,
                behaviour_also,
                link,
            },
        });
    }

    let lists = numbers.build();
    let allow_mask = lists
        .lists()
        .iter()
        .enumerate()
        .filter(|(i, m)| m.action == Action::Allow && *i < MAX_LISTS)
        .fold(0u64, |m, (i, _)| m | (1u64 << i));
    let categories: Vec<Category> = category_defs
        .iter()
        .map(|c| Category {
            id: Arc::from(c.id.as_str()),
            role: c.role,
            description: Arc::from(c.description.as_str()),
        })
        .collect();
    let fraud_categories: Vec<CategoryId> = category_defs
        .iter()
        .enumerate()
        .filter(|(_, c)| c.role == CategoryRole::Fraud)
        .map(|(i, _)| category_id(i))
        .collect();
    let lure: FxHashMap<Box<str>, Arc<str>> = lure_domains
        .into_iter()
        .map(|(d, o)| (d.into_boxed_str(), Arc::from(o.to_string())))
        .collect();

    let origin = |(d, o): (String, source::Origin)| (d, Arc::<str>::from(o.to_string()));
    let link_tables = LinkTables::new(
        official_domains.into_iter().map(origin),
        shortener_domains.into_iter().map(origin),
    );

    let text_matcher = text_matcher?;
    Some(Snapshot {
        name: name.into(),
        version: version.into(),
        numbers: number_config,
        lists,
        allow_mask,
        exact_lines: Arc::new(exact_lines),
        matcher: Arc::new(text_matcher),
        categories: categories.into(),
        phrases: phrase_texts.into(),
        pattern_ids: pattern_ids.into(),
        lure_domains: Arc::new(lure),
        links: Arc::new(link_tables),
        policy: Arc::new(Policy::new(compiled_rules)),
        behaviour: behaviour_config,
        max_text_bytes: matcher.max_text_bytes,
        fraud_categories: fraud_categories.into(),
    })
}
