//! The hot path: one pass over the header section with memchr, building the fixed-capacity
//! header index. Shared by datagram parsing, stream parsing and TCP framing, so all three read
//! a message the same way. Reports "need more bytes" separately from "invalid".

use crate::header::{Header, HeaderKind, KIND_COUNT};
use crate::start_line::StartLine;
use crate::Error;

/// Maximum number of header lines a message may have (the index is inline, no heap).
pub const MAX_HEADERS: usize = 64;

/// Largest Content-Length accepted (bodies are further bounded by the datagram or frame).
const MAX_CONTENT_LENGTH: usize = u32::MAX as usize;

const NONE: u8 = u8::MAX;

/// Fixed-capacity, in-order header index.
#[derive(Debug, Clone)]
pub(crate) struct Index<'a> {
    list: [Header<'a>; MAX_HEADERS],
    len: usize,
    first: [u8; KIND_COUNT],
    /// Per kind, the last header pushed (to link it to the next one of its kind).
    last: [u8; KIND_COUNT],
    /// Per header, the next header of the same kind ([`NONE`] at the end): list readers
    /// jump between the Vias, the PAIs, ... instead of testing every header.
    next_same: [u8; MAX_HEADERS],
}

impl<'a> Index<'a> {
    /// An empty index as a constant: building a message copies it in place instead of
    /// running an initialisation loop and then moving the result.
    pub(crate) const EMPTY: Index<'static> = Index {
        list: [Header::EMPTY; MAX_HEADERS],
        len: 0,
        first: [NONE; KIND_COUNT],
        last: [NONE; KIND_COUNT],
        next_same: [NONE; MAX_HEADERS],
    };

    #[inline(always)]
    pub(crate) fn new() -> Self {
        Self::EMPTY
    }

    /// Index of the next header of the same kind after header `i`, if any.
    pub(crate) fn next_same(&self, i: usize) -> Option<usize> {
        match self.next_same.get(i) {
            Some(&NONE) | None => None,
            Some(&j) => Some(usize::from(j)),
        }
    }

    pub(crate) fn as_slice(&self) -> &[Header<'a>] {
        self.list.get(..self.len).unwrap_or(&[])
    }

    /// Index of the first header of `kind`, if any.
    pub(crate) fn first(&self, kind: HeaderKind) -> Option<usize> {
        match self.first.get(kind as usize) {
            Some(&NONE) | None => None,
            Some(&i) => Some(usize::from(i)),
        }
    }

    #[inline(always)]
    fn push(&mut self, h: Header<'a>, offset: usize) -> Result<(), Error> {
        let slot = self.list.get_mut(self.len).ok_or(Error::TooManyHeaders {
            max: MAX_HEADERS,
            offset,
        })?;
        *slot = h;
        let me = u8::try_from(self.len).unwrap_or(NONE);
        if let Some(f) = self.first.get_mut(h.kind as usize) {
            if *f == NONE {
                *f = me;
            } else if h.kind.is_single_valued() {
                return Err(Error::DuplicateHeader {
                    name: h.kind.canonical_name(),
                    offset,
                });
            }
        }
        if let Some(last) = self.last.get_mut(h.kind as usize) {
            if let Some(link) = self.next_same.get_mut(usize::from(*last)) {
                *link = me;
            }
            *last = me;
        }
        self.len += 1;
        Ok(())
    }
}

/// Why a scan stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The bytes so far are a valid prefix; more are needed.
    Incomplete,
    /// The bytes are not a SIP message.
    Invalid(Error),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Stop {
        Stop::Invalid(e)
    }
}

/// What a successful scan found.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Head<'a> {
    pub(crate) start: StartLine<'a>,
    /// Offset of the first body byte (just after the empty line).
    pub(crate) body_start: usize,
    pub(crate) content_length: Option<usize>,
}

/// Position of the CR of the next CRLF at or after `from`. Bare CR or LF is invalid.
#[inline]
fn line_end(buf: &[u8], from: usize) -> Result<usize, Stop> {
    let hay = buf.get(from..).ok_or(Stop::Incomplete)?;
    let i = memchr::memchr2(b'\r', b'\n', hay).ok_or(Stop::Incomplete)?;
    let p = from + i;
    if hay.get(i) == Some(&b'\n') {
        return Err(Stop::Invalid(Error::BareLineEnd { offset: p }));
    }
    match buf.get(p + 1) {
        None => Err(Stop::Incomplete),
        Some(b'\n') => Ok(p),
        Some(_) => Err(Stop::Invalid(Error::BareLineEnd { offset: p })),
    }
}

#[inline]
fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

#[inline(always)]
fn trim_lws(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if crate::lex::is_lws(*first) {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if crate::lex::is_lws(*last) {
            s = rest;
        } else {
            break;
        }
    }
    s
}

