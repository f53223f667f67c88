//! Phone numbers and SMS sender ids normalised to one compact key.
//!
//! Every caller or callee form the gateway sees — `+86 138-0013-8000`, `008613800138000`,
//! `013800138000`, `tel:+86-138-0013-8000`, `sip:+8613800138000@ims.example;user=phone`,
//! `95588`, `ICBC` — is turned by [`normalise`] into a [`Normalised`] value: its
//! [`NumberKind`], a [`NumberKey`] (one `u64`, used by the number lists) and a canonical
//! display form held inline (no heap allocation anywhere in this module).
//!
//! # How a number is read (country code from [`NumberConfig`], default 86)
//!
//! The input is trimmed and may be wrapped in `<…>`. Then, by form:
//!
//! * `tel:` (RFC 3966, scheme case-insensitive): the subscriber part up to the first `;`.
//!   Visual separators `-` `.` `(` `)` and spaces are dropped. A global number (`+…`) is read
//!   as international. A local number is read with its `phone-context`: when the context is
//!   `+<home country code>` it is read as a national number; another global context
//!   (`+44`, or `+8610` for an area) is prepended to the local digits and the whole read as
//!   international; a domain-name context (or none — lenient, RFC 3966 requires one) means the
//!   gateway's own network, so the local number is read as national.
//! * `sip:` / `sips:`: the user part (before `@`, without any `:password`) is read exactly
//!   like the body of a `tel:` URI, whether or not the URI carries `user=phone`. A user part
//!   that is not a telephone number (`sip:alice@…`, `anonymous@…`) is
//!   [`NumberError::NotANumber`]; a URI without a user part is [`NumberError::NoUserPart`].
//! * A bare SIP user part with parameters (`17000000001;phone-context=+44`, what the SIP parser
//!   hands over for `sip:17000000001;phone-context=+44@host`): input containing a `;` whose
//!   part before the first `;` has no letter is read like the body of a `tel:` URI.
//! * Otherwise, input containing an ASCII letter is an **alphanumeric sender id** (SMS):
//!   2–20 characters out of `A–Z a–z 0–9 space - _ . &`, canonicalised to upper case
//!   (`icbc` and `ICBC` are the same key).
//! * Otherwise it is a dialled string: an optional leading `+`, digits, and visual separators
//!   (space `-` `.` `(` `)` `/`) which are dropped.
//!
//! Digits are then classified:
//!
//! * **International** (`+` or the `00` international prefix): the digits are
//!   `country code + national significant number (NSN)`. When the country code is the home
//!   one the NSN must be valid in the home plan: a mobile or a fixed line gives an E.164
//!   number, a service number gives a [`NumberKind::Service`] number *without* the country
//!   code — so `+86 95588`, `0086 95588` and `95588` are the same key (a bank's service
//!   number shown on an international call is the spoofing signal the policy looks for).
//!   Anything else under the home code is [`NumberError::InvalidNational`]. A foreign number
//!   must have 7–15 digits and is kept as E.164 (its national plan is not checked).
//! * **National** (home country 86, the Chinese plan):
//!   * trunk prefix `0` + NSN: a fixed line — area code `10`, `2x` (8-digit subscriber) or
//!     `[3-9]xx` (7- or 8-digit subscriber), subscriber not starting with 0 or 1
//!     (`010 8888 0001`, `021…`, `0755…`) — or a mobile after an added `0`
//!     (`013800138000`) → E.164;
//!   * `1[3-9]` + 9 digits → mobile, E.164;
//!   * otherwise a **service number** when it is one of: `400`/`800` + 7 digits (10 digits);
//!     `10…` of 3–20 digits (10000, 10086, and the 106 SMS ports); `95…`/`96…` of 5–8 digits
//!     (95588, 96110); `11…`/`12…` of 3–6 digits (110, 120, 12110, 12315); any other 3–6
//!     digit number not starting with 0 (short codes);
//!   * otherwise, the home country code followed by a valid mobile or fixed NSN
//!     (`8613800138000`, E.164 written without its `+`) → E.164;
//!   * otherwise 12–15 digits not starting with 0 nor with the home country code: no national
//!     number is that long, so it is E.164 written without its `+` (a foreign number);
//!   * anything else — notably 7–11 digit numbers that are neither mobile nor service
//!     (a local fixed line without its area code cannot be placed) — is
//!     [`NumberError::InvalidNational`]. It is never guessed.
//!
//!   With another home country code the generic plan applies: trunk `0` + 6–12 digit NSN →
//!   E.164, 3–6 digits → service, 12–15 digits not under the home code → E.164 without `+`,
//!   the rest an error.
//!
//! Under an international prefix, the home NSN is classified in this order: mobile, `400`/`800`
//! service, fixed line, service (so `+86 10 8888 0001` is a Beijing fixed line while
//! `+86 10086` is the carrier's service number).
//!
//! Prefix forms that dial plans strip, read where they have only one sensible reading:
//!
//! * an international prefix written after the `+` (`+0086 170…`) is dropped: no country code
//!   starts with 0;
//! * a trunk `0` kept after the home country code (`+86 0 170…`, `+86 010 8888 0001`,
//!   `0086 0 170…`, `86 0 170…`) is dropped: no national significant number starts with 0;
//! * an **IP-call prefix** ([`NumberConfig::ip_call_prefixes`]: 17951, 12593, 17911, 17909,
//!   10193, 11808, 96688 by default; prefixes that are not 3–8 digits are ignored) in front of
//!   a number of at least 9 digits, national or international (`17951 170 0000 0001`,
//!   `17951 0086 170…`, or after the home country code, `+86 17951 170…`), is dropped when the
//!   whole input reads as nothing else. When the whole input does read as something else (a
//!   `10193…` input is also a `10…` service number; 15 digits are also an E.164 number
//!   without its `+`), that reading stays and the stripped one is an alternative (below).
//!
//! # Every reading of a number ([`readings`])
//!
//! The core behind the gateway may route a number differently from how [`normalise`] reads
//! it. [`readings`] returns, in a [`Readings`] held inline (no heap), the primary reading
//! (exactly what [`normalise`] returns, the canonical display form) followed by the
//! alternatives the core might act on ([`MAX_READINGS`] readings in all, each with a key
//! distinct from the others):
//!
//! * **the national reading under a foreign `phone-context`**: many cores ignore the context,
//!   so `tel:17000000001;phone-context=+44` is `+4417000000001` and also `+8617000000001`
//!   (likewise an area context, `;phone-context=+8610`, and a malformed context, which leaves
//!   the primary an error but the local number still routable);
//! * **the number without its IP-call prefix** when the whole input also reads as another
//!   number (`10193 170 0000 0001` is the service number `1019317000000001` and also
//!   `+8617000000001`).
//!
//! A plain number (digits, an optional `+`, nothing else) has no phone-context and is
//! checked for an IP-call prefix only when it has 12 digits or more, so the common case is
//! one reading and one length comparison.
//!
//! How the engine uses them ([`crate::engine`]): a block or warn list hit on **any** reading
//! counts (the evidence names the reading that hit); a party grants allowlist trust only when
//! its **primary** reading is allowlisted **and** no alternative reading is on a block or warn
//! list.
//!
//! ```
//! use interdict_engine::number::{normalise, readings, NumberConfig, NumberKind};
//! let cfg = NumberConfig::default();
//! // Synthetic numbers (170/171 are virtual-operator ranges; no real subscriber).
//! let a = normalise("+86 170-0000-0001", &cfg).unwrap();
//! let b = normalise("sip:17000000001@ims.example;user=phone", &cfg).unwrap();
//! assert_eq!(a.key(), b.key());
//! assert_eq!(a.as_str(), "+8617000000001");
//! let bank = normalise("+86 95588", &cfg).unwrap();
//! assert_eq!(bank.kind(), NumberKind::Service);
//! assert_eq!(bank.as_str(), "95588");
//! // A local fixed line without its area code cannot be placed: an error, not a guess.
//! assert!(normalise("8888 0001", &cfg).is_err());
//!
//! // A foreign phone-context: read as written, and as the core may route it.
//! let r = readings("17000000001;phone-context=+44", &cfg);
//! let all: Vec<&str> = r.iter().map(|n| n.as_str()).collect();
//! assert_eq!(all, ["+4417000000001", "+8617000000001"]);
//! // An IP-call prefix in front of a mobile: the only sensible reading is the mobile.
//! assert_eq!(normalise("17951 170 0000 0001", &cfg).unwrap().as_str(), "+8617000000001");
//! // A plain number has exactly one reading.
//! assert_eq!(readings("13800000001", &cfg).len(), 1);
//! ```

