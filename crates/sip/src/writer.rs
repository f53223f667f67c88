//! Writers that splice into a reused output buffer: a stateless response to a request,
//! a forwarded request (new Via, Max-Forwards decremented, optional display-name marking),
//! and a forwarded response (top Via removed). Original bytes are copied as ranges; only
//! what changes is written. Copied lines keep their own line ends (CRLF or a bare LF, as the
//! sender wrote them); the lines the writers add end in CRLF. The parser accepts both, so the
//! output re-parses with the same headers and body.

use std::io::Write;

use crate::header::HeaderKind;
use crate::lex::{offset_in, CommaSplit};
use crate::message::Message;
use crate::name_addr::NameAddr;
use crate::start_line::Method;
use crate::via::MAGIC_COOKIE;
use crate::Error;

/// The transport named in the Via a forwarding proxy adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)] // the variant names are the transports
pub enum Transport {
    Udp,
    Tcp,
    Tls,
    Sctp,
    Ws,
    Wss,
}

impl Transport {
    /// The Via token, e.g. `UDP`.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Sctp => "SCTP",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
        }
    }
}

/// How [`forward_request`] rewrites a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForwardOptions<'o> {
    /// This proxy's host for its Via sent-by (hostname, IPv4, or bracketed IPv6).
    pub via_host: &'o str,
    /// This proxy's port for its Via sent-by, if not the default.
    pub via_port: Option<u16>,
    /// The transport the request leaves on.
    pub transport: Transport,
    /// When set, prefixed to the display name of every From (a repeated one too) and of every
    /// P-Asserted-Identity (e.g. `[疑似诈骗]` so the callee's phone shows the warning). A
    /// quoted display name gets the mark inside its quotes and keeps its own octets, GBK too.
    pub mark: Option<&'o str>,
}

/// An extra header for [`write_response`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtraHeader<'h> {
    /// Any header, written as `name: value` (no CR/LF allowed).
    Raw {
        /// Header name (a token).
        name: &'h str,
        /// Header value.
        value: &'h str,
    },
    /// `Reason: SIP;cause=<cause>;text="<text>"` (RFC 3326); `text` is escaped.
    Reason {
        /// The SIP status code the reason names.
        cause: u16,
        /// Human-readable text.
        text: &'h str,
    },
    /// `Call-Info: <uri>;purpose=<purpose>` (RFC 8688 uses `purpose=jwscard` for the
    /// analytics entity's jCard with a 608).
    CallInfo {
        /// The URI (without angle brackets).
        uri: &'h str,
        /// The purpose parameter.
        purpose: &'h str,
    },
}

fn out_err(what: &'static str) -> Error {
    Error::InvalidOutput { what }
}

fn io(r: std::io::Result<()>) -> Result<(), Error> {
    r.map_err(|_| out_err("write failed"))
}

/// Text written into a header must not break the line or smuggle a header.
fn check_text(s: &str, what: &'static str) -> Result<(), Error> {
    if s.bytes().any(|c| (c < 0x20 && c != b'\t') || c == 0x7f) {
        return Err(out_err(what));
    }
    Ok(())
}

fn check_token(s: &str, what: &'static str) -> Result<(), Error> {
    if s.is_empty() || !s.bytes().all(crate::lex::is_token) {
        return Err(out_err(what));
    }
    Ok(())
}