fn parse_content_length(v: &[u8], offset: usize) -> Result<usize, Error> {
    if v.is_empty() || v.len() > 10 {
        return Err(Error::InvalidContentLength { offset });
    }
    let mut n: usize = 0;
    for &c in v {
        let d = c
            .checked_sub(b'0')
            .filter(|d| *d <= 9)
            .ok_or(Error::InvalidContentLength { offset })?;
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(usize::from(d)))
            .ok_or(Error::InvalidContentLength { offset })?;
    }
    if n > MAX_CONTENT_LENGTH {
        return Err(Error::InvalidContentLength { offset });
    }
    Ok(n)
}

/// A start line still being received is checked as far as it goes, so garbage never waits.
fn check_partial_start_line(buf: &[u8]) -> Stop {
    match buf.first() {
        Some(&c) if !crate::lex::is_token(c) => {
            return Stop::Invalid(Error::InvalidStartLine {
                offset: 0,
                what: "does not start with a method or SIP-Version",
            })
        }
        _ => {}
    }
    match buf
        .iter()
        .position(|&c| (c < 0x20 && c != b'\t' && c != b'\r') || c == 0x7f)
    {
        Some(offset) => Stop::Invalid(Error::InvalidStartLine {
            offset,
            what: "control character",
        }),
        None => Stop::Incomplete,
    }
}