use serde::Deserialize;

/// Longest raw input accepted (bytes). Longer input is [`NumberError::TooLong`].
pub const MAX_RAW_LEN: usize = 256;
/// Most digits a number may carry after separators are dropped (106 SMS ports reach 20).
pub const MAX_DIGITS: usize = 20;
/// Longest alphanumeric sender id (SMPP `source_addr` holds at most 20 characters).
pub const MAX_ALPHANUMERIC_LEN: usize = 20;
/// Number of low bits of a [`NumberKey`] that carry it; the bits above are always zero so a
/// list table may pack its own data there.
pub const KEY_BITS: u32 = 52;

const VALUE_BITS: u32 = 50;
const VALUE_MASK: u64 = (1 << VALUE_BITS) - 1;
/// 10^15: every digit string of at most 15 digits without a leading zero is below it.
const DIGIT_VALUE_LIMIT: u64 = 1_000_000_000_000_000;

/// Most readings [`readings`] returns for one raw number: the primary and two alternatives.
pub const MAX_READINGS: usize = 3;

/// The IP-call prefixes of the Chinese carriers' dial plans (IP 长途 access codes), the
/// default of [`NumberConfig::ip_call_prefixes`].
pub const DEFAULT_IP_CALL_PREFIXES: [&str; 7] = [
    "17951", "12593", "17911", "17909", "10193", "11808", "96688",
];

/// Shortest IP-call prefix considered (shorter configured prefixes are ignored).
const MIN_IP_PREFIX: usize = 3;
/// Longest IP-call prefix considered (longer configured prefixes are ignored).
const MAX_IP_PREFIX: usize = 8;
/// Fewest digits that may follow an IP-call prefix: an IP prefix is dialled in front of a
/// long-distance or international number (`00` and a 7-digit foreign number at the shortest).
const MIN_AFTER_IP_PREFIX: usize = 9;

/// Numbering configuration of the gateway.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NumberConfig {
    /// Country calling code of the gateway's network (86 for China). National numbers are
    /// read in this country's plan (the Chinese plan for 86, a generic plan otherwise).
    pub country_code: u16,
    /// IP-call prefixes that dial plans strip from the front of a dialled number (see the
    /// module docs); default [`DEFAULT_IP_CALL_PREFIXES`]. Entries that are not 3–8 ASCII
    /// digits are ignored.
    pub ip_call_prefixes: Vec<String>,
}

impl Default for NumberConfig {
    fn default() -> Self {
        NumberConfig {
            country_code: 86,
            ip_call_prefixes: DEFAULT_IP_CALL_PREFIXES
                .iter()
                .map(|p| (*p).to_owned())
                .collect(),
        }
    }
}

/// What kind of party a normalised number is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NumberKind {
    /// A full international number (mobile or fixed line), shown as `+<digits>`.
    E164,
    /// A short or service number of the home country (110, 95588, 10086, 400…), shown
    /// without a country code and never equal to any E.164 key.
    Service,
    /// An alphanumeric SMS sender id (`ICBC`), upper-cased.
    Alphanumeric,
}

impl NumberKind {
    /// Lower-case name used in JSON output: `"e164"`, `"service"`, `"alphanumeric"`.
    pub fn as_str(self) -> &'static str {
        match self {
            NumberKind::E164 => "e164",
            NumberKind::Service => "service",
            NumberKind::Alphanumeric => "alphanumeric",
        }
    }

    fn tag(self) -> u64 {
        match self {
            NumberKind::E164 => 1,
            NumberKind::Service => 2,
            NumberKind::Alphanumeric => 3,
        }
    }
}

/// Compact key of a normalised number: equal keys mean the same party.
///
/// Layout: bits 0–49 the value, bits 50–51 the kind (1 E.164, 2 service, 3 alphanumeric),
/// bits 52–63 zero (free for the list tables, see [`KEY_BITS`]). The value of an E.164 or a
/// service number of at most 15 digits is the digits read as an integer (they never start
/// with 0, so the integer is unambiguous); a longer service number (a 106 SMS port) and an
/// alphanumeric id are a 64-bit hash folded into the value bits — for long service numbers
/// into the range above 10^15 so they can never equal a short one. The key is never 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NumberKey(u64);

impl NumberKey {
    /// The raw 64-bit value (upper 12 bits zero).
    pub fn raw(self) -> u64 {
        self.0
    }

    /// Rebuilds a key from [`NumberKey::raw`]; `None` if it is not a valid key layout.
    pub fn from_raw(raw: u64) -> Option<NumberKey> {
        let tag = raw >> VALUE_BITS;
        (1..=3).contains(&tag).then_some(NumberKey(raw))
    }

    /// The kind encoded in the key.
    pub fn kind(self) -> NumberKind {
        match self.0 >> VALUE_BITS {
            1 => NumberKind::E164,
            2 => NumberKind::Service,
            _ => NumberKind::Alphanumeric,
        }
    }

    fn new(kind: NumberKind, value: u64) -> NumberKey {
        NumberKey((kind.tag() << VALUE_BITS) | (value & VALUE_MASK))
    }
}

/// A normalised number: kind, key and canonical display, all inline (`Copy`, no heap).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Normalised {
    kind: NumberKind,
    key: NumberKey,
    len: u8,
    /// Where the digits start in `buf` (1 for E.164, after the `+`).
    digits_from: u8,
    buf: [u8; 24],
}

impl std::fmt::Debug for Normalised {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Normalised({:?} {})", self.kind, self.as_str())
    }
}

impl std::fmt::Display for Normalised {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Normalised {
    /// The kind of party.
    pub fn kind(&self) -> NumberKind {
        self.kind
    }

    /// The compact key used for list lookups.
    pub fn key(&self) -> NumberKey {
        self.key
    }

    /// Canonical display: `"+8613800138000"`, `"95588"`, `"ICBC"`.
    pub fn as_str(&self) -> &str {
        let bytes = self.buf.get(..usize::from(self.len)).unwrap_or(&[]);
        std::str::from_utf8(bytes).unwrap_or("")
    }

    /// The digits used for prefix lookups: the E.164 digits with the country code and without
    /// `+` (`8613800138000`), the digits of a service number (`95588`), and nothing for an
    /// alphanumeric id.
    pub fn digits(&self) -> &[u8] {
        match self.kind {
            NumberKind::Alphanumeric => &[],
            _ => self
                .buf
                .get(usize::from(self.digits_from)..usize::from(self.len))
                .unwrap_or(&[]),
        }
    }

    /// Whether the party belongs to the gateway's own country: an E.164 number under the home
    /// country code, or a service number (service numbers are always home-country numbers).
    /// Alphanumeric ids are not domestic numbers. The spoofing rule uses this: a domestic
    /// number arriving on an international ingress is a forged caller id.
    pub fn is_domestic(&self, cfg: &NumberConfig) -> bool {
        match self.kind {
            NumberKind::Service => true,
            NumberKind::Alphanumeric => false,
            NumberKind::E164 => {
                // `starts_with` without its `memcmp` call, for a code of 1 to 5 digits.
                let cc = CountryCode::new(cfg);
                let (digits, cc) = (self.digits(), cc.as_slice());
                digits.len() >= cc.len() && digits.iter().zip(cc).all(|(d, c)| d == c)
            }
        }
    }

    /// Fills unused slots of [`Readings`] (never visible).
    const FILLER: Normalised = Normalised {
        kind: NumberKind::Alphanumeric,
        key: NumberKey(0),
        len: 0,
        digits_from: 0,
        buf: [0; 24],
    };

    fn from_digits(kind: NumberKind, digits: &[u8]) -> Result<Normalised, NumberError> {
        Normalised::from_parts(kind, &[], digits)
    }

