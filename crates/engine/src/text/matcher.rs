//! The fraud-script matcher: the rule pack's phrases and regular expressions, compiled into Hyperscan
//! databases once per snapshot and scanned over normalised text.
//!
//! Compiling the databases is most of a pack's load time (about 2 s of CPU for the default pack's
//! patterns): [`TextMatcher::compile_with`] reads them from a [`DbCache`] directory when it holds
//! them (keyed by everything that determines each database), and compiles the others on every
//! core.
//!
//! - Phrases go through Hyperscan's literal API (`hs_compile_lit_multi`), one literal per distinct
//!   normalised phrase. A phrase is reported once per message, at its first occurrence: a bitset
//!   of the literals seen drops Hyperscan's later reports. (Hyperscan's own `SINGLEMATCH` does
//!   the same but costs more on a short message, 10-30 % more on the default pack's phrases:
//!   `engine/phrases_*` in `benches/engine.rs`.) The start of a literal match is its end minus
//!   the literal's length, so no start-of-match tracking is needed.
//! - Regular expressions are compiled one per database with `UTF8 | CASELESS | SINGLEMATCH`.
//!   Scanning every pattern on every message would be slow (one database of the default pack's
//!   patterns costs about 0.9 µs on a 100-byte Chinese message, whether anything matches or not), so
//!   each pattern is *gated* (see the `gate` module): the literals it cannot match without
//!   (`账户` in `...{0,12}(安全|监管)账户`) go into the literal database too, caseless, and a
//!   pattern is scanned only when every one of its literal clauses was found. The gate is derived
//!   from the parsed expression and only ever lets more patterns through, so the hits are exactly
//!   those of one database holding every pattern. Ordinary messages trigger no pattern at all.
//!   A pattern that needs a run of digits (`\d{16,19}` after `银行`) is also scanned only when
//!   the text holds a run that long, so a bank notice quoting a four-digit amount opens no
//!   card-number pattern.
//! - Whether a candidate pattern matches, and where its first match ends, is asked of a lazy DFA
//!   of the same expression (`regex-automata`, see the `locator` module) wherever that DFA
//!   provably reads the expression as Hyperscan does (the pattern rewritten to Hyperscan's ASCII
//!   `\d` and `\s`, case folded by Unicode's simple folding as both libraries do; anchors,
//!   inline flags, `\w` and the like are refused). A Hyperscan scan of one pattern costs about 2.5 k instructions on a short message,
//!   the warm DFA about a quarter of that, and one-time-code and bank notices open a pattern on most ordinary
//!   messages. The pattern's own `SINGLEMATCH` database answers when there is no DFA or it gives
//!   up; a property test checks the two agree on every pattern of the default pack.
//!   The evidence also needs where the match *starts*: start-of-match tracking (`SOM_LEFTMOST`)
//!   costs Hyperscan about 1 µs per matching pattern with bounded repeats such as `.{0,12}`, so
//!   the start is found by the reverse DFA run backwards from that end, anchored there, and the
//!   match is extended forwards as far as it reaches from that start (so `\d{5,}` quotes the
//!   whole number). A pattern without a DFA, or a search the DFA gives up on, falls back to the
//!   pattern's start-of-match database.
//!   Patterns are matched against the *normalised* text: simplified characters, lower case,
//!   separators between CJK characters removed, look-alikes folded.
//! - Scratch space is one per thread (thread-local), grown when a thread first scans with a new
//!   matcher (e.g. after a rule-pack swap); so are the lazy DFAs' caches.
//!
//! A category's score is the sum of the weights of the *distinct* phrases and patterns of that
//! category found in the message; offsets in [`TextHit`] are byte offsets in the ORIGINAL text.

use std::cell::RefCell;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use hyperscan::{
    BlockDatabase, Builder, HsError, Literal, LiteralFlags, Literals, Matching, Pattern,
    PatternFlags, Scratch,
};

use super::cache::{self, CacheStats, DbCache, Lookup};
use super::locator::{Locator, LocatorCaches};
use super::normalise::{NormalisedText, Normaliser};
use super::TextError;

/// A category of fraud script (index into the pack's category table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct CategoryId(pub u16);

/// A phrase of the rule pack: found anywhere in the normalised message, it adds `weight` to its
/// category's score.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhraseDef {
    /// Category the phrase belongs to.
    pub category: CategoryId,
    /// The phrase as written in the pack (normalised at compile time like the messages).
    pub text: String,
    /// Score added to the category when the phrase is present.
    pub weight: u8,
}

/// A regular expression of the rule pack, matched against normalised text (Hyperscan syntax, PCRE
/// subset; no back-references or look-around).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternDef {
    /// Stable identifier of the pattern (shown in evidence).
    pub id: String,
    /// Category the pattern belongs to.
    pub category: CategoryId,
    /// The expression.
    pub regex: String,
    /// Score added to the category when the pattern matches.
    pub weight: u8,
}

/// What produced a hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HitKind {
    /// A phrase: index into the phrases given to [`TextMatcher::compile`].
    Phrase(usize),
    /// A pattern: index into the patterns given to [`TextMatcher::compile`].
    Pattern(usize),
}

/// One phrase or pattern found in a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextHit {
    /// Which phrase or pattern.
    pub kind: HitKind,
    /// Its category.
    pub category: CategoryId,
    /// Its weight.
    pub weight: u8,
    /// Byte offset of the first character in the ORIGINAL text.
    pub start: usize,
    /// Byte offset just past the last character in the ORIGINAL text.
    pub end: usize,
}

/// Most hits recorded per message; beyond this the scan stops (the message is plainly a script).
pub const MAX_HITS: usize = 256;

/// Reusable result of [`TextMatcher::scan`]: the normalised text, the hits and the per-category
/// scores. Keep one per thread and reuse it; it is cleared at every scan.
#[derive(Debug, Default, Clone)]
pub struct TextHits {
    normalised: NormalisedText,
    hits: Vec<TextHit>,
    scores: Vec<(CategoryId, u32)>,
    truncated: bool,
    /// Bitset of the gate literals found in this message.
    gates: Vec<u64>,
    /// Bitset of the phrase literals found in this message (each is reported once).
    literals_seen: Vec<u64>,
    /// Bitset of the candidate patterns: those a gate literal opened (confirmed by their own
    /// database before they are located).
    candidates: Vec<u64>,
    /// Patterns found: (end of first match in normalised text, pattern, start, end in original).
    found: Vec<(usize, usize, usize, usize)>,
}

impl TextHits {
    /// An empty result.
    pub fn new() -> Self {
        Self::default()
    }

    /// The hits, in the order found (phrases first, then patterns, each by end offset).
    pub fn hits(&self) -> &[TextHit] {
        &self.hits
    }

    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.hits.is_empty()
    }

    /// Score of `category`: sum of the weights of its distinct phrases and patterns found.
    pub fn score(&self, category: CategoryId) -> u32 {
        self.scores
            .iter()
            .find(|(c, _)| *c == category)
            .map_or(0, |&(_, s)| s)
    }

    /// Every category with a non-zero score, with its score (in order of first hit).
    pub fn scores(&self) -> &[(CategoryId, u32)] {
        &self.scores
    }

    /// Number of distinct phrases and patterns of `category` found.
    pub fn distinct(&self, category: CategoryId) -> usize {
        self.hits.iter().filter(|h| h.category == category).count()
    }

    /// The normalised text of the last scanned message (for contact extraction).
    pub fn normalised(&self) -> &NormalisedText {
        &self.normalised
    }

    /// Whether the scan stopped early: more than [`MAX_HITS`] hits, or the text was longer than
    /// [`super::MAX_TEXT_BYTES`].
    pub fn truncated(&self) -> bool {
        self.truncated || self.normalised.truncated()
    }

    fn clear(&mut self) {
        self.hits.clear();
        self.scores.clear();
        self.truncated = false;
    }
}

