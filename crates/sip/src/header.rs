//! Header names (long and compact forms, case-insensitive) and one indexed header line.

/// The headers this crate knows by name. Everything else is [`HeaderKind::Other`] and kept
/// opaque (still indexed, still forwarded byte for byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
#[allow(missing_docs)] // the variant names are the header names
pub enum HeaderKind {
    Via,
    From,
    To,
    CallId,
    CSeq,
    MaxForwards,
    ContentLength,
    ContentType,
    ContentEncoding,
    Contact,
    Route,
    RecordRoute,
    PAssertedIdentity,
    PPreferredIdentity,
    Diversion,
    HistoryInfo,
    UserAgent,
    Date,
    Subject,
    Supported,
    Event,
    AllowEvents,
    ReferTo,
    ReferredBy,
    SessionExpires,
    Identity,
    Reason,
    CallInfo,
    Other,
}

/// Number of [`HeaderKind`] variants (size of per-kind lookup tables).
pub(crate) const KIND_COUNT: usize = HeaderKind::Other as usize + 1;

impl HeaderKind {
    /// Classifies a header name: long forms case-insensitively, and the RFC 3261/3265/3515/
    /// 3892/4028/8224 compact forms `i m e l c f s k t v o u r b x y`.
    /// A name that is not a token is [`HeaderKind::Other`].
    pub fn from_name(name: &[u8]) -> HeaderKind {
        if name.iter().all(|&c| crate::lex::is_token(c)) {
            Self::from_token(name)
        } else {
            HeaderKind::Other
        }
    }

    /// [`HeaderKind::from_name`] for a name already known to be a token (the indexer's case).
    pub(crate) fn from_token(name: &[u8]) -> HeaderKind {
        use HeaderKind::*;
        if let [c] = name {
            return match c.to_ascii_lowercase() {
                b'i' => CallId,
                b'm' => Contact,
                b'e' => ContentEncoding,
                b'l' => ContentLength,
                b'c' => ContentType,
                b'f' => From,
                b's' => Subject,
                b'k' => Supported,
                b't' => To,
                b'v' => Via,
                b'o' => Event,
                b'u' => AllowEvents,
                b'r' => ReferTo,
                b'b' => ReferredBy,
                b'x' => SessionExpires,
                b'y' => Identity,
                _ => Other,
            };
        }
        // One candidate per (length, first letter, last letter), then one comparison.
        let (Some(first), Some(last)) = (name.first(), name.last()) else {
            return Other;
        };
        let candidate = match (
            name.len(),
            first.to_ascii_lowercase(),
            last.to_ascii_lowercase(),
        ) {
            (2, b't', _) => To,
            (3, b'v', _) => Via,
            (4, b'f', _) => From,
            (4, b'c', _) => CSeq,
            (4, b'd', _) => Date,
            (5, b'r', _) => Route,
            (5, b'e', _) => Event,
            (6, b'r', _) => Reason,
            (7, b'c', b'd') => CallId,
            (7, b'c', b't') => Contact,
            (7, b's', _) => Subject,
            (8, b'r', _) => ReferTo,
            (8, b'i', _) => Identity,
            (9, b'd', _) => Diversion,
            (9, b's', _) => Supported,
            (9, b'c', _) => CallInfo,
            (10, b'u', _) => UserAgent,
            (11, b'r', _) => ReferredBy,
            (12, b'm', _) => MaxForwards,
            (12, b'c', _) => ContentType,
            (12, b'r', _) => RecordRoute,
            (12, b'h', _) => HistoryInfo,
            (12, b'a', _) => AllowEvents,
            (14, b'c', _) => ContentLength,
            (15, b's', _) => SessionExpires,
            (16, b'c', _) => ContentEncoding,
            (19, b'p', _) => PAssertedIdentity,
            (20, b'p', _) => PPreferredIdentity,
            _ => return Other,
        };
        if KEYS.get(candidate as usize) == Some(&name_key_fast(name)) {
            candidate
        } else {
            Other
        }
    }

