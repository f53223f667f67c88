//! Contact points a message asks its reader to use: phone numbers, URLs and domains, QQ and WeChat
//! ids. A scam that says "call 400…" or "add VX kf8866" is caught by what it asks the victim to
//! contact, checked against the number lists and the lure-domain list.
//!
//! Extraction runs on the [`NormalisedText`] (full-width digits are ASCII, letters lower case,
//! look-alikes such as `VX` already folded to `微信`) and reports offsets in the ORIGINAL text.
//!
//! - **Phones**: digit groups joined by single spaces, `-` or `.` (`138 0000 0001`,
//!   `400-800-1234`), optionally with `+`: Chinese mobiles (`1[3-9]` + 9 digits, with or without
//!   `86`/`+86`/`0086`), 400/800 numbers (10 digits), fixed lines with trunk `0` (10–12 digits),
//!   international numbers with `+` or `00`, and 5-digit 95xxx/96xxx service numbers. The value is
//!   the digits (with a leading `+` when written), ready for the number normaliser.
//! - **URLs** with `http://`/`https://`, and **bare domains** (`abc-pay.top`, with a path they are
//!   reported as URLs) whose last label is a common top-level domain (so `照片.jpg` is not one).
//! - **QQ** ids after `qq`/`扣扣`/`企鹅` (5–11 digits), **WeChat** ids after `微信`/`wx`/`vx`/`weixin`
//!   (6–20 characters starting with a letter, or a number; a WeChat id that is also a phone number is
//!   reported as both).

use std::ops::Range;

use super::NormalisedText;

/// Most contacts recorded per message.
pub const MAX_CONTACTS: usize = 32;

/// What kind of contact point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContactKind {
    /// A telephone number (value: digits, with `+` when written).
    Phone,
    /// A URL (value: the URL, lower case; `host` is its host).
    Url,
    /// A bare domain (value and `host`: the domain, lower case).
    Domain,
    /// A QQ number.
    Qq,
    /// A WeChat id.
    WeChat,
}

impl ContactKind {
    /// Short lower-case name for evidence (`phone`, `url`, `domain`, `qq`, `wechat`).
    pub fn name(self) -> &'static str {
        match self {
            ContactKind::Phone => "phone",
            ContactKind::Url => "url",
            ContactKind::Domain => "domain",
            ContactKind::Qq => "qq",
            ContactKind::WeChat => "wechat",
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    kind: ContactKind,
    value: Range<usize>,
    host: Option<Range<usize>>,
    start: usize,
    end: usize,
}

/// One contact point found in a message, borrowed from [`Contacts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Contact<'a> {
    /// What kind of contact.
    pub kind: ContactKind,
    /// Canonical value: phone digits, URL, domain, QQ number or WeChat id (lower case).
    pub value: &'a str,
    /// For URLs and domains: the host name to check against the lure-domain list.
    pub host: Option<&'a str>,
    /// Byte offset where it starts in the ORIGINAL text.
    pub start: usize,
    /// Byte offset just past its end in the ORIGINAL text.
    pub end: usize,
}

/// Reusable list of the contacts found in one message (cleared by [`extract`]).
#[derive(Debug, Default, Clone)]
pub struct Contacts {
    values: String,
    entries: Vec<Entry>,
}

impl Contacts {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of contacts found.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none were found.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The contacts, in the order they appear.
    pub fn iter(&self) -> impl Iterator<Item = Contact<'_>> + '_ {
        self.entries.iter().map(|e| Contact {
            kind: e.kind,
            value: self.values.get(e.value.clone()).unwrap_or_default(),
            host: e.host.clone().and_then(|h| self.values.get(h)),
            start: e.start,
            end: e.end,
        })
    }

    fn clear(&mut self) {
        self.values.clear();
        self.entries.clear();
    }

    fn push(
        &mut self,
        kind: ContactKind,
        value: &str,
        host: Option<Range<usize>>,
        original: Range<usize>,
    ) {
        if self.entries.len() >= MAX_CONTACTS {
            return;
        }
        let at = self.values.len();
        self.values.push_str(value);
        let host = host.map(|h| at + h.start..at + h.end);
        self.entries.push(Entry {
            kind,
            value: at..self.values.len(),
            host,
            start: original.start,
            end: original.end,
        });
    }
}

