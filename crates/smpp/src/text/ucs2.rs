//! UCS-2 as sent with data_coding 8, read as UTF-16 big-endian, as handsets do.
//!
//! Only a byte-order mark changes the byte order. Guessing little-endian from the
//! octets was a bypass: a script padded with U+3000 or U+4E00 (octets `30 00`, `4E 00`)
//! looks "byte-swapped", was read as garbage, and passed while the handset showed it.

/// What the UCS-2 decoder had to guess or replace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ucs2Issues {
    /// A surrogate without its partner became U+FFFD.
    pub lone_surrogate: bool,
    /// An odd final octet became U+FFFD.
    pub odd_length: bool,
    /// A byte-order mark was found (and removed).
    pub bom: bool,
    /// The octets were read little-endian (BOM FF FE).
    pub little_endian: bool,
}

/// Decode UTF-16BE octets (a BOM, removed, selects the byte order).
pub fn decode(octets: &[u8], out: &mut String) -> Ucs2Issues {
    let mut issues = Ucs2Issues::default();
    let mut body = octets;
    let mut little = false;
    match octets {
        [0xFE, 0xFF, rest @ ..] => {
            issues.bom = true;
            body = rest;
        }
        [0xFF, 0xFE, rest @ ..] => {
            issues.bom = true;
            little = true;
            body = rest;
        }
        _ => {}
    }
    issues.little_endian = little;
    out.reserve(body.len() / 2 * 3);
    let unit = |pair: &[u8]| match pair {
        [a, b] if little => u16::from_le_bytes([*a, *b]),
        [a, b] => u16::from_be_bytes([*a, *b]),
        _ => 0xFFFD,
    };
    let mut pairs = body.chunks_exact(2);
    while let Some(pair) = pairs.next() {
        let u = unit(pair);
        let c = match u {
            0xD800..=0xDBFF => {
                // A high surrogate must be followed by a low one.
                let low = pairs.clone().next().map(unit);
                match low {
                    Some(lo @ 0xDC00..=0xDFFF) => {
                        pairs.next();
                        let scalar =
                            0x10000 + ((u32::from(u) - 0xD800) << 10) + (u32::from(lo) - 0xDC00);
                        char::from_u32(scalar)
                    }
                    _ => None,
                }
            }
            0xDC00..=0xDFFF => None,
            _ => char::from_u32(u32::from(u)),
        };
        match c {
            Some(c) => out.push(c),
            None => {
                issues.lone_surrogate = true;
                out.push(char::REPLACEMENT_CHARACTER);
            }
        }
    }
    if body.len() % 2 == 1 {
        issues.odd_length = true;
        out.push(char::REPLACEMENT_CHARACTER);
    }
    issues
}

/// Encode text as UTF-16BE (characters outside the BMP as surrogate pairs).
pub fn encode(text: &str, out: &mut Vec<u8>) {
    for unit in text.encode_utf16() {
        out.extend_from_slice(&unit.to_be_bytes());
    }
}