/// Compiled phrases and patterns of one rule-pack snapshot. Immutable and shareable across threads
/// (wrap it in an `Arc`); each thread scans with its own scratch space.
pub struct TextMatcher {
    id: u64,
    normaliser: Normaliser,
    phrases: Vec<PhraseDef>,
    patterns: Vec<PatternDef>,
    literal_db: Option<BlockDatabase>,
    /// Per Hyperscan literal id: its normalised length in bytes.
    literal_lens: Vec<u32>,
    /// Per Hyperscan literal id: the range in `literal_phrases` of the phrases it stands for (one
    /// per category).
    literal_slots: Vec<(u32, u32)>,
    literal_phrases: Vec<u32>,
    /// Per Hyperscan literal id of a phrase: the gate literal with the same text, if any (that
    /// gate is not in the database on its own).
    phrase_gates: Vec<Option<u32>>,
    /// Per pattern: the pattern alone, reporting its first match once (does it match, where
    /// does the first match end).
    match_dbs: Vec<BlockDatabase>,
    /// Per pattern: lazy DFAs finding where a match starts and how far it reaches (none when
    /// `regex-syntax` cannot read the pattern).
    locators: Vec<Option<Locator>>,
    /// Per pattern: the pattern alone with start-of-match tracking (the fallback of the locator).
    som_dbs: Vec<BlockDatabase>,
    /// Literal ids from this one on are gate literals of patterns (the ones before are phrases).
    gate_base: u32,
    /// Per gate literal: range in `gate_patterns` of the patterns whose most selective clause
    /// holds it (finding it makes them candidates).
    gate_slots: Vec<(u32, u32)>,
    gate_patterns: Vec<u32>,
    /// Per pattern: its clauses as gate literal ids; it can match only if each has one found.
    pattern_clauses: Vec<Vec<Vec<u32>>>,
    /// Patterns without any clause: scanned on every message.
    ungated: Vec<u32>,
    /// Per pattern: the run of ASCII digits every match holds (0: none required); a pattern is
    /// scanned only when the text has such a run (see [`super::gate::digit_run`]).
    digit_runs: Vec<usize>,
    /// Databases loaded from the cache and compiled.
    cache_stats: CacheStats,
}

impl fmt::Debug for TextMatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TextMatcher")
            .field("id", &self.id)
            .field("phrases", &self.phrases.len())
            .field("literals", &self.literal_lens.len())
            .field("gate_literals", &self.gate_slots.len())
            .field(
                "gates_shared_with_phrases",
                &self.phrase_gates.iter().flatten().count(),
            )
            .field("patterns", &self.patterns.len())
            .finish()
    }
}

static NEXT_MATCHER_ID: AtomicU64 = AtomicU64::new(1);

/// Flags every pack pattern is compiled with to find whether it matches (one database per
/// pattern).
fn match_flags() -> PatternFlags {
    PatternFlags::UTF8 | PatternFlags::CASELESS | PatternFlags::SINGLEMATCH
}

/// Flags of the start-of-match database of a pattern (the locator's fallback).
fn som_flags() -> PatternFlags {
    PatternFlags::UTF8 | PatternFlags::CASELESS | PatternFlags::SOM_LEFTMOST
}

/// Compiles `regex` alone with `flags`.
fn compile_one(regex: &str, flags: PatternFlags) -> Result<BlockDatabase, String> {
    let pattern = Pattern::with_flags(regex, flags).map_err(|e| e.to_string())?;
    let built: Result<BlockDatabase, _> = pattern.build();
    built.map_err(|e| compile_error_parts(&e).1)
}

/// The expression index a Hyperscan compile error names, and its message.
fn compile_error_parts(err: &hyperscan::Error) -> (Option<usize>, String) {
    match err {
        hyperscan::Error::Hyperscan(HsError::CompileError(e)) => {
            (e.expression(), e.message().to_owned())
        }
        other => (None, other.to_string()),
    }
}

/// A compile failure as the matcher reports it: the expression index Hyperscan names, and its
/// message (plain data, so it can cross threads).
type DbError = (Option<usize>, String);

/// One database to obtain: what it is built from and its cache key.
struct DbJob<'a> {
    source: DbSource<'a>,
    key: Vec<u8>,
}

