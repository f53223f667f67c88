//! Character classes of RFC 3261 §25.1 and small scanning helpers shared by the grammar modules.

/// `token` characters: alphanum and `-.!%*_+` `` ` `` `'~`.
pub(crate) const fn is_token(b: u8) -> bool {
    matches!(b,
        b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9'
        | b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~')
}

/// Linear white space inside an already indexed header value. The indexer guarantees that
/// a CR or LF inside a value is part of a CRLF followed by SP/HTAB (a fold), so treating
/// them as blanks here is exactly RFC 3261's LWS.
pub(crate) const fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// `word` characters (Call-ID): token plus `()<>:\"/[]?{}`.
pub(crate) const fn is_word(b: u8) -> bool {
    is_token(b)
        || matches!(
            b,
            b'(' | b')'
                | b'<'
                | b'>'
                | b':'
                | b'\\'
                | b'"'
                | b'/'
                | b'['
                | b']'
                | b'?'
                | b'{'
                | b'}'
        )
}

/// URI `unreserved`: alphanum and the marks `-_.!~*'()`.
pub(crate) const fn is_unreserved(b: u8) -> bool {
    matches!(b,
        b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9'
        | b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')')
}

/// Why a grammar piece did not parse: the offset from the start of the parsed text, and what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fail {
    pub(crate) at: usize,
    pub(crate) what: &'static str,
}

/// Skips leading LWS.
pub(crate) fn trim_start(s: &str) -> &str {
    s.trim_start_matches(|c: char| c.is_ascii() && is_lws(c as u8))
}

/// Skips trailing LWS.
pub(crate) fn trim_end(s: &str) -> &str {
    s.trim_end_matches(|c: char| c.is_ascii() && is_lws(c as u8))
}

/// Skips LWS on both sides.
pub(crate) fn trim(s: &str) -> &str {
    trim_end(trim_start(s))
}

/// Checks that every byte of `s` is unreserved, a valid `%XX` escape, or accepted by `extra`.
/// Returns the offset of the first bad byte.
pub(crate) fn check_escaped(s: &str, extra: fn(u8) -> bool) -> Result<(), usize> {
    let b = s.as_bytes();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            match (b.get(i + 1), b.get(i + 2)) {
                (Some(h), Some(l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => i += 3,
                _ => return Err(i),
            }
        } else if is_unreserved(c) || extra(c) {
            i += 1;
        } else {
            return Err(i);
        }
    }
    Ok(())
}

/// Splits the element list of a multi-valued header on commas that are outside quoted
/// strings and angle brackets. Empty elements are yielded (and rejected by the typed parsers).
#[derive(Debug, Clone)]
pub(crate) struct CommaSplit<'a> {
    rest: Option<&'a str>,
}

impl<'a> CommaSplit<'a> {
    pub(crate) fn new(s: &'a str) -> Self {
        CommaSplit { rest: Some(s) }
    }
}

impl<'a> Iterator for CommaSplit<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        let s = self.rest?;
        let b = s.as_bytes();
        let mut in_quote = false;
        let mut in_angle = false;
        let mut i = 0;
        while let Some(&c) = b.get(i) {
            match c {
                b'\\' if in_quote => i += 1,
                b'"' if !in_angle => in_quote = !in_quote,
                b'<' if !in_quote => in_angle = true,
                b'>' if !in_quote => in_angle = false,
                b',' if !in_quote && !in_angle => {
                    let (head, tail) = (s.get(..i), s.get(i + 1..));
                    self.rest = tail;
                    return head;
                }
                _ => {}
            }
            i += 1;
        }
        self.rest = None;
        Some(s)
    }
}

/// Byte offset of `inner` inside `outer`, when `inner` is a sub-slice of it.
pub(crate) fn offset_in(outer: &[u8], inner: &[u8]) -> Option<usize> {
    let start = (inner.as_ptr() as usize).checked_sub(outer.as_ptr() as usize)?;
    if start.checked_add(inner.len())? <= outer.len() {
        Some(start)
    } else {
        None
    }
}

/// Decodes `%XX` escapes of `s` (RFC 3261 §19.1.2), borrowing when there are none.
/// Invalid escapes are kept literally.
pub fn percent_decode(s: &str) -> std::borrow::Cow<'_, [u8]> {
    let b = s.as_bytes();
    if !b.contains(&b'%') {
        return std::borrow::Cow::Borrowed(b);
    }
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            if let (Some(h), Some(l)) = (b.get(i + 1).and_then(hex), b.get(i + 2).and_then(hex)) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    std::borrow::Cow::Owned(out)
}

fn hex(b: &u8) -> Option<u8> {
    (*b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comma_split_respects_quotes_and_brackets() {
        let v: Vec<_> = CommaSplit::new(r#""a,\"b" <sip:x;p=a,b>, <sip:y>,"#).collect();
        assert_eq!(v, vec![r#""a,\"b" <sip:x;p=a,b>"#, " <sip:y>", ""]);
    }

    #[test]
    fn percent_decode_keeps_nul_and_bad_escapes() {
        assert_eq!(&*percent_decode("null-%00-null"), b"null-\0-null");
        assert_eq!(&*percent_decode("%Z%45"), b"%ZE");
        assert!(matches!(
            percent_decode("plain"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn offsets_of_subslices() {
        let buf = b"hello world";
        assert_eq!(offset_in(buf, &buf[6..]), Some(6));
        assert_eq!(offset_in(buf, b"other"), None);
    }
}
