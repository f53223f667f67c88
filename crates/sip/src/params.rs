//! `;name=value` parameter lists of URIs and header values, kept as borrowed raw text and
//! iterated lazily (no allocation).

use nom::IResult;

use crate::lex::is_lws;

/// Which grammar a parameter list follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// URI parameters: no white space, `paramchar` names and values.
    Uri,
    /// Header parameters (`generic-param`): LWS around `;` and `=`, quoted values.
    Header,
}

/// A validated parameter list such as `;tag=a1;lr` borrowed from the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params<'a> {
    raw: &'a str,
    kind: Kind,
}

/// One parameter: its name and optional value exactly as written (quoted values keep quotes,
/// URI parameter values keep their `%XX` escapes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param<'a> {
    /// Parameter name as written.
    pub name: &'a str,
    /// Parameter value as written, `None` for a flag such as `;lr`.
    pub value: Option<&'a str>,
}

impl<'a> Params<'a> {
    pub(crate) const EMPTY_URI: Params<'static> = Params {
        raw: "",
        kind: Kind::Uri,
    };

    /// The list as written, starting at its first `;` (empty when there are none).
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// Whether the list has no parameter.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Iterates the parameters in order.
    pub fn iter(&self) -> ParamIter<'a> {
        ParamIter {
            text: self.raw,
            rest: self.raw.as_bytes(),
            kind: self.kind,
        }
    }

    /// The first parameter named `name` (ASCII case-insensitive): `Some(None)` for a flag,
    /// `Some(Some(value))` with a value, `None` when absent.
    pub fn get(&self, name: &str) -> Option<Option<&'a str>> {
        self.iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .map(|p| p.value)
    }

    /// Whether a parameter named `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Parses a URI parameter list at the start of `input`; stops at the first byte that
    /// cannot continue it. Fails on an empty name or a bad escape.
    pub(crate) fn parse_uri(input: &'a str) -> Result<(Params<'a>, &'a str), usize> {
        let mut rest = input.as_bytes();
        while rest.first() == Some(&b';') {
            match uri_param(rest) {
                Ok((r, _)) => rest = r,
                Err(_) => return Err(input.len() - rest.len()),
            }
        }
        let used = input.len() - rest.len();
        let (raw, tail) = (
            input.get(..used).unwrap_or(""),
            input.get(used..).unwrap_or(""),
        );
        Ok((
            Params {
                raw,
                kind: Kind::Uri,
            },
            tail,
        ))
    }

    /// Parses a header parameter list at the start of `input` (leading LWS allowed); stops
    /// before trailing LWS or the first byte that cannot continue it. Also returns the value
    /// of the first parameter named `capture` (e.g. `tag`, `branch`) found on the way.
    pub(crate) fn parse_header(
        input: &'a str,
        capture: &str,
    ) -> Result<(Params<'a>, &'a str, Option<&'a str>), usize> {
        let mut rest = input.as_bytes();
        let mut captured = None;
        loop {
            let after_ws = skip_lws(rest);
            if after_ws.first() != Some(&b';') {
                break;
            }
            match header_param(rest) {
                Ok((r, (name, value))) => {
                    if captured.is_none() && name.eq_ignore_ascii_case(capture.as_bytes()) {
                        captured = Some(value.map_or("", |v| back(input, v)));
                    }
                    rest = r;
                }
                Err(_) => return Err(input.len() - after_ws.len()),
            }
        }
        let used = input.len() - rest.len();
        let (raw, tail) = (
            input.get(..used).unwrap_or(""),
            input.get(used..).unwrap_or(""),
        );
        Ok((
            Params {
                raw,
                kind: Kind::Header,
            },
            tail,
            captured,
        ))
    }
}

/// The `&str` view of `part`, a sub-slice of `text`'s bytes found by the byte-level parsers
/// (which only ever split at ASCII bytes, so the boundaries are character boundaries).
fn back<'a>(text: &'a str, part: &[u8]) -> &'a str {
    crate::lex::offset_in(text.as_bytes(), part)
        .and_then(|o| text.get(o..o + part.len()))
        .unwrap_or("")
}

#[inline(always)]
fn skip_lws(b: &[u8]) -> &[u8] {
    b.get(crate::lex::run(b, crate::lex::LWS)..).unwrap_or(b"")
}

impl<'a> IntoIterator for Params<'a> {
    type Item = Param<'a>;
    type IntoIter = ParamIter<'a>;
    fn into_iter(self) -> ParamIter<'a> {
        self.iter()
    }
}

/// Iterator over a [`Params`] list.
#[derive(Debug, Clone)]
pub struct ParamIter<'a> {
    text: &'a str,
    rest: &'a [u8],
    kind: Kind,
}

impl<'a> Iterator for ParamIter<'a> {
    type Item = Param<'a>;
    fn next(&mut self) -> Option<Param<'a>> {
        let parsed = match self.kind {
            Kind::Uri => uri_param(self.rest),
            Kind::Header => header_param(self.rest),
        };
        match parsed {
            Ok((rest, (name, value))) => {
                self.rest = rest;
                Some(Param {
                    name: back(self.text, name),
                    value: value.map(|v| back(self.text, v)),
                })
            }
            Err(_) => None,
        }
    }
}

type In<'a> = &'a [u8];

/// `paramchar`: unreserved, escaped, or one of `[]/:&+$`.
fn paramchars(i: In<'_>) -> IResult<In<'_>, In<'_>> {
    let n = crate::lex::escaped_run(i, crate::lex::PARAM);
    match (i.get(..n), i.get(n..)) {
        (Some(head), Some(tail)) if n > 0 => Ok((tail, head)),
        _ => Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::TakeWhile1,
        ))),
    }
}

