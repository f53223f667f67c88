//! Small typed header values: CSeq, Call-ID, Max-Forwards, Content-Type, Contact.

use crate::lex::{is_lws, is_token, is_word, trim, Fail};
use crate::name_addr::NameAddr;
use crate::params::Params;

/// The CSeq header: sequence number and method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CSeq<'a> {
    /// The sequence number (must fit 32 bits, RFC 3261 §8.1.1.5).
    pub seq: u32,
    /// The method as written.
    pub method: &'a str,
}

impl<'a> CSeq<'a> {
    pub(crate) fn parse_inner(s: &'a str) -> Result<CSeq<'a>, Fail> {
        let t = trim(s);
        let lead = s.len() - crate::lex::trim_start(s).len();
        let n = t.bytes().take_while(u8::is_ascii_digit).count();
        let digits = t.get(..n).unwrap_or("");
        if n == 0 {
            return Err(Fail {
                at: lead,
                what: "missing sequence number",
            });
        }
        let seq = parse_decimal_u32(digits).ok_or(Fail {
            at: lead,
            what: "sequence number overflows 32 bits",
        })?;
        let rest = t.get(n..).unwrap_or("");
        let method = crate::lex::trim_start(rest);
        if method.len() == rest.len() || method.is_empty() || !method.bytes().all(is_token) {
            return Err(Fail {
                at: lead + n,
                what: "invalid method",
            });
        }
        Ok(CSeq { seq, method })
    }
}

/// Parses decimal digits (leading zeros allowed) into a u32, `None` on overflow or non-digits.
pub(crate) fn parse_decimal_u32(digits: &str) -> Option<u32> {
    if digits.is_empty() {
        return None;
    }
    digits.bytes().try_fold(0u32, |acc, c| {
        let d = u32::from(c.checked_sub(b'0').filter(|d| *d <= 9)?);
        acc.checked_mul(10)?.checked_add(d)
    })
}

/// Validates a Call-ID (`word [ "@" word ]`) and returns it trimmed.
pub(crate) fn parse_call_id(s: &str) -> Result<&str, Fail> {
    let t = trim(s);
    let lead = s.len() - crate::lex::trim_start(s).len();
    let b = t.as_bytes();
    let (mut ats, mut last_at) = (0usize, None);
    for (i, &c) in b.iter().enumerate() {
        if c == b'@' {
            ats += 1;
            last_at = Some(i);
        } else if !is_word(c) {
            return Err(Fail {
                at: lead + i,
                what: "invalid character in Call-ID",
            });
        }
    }
    let ok = match last_at {
        None => !b.is_empty(),
        Some(at) => ats == 1 && at > 0 && at + 1 < b.len(),
    };
    if ok {
        Ok(t)
    } else {
        Err(Fail {
            at: lead,
            what: "invalid Call-ID",
        })
    }
}

/// Parses Max-Forwards: 1*DIGIT in 0..=255.
pub(crate) fn parse_max_forwards(s: &str) -> Result<u8, Fail> {
    let t = trim(s);
    let lead = s.len() - crate::lex::trim_start(s).len();
    if !t.bytes().all(|c| c.is_ascii_digit()) {
        return Err(Fail {
            at: lead,
            what: "not a number",
        });
    }
    parse_decimal_u32(t)
        .and_then(|v| u8::try_from(v).ok())
        .ok_or(Fail {
            at: lead,
            what: "Max-Forwards must be 0..=255",
        })
}

/// A media type such as `application/sdp` or `text/plain;charset=UTF-8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaType<'a> {
    /// The type, e.g. `text`.
    pub type_: &'a str,
    /// The subtype, e.g. `plain`.
    pub subtype: &'a str,
    /// Parameters such as `charset`.
    pub params: Params<'a>,
}

impl<'a> MediaType<'a> {
    pub(crate) fn parse_inner(s: &'a str) -> Result<MediaType<'a>, Fail> {
        let start = crate::lex::trim_start(s);
        let lead = s.len() - start.len();
        let tok = |x: &'a str| -> (&'a str, &'a str) {
            let n = x.bytes().take_while(|c| is_token(*c)).count();
            (x.get(..n).unwrap_or(""), x.get(n..).unwrap_or(""))
        };
        let (type_, rest) = tok(start);
        let rest = crate::lex::trim_start(rest);
        let rest = rest.strip_prefix('/').ok_or(Fail {
            at: lead + type_.len(),
            what: "missing /",
        })?;
        let (subtype, rest) = tok(crate::lex::trim_start(rest));
        if type_.is_empty() || subtype.is_empty() {
            return Err(Fail {
                at: lead,
                what: "invalid media type",
            });
        }
        let at = s.len() - rest.len();
        let (params, rest, _) = Params::parse_header(rest, "").map_err(|p| Fail {
            at: at + p,
            what: "invalid parameter",
        })?;
        if !rest.bytes().all(is_lws) {
            return Err(Fail {
                at: s.len() - rest.len(),
                what: "unexpected characters",
            });
        }
        Ok(MediaType {
            type_,
            subtype,
            params,
        })
    }

    /// Whether this is `type/subtype` (ASCII case-insensitive).
    pub fn is(&self, type_: &str, subtype: &str) -> bool {
        self.type_.eq_ignore_ascii_case(type_) && self.subtype.eq_ignore_ascii_case(subtype)
    }

    /// The `charset` parameter without quotes, if any.
    pub fn charset(&self) -> Option<&'a str> {
        self.params
            .get("charset")
            .flatten()
            .map(|v| v.trim_matches('"'))
    }
}

/// One Contact value: `*` (only in REGISTER to remove all bindings) or an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // boxing would allocate; values live briefly on the stack
pub enum Contact<'a> {
    /// `Contact: *`
    Wildcard,
    /// A normal contact address.
    Address(NameAddr<'a>),
}

impl<'a> Contact<'a> {
    /// Parses one element; only a quoted display name may hold octets that are not UTF-8.
    pub(crate) fn parse_bytes_inner(s: &'a [u8]) -> Result<Contact<'a>, Fail> {
        if crate::lex::trim_end_bytes(crate::lex::trim_start_bytes(s)) == b"*" {
            Ok(Contact::Wildcard)
        } else {
            NameAddr::parse_bytes_inner(s).map(Contact::Address)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cseq_forms() {
        assert_eq!(
            CSeq::parse_inner("0009\r\n  INVITE").unwrap(),
            CSeq {
                seq: 9,
                method: "INVITE"
            }
        );
        assert!(CSeq::parse_inner("36893488147419103232 REGISTER").is_err());
        assert!(CSeq::parse_inner("1INVITE").is_err());
        assert!(CSeq::parse_inner("1 ").is_err());
        assert_eq!(CSeq::parse_inner("4294967295 ACK").unwrap().seq, u32::MAX);
    }

    #[test]
    fn call_id_and_max_forwards() {
        assert_eq!(
            parse_call_id(" intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{").unwrap(),
            "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
        );
        assert!(parse_call_id("a b").is_err());
        assert!(parse_call_id("a@b@c").is_err());
        assert_eq!(parse_max_forwards(" 0068").unwrap(), 68);
        assert!(parse_max_forwards("300").is_err());
        assert!(parse_max_forwards("-1").is_err());
    }

    #[test]
    fn media_type() {
        let m = MediaType::parse_inner("text/plain ; charset=\"UTF-8\"").unwrap();
        assert!(m.is("TEXT", "plain"));
        assert_eq!(m.charset(), Some("UTF-8"));
        assert!(MediaType::parse_inner("text").is_err());
    }
}