/// Keywords (normalised) introducing a QQ number (the list `keyword_at` dispatches by first byte).
#[cfg(test)]
const QQ_KEYWORDS: &[&str] = &["qq", "扣扣", "企鹅"];
/// Keywords (normalised) introducing a WeChat id (the list `keyword_at` dispatches by first byte).
#[cfg(test)]
const WECHAT_KEYWORDS: &[&str] = &["微信", "weixin", "wx", "vx", "v信"];
/// Characters allowed between a keyword and the id (after normalisation).
const FILLERS: &[&str] = &[":", " ", "-", "号", "群", "加", "搜", "是", "为", "=", "id"];

/// Top-level domains accepted for bare domains (a URL with a scheme accepts any host).
const TLDS: &[&str] = &[
    "com", "cn", "net", "org", "top", "xyz", "cc", "vip", "info", "shop", "club", "site", "online",
    "live", "me", "tk", "ml", "ga", "cf", "gq", "app", "io", "co", "biz", "pro", "wang", "ltd",
    "work", "link", "fun", "icu", "store", "tech", "asia", "hk", "tw", "mo", "us", "uk", "jp",
    "kr", "ru", "in", "la", "ws", "tv", "so", "pw", "bet", "win", "cloud", "host", "space",
    "website", "xin", "ink", "red", "kim", "mobi", "name", "today", "group", "plus", "fit", "run",
    "gov", "edu",
];

/// Finds the contact points of a message.
///
/// `normalised` must be the normalisation of `original` (e.g. `TextHits::normalised()` after a
/// scan); results go to `out` (cleared first, at most [`MAX_CONTACTS`]).
///
/// One pass: characters that cannot start a contact (most of a Chinese text) are skipped whole
/// by `next_start`, and each ASCII token is tried once at its start, then skipped whole.
pub fn extract(normalised: &NormalisedText, original: &str, out: &mut Contacts) {
    out.clear();
    let text = normalised.as_str();
    let bytes = text.as_bytes();
    let mut i = 0usize;
    while out.len() < MAX_CONTACTS {
        let Some(at) = next_start(bytes, i) else {
            break;
        };
        i = at;
        let Some(&b) = bytes.get(i) else { break };
        if b >= 0x80 {
            // `next_start` stops at a non-ASCII byte only for the first two bytes of 微, 扣 or 企.
            if let Some(next) = keyword_contact(text, i, true, normalised, original, out) {
                i = next;
                continue;
            }
            i += 3;
            continue;
        }
        let boundary = i == 0 || bytes.get(i - 1).is_some_and(|&p| !is_token_byte(p));
        if matches!(b, b'q' | b'w' | b'v') {
            if let Some(next) = keyword_contact(text, i, boundary, normalised, original, out) {
                i = next;
                continue;
            }
        }
        // End of the run of letters, digits and `-` starting here: a domain needs a dot there.
        let mut word_end = i + 1;
        if boundary {
            if b == b'h' {
                if let Some(next) = url_at(text, i, normalised, original, out) {
                    i = next;
                    continue;
                }
            }
            if b.is_ascii_digit() || b == b'+' {
                if let Some(next) = phone_at(text, i, normalised, original, out) {
                    i = next;
                    continue;
                }
            }
            if b != b'+' {
                word_end = i + word_length(bytes.get(i..).unwrap_or_default());
                if bytes.get(word_end) == Some(&b'.') {
                    if let Some(next) = domain_at(text, i, normalised, original, out) {
                        i = next;
                        continue;
                    }
                }
            }
        }
        // Skip the rest of this token so nothing is found inside it (`kf8866`, `a@b.com`); the
        // bytes up to `word_end` are token bytes.
        i = word_end;
        while bytes.get(i).is_some_and(|&c| is_token_byte(c)) {
            i += 1;
        }
    }
}

/// Per byte, what [`next_start`] does: [`START_HERE`] where a contact may start (ASCII letters
/// and digits, `+`); for the lead bytes E4, E5 and E6 the second byte of the keyword character
/// with that lead (企 E4 BC 81, 微 E5 BE AE, 扣 E6 89 A3); otherwise the number of bytes to
/// skip (the length of the character this byte leads; 1 for other ASCII and for continuation
/// bytes).
// Evaluated at compile time: an out-of-range index would fail the build, not panic.
#[allow(clippy::indexing_slicing)]
const SKIP: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0usize;
    while b < 256 {
        let c = b as u8;
        t[b] = if c.is_ascii_alphanumeric() || c == b'+' {
            START_HERE
        } else if c == 0xE4 {
            0xBC
        } else if c == 0xE5 {
            0xBE
        } else if c == 0xE6 {
            0x89
        } else if c >= 0xF0 {
            4
        } else if c >= 0xE0 {
            3
        } else if c >= 0xC0 {
            2
        } else {
            1
        };
        b += 1;
    }
    t
};