    /// The number whose digits are `head` then `tail` (a country code and a national number),
    /// written straight into the display buffer.
    fn from_parts(kind: NumberKind, head: &[u8], tail: &[u8]) -> Result<Normalised, NumberError> {
        let mut buf = [0u8; 24];
        let plus = usize::from(kind == NumberKind::E164);
        let count = head.len() + tail.len();
        let total = plus + count;
        if total > buf.len() {
            return Err(NumberError::BadLength { digits: count });
        }
        if plus == 1 {
            if let Some(first) = buf.first_mut() {
                *first = b'+';
            }
        }
        // One pass writes the digits and reads their value (a short loop beats two `memcpy`
        // calls and a chained fold for these 3 to 20 bytes).
        let mut value = 0u64;
        let mut at = plus;
        for part in [head, tail] {
            for &d in part {
                if let Some(slot) = buf.get_mut(at) {
                    *slot = d;
                }
                at += 1;
                value = value
                    .wrapping_mul(10)
                    .wrapping_add(u64::from(d.wrapping_sub(b'0')));
            }
        }
        if count > 15 {
            let digits = buf.get(plus..total).unwrap_or(&[]);
            value =
                DIGIT_VALUE_LIMIT + hash_bytes(digits) % ((1u64 << VALUE_BITS) - DIGIT_VALUE_LIMIT);
        }
        Ok(Normalised {
            kind,
            key: NumberKey::new(kind, value),
            len: total as u8,
            digits_from: plus as u8,
            buf,
        })
    }
}

/// Every reading of one raw number (see the module docs): the primary reading, which is what
/// [`normalise`] returns, then the alternatives a core might route instead, each with a
/// distinct key. Inline, `Copy`, at most [`MAX_READINGS`] numbers.
///
/// When [`normalise`] fails the primary is that error ([`Readings::primary`]) and the list
/// holds only the alternatives (the national reading of a number under a malformed
/// `phone-context`), possibly none.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Readings {
    list: [Normalised; MAX_READINGS],
    len: u8,
    /// Why there is no primary reading; when `None`, `list[0]` is the primary.
    error: Option<NumberError>,
}

impl std::fmt::Debug for Readings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut list = f.debug_list();
        if let Some(e) = &self.error {
            list.entry(e);
        }
        list.entries(self.as_slice()).finish()
    }
}

impl Readings {
    fn new(primary: Result<Normalised, NumberError>) -> Readings {
        match primary {
            Ok(n) => Readings {
                list: [n, Normalised::FILLER, Normalised::FILLER],
                len: 1,
                error: None,
            },
            Err(e) => Readings {
                list: [Normalised::FILLER; MAX_READINGS],
                len: 0,
                error: Some(e),
            },
        }
    }

    /// Adds an alternative unless its key is already there or the list is full.
    fn push(&mut self, n: Normalised) {
        if self.as_slice().iter().any(|r| r.key == n.key) {
            return;
        }
        if let Some(slot) = self.list.get_mut(usize::from(self.len)) {
            *slot = n;
            self.len += 1;
        }
    }

    /// The primary reading: exactly what [`normalise`] returns for the same input.
    pub fn primary(&self) -> Result<&Normalised, NumberError> {
        match self.error {
            Some(e) => Err(e),
            None => self.list.first().ok_or(NumberError::Empty),
        }
    }

    /// Why there is no primary reading ([`normalise`]'s error), if so.
    pub fn error(&self) -> Option<NumberError> {
        self.error
    }

    /// Every reading: the primary first (when there is one), then the alternatives.
    pub fn as_slice(&self) -> &[Normalised] {
        self.list.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// The readings other than the primary.
    pub fn alternatives(&self) -> &[Normalised] {
        let skip = usize::from(self.error.is_none());
        self.as_slice().get(skip..).unwrap_or(&[])
    }

    /// Iterates over every reading, primary first.
    pub fn iter(&self) -> std::slice::Iter<'_, Normalised> {
        self.as_slice().iter()
    }

    /// Number of readings (0 when the input reads as nothing at all).
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// No reading at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl<'a> IntoIterator for &'a Readings {
    type Item = &'a Normalised;
    type IntoIter = std::slice::Iter<'a, Normalised>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Why a party could not be normalised. Unparseable numbers are a signal in themselves, so
/// the error says what was wrong and where (byte offset in the raw input).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    /// Nothing left after trimming.
    #[error("empty number")]
    Empty,
    /// The raw input exceeds [`MAX_RAW_LEN`].
    #[error("number input is {len} bytes, more than the {max} accepted")]
    TooLong {
        /// Length of the input in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A character that has no place in a number or sender id.
    #[error("unexpected character {ch:?} at byte {offset}")]
    InvalidChar {
        /// The character.
        ch: char,
        /// Byte offset in the raw input.
        offset: usize,
    },
    /// Too few or too many digits for any number form.
    #[error("{digits} digits is not a valid number length")]
    BadLength {
        /// How many digits were found.
        digits: usize,
    },
    /// Digits that are no valid number of the home country's plan (never guessed).
    #[error("{digits} digits are not a mobile, fixed-line or service number of country code {country_code}")]
    InvalidNational {
        /// How many digits the national part has.
        digits: usize,
        /// The home country code.
        country_code: u16,
    },
    /// A `sip:`/`sips:` URI without a user part.
    #[error("SIP URI has no user part")]
    NoUserPart,
    /// A URI whose user part is a name, not a telephone number.
    #[error("URI user part at byte {offset} is not a telephone number")]
    NotANumber {
        /// Byte offset of the user part in the raw input.
        offset: usize,
    },
    /// A `phone-context` parameter that is neither `+digits` nor a domain name.
    #[error("invalid phone-context at byte {offset}")]
    BadPhoneContext {
        /// Byte offset of the parameter value.
        offset: usize,
    },
    /// An alphanumeric id that is too long or has no letter.
    #[error("sender id of {len} characters is not a valid alphanumeric id (1 letter and at most {max} characters)")]
    BadAlphanumeric {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// Normalises a caller or callee (number, URI or sender id) as described in the module docs.
pub fn normalise(raw: &str, cfg: &NumberConfig) -> Result<Normalised, NumberError> {
    match normalise_plain(raw, cfg) {
        Some(result) => result,
        None => normalise_general(raw, cfg),
    }
}

/// Every reading of a caller or callee (see the module docs): the primary reading, which is
/// exactly what [`normalise`] returns, then the alternatives a core might route instead (the
/// national reading under a foreign `phone-context`, the number without an IP-call prefix).
/// A plain number costs one length comparison more than [`normalise`].
pub fn readings(raw: &str, cfg: &NumberConfig) -> Readings {
    if let Some((plus, digits)) = plain_digits(raw) {
        let mut r = Readings::new(classify(plus, digits, cfg));
        if let Some(n) = ip_alternative(plus, digits, cfg) {
            r.push(n);
        }
        return r;
    }
    let read = read_general(raw, cfg);
    let mut r = Readings::new(read.primary);
    if let Some(local) = &read.local {
        let local = local.as_slice();
        if let Ok(n) = classify(false, local, cfg) {
            r.push(n);
        }
        if let Some(n) = ip_alternative(false, local, cfg) {
            r.push(n);
        }
    }
    if let Some((plus, digits)) = &read.digits {
        if let Some(n) = ip_alternative(*plus, digits.as_slice(), cfg) {
            r.push(n);
        }
    }
    r
}

/// The form of nearly all traffic, `13800000001` or `+8613800000001` (an optional `+` and 1 to
/// [`MAX_DIGITS`] digits, nothing else), classified without the general reader's trimming,
/// scheme tests and separator filtering; `None` for any other input. Same result as
/// [`normalise_general`] (checked by a proptest).
#[inline]
fn normalise_plain(raw: &str, cfg: &NumberConfig) -> Option<Result<Normalised, NumberError>> {
    let (plus, digits) = plain_digits(raw)?;
    Some(classify(plus, digits, cfg))
}

/// The `+` and the digits of a plain number (see [`normalise_plain`]).
#[inline]
fn plain_digits(raw: &str) -> Option<(bool, &[u8])> {
    let bytes = raw.as_bytes();
    let (plus, digits) = match bytes.split_first() {
        Some((b'+', rest)) => (true, rest),
        _ => (false, bytes),
    };
    if digits.is_empty() || digits.len() > MAX_DIGITS || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some((plus, digits))
}

/// Every form of the module docs.
fn normalise_general(raw: &str, cfg: &NumberConfig) -> Result<Normalised, NumberError> {
    read_general(raw, cfg).primary
}

/// What the general reader found: the primary reading and what the alternatives are read from.
struct Read {
    /// What [`normalise`] returns.
    primary: Result<Normalised, NumberError>,
    /// The digits the primary was classified from (`true`: after a `+`).
    digits: Option<(bool, DigitBuf)>,
    /// The local number of a `phone-context` that was not the home country (a foreign or area
    /// context, or a malformed one): a core that ignores the context routes it as national.
    local: Option<DigitBuf>,
}

impl Read {
    fn err(e: NumberError) -> Read {
        Read {
            primary: Err(e),
            digits: None,
            local: None,
        }
    }

    /// A reading with no alternatives (an alphanumeric id).
    fn only(primary: Result<Normalised, NumberError>) -> Read {
        Read {
            primary,
            digits: None,
            local: None,
        }
    }

    fn digits(plus: bool, digits: DigitBuf, cfg: &NumberConfig) -> Read {
        Read {
            primary: classify(plus, digits.as_slice(), cfg),
            digits: Some((plus, digits)),
            local: None,
        }
    }
}

fn read_general(raw: &str, cfg: &NumberConfig) -> Read {
    if raw.len() > MAX_RAW_LEN {
        return Read::err(NumberError::TooLong {
            len: raw.len(),
            max: MAX_RAW_LEN,
        });
    }
    let bytes = raw.as_bytes();
    let clean_edges = bytes.first().is_some_and(u8::is_ascii_graphic)
        && bytes.last().is_some_and(u8::is_ascii_graphic);
    let (mut s, mut offset) = if clean_edges {
        (raw, 0)
    } else {
        let trimmed = raw.trim_start();
        (trimmed.trim_end(), raw.len() - trimmed.len())
    };
    if let Some(inner) = s.strip_prefix('<').and_then(|x| x.strip_suffix('>')) {
        s = inner.trim();
        offset += 1 + (inner.len() - inner.trim_start().len());
    }
    if s.is_empty() {
        return Read::err(NumberError::Empty);
    }
    if matches!(s.as_bytes().first(), Some(b't' | b'T' | b's' | b'S')) {
        if let Some(rest) = strip_scheme(s, "tel:") {
            return parse_subscriber(rest, offset + 4, cfg);
        }
        let sip_rest = strip_scheme(s, "sip:")
            .map(|r| (r, 4))
            .or_else(|| strip_scheme(s, "sips:").map(|r| (r, 5)));
        if let Some((rest, skip)) = sip_rest {
            return parse_sip(rest, offset + skip, cfg);
        }
    }
    // A bare SIP user part with parameters (`17000000001;phone-context=+44`).
    if let Some(number) = s.split_once(';').map(|(n, _)| n) {
        if !number.bytes().any(|b| b.is_ascii_alphabetic()) {
            return parse_subscriber(s, offset, cfg);
        }
    }
    match collect_digits(s, offset, b" -.()/") {
        Ok((plus, digits)) => Read::digits(plus, digits, cfg),
        // A letter where a digit was expected: an alphanumeric sender id.
        Err(NumberError::InvalidChar { ch, .. }) if ch.is_ascii_alphabetic() => {
            Read::only(parse_alphanumeric(s, offset))
        }
        Err(e) => Read::err(e),
    }
}

fn strip_scheme<'a>(s: &'a str, scheme: &str) -> Option<&'a str> {
    let head = s.get(..scheme.len())?;
    head.eq_ignore_ascii_case(scheme)
        .then(|| s.get(scheme.len()..))
        .flatten()
}

fn parse_sip(rest: &str, offset: usize, cfg: &NumberConfig) -> Read {
    let Some(at) = rest.find('@') else {
        return Read::err(NumberError::NoUserPart);
    };
    let userinfo = rest.get(..at).unwrap_or("");
    // A password (`user:pw@host`) is not part of the number.
    let escaped = userinfo.split(':').next().unwrap_or("");
    // RFC 3261 lets the user part be %-escaped (`%2B8617…`): decode it on the stack.
    let mut decoded = [0u8; MAX_RAW_LEN];
    let user = if escaped.contains('%') {
        match percent_decode(escaped, &mut decoded) {
            Some(user) => user,
            None => return Read::err(NumberError::NotANumber { offset }),
        }
    } else {
        escaped
    };
    if user.is_empty() {
        return Read::err(NumberError::NoUserPart);
    }
    let number_part = user.split(';').next().unwrap_or("");
    if number_part.bytes().any(|b| b.is_ascii_alphabetic()) {
        return Read::err(NumberError::NotANumber { offset });
    }
    parse_subscriber(user, offset, cfg)
}

/// Decodes `%HH` escapes into `out`; `None` on a malformed escape or non-UTF-8 result.
fn percent_decode<'o>(s: &str, out: &'o mut [u8]) -> Option<&'o str> {
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut len = 0;
    while let Some(&b) = bytes.get(i) {
        let byte = if b == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            i += 3;
            u8::from_str_radix(hex, 16).ok()?
        } else {
            i += 1;
            b
        };
        *out.get_mut(len)? = byte;
        len += 1;
    }
    std::str::from_utf8(out.get(..len)?).ok()
}

