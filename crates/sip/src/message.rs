//! `Message<'a>`: a parsed SIP request or response borrowing its input, with lazily parsed
//! typed accessors.

use crate::header::{Header, HeaderKind};
use crate::lex::{offset_in, CommaSplit, Fail};
use crate::name_addr::NameAddr;
use crate::scan::{scan, Index, Stop};
use crate::start_line::{Method, StartLine};
use crate::uri::Uri;
use crate::values::{parse_call_id, parse_max_forwards, CSeq, Contact, MediaType};
use crate::via::Via;
use crate::Error;

/// A parsed SIP message. Every slice points into the input buffer; the header index is an
/// inline array, so parsing a typical message performs no heap allocation.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    bytes: &'a [u8],
    start: StartLine<'a>,
    index: Index<'a>,
    body_start: usize,
    content_length: Option<usize>,
}

impl<'a> Message<'a> {
    /// Parses one UDP datagram (RFC 3261 §18.3): the body is exactly Content-Length bytes;
    /// extra octets after it are ignored (see [`Message::trailing_len`]); fewer is an error;
    /// without Content-Length the body is the rest of the datagram.
    #[inline]
    pub fn parse_datagram(datagram: &'a [u8]) -> Result<Message<'a>, Error> {
        if datagram.is_empty() || is_keepalive(datagram) {
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
    pub fn parse_for_answer(datagram: &'a [u8]) -> Result<Message<'a>, Error> {
        if datagram.is_empty() || is_keepalive(datagram) {
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
        };
        let head = scan(datagram, &mut msg.index).map_err(|s| stop_to_error(s, datagram.len()))?;
        msg.start = head.start;
        msg.body_start = head.body_start;
        msg.content_length = head.content_length;
        Ok(msg)
    }

    /// Parses the message at the start of a stream buffer (typically the `len` bytes that
    /// [`crate::frame`] reported complete). Content-Length is mandatory on streams; bytes
    /// after the body belong to the next message and are not part of this one.
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

    /// The message bytes: start line through the end of the body (datagram trailing octets excluded).
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

    /// Offset of the first body byte (one past the empty line ending the header section).
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

    fn list<T>(
        &self,
        kind: HeaderKind,
        parse: fn(&'a str) -> Result<T, Fail>,
    ) -> ListIter<'_, 'a, T> {
        ListIter {
            msg: self,
            kind,
            next_header: self.index.first(kind).unwrap_or(usize::MAX),
            current: None,
            parse,
        }
    }

    /// The From header (the caller as the originating UA claims it).
    pub fn from(&self) -> Result<NameAddr<'a>, Error> {
        self.required(HeaderKind::From, NameAddr::parse_inner)
    }

    /// The To header (the callee as originally addressed).
    pub fn to(&self) -> Result<NameAddr<'a>, Error> {
        self.required(HeaderKind::To, NameAddr::parse_inner)
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
        self.list(HeaderKind::Via, Via::parse_inner)
    }

    /// The top Via value.
    pub fn top_via(&self) -> Result<Via<'a>, Error> {
        self.vias()
            .next()
            .unwrap_or(Err(Error::MissingHeader { name: "Via" }))
    }

    /// Every P-Asserted-Identity value (RFC 3325): the caller identity asserted by the network.
    pub fn p_asserted_identities(&self) -> ListIter<'_, 'a, NameAddr<'a>> {
        self.list(HeaderKind::PAssertedIdentity, NameAddr::parse_inner)
    }

    /// Every Diversion value (RFC 5806), most recent diversion first.
    pub fn diversions(&self) -> ListIter<'_, 'a, NameAddr<'a>> {
        self.list(HeaderKind::Diversion, NameAddr::parse_inner)
    }

