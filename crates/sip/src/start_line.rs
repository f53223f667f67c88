//! The request line (`INVITE sip:bob@example.com SIP/2.0`) and status line
//! (`SIP/2.0 180 Ringing`), RFC 3261 §7.1 and §7.2. Strict: single spaces, nothing trailing.

use crate::lex::is_token;
use crate::uri::{Scheme, Uri};
use crate::Error;

/// A request method. Methods are case-sensitive (RFC 3261 §7.1); unknown ones are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)] // the variant names are the method names
pub enum Method<'a> {
    Invite,
    Ack,
    Bye,
    Cancel,
    Register,
    Options,
    Info,
    Update,
    Prack,
    Subscribe,
    Notify,
    Publish,
    Refer,
    Message,
    /// An extension method, as written.
    Other(&'a str),
}

impl<'a> Method<'a> {
    /// Classifies a method token (case-sensitive).
    pub fn from_token(t: &'a str) -> Method<'a> {
        match t {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "REGISTER" => Method::Register,
            "OPTIONS" => Method::Options,
            "INFO" => Method::Info,
            "UPDATE" => Method::Update,
            "PRACK" => Method::Prack,
            "SUBSCRIBE" => Method::Subscribe,
            "NOTIFY" => Method::Notify,
            "PUBLISH" => Method::Publish,
            "REFER" => Method::Refer,
            "MESSAGE" => Method::Message,
            other => Method::Other(other),
        }
    }

    /// The method as written.
    pub fn as_str(&self) -> &'a str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Register => "REGISTER",
            Method::Options => "OPTIONS",
            Method::Info => "INFO",
            Method::Update => "UPDATE",
            Method::Prack => "PRACK",
            Method::Subscribe => "SUBSCRIBE",
            Method::Notify => "NOTIFY",
            Method::Publish => "PUBLISH",
            Method::Refer => "REFER",
            Method::Message => "MESSAGE",
            Method::Other(s) => s,
        }
    }
}

/// The first line of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartLine<'a> {
    /// `Method SP Request-URI SP SIP-Version`
    Request {
        /// The method.
        method: Method<'a>,
        /// The Request-URI (parsed; any absolute URI is accepted, SIP URIs are validated).
        uri: Uri<'a>,
        /// The version as written, e.g. `SIP/2.0`.
        version: &'a str,
    },
    /// `SIP-Version SP Status-Code SP Reason-Phrase`
    Response {
        /// The version as written.
        version: &'a str,
        /// Status code, 100..=699.
        code: u16,
        /// Reason phrase bytes (UTF-8 expected but not required; may be empty).
        reason: &'a [u8],
    },
}

fn is_version(v: &[u8]) -> bool {
    if v == b"SIP/2.0" {
        return true;
    }
    let Some(rest) = v
        .get(..4)
        .filter(|p| p.eq_ignore_ascii_case(b"SIP/"))
        .and_then(|_| v.get(4..))
    else {
        return false;
    };
    let mut parts = rest.splitn(2, |&c| c == b'.');
    let digits = |p: Option<&[u8]>| {
        p.is_some_and(|d| !d.is_empty() && d.len() <= 3 && d.iter().all(u8::is_ascii_digit))
    };
    digits(parts.next()) && digits(parts.next())
}

fn str_of<'a>(b: &'a [u8], at: usize, what: &'static str) -> Result<&'a str, Error> {
    std::str::from_utf8(b).map_err(|_| Error::InvalidStartLine { offset: at, what })
}

