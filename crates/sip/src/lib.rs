#![cfg_attr(not(test), deny(clippy::indexing_slicing))]
//! Zero-copy SIP (RFC 3261) parser and splicing writers for an inline proxy.
//!
//! [`Message`] borrows its input: the start line, an index of every header line (name/value
//! slices in order, compact forms recognised, folded lines kept; inline for up to 64 lines,
//! moved to the heap once beyond), and the body.
//! Typed values — [`Via`], [`NameAddr`] (From, To, P-Asserted-Identity, Diversion,
//! History-Info, Contact, Route), [`Uri`] (sip, sips, tel), [`CSeq`], Call-ID,
//! Max-Forwards, [`MediaType`] — are parsed lazily when asked for. Parsing a typical message
//! and reading its identities allocates nothing.
//!
//! The parser accepts what the cores behind the gateway (Kamailio, OpenSIPS, IMS cores)
//! accept, so that no legitimate call is lost, and reads it as they do:
//!
//! * lines may end in CRLF or a bare LF (RFC 3261 §7.5), mixed freely: the start line, header
//!   lines, folds (a line end followed by a blank) and the empty line ending the headers;
//! * CRLFs (or LFs) before the start line of a datagram are skipped; the message, and what
//!   the writers forward, starts at the start line;
//! * up to [`MAX_HEADERS`] (256) header lines;
//! * a quoted display name may hold octets that are not UTF-8 (GBK): every address accessor
//!   reads it ([`DisplayName::raw`] bytes, [`DisplayName::text`] decoded), and marking keeps
//!   its bytes;
//! * a Date in any time zone (the gateway does not use Date);
//! * repeated From or To: [`Message::from`]/[`Message::to`] read the first, as cores do, and
//!   [`Message::from_all`]/[`Message::to_all`] give every one so that each identity is
//!   checked (and marked); [`Message::validate`] requires each to be readable;
//! * a repeated Content-Length with the same value.
//!
//! It stays strict where leniency becomes a weapon, because the gateway and the core would
//! then read one message two ways: header names must be tokens (a control character before
//! the colon is an error, never read as the header it resembles; only the blanks RFC 3261's
//! `HCOLON` allows may precede the colon, as in RFC 4475 §3.1.1.1); a bare CR is an error
//! (some stacks end a line there, others do not); Content-Length repeated with a different
//! value is an error (it frames the message two ways: request smuggling, RFC 4475 §3.3.9);
//! Call-ID, CSeq, Max-Forwards and Content-Type may not repeat (the transaction, the hop count
//! the gateway decrements, and the charset the body is decoded with would differ by reader;
//! RFC 4475 §3.3.8); outside a quoted display name, header values the typed accessors read
//! must be UTF-8; more than [`MAX_HEADERS`] header lines is [`Error::TooManyHeaders`], so
//! every size stays bounded. On a stream, [`Message::parse_stream`] expects the start line
//! first: [`frame`] reports line ends between messages as keep-alives for the reader to consume.
//!
//! * UDP: [`Message::parse_datagram`]. TCP/TLS: [`frame`] then [`Message::parse_stream`].
//! * [`Message::validate`] applies the checks a proxy makes before acting (and names the
//!   response code through [`Error::status_code`]).
//! * [`write_response`], [`forward_request`], [`forward_response`] splice into a reused
//!   `Vec<u8>`.
//! * [`decode_body`] reads a MESSAGE body as the handset will render it (charsets, transfer
//!   and content encodings, multipart, CPIM, HTML, SMS over IP) within [`BodyLimits`].
//!
//! ```
//! use interdict_sip::{forward_request, ForwardOptions, Message, Transport};
//!
//! // Synthetic numbers from the +86 170/171 virtual-operator ranges.
//! let datagram = b"INVITE sip:+8617100000002@core.example.net;user=phone SIP/2.0\r\n\
//! Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKa1\r\n\
//! Max-Forwards: 70\r\n\
//! From: \"Zhang\" <sip:+8617000000001@sbc.example.net;user=phone>;tag=f1\r\n\
//! To: <sip:+8617100000002@core.example.net;user=phone>\r\n\
//! P-Asserted-Identity: <tel:+8617000000001>\r\n\
//! Call-ID: 8a7b@192.0.2.10\r\n\
//! CSeq: 1 INVITE\r\n\
//! Content-Length: 0\r\n\r\n";
//!
//! let msg = Message::parse_datagram(datagram)?;
//! msg.validate()?;
//! let caller = msg.caller()?; // P-Asserted-Identity, else From
//! assert_eq!(caller.uri().user(), Some("+8617000000001"));
//! assert_eq!(msg.from()?.display_name().unwrap().text(), "Zhang");
//! assert_eq!(msg.request_uri().unwrap().user(), Some("+8617100000002"));
//!
//! let mut out = Vec::with_capacity(2048);
//! let opts = ForwardOptions { via_host: "gw.example.net", via_port: Some(5060), transport: Transport::Udp, mark: Some("[疑似诈骗]") };
//! forward_request(&msg, &opts, &mut out)?;
//! let fwd = Message::parse_datagram(&out)?;
//! assert_eq!(fwd.max_forwards()?, Some(69));
//! assert_eq!(fwd.from()?.display_name().unwrap().text(), "[疑似诈骗]Zhang");
//! assert_eq!(fwd.vias().count(), 2);
//! # Ok::<(), interdict_sip::Error>(())
//! ```

pub mod body;
mod error;
mod framing;
mod header;
mod lex;
mod message;
mod name_addr;
mod params;
pub mod samples;
mod scan;
mod start_line;
mod uri;
mod values;
mod via;
mod writer;

pub use body::{
    decode_body, BodyLimits, BodyPart, BodyProblem, Concat, DecodedBody, ProblemKind, SmsAlphabet,
    SmsTpdu, TpduKind,
};
pub use error::Error;
pub use framing::{frame, Framing};
pub use header::{Header, HeaderKind};
pub use lex::percent_decode;
pub use message::{is_keepalive, ListIter, Message};
pub use name_addr::{DisplayName, NameAddr};
pub use params::{Param, ParamIter, Params};
pub use scan::MAX_HEADERS;
pub use start_line::{Method, StartLine};
pub use uri::{Host, Scheme, Uri};
pub use values::{CSeq, Contact, MediaType};
pub use via::{Via, MAGIC_COOKIE};
pub use writer::{
    forward_request, forward_response, proxy_request, stateless_branch, write_response,
    ExtraHeader, ForwardOptions, ProxyEdits, Transport,
};