/// [`SKIP`] value of bytes where a contact may start.
const START_HERE: u8 = 0;

/// The first position at or after `i` where a contact may start: an ASCII letter or digit, `+`,
/// or the first byte of 微, 扣 or 企 (the only characters starting a keyword); every other
/// character is skipped whole (`bytes` is UTF-8, so a lead byte gives its character's length).
fn next_start(bytes: &[u8], mut i: usize) -> Option<usize> {
    while let Some(&b) = bytes.get(i) {
        let step = SKIP.get(usize::from(b)).copied().unwrap_or(1);
        if step == START_HERE {
            return Some(i);
        }
        if step >= 0x80 {
            // E4, E5 or E6: `step` is the keyword character's second byte.
            if bytes.get(i + 1) == Some(&step) {
                return Some(i);
            }
            i += 3;
        } else {
            i += usize::from(step);
        }
    }
    None
}

/// Length of the run of ASCII letters, digits and `-` at the start of `bytes`.
fn word_length(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .position(|&c| !(c.is_ascii_alphanumeric() || c == b'-'))
        .unwrap_or(bytes.len())
}

#[cfg(test)]
fn utf8_len(lead: u8) -> usize {
    match lead {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

/// Bytes that belong to an ASCII token (id, domain, e-mail address).
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'@' | b'/')
}

fn original_range(
    normalised: &NormalisedText,
    original: &str,
    from: usize,
    to: usize,
) -> Option<Range<usize>> {
    normalised.original_range(original, from, to)
}