/// Writes `s` escaped for the inside of a quoted-string.
fn put_quoted_inner(out: &mut Vec<u8>, s: &str) {
    for b in s.bytes() {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
}

/// Writes `n` in decimal without going through `core::fmt` (hot path).
fn put_u32(out: &mut Vec<u8>, n: u32) -> Result<(), Error> {
    let mut digits = [0u8; 10];
    let mut i = digits.len();
    let mut v = n;
    loop {
        i -= 1;
        if let Some(d) = digits.get_mut(i) {
            *d = b'0' + (v % 10) as u8;
        }
        v /= 10;
        if v == 0 || i == 0 {
            break;
        }
    }
    out.extend_from_slice(digits.get(i..).unwrap_or(b""));
    Ok(())
}

/// Writes `v` as 16 lowercase hex digits.
fn put_hex64(out: &mut Vec<u8>, v: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for shift in (0..16).rev() {
        let nibble = ((v >> (shift * 4)) & 0xf) as usize;
        out.push(HEX.get(nibble).copied().unwrap_or(b'0'));
    }
}

/// Byte range of a header line: from its name to past its CRLF.
fn line_range(msg: &Message<'_>, h: &crate::Header<'_>) -> Result<(usize, usize), Error> {
    let start = offset_in(msg.as_bytes(), h.name()).ok_or(out_err("header outside message"))?;
    Ok((start, h.end as usize))
}

fn copy(out: &mut Vec<u8>, bytes: &[u8], from: usize, to: usize) -> Result<(), Error> {
    out.extend_from_slice(bytes.get(from..to).ok_or(out_err("splice out of order"))?);
    Ok(())
}

/// Writes a stateless response to `req` (RFC 3261 §8.2.6, §16.11) into `out` (appended):
/// status line, every Via line in order, From, To (with `;tag=<to_tag>` added when the
/// request's To has none and the code is above 100), Call-ID, CSeq, the extra headers and
/// `Content-Length: 0`. Header lines are copied byte for byte from the request; of a
/// repeated From or To, the first (the one the core answers with).
///
/// ```
/// use interdict_sip::{write_response, ExtraHeader, Message};
/// // Synthetic numbers (+86 170 virtual-operator range).
/// let req = Message::parse_datagram(b"INVITE sip:+8617100000002@core.example.net SIP/2.0\r\n\
/// Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK1\r\nFrom: <sip:+8617000000001@sbc.example.net>;tag=a\r\n\
/// To: <sip:+8617100000002@core.example.net>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n\
/// Content-Length: 0\r\n\r\n").unwrap();
/// let mut out = Vec::new();
/// write_response(&req, 608, "Rejected", "idt1", &[
///     ExtraHeader::Reason { cause: 608, text: "fraud number" },
///     ExtraHeader::CallInfo { uri: "https://gw.example.net/jcard", purpose: "jwscard" },
/// ], &mut out).unwrap();
/// let resp = Message::parse_datagram(&out).unwrap();
/// assert_eq!(resp.status_code(), Some(608));
/// assert_eq!(resp.to().unwrap().tag(), Some("idt1"));
/// ```
pub fn write_response(
    req: &Message<'_>,
    code: u16,
    reason: &str,
    to_tag: &str,
    extra: &[ExtraHeader<'_>],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    match req.method() {
        None => return Err(out_err("responses are answered to requests only")),
        Some(Method::Ack) => return Err(out_err("an ACK is never answered")),
        Some(_) => {}
    }
    if !(100..=699).contains(&code) {
        return Err(out_err("status code outside 100..=699"));
    }
    check_text(reason, "control character in reason phrase")?;
    check_token(to_tag, "To tag must be a token")?;
    for e in extra {
        match e {
            ExtraHeader::Raw { name, value } => {
                check_token(name, "extra header name must be a token")?;
                check_text(value, "control character in extra header")?;
            }
            ExtraHeader::Reason { text, .. } => {
                check_text(text, "control character in Reason text")?
            }
            ExtraHeader::CallInfo { uri, purpose } => {
                check_text(uri, "control character in Call-Info")?;
                if uri.contains(['<', '>']) {
                    return Err(out_err("Call-Info URI must not contain <>"));
                }
                check_token(purpose, "Call-Info purpose must be a token")?;
            }
        }
    }
    let needs_tag = code > 100 && req.to()?.tag().is_none();
    let bytes = req.as_bytes();
    let mark = out.len();
    let result = (|| {
        out.extend_from_slice(b"SIP/2.0 ");
        put_u32(out, u32::from(code))?;
        out.push(b' ');
        out.extend_from_slice(reason.as_bytes());
        out.extend_from_slice(b"\r\n");
        let mut vias = 0;
        for h in req.headers_of(HeaderKind::Via) {
            let (s, e) = line_range(req, h)?;
            copy(out, bytes, s, e)?;
            vias += 1;
        }
        if vias == 0 {
            return Err(Error::MissingHeader { name: "Via" });
        }
        for kind in [
            HeaderKind::From,
            HeaderKind::To,
            HeaderKind::CallId,
            HeaderKind::CSeq,
        ] {
            let h = req.header(kind).ok_or(Error::MissingHeader {
                name: kind.canonical_name(),
            })?;
            let (s, e) = line_range(req, h)?;
            if kind == HeaderKind::To && needs_tag {
                let value_end = offset_in(bytes, h.value())
                    .ok_or(out_err("header outside message"))?
                    + h.value().len();
                copy(out, bytes, s, value_end)?;
                out.extend_from_slice(b";tag=");
                out.extend_from_slice(to_tag.as_bytes());
                out.extend_from_slice(b"\r\n");
            } else {
                copy(out, bytes, s, e)?;
            }
        }
        for e in extra {
            match e {
                ExtraHeader::Raw { name, value } => io(write!(out, "{name}: {value}\r\n"))?,
                ExtraHeader::Reason { cause, text } => {
                    out.extend_from_slice(b"Reason: SIP;cause=");
                    put_u32(out, u32::from(*cause))?;
                    out.extend_from_slice(b";text=\"");
                    put_quoted_inner(out, text);
                    out.extend_from_slice(b"\"\r\n");
                }
                ExtraHeader::CallInfo { uri, purpose } => {
                    io(write!(out, "Call-Info: <{uri}>;purpose={purpose}\r\n"))?
                }
            }
        }
        out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
        Ok(())
    })();
    if result.is_err() {
        out.truncate(mark);
    }
    result
}

/// 64-bit FNV-1a, used to derive stateless branches (not a security boundary).
struct Fnv(u64);

impl Fnv {
    fn new(seed: u64) -> Self {
        Fnv(0xcbf2_9ce4_8422_2325 ^ seed)
    }
    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
        // Field separator so ("ab","c") and ("a","bc") differ.
        self.0 ^= 0xff;
        self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
    }
}

