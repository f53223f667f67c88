//! `Uri<'a>`: SIP and SIPS URIs (RFC 3261 §19.1), `tel` URIs (RFC 3966), and any other
//! absolute URI kept opaque. Every part is a view into the message.

use std::borrow::Cow;

use crate::lex::{
    check_escaped, class, percent_decode, Fail, ALPHA, DASH, DIGIT, DOT, HOST, NO_DASH_AFTER,
    NO_DOT_AFTER,
};
use crate::params::Params;

/// The scheme of a URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme<'a> {
    /// `sip:`
    Sip,
    /// `sips:`
    Sips,
    /// `tel:` (RFC 3966)
    Tel,
    /// Any other scheme (e.g. `http`, `isbn`); the rest of the URI is opaque.
    Other(&'a str),
}

/// The host part of a SIP URI or a Via sent-by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host<'a> {
    /// A domain name such as `example.com`.
    Name(&'a str),
    /// A dotted IPv4 address.
    Ipv4(std::net::Ipv4Addr),
    /// An IPv6 reference; the text is without the brackets.
    Ipv6(&'a str, std::net::Ipv6Addr),
}

impl<'a> Host<'a> {
    /// Parses `hostname / IPv4address / IPv6reference` at the start of `s`; returns the host
    /// and the rest. `Err` holds the offset of the first bad byte.
    pub(crate) fn parse(s: &'a str) -> Result<(Host<'a>, &'a str), usize> {
        if let Some(inner_and_rest) = s.strip_prefix('[') {
            let close = inner_and_rest.find(']').ok_or(s.len())?;
            let inner = inner_and_rest.get(..close).ok_or(0usize)?;
            let addr = inner.parse::<std::net::Ipv6Addr>().map_err(|_| 1usize)?;
            let rest = inner_and_rest.get(close + 1..).ok_or(s.len())?;
            return Ok((Host::Ipv6(inner, addr), rest));
        }
        let b = s.as_bytes();
        let (end, classes) = match host_name_fast(b) {
            Some(found) => found,
            None => (host_name_slow(b)?, ALPHA),
        };
        // All digits and dots: an IPv4 candidate.
        let numeric = classes & (ALPHA | DASH) == 0;
        let (name, rest) = (s.get(..end).ok_or(0usize)?, s.get(end..).ok_or(0usize)?);
        if numeric {
            return match parse_ipv4(name.as_bytes()) {
                Some(a) => Ok((Host::Ipv4(a), rest)),
                None => Err(0),
            };
        }
        Ok((Host::Name(name), rest))
    }
}

/// The length of the host name at the start of `b` when it is well formed (labels of
/// alphanum and `-`, not starting or ending with `-`; an optional final dot), with the union
/// of its bytes' classes; else `None`. Branch-free per byte: the class table carries the
/// "may not follow" bits.
#[inline]
fn host_name_fast(b: &[u8]) -> Option<(usize, u16)> {
    let mut prev = NO_DOT_AFTER | NO_DASH_AFTER; // as if after a '.'
    let mut bad = 0;
    let mut all = 0;
    let mut end = 0;
    while let Some(&c) = b.get(end) {
        let k = class(c);
        if k & HOST == 0 {
            break;
        }
        bad |= (prev >> 2) & k;
        all |= k;
        prev = k;
        end += 1;
    }
    (end > 0 && bad & (DOT | DASH) == 0 && prev & DASH == 0).then_some((end, all))
}

/// A dotted quad exactly as `std::net::Ipv4Addr` reads it (four decimal octets of at most
/// 255, no leading zeros), without its general-purpose parser.
fn parse_ipv4(b: &[u8]) -> Option<std::net::Ipv4Addr> {
    let mut octets = [0u8; 4];
    let (mut at, mut value, mut digits) = (0usize, 0u16, 0u8);
    for &c in b {
        if c == b'.' {
            let slot = octets.get_mut(at).filter(|_| digits > 0 && at < 3)?;
            *slot = u8::try_from(value).ok()?;
            (at, value, digits) = (at + 1, 0, 0);
        } else if c.is_ascii_digit() && digits < 3 && !(digits == 1 && value == 0) {
            value = value * 10 + u16::from(c - b'0');
            digits += 1;
        } else {
            return None;
        }
    }
    let last = octets.get_mut(3).filter(|_| digits > 0 && at == 3)?;
    *last = u8::try_from(value).ok()?;
    Some(std::net::Ipv4Addr::from(octets))
}

/// The reference per-byte check, run only to report where a bad host name fails.
fn host_name_slow(b: &[u8]) -> Result<usize, usize> {
    let mut end = 0;
    let mut prev = b'.';
    for &c in b {
        let k = class(c);
        if k & (ALPHA | DIGIT) == 0 {
            if k & HOST == 0 {
                break;
            }
            // '.' or '-'
            if prev == b'.' || (c == b'.' && prev == b'-') {
                return Err(end);
            }
        }
        prev = c;
        end += 1;
    }
    if end == 0 || prev == b'-' {
        return Err(end);
    }
    Ok(end)
}

impl std::fmt::Display for Host<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Host::Name(n) => f.write_str(n),
            Host::Ipv4(a) => write!(f, "{a}"),
            Host::Ipv6(t, _) => write!(f, "[{t}]"),
        }
    }
}

