//! `Message<'a>`: a parsed SIP request or response borrowing its input, with lazily parsed
//! typed accessors.

use std::cell::OnceCell;

use crate::header::{Header, HeaderKind};
use crate::lex::{offset_in, utf8, CommaSplit, Fail};
use crate::name_addr::NameAddr;
use crate::scan::{scan, Index, Stop};
use crate::start_line::{Method, StartLine};
use crate::uri::Uri;
use crate::values::{parse_call_id, parse_max_forwards, CSeq, Contact, MediaType};
use crate::via::Via;
use crate::Error;

/// A parsed SIP message. Every slice points into the input buffer; the header index is an
/// inline array for up to 64 header lines (moved to the heap once beyond, up to
/// [`crate::MAX_HEADERS`]), so parsing a typical message performs no heap allocation.
///
/// The message starts at its start line: CRLFs (or bare LFs) a datagram carries before it
/// are skipped and are not part of [`Message::as_bytes`], so the writers, which splice from
/// the message bytes, never forward them. Byte offsets (in errors, [`Message::body_offset`])
/// count from the start line.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    bytes: &'a [u8],
    start: StartLine<'a>,
    index: Index<'a>,
    body_start: usize,
    content_length: Option<usize>,
    /// The first From, To and Via as parsed the first time they were asked for: a proxy
    /// reads each several times per message (validation, the stateless branch, ingest,
    /// the writers), and parsing them again each time was a fifth of its work.
    parsed: Parsed<'a>,
}

/// Headers parsed once per message (see [`Message`]).
#[derive(Debug, Clone, Default)]
struct Parsed<'a> {
    from: OnceCell<Result<NameAddr<'a>, Error>>,
    to: OnceCell<Result<NameAddr<'a>, Error>>,
    top_via: OnceCell<Result<Via<'a>, Error>>,
}