enum DbSource<'a> {
    Literals(&'a Literals),
    Pattern(&'a str, PatternFlags),
}

impl<'a> DbJob<'a> {
    fn literals(environment: &[u8], literals: &'a Literals) -> DbJob<'a> {
        let mut key = environment.to_vec();
        key.extend_from_slice(b"literals");
        cache::push_u64(&mut key, literals.len() as u64);
        for lit in literals.iter() {
            cache::push_u64(&mut key, lit.id.map_or(u64::MAX, |id| id as u64));
            cache::push_u64(&mut key, u64::from(lit.flags.bits()));
            cache::push_bytes(&mut key, lit.expression.as_bytes());
        }
        DbJob {
            source: DbSource::Literals(literals),
            key,
        }
    }

    fn pattern(environment: &[u8], regex: &'a str, flags: PatternFlags) -> DbJob<'a> {
        let mut key = environment.to_vec();
        key.extend_from_slice(b"pattern");
        cache::push_u64(&mut key, u64::from(flags.bits()));
        cache::push_u64(&mut key, 0); // the id: a pattern alone reports id 0
        cache::push_bytes(&mut key, regex.as_bytes());
        DbJob {
            source: DbSource::Pattern(regex, flags),
            key,
        }
    }

    fn compile(&self) -> Result<BlockDatabase, DbError> {
        match self.source {
            DbSource::Literals(literals) => {
                let db: Result<BlockDatabase, _> = literals.build();
                db.map_err(|e| compile_error_parts(&e))
            }
            DbSource::Pattern(regex, flags) => compile_one(regex, flags).map_err(|m| (None, m)),
        }
    }
}

/// What obtaining one database did.
enum Outcome {
    Loaded,
    Compiled {
        rejected: Option<String>,
        write_error: Option<String>,
    },
}

/// Most threads compiling databases at once.
const MAX_COMPILE_THREADS: usize = 8;

/// Stack of a compiling thread (Hyperscan's compiler recurses over the expression's graph).
const COMPILE_STACK_BYTES: usize = 16 << 20;

/// The database of `job`: from the cache if it has a valid one, else compiled (and stored).
fn obtain(job: &DbJob<'_>, cache: Option<&DbCache>) -> (Result<BlockDatabase, DbError>, Outcome) {
    let Some(cache) = cache else {
        return (
            job.compile(),
            Outcome::Compiled {
                rejected: None,
                write_error: None,
            },
        );
    };
    let rejected = match cache.load(&job.key) {
        Lookup::Hit(db) => return (Ok(db), Outcome::Loaded),
        Lookup::Missing => None,
        Lookup::Rejected(why) => Some(why),
    };
    let db = job.compile();
    let write_error = match &db {
        Ok(db) => cache.store(&job.key, db).err(),
        Err(_) => None,
    };
    (
        db,
        Outcome::Compiled {
            rejected,
            write_error,
        },
    )
}

/// Obtains every database of `jobs` (results in job order), on up to
/// [`MAX_COMPILE_THREADS`] threads.
fn obtain_all(
    jobs: &[DbJob<'_>],
    cache: Option<&DbCache>,
) -> (Vec<Result<BlockDatabase, DbError>>, CacheStats) {
    let mut stats = CacheStats::default();
    let cache = cache.and_then(|c| match c.prepare() {
        Ok(()) => Some(c),
        Err(e) => {
            stats.last_error = Some(e);
            stats.not_written = jobs.len();
            None
        }
    });
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(MAX_COMPILE_THREADS)
        .min(jobs.len());
    let mut results: Vec<Option<(Result<BlockDatabase, DbError>, Outcome)>> =
        std::iter::repeat_with(|| None).take(jobs.len()).collect();
    std::thread::scope(|scope| {
        let work = || {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(i) else {
                    return done;
                };
                done.push((i, obtain(job, cache)));
            }
        };
        let helpers: Vec<_> = (1..threads)
            .filter_map(|_| {
                std::thread::Builder::new()
                    .name("hs-compile".into())
                    .stack_size(COMPILE_STACK_BYTES)
                    .spawn_scoped(scope, work)
                    .ok()
            })
            .collect();
        let mut finished = vec![work()];
        finished.extend(helpers.into_iter().filter_map(|h| h.join().ok()));
        for (i, result) in finished.into_iter().flatten() {
            if let Some(slot) = results.get_mut(i) {
                *slot = Some(result);
            }
        }
    });
    let results = results
        .into_iter()
        .map(|r| {
            let Some((db, outcome)) = r else {
                return missing();
            };
            match outcome {
                Outcome::Loaded => stats.loaded += 1,
                Outcome::Compiled {
                    rejected,
                    write_error,
                } => {
                    stats.compiled += 1;
                    if let Some(why) = rejected {
                        stats.rejected += 1;
                        stats.last_error = Some(why);
                    }
                    if let Some(why) = write_error {
                        stats.not_written += 1;
                        stats.last_error = Some(why);
                    }
                }
            }
            db
        })
        .collect();
    (results, stats)
}

/// The result of a database whose compiling thread died (not expected).
fn missing() -> Result<BlockDatabase, DbError> {
    Err((None, "a database compiling thread failed".into()))
}

/// Checks one regular expression the way [`TextMatcher::compile`] would compile it, so a pack
/// loader can report every bad line rather than only the first.
pub fn check_pattern(regex: &str) -> Result<(), TextError> {
    // The start-of-match form is the stricter of the two a pattern is compiled in.
    compile_one(regex, som_flags())
        .map(|_| ())
        .map_err(|message| TextError::Pattern {
            index: 0,
            id: String::new(),
            message,
        })
}

impl TextMatcher {
    /// Compiles the phrases, patterns and look-alike table of a rule pack.
    ///
    /// Phrases are normalised like messages; two phrases of the same category that normalise to the
    /// same text count once. Errors name the index of the offending phrase, pattern or look-alike.
    pub fn compile<K, V>(
        phrases: Vec<PhraseDef>,
        patterns: Vec<PatternDef>,
        lookalikes: &[(K, V)],
    ) -> Result<Self, TextError>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        Self::compile_with(phrases, patterns, lookalikes, None)
    }

    /// [`compile`](Self::compile), reading the Hyperscan databases from `cache` when it holds
    /// them and writing there those it compiles (see [`DbCache`]). The matcher is the same
    /// either way; [`cache_stats`](Self::cache_stats) tells what was loaded and compiled. A
    /// cache directory that cannot be used is no error: everything is compiled.
    ///
    /// Databases that are not in the cache are compiled on every core
    /// ([`std::thread::available_parallelism`], at most 8 threads).
    pub fn compile_with<K, V>(
        phrases: Vec<PhraseDef>,
        patterns: Vec<PatternDef>,
        lookalikes: &[(K, V)],
        cache: Option<&DbCache>,
    ) -> Result<Self, TextError>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let normaliser = Normaliser::with_lookalikes(lookalikes)?;

        // Distinct normalised phrases become one literal each.
        let mut by_text: rustc_hash::FxHashMap<String, usize> = Default::default();
        let mut literal_texts: Vec<String> = Vec::new();
        let mut members: Vec<Vec<u32>> = Vec::new();
        for (index, phrase) in phrases.iter().enumerate() {
            let norm = normaliser.normalise(&phrase.text);
            if !norm.chars().any(char::is_alphanumeric) {
                return Err(TextError::EmptyPhrase {
                    index,
                    text: phrase.text.clone(),
                });
            }
            let index_u32 =
                u32::try_from(index).map_err(|_| TextError::TooMany { what: "phrases" })?;
            let lit = *by_text.entry(norm.clone()).or_insert_with(|| {
                literal_texts.push(norm);
                members.push(Vec::new());
                literal_texts.len() - 1
            });
            if let Some(list) = members.get_mut(lit) {
                let same_category = list
                    .iter()
                    .any(|&p| phrases.get(p as usize).map(|d| d.category) == Some(phrase.category));
                if !same_category {
                    list.push(index_u32);
                }
            }
        }
        let mut literal_lens = Vec::with_capacity(literal_texts.len());
        let mut literal_slots = Vec::with_capacity(literal_texts.len());
        let mut literal_phrases = Vec::with_capacity(phrases.len());
        for (text, list) in literal_texts.iter().zip(&members) {
            let len = u32::try_from(text.len()).map_err(|_| TextError::TooMany {
                what: "phrase bytes",
            })?;
            let from = literal_phrases.len() as u32;
            literal_phrases.extend_from_slice(list);
            literal_lens.push(len);
            literal_slots.push((from, list.len() as u32));
        }
        // Gate literals of the patterns, after the phrases' literals.
        let gate_base = u32::try_from(literal_texts.len())
            .map_err(|_| TextError::TooMany { what: "phrases" })?;
        let mut gate_ids: rustc_hash::FxHashMap<String, u32> = Default::default();
        let mut gate_texts: Vec<String> = Vec::new();
        let mut gate_owner: Vec<usize> = Vec::new();
        let mut gate_members: Vec<Vec<u32>> = Vec::new();
        let mut pattern_clauses = Vec::with_capacity(patterns.len());
        let mut ungated = Vec::new();
        let digit_runs: Vec<usize> = patterns
            .iter()
            .map(|def| super::gate::digit_run(&def.regex))
            .collect();
        for (index, def) in patterns.iter().enumerate() {
            let index_u32 =
                u32::try_from(index).map_err(|_| TextError::TooMany { what: "patterns" })?;
            let clauses = super::gate::clauses(&def.regex);
            let trigger = super::gate::most_selective(&clauses);
            let mut as_ids = Vec::with_capacity(clauses.len());
            for (k, clause) in clauses.into_iter().enumerate() {
                let mut ids = Vec::with_capacity(clause.len());
                for text in clause {
                    let next = gate_texts.len() as u32;
                    let id = *gate_ids.entry(text.clone()).or_insert_with(|| {
                        gate_texts.push(text);
                        gate_owner.push(index);
                        gate_members.push(Vec::new());
                        next
                    });
                    if Some(k) == trigger {
                        if let Some(m) = gate_members.get_mut(id as usize) {
                            m.push(index_u32);
                        }
                    }
                    ids.push(id);
                }
                as_ids.push(ids);
            }
            if as_ids.is_empty() {
                ungated.push(index_u32);
            }
            pattern_clauses.push(as_ids);
        }
        let mut gate_slots = Vec::with_capacity(gate_members.len());
        let mut gate_patterns = Vec::new();
        for m in &gate_members {
            gate_slots.push((gate_patterns.len() as u32, m.len() as u32));
            gate_patterns.extend_from_slice(m);
        }

        // A gate literal that is also a phrase is found by the phrase's literal: one literal
        // fewer for Hyperscan to confirm. (Normalised text is lower case, so the phrase's exact
        // match and the gate's caseless one find the same places.)
        let mut phrase_gates: Vec<Option<u32>> = vec![None; literal_texts.len()];
        for (gate, text) in gate_texts.iter().enumerate() {
            if let Some(slot) = by_text.get(text).and_then(|&lit| phrase_gates.get_mut(lit)) {
                *slot = Some(gate as u32);
            }
        }

        // Every database: the literals (if any), then each pattern's start-of-match and match
        // databases; from the cache when it holds them, compiled (on every core) otherwise.
        let literals: Option<Literals> = if literal_texts.is_empty() && gate_texts.is_empty() {
            None
        } else {
            let phrase_literals = literal_texts.iter().enumerate().map(|(i, t)| Literal {
                expression: t.clone(),
                flags: LiteralFlags::empty(),
                id: Some(i),
                som: None,
            });
            let gate_literals = gate_texts
                .iter()
                .enumerate()
                .filter(|(_, t)| !by_text.contains_key(*t))
                .map(|(i, t)| Literal {
                    expression: t.clone(),
                    flags: LiteralFlags::CASELESS,
                    id: Some(gate_base as usize + i),
                    som: None,
                });
            Some(phrase_literals.chain(gate_literals).collect())
        };
        let environment = cache::environment_key();
        let mut jobs = Vec::with_capacity(1 + 2 * patterns.len());
        if let Some(literals) = &literals {
            jobs.push(DbJob::literals(&environment, literals));
        }
        for flags in [som_flags(), match_flags()] {
            jobs.extend(
                patterns
                    .iter()
                    .map(|def| DbJob::pattern(&environment, &def.regex, flags)),
            );
        }
        let (mut built, cache_stats) = obtain_all(&jobs, cache);
        built.reverse(); // popped in job order below

        // A literal Hyperscan rejects is a pattern's gate or a phrase.
        let literal_error = |(expr, message): DbError| {
            if let Some(gate) = expr.and_then(|lit| lit.checked_sub(gate_base as usize)) {
                let index = gate_owner.get(gate).copied().unwrap_or(0);
                return TextError::Pattern {
                    index,
                    id: patterns
                        .get(index)
                        .map(|p| p.id.clone())
                        .unwrap_or_default(),
                    message,
                };
            }
            let index = expr
                .and_then(|lit| members.get(lit))
                .and_then(|list| list.first())
                .map(|&p| p as usize);
            match index {
                Some(index) => TextError::Phrase { index, message },
                None => TextError::Database { message },
            }
        };
        let literal_db = match literals {
            None => None,
            Some(_) => Some(built.pop().unwrap_or_else(missing).map_err(literal_error)?),
        };
        let mut take_all = || {
            patterns
                .iter()
                .enumerate()
                .map(|(index, def)| {
                    built
                        .pop()
                        .unwrap_or_else(missing)
                        .map_err(|(_, message)| TextError::Pattern {
                            index,
                            id: def.id.clone(),
                            message,
                        })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let som_dbs = take_all()?;
        let match_dbs = take_all()?;
        let locators = patterns
            .iter()
            .map(|def| Locator::new(&def.regex))
            .collect();

        Ok(Self {
            id: NEXT_MATCHER_ID.fetch_add(1, Ordering::Relaxed),
            normaliser,
            phrases,
            patterns,
            literal_db,
            literal_lens,
            literal_slots,
            literal_phrases,
            phrase_gates,
            match_dbs,
            locators,
            som_dbs,
            gate_base,
            gate_slots,
            gate_patterns,
            pattern_clauses,
            ungated,
            digit_runs,
            cache_stats,
        })
    }

    /// What compiling this matcher did with the database cache (all compiled without one).
    pub fn cache_stats(&self) -> &CacheStats {
        &self.cache_stats
    }

    /// The normaliser (with this pack's look-alike table) the matcher applies before scanning.
    pub fn normaliser(&self) -> &Normaliser {
        &self.normaliser
    }

    /// The phrase at `index` as given to [`compile`](Self::compile).
    pub fn phrase(&self, index: usize) -> Option<&PhraseDef> {
        self.phrases.get(index)
    }

    /// The pattern at `index` as given to [`compile`](Self::compile).
    pub fn pattern(&self, index: usize) -> Option<&PatternDef> {
        self.patterns.get(index)
    }

    /// Number of phrases.
    pub fn phrase_count(&self) -> usize {
        self.phrases.len()
    }

    /// Number of patterns.
    pub fn pattern_count(&self) -> usize {
        self.patterns.len()
    }

    /// The original text a hit was found in (the phrase *as found*, e.g. `刷 單`).
    pub fn found<'t>(&self, text: &'t str, hit: &TextHit) -> &'t str {
        text.get(hit.start..hit.end).unwrap_or_default()
    }

    /// Normalises `text` and scans it for phrases and patterns; results in `out` (cleared first).
    ///
    /// Does not allocate once `out` and this thread's scratch space have grown. An error means
    /// Hyperscan could not scan (e.g. scratch allocation failed); `out` then holds what was found.
    pub fn scan(&self, text: &str, out: &mut TextHits) -> Result<(), TextError> {
        out.clear();
        self.normaliser.normalise_into(text, &mut out.normalised);
        if out.normalised.is_empty() || (self.literal_db.is_none() && self.match_dbs.is_empty()) {
            return Ok(());
        }
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut slot) => {
                let scratch = self.fitted_scratch(&mut slot)?;
                self.scan_with(text, out, scratch)
            }
            // Re-entrant use on this thread (not expected): use a scratch of our own.
            Err(_) => {
                let mut slot = None;
                let scratch = self.fitted_scratch(&mut slot)?;
                self.scan_with(text, out, scratch)
            }
        })
    }

    /// The caches of pattern `index`'s locator on this thread, created on first use.
    fn locator_caches<'c>(
        &self,
        caches: &'c mut [Option<LocatorCaches>],
        index: usize,
    ) -> Option<(&Locator, &'c mut LocatorCaches)> {
        let locator = self.locators.get(index)?.as_ref()?;
        let slot = caches.get_mut(index)?;
        let caches = slot.get_or_insert_with(|| locator.caches());
        Some((locator, caches))
    }

    /// The thread's scratch, grown to fit this matcher's databases if it was not already.
    fn fitted_scratch<'s>(
        &self,
        slot: &'s mut Option<ThreadScratch>,
    ) -> Result<&'s mut ThreadScratch, TextError> {
        let fitted = slot.as_ref().is_some_and(|s| s.fitted_for == self.id);
        if !fitted {
            let mut scratch = slot.take().map(|s| s.scratch);
            let databases = self
                .literal_db
                .iter()
                .chain(&self.match_dbs)
                .chain(&self.som_dbs);
            for db in databases {
                scratch = Some(match scratch {
                    Some(mut s) => {
                        db.realloc_scratch(&mut s).map_err(scratch_error)?;
                        s
                    }
                    None => db.alloc_scratch().map_err(scratch_error)?,
                });
            }
            *slot = scratch.map(|scratch| ThreadScratch {
                scratch,
                locators: std::iter::repeat_with(|| None)
                    .take(self.locators.len())
                    .collect(),
                fitted_for: self.id,
            });
        }
        slot.as_mut().ok_or_else(|| TextError::Scratch {
            message: "no database to fit".into(),
        })
    }

    fn scan_with(
        &self,
        text: &str,
        out: &mut TextHits,
        thread: &mut ThreadScratch,
    ) -> Result<(), TextError> {
        let ThreadScratch {
            scratch, locators, ..
        } = thread;
        let scratch = &*scratch;
        let TextHits {
            normalised,
            hits,
            scores,
            truncated,
            gates,
            literals_seen,
            candidates,
            found,
        } = out;
        reset_bits(gates, self.gate_slots.len());
        reset_bits(literals_seen, self.literal_lens.len());
        reset_bits(candidates, self.match_dbs.len());
        found.clear();
        let mut sink = Sink {
            text,
            normalised,
            hits: TextHitsSink {
                hits,
                scores,
                truncated,
            },
        };
        if let Some(db) = &self.literal_db {
            let result = db.scan(
                normalised_bytes(sink.normalised),
                scratch,
                |id: u32, _from, to, _flags| match id.checked_sub(self.gate_base) {
                    Some(gate) => {
                        self.on_gate(gate as usize, gates, candidates);
                        Matching::Continue
                    }
                    // Only a literal's first occurrence counts.
                    None if bit(literals_seen, id as usize) => Matching::Continue,
                    None => {
                        set_bit(literals_seen, id as usize);
                        if let Some(&Some(gate)) = self.phrase_gates.get(id as usize) {
                            self.on_gate(gate as usize, gates, candidates);
                        }
                        self.on_literal(&mut sink, id, to)
                    }
                },
            );
            scan_result(result)?;
        }
        for &p in &self.ungated {
            set_bit(candidates, p as usize);
        }
        // The text's longest digit run, measured when a candidate needs one.
        let mut digits: Option<usize> = None;
        // Only the patterns whose every clause was found: where does the match start, how far
        // does it reach.
        for (w, &word) in candidates.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let index = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let clauses = self
                    .pattern_clauses
                    .get(index)
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                if !clauses
                    .iter()
                    .all(|c| c.iter().any(|&g| bit(gates, g as usize)))
                {
                    continue;
                }
                let need = self.digit_runs.get(index).copied().unwrap_or(0);
                if need > 0
                    && *digits.get_or_insert_with(|| longest_digit_run(sink.normalised.as_str()))
                        < need
                {
                    continue;
                }
                let haystack = normalised_bytes(sink.normalised);
                let mut locator = self.locator_caches(locators, index);
                // The lazy DFA answers where it reads the pattern as Hyperscan does; Hyperscan
                // when there is none or it gave up.
                let quick = locator
                    .as_mut()
                    .and_then(|(locator, caches)| locator.first_end(caches, haystack));
                let first_end = match quick {
                    Some(end) => end,
                    None => self.first_end(index, sink.normalised, scratch)?,
                };
                let Some(first_end) = first_end else {
                    continue;
                };
                let located = locator
                    .and_then(|(locator, caches)| locator.locate(caches, haystack, first_end));
                let range = match located {
                    Some((from, to)) => sink
                        .normalised
                        .original_range(sink.text, from, to)
                        .map(|r| (r.start, r.end)),
                    None => self.som_extent(index, &sink, scratch)?,
                };
                if let Some((start, end)) = range {
                    found.push((first_end, index, start, end));
                }
            }
        }
        // In the order one database of every pattern would report them: by end of first match.
        found.sort_unstable_by_key(|&(first_end, index, _, _)| (first_end, index));
        for &(_, index, start, end) in found.iter() {
            let Some(def) = self.patterns.get(index) else {
                continue;
            };
            let hit = TextHit {
                kind: HitKind::Pattern(index),
                category: def.category,
                weight: def.weight,
                start,
                end,
            };
            if sink.hits.add(hit) == Matching::Terminate {
                break;
            }
        }
        Ok(())
    }

    /// Where the first match of pattern `index` ends in the normalised text, if it matches.
    fn first_end(
        &self,
        index: usize,
        normalised: &NormalisedText,
        scratch: &Scratch,
    ) -> Result<Option<usize>, TextError> {
        let Some(db) = self.match_dbs.get(index) else {
            return Ok(None);
        };
        let mut end = None;
        let result = db.scan(
            normalised_bytes(normalised),
            scratch,
            |_id, _from, to, _flags| {
                end = usize::try_from(to).ok();
                Matching::Terminate
            },
        );
        scan_result(result)?;
        Ok(end)
    }

    /// The range in the original text of pattern `index`'s first match, by Hyperscan's
    /// start-of-match database (the locator's fallback).
    fn som_extent(
        &self,
        index: usize,
        sink: &Sink<'_>,
        scratch: &Scratch,
    ) -> Result<Option<(usize, usize)>, TextError> {
        let Some(db) = self.som_dbs.get(index) else {
            return Ok(None);
        };
        let mut extent = Extent::default();
        let result = db.scan(
            normalised_bytes(sink.normalised),
            scratch,
            |_id, from, to, _flags| {
                extent.report(sink, from, to);
                Matching::Continue
            },
        );
        scan_result(result)?;
        Ok(extent.range)
    }

    /// A gate literal was found: the patterns it triggers become candidates.
    fn on_gate(&self, gate: usize, gates: &mut [u64], candidates: &mut [u64]) {
        if bit(gates, gate) {
            return;
        }
        set_bit(gates, gate);
        let Some(&(first, count)) = self.gate_slots.get(gate) else {
            return;
        };
        let members = self
            .gate_patterns
            .get(first as usize..(first as usize).saturating_add(count as usize))
            .unwrap_or_default();
        for &p in members {
            set_bit(candidates, p as usize);
        }
    }

    fn on_literal(&self, sink: &mut Sink<'_>, id: u32, to: u64) -> Matching {
        let id = id as usize;
        let (Some(&len), Some(&(first, count))) =
            (self.literal_lens.get(id), self.literal_slots.get(id))
        else {
            return Matching::Continue;
        };
        let Ok(to) = usize::try_from(to) else {
            return Matching::Continue;
        };
        let from = to.saturating_sub(len as usize);
        let Some(range) = sink.normalised.original_range(sink.text, from, to) else {
            return Matching::Continue;
        };
        let members = self
            .literal_phrases
            .get(first as usize..(first as usize).saturating_add(count as usize))
            .unwrap_or_default();
        for &p in members {
            let Some(def) = self.phrases.get(p as usize) else {
                continue;
            };
            let hit = TextHit {
                kind: HitKind::Phrase(p as usize),
                category: def.category,
                weight: def.weight,
                start: range.start,
                end: range.end,
            };
            if sink.hits.add(hit) == Matching::Terminate {
                return Matching::Terminate;
            }
        }
        Matching::Continue
    }
}