/// A parsed URI borrowing the message bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uri<'a> {
    raw: &'a str,
    scheme: Scheme<'a>,
    user: Option<&'a str>,
    password: Option<&'a str>,
    host: Option<Host<'a>>,
    port: Option<u16>,
    params: Params<'a>,
    headers: Option<&'a str>,
}

fn err(at: usize, what: &'static str) -> Fail {
    Fail { at, what }
}

impl<'a> Uri<'a> {
    /// Parses a complete absolute URI (the whole of `s`).
    ///
    /// ```
    /// use interdict_sip::{Uri, Scheme};
    /// // Synthetic number from the +86 170 virtual-operator range.
    /// let uri = Uri::parse("sip:+8617000000001@ims.example.net;user=phone").unwrap();
    /// assert_eq!(uri.scheme(), Scheme::Sip);
    /// assert_eq!(uri.user(), Some("+8617000000001"));
    /// assert!(uri.is_phone());
    /// ```
    pub fn parse(s: &'a str) -> Result<Uri<'a>, crate::Error> {
        Self::parse_inner(s).map_err(|e| crate::Error::InvalidHeader {
            name: "URI",
            offset: e.at,
            what: e.what,
        })
    }

    pub(crate) fn parse_inner(s: &'a str) -> Result<Uri<'a>, Fail> {
        // scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":"
        let b = s.as_bytes();
        // The schemes met in practice, without the general scheme scan.
        if let Some(p) = b.get(..4) {
            if p.eq_ignore_ascii_case(b"sip:") {
                return Self::parse_sip(s, Scheme::Sip, s.get(4..).unwrap_or(""), 4);
            }
            if p.eq_ignore_ascii_case(b"tel:") {
                return Self::parse_tel(s, s.get(4..).unwrap_or(""), 4);
            }
        }
        if !b.first().is_some_and(u8::is_ascii_alphabetic) {
            return Err(err(0, "invalid scheme"));
        }
        let colon = b
            .iter()
            .position(|&c| !(c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.')))
            .unwrap_or(b.len());
        if b.get(colon) != Some(&b':') {
            return Err(err(colon, "invalid scheme"));
        }
        let scheme = s.get(..colon).ok_or(err(0, "no scheme"))?;
        let rest = s.get(colon + 1..).ok_or(err(colon, "no scheme"))?;
        let base = colon + 1;
        if scheme.eq_ignore_ascii_case("sip") {
            Self::parse_sip(s, Scheme::Sip, rest, base)
        } else if scheme.eq_ignore_ascii_case("sips") {
            Self::parse_sip(s, Scheme::Sips, rest, base)
        } else if scheme.eq_ignore_ascii_case("tel") {
            Self::parse_tel(s, rest, base)
        } else {
            // Opaque absolute URI: any visible ASCII except the delimiters of header values.
            let bad = rest
                .bytes()
                .position(|c| !(c.is_ascii_graphic()) || matches!(c, b'<' | b'>' | b'"'));
            if rest.is_empty() {
                return Err(err(base, "empty URI"));
            }
            if let Some(p) = bad {
                return Err(err(base + p, "invalid character in URI"));
            }
            Ok(Uri {
                raw: s,
                scheme: Scheme::Other(scheme),
                user: None,
                password: None,
                host: None,
                port: None,
                params: Params::EMPTY_URI,
                headers: None,
            })
        }
    }

    fn parse_sip(
        raw: &'a str,
        scheme: Scheme<'a>,
        rest: &'a str,
        base: usize,
    ) -> Result<Uri<'a>, Fail> {
        // '@' cannot appear unescaped after the userinfo, so the first one ends it.
        let (userinfo, hostpart, host_base) = match memchr::memchr(b'@', rest.as_bytes()) {
            Some(at) => (
                rest.get(..at),
                rest.get(at + 1..).ok_or(err(base + at, "bad userinfo"))?,
                base + at + 1,
            ),
            None => (None, rest, base),
        };
        let (mut user, mut password) = (None, None);
        if let Some(ui) = userinfo {
            // The user part's characters exclude ':', so its run ends at the password.
            let n = crate::lex::escaped_run(ui.as_bytes(), crate::lex::USER);
            if n == 0 {
                return Err(err(base, "empty or invalid user part"));
            }
            let u = ui.get(..n).unwrap_or("");
            let p = match ui.as_bytes().get(n) {
                None => None,
                Some(b':') => ui.get(n + 1..),
                Some(_) => return Err(err(base + n, "invalid character in user part")),
            };
            if let Some(pw) = p {
                check_escaped(pw, crate::lex::PASSWORD)
                    .map_err(|p| err(base + u.len() + 1 + p, "invalid character in password"))?;
            }
            user = Some(u);
            password = p;
        }
        let (host, mut rest) =
            Host::parse(hostpart).map_err(|p| err(host_base + p, "invalid host"))?;
        let mut port = None;
        if let Some(after) = rest.strip_prefix(':') {
            let n = after.bytes().take_while(u8::is_ascii_digit).count();
            let digits = after.get(..n).unwrap_or("");
            let at = raw.len() - after.len();
            port = Some(parse_port(digits).ok_or(err(at, "invalid port"))?);
            rest = after.get(n..).unwrap_or("");
        }
        let at = raw.len() - rest.len();
        let (params, rest) =
            Params::parse_uri(rest).map_err(|p| err(at + p, "invalid URI parameter"))?;
        let mut headers = None;
        let at = raw.len() - rest.len();
        if let Some(h) = rest.strip_prefix('?') {
            // hname "=" hvalue *( "&" hname "=" hvalue )
            for (i, pair) in h.split('&').enumerate() {
                let (name, value) = pair
                    .split_once('=')
                    .ok_or(err(at + 1, "invalid URI header"))?;
                let hnv = crate::lex::HNV;
                if name.is_empty()
                    || check_escaped(name, hnv).is_err()
                    || check_escaped(value, hnv).is_err()
                {
                    return Err(err(at + 1 + i, "invalid URI header"));
                }
            }
            headers = Some(h);
        } else if !rest.is_empty() {
            return Err(err(at, "unexpected character in URI"));
        }
        Ok(Uri {
            raw,
            scheme,
            user,
            password,
            host: Some(host),
            port,
            params,
            headers,
        })
    }

    fn parse_tel(raw: &'a str, rest: &'a str, base: usize) -> Result<Uri<'a>, Fail> {
        let end = rest.find(';').unwrap_or(rest.len());
        let number = rest.get(..end).unwrap_or("");
        let visual = |c: u8| matches!(c, b'-' | b'.' | b'(' | b')');
        let ok = if let Some(global) = number.strip_prefix('+') {
            global.bytes().any(|c| c.is_ascii_digit())
                && global.bytes().all(|c| c.is_ascii_digit() || visual(c))
        } else {
            number
                .bytes()
                .any(|c| c.is_ascii_hexdigit() || c == b'*' || c == b'#')
                && number
                    .bytes()
                    .all(|c| c.is_ascii_hexdigit() || matches!(c, b'*' | b'#') || visual(c))
        };
        if !ok {
            return Err(err(base, "invalid telephone number"));
        }
        let tail = rest.get(end..).unwrap_or("");
        let (params, left) =
            Params::parse_uri(tail).map_err(|p| err(base + end + p, "invalid tel parameter"))?;
        if !left.is_empty() {
            return Err(err(
                raw.len() - left.len(),
                "unexpected character in tel URI",
            ));
        }
        Ok(Uri {
            raw,
            scheme: Scheme::Tel,
            user: Some(number),
            password: None,
            host: None,
            port: None,
            params,
            headers: None,
        })
    }

    /// The whole URI as written.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme<'a> {
        self.scheme
    }

    /// The user part as written (with `%XX` escapes); for `tel:` the number as written
    /// (visual separators included). `None` when the URI has no user part.
    pub fn user(&self) -> Option<&'a str> {
        self.user
    }

