//! From `data_coding` and octets to text, flagging everything guessed or replaced.
//!
//! Text decoding is the one step that allocates (a `String` per message).

pub mod gsm7;
pub mod ucs2;

use crate::udh::Message;

/// How a link's SMSC means data_coding 0 ("SMSC default alphabet").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DefaultAlphabet {
    /// GSM 03.38 (the usual meaning).
    #[default]
    Gsm,
    /// IA5 / ASCII.
    Ia5,
    /// ISO-8859-1.
    Latin1,
}

/// Per-link text decoding settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TextOptions {
    /// Meaning of data_coding 0.
    pub default_alphabet: DefaultAlphabet,
    /// GSM text arrives packed (7 bits per character) rather than one septet per octet.
    pub gsm_packed: bool,
}

/// The character set a data_coding selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alphabet {
    /// GSM 03.38 7-bit.
    Gsm7,
    /// IA5 / ASCII.
    Ascii,
    /// ISO-8859-1.
    Latin1,
    /// UCS-2 / UTF-16.
    Ucs2,
    /// UTF-8: never declared by SMPP, only guessed (octets above 0x7F under data_coding 0).
    Utf8,
    /// GBK (read as GB18030, its superset), the Chinese national coding: data_coding 0x0F, which
    /// SMPP leaves reserved and Chinese SMSCs use as CMPP's `msg_fmt` 15 ("含GB汉字").
    Gbk,
    /// 8-bit binary data: no text.
    Binary,
    /// A coding this crate does not decode (JIS, Cyrillic, KS C 5601, compressed, reserved).
    Unsupported(u8),
}

/// Map a data_coding octet to its alphabet (SMPP 3.4 5.2.19 and TS 23.038 section 4).
pub fn alphabet(data_coding: u8, options: &TextOptions) -> Alphabet {
    match data_coding {
        0x00 => match options.default_alphabet {
            DefaultAlphabet::Gsm => Alphabet::Gsm7,
            DefaultAlphabet::Ia5 => Alphabet::Ascii,
            DefaultAlphabet::Latin1 => Alphabet::Latin1,
        },
        0x01 => Alphabet::Ascii,
        0x02 | 0x04 => Alphabet::Binary,
        0x03 => Alphabet::Latin1,
        0x08 => Alphabet::Ucs2,
        0x0F => Alphabet::Gbk,
        0x05..=0x07 | 0x09..=0x0E => Alphabet::Unsupported(data_coding),
        // General data coding and automatic deletion groups (00xx / 01xx).
        0x10..=0x7F => {
            if data_coding & 0x20 != 0 {
                Alphabet::Unsupported(data_coding)
            } else {
                match (data_coding >> 2) & 0x03 {
                    0 => Alphabet::Gsm7,
                    1 => Alphabet::Binary,
                    2 => Alphabet::Ucs2,
                    _ => Alphabet::Unsupported(data_coding),
                }
            }
        }
        // Message waiting indication groups: discard/store with GSM 7-bit, store with UCS-2.
        0xC0..=0xDF => Alphabet::Gsm7,
        0xE0..=0xEF => Alphabet::Ucs2,
        // Data coding / message class: bit 2 selects 8-bit data over the default alphabet.
        0xF0..=0xFF => {
            if data_coding & 0x04 != 0 {
                Alphabet::Binary
            } else {
                Alphabet::Gsm7
            }
        }
        _ => Alphabet::Unsupported(data_coding),
    }
}

/// What text decoding guessed, replaced or could not do. A set of bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct TextFlags(u16);

impl TextFlags {
    /// Nothing to report.
    pub const NONE: TextFlags = TextFlags(0);
    /// Invalid octets or sequences were replaced by U+FFFD.
    pub const REPLACED: TextFlags = TextFlags(1);
    /// A UTF-16 surrogate without its partner became U+FFFD.
    pub const LONE_SURROGATE: TextFlags = TextFlags(1 << 1);
    /// UCS-2 with an odd number of octets (last one became U+FFFD).
    pub const ODD_LENGTH: TextFlags = TextFlags(1 << 2);
    /// A byte-order mark was found and removed.
    pub const BOM: TextFlags = TextFlags(1 << 3);
    /// UCS-2 read little-endian.
    pub const LITTLE_ENDIAN: TextFlags = TextFlags(1 << 4);
    /// The alphabet or byte order was guessed from the octets, not the data_coding.
    pub const GUESSED: TextFlags = TextFlags(1 << 5);
    /// Binary data: no text.
    pub const BINARY: TextFlags = TextFlags(1 << 6);
    /// A coding this crate does not decode: no text.
    pub const UNSUPPORTED: TextFlags = TextFlags(1 << 7);
    /// A national language shift table was announced in the UDH.
    pub const NATIONAL_LANGUAGE: TextFlags = TextFlags(1 << 8);
    /// The announced table is not known here (locking shifts, ids other than
    /// Turkish/Spanish single shift): the default alphabet was used instead.
    pub const NATIONAL_TABLE_MISSING: TextFlags = TextFlags(1 << 14);
    /// The message is one part of a concatenated message.
    pub const PART: TextFlags = TextFlags(1 << 9);
    /// Reassembly: the message is incomplete (expired or evicted).
    pub const PARTIAL: TextFlags = TextFlags(1 << 10);
    /// Reassembly: a part repeated an earlier one.
    pub const DUPLICATE: TextFlags = TextFlags(1 << 11);
    /// Reassembly: a part contradicted earlier ones (other total or other content).
    pub const CONTRADICTION: TextFlags = TextFlags(1 << 12);
    /// Reassembly: the message was evicted to respect the memory bound.
    pub const EVICTED: TextFlags = TextFlags(1 << 13);