/// The match of one pattern the evidence quotes, from its start-of-match scan: the first report
/// gives the match; a later report with the same start extends it (`\d{5,}` reports at every
/// end).
#[derive(Default)]
struct Extent {
    /// Range in the original text.
    range: Option<(usize, usize)>,
}

impl Extent {
    fn report(&mut self, sink: &Sink<'_>, from: u64, to: u64) {
        let (Ok(from), Ok(to)) = (usize::try_from(from), usize::try_from(to)) else {
            return;
        };
        let Some(range) = sink.normalised.original_range(sink.text, from, to) else {
            return;
        };
        match &mut self.range {
            None => {
                self.range = Some((range.start, range.end));
            }
            Some((start, end)) => {
                if *start == range.start && range.end > *end {
                    *end = range.end;
                }
            }
        }
    }
}

fn reset_bits(bits: &mut Vec<u64>, len: usize) {
    bits.clear();
    bits.resize(len.div_ceil(64), 0);
}

fn set_bit(bits: &mut [u64], i: usize) {
    if let Some(w) = bits.get_mut(i / 64) {
        *w |= 1u64 << (i % 64);
    }
}

fn bit(bits: &[u64], i: usize) -> bool {
    bits.get(i / 64)
        .is_some_and(|w| w & (1u64 << (i % 64)) != 0)
}