/// Scans the start line and header section of `buf` into `index`.
pub(crate) fn scan<'a>(buf: &'a [u8], index: &mut Index<'a>) -> Result<Head<'a>, Stop> {
    let first_end = match line_end(buf, 0) {
        Ok(e) => e,
        Err(Stop::Incomplete) => return Err(check_partial_start_line(buf)),
        Err(e) => return Err(e),
    };
    if first_end == 0 {
        return Err(Stop::Invalid(Error::InvalidStartLine {
            offset: 0,
            what: "empty start line",
        }));
    }
    let start = StartLine::parse(buf.get(..first_end).unwrap_or(b""))?;
    let mut pos = first_end + 2;
    let mut content_length = None;
    loop {
        match buf.get(pos) {
            None => return Err(Stop::Incomplete),
            Some(b'\r') => match buf.get(pos + 1) {
                None => return Err(Stop::Incomplete),
                Some(b'\n') => {
                    return Ok(Head {
                        start,
                        body_start: pos + 2,
                        content_length,
                    });
                }
                Some(_) => return Err(Stop::Invalid(Error::BareLineEnd { offset: pos })),
            },
            Some(_) => {}
        }
        let rest = buf.get(pos..).unwrap_or(b"");
        let name_len = rest
            .iter()
            .take_while(|&&c| crate::lex::is_token(c))
            .count();
        if name_len == 0 {
            return Err(Stop::Invalid(Error::InvalidHeaderName { offset: pos }));
        }
        let mut p = pos + name_len;
        while buf.get(p).is_some_and(|&c| is_blank(c)) {
            p += 1;
        }
        match buf.get(p) {
            None => return Err(Stop::Incomplete),
            Some(b':') => p += 1,
            Some(_) => return Err(Stop::Invalid(Error::InvalidHeaderName { offset: p })),
        }
        let name = buf.get(pos..pos + name_len).unwrap_or(b"");
        let kind = HeaderKind::from_token(name);
        if kind.is_single_valued() && index.first(kind).is_some() {
            return Err(Stop::Invalid(Error::DuplicateHeader {
                name: kind.canonical_name(),
                offset: pos,
            }));
        }
        // Logical line end: CRLF not followed by a blank (a blank after CRLF is a fold).
        let mut q = p;
        let cr = loop {
            let cr = line_end(buf, q)?;
            match buf.get(cr + 2) {
                None => {
                    // Whether the value is folded is not known yet, but a Content-Length
                    // that is already not a number will never become one.
                    let partial = buf.get(p..cr).unwrap_or(b"");
                    if kind == HeaderKind::ContentLength
                        && !partial
                            .iter()
                            .all(|&c| c.is_ascii_digit() || crate::lex::is_lws(c))
                    {
                        return Err(Stop::Invalid(Error::InvalidContentLength { offset: p }));
                    }
                    return Err(Stop::Incomplete);
                }
                Some(&c) if is_blank(c) => q = cr + 3,
                Some(_) => break cr,
            }
        };
        let value = trim_lws(buf.get(p..cr).unwrap_or(b""));
        let end = u32::try_from(cr + 2).map_err(|_| Error::TooLarge {
            len: cr + 2,
            max: u32::MAX as usize,
        })?;
        index.push(
            Header {
                name,
                value,
                kind,
                end,
            },
            pos,
        )?;
        if kind == HeaderKind::ContentLength {
            content_length = Some(parse_content_length(value, p)?);
        }
        pos = cr + 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(buf: &[u8]) -> Result<(Head<'_>, usize), Stop> {
        let mut idx = Index::new();
        let h = scan(buf, &mut idx)?;
        Ok((h, idx.as_slice().len()))
    }

    #[test]
    fn folded_values_and_blank_before_colon() {
        let m = b"OPTIONS sip:a@b SIP/2.0\r\nTO :\r\n sip:x@y\r\nSubject:\r\nl: 0\r\n\r\n";
        let mut idx = Index::new();
        let h = scan(m, &mut idx).unwrap();
        assert_eq!(h.content_length, Some(0));
        assert_eq!(h.body_start, m.len());
        let hs = idx.as_slice();
        assert_eq!(hs.len(), 3);
        assert_eq!(hs[0].kind, HeaderKind::To);
        assert_eq!(hs[0].value, b"sip:x@y");
        assert_eq!(hs[1].value, b"");
    }

    #[test]
    fn incomplete_versus_invalid() {
        assert_eq!(
            run(b"INVITE sip:a@b SIP/2.0\r\nVia: x").unwrap_err(),
            Stop::Incomplete
        );
        assert_eq!(
            run(b"INVITE sip:a@b SIP/2.0\r\nVia: x\r\n").unwrap_err(),
            Stop::Incomplete
        );
        assert_eq!(
            run(b"INVITE sip:a@b SIP/2.0\r\nVia: x\r").unwrap_err(),
            Stop::Incomplete
        );
        assert_eq!(run(b"INVI").unwrap_err(), Stop::Incomplete);
        assert!(matches!(run(b"\x00INVITE").unwrap_err(), Stop::Invalid(_)));
        assert!(matches!(
            run(b"INVITE sip:a@b SIP/2.0\r\nTo\x01: x\r\n").unwrap_err(),
            Stop::Invalid(Error::InvalidHeaderName { offset: 26 })
        ));
        assert!(matches!(
            run(b"INVITE sip:a@b SIP/2.0\nVia: x").unwrap_err(),
            Stop::Invalid(Error::BareLineEnd { .. })
        ));
        assert!(matches!(
            run(b"INVITE sip:a@b SIP/2.0\r\nVia: x\ry\r\n").unwrap_err(),
            Stop::Invalid(Error::BareLineEnd { .. })
        ));
    }

    #[test]
    fn duplicate_single_valued_headers_are_errors() {
        let m = b"INVITE sip:a@b SIP/2.0\r\nContent-Length: 0\r\nl: 0\r\n\r\n";
        assert!(matches!(
            run(m).unwrap_err(),
            Stop::Invalid(Error::DuplicateHeader {
                name: "Content-Length",
                ..
            })
        ));
        let m = b"INVITE sip:a@b SIP/2.0\r\nFrom: <sip:a@b>\r\nf: <sip:c@d>\r\n\r\n";
        assert!(matches!(
            run(m).unwrap_err(),
            Stop::Invalid(Error::DuplicateHeader { name: "From", .. })
        ));
    }

    #[test]
    fn content_length_must_be_digits() {
        for v in ["-999", "", "1 2", "99999999999", "0x10"] {
            let m = format!("INVITE sip:a@b SIP/2.0\r\nContent-Length: {v}\r\n\r\n");
            assert!(
                matches!(
                    run(m.as_bytes()).unwrap_err(),
                    Stop::Invalid(Error::InvalidContentLength { .. })
                ),
                "{v}"
            );
        }
    }

    #[test]
    fn headers_of_a_kind_are_linked_in_order() {
        let m = b"INVITE sip:a@b SIP/2.0\r\nv: 1\r\nX-A: a\r\nVia: 2\r\nRoute: r\r\nVIA: 3\r\nX-A: b\r\n\r\n";
        let mut idx = Index::new();
        scan(m, &mut idx).unwrap();
        let mut vias = Vec::new();
        let mut next = idx.first(HeaderKind::Via);
        while let Some(i) = next {
            vias.push(idx.as_slice()[i].value);
            next = idx.next_same(i);
        }
        assert_eq!(vias, [&b"1"[..], b"2", b"3"]);
        assert_eq!(idx.first(HeaderKind::Other), Some(1));
        assert_eq!(idx.next_same(1), Some(5));
        assert_eq!(idx.next_same(5), None);
        assert_eq!(idx.first(HeaderKind::Route), Some(3));
        assert_eq!(idx.next_same(3), None);
        assert_eq!(idx.first(HeaderKind::From), None);
    }

    #[test]
    fn too_many_headers_is_bounded() {
        let mut m = String::from("INVITE sip:a@b SIP/2.0\r\n");
        for i in 0..=MAX_HEADERS {
            m.push_str(&format!("X-{i}: v\r\n"));
        }
        m.push_str("\r\n");
        assert!(matches!(
            run(m.as_bytes()).unwrap_err(),
            Stop::Invalid(Error::TooManyHeaders { .. })
        ));
    }
}