impl<'a> Message<'a> {
    /// Parses one UDP datagram (RFC 3261 §18.3): the body is exactly Content-Length bytes;
    /// extra octets after it are ignored (see [`Message::trailing_len`]); fewer is an error;
    /// without Content-Length the body is the rest of the datagram.
    ///
    /// CRLFs (and bare LFs) before the start line are skipped, as RFC 3261 §7.5 asks of
    /// stream transports and cores do on UDP too; the message starts after them. A datagram
    /// of nothing else is [`Error::Empty`] (a CRLF-only one is a keep-alive, [`is_keepalive`]).
    #[inline]
    pub fn parse_datagram(datagram: &'a [u8]) -> Result<Message<'a>, Error> {
        if datagram.is_empty() || is_keepalive(datagram) {
            return Err(Error::Empty);
        }
        let datagram = skip_leading_line_ends(datagram);
        if datagram.is_empty() {
            return Err(Error::Empty);
        }
        // Built in place: the inline index is large, so avoid moving it after the scan.
        let mut msg = Message {
            bytes: datagram,
            start: StartLine::Response {
                version: "",
                code: 0,
                reason: b"",
            },
            index: Index::EMPTY,
            body_start: 0,
            content_length: None,
            parsed: Parsed::default(),
        };
        let head = scan(datagram, &mut msg.index).map_err(|s| stop_to_error(s, datagram.len()))?;
        let available = datagram.len() - head.body_start;
        let len = match head.content_length {
            Some(cl) if cl > available => {
                return Err(Error::BodyTruncated {
                    expected: cl,
                    available,
                })
            }
            Some(cl) => head.body_start + cl,
            None => datagram.len(),
        };
        msg.bytes = datagram.get(..len).unwrap_or(datagram);
        msg.start = head.start;
        msg.body_start = head.body_start;
        msg.content_length = head.content_length;
        Ok(msg)
    }

    /// Parses a datagram whose body may be shorter than its Content-Length, for one purpose
    /// only: to answer it (400) when [`Message::parse_datagram`] refused it with
    /// [`Error::BodyTruncated`]. The body is what the datagram holds; never forward it.
    /// Leading CRLFs are skipped as in [`Message::parse_datagram`].
    pub fn parse_for_answer(datagram: &'a [u8]) -> Result<Message<'a>, Error> {
        if datagram.is_empty() || is_keepalive(datagram) {
            return Err(Error::Empty);
        }
        let datagram = skip_leading_line_ends(datagram);
        if datagram.is_empty() {
            return Err(Error::Empty);
        }
        let mut msg = Message {
            bytes: datagram,
            start: StartLine::Response {
                version: "",
                code: 0,
                reason: b"",
            },
            index: Index::EMPTY,
            body_start: 0,
            content_length: None,
            parsed: Parsed::default(),
        };
        let head = scan(datagram, &mut msg.index).map_err(|s| stop_to_error(s, datagram.len()))?;
        msg.start = head.start;
        msg.body_start = head.body_start;
        msg.content_length = head.content_length;
        Ok(msg)
    }

    /// Parses the message at the start of a stream buffer (typically the `len` bytes that
    /// [`crate::frame`] reported complete). Content-Length is mandatory on streams; bytes
    /// after the body belong to the next message and are not part of this one. The buffer
    /// must start with the start line: CRLFs between stream messages are keep-alives that
    /// [`crate::frame`] reports (and the reader consumes) separately, so that the length of
    /// a message is exactly what the reader consumes.
    pub fn parse_stream(buf: &'a [u8]) -> Result<Message<'a>, Error> {
        if buf.is_empty() {
            return Err(Error::Empty);
        }
        // Built in place, as in `parse_datagram`.
        let mut msg = Message {
            bytes: buf,
            start: StartLine::Response {
                version: "",
                code: 0,
                reason: b"",
            },
            index: Index::EMPTY,
            body_start: 0,
            content_length: None,
            parsed: Parsed::default(),
        };
        let head = scan(buf, &mut msg.index).map_err(|s| stop_to_error(s, buf.len()))?;
        let cl = head.content_length.ok_or(Error::MissingContentLength {
            offset: head.body_start,
        })?;
        let available = buf.len() - head.body_start;
        if cl > available {
            return Err(Error::BodyTruncated {
                expected: cl,
                available,
            });
        }
        msg.bytes = buf.get(..head.body_start + cl).unwrap_or(buf);
        msg.start = head.start;
        msg.body_start = head.body_start;
        msg.content_length = Some(cl);
        Ok(msg)
    }

    /// The message bytes: start line through the end of the body (CRLFs before the start line
    /// and datagram trailing octets excluded). The writers splice from these bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Length of the message in bytes (what a stream reader consumes).
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Always false: a parsed message has at least a start line.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The start line.
    pub fn start_line(&self) -> &StartLine<'a> {
        &self.start
    }

    /// Whether this is a request.
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    /// The request method (`None` for a response).
    pub fn method(&self) -> Option<Method<'a>> {
        match self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The Request-URI (`None` for a response): the callee as the network routes it.
    pub fn request_uri(&self) -> Option<&Uri<'a>> {
        match &self.start {
            StartLine::Request { uri, .. } => Some(uri),
            StartLine::Response { .. } => None,
        }
    }

    /// The status code (`None` for a request).
    pub fn status_code(&self) -> Option<u16> {
        match self.start {
            StartLine::Response { code, .. } => Some(code),
            StartLine::Request { .. } => None,
        }
    }

    /// The reason phrase of a response (`None` for a request).
    pub fn reason_phrase(&self) -> Option<&'a [u8]> {
        match self.start {
            StartLine::Response { reason, .. } => Some(reason),
            StartLine::Request { .. } => None,
        }
    }

    /// Every header line in order.
    pub fn headers(&self) -> &[Header<'a>] {
        self.index.as_slice()
    }

