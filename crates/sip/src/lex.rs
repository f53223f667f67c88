//! Character classes of RFC 3261 §25.1 and small scanning helpers shared by the grammar modules.

/// Character-class bits of [`CLASS`].
pub(crate) const TOKEN: u16 = 1;
/// URI `unreserved`: alphanum and the marks `-_.!~*'()`.
pub(crate) const UNRESERVED: u16 = 2;
/// SIP URI user part characters: unreserved and `&=+$,;?/`.
pub(crate) const USER: u16 = 4;
/// SIP URI password characters: unreserved and `&=+$,`.
pub(crate) const PASSWORD: u16 = 8;
/// URI parameter characters: unreserved and `param-unreserved` `[]/:&+$`.
pub(crate) const PARAM: u16 = 16;
/// URI header name or value characters: unreserved and `hnv-unreserved` `[]/?:+$`.
pub(crate) const HNV: u16 = 32;
/// Extra characters of a `word` (Call-ID): `()<>:\"/[]?{}`.
pub(crate) const WORD: u16 = 64;
/// Linear white space inside an indexed header value (see [`is_lws`]).
pub(crate) const LWS: u16 = 128;
/// ASCII letters.
pub(crate) const ALPHA: u16 = 256;
/// ASCII digits.
pub(crate) const DIGIT: u16 = 512;
/// `gen-value` characters: token plus `[]:` (IPv6 references and bare IPv6 `received`).
pub(crate) const GEN_VALUE: u16 = 1024;
/// Host name characters: alphanum, `-` and `.`.
pub(crate) const HOST: u16 = 2048;
/// `.` (host label separator).
pub(crate) const DOT: u16 = 1 << 12;
/// `-` (inside a host label).
pub(crate) const DASH: u16 = 1 << 13;
/// Set on a byte after which a [`DOT`] may not follow in a host name (`-.`, `..`). It is
/// `DOT << 2`, so `(prev >> 2) & next & (DOT | DASH)` flags a bad pair without branches.
pub(crate) const NO_DOT_AFTER: u16 = DOT << 2;
/// Set on a byte after which a [`DASH`] may not follow in a host name (`.-`).
pub(crate) const NO_DASH_AFTER: u16 = DASH << 2;

const fn class_of(c: u8) -> u16 {
    let alnum = c.is_ascii_alphanumeric();
    let mut k = 0;
    if alnum
        || matches!(
            c,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        )
    {
        k |= TOKEN;
    }
    if alnum
        || matches!(
            c,
            b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
        )
    {
        k |= UNRESERVED;
    }
    // The URI part classes include the unreserved characters, so that one bit decides.
    let unreserved = k & UNRESERVED != 0;
    if unreserved || matches!(c, b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/') {
        k |= USER;
    }
    if unreserved || matches!(c, b'&' | b'=' | b'+' | b'$' | b',') {
        k |= PASSWORD;
    }
    if unreserved || matches!(c, b'[' | b']' | b'/' | b':' | b'&' | b'+' | b'$') {
        k |= PARAM;
    }
    if unreserved || matches!(c, b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$') {
        k |= HNV;
    }
    if matches!(
        c,
        b'(' | b')' | b'<' | b'>' | b':' | b'\\' | b'"' | b'/' | b'[' | b']' | b'?' | b'{' | b'}'
    ) {
        k |= WORD;
    }
    if matches!(c, b' ' | b'\t' | b'\r' | b'\n') {
        k |= LWS;
    }
    if c.is_ascii_alphabetic() {
        k |= ALPHA;
    }
    if c.is_ascii_digit() {
        k |= DIGIT;
    }
    if k & TOKEN != 0 || matches!(c, b'[' | b']' | b':') {
        k |= GEN_VALUE;
    }
    if alnum || c == b'-' || c == b'.' {
        k |= HOST;
    }
    if c == b'.' {
        k |= DOT | NO_DOT_AFTER | NO_DASH_AFTER;
    }
    if c == b'-' {
        k |= DASH | NO_DOT_AFTER;
    }
    k
}

/// Character classes of RFC 3261 §25.1, one byte of flags per octet.
#[allow(clippy::indexing_slicing)] // evaluated at compile time: an out-of-range index cannot build
static CLASS: [u16; 256] = {
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = class_of(i as u8);
        i += 1;
    }
    t
};

/// The class flags of `c`.
#[inline(always)]
pub(crate) fn class(c: u8) -> u16 {
    CLASS.get(usize::from(c)).copied().unwrap_or(0)
}

/// `token` characters: alphanum and `-.!%*_+` `` ` `` `'~`.
#[inline(always)]
pub(crate) fn is_token(c: u8) -> bool {
    class(c) & TOKEN != 0
}