    /// The user part with `%XX` escapes decoded (RFC 4475 §3.1.1.3); borrows when there are none.
    /// Decoded bytes may include NUL (§3.1.1.4) and need not be UTF-8.
    pub fn user_decoded(&self) -> Option<Cow<'a, [u8]>> {
        self.user.map(percent_decode)
    }

    /// The password of the userinfo, if any (as written).
    pub fn password(&self) -> Option<&'a str> {
        self.password
    }

    /// The host (SIP/SIPS URIs only).
    pub fn host(&self) -> Option<Host<'a>> {
        self.host
    }

    /// The explicit port, if any.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// URI parameters (`;user=phone;transport=tcp`, or the tel parameters).
    pub fn params(&self) -> Params<'a> {
        self.params
    }

    /// The headers after `?` as written (escaped), if any.
    pub fn headers(&self) -> Option<&'a str> {
        self.headers
    }

    /// `phone-context` of a tel URI (or of a SIP URI whose user part carries it as a parameter
    /// is not decoded here; see [`Uri::user`]).
    pub fn phone_context(&self) -> Option<&'a str> {
        self.params.get("phone-context").flatten()
    }

    /// Whether the URI names a telephone number: a `tel:` URI, or a SIP URI with `user=phone`.
    pub fn is_phone(&self) -> bool {
        match self.scheme {
            Scheme::Tel => true,
            Scheme::Sip | Scheme::Sips => self
                .params
                .get("user")
                .flatten()
                .is_some_and(|v| v.eq_ignore_ascii_case("phone")),
            Scheme::Other(_) => false,
        }
    }

    /// The dialled digits of the user part: digits, `+`, `*`, `#` and hex letters, with the
    /// RFC 3966 visual separators `-.()` removed and anything after a `;` in the user part
    /// ignored. Zero-copy iterator.
    pub fn telephone_digits(&self) -> impl Iterator<Item = u8> + 'a {
        let user = self.user.unwrap_or("");
        let number = user.split(';').next().unwrap_or("");
        number
            .bytes()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'*' | b'#'))
    }
}