/// Derives the branch a stateless proxy puts in its Via (RFC 3261 §16.11): a hash of the
/// incoming top Via's branch and sent-by when it carries the magic cookie (so a CANCEL or a
/// non-2xx ACK, which repeat that Via, get the same branch as their INVITE), else of
/// Request-URI, To tag, From tag, Call-ID, CSeq number and top Via. `proxy_host` is mixed in
/// so two proxies in series never produce the same branch. Written as `z9hG4bK` + 32 hex digits.
pub fn stateless_branch(
    req: &Message<'_>,
    proxy_host: &str,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let top = req.top_via()?;
    let mut a = Fnv::new(0);
    let mut b = Fnv::new(0x9e37_79b9_7f4a_7c15);
    let mut feed = |x: &[u8]| {
        a.feed(x);
        b.feed(x);
    };
    feed(proxy_host.as_bytes());
    if top.has_magic_cookie() {
        feed(top.branch().unwrap_or("").as_bytes());
        match top.host() {
            crate::Host::Name(n) => feed(n.as_bytes()),
            crate::Host::Ipv4(a) => feed(&a.octets()),
            crate::Host::Ipv6(_, a) => feed(&a.octets()),
        }
        feed(&top.port().unwrap_or(0).to_be_bytes());
    } else {
        feed(req.request_uri().map_or("", |u| u.as_str()).as_bytes());
        feed(req.to()?.tag().unwrap_or("").as_bytes());
        feed(req.from()?.tag().unwrap_or("").as_bytes());
        feed(req.call_id()?.as_bytes());
        feed(&req.cseq()?.seq.to_be_bytes());
        feed(top.as_str().as_bytes());
    }
    out.extend_from_slice(MAGIC_COOKIE.as_bytes());
    put_hex64(out, a.0);
    put_hex64(out, b.0);
    Ok(())
}

