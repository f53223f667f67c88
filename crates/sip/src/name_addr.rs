//! `NameAddr<'a>`: the `name-addr / addr-spec` of From, To, Contact, P-Asserted-Identity,
//! Diversion, History-Info, Route and Record-Route (RFC 3261 §20, §25.1).

use std::borrow::Cow;

use crate::lex::{is_lws, is_token, trim_end_bytes, trim_start, trim_start_bytes, utf8, Fail};
use crate::params::{quoted_string, Params};
use crate::uri::Uri;

/// A display name as written: a quoted string or a sequence of tokens.
///
/// A quoted display name may hold octets that are not UTF-8 (handsets and PBXs in China
/// send GBK), as cores accept it; so the name is kept as bytes. Everything after the display
/// name (URI, parameters) must still be UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DisplayName<'a> {
    raw: &'a [u8],
    quoted: bool,
}

impl<'a> DisplayName<'a> {
    /// The display name exactly as written (quotes included when quoted), as bytes.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// [`DisplayName::raw`] as UTF-8 text, `None` when it holds other octets (e.g. GBK).
    pub fn raw_str(&self) -> Option<&'a str> {
        std::str::from_utf8(self.raw).ok()
    }

    /// Whether it was written as a quoted string.
    pub fn is_quoted(&self) -> bool {
        self.quoted
    }

    /// The bytes between the quotes with quoted-pairs still escaped (or the token form as is).
    pub fn inner(&self) -> &'a [u8] {
        if self.quoted {
            self.raw
                .get(1..self.raw.len().saturating_sub(1))
                .unwrap_or(b"")
        } else {
            self.raw
        }
    }

    /// The octets the user sees, in whatever charset they were sent: quotes removed and
    /// `\x` quoted-pairs unescaped. Borrows unless there is an escape.
    pub fn unescaped(&self) -> Cow<'a, [u8]> {
        let inner = self.inner();
        if !self.quoted || !inner.contains(&b'\\') {
            return Cow::Borrowed(inner);
        }
        let mut out = Vec::with_capacity(inner.len());
        let mut bytes = inner.iter();
        while let Some(&c) = bytes.next() {
            if c == b'\\' {
                if let Some(&n) = bytes.next() {
                    out.push(n);
                }
            } else {
                out.push(c);
            }
        }
        Cow::Owned(out)
    }

    /// The display name as the user sees it: [`DisplayName::unescaped`] decoded as UTF-8;
    /// a name that is not UTF-8 is decoded as GB18030 (which covers GBK and GB2312) when it
    /// is valid GB18030, else lossily (U+FFFD for each bad sequence). Borrows when the name
    /// is UTF-8 without escapes. A name mixing charsets (a UTF-8 mark before GBK octets)
    /// has no single right decoding: read [`DisplayName::unescaped`] for the octets.
    pub fn text(&self) -> Cow<'a, str> {
        match self.unescaped() {
            Cow::Borrowed(b) => match std::str::from_utf8(b) {
                Ok(s) => Cow::Borrowed(s),
                Err(_) => Cow::Owned(decode_legacy(b)),
            },
            Cow::Owned(v) => match String::from_utf8(v) {
                Ok(s) => Cow::Owned(s),
                Err(e) => Cow::Owned(decode_legacy(e.as_bytes())),
            },
        }
    }
}

/// Text of octets that are not UTF-8: GB18030 when they are valid GB18030, else lossy UTF-8.
fn decode_legacy(b: &[u8]) -> String {
    match encoding_rs::GB18030.decode_without_bom_handling_and_without_replacement(b) {
        Some(s) => s.into_owned(),
        None => String::from_utf8_lossy(b).into_owned(),
    }
}

/// An address: optional display name, URI, and header parameters (`tag`, `expires`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameAddr<'a> {
    raw: &'a [u8],
    display_name: Option<DisplayName<'a>>,
    uri: Uri<'a>,
    bracketed: bool,
    params: Params<'a>,
    tag: Option<&'a str>,
}