    /// True when every bit of `other` is set.
    pub fn contains(self, other: TextFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Set the bits of `other`.
    pub fn insert(&mut self, other: TextFlags) {
        self.0 |= other.0;
    }

    /// True when no bit is set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The raw bits.
    pub fn bits(self) -> u16 {
        self.0
    }
}

impl std::ops::BitOr for TextFlags {
    type Output = TextFlags;
    fn bitor(self, rhs: TextFlags) -> TextFlags {
        TextFlags(self.0 | rhs.0)
    }
}

/// Decoded text with the alphabet used and what was guessed or replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    /// The text (empty for binary and unsupported codings).
    pub text: String,
    /// The alphabet the octets were read in.
    pub alphabet: Alphabet,
    /// What was guessed or replaced.
    pub flags: TextFlags,
}

/// Decode the text of a message (the octets after the UDH).
pub fn decode(message: &Message<'_>, options: &TextOptions) -> Text {
    let mut flags = TextFlags::NONE;
    if message.concat.is_some() {
        flags.insert(TextFlags::PART);
    }
    let mut shift = gsm7::single_shift_table(0).unwrap_or_default();
    if let Some(udh) = message.udh {
        let nl = udh.national_language();
        if nl.single_shift.is_some() || nl.locking_shift.is_some() {
            flags.insert(TextFlags::NATIONAL_LANGUAGE);
        }
        if let Some(id) = nl.single_shift {
            match gsm7::single_shift_table(id) {
                Some(table) => shift = table,
                None => flags.insert(TextFlags::NATIONAL_TABLE_MISSING),
            }
        }
        if nl.locking_shift.is_some_and(|id| id != 0) {
            flags.insert(TextFlags::NATIONAL_TABLE_MISSING);
        }
    }
    let declared = alphabet(message.data_coding, options);
    let mut text = String::new();
    let used = match declared {
        Alphabet::Gsm7 if options.gsm_packed => {
            let udh_len = message.udh.map_or(0, |u| u.wire_len());
            if gsm7::decode_packed_with(message.user_data, udh_len, shift, &mut text).invalid {
                flags.insert(TextFlags::REPLACED);
            }
            Alphabet::Gsm7
        }
        Alphabet::Gsm7 => decode_gsm_unpacked(message.payload, shift, &mut text, &mut flags),
        Alphabet::Ascii => {
            for b in message.payload {
                if b.is_ascii() {
                    text.push(char::from(*b));
                } else {
                    flags.insert(TextFlags::REPLACED);
                    text.push(char::REPLACEMENT_CHARACTER);
                }
            }
            Alphabet::Ascii
        }
        Alphabet::Latin1 => {
            text.extend(message.payload.iter().map(|b| char::from(*b)));
            Alphabet::Latin1
        }
        Alphabet::Ucs2 => {
            let issues = ucs2::decode(message.payload, &mut text);
            for (set, flag) in [
                (issues.lone_surrogate, TextFlags::LONE_SURROGATE),
                (issues.odd_length, TextFlags::ODD_LENGTH),
                (issues.bom, TextFlags::BOM),
                (issues.little_endian, TextFlags::LITTLE_ENDIAN),
            ] {
                if set {
                    flags.insert(flag);
                }
            }
            Alphabet::Ucs2
        }
        Alphabet::Utf8 => {
            text.push_str(&String::from_utf8_lossy(message.payload));
            Alphabet::Utf8
        }
        Alphabet::Gbk => {
            // Malformed sequences become U+FFFD (the WHATWG decoder never fails).
            let (decoded, replaced) = encoding_rs::GBK.decode_without_bom_handling(message.payload);
            if replaced {
                flags.insert(TextFlags::REPLACED);
            }
            text.push_str(&decoded);
            Alphabet::Gbk
        }
        Alphabet::Binary => {
            flags.insert(TextFlags::BINARY);
            Alphabet::Binary
        }
        Alphabet::Unsupported(dcs) => {
            flags.insert(TextFlags::UNSUPPORTED);
            Alphabet::Unsupported(dcs)
        }
    };
    Text {
        text,
        alphabet: used,
        flags,
    }
}

/// Unpacked GSM. Octets above 0x7F cannot be GSM: the ESME sent something
/// else (UTF-8 or Latin-1 under data_coding 0), so read it as that and flag the guess.
fn decode_gsm_unpacked(
    octets: &[u8],
    shift: &[(u8, char)],
    text: &mut String,
    flags: &mut TextFlags,
) -> Alphabet {
    if octets.iter().any(|b| *b > 0x7F) {
        flags.insert(TextFlags::GUESSED);
        if let Ok(utf8) = std::str::from_utf8(octets) {
            text.push_str(utf8);
            return Alphabet::Utf8;
        }
        text.extend(octets.iter().map(|b| char::from(*b)));
        return Alphabet::Latin1;
    }
    if gsm7::decode_unpacked_with(octets, shift, text).invalid {
        flags.insert(TextFlags::REPLACED);
    }
    Alphabet::Gsm7
}