/// Reads an RFC 3966 telephone-subscriber: `number[;param]*`.
///
/// The primary reading applies the `phone-context` as RFC 3966 says; when the context is not
/// the home country (a foreign or area context, or a malformed one) the local number is also
/// kept for the national reading a core that ignores the context would route.
fn parse_subscriber(body: &str, offset: usize, cfg: &NumberConfig) -> Read {
    let mut parts = body.split(';');
    let number = parts.next().unwrap_or("");
    let mut context: Option<(&str, usize)> = None;
    let mut pos = offset + number.len() + 1;
    for param in parts {
        if let Some(value) = strip_scheme(param, "phone-context=") {
            context = Some((value, pos + "phone-context=".len()));
        }
        pos += param.len() + 1;
    }
    let (plus, digits) = match collect_digits(number, offset, b" -.()") {
        Ok(found) => found,
        Err(e) => return Read::err(e),
    };
    if plus {
        return Read::digits(true, digits, cfg);
    }
    let Some((ctx, ctx_offset)) = context else {
        return Read::digits(false, digits, cfg);
    };
    let unread = |e: NumberError| Read {
        primary: Err(e),
        digits: None,
        local: Some(digits),
    };
    if ctx.starts_with('+') {
        let ctx_digits = match collect_digits(ctx, ctx_offset, b"-.()") {
            Ok((_, d)) if !d.is_empty() => d,
            Ok(_) => return unread(NumberError::BadPhoneContext { offset: ctx_offset }),
            Err(e) => return unread(e),
        };
        if ctx_digits.as_slice() == CountryCode::new(cfg).as_slice() {
            return Read::digits(false, digits, cfg);
        }
        let mut full = ctx_digits;
        if full.extend(digits.as_slice()).is_none() {
            return unread(NumberError::BadLength {
                digits: ctx_digits.len() + digits.len(),
            });
        }
        let mut read = Read::digits(true, full, cfg);
        read.local = Some(digits);
        return read;
    }
    let is_domain = !ctx.is_empty()
        && ctx
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    if !is_domain {
        return unread(NumberError::BadPhoneContext { offset: ctx_offset });
    }
    Read::digits(false, digits, cfg)
}

fn parse_alphanumeric(s: &str, offset: usize) -> Result<Normalised, NumberError> {
    let mut buf = [0u8; 24];
    let mut len = 0usize;
    for (i, ch) in s.char_indices() {
        let ok = ch.is_ascii_alphanumeric() || matches!(ch, ' ' | '-' | '_' | '.' | '&');
        if !ok {
            return Err(NumberError::InvalidChar {
                ch,
                offset: offset + i,
            });
        }
        let slot = buf
            .get_mut(len)
            .filter(|_| len < MAX_ALPHANUMERIC_LEN)
            .ok_or(NumberError::BadAlphanumeric {
                len: s.chars().count(),
                max: MAX_ALPHANUMERIC_LEN,
            })?;
        *slot = (ch as u8).to_ascii_uppercase();
        len += 1;
    }
    if len < 2 {
        return Err(NumberError::BadAlphanumeric {
            len,
            max: MAX_ALPHANUMERIC_LEN,
        });
    }
    let id = buf.get(..len).unwrap_or(&[]);
    Ok(Normalised {
        kind: NumberKind::Alphanumeric,
        key: NumberKey::new(NumberKind::Alphanumeric, hash_bytes(id)),
        len: len as u8,
        digits_from: 0,
        buf,
    })
}

/// Collects an optional leading `+` and the digits, dropping the given separators.
fn collect_digits(
    s: &str,
    offset: usize,
    separators: &[u8],
) -> Result<(bool, DigitBuf), NumberError> {
    let mut digits = DigitBuf::new();
    let mut plus = false;
    for (i, &b) in s.as_bytes().iter().enumerate() {
        if b.is_ascii_digit() {
            if digits.push(b).is_none() {
                let count = s.bytes().filter(u8::is_ascii_digit).count();
                return Err(NumberError::BadLength { digits: count });
            }
        } else if b == b'+' && !plus && digits.is_empty() {
            plus = true;
        } else if !separators.contains(&b) {
            let ch = s
                .get(i..)
                .and_then(|r| r.chars().next())
                .unwrap_or('\u{fffd}');
            return Err(NumberError::InvalidChar {
                ch,
                offset: offset + i,
            });
        }
    }
    if digits.is_empty() {
        return Err(NumberError::BadLength { digits: 0 });
    }
    Ok((plus, digits))
}