fn parse_port(digits: &str) -> Option<u16> {
    if digits.is_empty() || digits.len() > 5 {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_uri_parts() {
        let u =
            Uri::parse("sip:alice:secret@[2001:db8::10]:5070;transport=tcp;lr?subject=hi").unwrap();
        assert_eq!(u.user(), Some("alice"));
        assert_eq!(u.password(), Some("secret"));
        assert!(matches!(u.host(), Some(Host::Ipv6("2001:db8::10", _))));
        assert_eq!(u.port(), Some(5070));
        assert_eq!(u.params().get("transport"), Some(Some("tcp")));
        assert_eq!(u.params().get("lr"), Some(None));
        assert_eq!(u.headers(), Some("subject=hi"));
    }

    #[test]
    fn escaped_user_is_decoded_on_demand() {
        let u = Uri::parse("sip:sips%3Auser%40example.com@example.net").unwrap();
        assert_eq!(u.user(), Some("sips%3Auser%40example.com"));
        assert_eq!(&*u.user_decoded().unwrap(), b"sips:user@example.com");
    }

    #[test]
    fn tel_uris_global_and_local() {
        // Synthetic numbers.
        let g = Uri::parse("tel:+86-170-0000-0001").unwrap();
        assert_eq!(g.scheme(), Scheme::Tel);
        assert!(g.is_phone());
        assert_eq!(
            g.telephone_digits().collect::<Vec<_>>(),
            b"+8617000000001".to_vec()
        );
        let l = Uri::parse("tel:7042;phone-context=example.com").unwrap();
        assert_eq!(l.user(), Some("7042"));
        assert_eq!(l.phone_context(), Some("example.com"));
        assert!(Uri::parse("tel:+").is_err());
    }

    #[test]
    fn rejects_bad_sip_uris() {
        for bad in [
            "sip:2001:db8::10",
            "sip:user@",
            "<sip:a@b>",
            "sip:a@b c",
            "sip:@host",
            "sip:a@b:99999",
            "sip:u@[2001:db8:::192.0.2.1]",
        ] {
            assert!(Uri::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fast_host_check_agrees_with_the_reference() {
        // Every string of up to 5 bytes over the alphabet that matters to the label rules.
        let alphabet = b"a1.-;";
        let mut cases = vec![Vec::new()];
        for _ in 0..5 {
            let longer: Vec<Vec<u8>> = cases
                .iter()
                .filter(|c| c.len() == cases.last().unwrap().len())
                .flat_map(|c| {
                    alphabet.iter().map(move |&x| {
                        let mut v = c.clone();
                        v.push(x);
                        v
                    })
                })
                .collect();
            cases.extend(longer);
        }
        assert_eq!(cases.len(), 1 + 5 + 25 + 125 + 625 + 3125);
        for c in &cases {
            assert_eq!(
                host_name_fast(c).map(|(end, _)| end),
                host_name_slow(c).ok(),
                "{c:?}"
            );
        }
        assert_eq!(host_name_fast(b"a-b.c.").map(|f| f.0), Some(6));
        assert_eq!(
            host_name_fast(b"1.2").map(|f| f.1 & (ALPHA | DASH)),
            Some(0)
        );
        assert_eq!(host_name_slow(b"a.-b"), Err(2));
    }

    #[test]
    fn ipv4_reader_agrees_with_std() {
        // Every string of up to 7 bytes over digits, dot and a letter.
        let alphabet = b"0125.9a";
        let mut level = vec![Vec::new()];
        let mut total = 0;
        for _ in 0..7 {
            let mut next = Vec::new();
            for c in &level {
                for &x in alphabet {
                    let mut v: Vec<u8> = c.clone();
                    v.push(x);
                    let text = std::str::from_utf8(&v).unwrap();
                    assert_eq!(parse_ipv4(&v), text.parse().ok(), "{text}");
                    total += 1;
                    next.push(v);
                }
            }
            level = next;
        }
        assert!(total > 900_000);
        for ok in ["192.0.2.10", "255.255.255.255", "0.0.0.0", "10.200.3.4"] {
            assert_eq!(parse_ipv4(ok.as_bytes()), ok.parse().ok(), "{ok}");
        }
        for bad in [
            "256.1.1.1",
            "1.2.3.4.",
            "1.2.3",
            "01.2.3.4",
            "1.2.3.999",
            "1..2.3",
        ] {
            assert_eq!(parse_ipv4(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn other_schemes_are_opaque() {
        let u = Uri::parse("soap.beep://192.0.2.103:3002").unwrap();
        assert_eq!(u.scheme(), Scheme::Other("soap.beep"));
        assert_eq!(u.host(), None);
    }
}