/// Writes the marking edits for one address element, copying the original bytes up to each
/// edit. `cursor` is the offset in `bytes` copied so far. A quoted display name gets the mark
/// inside its quotes and keeps its own octets whatever their charset (e.g. GBK).
fn mark_address(
    out: &mut Vec<u8>,
    bytes: &[u8],
    cursor: &mut usize,
    na: &NameAddr<'_>,
    mark: &str,
) -> Result<(), Error> {
    let at = |s: &[u8]| offset_in(bytes, s).ok_or(out_err("address outside message"));
    match na.display_name() {
        Some(dn) if dn.is_quoted() => {
            let open = at(dn.raw())? + 1;
            copy(out, bytes, *cursor, open)?;
            put_quoted_inner(out, mark);
            *cursor = open;
        }
        Some(dn) => {
            let start = at(dn.raw())?;
            let end = start + dn.raw().len();
            copy(out, bytes, *cursor, start)?;
            out.push(b'"');
            put_quoted_inner(out, mark);
            copy(out, bytes, start, end)?;
            out.push(b'"');
            *cursor = end;
        }
        None if na.is_bracketed() => {
            let lt = at(na.as_bytes())?;
            copy(out, bytes, *cursor, lt)?;
            out.push(b'"');
            put_quoted_inner(out, mark);
            out.extend_from_slice(b"\" ");
            *cursor = lt;
        }
        None => {
            let start = at(na.uri().as_str().as_bytes())?;
            let end = start + na.uri().as_str().len();
            copy(out, bytes, *cursor, start)?;
            out.push(b'"');
            put_quoted_inner(out, mark);
            out.extend_from_slice(b"\" <");
            copy(out, bytes, start, end)?;
            out.push(b'>');
            *cursor = end;
        }
    }
    Ok(())
}

/// The proxy edits [`proxy_request`] makes beyond [`forward_request`]'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProxyEdits<'o> {
    /// Add `Record-Route: <uri>` above any existing Record-Route (RFC 3261 §16.6 step 4), so
    /// the dialog's later requests come through this proxy. The URI is written as given
    /// (e.g. `sip:192.0.2.1:5060;transport=udp;lr`).
    pub record_route: Option<&'o str>,
    /// Remove the first Route value (the caller has checked it names this proxy, §16.4).
    pub remove_top_route: bool,
    /// The address the request came from, written into the sender's top Via as `received`
    /// (and `rport=<port>` when the Via asks for it with an empty `rport`, RFC 3581).
    pub received: Option<(std::net::IpAddr, u16)>,
    /// The branch for the proxy's Via when the caller has already derived it with
    /// [`stateless_branch`] for this request and `via_host` (saves deriving it twice).
    pub branch: Option<&'o [u8]>,
}

/// Writes the top Via value with `received` and, when asked for, `rport` filled in.
fn write_received_via(out: &mut Vec<u8>, via: &str, ip: std::net::IpAddr, port: u16) {
    let mut parts = via.split(';');
    let sent_by = parts.next().unwrap_or("");
    out.extend_from_slice(sent_by.trim_end().as_bytes());
    let mut wants_rport = false;
    for p in parts {
        let name = p.split('=').next().unwrap_or("").trim();
        if name.eq_ignore_ascii_case("received") {
            continue;
        }
        if name.eq_ignore_ascii_case("rport") {
            wants_rport = true;
            continue;
        }
        out.push(b';');
        out.extend_from_slice(p.as_bytes());
    }
    // io::Write into a Vec cannot fail.
    let _ = write!(out, ";received={ip}");
    if wants_rport {
        out.extend_from_slice(b";rport=");
        let _ = write!(out, "{port}");
    }
}

