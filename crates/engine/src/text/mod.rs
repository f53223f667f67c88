//! Text normalisation and fraud-script matching.
//!
//! Scam scripts are written to dodge naive keyword filters: traditional characters, full-width
//! letters, spaces, punctuation, zero-width characters or emoji inserted between the characters of a
//! phrase, and look-alike characters (`徽信` for `微信`). This module undoes those evasions and then
//! finds the phrases and patterns of the rule pack:
//!
//! - [`normalise`]: [`Normaliser`] turns a message into a [`NormalisedText`] (reusable buffer) that
//!   remembers, for every normalised byte, where it came from in the original text, so evidence quotes
//!   the phrase *as found*.
//! - [`matcher`]: [`TextMatcher`], Hyperscan databases of phrases and regular expressions, scored per category.
//! - [`cache`]: [`DbCache`], compiled Hyperscan databases kept on disk between starts.
//! - [`contacts`]: phone numbers, URLs, QQ and WeChat ids the message asks the victim to contact.
//! - [`links`]: what a link's host says (IP address, shortener, an institution's look-alike).
//!
//! ```
//! use interdict_engine::text::{NormalisedText, Normaliser};
//!
//! let normaliser = Normaliser::with_lookalikes(&[("徽信", "微信")])?;
//! let mut out = NormalisedText::new(); // reuse it for every message
//! let original = "請加 徽 信，刷\u{200b}單返利";
//! normaliser.normalise_into(original, &mut out);
//! assert_eq!(out.as_str(), "请加微信刷单返利"); // separators between CJK dropped
//! let at = out.as_str().find("微信").unwrap_or_default();
//! assert_eq!(out.found(original, at, at + "微信".len()), Some("徽 信"));
//! # Ok::<(), interdict_engine::text::TextError>(())
//! ```
//!
//! Traditional → simplified conversion uses the character table of the `ferrous-opencc` crate
//! (Apache-2.0, OpenCC's dictionaries, also Apache-2.0, embedded at build time: nothing is read or
//! downloaded at run time).

pub mod cache;
pub mod contacts;
mod gate;
pub mod links;
mod locator;
pub mod matcher;
pub mod normalise;

pub use cache::{CacheStats, DbCache};
pub use contacts::{extract as extract_contacts, Contact, ContactKind, Contacts, MAX_CONTACTS};
pub use links::{link_bit, LinkClass, LinkTables, LINK_KINDS};
pub use matcher::{
    check_pattern, CategoryId, HitKind, PatternDef, PhraseDef, TextHit, TextHits, TextMatcher,
    MAX_HITS,
};
pub use normalise::{NormalisedText, Normaliser, MAX_TEXT_BYTES};

/// Errors raised while building a normaliser or compiling a matcher from the rule pack.
///
/// Indices are positions in the slices given to the constructor, so the pack loader can map them
/// back to `file:line`.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum TextError {
    /// A look-alike pair whose key has no letter, digit or CJK character after normalisation.
    #[error("look-alike #{index}: key {key:?} has no letter, digit or CJK character")]
    EmptyLookalike {
        /// Position of the pair in the look-alike table.
        index: usize,
        /// The key as given.
        key: String,
    },
    /// The look-alike automaton could not be built.
    #[error("look-alike table: {message}")]
    LookalikeTable {
        /// What the automaton builder reported.
        message: String,
    },
    /// A phrase with no letter, digit or CJK character after normalisation.
    #[error("phrase #{index}: {text:?} has no letter, digit or CJK character")]
    EmptyPhrase {
        /// Position of the phrase in the list given to the compiler.
        index: usize,
        /// The phrase as given.
        text: String,
    },
    /// Hyperscan rejected a phrase.
    #[error("phrase #{index}: {message}")]
    Phrase {
        /// Position of the phrase in the list given to the compiler.
        index: usize,
        /// Hyperscan's message.
        message: String,
    },
    /// Hyperscan rejected a regular expression.
    #[error("pattern #{index} ({id}): {message}")]
    Pattern {
        /// Position of the pattern in the list given to the compiler.
        index: usize,
        /// The pattern's id.
        id: String,
        /// Hyperscan's message.
        message: String,
    },
    /// A database could not be compiled for a reason not tied to one expression.
    #[error("compiling the text database: {message}")]
    Database {
        /// Hyperscan's message.
        message: String,
    },
    /// More phrases or bytes than the matcher can index (over 4 G).
    #[error("too many {what}")]
    TooMany {
        /// What overflowed.
        what: &'static str,
    },
    /// Hyperscan scratch space could not be allocated for this thread.
    #[error("allocating Hyperscan scratch space: {message}")]
    Scratch {
        /// Hyperscan's message.
        message: String,
    },
    /// Hyperscan failed while scanning.
    #[error("scanning text: {message}")]
    Scan {
        /// Hyperscan's message.
        message: String,
    },
    /// The traditional → simplified table could not be loaded.
    #[error("traditional to simplified table: {message}")]
    T2sTable {
        /// What the converter reported.
        message: String,
    },
}