fn uri_param(i: In<'_>) -> IResult<In<'_>, (In<'_>, Option<In<'_>>)> {
    let fail = || nom::Err::Error(nom::error::Error::new(i, nom::error::ErrorKind::Char));
    let Some((b';', after_semi)) = i.split_first() else {
        return Err(fail());
    };
    let (after_name, name) = paramchars(after_semi)?;
    if let Some((b'=', v)) = after_name.split_first() {
        if let Ok((rest, value)) = paramchars(v) {
            return Ok((rest, (name, Some(value))));
        }
    }
    Ok((after_name, (name, None)))
}

/// `quoted-string` including its quotes: qdtext or quoted-pair (`\` + any octet but CR/LF).
pub(crate) fn quoted_string(i: In<'_>) -> IResult<In<'_>, In<'_>> {
    let fail = || nom::Err::Error(nom::error::Error::new(i, nom::error::ErrorKind::Char));
    if i.first() != Some(&b'"') {
        return Err(fail());
    }
    let mut n = 1;
    loop {
        match i.get(n) {
            None => return Err(fail()),
            Some(b'"') => break,
            Some(b'\\') => match i.get(n + 1) {
                Some(b'\r' | b'\n') | None => return Err(fail()),
                Some(_) => n += 2,
            },
            Some(&c) if c < 0x20 && !is_lws(c) || c == 0x7f => return Err(fail()),
            Some(_) => n += 1,
        }
    }
    match (i.get(..n + 1), i.get(n + 1..)) {
        (Some(q), Some(rest)) => Ok((rest, q)),
        _ => Err(fail()),
    }
}

/// `gen-value`: a quoted string, or a run of `gen-value` characters — token, plus `[`, `]`
/// and `:` so that IPv6 references and bare IPv6 `received` values (RFC 5118 §4.5) are
/// accepted.
#[inline]
fn gen_value(i: In<'_>) -> Option<(In<'_>, In<'_>)> {
    if i.first() == Some(&b'"') {
        return quoted_string(i).ok();
    }
    let n = crate::lex::run_long(i, crate::lex::GEN_VALUE);
    match (i.get(..n), i.get(n..)) {
        (Some(value), Some(rest)) if n > 0 => Some((rest, value)),
        _ => None,
    }
}

/// `SEMI generic-param`: `SWS ";" SWS token [ SWS "=" SWS gen-value ]`. Hand-written on
/// the hot path (it runs for every tag and branch).
fn header_param(input: In<'_>) -> IResult<In<'_>, (In<'_>, Option<In<'_>>)> {
    let fail = || nom::Err::Error(nom::error::Error::new(input, nom::error::ErrorKind::Char));
    let i = skip_lws(input);
    let i = match i.split_first() {
        Some((b';', rest)) => skip_lws(rest),
        _ => return Err(fail()),
    };
    let n = crate::lex::run(i, crate::lex::TOKEN);
    let (name, after_name) = (i.get(..n).unwrap_or(b""), i.get(n..).unwrap_or(b""));
    if n == 0 {
        return Err(fail());
    }
    let eq = skip_lws(after_name);
    if let Some((b'=', rest)) = eq.split_first() {
        if let Some((rest, value)) = gen_value(skip_lws(rest)) {
            return Ok((rest, (name, Some(value))));
        }
    }
    Ok((after_name, (name, None)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_params_with_lws_and_quotes() {
        let (p, rest, x) =
            Params::parse_header(" ;   tag    = 1918181833n ;x=\"a;b\";lr  ", "x").unwrap();
        assert_eq!(rest, "  ");
        assert_eq!(x, Some("\"a;b\""));
        assert_eq!(p.get("TAG"), Some(Some("1918181833n")));
        assert_eq!(p.get("x"), Some(Some("\"a;b\"")));
        assert_eq!(p.get("lr"), Some(None));
        assert_eq!(p.get("nope"), None);
        assert_eq!(p.iter().count(), 3);
    }

    #[test]
    fn empty_header_param_is_rejected() {
        assert!(Params::parse_header(";;", "").is_err());
        // A dangling '=' is left unconsumed for the caller to reject.
        assert_eq!(Params::parse_header(";a=", "").unwrap().1, "=");
    }

    #[test]
    fn uri_params_stop_at_headers_and_keep_escapes() {
        let (p, rest) = Params::parse_uri(";%6C%72;n%61me=v%61lue%25%34%31?h=1").unwrap();
        assert_eq!(rest, "?h=1");
        assert_eq!(
            p.iter().map(|p| p.name).collect::<Vec<_>>(),
            vec!["%6C%72", "n%61me"]
        );
        assert_eq!(p.get("n%61me"), Some(Some("v%61lue%25%34%31")));
    }

    #[test]
    fn quoted_string_rejects_controls_and_bad_escapes() {
        assert!(quoted_string(b"\"a\x01b\"").is_err());
        assert!(quoted_string(b"\"a\x7f\"").is_err());
        assert!(quoted_string(b"\"a\\\r\n\"").is_err());
        assert!(quoted_string(b"\"a\\").is_err());
        // An escaped control character and folded white space are allowed.
        assert_eq!(
            quoted_string(b"\"a\\\x01\r\n b\" x").unwrap(),
            (&b" x"[..], &b"\"a\\\x01\r\n b\""[..])
        );
        assert_eq!(quoted_string("\"张三\"<".as_bytes()).unwrap().0, b"<");
    }

    #[test]
    fn quoted_string_handles_escapes() {
        assert_eq!(
            quoted_string(br#""J Rosenberg \\\"" <x>"#).unwrap(),
            (&b" <x>"[..], &br#""J Rosenberg \\\"""#[..])
        );
        assert!(quoted_string(b"\"unterminated").is_err());
    }
}