/// Forwards a request statelessly (RFC 3261 §16.6, §16.11) into `out` (appended): a new top
/// Via (`SIP/2.0/<transport> <host>[:<port>];branch=<derived>`), Max-Forwards decremented
/// (added as 70 when absent), and with `mark` set the display names of every From and every
/// P-Asserted-Identity prefixed. Everything else, body included, is copied byte for byte
/// from [`Message::as_bytes`] (so CRLFs skipped before the start line are not forwarded).
///
/// A request arriving with Max-Forwards 0 is [`Error::MaxForwardsExhausted`]: answer it
/// with 483 Too Many Hops instead of forwarding.
pub fn forward_request(
    req: &Message<'_>,
    opts: &ForwardOptions<'_>,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    proxy_request(req, opts, &ProxyEdits::default(), out)
}

/// [`forward_request`] with the edits of a record-routing proxy ([`ProxyEdits`]): its
/// Record-Route added, its own Route removed, `received`/`rport` written into the sender's
/// Via. Everything else is copied byte for byte.
pub fn proxy_request(
    req: &Message<'_>,
    opts: &ForwardOptions<'_>,
    edits: &ProxyEdits<'_>,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    if !req.is_request() {
        return Err(out_err("forward_request needs a request"));
    }
    let max_forwards = req.max_forwards()?;
    if max_forwards == Some(0) {
        return Err(Error::MaxForwardsExhausted);
    }
    crate::uri::Host::parse(opts.via_host)
        .ok()
        .filter(|(_, rest)| rest.is_empty())
        .ok_or(out_err("via_host is not a host"))?;
    if let Some(m) = opts.mark {
        check_text(m, "control character in mark")?;
    }
    let bytes = req.as_bytes();
    let start_line_end = memchr::memchr(b'\n', bytes)
        .map(|i| i + 1)
        .ok_or(out_err("no start line"))?;
    let mark_len = out.len();
    let result = (|| {
        copy(out, bytes, 0, start_line_end)?;
        out.extend_from_slice(b"Via: SIP/2.0/");
        out.extend_from_slice(opts.transport.as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(opts.via_host.as_bytes());
        if let Some(p) = opts.via_port {
            out.push(b':');
            put_u32(out, u32::from(p))?;
        }
        out.extend_from_slice(b";branch=");
        match edits.branch {
            Some(b) => out.extend_from_slice(b),
            None => stateless_branch(req, opts.via_host, out)?,
        }
        out.extend_from_slice(b"\r\n");
        if let Some(rr) = edits.record_route {
            out.extend_from_slice(b"Record-Route: <");
            out.extend_from_slice(rr.as_bytes());
            out.extend_from_slice(b">\r\n");
        }
        if max_forwards.is_none() {
            out.extend_from_slice(b"Max-Forwards: 70\r\n");
        }
        let mut cursor = start_line_end;
        let mut first_via = true;
        let mut first_route = true;
        for h in req.headers() {
            match h.kind() {
                HeaderKind::Via if first_via => {
                    first_via = false;
                    let Some((ip, port)) = edits.received else {
                        continue;
                    };
                    let Some(top) = CommaSplit::new(h.value()).next() else {
                        continue;
                    };
                    let top = crate::lex::utf8(top).map_err(|_| out_err("Via not UTF-8"))?;
                    let top = crate::lex::trim_start(top).trim_end();
                    let start = offset_in(bytes, top.as_bytes())
                        .ok_or(out_err("header outside message"))?;
                    copy(out, bytes, cursor, start)?;
                    write_received_via(out, top, ip, port);
                    cursor = start + top.len();
                }
                HeaderKind::Route if first_route && edits.remove_top_route => {
                    first_route = false;
                    let mut elems = CommaSplit::new(h.value());
                    elems.next();
                    match elems.next() {
                        None => {
                            let (s, e) = line_range(req, h)?;
                            copy(out, bytes, cursor, s)?;
                            cursor = e;
                        }
                        Some(second) => {
                            let value_start = offset_in(bytes, h.value())
                                .ok_or(out_err("header outside message"))?;
                            let second_start =
                                offset_in(bytes, crate::lex::trim_start_bytes(second))
                                    .ok_or(out_err("header outside message"))?;
                            copy(out, bytes, cursor, value_start)?;
                            cursor = second_start;
                        }
                    }
                }
                HeaderKind::MaxForwards => {
                    let v = offset_in(bytes, h.value()).ok_or(out_err("header outside message"))?;
                    copy(out, bytes, cursor, v)?;
                    put_u32(out, u32::from(max_forwards.unwrap_or(70).saturating_sub(1)))?;
                    cursor = v + h.value().len();
                }
                HeaderKind::From | HeaderKind::PAssertedIdentity => {
                    let Some(mark) = opts.mark else { continue };
                    // Every From (a repeated one too) and every PAI value; From is one
                    // value per line, PAI a comma list.
                    let one = [h.value()];
                    let elems: &mut dyn Iterator<Item = &[u8]> = match h.kind() {
                        HeaderKind::From => &mut one.into_iter(),
                        _ => &mut CommaSplit::new(h.value()),
                    };
                    for elem in elems {
                        let na = NameAddr::parse_bytes_inner(elem).map_err(|f| {
                            Error::InvalidHeader {
                                name: h.kind().canonical_name(),
                                offset: offset_in(bytes, elem).unwrap_or(0) + f.at,
                                what: f.what,
                            }
                        })?;
                        mark_address(out, bytes, &mut cursor, &na, mark)?;
                    }
                }
                _ => {}
            }
        }
        copy(out, bytes, cursor, bytes.len())
    })();
    if result.is_err() {
        out.truncate(mark_len);
    }
    result
}