impl<'a> StartLine<'a> {
    /// Parses the start line (without its CRLF).
    pub(crate) fn parse(line: &'a [u8]) -> Result<StartLine<'a>, Error> {
        if line
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/"))
        {
            return Self::parse_status(line);
        }
        let sp1 = memchr::memchr(b' ', line).ok_or(Error::InvalidStartLine {
            offset: 0,
            what: "request line has no space",
        })?;
        let method = line.get(..sp1).unwrap_or(b"");
        if method.is_empty() || !method.iter().all(|&c| is_token(c)) {
            let bad = method.iter().position(|&c| !is_token(c)).unwrap_or(0);
            return Err(Error::InvalidStartLine {
                offset: bad,
                what: "method is not a token",
            });
        }
        let rest = line.get(sp1 + 1..).unwrap_or(b"");
        let sp2 = memchr::memchr(b' ', rest).ok_or(Error::InvalidStartLine {
            offset: line.len(),
            what: "request line has no SIP-Version",
        })?;
        let uri_at = sp1 + 1;
        let uri_bytes = rest.get(..sp2).unwrap_or(b"");
        if uri_bytes.is_empty() {
            return Err(Error::InvalidStartLine {
                offset: uri_at,
                what: "more than one space before Request-URI",
            });
        }
        let version = rest.get(sp2 + 1..).unwrap_or(b"");
        let version_at = uri_at + sp2 + 1;
        if !is_version(version) {
            return Err(Error::InvalidStartLine {
                offset: version_at,
                what: "invalid SIP-Version (or extra spaces)",
            });
        }
        // Method and version are ASCII by now: one UTF-8 check covers the URI too.
        let text = std::str::from_utf8(line).map_err(|e| Error::InvalidRequestUri {
            offset: e.valid_up_to(),
            what: "not ASCII",
        })?;
        let piece = |from: usize, len: usize| text.get(from..from + len).unwrap_or("");
        let uri_str = piece(uri_at, sp2);
        let uri = Uri::parse_inner(uri_str).map_err(|f| Error::InvalidRequestUri {
            offset: uri_at + f.at,
            what: f.what,
        })?;
        if matches!(uri.scheme(), Scheme::Sip | Scheme::Sips) && uri.headers().is_some() {
            return Err(Error::InvalidRequestUri {
                offset: uri_at,
                what: "headers are not allowed in a Request-URI",
            });
        }
        Ok(StartLine::Request {
            method: Method::from_token(piece(0, sp1)),
            uri,
            version: piece(version_at, version.len()),
        })
    }

    fn parse_status(line: &'a [u8]) -> Result<StartLine<'a>, Error> {
        let sp1 = memchr::memchr(b' ', line).ok_or(Error::InvalidStartLine {
            offset: line.len(),
            what: "status line has no status code",
        })?;
        let version = line.get(..sp1).unwrap_or(b"");
        if !is_version(version) {
            return Err(Error::InvalidStartLine {
                offset: 0,
                what: "invalid SIP-Version",
            });
        }
        let code_at = sp1 + 1;
        let rest = line.get(code_at..).unwrap_or(b"");
        let code_bytes = rest
            .get(..3)
            .ok_or(Error::InvalidStatusCode { offset: code_at })?;
        if !code_bytes.iter().all(u8::is_ascii_digit) || rest.get(3) != Some(&b' ') {
            return Err(Error::InvalidStatusCode { offset: code_at });
        }
        let code = code_bytes
            .iter()
            .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
        if !(100..=699).contains(&code) {
            return Err(Error::InvalidStatusCode { offset: code_at });
        }
        let reason = rest.get(4..).unwrap_or(b"");
        if let Some(bad) = reason
            .iter()
            .position(|&c| (c < 0x20 && c != b'\t') || c == 0x7f)
        {
            return Err(Error::InvalidStartLine {
                offset: code_at + 4 + bad,
                what: "control character in reason phrase",
            });
        }
        Ok(StartLine::Response {
            version: str_of(version, 0, "version")?,
            code,
            reason,
        })
    }

    /// The SIP version as written.
    pub fn version(&self) -> &'a str {
        match self {
            StartLine::Request { version, .. } | StartLine::Response { version, .. } => version,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_and_status_lines() {
        let r = StartLine::parse(b"INVITE sip:bob@example.com SIP/2.0").unwrap();
        assert!(matches!(
            r,
            StartLine::Request {
                method: Method::Invite,
                ..
            }
        ));
        let s = StartLine::parse(b"SIP/2.0 100 ").unwrap();
        assert_eq!(
            s,
            StartLine::Response {
                version: "SIP/2.0",
                code: 100,
                reason: b""
            }
        );
        let u = StartLine::parse(
            "SIP/2.0 200 = 2**3 * 5**2 но сто девяносто девять - простое".as_bytes(),
        )
        .unwrap();
        assert!(matches!(u, StartLine::Response { code: 200, .. }));
    }

    #[test]
    fn strict_rejections() {
        for bad in [
            &b"INVITE  sip:a@b SIP/2.0"[..],
            b"INVITE sip:a@b SIP/2.0 ",
            b"INVITE sip:a@b; lr SIP/2.0",
            b"INVITE <sip:a@b> SIP/2.0",
            b"INVITE sip:a@b?Route=%3Csip:x%3E SIP/2.0",
            b"INVITE sip:a@b",
            b"SIP/2.0 4294967301 better not break the receiver",
            b"SIP/2.0 099 Low",
            b"SIP/2.0 180",
            b"IN\x01VITE sip:a@b SIP/2.0",
        ] {
            assert!(
                StartLine::parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
