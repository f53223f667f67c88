//! The hot path: one pass over the header section with memchr, building the header index.
//! Shared by datagram parsing, stream parsing and TCP framing, so all three read a message
//! the same way. Reports "need more bytes" separately from "invalid".
//!
//! Lines end in CRLF or a bare LF (RFC 3261 §7.5: implementations should accept LF alone,
//! and cores do); a bare CR is invalid. The index holds [`INLINE_HEADERS`] headers inline
//! and moves to the heap only for longer header sections, up to [`MAX_HEADERS`].

use crate::header::{Header, HeaderKind, KIND_COUNT};
use crate::start_line::StartLine;
use crate::Error;

/// Maximum number of header lines a message may have; more is [`Error::TooManyHeaders`].
/// The first 64 are indexed inline (no heap); a longer header section (carrier traffic with
/// long Record-Route, Via and History-Info chains) moves the index to the heap once, sized
/// for [`MAX_HEADERS`] (two allocations, about 10 KB).
pub const MAX_HEADERS: usize = 256;

/// Header lines indexed inline, without heap allocation.
pub(crate) const INLINE_HEADERS: usize = 64;

/// Largest Content-Length accepted (bodies are further bounded by the datagram or frame).
const MAX_CONTENT_LENGTH: usize = u32::MAX as usize;

/// "No header" in the per-kind links (header positions are below [`MAX_HEADERS`]).
const NONE: u16 = u16::MAX;

/// In-order header index: inline up to [`INLINE_HEADERS`], then on the heap.
#[derive(Debug, Clone)]
pub(crate) struct Index<'a> {
    list: [Header<'a>; INLINE_HEADERS],
    /// Per header, the next header of the same kind ([`NONE`] at the end): list readers
    /// jump between the Vias, the PAIs, ... instead of testing every header.
    next_same: [u16; INLINE_HEADERS],
    len: usize,
    first: [u16; KIND_COUNT],
    /// Per kind, the last header pushed (to link it to the next one of its kind).
    last: [u16; KIND_COUNT],
    /// Beyond [`INLINE_HEADERS`] every header (the inline ones copied first) and its link
    /// live here; empty (and unallocated) otherwise.
    spill: Vec<Header<'a>>,
    spill_next: Vec<u16>,
}