/// Forwards a response (RFC 3261 §16.7 step 3) into `out` (appended): the top Via value
/// (this proxy's) is removed — the whole line when it holds one value, else just the first
/// value of the comma list. Everything else is copied byte for byte. The caller sends the
/// result to the next Via ([`Message::vias`]`().nth(1)`), and should check first that the
/// top Via is its own. [`Error::NoViaLeft`] when no Via would remain.
pub fn forward_response(resp: &Message<'_>, out: &mut Vec<u8>) -> Result<(), Error> {
    if resp.is_request() {
        return Err(out_err("forward_response needs a response"));
    }
    let mut vias = resp.vias();
    vias.next().ok_or(Error::MissingHeader { name: "Via" })??;
    if vias.next().is_none() {
        return Err(Error::NoViaLeft);
    }
    let bytes = resp.as_bytes();
    let h = resp
        .header(HeaderKind::Via)
        .ok_or(Error::MissingHeader { name: "Via" })?;
    let (line_start, line_end) = line_range(resp, h)?;
    let mut elems = CommaSplit::new(h.value());
    elems.next();
    let mark = out.len();
    let result = match elems.next() {
        None => {
            copy(out, bytes, 0, line_start).and_then(|_| copy(out, bytes, line_end, bytes.len()))
        }
        Some(second) => {
            let value_start =
                offset_in(bytes, h.value()).ok_or(out_err("header outside message"))?;
            let second_start = offset_in(bytes, crate::lex::trim_start_bytes(second))
                .ok_or(out_err("header outside message"))?;
            copy(out, bytes, 0, value_start)
                .and_then(|_| copy(out, bytes, second_start, bytes.len()))
        }
    };
    if result.is_err() {
        out.truncate(mark);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_and_hex_writers() {
        for n in [0u32, 7, 10, 69, 608, u32::MAX] {
            let mut out = Vec::new();
            put_u32(&mut out, n).unwrap();
            assert_eq!(out, n.to_string().into_bytes());
        }
        let mut out = Vec::new();
        put_hex64(&mut out, 0x0123_4567_89ab_cdef);
        assert_eq!(out, b"0123456789abcdef");
    }
}
