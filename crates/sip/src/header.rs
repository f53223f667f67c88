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
        if crate::lex::token_eq_ignore_case(candidate.canonical_name().as_bytes(), name) {
            candidate
        } else {
            Other
        }
    }

    /// The canonical (long) name, `""` for [`HeaderKind::Other`].
    pub fn canonical_name(self) -> &'static str {
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

    /// Headers that may appear at most once: a second occurrence is a parse error, so the
    /// gateway and the core behind it can never read different values (header smuggling).
    pub fn is_single_valued(self) -> bool {
        use HeaderKind::*;
        matches!(
            self,
            From | To | CallId | CSeq | MaxForwards | ContentLength | ContentType
        )
    }
}

/// One header line of the index: name and value as slices of the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    pub(crate) name: &'a [u8],
    pub(crate) value: &'a [u8],
    pub(crate) kind: HeaderKind,
    /// Offset just past the CRLF that ends this (possibly folded) header line.
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

    /// The value as written: leading and trailing blanks removed, folds (CRLF + blank) kept.
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