/// Linear white space inside an already indexed header value. The indexer guarantees that
/// a CR or LF inside a value is part of a line end (CRLF or a bare LF) followed by SP/HTAB
/// (a fold), so treating them as blanks here is exactly RFC 3261's LWS (with LF accepted as
/// a line end, RFC 3261 §7.5).
#[inline(always)]
pub(crate) fn is_lws(c: u8) -> bool {
    class(c) & LWS != 0
}

/// `word` characters (Call-ID): token plus `()<>:\"/[]?{}`.
#[inline(always)]
pub(crate) fn is_word(c: u8) -> bool {
    class(c) & (TOKEN | WORD) != 0
}

/// Why a grammar piece did not parse: the offset from the start of the parsed text, and what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fail {
    pub(crate) at: usize,
    pub(crate) what: &'static str,
}

/// Length of the run at the start of `b` of bytes whose class shares a bit with `mask`.
#[inline(always)]
pub(crate) fn run(b: &[u8], mask: u16) -> usize {
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if class(c) & mask == 0 {
            break;
        }
        i += 1;
    }
    i
}

/// [`run`] for runs that are usually long (branch and tag values): eight bytes per step
/// while the run lasts. `mask` must be a single class bit, so that AND-ing the classes keeps
/// it only when every byte has it.
#[inline(always)]
pub(crate) fn run_long(b: &[u8], mask: u16) -> usize {
    debug_assert!(mask.is_power_of_two());
    let mut rest = b;
    while let Some((chunk, tail)) = rest.split_first_chunk::<8>() {
        let all = chunk.iter().fold(mask, |acc, &c| acc & class(c));
        if all == 0 {
            break;
        }
        rest = tail;
    }
    b.len() - rest.len() + run(rest, mask)
}

/// Skips leading LWS. LWS bytes are ASCII, so every cut is a character boundary.
#[inline]
pub(crate) fn trim_start(s: &str) -> &str {
    let n = run(s.as_bytes(), LWS);
    s.get(n..).unwrap_or("")
}

/// Skips trailing LWS.
#[inline]
pub(crate) fn trim_end(s: &str) -> &str {
    let b = s.as_bytes();
    let mut n = b.len();
    while let Some(&c) = b.get(n.wrapping_sub(1)) {
        if !is_lws(c) {
            break;
        }
        n -= 1;
    }
    s.get(..n).unwrap_or("")
}

/// Skips LWS on both sides.
pub(crate) fn trim(s: &str) -> &str {
    trim_end(trim_start(s))
}

/// Length of the run at the start of `b` of bytes that are in the `part` class ([`USER`],
/// [`PASSWORD`], [`PARAM`], [`HNV`]: unreserved plus that part's extra characters), or
/// valid `%XX` escapes.
#[inline]
pub(crate) fn escaped_run(b: &[u8], part: u16) -> usize {
    let mask = part;
    let mut i = run(b, mask);
    while let Some(&c) = b.get(i) {
        if class(c) & mask != 0 {
            i += 1;
        } else if c == b'%'
            && b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
        {
            i += 3;
        } else {
            break;
        }
    }
    i
}

/// Checks that every byte of `s` is in the `part` class (see [`escaped_run`]) or a valid
/// `%XX` escape. Returns the offset of the first bad byte.
pub(crate) fn check_escaped(s: &str, part: u16) -> Result<(), usize> {
    let n = escaped_run(s.as_bytes(), part);
    if n == s.len() {
        Ok(())
    } else {
        Err(n)
    }
}

/// Splits the element list of a multi-valued header on commas that are outside quoted
/// strings and angle brackets. Empty elements are yielded (and rejected by the typed parsers).
/// Works on bytes: a quoted string may hold octets that are not UTF-8 (a GBK display name),
/// and commas, quotes and brackets are ASCII, so every cut is also a character boundary of
/// any UTF-8 text.
#[derive(Debug, Clone)]
pub(crate) struct CommaSplit<'a> {
    rest: Option<&'a [u8]>,
}

impl<'a> CommaSplit<'a> {
    pub(crate) fn new(s: &'a [u8]) -> Self {
        CommaSplit { rest: Some(s) }
    }
}

