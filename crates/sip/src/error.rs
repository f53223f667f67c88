//! The typed error every parser, accessor and writer of this crate returns.

/// What went wrong, and where (byte offsets count from the first byte of the message: its
/// start line, after any CRLFs a datagram carried before it).
///
/// A message a proxy must reject is always reported through this type, never by a panic.
/// [`Error::status_code`] says which SIP response a stateless proxy should answer a
/// request with when it can (400 for malformed requests, 505 for an unknown version).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The input holds no bytes at all (or only keep-alive CRLFs, or only line ends).
    #[error("empty message")]
    Empty,
    /// The header section is not terminated by an empty line before the end of the datagram.
    #[error(
        "message truncated at byte {offset}: the header section has no terminating empty line"
    )]
    Truncated {
        /// Where the input ended.
        offset: usize,
    },
    /// A CR not followed by LF (lines end in CRLF or in a bare LF, RFC 3261 §7.5).
    #[error("bare CR at byte {offset}: lines must end with CRLF or LF")]
    BareLineEnd {
        /// Offset of the offending byte.
        offset: usize,
    },
    /// The request line or status line does not follow RFC 3261 §7.1/§7.2.
    #[error("invalid start line at byte {offset}: {what}")]
    InvalidStartLine {
        /// Offset of the first offending byte.
        offset: usize,
        /// What is wrong.
        what: &'static str,
    },
    /// The Request-URI is not a valid absolute URI (or a SIP URI carrying headers).
    #[error("invalid Request-URI at byte {offset}: {what}")]
    InvalidRequestUri {
        /// Offset of the first offending byte.
        offset: usize,
        /// What is wrong.
        what: &'static str,
    },
    /// The status code is not exactly three digits in 100..=699.
    #[error("invalid status code at byte {offset}")]
    InvalidStatusCode {
        /// Offset of the status code.
        offset: usize,
    },
    /// A header line does not start with a token followed by optional blanks and a colon
    /// (e.g. `To\x01:` or a line with no colon). Never read as the header it resembles.
    #[error("invalid header name at byte {offset}")]
    InvalidHeaderName {
        /// Offset of the first offending byte.
        offset: usize,
    },
    /// More header lines than [`crate::MAX_HEADERS`].
    #[error("too many header lines (more than {max}) at byte {offset}")]
    TooManyHeaders {
        /// The maximum ([`crate::MAX_HEADERS`]).
        max: usize,
        /// Offset of the first header line that did not fit.
        offset: usize,
    },
    /// A header whose repeat would let two readers read the message two ways appears twice
    /// (header smuggling guard): Call-ID, CSeq, Max-Forwards or Content-Type, or
    /// Content-Length with a different value (see [`crate::HeaderKind::repeat_is_error`]).
    #[error("duplicate {name} header at byte {offset}")]
    DuplicateHeader {
        /// Canonical header name.
        name: &'static str,
        /// Offset of the second occurrence.
        offset: usize,
    },
    /// Content-Length is not a decimal number (negative, empty, overflowing).
    #[error("invalid Content-Length at byte {offset}")]
    InvalidContentLength {
        /// Offset of the header value.
        offset: usize,
    },
    /// The datagram holds fewer body bytes than Content-Length announces (RFC 3261 §18.3).
    #[error("body shorter than Content-Length: {expected} announced, {available} present")]
    BodyTruncated {
        /// Bytes announced by Content-Length.
        expected: usize,
        /// Bytes present after the header section.
        available: usize,
    },
    /// A message on a stream transport has no Content-Length (RFC 3261 §18.3 requires one).
    #[error("stream message without Content-Length (header section ends at byte {offset})")]
    MissingContentLength {
        /// End of the header section.
        offset: usize,
    },
    /// A stream message (or its header section) exceeds the configured maximum size.
    #[error("message of at least {len} bytes exceeds the maximum of {max}")]
    TooLarge {
        /// The size seen or announced so far.
        len: usize,
        /// The configured maximum.
        max: usize,
    },
    /// A mandatory header is absent.
    #[error("missing {name} header")]
    MissingHeader {
        /// Canonical header name.
        name: &'static str,
    },
    /// A header value does not follow its grammar.
    #[error("invalid {name} header at byte {offset}: {what}")]
    InvalidHeader {
        /// Canonical header name.
        name: &'static str,
        /// Offset of the first offending byte.
        offset: usize,
        /// What is wrong.
        what: &'static str,
    },
    /// The SIP version is not `SIP/2.0` (answer 505).
    #[error("unsupported SIP version at byte {offset}")]
    UnsupportedVersion {
        /// Offset of the version.
        offset: usize,
    },
    /// The CSeq method differs from the request method (RFC 4475 §3.1.2.17/18).
    #[error("CSeq method does not match the request method (CSeq at byte {offset})")]
    CSeqMethodMismatch {
        /// Offset of the CSeq value.
        offset: usize,
    },
    /// The request arrived with Max-Forwards 0: the caller must answer 483 Too Many Hops.
    #[error("Max-Forwards is 0: answer 483 Too Many Hops")]
    MaxForwardsExhausted,
    /// A response has no second Via to forward it to after removing ours.
    #[error("response has no Via left after removing the top one")]
    NoViaLeft,
    /// A writer was asked for something it cannot produce (not a request, CR/LF in a value, bad code).
    #[error("cannot write message: {what}")]
    InvalidOutput {
        /// What is wrong with the request to the writer.
        what: &'static str,
    },
}

impl Error {
    /// The response code a stateless proxy answers a *request* with when this error is
    /// found: 505 for an unsupported version, 483 for exhausted Max-Forwards, 400 otherwise.
    pub fn status_code(&self) -> u16 {
        match self {
            Error::UnsupportedVersion { .. } => 505,
            Error::MaxForwardsExhausted => 483,
            _ => 400,
        }
    }
}