    /// The canonical (long) name, `""` for [`HeaderKind::Other`].
    pub const fn canonical_name(self) -> &'static str {
        use HeaderKind::*;
        match self {
            Via => "Via",
            From => "From",
            To => "To",
            CallId => "Call-ID",
            CSeq => "CSeq",
            MaxForwards => "Max-Forwards",
            ContentLength => "Content-Length",
            ContentType => "Content-Type",
            ContentEncoding => "Content-Encoding",
            Contact => "Contact",
            Route => "Route",
            RecordRoute => "Record-Route",
            PAssertedIdentity => "P-Asserted-Identity",
            PPreferredIdentity => "P-Preferred-Identity",
            Diversion => "Diversion",
            HistoryInfo => "History-Info",
            UserAgent => "User-Agent",
            Date => "Date",
            Subject => "Subject",
            Supported => "Supported",
            Event => "Event",
            AllowEvents => "Allow-Events",
            ReferTo => "Refer-To",
            ReferredBy => "Referred-By",
            SessionExpires => "Session-Expires",
            Identity => "Identity",
            Reason => "Reason",
            CallInfo => "Call-Info",
            Other => "",
        }
    }

    /// Headers RFC 3261 allows at most once. What a repeat does is [`HeaderKind::repeat_is_error`]:
    /// From and To may repeat (cores read the first; the message's `*_all` accessors give
    /// every value), Content-Length may repeat with the same value only, and the others may
    /// not repeat at all.
    pub fn is_single_valued(self) -> bool {
        use HeaderKind::*;
        matches!(
            self,
            From | To | CallId | CSeq | MaxForwards | ContentLength | ContentType
        )
    }

    /// Whether a second header of this kind makes the message a parse error
    /// ([`crate::Error::DuplicateHeader`]) whatever its value: Call-ID and CSeq (the
    /// transaction and dialog the gateway and the core match on), Max-Forwards (the writer
    /// decrements one) and Content-Type (the body would be decoded differently by whoever
    /// reads the other one). Content-Length is checked by value instead: a repeat with a
    /// different value is an error (it frames the message differently, request smuggling),
    /// an equal one is accepted. From and To may repeat.
    pub fn repeat_is_error(self) -> bool {
        use HeaderKind::*;
        matches!(self, CallId | CSeq | MaxForwards | ContentType)
    }
}

/// Every kind, in declaration order (`ALL[k as usize] == k`).
const ALL: [HeaderKind; KIND_COUNT] = {
    use HeaderKind::*;
    [
        Via,
        From,
        To,
        CallId,
        CSeq,
        MaxForwards,
        ContentLength,
        ContentType,
        ContentEncoding,
        Contact,
        Route,
        RecordRoute,
        PAssertedIdentity,
        PPreferredIdentity,
        Diversion,
        HistoryInfo,
        UserAgent,
        Date,
        Subject,
        Supported,
        Event,
        AllowEvents,
        ReferTo,
        ReferredBy,
        SessionExpires,
        Identity,
        Reason,
        CallInfo,
        Other,
    ]
};

/// The [`name_key`] of every canonical name, computed at compile time.
#[allow(clippy::indexing_slicing)] // evaluated at compile time: an out-of-range index cannot build
static KEYS: [[u64; 3]; KIND_COUNT] = {
    let mut keys = [[u64::MAX; 3]; KIND_COUNT];
    let mut i = 0;
    while i < KIND_COUNT {
        keys[i] = name_key(ALL[i].canonical_name().as_bytes());
        i += 1;
    }
    keys
};

/// Little-endian word of `n` bytes of `s` from `at`, each byte with bit 0x20 set.
/// Used at compile time only (for [`KEYS`]); [`name_key_fast`] is the run-time form.
#[allow(clippy::indexing_slicing)] // callers pass `at + n <= s.len()`
const fn folded_word(s: &[u8], at: usize, n: usize) -> u64 {
    let mut w = 0u64;
    let mut i = 0;
    while i < n {
        w |= ((s[at + i] | 0x20) as u64) << (8 * i);
        i += 1;
    }
    w
}

/// A case-folded fingerprint of a token of 2 to 24 bytes that determines it exactly among
/// tokens of the same length: overlapping words from the front and the back cover every
/// byte (OR-ing 0x20 folds exactly the letter case for token characters). Comparing the
/// fingerprints of a name and of the one candidate its length and first letter select
/// replaces a byte-wise case-insensitive compare.
#[allow(clippy::indexing_slicing)] // every index is below `s.len()` by the length checks
const fn name_key(s: &[u8]) -> [u64; 3] {
    let n = s.len();
    match n {
        2..=3 => [folded_word(s, 0, 2) | folded_word(s, n - 2, 2) << 16, 0, 0],
        4..=7 => [folded_word(s, 0, 4) | folded_word(s, n - 4, 4) << 32, 0, 0],
        8..=16 => [folded_word(s, 0, 8), folded_word(s, n - 8, 8), 0],
        17..=24 => [
            folded_word(s, 0, 8),
            folded_word(s, 8, 8),
            folded_word(s, n - 8, 8),
        ],
        _ => [u64::MAX - 1; 3],
    }
}