/// Borrowed pieces of [`TextHits`] the match callbacks write to.
struct Sink<'a> {
    text: &'a str,
    normalised: &'a NormalisedText,
    hits: TextHitsSink<'a>,
}

struct TextHitsSink<'a> {
    hits: &'a mut Vec<TextHit>,
    scores: &'a mut Vec<(CategoryId, u32)>,
    truncated: &'a mut bool,
}

impl TextHitsSink<'_> {
    fn add(&mut self, hit: TextHit) -> Matching {
        if self.hits.len() >= MAX_HITS {
            *self.truncated = true;
            return Matching::Terminate;
        }
        match self.scores.iter_mut().find(|(c, _)| *c == hit.category) {
            Some((_, s)) => *s = s.saturating_add(u32::from(hit.weight)),
            None => self.scores.push((hit.category, u32::from(hit.weight))),
        }
        self.hits.push(hit);
        Matching::Continue
    }
}

fn normalised_bytes(n: &NormalisedText) -> &[u8] {
    n.as_str().as_bytes()
}

/// A scan stopped by our own callback (too many hits) is not an error.
fn scan_result(result: hyperscan::Result<()>) -> Result<(), TextError> {
    match result {
        Ok(()) | Err(hyperscan::Error::Hyperscan(HsError::ScanTerminated)) => Ok(()),
        Err(e) => Err(TextError::Scan {
            message: e.to_string(),
        }),
    }
}

fn scratch_error(e: hyperscan::Error) -> TextError {
    TextError::Scratch {
        message: e.to_string(),
    }
}

/// A thread's Hyperscan scratch space and locator caches, and the matcher they were last fitted
/// to.
struct ThreadScratch {
    scratch: Scratch,
    /// Per pattern of that matcher.
    locators: Vec<Option<LocatorCaches>>,
    fitted_for: u64,
}

thread_local! {
    static SCRATCH: RefCell<Option<ThreadScratch>> = const { RefCell::new(None) };
}

