//! What a link in a message says about it, whatever the words around it: a raw IP address, a
//! URL shortener, a host dressed up as an institution's (`icbc-jf.top`, `10086-cn.cc`), or
//! simply a host that belongs to no institution the pack knows.
//!
//! The pack lists the institutions' official domains (`official_domains`) and the shorteners
//! (`shortener_domains`). From each official domain the matcher takes its brand label
//! (`icbc` from `icbc.com.cn`, `10086` from `10086.cn`): a host that is not official but has a
//! label containing a brand is a **look-alike**. A rule combines these kinds with the text
//! (`link = ["unofficial"]` and an institution named in the text: the shape of phishing).
//!
//! Classifying a host costs a few hash lookups and, for the look-alike test, a substring
//! search per brand; nothing is allocated.

use rustc_hash::FxHashMap;
use std::sync::Arc;

/// The text holds a URL or a domain.
pub const LINK_ANY: u8 = 1;
/// A URL whose host is an IPv4 address.
pub const LINK_IP: u8 = 1 << 1;
/// A link on a URL shortener.
pub const LINK_SHORTENER: u8 = 1 << 2;
/// A host that is not official but carries an institution's brand label.
pub const LINK_LOOKALIKE: u8 = 1 << 3;
/// A host that is on no official domain (nor a shortener).
pub const LINK_UNOFFICIAL: u8 = 1 << 4;

/// Names of the link kinds a rule's `link` condition may use, with their bits.
pub const LINK_KINDS: [(&str, u8); 5] = [
    ("any", LINK_ANY),
    ("ip", LINK_IP),
    ("shortener", LINK_SHORTENER),
    ("lookalike", LINK_LOOKALIKE),
    ("unofficial", LINK_UNOFFICIAL),
];

/// The bit of a link kind name (`"ip"` …).
pub fn link_bit(name: &str) -> Option<u8> {
    LINK_KINDS.iter().find(|(n, _)| *n == name).map(|&(_, b)| b)
}

/// Second-level and top-level labels skipped when taking a domain's brand label.
const SUFFIX_LABELS: &[&str] = &[
    "com", "cn", "net", "org", "gov", "edu", "hk", "mo", "tw", "cc", "info", "top", "mobi",
];

/// Shortest brand label used for the look-alike test (shorter ones hit random hosts).
const MIN_BRAND: usize = 3;

/// The official and shortener domains of a pack, and the brands taken from the former.
#[derive(Debug, Clone, Default)]
pub struct LinkTables {
    official: FxHashMap<Box<str>, Arc<str>>,
    shorteners: FxHashMap<Box<str>, Arc<str>>,
    /// Brand label and the official domain it came from.
    brands: Vec<(Box<str>, Box<str>)>,
}

/// What [`LinkTables::classify`] found out about one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkClass<'a> {
    /// `LINK_*` bits.
    pub bits: u8,
    /// For a look-alike: the official domain whose brand it carries; for a shortener or an
    /// official host: the listed domain.
    pub matched: Option<&'a str>,
    /// `file:line` of the listed domain, when there is one.
    pub origin: Option<&'a Arc<str>>,
}

impl LinkTables {
    /// Tables from `(domain, origin)` pairs (domains lower case, without a trailing dot).
    pub fn new(
        official: impl IntoIterator<Item = (String, Arc<str>)>,
        shorteners: impl IntoIterator<Item = (String, Arc<str>)>,
    ) -> LinkTables {
        let official: FxHashMap<Box<str>, Arc<str>> = official
            .into_iter()
            .map(|(d, o)| (d.into_boxed_str(), o))
            .collect();
        let mut brands: Vec<(Box<str>, Box<str>)> = official
            .keys()
            .filter_map(|d| brand(d).map(|b| (Box::from(b), d.clone())))
            .collect();
        brands.sort();
        brands.dedup_by(|a, b| a.0 == b.0);
        LinkTables {
            official,
            shorteners: shorteners
                .into_iter()
                .map(|(d, o)| (d.into_boxed_str(), o))
                .collect(),
            brands,
        }
    }

    /// Number of official domains.
    pub fn official_count(&self) -> usize {
        self.official.len()
    }

    /// Number of shortener domains.
    pub fn shortener_count(&self) -> usize {
        self.shorteners.len()
    }