/// [`name_key`] with word loads, for run time.
#[inline(always)]
fn name_key_fast(s: &[u8]) -> [u64; 3] {
    fn w<const N: usize>(s: &[u8], at: usize) -> u64 {
        let mut b = [0u8; 8];
        if let (Some(dst), Some(src)) = (b.get_mut(..N), s.get(at..at + N)) {
            dst.copy_from_slice(src);
        }
        u64::from_le_bytes(b) | (0x2020_2020_2020_2020 >> (64 - 8 * N))
    }
    let n = s.len();
    match n {
        2..=3 => [w::<2>(s, 0) | w::<2>(s, n - 2) << 16, 0, 0],
        4..=7 => [w::<4>(s, 0) | w::<4>(s, n - 4) << 32, 0, 0],
        8..=16 => [w::<8>(s, 0), w::<8>(s, n - 8), 0],
        17..=24 => [w::<8>(s, 0), w::<8>(s, 8), w::<8>(s, n - 8)],
        _ => [u64::MAX - 1; 3],
    }
}

/// One header line of the index: name and value as slices of the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    pub(crate) name: &'a [u8],
    pub(crate) value: &'a [u8],
    pub(crate) kind: HeaderKind,
    /// Offset just past the line end (CRLF or a bare LF) that ends this (possibly folded)
    /// header line: the start of the next line.
    pub(crate) end: u32,
}

impl<'a> Header<'a> {
    pub(crate) const EMPTY: Header<'static> = Header {
        name: b"",
        value: b"",
        kind: HeaderKind::Other,
        end: 0,
    };

    /// The name as written (e.g. `v`, `Via`, `VIA`).
    pub fn name(&self) -> &'a [u8] {
        self.name
    }

    /// The value as written: leading and trailing blanks removed, folds (CRLF or LF, then a
    /// blank) kept.
    pub fn value(&self) -> &'a [u8] {
        self.value
    }

    /// The value as UTF-8 text, if it is.
    pub fn value_str(&self) -> Option<&'a str> {
        std::str::from_utf8(self.value).ok()
    }

    /// What the header is.
    pub fn kind(&self) -> HeaderKind {
        self.kind
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_time_fingerprint_equals_compile_time_one() {
        for n in 0..30 {
            let name: Vec<u8> = (0..n).map(|i| b"aB-c.D9e!"[i % 9]).collect();
            assert_eq!(name_key_fast(&name), name_key(&name), "{n}");
        }
    }

    #[test]
    fn kind_table_is_in_declaration_order() {
        for (i, k) in ALL.iter().enumerate() {
            assert_eq!(*k as usize, i);
        }
    }

    #[test]
    fn fingerprint_compare_agrees_with_bytewise_compare() {
        // (These took over the assertions of the byte-wise compare it replaced.)
        assert_eq!(
            HeaderKind::from_token(b"p-asserted-IDENTITY"),
            HeaderKind::PAssertedIdentity
        );
        assert_eq!(
            HeaderKind::from_token(b"P-Asserted-Identitx"),
            HeaderKind::Other
        );
        assert_eq!(HeaderKind::from_token(b"Tom"), HeaderKind::Other);
        // Every canonical name, its case variants and every one-byte change of it.
        let alphabet = b"aAzZ-.!%*_+`'~09";
        for k in ALL {
            let name = k.canonical_name().as_bytes();
            for variant in [
                name.to_vec(),
                name.to_ascii_lowercase(),
                name.to_ascii_uppercase(),
            ] {
                assert_eq!(HeaderKind::from_token(&variant), k, "{variant:?}");
                for at in 0..variant.len() {
                    for &c in alphabet {
                        let mut v = variant.clone();
                        v[at] = c;
                        let expect = if v.eq_ignore_ascii_case(name) {
                            k
                        } else {
                            HeaderKind::Other
                        };
                        let got = HeaderKind::from_token(&v);
                        // A one-byte change of a long name can only be another kind when
                        // it spells that kind's name.
                        if got != expect {
                            assert!(
                                v.eq_ignore_ascii_case(got.canonical_name().as_bytes()),
                                "{v:?}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn long_and_compact_names() {
        assert_eq!(
            HeaderKind::from_name(b"MaX-fOrWaRdS"),
            HeaderKind::MaxForwards
        );
        assert_eq!(HeaderKind::from_name(b"v"), HeaderKind::Via);
        assert_eq!(HeaderKind::from_name(b"L"), HeaderKind::ContentLength);
        assert_eq!(
            HeaderKind::from_name(b"p-asserted-identity"),
            HeaderKind::PAssertedIdentity
        );
        assert_eq!(HeaderKind::from_name(b"C%6Fntact"), HeaderKind::Other);
        assert_eq!(HeaderKind::from_name(b"z"), HeaderKind::Other);
        assert_eq!(HeaderKind::from_name(b"Call\rID"), HeaderKind::Other);
        assert_eq!(HeaderKind::from_name(b"T\x0f"), HeaderKind::Other);
        for k in [
            HeaderKind::Via,
            HeaderKind::HistoryInfo,
            HeaderKind::CallId,
            HeaderKind::Diversion,
        ] {
            assert_eq!(HeaderKind::from_name(k.canonical_name().as_bytes()), k);
        }
    }
}
