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
    pub fn from_name(name: &[u8]) -> HeaderKind {
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
        let candidates: &[(&str, HeaderKind)] = match name.len() {
            2 => &[("To", To)],
            3 => &[("Via", Via)],
            4 => &[("From", From), ("CSeq", CSeq), ("Date", Date)],
            5 => &[("Route", Route), ("Event", Event)],
            6 => &[("Reason", Reason)],
            7 => &[
                ("Call-ID", CallId),
                ("Contact", Contact),
                ("Subject", Subject),
            ],
            8 => &[("Refer-To", ReferTo), ("Identity", Identity)],
            9 => &[
                ("Diversion", Diversion),
                ("Supported", Supported),
                ("Call-Info", CallInfo),
            ],
            10 => &[("User-Agent", UserAgent)],
            11 => &[("Referred-By", ReferredBy)],
            12 => &[
                ("Max-Forwards", MaxForwards),
                ("Content-Type", ContentType),
                ("Record-Route", RecordRoute),
                ("History-Info", HistoryInfo),
                ("Allow-Events", AllowEvents),
            ],
            14 => &[("Content-Length", ContentLength)],
            15 => &[("Session-Expires", SessionExpires)],
            16 => &[("Content-Encoding", ContentEncoding)],
            19 => &[("P-Asserted-Identity", PAssertedIdentity)],
            20 => &[("P-Preferred-Identity", PPreferredIdentity)],
            _ => &[],
        };
        candidates
            .iter()
            .find(|(n, _)| n.as_bytes().eq_ignore_ascii_case(name))
            .map_or(Other, |(_, k)| *k)
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