impl<'a> Iterator for CommaSplit<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let b = self.rest?;
        // Most values are a single element: one memchr for ',' settles it.
        let Some(mut i) = memchr::memchr(b',', b) else {
            self.rest = None;
            return Some(b);
        };
        // A quote or bracket before the first comma may hide it: scan from the start.
        if memchr::memchr2(b'"', b'<', b.get(..i).unwrap_or(b"")).is_some() {
            i = 0;
        }
        // Jump between the only bytes that matter with memchr.
        while let Some(found) = b
            .get(i..)
            .and_then(|t| memchr::memchr3(b',', b'"', b'<', t))
        {
            let at = i + found;
            match b.get(at) {
                Some(b',') => {
                    self.rest = b.get(at + 1..);
                    return b.get(..at);
                }
                Some(b'"') => {
                    // Skip the quoted string, honouring quoted-pairs; unterminated runs to the end.
                    let mut j = at + 1;
                    loop {
                        match b.get(j..).and_then(|t| memchr::memchr2(b'"', b'\\', t)) {
                            None => {
                                j = b.len();
                                break;
                            }
                            Some(k) if b.get(j + k) == Some(&b'\\') => j += k + 2,
                            Some(k) => {
                                j += k + 1;
                                break;
                            }
                        }
                    }
                    i = j;
                }
                _ => {
                    // '<': URIs contain no '>' or '"'; unterminated runs to the end.
                    i = b
                        .get(at..)
                        .and_then(|t| memchr::memchr(b'>', t))
                        .map_or(b.len(), |k| at + k + 1);
                }
            }
        }
        self.rest = None;
        Some(b)
    }
}

/// Skips leading LWS of bytes.
#[inline]
pub(crate) fn trim_start_bytes(b: &[u8]) -> &[u8] {
    b.get(run(b, LWS)..).unwrap_or(b"")
}

/// Skips trailing LWS of bytes.
#[inline]
pub(crate) fn trim_end_bytes(b: &[u8]) -> &[u8] {
    let mut n = b.len();
    while let Some(&c) = b.get(n.wrapping_sub(1)) {
        if !is_lws(c) {
            break;
        }
        n -= 1;
    }
    b.get(..n).unwrap_or(b"")
}

/// `b` as UTF-8 text, or where it stops being UTF-8.
#[inline]
pub(crate) fn utf8(b: &[u8]) -> Result<&str, Fail> {
    std::str::from_utf8(b).map_err(|e| Fail {
        at: e.valid_up_to(),
        what: "not UTF-8",
    })
}

/// Byte offset of `inner` inside `outer`, when `inner` is a sub-slice of it.
pub(crate) fn offset_in(outer: &[u8], inner: &[u8]) -> Option<usize> {
    let start = (inner.as_ptr() as usize).checked_sub(outer.as_ptr() as usize)?;
    if start.checked_add(inner.len())? <= outer.len() {
        Some(start)
    } else {
        None
    }
}

/// Decodes `%XX` escapes of `s` (RFC 3261 §19.1.2), borrowing when there are none.
/// Invalid escapes are kept literally.
pub fn percent_decode(s: &str) -> std::borrow::Cow<'_, [u8]> {
    let b = s.as_bytes();
    if !b.contains(&b'%') {
        return std::borrow::Cow::Borrowed(b);
    }
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            if let (Some(h), Some(l)) = (b.get(i + 1).and_then(hex), b.get(i + 2).and_then(hex)) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    std::borrow::Cow::Owned(out)
}

fn hex(b: &u8) -> Option<u8> {
    (*b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comma_split_respects_quotes_and_brackets() {
        let v: Vec<_> = CommaSplit::new(br#""a,\"b" <sip:x;p=a,b>, <sip:y>,"#).collect();
        assert_eq!(v, vec![&br#""a,\"b" <sip:x;p=a,b>"#[..], b" <sip:y>", b""]);
        // Octets that are not UTF-8 inside quotes (GBK) are kept whole.
        let gbk: Vec<_> = CommaSplit::new(b"\"\xd5\xc5,\" <sip:a@b>, <sip:c@d>").collect();
        assert_eq!(gbk, vec![&b"\"\xd5\xc5,\" <sip:a@b>"[..], b" <sip:c@d>"]);
    }

    #[test]
    fn percent_decode_keeps_nul_and_bad_escapes() {
        assert_eq!(&*percent_decode("null-%00-null"), b"null-\0-null");
        assert_eq!(&*percent_decode("%Z%45"), b"%ZE");
        assert!(matches!(
            percent_decode("plain"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn classes_and_token_compare() {
        assert!(is_token(b'~') && !is_token(b'@') && !is_token(b' '));
        assert!(is_word(b'}') && !is_word(b' '));
        assert_eq!(check_escaped("a%41b", USER), Ok(()));
        assert_eq!(check_escaped("a%4", USER), Err(1));
    }

    #[test]
    fn long_runs_equal_byte_runs() {
        let text = b"z9hG4bK-524287-1---77a4c1b8e1d0b3c2;rport abc[::1]:5060 \"q\"";
        for from in 0..text.len() {
            for to in from..=text.len() {
                let s = &text[from..to];
                for mask in [TOKEN, GEN_VALUE, LWS, DIGIT] {
                    assert_eq!(run_long(s, mask), run(s, mask), "{s:?} {mask}");
                }
            }
        }
    }

    #[test]
    fn offsets_of_subslices() {
        let buf = b"hello world";
        assert_eq!(offset_in(buf, &buf[6..]), Some(6));
        assert_eq!(offset_in(buf, b"other"), None);
    }
}
