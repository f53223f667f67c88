//! `NameAddr<'a>`: the `name-addr / addr-spec` of From, To, Contact, P-Asserted-Identity,
//! Diversion, History-Info, Route and Record-Route (RFC 3261 §20, §25.1).

use std::borrow::Cow;

use crate::lex::{is_lws, is_token, trim_end, trim_start, Fail};
use crate::params::{quoted_string, Params};
use crate::uri::Uri;

/// A display name as written: a quoted string or a sequence of tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DisplayName<'a> {
    raw: &'a str,
    quoted: bool,
}

impl<'a> DisplayName<'a> {
    /// The display name exactly as written (quotes included when quoted).
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// Whether it was written as a quoted string.
    pub fn is_quoted(&self) -> bool {
        self.quoted
    }

    /// The text between the quotes with quoted-pairs still escaped (or the token form as is).
    pub fn inner(&self) -> &'a str {
        if self.quoted {
            self.raw
                .get(1..self.raw.len().saturating_sub(1))
                .unwrap_or("")
        } else {
            self.raw
        }
    }

    /// The display name as the user sees it: quotes removed and `\x` quoted-pairs unescaped.
    /// Borrows unless there is an escape.
    pub fn text(&self) -> Cow<'a, str> {
        let inner = self.inner();
        if !self.quoted || !inner.contains('\\') {
            return Cow::Borrowed(inner);
        }
        let mut out = String::with_capacity(inner.len());
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            } else {
                out.push(c);
            }
        }
        Cow::Owned(out)
    }
}

/// An address: optional display name, URI, and header parameters (`tag`, `expires`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameAddr<'a> {
    raw: &'a str,
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
        Self::parse_inner(s).map_err(|f| crate::Error::InvalidHeader {
            name: "address",
            offset: f.at,
            what: f.what,
        })
    }

    pub(crate) fn parse_inner(s: &'a str) -> Result<NameAddr<'a>, Fail> {
        let at = |rest: &str| s.len() - rest.len();
        let body = trim_start(s);
        let raw = trim_end(body);
        let (display_name, after_display) = if body.starts_with('"') {
            let (rest_b, q_b) = quoted_string(body.as_bytes()).map_err(|_| Fail {
                at: at(body),
                what: "unterminated quoted display name",
            })?;
            let q = body.get(..q_b.len()).unwrap_or("");
            let rest = trim_start(body.get(body.len() - rest_b.len()..).unwrap_or(""));
            if !rest.starts_with('<') {
                return Err(Fail {
                    at: at(rest),
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
            let b = body.as_bytes();
            let n = b.iter().take_while(|&&c| is_token(c) || is_lws(c)).count();
            match b.get(n) {
                Some(b'<') => {
                    let tokens = trim_end(body.get(..n).unwrap_or(""));
                    let dn = (!tokens.is_empty()).then_some(DisplayName {
                        raw: tokens,
                        quoted: false,
                    });
                    (dn, body.get(n..).unwrap_or(""))
                }
                _ => (None, body),
            }
        };
        let (uri, bracketed, rest) = if let Some(inside) = after_display.strip_prefix('<') {
            let close = memchr::memchr(b'>', inside.as_bytes()).ok_or(Fail {
                at: at(after_display),
                what: "missing >",
            })?;
            let uri_text = inside.get(..close).unwrap_or("");
            let uri = Uri::parse_inner(uri_text).map_err(|f| Fail {
                at: at(inside) + f.at,
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
                    at: at(after_display) + q,
                    what: "URI with headers must be enclosed in <>",
                });
            }
            let uri = Uri::parse_inner(uri_text).map_err(|f| Fail {
                at: at(after_display) + f.at,
                what: f.what,
            })?;
            (uri, false, after_display.get(end..).unwrap_or(""))
        };
        let (params, rest, tag) = Params::parse_header(rest, "tag").map_err(|p| Fail {
            at: at(rest) + p,
            what: "invalid parameter",
        })?;
        if !trim_start(rest).is_empty() {
            return Err(Fail {
                at: at(rest),
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

    /// The element as written (trimmed).
    pub fn as_str(&self) -> &'a str {
        self.raw
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
        assert_eq!(a.display_name().unwrap().raw(), "caller");
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
            "token1~` token2'+_ token3*%!.-"
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