    /// The first header of `kind`.
    pub fn header(&self, kind: HeaderKind) -> Option<&Header<'a>> {
        self.index.first(kind).and_then(|i| self.headers().get(i))
    }

    /// All headers of `kind`, in order.
    pub fn headers_of(&self, kind: HeaderKind) -> impl Iterator<Item = &Header<'a>> + '_ {
        let mut next = self.index.first(kind);
        std::iter::from_fn(move || {
            let i = next?;
            next = self.index.next_same(i);
            self.headers().get(i)
        })
    }

    /// All headers with this name (ASCII case-insensitive, exact name: compact forms of known
    /// headers are not folded here; use [`Message::headers_of`] for those).
    pub fn headers_named<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s Header<'a>> + 's {
        self.headers()
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name.as_bytes()))
    }

    /// The body: exactly Content-Length bytes (or the rest of the datagram without one).
    pub fn body(&self) -> &'a [u8] {
        self.bytes.get(self.body_start..).unwrap_or(b"")
    }

    /// Offset in [`Message::as_bytes`] of the first body byte: one past the empty line
    /// (CRLF or LF) ending the header section.
    pub fn body_offset(&self) -> usize {
        self.body_start
    }

    /// The Content-Length value, if the header is present.
    pub fn content_length(&self) -> Option<usize> {
        self.content_length
    }

    /// Offset of a slice of this message's bytes (for error reporting and splicing).
    pub(crate) fn offset_of(&self, s: &[u8]) -> usize {
        offset_in(self.bytes, s).unwrap_or(0)
    }

    fn single<T>(
        &self,
        kind: HeaderKind,
        parse: impl FnOnce(&'a str) -> Result<T, Fail>,
    ) -> Result<Option<T>, Error> {
        let Some(h) = self.header(kind) else {
            return Ok(None);
        };
        let name = kind.canonical_name();
        let at = self.offset_of(h.value);
        let s = std::str::from_utf8(h.value).map_err(|e| Error::InvalidHeader {
            name,
            offset: at + e.valid_up_to(),
            what: "not UTF-8",
        })?;
        parse(s).map(Some).map_err(|f| Error::InvalidHeader {
            name,
            offset: at + f.at,
            what: f.what,
        })
    }

    fn required<T>(
        &self,
        kind: HeaderKind,
        parse: impl FnOnce(&'a str) -> Result<T, Fail>,
    ) -> Result<T, Error> {
        self.single(kind, parse)?.ok_or(Error::MissingHeader {
            name: kind.canonical_name(),
        })
    }

    /// The values of every header of `kind`, comma lists split when `split`, each parsed
    /// from its bytes (the parser decides what must be UTF-8).
    fn list<T>(
        &self,
        kind: HeaderKind,
        split: bool,
        parse: fn(&'a [u8]) -> Result<T, Fail>,
    ) -> ListIter<'_, 'a, T> {
        ListIter {
            msg: self,
            kind,
            split,
            next_header: self.index.first(kind).unwrap_or(usize::MAX),
            current: None,
            parse,
        }
    }

    /// The first header of `kind` (cores read the first of repeated From/To) as an address.
    fn address(&self, kind: HeaderKind) -> Result<NameAddr<'a>, Error> {
        self.list(kind, false, NameAddr::parse_bytes_inner)
            .next()
            .unwrap_or(Err(Error::MissingHeader {
                name: kind.canonical_name(),
            }))
    }

    /// The From header (the caller as the originating UA claims it). When From is repeated,
    /// the first one, as cores read it; [`Message::from_all`] gives every one. The display
    /// name may hold octets that are not UTF-8 (GBK); the URI and parameters must be UTF-8.
    pub fn from(&self) -> Result<NameAddr<'a>, Error> {
        *self
            .parsed
            .from
            .get_or_init(|| self.address(HeaderKind::From))
    }

    /// Every From header in order, one value per header line (From is not a comma list).
    /// More than one only when the sender repeated From: check every identity, since a
    /// core reads the first and a handset or a later hop may show another.
    pub fn from_all(&self) -> ListIter<'_, 'a, NameAddr<'a>> {
        self.list(HeaderKind::From, false, NameAddr::parse_bytes_inner)
    }

    /// The To header (the callee as originally addressed); the first one when repeated, as
    /// for [`Message::from`].
    pub fn to(&self) -> Result<NameAddr<'a>, Error> {
        *self.parsed.to.get_or_init(|| self.address(HeaderKind::To))
    }

    /// Every To header in order, one value per header line (see [`Message::from_all`]).
    pub fn to_all(&self) -> ListIter<'_, 'a, NameAddr<'a>> {
        self.list(HeaderKind::To, false, NameAddr::parse_bytes_inner)
    }

    /// The Call-ID.
    pub fn call_id(&self) -> Result<&'a str, Error> {
        self.required(HeaderKind::CallId, parse_call_id)
    }

    /// The CSeq.
    pub fn cseq(&self) -> Result<CSeq<'a>, Error> {
        self.required(HeaderKind::CSeq, CSeq::parse_inner)
    }

    /// Max-Forwards, `None` when absent (RFC 2543 peers omit it).
    pub fn max_forwards(&self) -> Result<Option<u8>, Error> {
        self.single(HeaderKind::MaxForwards, parse_max_forwards)
    }

    /// Content-Type, `None` when absent.
    pub fn content_type(&self) -> Result<Option<MediaType<'a>>, Error> {
        self.single(HeaderKind::ContentType, MediaType::parse_inner)
    }

    /// User-Agent as written, `None` when absent.
    pub fn user_agent(&self) -> Result<Option<&'a str>, Error> {
        self.single(HeaderKind::UserAgent, |s| Ok(crate::lex::trim(s)))
    }

    /// Every Via value in order (comma lists split), top first.
    pub fn vias(&self) -> ListIter<'_, 'a, Via<'a>> {
        self.list(HeaderKind::Via, true, via_bytes)
    }

    /// The top Via value.
    pub fn top_via(&self) -> Result<Via<'a>, Error> {
        *self.parsed.top_via.get_or_init(|| {
            self.vias()
                .next()
                .unwrap_or(Err(Error::MissingHeader { name: "Via" }))
        })
    }

    /// Every P-Asserted-Identity value (RFC 3325): the caller identity asserted by the network.
    pub fn p_asserted_identities(&self) -> ListIter<'_, 'a, NameAddr<'a>> {
        self.list(
            HeaderKind::PAssertedIdentity,
            true,
            NameAddr::parse_bytes_inner,
        )
    }

    /// Every Diversion value (RFC 5806), most recent diversion first.
    pub fn diversions(&self) -> ListIter<'_, 'a, NameAddr<'a>> {
        self.list(HeaderKind::Diversion, true, NameAddr::parse_bytes_inner)
    }

    /// Every History-Info value (RFC 7044) in order; `index` etc. are in the params.
    pub fn history_info(&self) -> ListIter<'_, 'a, NameAddr<'a>> {
        self.list(HeaderKind::HistoryInfo, true, NameAddr::parse_bytes_inner)
    }

    /// Every Contact value.
    pub fn contacts(&self) -> ListIter<'_, 'a, Contact<'a>> {
        self.list(HeaderKind::Contact, true, Contact::parse_bytes_inner)
    }

    /// Every Route value.
    pub fn routes(&self) -> ListIter<'_, 'a, NameAddr<'a>> {
        self.list(HeaderKind::Route, true, NameAddr::parse_bytes_inner)
    }

    /// Every Record-Route value.
    pub fn record_routes(&self) -> ListIter<'_, 'a, NameAddr<'a>> {
        self.list(HeaderKind::RecordRoute, true, NameAddr::parse_bytes_inner)
    }

    /// The caller identity to check: the first P-Asserted-Identity if present (network
    /// asserted), else From.
    pub fn caller(&self) -> Result<NameAddr<'a>, Error> {
        match self.p_asserted_identities().next() {
            Some(pai) => pai,
            None => self.from(),
        }
    }

    /// The originally called party of a forwarded call: the last (oldest) Diversion entry,
    /// else the first History-Info entry when there are at least two. `None` when the call
    /// was not diverted.
    pub fn original_callee(&self) -> Option<Result<NameAddr<'a>, Error>> {
        if let Some(last) = self.diversions().last() {
            return Some(last);
        }
        let mut hi = self.history_info();
        let first = hi.next()?;
        hi.next().map(|_| first)
    }

    /// Semantic checks a proxy applies before acting on a message (beyond syntax): version
    /// 2.0 (else 505), Via/From/To/Call-ID/CSeq present and well-formed (every From and To
    /// when repeated: an identity the gateway cannot read is not let through), CSeq method
    /// equal to the request method, Max-Forwards/Contact/Content-Type well-formed. The Date
    /// header is not checked (RFC 4475 §3.1.2.12 allows ignoring a Date that is not used;
    /// cores accept any time zone). [`Error::status_code`] gives the response to send.
    pub fn validate(&self) -> Result<(), Error> {
        if !self.start.version().eq_ignore_ascii_case("SIP/2.0") {
            return Err(Error::UnsupportedVersion { offset: 0 });
        }
        // The first of each is parsed through its cached accessor, the others here.
        self.top_via()?;
        for v in self.vias().skip(1) {
            v?;
        }
        self.from()?;
        self.to()?;
        for kind in [HeaderKind::From, HeaderKind::To] {
            for a in self.list(kind, false, NameAddr::parse_bytes_inner).skip(1) {
                a?;
            }
        }
        self.call_id()?;
        let cseq = self.cseq()?;
        if let Some(m) = self.method() {
            if cseq.method != m.as_str() {
                let at = self
                    .header(HeaderKind::CSeq)
                    .map_or(0, |h| self.offset_of(h.value));
                return Err(Error::CSeqMethodMismatch { offset: at });
            }
            self.max_forwards()?;
            for c in self.contacts() {
                c?;
            }
        }
        self.content_type()?;
        Ok(())
    }

    /// Bytes of the datagram after the message (ignored per RFC 3261 §18.3), given the
    /// datagram it was parsed from. CRLFs skipped before the start line are not trailing.
    pub fn trailing_len(&self, datagram: &[u8]) -> usize {
        match offset_in(datagram, self.bytes) {
            Some(start) => datagram.len() - start - self.bytes.len(),
            None => datagram.len().saturating_sub(self.bytes.len()),
        }
    }

    /// Bytes of the datagram before the start line (the CRLFs or LFs
    /// [`Message::parse_datagram`] skipped), given the datagram it was parsed from.
    pub fn leading_len(&self, datagram: &[u8]) -> usize {
        offset_in(datagram, self.bytes).unwrap_or(0)
    }
}