fn classify(international: bool, d: &[u8], cfg: &NumberConfig) -> Result<Normalised, NumberError> {
    classify_as(international, d, cfg, true)
}

/// [`classify`]; `strip_ip` says whether an IP-call prefix may be dropped when the digits read
/// as nothing else (not for what followed one: prefixes are not stacked).
fn classify_as(
    international: bool,
    d: &[u8],
    cfg: &NumberConfig,
    strip_ip: bool,
) -> Result<Normalised, NumberError> {
    if international {
        // An international prefix written after the `+` (`+0086…`): no country code starts
        // with 0.
        let d = d.strip_prefix(b"00").unwrap_or(d);
        return classify_international(d, cfg, strip_ip);
    }
    if let Some(rest) = d.strip_prefix(b"00") {
        return classify_international(rest, cfg, strip_ip);
    }
    classify_national(d, cfg, strip_ip)
}

fn classify_international(
    d: &[u8],
    cfg: &NumberConfig,
    strip_ip: bool,
) -> Result<Normalised, NumberError> {
    let cc = CountryCode::new(cfg);
    if let Some(nsn) = d.strip_prefix(cc.as_slice()) {
        return home_reading(nsn, cfg, true, strip_ip).ok_or(NumberError::InvalidNational {
            digits: nsn.len(),
            country_code: cfg.country_code,
        });
    }
    if (7..=15).contains(&d.len()) && d.first() != Some(&b'0') {
        return Normalised::from_digits(NumberKind::E164, d);
    }
    Err(NumberError::BadLength { digits: d.len() })
}

/// The home-country number whose national significant number is `nsn` (what followed the
/// home country code), service numbers only when `service`. A trunk `0` kept in front of the
/// NSN is dropped (no NSN starts with 0); with `strip_ip`, so is an IP-call prefix when
/// nothing else reads.
fn home_reading(
    nsn: &[u8],
    cfg: &NumberConfig,
    service: bool,
    strip_ip: bool,
) -> Option<Normalised> {
    let cc = CountryCode::new(cfg);
    let read = |nsn: &[u8]| match home_nsn(nsn, cfg)? {
        NumberKind::Service if service => Normalised::from_digits(NumberKind::Service, nsn).ok(),
        NumberKind::Service | NumberKind::Alphanumeric => None,
        NumberKind::E164 => Normalised::from_parts(NumberKind::E164, cc.as_slice(), nsn).ok(),
    };
    if let Some(n) = read(nsn) {
        return Some(n);
    }
    if let Some(n) = nsn.strip_prefix(b"0").and_then(read) {
        return Some(n);
    }
    if strip_ip {
        return strip_ip_call(nsn, cfg);
    }
    None
}

/// The number that follows an IP-call prefix at the front of `d` (national digits or a home
/// NSN), if `d` starts with one of [`NumberConfig::ip_call_prefixes`] followed by at least
/// [`MIN_AFTER_IP_PREFIX`] digits that read as a number.
#[inline]
fn strip_ip_call(d: &[u8], cfg: &NumberConfig) -> Option<Normalised> {
    if d.len() < MIN_IP_PREFIX + MIN_AFTER_IP_PREFIX {
        return None;
    }
    cfg.ip_call_prefixes.iter().find_map(|p| {
        let p = p.as_bytes();
        if !(MIN_IP_PREFIX..=MAX_IP_PREFIX).contains(&p.len()) || !p.iter().all(u8::is_ascii_digit)
        {
            return None;
        }
        let rest = d.strip_prefix(p)?;
        if rest.len() < MIN_AFTER_IP_PREFIX {
            return None;
        }
        classify_as(false, rest, cfg, false).ok()
    })
}

/// The alternative reading of digits `d` (as [`classify`] read them, `international` after a
/// `+`) without an IP-call prefix at the front of their national part: the national digits
/// themselves, or the NSN after the home country code (`+86`, `0086`, or `86` without `+`).
/// Fewer than 12 digits (every mobile, fixed line and service number): one comparison.
#[inline]
fn ip_alternative(international: bool, d: &[u8], cfg: &NumberConfig) -> Option<Normalised> {
    if d.len() < MIN_IP_PREFIX + MIN_AFTER_IP_PREFIX {
        return None;
    }
    let cc = CountryCode::new(cfg);
    let intl = if international {
        Some(d.strip_prefix(b"00").unwrap_or(d))
    } else {
        d.strip_prefix(b"00")
    };
    match intl {
        Some(rest) => strip_ip_call(rest.strip_prefix(cc.as_slice())?, cfg),
        None => {
            strip_ip_call(d, cfg).or_else(|| strip_ip_call(d.strip_prefix(cc.as_slice())?, cfg))
        }
    }
}

/// Classifies a national significant number that followed the home country code.
fn home_nsn(nsn: &[u8], cfg: &NumberConfig) -> Option<NumberKind> {
    if cfg.country_code == 86 {
        if cn_mobile(nsn) || (!cn_tollfree(nsn) && cn_fixed(nsn)) {
            return Some(NumberKind::E164);
        }
        return cn_service(nsn).then_some(NumberKind::Service);
    }
    let cc_len = CountryCode::new(cfg).as_slice().len();
    if generic_service(nsn) {
        Some(NumberKind::Service)
    } else if nsn.len() >= 6 && nsn.len() + cc_len <= 15 && nsn.first() != Some(&b'0') {
        Some(NumberKind::E164)
    } else {
        None
    }
}

fn classify_national(
    d: &[u8],
    cfg: &NumberConfig,
    strip_ip: bool,
) -> Result<Normalised, NumberError> {
    let cc = CountryCode::new(cfg);
    let invalid = || NumberError::InvalidNational {
        digits: d.len(),
        country_code: cfg.country_code,
    };
    let with_cc = |nsn: &[u8]| -> Result<Normalised, NumberError> {
        let digits = cc.as_slice().len() + nsn.len();
        if digits > MAX_DIGITS {
            return Err(NumberError::BadLength { digits });
        }
        Normalised::from_parts(NumberKind::E164, cc.as_slice(), nsn)
    };
    if let Some(nsn) = d.strip_prefix(b"0") {
        let valid = if cfg.country_code == 86 {
            cn_mobile(nsn) || (!cn_tollfree(nsn) && cn_fixed(nsn))
        } else {
            (6..=12).contains(&nsn.len()) && nsn.first() != Some(&b'0')
        };
        return if valid { with_cc(nsn) } else { Err(invalid()) };
    }
    if cfg.country_code == 86 {
        if cn_mobile(d) {
            return with_cc(d);
        }
        if cn_service(d) {
            return Normalised::from_digits(NumberKind::Service, d);
        }
    } else if generic_service(d) {
        return Normalised::from_digits(NumberKind::Service, d);
    }
    let nsn = d.strip_prefix(cc.as_slice());
    if let Some(n) = nsn.and_then(|nsn| home_reading(nsn, cfg, false, false)) {
        return Ok(n);
    }
    // A foreign number written without its `+` (one under the home code was read above).
    if (12..=15).contains(&d.len()) && nsn.is_none() {
        return Normalised::from_digits(NumberKind::E164, d);
    }
    if strip_ip {
        // What only reads without an IP-call prefix (`17951 170…`, `86 17951 170…`).
        if let Some(n) = strip_ip_call(d, cfg).or_else(|| strip_ip_call(nsn?, cfg)) {
            return Ok(n);
        }
    }
    Err(invalid())
}

/// Chinese mobile: `1[3-9]` + 9 digits.
fn cn_mobile(n: &[u8]) -> bool {
    n.len() == 11 && n.first() == Some(&b'1') && matches!(n.get(1), Some(b'3'..=b'9'))
}

/// Chinese fixed line NSN: area code `10`/`2x` + 8 digits, or `[3-9]xx` + 7–8 digits; the
/// subscriber number does not start with 0 or 1.
fn cn_fixed(n: &[u8]) -> bool {
    let area_len = match (n.first(), n.get(1)) {
        (Some(b'1'), Some(b'0')) | (Some(b'2'), Some(_)) => 2,
        (Some(b'3'..=b'9'), Some(_)) => 3,
        _ => return false,
    };
    let subscriber = n.get(area_len..).unwrap_or(&[]);
    let len_ok = if area_len == 2 {
        subscriber.len() == 8
    } else {
        (7..=8).contains(&subscriber.len())
    };
    len_ok && matches!(subscriber.first(), Some(b'2'..=b'9'))
}

/// `400`/`800` national toll-free/shared-cost numbers (10 digits).
fn cn_tollfree(n: &[u8]) -> bool {
    n.len() == 10 && (n.starts_with(b"400") || n.starts_with(b"800"))
}