impl<'a> Index<'a> {
    /// An empty index as a constant: building a message copies it in place instead of
    /// running an initialisation loop and then moving the result.
    pub(crate) const EMPTY: Index<'static> = Index {
        list: [Header::EMPTY; INLINE_HEADERS],
        next_same: [NONE; INLINE_HEADERS],
        len: 0,
        first: [NONE; KIND_COUNT],
        last: [NONE; KIND_COUNT],
        spill: Vec::new(),
        spill_next: Vec::new(),
    };

    #[inline(always)]
    pub(crate) fn new() -> Self {
        Self::EMPTY
    }

    /// Whether the index has moved to the heap (only beyond [`INLINE_HEADERS`] headers).
    fn spilled(&self) -> bool {
        !self.spill.is_empty()
    }

    /// Index of the next header of the same kind after header `i`, if any.
    pub(crate) fn next_same(&self, i: usize) -> Option<usize> {
        let links: &[u16] = if self.spilled() {
            &self.spill_next
        } else {
            &self.next_same
        };
        match links.get(i) {
            Some(&NONE) | None => None,
            Some(&j) => Some(usize::from(j)),
        }
    }

    pub(crate) fn as_slice(&self) -> &[Header<'a>] {
        if self.spilled() {
            &self.spill
        } else {
            self.list.get(..self.len).unwrap_or(&[])
        }
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
        let too_many = Error::TooManyHeaders {
            max: MAX_HEADERS,
            offset,
        };
        if self.len >= MAX_HEADERS {
            return Err(too_many);
        }
        let me = u16::try_from(self.len).map_err(|_| too_many)?;
        let heap = self.len >= INLINE_HEADERS;
        if heap && self.spill.is_empty() {
            // Sized once for the most headers a message may have: never reallocated.
            self.spill.reserve_exact(MAX_HEADERS);
            self.spill.extend_from_slice(&self.list);
            self.spill_next.reserve_exact(MAX_HEADERS);
            self.spill_next.extend_from_slice(&self.next_same);
        }
        if let Some(last) = self.last.get_mut(h.kind as usize) {
            let links: &mut [u16] = if heap {
                &mut self.spill_next
            } else {
                &mut self.next_same
            };
            if let Some(link) = links.get_mut(usize::from(*last)) {
                *link = me;
            }
            *last = me;
        }
        if let Some(f) = self.first.get_mut(h.kind as usize) {
            if *f == NONE {
                *f = me;
            }
        }
        if heap {
            self.spill.push(h);
            self.spill_next.push(NONE);
        } else if let Some(slot) = self.list.get_mut(self.len) {
            *slot = h;
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

/// The line starting at `from`: the end of its content and the start of the next line. A
/// line ends in CRLF or a bare LF; a bare CR is invalid.
#[inline]
fn line_end(buf: &[u8], from: usize) -> Result<(usize, usize), Stop> {
    let hay = buf.get(from..).ok_or(Stop::Incomplete)?;
    let i = memchr::memchr2(b'\r', b'\n', hay).ok_or(Stop::Incomplete)?;
    let p = from + i;
    if hay.get(i) == Some(&b'\n') {
        return Ok((p, p + 1));
    }
    match buf.get(p + 1) {
        None => Err(Stop::Incomplete),
        Some(b'\n') => Ok((p, p + 2)),
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
    let (first_end, mut pos) = match line_end(buf, 0) {
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
    let mut content_length = None;
    loop {
        // The empty line: CRLF or a bare LF.
        match buf.get(pos) {
            None => return Err(Stop::Incomplete),
            Some(b'\n') => {
                return Ok(Head {
                    start,
                    body_start: pos + 1,
                    content_length,
                });
            }
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
        if kind.repeat_is_error() && index.first(kind).is_some() {
            return Err(Stop::Invalid(Error::DuplicateHeader {
                name: kind.canonical_name(),
                offset: pos,
            }));
        }
        // Logical line end: a line end not followed by a blank (a blank after it is a fold).
        let mut q = p;
        let (value_end, next) = loop {
            let (end, next) = line_end(buf, q)?;
            match buf.get(next) {
                None => {
                    // Whether the value is folded is not known yet, but a Content-Length
                    // that is already not a number will never become one.
                    let partial = buf.get(p..end).unwrap_or(b"");
                    if kind == HeaderKind::ContentLength
                        && !partial
                            .iter()
                            .all(|&c| c.is_ascii_digit() || crate::lex::is_lws(c))
                    {
                        return Err(Stop::Invalid(Error::InvalidContentLength { offset: p }));
                    }
                    return Err(Stop::Incomplete);
                }
                Some(&c) if is_blank(c) => q = next + 1,
                Some(_) => break (end, next),
            }
        };
        let value = trim_lws(buf.get(p..value_end).unwrap_or(b""));
        let end = u32::try_from(next).map_err(|_| Error::TooLarge {
            len: next,
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
            let n = parse_content_length(value, p)?;
            // A repeat is accepted only when it cannot frame the message differently.
            if content_length.is_some_and(|first| first != n) {
                return Err(Stop::Invalid(Error::DuplicateHeader {
                    name: kind.canonical_name(),
                    offset: pos,
                }));
            }
            content_length = Some(n);
        }
        pos = next;
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
        // A bare LF ends a line; a bare CR does not.
        assert_eq!(
            run(b"INVITE sip:a@b SIP/2.0\nVia: x").unwrap_err(),
            Stop::Incomplete
        );
        assert_eq!(
            run(b"INVITE sip:a@b SIP/2.0\nVia: x\n").unwrap_err(),
            Stop::Incomplete
        );
        assert!(matches!(
            run(b"INVITE sip:a@b SIP/2.0\rVia: x").unwrap_err(),
            Stop::Invalid(Error::BareLineEnd { offset: 22 })
        ));
        assert!(matches!(
            run(b"INVITE sip:a@b SIP/2.0\r\nVia: x\ry\r\n").unwrap_err(),
            Stop::Invalid(Error::BareLineEnd { .. })
        ));
    }

    #[test]
    fn duplicate_headers_that_would_be_read_differently_are_errors() {
        let m = b"INVITE sip:a@b SIP/2.0\r\nContent-Length: 0\r\nl: 1\r\n\r\n";
        assert!(matches!(
            run(m).unwrap_err(),
            Stop::Invalid(Error::DuplicateHeader {
                name: "Content-Length",
                offset: 43
            })
        ));
        for dup in [
            "Call-ID: a\r\ni: a",
            "CSeq: 1 A\r\nCSeq: 1 A",
            "Max-Forwards: 70\r\nMax-Forwards: 70",
            "c: a/b\r\nContent-Type: a/b",
        ] {
            let m = format!("INVITE sip:a@b SIP/2.0\r\n{dup}\r\n\r\n");
            assert!(
                matches!(
                    run(m.as_bytes()).unwrap_err(),
                    Stop::Invalid(Error::DuplicateHeader { .. })
                ),
                "{dup}"
            );
        }
        // Equal Content-Lengths frame the message one way; From and To may repeat.
        let m = b"INVITE sip:a@b SIP/2.0\r\nContent-Length: 0\r\nl: 00\r\nFrom: <sip:a@b>\r\nf: <sip:c@d>\r\nTo: <sip:e@f>\r\nt: <sip:g@h>\r\n\r\n";
        let mut idx = Index::new();
        let h = scan(m, &mut idx).unwrap();
        assert_eq!(h.content_length, Some(0));
        assert_eq!(idx.first(HeaderKind::From), Some(2));
        assert_eq!(idx.next_same(2), Some(3));
    }

    #[test]
    fn lf_line_ends_and_every_form_of_the_empty_line() {
        for (m, end, body_start) in [
            (&b"OPTIONS sip:a@b SIP/2.0\nTo: x\n\nB"[..], 30, 31),
            (b"OPTIONS sip:a@b SIP/2.0\nTo: x\r\n\nB", 31, 32),
            (b"OPTIONS sip:a@b SIP/2.0\r\nTo: x\n\r\nB", 31, 33),
            (b"OPTIONS sip:a@b SIP/2.0\r\nTo: x\r\n\r\nB", 32, 34),
        ] {
            let mut idx = Index::new();
            let h = scan(m, &mut idx).unwrap();
            assert_eq!(h.body_start, body_start, "{m:?}");
            assert_eq!(&m[body_start..], b"B");
            let hs = idx.as_slice();
            assert_eq!((hs.len(), hs[0].value, hs[0].end), (1, &b"x"[..], end));
        }
        // An LF fold continues the value.
        let m = b"OPTIONS sip:a@b SIP/2.0\nSubject: a\n\tb\nl: 0\n\n";
        let mut idx = Index::new();
        let h = scan(m, &mut idx).unwrap();
        assert_eq!(h.body_start, m.len());
        assert_eq!(idx.as_slice()[0].value, b"a\n\tb");
        assert_eq!(idx.as_slice()[0].end, 38);
        assert_eq!(h.content_length, Some(0));
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
            Stop::Invalid(Error::TooManyHeaders {
                max: MAX_HEADERS,
                ..
            })
        ));
    }

    #[test]
    fn the_index_spills_to_the_heap_beyond_the_inline_headers_and_keeps_links() {
        for n in [
            INLINE_HEADERS - 1,
            INLINE_HEADERS,
            INLINE_HEADERS + 1,
            MAX_HEADERS,
        ] {
            let mut m = String::from("INVITE sip:a@b SIP/2.0\r\n");
            for i in 0..n {
                if i % 3 == 0 {
                    m.push_str(&format!("Via: {i}\r\n"));
                } else {
                    m.push_str(&format!("X-{i}: v\r\n"));
                }
            }
            m.push_str("\r\n");
            let mut idx = Index::new();
            scan(m.as_bytes(), &mut idx).unwrap();
            assert_eq!(idx.as_slice().len(), n);
            assert_eq!(idx.spilled(), n > INLINE_HEADERS, "{n}");
            let mut vias = Vec::new();
            let mut next = idx.first(HeaderKind::Via);
            while let Some(i) = next {
                vias.push(idx.as_slice()[i].value.to_vec());
                next = idx.next_same(i);
            }
            let expect: Vec<Vec<u8>> = (0..n)
                .filter(|i| i % 3 == 0)
                .map(|i| i.to_string().into_bytes())
                .collect();
            assert_eq!(vias, expect, "{n}");
            assert_eq!(
                idx.as_slice()[n - 1].kind,
                if (n - 1) % 3 == 0 {
                    HeaderKind::Via
                } else {
                    HeaderKind::Other
                }
            );
        }
    }
}