    /// Classifies a link's host (lower case).
    pub fn classify(&self, host: &str) -> LinkClass<'_> {
        let host = host.trim_end_matches('.');
        let mut class = LinkClass {
            bits: LINK_ANY,
            matched: None,
            origin: None,
        };
        if is_ipv4(host) {
            class.bits |= LINK_IP | LINK_UNOFFICIAL;
            return class;
        }
        if let Some((d, o)) = on_or_under(&self.shorteners, host) {
            class.bits |= LINK_SHORTENER;
            class.matched = Some(d);
            class.origin = Some(o);
            return class;
        }
        if let Some((d, o)) = on_or_under(&self.official, host) {
            class.matched = Some(d);
            class.origin = Some(o);
            return class;
        }
        class.bits |= LINK_UNOFFICIAL;
        // The labels but the last (the top-level domain).
        let body = host.rsplit_once('.').map_or(host, |(b, _)| b);
        if let Some((_, official)) = self.brands.iter().find(|(b, _)| {
            body.split('.')
                .any(|label| label.len() >= b.len() && label.contains(&**b))
        }) {
            class.bits |= LINK_LOOKALIKE;
            class.matched = Some(official);
            class.origin = self.official.get(official);
        }
        class
    }
}

/// The listed domain `host` is on or under.
fn on_or_under<'m>(
    map: &'m FxHashMap<Box<str>, Arc<str>>,
    host: &str,
) -> Option<(&'m str, &'m Arc<str>)> {
    if map.is_empty() {
        return None;
    }
    let mut d = host;
    loop {
        if let Some((k, o)) = map.get_key_value(d) {
            return Some((k, o));
        }
        match d.split_once('.') {
            Some((_, rest)) if rest.contains('.') => d = rest,
            _ => return None,
        }
    }
}

/// The brand label of an official domain: its last label before the public suffix
/// (`icbc` of `www.icbc.com.cn`), when long enough to be distinctive.
fn brand(domain: &str) -> Option<&str> {
    let mut labels = domain.rsplit('.');
    let mut label = labels.next()?;
    while SUFFIX_LABELS.contains(&label) {
        label = labels.next()?;
    }
    (label.len() >= MIN_BRAND && label != "www").then_some(label)
}

/// Whether `host` is a dotted-quad IPv4 address.
fn is_ipv4(host: &str) -> bool {
    let mut parts = 0;
    for p in host.split('.') {
        parts += 1;
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        if p.parse::<u16>().map_or(true, |v| v > 255) {
            return false;
        }
    }
    parts == 4
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables() -> LinkTables {
        let o = |d: &str| (d.to_owned(), Arc::<str>::from("test:1"));
        LinkTables::new(
            [
                o("icbc.com.cn"),
                o("10086.cn"),
                o("ccb.com"),
                o("95559.com.cn"),
            ],
            [o("t.cn"), o("dwz.cn")],
        )
    }

    #[test]
    fn official_hosts_and_subdomains_are_only_links() {
        let t = tables();
        assert_eq!(t.classify("icbc.com.cn").bits, LINK_ANY);
        assert_eq!(t.classify("mybank.icbc.com.cn").bits, LINK_ANY);
        assert_eq!(t.classify("wap.10086.cn").bits, LINK_ANY);
    }

    #[test]
    fn lookalikes_carry_a_brand_on_another_domain() {
        let t = tables();
        let c = t.classify("icbc-jf.top");
        assert_eq!(c.bits, LINK_ANY | LINK_UNOFFICIAL | LINK_LOOKALIKE);
        assert_eq!(c.matched, Some("icbc.com.cn"));
        assert!(t.classify("10086-cn.cc").bits & LINK_LOOKALIKE != 0);
        assert!(t.classify("www.icbc.com.cn.xyz").bits & LINK_LOOKALIKE != 0);
        assert!(t.classify("m.ccbvip.net").bits & LINK_LOOKALIKE != 0);
    }

    #[test]
    fn other_hosts_are_unofficial_only() {
        let t = tables();
        assert_eq!(
            t.classify("m.kq83.com").bits,
            LINK_ANY | LINK_UNOFFICIAL,
            "no brand in it"
        );
        // The top-level domain is not a label a brand is looked for in.
        assert_eq!(
            t.classify("shop.example.cn").bits,
            LINK_ANY | LINK_UNOFFICIAL
        );
    }

    #[test]
    fn ip_addresses_and_shorteners() {
        let t = tables();
        assert_eq!(
            t.classify("203.0.113.7").bits,
            LINK_ANY | LINK_IP | LINK_UNOFFICIAL
        );
        assert_eq!(t.classify("203.0.113.700").bits & LINK_IP, 0);
        assert_eq!(t.classify("1.2.3").bits & LINK_IP, 0);
        let c = t.classify("t.cn");
        assert_eq!(c.bits, LINK_ANY | LINK_SHORTENER);
        assert_eq!(c.matched, Some("t.cn"));
    }

    #[test]
    fn brands_skip_public_suffixes_and_short_labels() {
        assert_eq!(brand("icbc.com.cn"), Some("icbc"));
        assert_eq!(brand("10086.cn"), Some("10086"));
        assert_eq!(brand("boc.cn"), Some("boc"));
        assert_eq!(brand("js.cn"), None);
        assert_eq!(brand("com.cn"), None);
    }
}
