//! GSM 03.38 / 3GPP TS 23.038 7-bit default alphabet and its extension table,
//! unpacked (one septet per octet, the usual SMPP form) and packed (with the
//! fill bits that follow a UDH).

/// The default alphabet, indexed by septet. 0x1B is the escape to the extension table.
const DEFAULT: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', //
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\u{1B}', 'Æ', 'æ', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
];

/// The escape septet.
pub const ESCAPE: u8 = 0x1B;

/// The extension table (after 0x1B): septet -> character.
const EXTENSION: [(u8, char); 10] = [
    (0x0A, '\u{0C}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x65, '€'),
];

/// Turkish national language single shift table (TS 23.038 A.2.1), id 1.
const TURKISH_SINGLE: [(u8, char); 17] = [
    (0x0A, '\u{0C}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x47, 'Ğ'),
    (0x49, 'İ'),
    (0x53, 'Ş'),
    (0x63, 'ç'),
    (0x65, '€'),
    (0x67, 'ğ'),
    (0x69, 'ı'),
    (0x73, 'ş'),
];

/// Spanish national language single shift table (TS 23.038 A.2.2), id 2.
const SPANISH_SINGLE: [(u8, char); 19] = [
    (0x09, 'ç'),
    (0x0A, '\u{0C}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x41, 'Á'),
    (0x49, 'Í'),
    (0x4F, 'Ó'),
    (0x55, 'Ú'),
    (0x61, 'á'),
    (0x65, '€'),
    (0x69, 'í'),
    (0x6F, 'ó'),
    (0x75, 'ú'),
];

/// The single shift table for a national language id, if this crate has it
/// (0 = the default extension table, 1 Turkish, 2 Spanish).
pub fn single_shift_table(id: u8) -> Option<&'static [(u8, char)]> {
    match id {
        0 => Some(&EXTENSION),
        1 => Some(&TURKISH_SINGLE),
        2 => Some(&SPANISH_SINGLE),
        _ => None,
    }
}

/// Outcome flags of a GSM decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GsmIssues {
    /// An octet above 0x7F, a lone escape or an unknown extension was replaced by U+FFFD.
    pub invalid: bool,
}

fn lookup(table: &[(u8, char)], septet: u8) -> Option<char> {
    table.iter().find(|(s, _)| *s == septet).map(|(_, c)| *c)
}

/// The character of a default-alphabet septet (None for values above 0x7F and the escape).
#[inline]
pub fn default_char(septet: u8) -> Option<char> {
    if septet == ESCAPE {
        return None;
    }
    DEFAULT.get(usize::from(septet)).copied()
}

/// Decode a run of septets (one per octet) into `out`, replacing anything
/// invalid (octets above 0x7F, a lone escape, an unknown extension) by U+FFFD.
pub fn decode_septets(septets: impl IntoIterator<Item = u8>, out: &mut String) -> GsmIssues {
    decode_septets_with(septets, &EXTENSION, out)
}

/// Like [`decode_septets`] with another single shift table after the escape
/// (see [`single_shift_table`]).
pub fn decode_septets_with(
    septets: impl IntoIterator<Item = u8>,
    shift: &[(u8, char)],
    out: &mut String,
) -> GsmIssues {
    let mut issues = GsmIssues::default();
    let mut escaped = false;
    for s in septets {
        if escaped {
            escaped = false;
            match lookup(shift, s) {
                Some(c) => out.push(c),
                None => {
                    issues.invalid = true;
                    out.push(char::REPLACEMENT_CHARACTER);
                }
            }
        } else if s == ESCAPE {
            escaped = true;
        } else {
            match default_char(s) {
                Some(c) => out.push(c),
                None => {
                    issues.invalid = true;
                    out.push(char::REPLACEMENT_CHARACTER);
                }
            }
        }
    }
    if escaped {
        issues.invalid = true;
        out.push(char::REPLACEMENT_CHARACTER);
    }
    issues
}

/// Decode unpacked GSM (one septet per octet, the common SMPP form of data_coding 0).
pub fn decode_unpacked(octets: &[u8], out: &mut String) -> GsmIssues {
    decode_septets(octets.iter().copied(), out)
}

/// Decode unpacked GSM with a single shift table.
pub fn decode_unpacked_with(octets: &[u8], shift: &[(u8, char)], out: &mut String) -> GsmIssues {
    decode_septets_with(octets.iter().copied(), shift, out)
}

/// The septets of packed user data. `udh_octets` is the length of the UDH
/// (UDHL octet included) at the start of `octets`; the septets start at the
/// next septet boundary after it (the fill bits are skipped). A final septet
/// that is only padding (0x00 or CR when the last octet has 7 spare bits) is dropped.
pub fn packed_septets(octets: &[u8], udh_octets: usize) -> impl Iterator<Item = u8> + '_ {
    let total_bits = octets.len() * 8;
    let first = (udh_octets * 8).div_ceil(7);
    let mut count = total_bits / 7;
    if total_bits.is_multiple_of(7) && count > first {
        let last = septet_at(octets, count - 1);
        if last == 0 || last == 0x0D {
            count -= 1;
        }
    }
    (first..count).map(move |i| septet_at(octets, i))
}

#[inline]
fn septet_at(octets: &[u8], index: usize) -> u8 {
    let bit = index * 7;
    let byte = bit / 8;
    let shift = bit % 8;
    let lo = u16::from(octets.get(byte).copied().unwrap_or(0));
    let hi = u16::from(octets.get(byte + 1).copied().unwrap_or(0));
    (((lo | (hi << 8)) >> shift) & 0x7F) as u8
}

/// Decode packed GSM user data (see [`packed_septets`] for `udh_octets`).
pub fn decode_packed(octets: &[u8], udh_octets: usize, out: &mut String) -> GsmIssues {
    decode_septets(packed_septets(octets, udh_octets), out)
}

/// Decode packed GSM user data with a single shift table.
pub fn decode_packed_with(
    octets: &[u8],
    udh_octets: usize,
    shift: &[(u8, char)],
    out: &mut String,
) -> GsmIssues {
    decode_septets_with(packed_septets(octets, udh_octets), shift, out)
}

/// Encode text as unpacked septets (escape + extension where needed). Returns
/// the first character that GSM 03.38 cannot represent as the error.
pub fn encode_unpacked(text: &str) -> Result<Vec<u8>, char> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        if let Some(pos) = DEFAULT
            .iter()
            .position(|d| *d == c)
            .filter(|p| *p != usize::from(ESCAPE))
        {
            out.push(pos as u8);
        } else if let Some((s, _)) = EXTENSION.iter().find(|(_, e)| *e == c) {
            out.push(ESCAPE);
            out.push(*s);
        } else {
            return Err(c);
        }
    }
    Ok(out)
}

/// Pack septets (values 0..=0x7F) into octets, 8 septets per 7 octets.
/// `fill_bits` zero bits are placed first (to align after a UDH).
pub fn pack(septets: &[u8], fill_bits: usize) -> Vec<u8> {
    let total_bits = fill_bits + septets.len() * 7;
    let mut out = vec![0u8; total_bits.div_ceil(8)];
    for (i, s) in septets.iter().enumerate() {
        let bit = fill_bits + i * 7;
        let v = u16::from(s & 0x7F) << (bit % 8);
        if let Some(o) = out.get_mut(bit / 8) {
            *o |= (v & 0xFF) as u8;
        }
        if let Some(o) = out.get_mut(bit / 8 + 1) {
            *o |= (v >> 8) as u8;
        }
    }
    out
}