/// Chinese service numbers (see module docs for the exact ranges).
fn cn_service(n: &[u8]) -> bool {
    let len = n.len();
    if cn_tollfree(n) || (n.starts_with(b"10") && (3..=MAX_DIGITS).contains(&len)) {
        return true;
    }
    if (n.starts_with(b"95") || n.starts_with(b"96")) && (5..=8).contains(&len) {
        return true;
    }
    generic_service(n)
}

/// A 3–6 digit short code not starting with 0.
fn generic_service(n: &[u8]) -> bool {
    (3..=6).contains(&n.len()) && n.first() != Some(&b'0')
}

/// FNV-1a followed by a final avalanche mix; stable across runs and platforms.
fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h
}

/// A small inline buffer of at most [`MAX_DIGITS`] ASCII digits.
#[derive(Clone, Copy)]
struct DigitBuf {
    buf: [u8; MAX_DIGITS],
    len: usize,
}

impl DigitBuf {
    fn new() -> DigitBuf {
        DigitBuf {
            buf: [0; MAX_DIGITS],
            len: 0,
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn as_slice(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    #[inline]
    fn push(&mut self, digit: u8) -> Option<()> {
        *self.buf.get_mut(self.len)? = digit;
        self.len += 1;
        Some(())
    }

    fn extend(&mut self, digits: &[u8]) -> Option<()> {
        self.buf
            .get_mut(self.len..self.len + digits.len())?
            .copy_from_slice(digits);
        self.len += digits.len();
        Some(())
    }
}

/// The home country code as ASCII digits (a `u16` has at most 5).
#[derive(Clone, Copy)]
struct CountryCode {
    buf: [u8; 5],
    len: usize,
}

impl CountryCode {
    #[inline]
    fn new(cfg: &NumberConfig) -> CountryCode {
        if cfg.country_code == 86 {
            // The default, without the digit loop.
            return CountryCode {
                buf: [b'8', b'6', 0, 0, 0],
                len: 2,
            };
        }
        let mut buf = [0u8; 5];
        let mut n = cfg.country_code;
        let len = match n {
            0..=9 => 1,
            10..=99 => 2,
            100..=999 => 3,
            1000..=9999 => 4,
            _ => 5,
        };
        for slot in buf.iter_mut().take(len).rev() {
            *slot = b'0' + (n % 10) as u8;
            n /= 10;
        }
        CountryCode { buf, len }
    }

    fn as_slice(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    //! All numbers below are synthetic: 170/171 virtual-operator ranges, 138-0000-00xx
    //! placeholders and made-up fixed lines; service numbers are public short codes.
    use super::*;

    fn cfg() -> NumberConfig {
        NumberConfig::default()
    }

    fn n(raw: &str) -> Normalised {
        match normalise(raw, &cfg()) {
            Ok(v) => v,
            Err(e) => panic!("{raw:?} should normalise: {e}"),
        }
    }

    fn e164(raw: &str, want: &str) {
        let v = n(raw);
        assert_eq!(v.kind(), NumberKind::E164, "{raw:?}");
        assert_eq!(v.as_str(), want, "{raw:?}");
        assert_eq!(v.key().kind(), NumberKind::E164);
    }

    fn service(raw: &str, want: &str) {
        let v = n(raw);
        assert_eq!(v.kind(), NumberKind::Service, "{raw:?}");
        assert_eq!(v.as_str(), want, "{raw:?}");
        assert_eq!(v.digits(), want.as_bytes());
    }

    #[test]
    fn e164_with_and_without_plus() {
        e164("+8617000000001", "+8617000000001");
        e164("+86 170 0000 0001", "+8617000000001");
        e164("+86-170-0000-0001", "+8617000000001");
        e164("8617000000001", "+8617000000001");
        assert_eq!(n("+8617000000001").key(), n("8617000000001").key());
        assert_eq!(n("+8617000000001").digits(), b"8617000000001");
    }

    #[test]
    fn international_prefixes_00_and_0086() {
        e164("008617000000001", "+8617000000001");
        e164("0086 170 0000 0001", "+8617000000001");
        e164("0044 20 7946 0000", "+442079460000");
        assert_eq!(n("008617000000001").key(), n("+8617000000001").key());
    }

    #[test]
    fn national_mobiles() {
        e164("17000000001", "+8617000000001");
        e164("171-0000-0002", "+8617100000002");
        e164("138 0000 0001", "+8613800000001");
        e164("(199) 0000 0003", "+8619900000003");
        // A 0 added in front of a mobile (common when dialling out of area).
        e164("017000000001", "+8617000000001");
        // 12x with 11 digits is not a mobile (second digit must be 3-9).
        assert!(normalise("12000000001", &cfg()).is_err());
    }

    #[test]
    fn fixed_lines_with_trunk_prefix_and_area_code() {
        e164("010 8888 0001", "+861088880001");
        e164("(010) 8888-0001", "+861088880001");
        e164("021-6666-0002", "+862166660002");
        e164("0755 2888 0003", "+8675528880003");
        e164("0571 8888 0004", "+8657188880004");
        e164("0931 888 0005", "+869318880005"); // 3-digit area, 7-digit subscriber
                                                // Same fixed line in international form.
        assert_eq!(n("+86 10 8888 0001").key(), n("01088880001").key());
        assert_eq!(n("+86 755 2888 0003").key(), n("075528880003").key());
        // Subscriber starting with 1 or a wrong length is no fixed line.
        assert!(normalise("01012345678", &cfg()).is_err());
        assert!(normalise("010888800", &cfg()).is_err());
        assert!(normalise("0755288800031", &cfg()).is_err());
    }

    #[test]
    fn tel_uris_with_separators_and_phone_context() {
        e164("tel:+86-170-0000-0001", "+8617000000001");
        e164("TEL:+86.170.0000.0001;ext=12", "+8617000000001");
        e164("tel:(010)8888-0001;phone-context=+86", "+861088880001");
        e164("tel:17000000001;phone-context=+86", "+8617000000001");
        service("tel:95588;phone-context=+86", "95588");
        e164("tel:88880001;phone-context=+8610", "+861088880001");
        e164("tel:20-7946-0000;phone-context=+44", "+442079460000");
        e164(
            "tel:170-0000-0001;phone-context=ims.example.net",
            "+8617000000001",
        );
        e164("<tel:+8617000000001>", "+8617000000001");
        assert!(matches!(
            normalise("tel:95588;phone-context=+", &cfg()),
            Err(NumberError::BadLength { .. })
        ));
        assert!(matches!(
            normalise("tel:95588;phone-context=%%", &cfg()),
            Err(NumberError::BadPhoneContext { offset: 24 })
        ));
        assert!(matches!(
            normalise("tel:*95588", &cfg()),
            Err(NumberError::InvalidChar { ch: '*', offset: 4 })
        ));
    }

    #[test]
    fn sip_user_parts() {
        e164(
            "sip:+8617000000001@ims.example;user=phone",
            "+8617000000001",
        );
        e164("sips:17000000001@ims.example;user=phone", "+8617000000001");
        e164("sip:8617000000001@10.0.0.1:5060", "+8617000000001");
        e164("sip:+86-170-0000-0001@h;user=phone", "+8617000000001");
        e164(
            "sip:17000000001;phone-context=+86@ims.example;user=phone",
            "+8617000000001",
        );
        e164("<sip:+8617000000001:secret@h>", "+8617000000001");
        service("sip:95588@ims.example", "95588");
        e164(
            "sip:%2B86%31%37%30%30%30%30%30%30%30%30%31@h",
            "+8617000000001",
        );
        assert_eq!(
            normalise("sip:%75se%72@example.com", &cfg()),
            Err(NumberError::NotANumber { offset: 4 })
        );
        assert!(normalise("sip:%00@h", &cfg()).is_err());
        assert!(normalise("sip:%2@h", &cfg()).is_err());
        service("SIP:96110@h;user=phone", "96110");
        assert_eq!(
            normalise("sip:alice@example.com", &cfg()),
            Err(NumberError::NotANumber { offset: 4 })
        );
        assert_eq!(
            normalise("sip:anonymous@anonymous.invalid", &cfg()),
            Err(NumberError::NotANumber { offset: 4 })
        );
        assert_eq!(
            normalise("sip:ims.example", &cfg()),
            Err(NumberError::NoUserPart)
        );
    }

    #[test]
    fn service_numbers_are_distinct_from_e164() {
        for s in [
            "110",
            "120",
            "119",
            "12110",
            "12315",
            "96110",
            "95588",
            "95555",
            "10086",
            "10000",
            "4008880001",
            "8008880001",
            "1069000000000000001",
        ] {
            service(s, s);
        }
        service("400-888-0001", "4008880001");
        service("800 888 0001", "8008880001");
        // Service numbers written internationally keep the service kind and key.
        service("+86 95588", "95588");
        service("0086 95588", "95588");
        service("+86110", "110");
        service("+86 400 888 0001", "4008880001");
        assert_eq!(n("+86 95588").key(), n("95588").key());
        // Same digits as an E.164 tail, different key.
        assert_ne!(n("95588").key().raw(), 95588);
        assert!(normalise("+110", &cfg()).is_err()); // no country code 110 number of 3 digits
                                                     // 400 is checked before fixed lines: +86 4008880001 is not area 400.
        assert_eq!(n("+864008880001").kind(), NumberKind::Service);
        // 10-prefixed vs Beijing: national 10xxxxxxxx is a service port, +86 10… a fixed line.
        assert_eq!(n("1088880001").kind(), NumberKind::Service);
        assert_eq!(n("+861088880001").kind(), NumberKind::E164);
        // Long 106 ports (> 15 digits) are keyed by hash above 10^15, distinct from others.
        let long = n("10690000000000000001").key().raw() & ((1 << 50) - 1);
        assert!(long >= DIGIT_VALUE_LIMIT);
        assert_ne!(
            n("10690000000000000001").key(),
            n("10690000000000000002").key()
        );
        assert!(n("95588").is_domestic(&cfg()));
    }

    #[test]
    fn alphanumeric_sender_ids() {
        let a = n("ICBC");
        assert_eq!(a.kind(), NumberKind::Alphanumeric);
        assert_eq!(a.as_str(), "ICBC");
        assert_eq!(a.key(), n("icbc").key());
        assert_eq!(a.key().kind(), NumberKind::Alphanumeric);
        assert!(a.digits().is_empty());
        assert!(!a.is_domestic(&cfg()));
        assert_eq!(n(" JD.com ").as_str(), "JD.COM");
        assert_ne!(n("ICBC").key(), n("CMBC").key());
        assert!(matches!(
            normalise("A", &cfg()),
            Err(NumberError::BadAlphanumeric { .. })
        ));
        assert!(matches!(
            normalise("ABCDEFGHIJKLMNOPQRSTU", &cfg()),
            Err(NumberError::BadAlphanumeric { .. })
        ));
        assert_eq!(
            normalise("IC#BC", &cfg()),
            Err(NumberError::InvalidChar { ch: '#', offset: 2 })
        );
    }

    #[test]
    fn foreign_numbers() {
        e164("+44 20 7946 0000", "+442079460000");
        e164("+1 (202) 555-0100", "+12025550100");
        e164("442079460000", "+442079460000"); // 12 digits: E.164 missing its +
        assert!(!n("+442079460000").is_domestic(&cfg()));
        assert!(n("+8617000000001").is_domestic(&cfg()));
        assert!(normalise("+44 1234", &cfg()).is_err());
        assert!(normalise("+1234567890123456", &cfg()).is_err());
    }

    #[test]
    fn unparseable_is_an_error_never_a_guess() {
        let c = cfg();
        assert_eq!(normalise("", &c), Err(NumberError::Empty));
        assert_eq!(normalise("   ", &c), Err(NumberError::Empty));
        assert_eq!(normalise("<>", &c), Err(NumberError::Empty));
        assert!(matches!(
            normalise("12", &c),
            Err(NumberError::InvalidNational { .. })
        ));
        // A local fixed line without area code cannot be placed.
        assert!(matches!(
            normalise("88880001", &c),
            Err(NumberError::InvalidNational { .. })
        ));
        assert!(matches!(
            normalise("+86 2345678", &c),
            Err(NumberError::InvalidNational { .. })
        ));
        assert!(matches!(
            normalise("+", &c),
            Err(NumberError::BadLength { digits: 0 })
        ));
        assert!(matches!(
            normalise("1+1", &c),
            Err(NumberError::InvalidChar { ch: '+', offset: 1 })
        ));
        assert!(matches!(
            normalise("1３８", &c),
            Err(NumberError::InvalidChar { offset: 1, .. })
        ));
        assert!(matches!(
            normalise(&"1".repeat(300), &c),
            Err(NumberError::TooLong { len: 300, .. })
        ));
        assert!(matches!(
            normalise(&"1".repeat(25), &c),
            Err(NumberError::BadLength { digits: 25 })
        ));
        assert!(matches!(
            normalise("000", &c),
            Err(NumberError::BadLength { .. })
        ));
        assert!(matches!(
            normalise("0", &c),
            Err(NumberError::InvalidNational { .. })
        ));
    }

    #[test]
    fn generic_plan_for_another_country() {
        let uk = NumberConfig {
            country_code: 44,
            ..NumberConfig::default()
        };
        let v = normalise("020 7946 0000", &uk).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v.as_str(), "+442079460000");
        assert!(v.is_domestic(&uk));
        let s = normalise("999", &uk).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.kind(), NumberKind::Service);
        let s2 = normalise("+44 999", &uk).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s2.key(), s.key());
        let cn = normalise("+8617000000001", &uk).unwrap_or_else(|e| panic!("{e}"));
        assert!(!cn.is_domestic(&uk));
    }

    #[test]
    fn key_layout() {
        let k = n("+8617000000001").key();
        assert_eq!(k.raw() >> KEY_BITS, 0);
        assert_eq!(k.raw() & ((1 << 50) - 1), 8_617_000_000_001);
        assert_eq!(NumberKey::from_raw(k.raw()), Some(k));
        assert_eq!(NumberKey::from_raw(0), None);
        assert_eq!(NumberKind::Service.as_str(), "service");
    }

    /// Every reading of `raw` in display form, primary first; checks that the primary is what
    /// `normalise` returns and that the keys are distinct.
    fn reads(raw: &str) -> Vec<String> {
        reads_with(raw, &cfg())
    }

    fn reads_with(raw: &str, c: &NumberConfig) -> Vec<String> {
        let r = readings(raw, c);
        assert_eq!(r.primary().copied(), normalise(raw, c), "{raw:?}");
        let keys: std::collections::HashSet<_> = r.iter().map(|n| n.key()).collect();
        assert_eq!(keys.len(), r.len(), "{raw:?}: distinct keys");
        assert!(r.len() <= MAX_READINGS);
        r.iter().map(|n| n.as_str().to_owned()).collect()
    }

    #[test]
    fn foreign_phone_context_adds_the_national_reading() {
        let both = ["+4417000000001", "+8617000000001"];
        assert_eq!(reads("tel:17000000001;phone-context=+44"), both);
        assert_eq!(
            reads("sip:17000000001;phone-context=+44@ims.example;user=phone"),
            both
        );
        // The bare user part the SIP parser hands over.
        assert_eq!(reads("17000000001;phone-context=+44"), both);
        assert_eq!(reads(" 170-0000-0001;phone-context=+44 "), both);
        // An area context of the home country: the national reading too (a mobile has no area).
        let area = readings("tel:17000000001;phone-context=+8610", &cfg());
        assert_eq!(area.primary().map(|n| n.kind()), Ok(NumberKind::Service));
        assert_eq!(
            reads("tel:17000000001;phone-context=+8610"),
            ["1017000000001", "+8617000000001"]
        );
        // A local fixed line under its area context has one reading: alone it is no number.
        assert_eq!(reads("tel:88880001;phone-context=+8610"), ["+861088880001"]);
        // An official number under a foreign context: the foreign reading is primary.
        let bank = readings("tel:95588;phone-context=+44", &cfg());
        assert_eq!(bank.primary().map(|n| n.as_str()), Ok("+4495588"));
        assert_eq!(bank.alternatives().len(), 1);
        assert_eq!(bank.alternatives()[0].kind(), NumberKind::Service);
        assert_eq!(reads("tel:95588;phone-context=+44"), ["+4495588", "95588"]);
        // The home context, a domain context and no context: one reading.
        for raw in [
            "tel:17000000001;phone-context=+86",
            "17000000001;phone-context=+86",
            "17000000001;phone-context=ims.example.net",
            "tel:17000000001",
            "17000000001;user=phone",
        ] {
            assert_eq!(reads(raw), ["+8617000000001"], "{raw:?}");
        }
        // A global number ignores any context.
        assert_eq!(
            reads("tel:+8617000000001;phone-context=+44"),
            ["+8617000000001"]
        );
    }

    #[test]
    fn malformed_or_oversized_context_keeps_the_error_and_the_national_reading() {
        for (raw, err) in [
            (
                "tel:17000000001;phone-context=%%",
                NumberError::BadPhoneContext { offset: 30 },
            ),
            (
                "17000000001;phone-context=%%",
                NumberError::BadPhoneContext { offset: 26 },
            ),
            (
                "tel:17000000001;phone-context=+",
                NumberError::BadLength { digits: 0 },
            ),
            (
                "tel:17000000001;phone-context=+99999999",
                NumberError::BadLength { digits: 19 },
            ),
        ] {
            let r = readings(raw, &cfg());
            assert_eq!(r.primary(), Err(err), "{raw:?}");
            assert_eq!(r.error(), Some(err));
            assert_eq!(reads(raw), ["+8617000000001"], "{raw:?}");
            assert_eq!(r.alternatives().len(), 1);
        }
        // Nothing readable at all: the error and no reading.
        let none = readings("tel:12;phone-context=%%", &cfg());
        assert!(none.is_empty() && none.primary().is_err());
        // A name is still no number, with or without parameters.
        assert!(normalise("ICBC;x=1", &cfg()).is_err());
        assert!(readings("ICBC;x=1", &cfg()).is_empty());
    }

    #[test]
    fn trunk_zero_and_international_prefix_after_the_country_code_are_dropped() {
        for raw in [
            "+86 0 17000000001",
            "+86017000000001",
            "0086 0 17000000001",
            "0086017000000001",
            "86 0 17000000001",
            "+0086 17000000001",
            "+008617000000001",
            "+0086 0 17000000001",
            "tel:+86-0-170-0000-0001",
            "sip:+86017000000001@h;user=phone",
        ] {
            assert_eq!(reads(raw), ["+8617000000001"], "{raw:?}");
        }
        assert_eq!(reads("+86 010 8888 0001"), ["+861088880001"]);
        assert_eq!(reads("+86 0755 2888 0003"), ["+8675528880003"]);
        assert_eq!(reads("+86 0 95588"), ["95588"]);
        assert_eq!(n("+86 0 95588").kind(), NumberKind::Service);
        // Two zeros after the country code are still no number.
        assert!(normalise("+86 00 17000000001", &cfg()).is_err());
    }

    #[test]
    fn ip_call_prefixes_are_dropped_where_nothing_else_reads() {
        for prefix in DEFAULT_IP_CALL_PREFIXES {
            if prefix == "10193" {
                continue; // also a 10… service number: see below
            }
            for raw in [
                format!("{prefix} 17000000001"),
                format!("{prefix}17000000001"),
                format!("{prefix} 0086 17000000001"),
                format!("{prefix} 0 17000000001"),
                format!("+86 {prefix} 17000000001"),
                format!("86 {prefix} 17000000001"),
            ] {
                assert_eq!(reads(&raw), ["+8617000000001"], "{raw:?}");
            }
        }
        assert_eq!(reads("1795113800000000"), ["+8613800000000"]);
        assert_eq!(reads("17951 010 8888 0001"), ["+861088880001"]);
        assert_eq!(reads("17951 0044 20 7946 0000"), ["+442079460000"]);
        assert_eq!(reads("tel:17951-170-0000-0001"), ["+8617000000001"]);
        // An IP prefix is dialled in front of a long-distance number, not a short code.
        assert!(normalise("17951 95588", &cfg()).is_err());
    }

    #[test]
    fn ip_call_prefix_where_the_whole_also_reads_is_an_alternative() {
        // 10193… is also a 10… service number (as 106 SMS ports are).
        assert_eq!(
            reads("10193 17000000001"),
            ["1019317000000001", "+8617000000001"]
        );
        assert_eq!(
            reads("+86 10193 17000000001"),
            ["1019317000000001", "+8617000000001"]
        );
        assert_eq!(
            reads("10193 0086 17000000001"),
            ["10193008617000000001", "+8617000000001"]
        );
        // 15 digits are also an E.164 number written without its `+`.
        assert_eq!(
            reads("17951 400 888 0001"),
            ["+179514008880001", "4008880001"]
        );
    }

    #[test]
    fn ip_call_prefixes_are_configurable() {
        let none = NumberConfig {
            ip_call_prefixes: Vec::new(),
            ..NumberConfig::default()
        };
        assert!(normalise("17951 17000000001", &none).is_err());
        assert_eq!(reads_with("10193 17000000001", &none), ["1019317000000001"]);
        let own = NumberConfig {
            // Too short, too long, not digits: ignored.
            ip_call_prefixes: vec![
                "12".into(),
                "123456789".into(),
                "17x51".into(),
                "12345".into(),
            ],
            ..NumberConfig::default()
        };
        assert_eq!(reads_with("12345 17000000001", &own), ["+8617000000001"]);
        assert!(normalise("17951 17000000001", &own).is_err());
        assert_eq!(reads_with("12 017000000001", &own), ["+12017000000001"]);
        let parsed: NumberConfig = match toml::from_str("country_code = 86") {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(parsed, NumberConfig::default());
    }

    #[test]
    fn plain_numbers_have_one_reading() {
        for (raw, want) in [
            ("13800000001", "+8613800000001"),
            ("+8613800000001", "+8613800000001"),
            ("008613800000001", "+8613800000001"),
            ("013800000001", "+8613800000001"),
            ("01088880001", "+861088880001"),
            ("95588", "95588"),
            ("110", "110"),
            ("96110", "96110"),
            ("10690000000000000001", "10690000000000000001"),
            ("+442079460000", "+442079460000"),
            ("ICBC", "ICBC"),
        ] {
            assert_eq!(reads(raw), [want], "{raw:?}");
        }
        assert!(readings("", &cfg()).is_empty());
        assert_eq!(readings("", &cfg()).primary(), Err(NumberError::Empty));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// Every input's readings start with what `normalise` returns, have distinct keys, and
        /// each reads back to itself.
        #[test]
        fn readings_start_with_the_primary(raw in "[ -~]{0,40}|\\+?(86|0086|0|00|17951|10193|96688)?[0-9 ]{0,22}|(tel:|sip:)?[+0-9-]{0,18}(;phone-context=[+0-9a-z.%]{0,8})?(@h)?") {
            let r = readings(&raw, &cfg());
            proptest::prop_assert_eq!(r.primary().copied(), normalise(&raw, &cfg()));
            proptest::prop_assert!(r.len() <= MAX_READINGS);
            for (i, a) in r.iter().enumerate() {
                for b in r.as_slice().get(i + 1..).unwrap_or(&[]) {
                    proptest::prop_assert_ne!(a.key(), b.key());
                }
                let again = normalise(a.as_str(), &cfg());
                proptest::prop_assert_eq!(again.map(|x| x.key()), Ok(a.key()));
            }
        }

        /// The plain-digits fast path gives exactly what the general reader gives.
        #[test]
        fn plain_fast_path_equals_general_path(raw in "\\+?(86|0086|0|00|1[3-9]|400|95|10)?[0-9]{0,22}") {
            let general = normalise_general(&raw, &cfg());
            match normalise_plain(&raw, &cfg()) {
                Some(fast) => proptest::prop_assert_eq!(fast, general),
                None => {
                    let digits = raw.trim_start_matches('+').len();
                    proptest::prop_assert!(digits == 0 || digits > MAX_DIGITS, "{:?} left to the slow path", raw);
                }
            }
            proptest::prop_assert_eq!(normalise(&raw, &cfg()), general);
        }

        /// Whether a number is domestic is whether its digits start with the country code, for
        /// the default and for other codes (1 to 5 digits).
        #[test]
        fn domestic_is_a_country_code_prefix(
            raw in "\\+?[1-9][0-9]{5,14}",
            code in proptest::prop_oneof![proptest::strategy::Just(86u16), 1u16..=u16::MAX],
        ) {
            let cfg = NumberConfig { country_code: code, ..NumberConfig::default() };
            if let Ok(v) = normalise(&raw, &cfg) {
                let want = match v.kind() {
                    NumberKind::Service => true,
                    NumberKind::Alphanumeric => false,
                    NumberKind::E164 => v.digits().starts_with(code.to_string().as_bytes()),
                };
                proptest::prop_assert_eq!(v.is_domestic(&cfg), want);
            }
        }

        /// Any input is either an error or a number whose canonical form reads back to itself.
        #[test]
        fn never_panics_and_canonical_form_is_stable(raw in "[ -~]{0,40}|[+0-9 ()-]{0,24}|tel:[+0-9;=a-z.-]{0,30}") {
            if let Ok(v) = normalise(&raw, &cfg()) {
                let again = normalise(v.as_str(), &cfg());
                proptest::prop_assert_eq!(again.map(|a| a.key()), Ok(v.key()));
            }
        }
    }
}