/// The longest run of ASCII digits in `text`.
fn longest_digit_run(text: &str) -> usize {
    let (mut best, mut run) = (0usize, 0usize);
    for &b in text.as_bytes() {
        run = if b.is_ascii_digit() { run + 1 } else { 0 };
        best = best.max(run);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    const POLICE: CategoryId = CategoryId(1);
    const BRUSHING: CategoryId = CategoryId(2);

    fn phrase(category: CategoryId, text: &str, weight: u8) -> PhraseDef {
        PhraseDef {
            category,
            text: text.into(),
            weight,
        }
    }

    fn pattern(id: &str, category: CategoryId, regex: &str, weight: u8) -> PatternDef {
        PatternDef {
            id: id.into(),
            category,
            regex: regex.into(),
            weight,
        }
    }

    fn lookalikes() -> Vec<(String, String)> {
        [
            ("徽信", "微信"),
            ("薇信", "微信"),
            ("V信", "微信"),
            ("VX", "微信"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
    }

    fn matcher() -> TextMatcher {
        TextMatcher::compile(
            vec![
                phrase(POLICE, "安全账户", 3),
                phrase(POLICE, "涉嫌洗钱", 2),
                phrase(BRUSHING, "刷单", 2),
                phrase(BRUSHING, "垫付", 1),
                phrase(BRUSHING, "佣金", 1),
                // Duplicate of 刷单 in the same category after normalisation: counts once.
                phrase(BRUSHING, "刷 單", 5),
                // The same text in another category counts there too.
                phrase(POLICE, "加微信", 1),
                phrase(BRUSHING, "加微信", 1),
            ],
            vec![
                pattern("long-digits", BRUSHING, r"\d{5,}", 1),
                pattern(
                    "police-case",
                    POLICE,
                    r"(公安|检察院|法院).{0,8}(通缉|逮捕)",
                    4,
                ),
            ],
            &lookalikes(),
        )
        .unwrap()
    }

    fn quoted(m: &TextMatcher, text: &str, hits: &TextHits) -> Vec<(HitKind, String)> {
        hits.hits()
            .iter()
            .map(|h| (h.kind, m.found(text, h).to_owned()))
            .collect()
    }

    #[test]
    fn phrase_split_by_evasions_is_found_and_quoted_as_found() {
        let m = matcher();
        let mut hits = TextHits::new();
        let text = "请立即转到安全帳\u{200b} 戶，否則涉嫌洗錢";
        m.scan(text, &mut hits).unwrap();
        let found = quoted(&m, text, &hits);
        assert!(
            found.contains(&(HitKind::Phrase(0), "安全帳\u{200b} 戶".into())),
            "{found:?}"
        );
        assert!(
            found.contains(&(HitKind::Phrase(1), "涉嫌洗錢".into())),
            "{found:?}"
        );
        assert_eq!(hits.score(POLICE), 5);
        assert_eq!(hits.distinct(POLICE), 2);
    }

    #[test]
    fn score_sums_distinct_phrases_only() {
        let m = matcher();
        let mut hits = TextHits::new();
        m.scan("刷单刷单刷单，无需垫付", &mut hits).unwrap();
        // 刷单 (2, once, its duplicate 刷 單 not added) + 垫付 (1).
        assert_eq!(hits.score(BRUSHING), 3);
        assert_eq!(hits.distinct(BRUSHING), 2);
        assert_eq!(hits.score(POLICE), 0);
        // Each phrase is reported once, where it first occurs.
        let ranges: Vec<(usize, usize)> = hits.hits().iter().map(|h| (h.start, h.end)).collect();
        assert_eq!(ranges.len(), 2, "{ranges:?}");
        assert!(ranges.contains(&(0, "刷单".len())), "{ranges:?}");
    }

    #[test]
    fn same_phrase_in_two_categories_scores_in_both() {
        let m = matcher();
        let mut hits = TextHits::new();
        let text = "详情加徽信";
        m.scan(text, &mut hits).unwrap();
        assert_eq!(hits.score(POLICE), 1);
        assert_eq!(hits.score(BRUSHING), 1);
        assert!(hits.hits().iter().all(|h| m.found(text, h) == "加徽信"));
        assert_eq!(hits.scores().len(), 2);
    }

    #[test]
    fn pattern_hit_is_quoted_whole_with_its_start() {
        let m = matcher();
        let mut hits = TextHits::new();
        let text = "订单号：１２３４５６７８请核对";
        m.scan(text, &mut hits).unwrap();
        let found = quoted(&m, text, &hits);
        assert_eq!(
            found,
            vec![(HitKind::Pattern(0), "１２３４５６７８".into())]
        );
        assert_eq!(hits.score(BRUSHING), 1);
    }

    #[test]
    fn pattern_runs_on_normalised_text() {
        let m = matcher();
        let mut hits = TextHits::new();
        let text = "市公安局：你已被 列入 通緝名單";
        m.scan(text, &mut hits).unwrap();
        let found = quoted(&m, text, &hits);
        assert_eq!(
            found,
            vec![(HitKind::Pattern(1), "公安局：你已被 列入 通緝".into())]
        );
        assert_eq!(hits.score(POLICE), 4);
    }

    #[test]
    fn legitimate_text_has_no_hits() {
        let m = matcher();
        let mut hits = TextHits::new();
        m.scan("您的快递已放至驿站，请凭取件码取件", &mut hits)
            .unwrap();
        assert!(hits.is_empty());
        assert!(hits.scores().is_empty());
        m.scan("", &mut hits).unwrap();
        assert!(hits.is_empty());
    }

    #[test]
    fn results_are_cleared_between_scans() {
        let m = matcher();
        let mut hits = TextHits::new();
        m.scan("刷单返佣金", &mut hits).unwrap();
        assert_eq!(hits.score(BRUSHING), 3);
        m.scan("你好", &mut hits).unwrap();
        assert!(hits.is_empty());
        assert_eq!(hits.score(BRUSHING), 0);
        assert_eq!(hits.normalised().as_str(), "你好");
    }

    #[test]
    fn bad_pattern_is_reported_with_its_index_and_id() {
        let err = TextMatcher::compile(
            vec![phrase(POLICE, "安全账户", 1)],
            vec![
                pattern("ok", POLICE, "abc", 1),
                pattern("broken", POLICE, "(unclosed", 1),
            ],
            &lookalikes(),
        )
        .unwrap_err();
        match err {
            TextError::Pattern { index, id, .. } => {
                assert_eq!(index, 1);
                assert_eq!(id, "broken");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(check_pattern("(unclosed").is_err());
        assert!(check_pattern(r"\d{5,}").is_ok());
    }

    #[test]
    fn empty_phrase_is_reported_with_its_index() {
        let err = TextMatcher::compile::<&str, &str>(
            vec![phrase(POLICE, "安全账户", 1), phrase(POLICE, " ，", 1)],
            vec![],
            &[],
        )
        .unwrap_err();
        assert_eq!(
            err,
            TextError::EmptyPhrase {
                index: 1,
                text: " ，".into()
            }
        );
    }

    #[test]
    fn matcher_with_nothing_to_match_scans_cleanly() {
        let m = TextMatcher::compile::<&str, &str>(vec![], vec![], &[]).unwrap();
        let mut hits = TextHits::new();
        m.scan("刷单", &mut hits).unwrap();
        assert!(hits.is_empty());
        assert_eq!(hits.normalised().as_str(), "刷单");
    }

    #[test]
    fn phrases_only_and_patterns_only_matchers_work() {
        let phrases_only =
            TextMatcher::compile::<&str, &str>(vec![phrase(POLICE, "通缉令", 2)], vec![], &[])
                .unwrap();
        let patterns_only = TextMatcher::compile::<&str, &str>(
            vec![],
            vec![pattern("p", POLICE, "通缉令", 2)],
            &[],
        )
        .unwrap();
        let mut hits = TextHits::new();
        // Alternating matchers on one thread refits the thread's scratch each time.
        for _ in 0..3 {
            phrases_only.scan("这是通緝令", &mut hits).unwrap();
            assert_eq!(hits.score(POLICE), 2);
            patterns_only.scan("这是通 缉 令", &mut hits).unwrap();
            assert_eq!(hits.score(POLICE), 2);
        }
    }

    #[test]
    fn shared_matcher_scans_from_many_threads() {
        let m = Arc::new(matcher());
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let m = Arc::clone(&m);
                std::thread::spawn(move || {
                    let mut hits = TextHits::new();
                    for _ in 0..200 {
                        m.scan("转入安全账户，涉嫌洗钱", &mut hits).unwrap();
                        assert_eq!(hits.score(POLICE), 5);
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
    }

    /// Every pattern scanned on its own, without gates: what the gated scan must equal.
    fn ungated_pattern_hits(m: &TextMatcher, text: &str) -> Vec<(usize, usize, usize)> {
        let mut norm = NormalisedText::new();
        m.normaliser().normalise_into(text, &mut norm);
        let mut out = Vec::new();
        for (index, db) in m.som_dbs.iter().enumerate() {
            let scratch = db.alloc_scratch().unwrap();
            let mut first: Option<(usize, usize)> = None;
            db.scan(norm.as_str().as_bytes(), &scratch, |_, from, to, _| {
                let r = norm
                    .original_range(text, from as usize, to as usize)
                    .unwrap();
                match &mut first {
                    None => first = Some((r.start, r.end)),
                    Some((s, e)) if *s == r.start && r.end > *e => *e = r.end,
                    Some(_) => {}
                }
                Matching::Continue
            })
            .unwrap();
            if let Some((s, e)) = first {
                out.push((index, s, e));
            }
        }
        out
    }

    #[test]
    fn gated_scan_finds_exactly_what_scanning_every_pattern_finds() {
        let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/../../rules/patterns.txt");
        let defs: Vec<PatternDef> = std::fs::read_to_string(rules)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| {
                let mut f = l.splitn(4, '\t');
                let (id, _cat, w, re) = (f.next()?, f.next()?, f.next()?, f.next()?);
                Some(pattern(id, CategoryId(0), re, w.parse().ok()?))
            })
            .collect();
        assert!(defs.len() >= 50);
        let m = TextMatcher::compile(Vec::new(), defs, &lookalikes()).unwrap();
        let mut texts: Vec<String> = [
            "您的身份证涉嫌洗钱，请立即将资金转入安全账户配合调查，否则冻结名下所有账户。",
            "兼职刷 单，日结佣金三百，先垫付后返利，加徽信 kf8866 详聊",
            "【工商银行】您的验证码为482913，5分钟内有效，请勿告诉他人。",
            "最高50万额度，低息，USDT投资平台收益翻倍",
        ]
        .iter()
        .map(|t| (*t).to_owned())
        .collect();
        // The labelled corpus, read in place when present (a sample keeps the test quick).
        let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus/text");
        match std::fs::read_dir(corpus) {
            Ok(dir) => {
                for entry in dir.flatten() {
                    if entry.path().extension().is_some_and(|e| e == "tsv") {
                        let body = std::fs::read_to_string(entry.path()).unwrap_or_default();
                        texts.extend(
                            body.lines()
                                .step_by(40)
                                .filter_map(|l| l.split_once('\t').map(|(_, t)| t.to_owned())),
                        );
                    }
                }
            }
            Err(_) => eprintln!("corpus not found at {corpus}: checking the built-in texts only"),
        }
        let mut hits = TextHits::new();
        let mut matched = 0;
        for text in &texts {
            m.scan(text, &mut hits).unwrap();
            let mut gated: Vec<(usize, usize, usize)> = hits
                .hits()
                .iter()
                .filter_map(|h| match h.kind {
                    HitKind::Pattern(i) => Some((i, h.start, h.end)),
                    HitKind::Phrase(_) => None,
                })
                .collect();
            gated.sort_unstable();
            assert_eq!(gated, ungated_pattern_hits(&m, text), "{text}");
            matched += usize::from(!gated.is_empty());
        }
        assert!(matched >= 4, "only {matched} texts hit a pattern");
    }

    /// The default pack's regular expressions.
    fn pack_regexes() -> Vec<String> {
        let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/../../rules/patterns.txt");
        std::fs::read_to_string(rules)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| l.splitn(4, '\t').nth(3).map(str::to_owned))
            .collect()
    }

    /// Pieces an attacker's text is made of: the literal runs of the pack's patterns, and
    /// characters the two engines could read differently (Unicode digits and spaces, the Kelvin
    /// sign and long s, upper case, a newline).
    fn text_pieces(regexes: &[String]) -> Vec<String> {
        let mut pieces: Vec<String> = regexes
            .iter()
            .flat_map(|r| r.split(|c: char| c.is_ascii_punctuation()))
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect();
        pieces.sort();
        pieces.dedup();
        for extra in [
            "4829",
            "6222020200112233",
            "٤٨٢٩",
            "４８２９",
            " ",
            "\u{3000}",
            "\t",
            "\n",
            "\u{b}",
            "\u{212a}",
            "\u{17f}",
            "QQ",
            "App",
            "HTTP",
            "www.",
            ":",
            "：",
            "x",
            "é",
        ] {
            pieces.push(extra.to_owned());
        }
        pieces
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        /// The lazy DFA answers for Hyperscan on the hot path: on any text, for every pack
        /// pattern, it finds a match exactly when Hyperscan does, ending where Hyperscan's
        /// first match ends.
        #[test]
        fn locator_first_end_is_hyperscans(
            (before, matching, after) in (
                proptest::collection::vec(0usize..10_000, 0..4),
                // A text each pattern matches as `regex-syntax` reads it, Unicode digits,
                // spaces and case variants included: where a divergence would show.
                proptest::strategy::Union::new(pack_regexes().iter().map(|r| {
                    proptest::string::string_regex(&format!("(?i){r}")).unwrap()
                })),
                proptest::collection::vec(0usize..10_000, 0..4),
            )
        ) {
            thread_local! {
                static PACK: (Vec<(Locator, BlockDatabase, Scratch)>, Vec<String>) = {
                    let regexes = pack_regexes();
                    let dbs = regexes.iter().map(|r| {
                        let db = compile_one(r, match_flags()).unwrap();
                        let scratch = db.alloc_scratch().unwrap();
                        (Locator::new(r).unwrap(), db, scratch)
                    }).collect();
                    (dbs, text_pieces(&regexes))
                };
            }
            PACK.with(|(dbs, pieces)| {
                let piece = |&i: &usize| pieces[i % pieces.len()].as_str();
                let text: String = before.iter().map(piece).chain([matching.as_str()]).chain(after.iter().map(piece)).collect();
                for (locator, db, scratch) in dbs {
                    let mut hyperscan = None;
                    scan_result(db.scan(text.as_bytes(), scratch, |_, _, to, _| {
                        hyperscan = Some(to as usize);
                        Matching::Terminate
                    })).unwrap();
                    let mut caches = locator.caches();
                    let dfa = locator.first_end(&mut caches, text.as_bytes()).unwrap();
                    proptest::prop_assert_eq!(dfa, hyperscan, "{:?}", text);
                }
                Ok(())
            })?;
        }
    }

    /// Hyperscan's `CASELESS` in UTF-8 mode folds case by Unicode's simple folding (the long
    /// s is an `s`, the Kelvin sign a `k`, the Angstrom sign an `å`), and so does the DFA;
    /// neither folds Turkish dotless i, `ß` or ligatures.
    #[test]
    fn locator_folds_case_as_hyperscan_does() {
        for (regex, text) in [
            ("s", "\u{17f}"),
            ("k", "\u{212a}"),
            ("S", "s"),
            ("i", "\u{131}"),
            ("i", "\u{130}"),
            ("ss", "\u{df}"),
            ("st", "\u{fb06}"),
            ("a", "\u{e5}"),
            ("[a-z]x", "\u{17f}X"),
        ] {
            let db = compile_one(regex, match_flags()).unwrap();
            let scratch = db.alloc_scratch().unwrap();
            let mut hyperscan = None;
            scan_result(db.scan(text.as_bytes(), &scratch, |_, _, to, _| {
                hyperscan = Some(to as usize);
                Matching::Terminate
            }))
            .unwrap();
            let locator = Locator::new(regex).unwrap();
            let mut caches = locator.caches();
            let dfa = locator.first_end(&mut caches, text.as_bytes()).unwrap();
            assert_eq!(dfa, hyperscan, "{regex} on {text:?}");
        }
    }

    #[test]
    fn a_pattern_without_a_locator_is_quoted_by_its_start_of_match_database() {
        // `\Q…\E` is Hyperscan syntax that `regex-syntax` does not read: no lazy DFA, so the
        // start comes from the start-of-match database.
        let regex = r"\Q安全账户\E.{0,4}转";
        assert!(Locator::new(regex).is_none());
        assert_eq!(
            quoted_by_one_pattern(regex, "请把钱存进安全 账户然后转过来"),
            vec!["安全 账户然后转"]
        );
    }

    #[test]
    fn the_locator_quotes_a_repeat_at_the_end_whole() {
        assert_eq!(
            quoted_by_one_pattern(r"账号\d{5,}", "收款账号6222020200112233，尽快"),
            vec!["账号6222020200112233"]
        );
    }

    /// What a matcher of the one pattern `regex` quotes from `text`, as found.
    fn quoted_by_one_pattern(regex: &str, text: &str) -> Vec<String> {
        let m = TextMatcher::compile::<&str, &str>(
            vec![],
            vec![pattern("only", POLICE, regex, 3)],
            &[],
        )
        .unwrap();
        let mut hits = TextHits::new();
        m.scan(text, &mut hits).unwrap();
        hits.hits()
            .iter()
            .map(|h| m.found(text, h).to_owned())
            .collect()
    }

    /// A fresh, private directory for a cache test (removed first if a previous run left it).
    fn cache_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "interdict-matcher-cache-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn cache_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files
    }

    fn cached_matcher(phrases: Vec<PhraseDef>, cache: &DbCache) -> TextMatcher {
        TextMatcher::compile_with(
            phrases,
            vec![
                pattern("long-digits", BRUSHING, r"\d{5,}", 1),
                pattern(
                    "police-case",
                    POLICE,
                    r"(公安|检察院|法院).{0,8}(通缉|逮捕)",
                    4,
                ),
            ],
            &lookalikes(),
            Some(cache),
        )
        .unwrap()
    }

    fn default_phrases() -> Vec<PhraseDef> {
        vec![
            phrase(POLICE, "安全账户", 3),
            phrase(POLICE, "涉嫌洗钱", 2),
            phrase(BRUSHING, "刷单", 2),
        ]
    }

    /// What a matcher finds in a few messages: (kind, start, end, category score) per hit.
    fn findings(m: &TextMatcher) -> Vec<Vec<(HitKind, usize, usize, u32)>> {
        let mut hits = TextHits::new();
        [
            "请立即转到安全帳\u{200b} 戶，否則涉嫌洗錢",
            "市公安局：你已被 列入 通緝名單",
            "刷单返利，订单号１２３４５６７８",
            "您的快递已放至驿站",
        ]
        .iter()
        .map(|text| {
            m.scan(text, &mut hits).unwrap();
            hits.hits()
                .iter()
                .map(|h| (h.kind, h.start, h.end, hits.score(h.category)))
                .collect()
        })
        .collect()
    }

    #[test]
    fn a_matcher_loaded_from_the_cache_finds_what_the_compiled_one_finds() {
        let dir = cache_dir("round-trip");
        let cache = DbCache::new(&dir);
        let compiled = cached_matcher(default_phrases(), &cache);
        // One literal database, two per pattern.
        let stats = compiled.cache_stats();
        assert_eq!(
            (stats.loaded, stats.compiled, stats.not_written),
            (0, 5, 0),
            "{stats:?}"
        );
        assert_eq!(stats.last_error, None);
        assert_eq!(cache_files(&dir).len(), 5);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }

        let loaded = cached_matcher(default_phrases(), &cache);
        let stats = loaded.cache_stats();
        assert_eq!(
            (stats.loaded, stats.compiled, stats.rejected),
            (5, 0, 0),
            "{stats:?}"
        );
        let uncached = TextMatcher::compile(
            default_phrases(),
            vec![
                pattern("long-digits", BRUSHING, r"\d{5,}", 1),
                pattern(
                    "police-case",
                    POLICE,
                    r"(公安|检察院|法院).{0,8}(通缉|逮捕)",
                    4,
                ),
            ],
            &lookalikes(),
        )
        .unwrap();
        assert_eq!(
            uncached.cache_stats(),
            &CacheStats {
                compiled: 5,
                ..CacheStats::default()
            }
        );
        let found = findings(&uncached);
        assert!(
            found.iter().filter(|f| !f.is_empty()).count() >= 3,
            "{found:?}"
        );
        assert_eq!(findings(&compiled), found);
        assert_eq!(findings(&loaded), found);
        // The start-of-match databases came back too: scanning with them gives the same ranges.
        for text in ["订单号：１２３４５６７８", "市公安局：你已被 列入 通緝名單"]
        {
            assert_eq!(
                ungated_pattern_hits(&loaded, text),
                ungated_pattern_hits(&uncached, text)
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn corrupt_truncated_or_refused_cache_files_are_recompiled_and_rewritten() {
        let dir = cache_dir("corrupt");
        let cache = DbCache::new(&dir);
        let reference = findings(&cached_matcher(default_phrases(), &cache));
        let files = cache_files(&dir);
        assert_eq!(files.len(), 5);
        // One file with a flipped byte, one cut short, one emptied.
        let mut bytes = std::fs::read(&files[0]).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x40;
        std::fs::write(&files[0], &bytes).unwrap();
        let bytes = std::fs::read(&files[1]).unwrap();
        std::fs::write(&files[1], &bytes[..bytes.len() - 100]).unwrap();
        std::fs::write(&files[2], b"").unwrap();

        let m = cached_matcher(default_phrases(), &cache);
        let stats = m.cache_stats();
        assert_eq!(
            (stats.loaded, stats.compiled, stats.rejected),
            (2, 3, 3),
            "{stats:?}"
        );
        assert!(stats.last_error.is_some());
        assert_eq!(findings(&m), reference);

        // Rewritten: the next start loads everything.
        let m = cached_matcher(default_phrases(), &cache);
        assert_eq!(m.cache_stats().loaded, 5, "{:?}", m.cache_stats());
        assert_eq!(cache_files(&dir), files);

        // A whole, checksummed file whose database Hyperscan refuses (as one built for another
        // CPU would be): recompiled.
        let key = DbJob::pattern(&cache::environment_key(), r"\d{5,}", match_flags()).key;
        std::fs::write(cache.path(&key), cache::encode(&key, b"not a database")).unwrap();
        let m = cached_matcher(default_phrases(), &cache);
        let stats = m.cache_stats();
        assert_eq!(
            (stats.loaded, stats.compiled, stats.rejected),
            (4, 1, 1),
            "{stats:?}"
        );
        assert!(
            stats
                .last_error
                .as_deref()
                .unwrap_or_default()
                .contains("Hyperscan"),
            "{stats:?}"
        );
        assert_eq!(findings(&m), reference);
        // No temporary file is left behind.
        assert_eq!(cache_files(&dir), files);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_changed_phrase_changes_the_key_of_the_phrase_database_only() {
        let dir = cache_dir("changed");
        let cache = DbCache::new(&dir);
        let _ = cached_matcher(default_phrases(), &cache);
        let mut changed = default_phrases();
        changed[2] = phrase(BRUSHING, "刷单返利", 2);
        let m = cached_matcher(changed, &cache);
        let stats = m.cache_stats();
        // The literal database is new; the patterns' four are reused.
        assert_eq!((stats.loaded, stats.compiled), (4, 1), "{stats:?}");
        assert_eq!(cache_files(&dir).len(), 6);
        let mut hits = TextHits::new();
        m.scan("刷单而已", &mut hits).unwrap();
        assert!(
            hits.is_empty(),
            "the old phrase was loaded: {:?}",
            hits.hits()
        );
        m.scan("刷单返利", &mut hits).unwrap();
        assert_eq!(hits.score(BRUSHING), 2);
        // A weight is not in any database: same keys.
        let mut reweighted = default_phrases();
        reweighted[2].weight = 5;
        assert_eq!(cached_matcher(reweighted, &cache).cache_stats().compiled, 0);
        // Keys differ by phrase bytes, flags, the pattern and its flags, and name the library.
        let env = cache::environment_key();
        let version = hyperscan::version_str().to_bytes();
        assert!(env.windows(version.len()).any(|w| w == version));
        let a = DbJob::pattern(&env, "ab", match_flags()).key;
        assert_ne!(a, DbJob::pattern(&env, "ac", match_flags()).key);
        assert_ne!(a, DbJob::pattern(&env, "ab", som_flags()).key);
        let lits = |flags| -> Literals {
            vec![Literal {
                expression: "ab".into(),
                flags,
                id: Some(0),
                som: None,
            }]
            .into_iter()
            .collect()
        };
        let (plain, caseless) = (lits(LiteralFlags::empty()), lits(LiteralFlags::CASELESS));
        assert_ne!(
            DbJob::literals(&env, &plain).key,
            DbJob::literals(&env, &caseless).key
        );
        assert_ne!(DbJob::literals(&env, &plain).key, a);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[cfg(unix)]
    #[test]
    fn a_cache_directory_others_may_write_is_not_used() {
        use std::os::unix::fs::PermissionsExt;
        let dir = cache_dir("shared");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let m = cached_matcher(default_phrases(), &DbCache::new(&dir));
        let stats = m.cache_stats();
        assert_eq!(
            (stats.loaded, stats.compiled, stats.not_written),
            (0, 5, 5),
            "{stats:?}"
        );
        assert!(stats.last_error.is_some());
        assert!(cache_files(&dir).is_empty());
        assert!(!findings(&m).concat().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn hits_are_bounded() {
        let phrases: Vec<PhraseDef> = (0..MAX_HITS + 20)
            .map(|i| phrase(CategoryId(0), &format!("w{i}x"), 1))
            .collect();
        let text: String = (0..MAX_HITS + 20).map(|i| format!("w{i}x ")).collect();
        let m = TextMatcher::compile::<&str, &str>(phrases, vec![], &[]).unwrap();
        let mut hits = TextHits::new();
        m.scan(&text, &mut hits).unwrap();
        assert_eq!(hits.hits().len(), MAX_HITS);
        assert!(hits.truncated());
    }
}