/// A QQ or WeChat keyword at `i`, followed by an id.
fn keyword_contact(
    text: &str,
    i: usize,
    boundary: bool,
    normalised: &NormalisedText,
    original: &str,
    out: &mut Contacts,
) -> Option<usize> {
    let (kind, keyword) = keyword_at(text.get(i..)?.as_bytes())?;
    if keyword
        .as_bytes()
        .first()
        .is_some_and(u8::is_ascii_alphanumeric)
        && !boundary
    {
        return None;
    }
    // Skip up to three fillers.
    let mut at = i + keyword.len();
    for _ in 0..3 {
        match FILLERS
            .iter()
            .find(|f| text.get(at..).is_some_and(|r| r.starts_with(**f)))
        {
            Some(f) => at += f.len(),
            None => break,
        }
    }
    let id_bytes = text.get(at..)?.as_bytes();
    let id_len = id_bytes
        .iter()
        .take_while(|&&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
        .count();
    let id = text.get(at..at + id_len)?;
    let all_digits = id.bytes().all(|c| c.is_ascii_digit());
    let valid = match kind {
        ContactKind::Qq => all_digits && (5..=11).contains(&id_len) && !id.starts_with('0'),
        _ => {
            (id.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
                && (6..=20).contains(&id_len))
                || (all_digits && (5..=15).contains(&id_len))
        }
    };
    if !valid {
        return None;
    }
    let range = original_range(normalised, original, i, at + id_len)?;
    out.push(kind, id, None, range);
    if kind == ContactKind::WeChat && all_digits {
        // A WeChat id that is a phone number is that phone.
        phone_at(text, at, normalised, original, out);
    }
    Some(at + id_len)
}

/// The QQ or WeChat keyword `rest` starts with, if any: the first of `qq`, `扣扣`, `企鹅`, `微信`,
/// `weixin`, `wx`, `vx`, `v信` that is a prefix, found by the first byte (keywords sharing a first byte
/// differ in their second, so at most one matches).
fn keyword_at(rest: &[u8]) -> Option<(ContactKind, &'static str)> {
    let (kind, keyword) = match rest.first()? {
        b'q' => (ContactKind::Qq, "qq"),
        0xE6 => (ContactKind::Qq, "扣扣"),
        0xE4 => (ContactKind::Qq, "企鹅"),
        0xE5 => (ContactKind::WeChat, "微信"),
        b'w' if rest.get(1) == Some(&b'e') => (ContactKind::WeChat, "weixin"),
        b'w' => (ContactKind::WeChat, "wx"),
        b'v' if rest.get(1) == Some(&b'x') => (ContactKind::WeChat, "vx"),
        b'v' => (ContactKind::WeChat, "v信"),
        _ => return None,
    };
    rest.starts_with(keyword.as_bytes())
        .then_some((kind, keyword))
}

/// A URL with an explicit scheme at `i`.
fn url_at(
    text: &str,
    i: usize,
    normalised: &NormalisedText,
    original: &str,
    out: &mut Contacts,
) -> Option<usize> {
    let rest = text.get(i..)?;
    if !rest.starts_with("http") {
        return None;
    }
    let scheme = ["https://", "http://"]
        .into_iter()
        .find(|s| rest.starts_with(s))?;
    let host_start = i + scheme.len();
    let host_len = host_length(text.get(host_start..)?);
    if host_len == 0 {
        return None;
    }
    let end = url_end(text, host_start + host_len);
    let value = text.get(i..end)?;
    let range = original_range(normalised, original, i, end)?;
    let host = scheme.len()..scheme.len() + host_len;
    out.push(ContactKind::Url, value, Some(host), range);
    Some(end)
}

/// Length of a host name (letters, digits, `-`, `.`) at the start of `s`, without a trailing dot.
fn host_length(s: &str) -> usize {
    let len = s
        .bytes()
        .take_while(|&c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.')
        .count();
    let trimmed = s.get(..len).unwrap_or_default().trim_end_matches('.');
    trimmed.len()
}

/// End of a URL whose host ends at `at`: port, path, query; trailing punctuation is not included.
fn url_end(text: &str, at: usize) -> usize {
    let bytes = text.as_bytes();
    if !bytes
        .get(at)
        .is_some_and(|&c| matches!(c, b'/' | b':' | b'?' | b'#'))
    {
        return at;
    }
    let mut end = at;
    while bytes.get(end).is_some_and(|&c| {
        c.is_ascii_graphic()
            && !matches!(
                c,
                b'"' | b'\'' | b'<' | b'>' | b'`' | b'{' | b'}' | b'|' | b'\\' | b'^'
            )
    }) {
        end += 1;
    }
    while end > at
        && bytes
            .get(end - 1)
            .is_some_and(|&c| matches!(c, b'.' | b',' | b')' | b'!' | b';' | b':' | b'?'))
    {
        end -= 1;
    }
    end
}

/// A bare domain (`abc-pay.top`, `www.example.com/login`) at `i`.
fn domain_at(
    text: &str,
    i: usize,
    normalised: &NormalisedText,
    original: &str,
    out: &mut Contacts,
) -> Option<usize> {
    // A word without a dot (the common case) is no domain: one pass finds the token's end and
    // whether it has a dot before the host is measured.
    let rest = text.get(i..)?.as_bytes();
    let mut dot = false;
    for &c in rest {
        if c == b'.' {
            dot = true;
            break;
        }
        if !(c.is_ascii_alphanumeric() || c == b'-') {
            break;
        }
    }
    if !dot {
        return None;
    }
    let host_len = host_length(text.get(i..)?);
    let host = text.get(i..i + host_len)?;
    // Not the domain of an e-mail address.
    if text.as_bytes().get(i + host_len) == Some(&b'@') {
        return None;
    }
    let mut labels = host.split('.');
    let mut count = 0usize;
    let mut last = "";
    for label in labels.by_ref() {
        if label.is_empty() || label.len() > 63 || label.starts_with('-') || label.ends_with('-') {
            return None;
        }
        count += 1;
        last = label;
    }
    // Every top-level domain is lower-case letters: anything else is rejected before the list.
    if count < 2 || !last.bytes().all(|c| c.is_ascii_lowercase()) || !TLDS.contains(&last) {
        return None;
    }
    let end = url_end(text, i + host_len);
    let kind = if end > i + host_len {
        ContactKind::Url
    } else {
        ContactKind::Domain
    };
    let value = text.get(i..end)?;
    let range = original_range(normalised, original, i, end)?;
    out.push(kind, value, Some(0..host_len), range);
    Some(end)
}

/// Longest digits kept for a phone number (E.164 has at most 15, plus `00`).
const MAX_PHONE_DIGITS: usize = 17;

/// A phone number at `i`: digit groups joined by single separators, the longest prefix of whole
/// groups that is a plausible number.
fn phone_at(
    text: &str,
    i: usize,
    normalised: &NormalisedText,
    original: &str,
    out: &mut Contacts,
) -> Option<usize> {
    let bytes = text.as_bytes();
    let plus = bytes.get(i) == Some(&b'+');
    let at = if plus { i + 1 } else { i };
    // Without `+`, a phone starts with 0 (trunk or 00), 1 (mobile), 4 (400), 8 (86, 800) or 9
    // (95xxx, 96xxx): `is_phone` refuses every other first digit, so amounts and dates
    // (`500.00`, `2024-01-15`) stop here.
    let first_ok = match bytes.get(at) {
        Some(b'0' | b'1' | b'4' | b'8' | b'9') => true,
        Some(d) => plus && d.is_ascii_digit(),
        None => false,
    };
    if !first_ok {
        return None;
    }
    // The common case, one group of digits (`482913`, `17000000001`): they are contiguous in the
    // text, so no copy is needed.
    let run = bytes
        .get(at..)
        .map_or(0, |r| r.iter().take_while(|d| d.is_ascii_digit()).count());
    let end = at + run;
    let joined = bytes
        .get(end)
        .is_some_and(|&c| matches!(c, b' ' | b'-' | b'.'))
        && bytes.get(end + 1).is_some_and(u8::is_ascii_digit);
    if !joined {
        let glued = bytes
            .get(end)
            .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_');
        if run > MAX_PHONE_DIGITS || glued || !is_phone(bytes.get(at..end)?, plus) {
            return None;
        }
        let range = original_range(normalised, original, i, end)?;
        out.push(ContactKind::Phone, text.get(i..end)?, None, range);
        return Some(end);
    }
    phone_groups(text, i, normalised, original, out)
}

/// [`phone_at`] for any number of groups (digits copied out of the text, group by group).
fn phone_groups(
    text: &str,
    i: usize,
    normalised: &NormalisedText,
    original: &str,
    out: &mut Contacts,
) -> Option<usize> {
    let bytes = text.as_bytes();
    let plus = bytes.get(i) == Some(&b'+');
    let mut at = if plus { i + 1 } else { i };
    if !bytes.get(at).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    // Digits (at most MAX_PHONE_DIGITS + 1) and, for every group end, (digit count, byte end).
    let mut digits = [0u8; MAX_PHONE_DIGITS + 1];
    let mut n = 0usize;
    let mut group_ends = [(0u8, 0u32); MAX_PHONE_DIGITS + 1];
    let mut groups = 0usize;
    loop {
        while let Some(&d) = bytes.get(at).filter(|d| d.is_ascii_digit()) {
            if n > MAX_PHONE_DIGITS {
                return None;
            }
            if let Some(slot) = digits.get_mut(n) {
                *slot = d;
            }
            n += 1;
            at += 1;
        }
        if let Some(slot) = group_ends.get_mut(groups) {
            // n <= MAX_PHONE_DIGITS + 1 and at < MAX_TEXT_BYTES: both fit.
            *slot = (n as u8, at as u32);
            groups += 1;
        }
        let sep = bytes
            .get(at)
            .is_some_and(|&c| matches!(c, b' ' | b'-' | b'.'));
        if sep && bytes.get(at + 1).is_some_and(u8::is_ascii_digit) {
            at += 1;
        } else {
            break;
        }
    }
    for &(count, end) in group_ends.get(..groups)?.iter().rev() {
        let (count, end) = (usize::from(count), end as usize);
        // Right boundary: not glued to letters.
        if bytes
            .get(end)
            .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
        {
            continue;
        }
        let ds = digits.get(..count)?;
        if is_phone(ds, plus) {
            let range = original_range(normalised, original, i, end)?;
            let mut value = [0u8; MAX_PHONE_DIGITS + 2];
            let mut len = 0usize;
            if plus {
                if let Some(slot) = value.first_mut() {
                    *slot = b'+';
                    len = 1;
                }
            }
            for &d in ds {
                if let Some(slot) = value.get_mut(len) {
                    *slot = d;
                    len += 1;
                }
            }
            let value = std::str::from_utf8(value.get(..len)?).ok()?;
            out.push(ContactKind::Phone, value, None, range);
            return Some(end);
        }
    }
    None
}

/// Whether a digit string looks like a phone number a scam would give.
fn is_phone(d: &[u8], plus: bool) -> bool {
    let mobile = |m: &[u8]| {
        m.len() == 11
            && m.first() == Some(&b'1')
            && m.get(1).is_some_and(|c| (b'3'..=b'9').contains(c))
    };
    if plus {
        return (8..=15).contains(&d.len());
    }
    if mobile(d) {
        return true;
    }
    if let Some(rest) = d.strip_prefix(b"0086").or_else(|| d.strip_prefix(b"86")) {
        if mobile(rest) {
            return true;
        }
    }
    if d.len() == 10 && (d.starts_with(b"400") || d.starts_with(b"800")) {
        return true;
    }
    if d.starts_with(b"00") {
        return (10..=17).contains(&d.len());
    }
    if d.first() == Some(&b'0') {
        return (10..=12).contains(&d.len()) && d.get(1).is_some_and(|c| *c != b'0');
    }
    d.len() == 5 && (d.starts_with(b"95") || d.starts_with(b"96"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::Normaliser;

    fn contacts(text: &str) -> Vec<(ContactKind, String, String)> {
        let n = Normaliser::with_lookalikes(&[("VX", "微信"), ("V信", "微信"), ("徽信", "微信")])
            .unwrap();
        let mut norm = NormalisedText::new();
        n.normalise_into(text, &mut norm);
        let mut out = Contacts::new();
        extract(&norm, text, &mut out);
        out.iter()
            .map(|c| (c.kind, c.value.to_owned(), text[c.start..c.end].to_owned()))
            .collect()
    }

    fn phone(value: &str, found: &str) -> (ContactKind, String, String) {
        (ContactKind::Phone, value.into(), found.into())
    }

    // All numbers below are synthetic (170/171 virtual-operator ranges, 13800000001-style digits).

    #[test]
    fn mobile_numbers_plain_spaced_dashed_and_full_width() {
        assert_eq!(
            contacts("请致电17000000001了解"),
            vec![phone("17000000001", "17000000001")]
        );
        assert_eq!(
            contacts("电话 170 0000 0002"),
            vec![phone("17000000002", "170 0000 0002")]
        );
        assert_eq!(
            contacts("电话：171-0000-0003。"),
            vec![phone("17100000003", "171-0000-0003")]
        );
        assert_eq!(
            contacts("拨打１７１０００００００４"),
            vec![phone("17100000004", "１７１０００００００４")]
        );
        assert_eq!(
            contacts("+86 170 0000 0005"),
            vec![phone("+8617000000005", "+86 170 0000 0005")]
        );
        assert_eq!(
            contacts("008617000000006"),
            vec![phone("008617000000006", "008617000000006")]
        );
    }

    #[test]
    fn service_and_fixed_line_numbers() {
        assert_eq!(
            contacts("客服热线400-800-1234"),
            vec![phone("4008001234", "400-800-1234")]
        );
        assert_eq!(
            contacts("请拨 800 000 0000 退款"),
            vec![phone("8000000000", "800 000 0000")]
        );
        assert_eq!(
            contacts("致电010-00000001"),
            vec![phone("01000000001", "010-00000001")]
        );
        assert_eq!(contacts("客服95000转1"), vec![phone("95000", "95000")]);
    }

    #[test]
    fn numbers_that_are_not_phones_are_ignored() {
        assert!(contacts("验证码123456，5分钟内有效").is_empty());
        assert!(contacts("订单2024-01-15已发货").is_empty());
        assert!(contacts("金额 1000.00 元").is_empty());
        assert!(contacts("编号abc17000000001").is_empty());
    }

    #[test]
    fn a_trailing_group_that_spoils_the_number_is_left_out() {
        assert_eq!(
            contacts("电话17000000001 2次"),
            vec![phone("17000000001", "17000000001")]
        );
    }

    #[test]
    fn urls_and_bare_domains() {
        let found = contacts("点击 HTTPS://Abc-Pay.TOP/Login?id=1 领取");
        assert_eq!(
            found,
            vec![(
                ContactKind::Url,
                "https://abc-pay.top/login?id=1".into(),
                "HTTPS://Abc-Pay.TOP/Login?id=1".into()
            )]
        );
        assert_eq!(
            contacts("登录abc-pay.top办理"),
            vec![(
                ContactKind::Domain,
                "abc-pay.top".into(),
                "abc-pay.top".into()
            )]
        );
        assert_eq!(
            contacts("访问 www.example.com/x."),
            vec![(
                ContactKind::Url,
                "www.example.com/x".into(),
                "www.example.com/x".into()
            )]
        );
    }

    #[test]
    fn url_host_is_reported() {
        let n = Normaliser::new().unwrap();
        let mut norm = NormalisedText::new();
        let text = "http://refund-help.xyz:8080/a";
        n.normalise_into(text, &mut norm);
        let mut out = Contacts::new();
        extract(&norm, text, &mut out);
        let c = out.iter().next().unwrap();
        assert_eq!(c.host, Some("refund-help.xyz"));
        assert_eq!(c.value, "http://refund-help.xyz:8080/a");
    }

    #[test]
    fn file_names_and_emails_are_not_domains() {
        assert!(contacts("请查看照片.jpg").is_empty());
        assert!(contacts("邮箱 someone@example.com").is_empty());
        assert!(contacts("版本1.5.2").is_empty());
    }

    #[test]
    fn qq_ids() {
        assert_eq!(
            contacts("加QQ：12345678"),
            vec![(ContactKind::Qq, "12345678".into(), "QQ：12345678".into())]
        );
        assert_eq!(
            contacts("扣扣 87654321 联系"),
            vec![(ContactKind::Qq, "87654321".into(), "扣扣 87654321".into())]
        );
        assert_eq!(
            contacts("企鹅号123456"),
            vec![(ContactKind::Qq, "123456".into(), "企鹅号123456".into())]
        );
    }

    #[test]
    fn wechat_ids() {
        assert_eq!(
            contacts("加VX kf8866"),
            vec![(ContactKind::WeChat, "kf8866".into(), "VX kf8866".into())]
        );
        assert_eq!(
            contacts("加微信:kf8866"),
            vec![(ContactKind::WeChat, "kf8866".into(), "微信:kf8866".into())]
        );
        assert_eq!(
            contacts("徽信号：Service_01"),
            vec![(
                ContactKind::WeChat,
                "service_01".into(),
                "徽信号：Service_01".into()
            )]
        );
        assert_eq!(
            contacts("wx: abc-123x"),
            vec![(
                ContactKind::WeChat,
                "abc-123x".into(),
                "wx: abc-123x".into()
            )]
        );
    }

    #[test]
    fn wechat_id_that_is_a_phone_is_both() {
        assert_eq!(
            contacts("加V信17000000007"),
            vec![
                (
                    ContactKind::WeChat,
                    "17000000007".into(),
                    "V信17000000007".into()
                ),
                phone("17000000007", "17000000007"),
            ]
        );
    }

    #[test]
    fn keywords_without_an_id_give_nothing() {
        assert!(contacts("请不要添加陌生人微信").is_empty());
        assert!(contacts("qq音乐会员").is_empty());
    }

    #[test]
    fn several_contacts_in_order_and_bounded() {
        let found = contacts("加QQ 12345678 或拨打17000000008，详见abc.top");
        let kinds: Vec<_> = found.iter().map(|c| c.0).collect();
        assert_eq!(
            kinds,
            vec![ContactKind::Qq, ContactKind::Phone, ContactKind::Domain]
        );
        let many: String = (0..50).map(|i| format!("拨打1700000{i:04} ")).collect();
        assert_eq!(contacts(&many).len(), MAX_CONTACTS);
    }

    /// The byte-by-byte walk `extract` replaced (every character visited), kept to check that
    /// the skipping walk finds exactly the same contacts.
    fn extract_reference(normalised: &NormalisedText, original: &str, out: &mut Contacts) {
        out.clear();
        let text = normalised.as_str();
        let bytes = text.as_bytes();
        let mut i = 0usize;
        while i < bytes.len() && out.len() < MAX_CONTACTS {
            let Some(&b) = bytes.get(i) else { break };
            let boundary = i == 0 || bytes.get(i - 1).is_some_and(|&p| !is_token_byte(p));
            if let Some(next) = keyword_contact(text, i, boundary, normalised, original, out) {
                i = next;
                continue;
            }
            if b.is_ascii_alphanumeric() || b == b'+' {
                if boundary {
                    if let Some(next) = url_at(text, i, normalised, original, out) {
                        i = next;
                        continue;
                    }
                    if let Some(next) = phone_at(text, i, normalised, original, out) {
                        i = next;
                        continue;
                    }
                    if let Some(next) = domain_at(text, i, normalised, original, out) {
                        i = next;
                        continue;
                    }
                }
                i += 1;
                while bytes.get(i).is_some_and(|&c| is_token_byte(c)) {
                    i += 1;
                }
                continue;
            }
            i += utf8_len(b);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1000))]
        #[test]
        fn one_group_fast_path_equals_the_group_reader(
            s in "\\+?(1[3-9]|0|00|86|400|95|9)?[0-9]{0,19}([ .\\-][0-9]{1,4})?[a-z_ ]?"
        ) {
            let n = Normaliser::new().unwrap();
            let mut norm = NormalisedText::new();
            n.normalise_into(&s, &mut norm);
            let text = norm.as_str();
            let (mut fast, mut slow) = (Contacts::new(), Contacts::new());
            let a = phone_at(text, 0, &norm, &s, &mut fast);
            let b = phone_groups(text, 0, &norm, &s, &mut slow);
            proptest::prop_assert_eq!(a, b);
            let fast: Vec<_> = fast.iter().collect();
            let slow: Vec<_> = slow.iter().collect();
            proptest::prop_assert_eq!(fast, slow);
        }

        #[test]
        fn skipping_walk_finds_what_the_full_walk_finds(
            s in "([0-9a-z+\\-. :/@_]|https://|http://|\\.top|\\.com|\\.00|qq|wx|vx|v信|weixin|微信|扣扣|企鹅|号|你好|请|冻结|账户|德|徽|扫|伙|中|é|😀|１|ｗ|17000000001|95000|kf8866){0,30}"
        ) {
            let n = Normaliser::with_lookalikes(&[("VX", "微信"), ("徽信", "微信")]).unwrap();
            let mut norm = NormalisedText::new();
            n.normalise_into(&s, &mut norm);
            let (mut fast, mut slow) = (Contacts::new(), Contacts::new());
            extract(&norm, &s, &mut fast);
            extract_reference(&norm, &s, &mut slow);
            let fast: Vec<_> = fast.iter().collect();
            let slow: Vec<_> = slow.iter().collect();
            proptest::prop_assert_eq!(fast, slow);
        }
    }

    /// The keyword list scan `keyword_at` replaced.
    fn keyword_reference(rest: &str) -> Option<(ContactKind, &'static str)> {
        QQ_KEYWORDS
            .iter()
            .map(|k| (ContactKind::Qq, *k))
            .chain(WECHAT_KEYWORDS.iter().map(|k| (ContactKind::WeChat, *k)))
            .find(|(_, k)| rest.starts_with(k))
    }

    #[test]
    fn next_start_stops_at_starts_and_keyword_leads_only() {
        let text = "您好德徽扫伙中é😀，微信x扣扣企鹅+1";
        let bytes = text.as_bytes();
        let mut stops = Vec::new();
        let mut i = 0;
        while let Some(at) = next_start(bytes, i) {
            stops.push(&text[at..]);
            i = at + 1;
            while !text.is_char_boundary(i) {
                i += 1;
            }
        }
        // 德 徽 (E5 BE), 扫 (E6 89) and 伙 (E4 BC) share their first two bytes with 微, 扣
        // and 企: the keyword test rejects them; 您 好 中 é 😀 ， are skipped whole.
        let after = |from: &str| {
            let at = text.find(from).unwrap();
            &text[at..]
        };
        let want: Vec<&str> = [
            "德", "徽", "扫", "伙", "微", "x", "扣扣", "扣企", "企", "+", "1",
        ]
        .into_iter()
        .map(after)
        .collect();
        assert_eq!(stops, want);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        #[test]
        fn keyword_dispatch_equals_the_list_scan(
            s in "(q|w|v|x|e|i|n|信|微|扣|企|鹅|德|伙|扫){0,7}"
        ) {
            proptest::prop_assert_eq!(keyword_at(s.as_bytes()), keyword_reference(&s));
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        #[test]
        fn never_panics_and_offsets_are_in_the_original(s in "[0-9a-z+\\-. :/@扣微信qQvVxX号０-９\u{200b}]{0,40}") {
            let n = Normaliser::with_lookalikes(&[("VX", "微信")]).unwrap();
            let mut norm = NormalisedText::new();
            n.normalise_into(&s, &mut norm);
            let mut out = Contacts::new();
            extract(&norm, &s, &mut out);
            for c in out.iter() {
                proptest::prop_assert!(c.start < c.end && c.end <= s.len());
                proptest::prop_assert!(s.get(c.start..c.end).is_some());
                proptest::prop_assert!(!c.value.is_empty());
            }
        }
    }
}