impl<'a> NameAddr<'a> {
    /// Parses one element (the caller splits comma lists). Leading/trailing LWS is allowed.
    ///
    /// ```
    /// use interdict_sip::NameAddr;
    /// let a = NameAddr::parse("\"Alice\" <sip:alice@example.com>;tag=88").unwrap();
    /// assert_eq!(a.display_name().unwrap().text(), "Alice");
    /// assert_eq!(a.tag(), Some("88"));
    /// ```
    pub fn parse(s: &'a str) -> Result<NameAddr<'a>, crate::Error> {
        Self::parse_bytes(s.as_bytes())
    }

    /// [`NameAddr::parse`] for an element that may not be UTF-8: a quoted display name may
    /// hold any octets but controls (e.g. GBK); the URI and parameters must be UTF-8.
    ///
    /// ```
    /// use interdict_sip::NameAddr;
    /// // "张三" in GBK; synthetic number from the +86 170 range.
    /// let a = NameAddr::parse_bytes(b"\"\xd5\xc5\xc8\xfd\" <tel:+8617000000001>").unwrap();
    /// assert_eq!(a.display_name().unwrap().text(), "张三");
    /// assert_eq!(a.uri().user(), Some("+8617000000001"));
    /// ```
    pub fn parse_bytes(b: &'a [u8]) -> Result<NameAddr<'a>, crate::Error> {
        Self::parse_bytes_inner(b).map_err(|f| crate::Error::InvalidHeader {
            name: "address",
            offset: f.at,
            what: f.what,
        })
    }

    pub(crate) fn parse_bytes_inner(s: &'a [u8]) -> Result<NameAddr<'a>, Fail> {
        // Offsets are counted back from the end: every piece below is a suffix of `s`.
        let at = |rest_len: usize| s.len() - rest_len;
        let body = trim_start_bytes(s);
        let raw = trim_end_bytes(body);
        let (display_name, after_display) = if body.first() == Some(&b'"') {
            let (rest, q) = quoted_string(body).map_err(|_| Fail {
                at: at(body.len()),
                what: "unterminated quoted display name",
            })?;
            let rest = trim_start_bytes(rest);
            if rest.first() != Some(&b'<') {
                return Err(Fail {
                    at: at(rest.len()),
                    what: "quoted display name not followed by <",
                });
            }
            (
                Some(DisplayName {
                    raw: q,
                    quoted: true,
                }),
                rest,
            )
        } else {
            // Tokens separated by LWS, then '<' (possibly without LWS, RFC 4475 §3.1.1.6);
            // otherwise this is an addr-spec.
            let n = body
                .iter()
                .take_while(|&&c| is_token(c) || is_lws(c))
                .count();
            match body.get(n) {
                Some(b'<') => {
                    let tokens = trim_end_bytes(body.get(..n).unwrap_or(b""));
                    let dn = (!tokens.is_empty()).then_some(DisplayName {
                        raw: tokens,
                        quoted: false,
                    });
                    (dn, body.get(n..).unwrap_or(b""))
                }
                _ => (None, body),
            }
        };
        // Only a quoted display name may hold octets that are not UTF-8.
        let after_display = utf8(after_display).map_err(|f| Fail {
            at: at(after_display.len()) + f.at,
            what: f.what,
        })?;
        let (uri, bracketed, rest) = if let Some(inside) = after_display.strip_prefix('<') {
            let close = memchr::memchr(b'>', inside.as_bytes()).ok_or(Fail {
                at: at(after_display.len()),
                what: "missing >",
            })?;
            let uri_text = inside.get(..close).unwrap_or("");
            let uri = Uri::parse_inner(uri_text).map_err(|f| Fail {
                at: at(inside.len()) + f.at,
                what: f.what,
            })?;
            (uri, true, inside.get(close + 1..).unwrap_or(""))
        } else {
            let end = after_display
                .bytes()
                .position(|c| c == b';' || is_lws(c))
                .unwrap_or(after_display.len());
            let uri_text = after_display.get(..end).unwrap_or("");
            if let Some(q) = uri_text.find(['?', ',']) {
                return Err(Fail {
                    at: at(after_display.len()) + q,
                    what: "URI with headers must be enclosed in <>",
                });
            }
            let uri = Uri::parse_inner(uri_text).map_err(|f| Fail {
                at: at(after_display.len()) + f.at,
                what: f.what,
            })?;
            (uri, false, after_display.get(end..).unwrap_or(""))
        };
        let (params, rest, tag) = Params::parse_header(rest, "tag").map_err(|p| Fail {
            at: at(rest.len()) + p,
            what: "invalid parameter",
        })?;
        if !trim_start(rest).is_empty() {
            return Err(Fail {
                at: at(rest.len()),
                what: "unexpected characters after address",
            });
        }
        Ok(NameAddr {
            raw,
            display_name,
            uri,
            bracketed,
            params,
            tag,
        })
    }

    /// The element as written (trimmed), as bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.raw
    }

    /// The element as written (trimmed), `None` when its display name is not UTF-8.
    pub fn as_str(&self) -> Option<&'a str> {
        std::str::from_utf8(self.raw).ok()
    }

    /// The display name, if any.
    pub fn display_name(&self) -> Option<DisplayName<'a>> {
        self.display_name
    }

    /// The URI.
    pub fn uri(&self) -> &Uri<'a> {
        &self.uri
    }

    /// Whether the URI was enclosed in `<>` (name-addr form) rather than a bare addr-spec.
    pub fn is_bracketed(&self) -> bool {
        self.bracketed
    }

    /// Header parameters after the address (`;tag=...;expires=...`).
    pub fn params(&self) -> Params<'a> {
        self.params
    }

    /// The `tag` parameter (From/To dialog identifier).
    pub fn tag(&self) -> Option<&'a str> {
        self.tag.filter(|t| !t.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_of_name_addr() {
        let a = NameAddr::parse("caller<sip:caller@example.com>;tag=323").unwrap();
        assert_eq!(a.display_name().unwrap().raw(), b"caller");
        assert!(a.is_bracketed());
        let b =
            NameAddr::parse(" sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n").unwrap();
        assert!(b.display_name().is_none());
        assert!(!b.is_bracketed());
        assert_eq!(b.tag(), Some("1918181833n"));
        let c =
            NameAddr::parse("token1~` token2'+_ token3*%!.- <sip:mundane@example.com>").unwrap();
        assert_eq!(
            c.display_name().unwrap().raw(),
            b"token1~` token2'+_ token3*%!.-"
        );
        let d = NameAddr::parse(r#""J Rosenberg \\\""       <sip:jdrosen@example.com>"#).unwrap();
        assert_eq!(d.display_name().unwrap().text(), r#"J Rosenberg \""#);
    }

    #[test]
    fn utf8_display_name() {
        // Synthetic number from the +86 170 virtual-operator range.
        let a = NameAddr::parse("\"张三\" <tel:+8617000000001>").unwrap();
        assert_eq!(a.display_name().unwrap().text(), "张三");
        assert_eq!(a.uri().user(), Some("+8617000000001"));
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "\"Mr. J. User <sip:j.user@example.com>",
            "Bell, Alexander <sip:a.g.bell@example.com>",
            "\"Watson, Thomas\" < sip:t.watson@example.org >",
            "sip:user@example.com?Route=%3Csip:sip.example.com%3E",
            "<sip:joe@example.org>;;;;",
            "",
        ] {
            assert!(NameAddr::parse(bad).is_err(), "{bad}");
        }
    }
}
