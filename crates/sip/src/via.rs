//! `Via<'a>`: one Via value (RFC 3261 §20.42): sent-protocol, sent-by and parameters.

use crate::lex::{trim, trim_start, Fail};
use crate::params::Params;
use crate::uri::Host;

/// The RFC 3261 magic cookie that starts every compliant branch.
pub const MAGIC_COOKIE: &str = "z9hG4bK";

/// One Via header value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Via<'a> {
    raw: &'a str,
    protocol: &'a str,
    version: &'a str,
    transport: &'a str,
    host: Host<'a>,
    port: Option<u16>,
    params: Params<'a>,
    branch: Option<&'a str>,
}

/// A non-empty token at the start of `i`, and the rest.
#[inline(always)]
fn token(i: &[u8]) -> Option<(&[u8], &[u8])> {
    let n = crate::lex::run(i, crate::lex::TOKEN);
    (n > 0).then(|| i.split_at(n))
}

/// `SWS "/" SWS` at the start of `i`: the rest after it.
#[inline(always)]
fn slash(i: &[u8]) -> Option<&[u8]> {
    let i = i.get(crate::lex::run(i, crate::lex::LWS)..)?;
    let (&c, i) = i.split_first()?;
    (c == b'/').then(|| i.get(crate::lex::run(i, crate::lex::LWS)..).unwrap_or(b""))
}

/// `protocol-name SLASH protocol-version SLASH transport` with SWS around the slashes;
/// returns the rest and the three tokens.
#[allow(clippy::type_complexity)]
fn sent_protocol(i: &[u8]) -> Option<(&[u8], (&[u8], &[u8], &[u8]))> {
    let (name, i) = token(i)?;
    let (version, i) = token(slash(i)?)?;
    let (transport, i) = token(slash(i)?)?;
    Some((i, (name, version, transport)))
}

impl<'a> Via<'a> {
    /// Parses one Via value (the caller splits the comma list).
    ///
    /// ```
    /// use interdict_sip::Via;
    /// let v = Via::parse("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776;rport").unwrap();
    /// assert_eq!(v.transport(), "UDP");
    /// assert_eq!(v.port(), Some(5060));
    /// assert_eq!(v.branch(), Some("z9hG4bK776"));
    /// assert_eq!(v.rport(), Some(None));
    /// ```
    pub fn parse(s: &'a str) -> Result<Via<'a>, crate::Error> {
        Self::parse_inner(s).map_err(|f| crate::Error::InvalidHeader {
            name: "Via",
            offset: f.at,
            what: f.what,
        })
    }

    pub(crate) fn parse_inner(s: &'a str) -> Result<Via<'a>, Fail> {
        let at = |rest: &str| s.len() - rest.len();
        let start = trim_start(s);
        let (rest, (protocol, version, transport)) =
            sent_protocol(start.as_bytes()).ok_or(Fail {
                at: at(start),
                what: "invalid sent-protocol",
            })?;
        // The byte parser splits only at ASCII bytes: map the pieces back to `&str`.
        let text = |b: &[u8]| {
            crate::lex::offset_in(start.as_bytes(), b)
                .and_then(|o| start.get(o..o + b.len()))
                .unwrap_or("")
        };
        let (protocol, version, transport) = (text(protocol), text(version), text(transport));
        let rest = start.get(start.len() - rest.len()..).unwrap_or("");
        let after = trim_start(rest);
        if after.len() == rest.len() {
            return Err(Fail {
                at: at(rest),
                what: "missing blank before sent-by",
            });
        }
        let (host, rest) = Host::parse(after).map_err(|p| Fail {
            at: at(after) + p,
            what: "invalid sent-by host",
        })?;
        let mut rest = rest;
        let mut port = None;
        let colon = trim_start(rest);
        if let Some(p) = colon.strip_prefix(':') {
            let p = trim_start(p);
            let n = p.bytes().take_while(u8::is_ascii_digit).count();
            let digits = p.get(..n).unwrap_or("");
            let value = (n <= 5)
                .then(|| crate::values::parse_decimal_u32(digits))
                .flatten()
                .and_then(|v| u16::try_from(v).ok());
            port = Some(value.ok_or(Fail {
                at: at(p),
                what: "invalid sent-by port",
            })?);
            rest = p.get(n..).unwrap_or("");
        }
        let (params, rest, branch) = Params::parse_header(rest, "branch").map_err(|p| Fail {
            at: at(rest) + p,
            what: "invalid Via parameter",
        })?;
        if !trim_start(rest).is_empty() {
            return Err(Fail {
                at: at(rest),
                what: "unexpected characters after Via",
            });
        }
        Ok(Via {
            raw: trim(s),
            protocol,
            version,
            transport,
            host,
            port,
            params,
            branch: branch.filter(|b| !b.is_empty()),
        })
    }

    /// The value as written (trimmed).
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// Protocol name, normally `SIP`.
    pub fn protocol(&self) -> &'a str {
        self.protocol
    }

    /// Protocol version, normally `2.0`.
    pub fn version(&self) -> &'a str {
        self.version
    }

    /// Transport: `UDP`, `TCP`, `TLS`, `SCTP`, `WS`, ... as written.
    pub fn transport(&self) -> &'a str {
        self.transport
    }

    /// The sent-by host.
    pub fn host(&self) -> Host<'a> {
        self.host
    }

    /// The sent-by port, if written.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// All parameters.
    pub fn params(&self) -> Params<'a> {
        self.params
    }

    /// The `branch` parameter.
    pub fn branch(&self) -> Option<&'a str> {
        self.branch
    }

    /// Whether the branch starts with the RFC 3261 magic cookie `z9hG4bK`.
    pub fn has_magic_cookie(&self) -> bool {
        self.branch.is_some_and(|b| b.starts_with(MAGIC_COOKIE))
    }

    /// The `received` parameter (the address the request really came from).
    pub fn received(&self) -> Option<&'a str> {
        self.params.get("received").flatten()
    }

    /// The `rport` parameter: `Some(None)` when present without a value (RFC 3581 request),
    /// `Some(Some(port))` when filled in, `None` when absent or not a port.
    pub fn rport(&self) -> Option<Option<u16>> {
        match self.params.get("rport")? {
            None => Some(None),
            Some(v) => v.parse().ok().map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_and_spaced_via() {
        let v = Via::parse("SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw").unwrap();
        assert_eq!(
            (v.protocol(), v.version(), v.transport()),
            ("SIP", "2.0", "UDP")
        );
        assert_eq!(v.host(), Host::Ipv4("192.0.2.2".parse().unwrap()));
        assert_eq!(v.branch(), Some("390skdjuw"));
        assert!(!v.has_magic_cookie());
        let w = Via::parse(" SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n z9hG4bK30239")
            .unwrap();
        assert_eq!(w.branch(), Some("z9hG4bK30239"));
    }

    #[test]
    fn ipv6_received_with_and_without_brackets() {
        let v = Via::parse(
            "SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111;received=[2001:db8::9:255]",
        )
        .unwrap();
        assert_eq!(v.received(), Some("[2001:db8::9:255]"));
        let w =
            Via::parse("SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKas3")
                .unwrap();
        assert_eq!(w.received(), Some("2001:db8::9:255"));
    }

    #[test]
    fn rejects_empty_params_and_missing_host() {
        assert!(Via::parse("SIP/2.0/UDP 192.0.2.15;;").is_err());
        assert!(Via::parse("SIP/2.0/UDP").is_err());
        assert!(Via::parse("SIP/2.0 192.0.2.1").is_err());
        assert!(Via::parse("").is_err());
    }
}