/// Whether `buf` is only CRLF keep-alives (RFC 5626 §3.5.1: `CRLFCRLF` ping, `CRLF` pong).
pub fn is_keepalive(buf: &[u8]) -> bool {
    !buf.is_empty() && buf.chunks(2).all(|c| c == b"\r\n")
}

/// `buf` after the CRLFs and bare LFs before its start line. A bare CR stays (and is refused
/// by the scan).
fn skip_leading_line_ends(mut buf: &[u8]) -> &[u8] {
    loop {
        match buf {
            [b'\r', b'\n', rest @ ..] | [b'\n', rest @ ..] => buf = rest,
            _ => return buf,
        }
    }
}

/// A Via element: Via values must be UTF-8.
fn via_bytes(b: &[u8]) -> Result<Via<'_>, Fail> {
    Via::parse_inner(utf8(b)?)
}

fn stop_to_error(s: Stop, len: usize) -> Error {
    match s {
        Stop::Incomplete => Error::Truncated { offset: len },
        Stop::Invalid(e) => e,
    }
}

/// Iterator over the values of every header of one kind (comma-separated lists split, for
/// the kinds that are lists), each parsed lazily.
pub struct ListIter<'m, 'a, T> {
    msg: &'m Message<'a>,
    kind: HeaderKind,
    split: bool,
    next_header: usize,
    current: Option<CommaSplit<'a>>,
    parse: fn(&'a [u8]) -> Result<T, Fail>,
}

impl<T> std::fmt::Debug for ListIter<'_, '_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListIter")
            .field("kind", &self.kind)
            .field("next_header", &self.next_header)
            .finish()
    }
}

impl<'a, T> ListIter<'_, 'a, T> {
    fn parse_at(&self, elem: &'a [u8]) -> Result<T, Error> {
        let at = self.msg.offset_of(elem);
        (self.parse)(elem).map_err(|f| Error::InvalidHeader {
            name: self.kind.canonical_name(),
            offset: at + f.at,
            what: f.what,
        })
    }
}

impl<'a, T> Iterator for ListIter<'_, 'a, T> {
    type Item = Result<T, Error>;
    fn next(&mut self) -> Option<Result<T, Error>> {
        loop {
            if let Some(split) = self.current.as_mut() {
                if let Some(elem) = split.next() {
                    return Some(self.parse_at(elem));
                }
                self.current = None;
            }
            let i = self.next_header;
            let header = self.msg.headers().get(i)?;
            self.next_header = self.msg.index.next_same(i).unwrap_or(usize::MAX);
            if !self.split {
                return Some(self.parse_at(header.value));
            }
            self.current = Some(CommaSplit::new(header.value));
        }
    }
}