    /// Every History-Info value (RFC 7044) in order; `index` etc. are in the params.
    pub fn history_info(&self) -> ListIter<'_, 'a, NameAddr<'a>> {
        self.list(HeaderKind::HistoryInfo, NameAddr::parse_inner)
    }

    /// Every Contact value.
    pub fn contacts(&self) -> ListIter<'_, 'a, Contact<'a>> {
        self.list(HeaderKind::Contact, Contact::parse_inner)
    }

    /// Every Route value.
    pub fn routes(&self) -> ListIter<'_, 'a, NameAddr<'a>> {
        self.list(HeaderKind::Route, NameAddr::parse_inner)
    }

    /// Every Record-Route value.
    pub fn record_routes(&self) -> ListIter<'_, 'a, NameAddr<'a>> {
        self.list(HeaderKind::RecordRoute, NameAddr::parse_inner)
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
    /// 2.0 (else 505), Via/From/To/Call-ID/CSeq present and well-formed, CSeq method equal to
    /// the request method, Max-Forwards/Contact/Content-Type well-formed, Date in GMT.
    /// [`Error::status_code`] gives the response to send.
    pub fn validate(&self) -> Result<(), Error> {
        if !self.start.version().eq_ignore_ascii_case("SIP/2.0") {
            return Err(Error::UnsupportedVersion { offset: 0 });
        }
        let mut vias = 0usize;
        for v in self.vias() {
            v?;
            vias += 1;
        }
        if vias == 0 {
            return Err(Error::MissingHeader { name: "Via" });
        }
        self.from()?;
        self.to()?;
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
        if let Some(d) = self.header(HeaderKind::Date) {
            if !d.value.ends_with(b" GMT") {
                return Err(Error::InvalidHeader {
                    name: "Date",
                    offset: self.offset_of(d.value),
                    what: "time zone must be GMT",
                });
            }
        }
        Ok(())
    }

    /// Bytes of the datagram after the message (ignored per RFC 3261 §18.3), given the
    /// datagram it was parsed from.
    pub fn trailing_len(&self, datagram: &[u8]) -> usize {
        datagram.len().saturating_sub(self.bytes.len())
    }
}

/// Whether `buf` is only CRLF keep-alives (RFC 5626 §3.5.1: `CRLFCRLF` ping, `CRLF` pong).
pub fn is_keepalive(buf: &[u8]) -> bool {
    !buf.is_empty() && buf.chunks(2).all(|c| c == b"\r\n")
}

fn stop_to_error(s: Stop, len: usize) -> Error {
    match s {
        Stop::Incomplete => Error::Truncated { offset: len },
        Stop::Invalid(e) => e,
    }
}

/// Iterator over the comma-separated values of every header of one kind, each parsed lazily.
pub struct ListIter<'m, 'a, T> {
    msg: &'m Message<'a>,
    kind: HeaderKind,
    next_header: usize,
    current: Option<CommaSplit<'a>>,
    parse: fn(&'a str) -> Result<T, Fail>,
}

impl<T> std::fmt::Debug for ListIter<'_, '_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListIter")
            .field("kind", &self.kind)
            .field("next_header", &self.next_header)
            .finish()
    }
}

impl<'a, T> Iterator for ListIter<'_, 'a, T> {
    type Item = Result<T, Error>;
    fn next(&mut self) -> Option<Result<T, Error>> {
        loop {
            if let Some(split) = self.current.as_mut() {
                if let Some(elem) = split.next() {
                    let at = self.msg.offset_of(elem.as_bytes());
                    let name = self.kind.canonical_name();
                    return Some((self.parse)(elem).map_err(|f| Error::InvalidHeader {
                        name,
                        offset: at + f.at,
                        what: f.what,
                    }));
                }
                self.current = None;
            }
            let i = self.next_header;
            let header = self.msg.headers().get(i)?;
            self.next_header = self.msg.index.next_same(i).unwrap_or(usize::MAX);
            match std::str::from_utf8(header.value) {
                Ok(s) => self.current = Some(CommaSplit::new(s)),
                Err(e) => {
                    let at = self.msg.offset_of(header.value) + e.valid_up_to();
                    return Some(Err(Error::InvalidHeader {
                        name: self.kind.canonical_name(),
                        offset: at,
                        what: "not UTF-8",
                    }));
                }
            }
        }
    }
}
