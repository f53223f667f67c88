//! The gateway's configuration: a TOML file (see `interdict.example.toml`), every key with a
//! default, and the defaults listen on loopback only.
//!
//! The configuration is read once at start; the rule pack it names is what SIGHUP reloads.
//! Unknown keys are refused (a misspelt key must not silently fall back to its default).

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use interdict_engine::Ingress;
use ipnet::IpNet;
use serde::Deserialize;

/// Everything `interdict serve` reads from its configuration file.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Process-wide settings: rule pack, logging, deadlines, failure policy.
    pub gateway: GatewayConfig,
    /// The inline SIP proxy.
    pub sip: SipConfig,
    /// Prometheus metrics and health endpoints.
    pub metrics: MetricsConfig,
    /// Where decision records go.
    pub records: RecordsConfig,
    /// The police centre's gRPC feed (`[feed]`).
    pub feed: crate::feed::FeedConfig,
    /// The inline SMPP proxy (`[smpp]`; off unless `listen` is set).
    pub smpp: SmppConfig,
    /// Dissuasion SMS to likely victims (`[dissuasion]`; off by default).
    pub dissuasion: DissuasionConfig,
}

/// Process-wide settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewayConfig {
    /// This gateway's id in decision records (a carrier runs many).
    pub id: String,
    /// Rule pack directory, loaded at start and reloaded on SIGHUP.
    pub rules: PathBuf,
    /// Also reload when a file in the rule pack directory changes (polled every second).
    pub watch_rules: bool,
    /// A candidate pack decided beside the enforced one, enforcing nothing (shadow mode).
    pub shadow_rules: Option<PathBuf>,
    /// Directory of compiled Hyperscan databases (default `$XDG_CACHE_HOME/interdict` or
    /// `~/.cache/interdict`); `interdict rules validate` fills the same one.
    pub cache_dir: Option<PathBuf>,
    /// Use the database cache at all (false: compile every pack at every load).
    pub cache: bool,
    /// `human` or `json` logs on standard error.
    pub log_format: LogFormat,
    /// A decision slower than this (microseconds) is not acted on: the message fails open
    /// (or closed, see `fail_closed`), counted and logged. 0 fails every decision open.
    pub decision_deadline_us: u64,
    /// On an internal failure (engine error, deadline passed) refuse instead of forwarding.
    pub fail_closed: bool,
    /// A message whose body cannot be decoded is refused (otherwise decided on everything
    /// else and marked degraded).
    pub refuse_undecodable: bool,
}

impl GatewayConfig {
    /// The database cache directory to use, if any.
    pub fn cache_dir(&self) -> Option<PathBuf> {
        if !self.cache {
            return None;
        }
        self.cache_dir
            .clone()
            .or_else(crate::reload::default_cache_dir)
    }
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            id: "interdict-1".into(),
            rules: PathBuf::from("rules"),
            watch_rules: false,
            shadow_rules: None,
            cache_dir: None,
            cache: true,
            log_format: LogFormat::Human,
            decision_deadline_us: 10_000,
            fail_closed: false,
            refuse_undecodable: false,
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One readable line per event.
    #[default]
    Human,
    /// One JSON object per event.
    Json,
}

/// What a blocked call is answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "u16")]
pub struct BlockCode(u16);

impl BlockCode {
    /// The status code: 608, 603 or 607.
    pub fn code(self) -> u16 {
        self.0
    }

    /// The reason phrase that goes with the code.
    pub fn reason(self) -> &'static str {
        match self.0 {
            603 => "Decline",
            607 => "Unwanted",
            _ => "Rejected",
        }
    }
}

impl TryFrom<u16> for BlockCode {
    type Error = String;
    fn try_from(code: u16) -> Result<Self, String> {
        match code {
            603 | 607 | 608 => Ok(BlockCode(code)),
            other => Err(format!("block_code {other}: must be 608, 603 or 607")),
        }
    }
}

/// Transport towards the next hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum HopTransport {
    /// UDP datagrams.
    #[default]
    Udp,
    /// One TCP connection, opened on demand.
    Tcp,
}

/// An address range with the ingress class and trunk name of the traffic from it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngressRange {
    /// Source addresses this applies to, e.g. `10.20.0.0/16`.
    pub range: IpNet,
    /// `domestic` or `international`.
    pub class: Ingress,
    /// The trunk's name in decision records.
    #[serde(default)]
    pub trunk: Option<String>,
}

/// The inline SIP proxy.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SipConfig {
    /// UDP listener (`"off"`: no UDP).
    #[serde(deserialize_with = "address_or_off")]
    pub listen_udp: Option<SocketAddr>,
    /// TCP listener (`"off"`: no TCP).
    #[serde(deserialize_with = "address_or_off")]
    pub listen_tcp: Option<SocketAddr>,
    /// Host written in this proxy's Via and Record-Route (default: the listener's address).
    pub advertise: Option<String>,
    /// Where requests from the border go (the core: an IMS, a softswitch).
    pub next_hop: SocketAddr,
    /// Transport towards the next hop.
    pub next_hop_transport: HopTransport,
    /// Peers whose identity headers (P-Asserted-Identity …) are believed (RFC 3325 trust
    /// domain). The next hop is always trusted. Identities from others are still checked
    /// against the block lists, never believed.
    pub trusted_peers: Vec<IpNet>,
    /// Ingress class and trunk by source range; the first match wins.
    pub ingress: Vec<IngressRange>,
    /// Ingress class of traffic matching no range.
    pub default_ingress: Ingress,
    /// 608 (RFC 8688, the default), 603 or 607 for a blocked call.
    pub block_code: BlockCode,
    /// Where the Call-Info of a 608 points (the remediation contact, RFC 8688).
    pub call_info: String,
    /// Prefix for the From/PAI display name of a warned call (`""`: not marked).
    #[serde(deserialize_with = "text_or_empty")]
    pub warn_mark: Option<String>,
    /// UDP worker threads; 0: one per core.
    pub workers: usize,
    /// Give each UDP worker its own socket on the port (`SO_REUSEPORT`: the kernel spreads
    /// peers by address hash, so one peer's datagrams are handled in order by one worker).
    /// `false` shares one socket: better balance with a single big peer, but two workers may
    /// forward one peer's consecutive messages (a 180 and its 200) out of order.
    pub reuse_port: bool,
    /// Largest message accepted (bytes); larger is refused with 513.
    pub max_message_bytes: usize,
    /// Most header lines accepted in one message.
    pub max_headers: usize,
    /// Most TCP connections at once; more are refused at accept.
    pub max_tcp_connections: usize,
    /// A TCP connection idle this long (seconds) is closed.
    pub tcp_idle_timeout_s: u64,
    /// Most calls followed at once (the dialog table); beyond it the oldest are dropped, counted.
    pub max_live_calls: usize,
    /// A call with no news for this long (seconds) is dropped from the table.
    pub call_timeout_s: u64,
    /// A warned call answered and lasting this long (seconds) is a victim at risk.
    pub victim_after_s: u64,
    /// An INVITE with no answer from the next hop within this long (milliseconds) is sent
    /// again (doubling), and after `upstream_attempts` tries answered 503 to the border.
    /// A UDP border retransmits on its own (RFC 3261 Timer A) and those copies are
    /// forwarded too, so this is the backstop, not the first retry.
    pub upstream_timeout_ms: u64,
    /// How often an unanswered INVITE is sent to the next hop before the border gets 503.
    pub upstream_attempts: u32,
    /// On SIGTERM, how long (milliseconds) in-flight work may take before the process exits.
    pub drain_ms: u64,
}

impl Default for SipConfig {
    fn default() -> Self {
        SipConfig {
            listen_udp: Some(SocketAddr::from(([127, 0, 0, 1], 5060))),
            listen_tcp: Some(SocketAddr::from(([127, 0, 0, 1], 5060))),
            advertise: None,
            next_hop: SocketAddr::from(([127, 0, 0, 1], 5070)),
            next_hop_transport: HopTransport::Udp,
            trusted_peers: Vec::new(),
            ingress: Vec::new(),
            default_ingress: Ingress::Domestic,
            block_code: BlockCode(608),
            call_info: "https://interdict.invalid/remediation".into(),
            warn_mark: Some("[疑似诈骗]".into()),
            workers: 0,
            reuse_port: true,
            max_message_bytes: 65_535,
            max_headers: 256,
            max_tcp_connections: 1_024,
            tcp_idle_timeout_s: 300,
            max_live_calls: 200_000,
            call_timeout_s: 4 * 3600,
            victim_after_s: 120,
            upstream_timeout_ms: 2_000,
            upstream_attempts: 2,
            drain_ms: 2_000,
        }
    }
}

impl SipConfig {
    /// Ingress class and trunk of traffic from `ip`.
    pub fn ingress_of(&self, ip: IpAddr) -> (Ingress, Option<&str>) {
        self.ingress
            .iter()
            .find(|r| r.range.contains(&ip))
            .map_or((self.default_ingress, None), |r| {
                (r.class, r.trunk.as_deref())
            })
    }

    /// Whether identity headers from `peer` are believed: the next hop, and the configured
    /// trusted ranges.
    pub fn is_trusted(&self, peer: SocketAddr) -> bool {
        peer == self.next_hop || self.trusted_peers.iter().any(|r| r.contains(&peer.ip()))
    }
}

/// What a blocked SMPP message gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmppBlock {
    /// The `_resp` carries `block_status`: the sender knows it was refused.
    Reject,
    /// Success with a message id, never delivered (and, when a receipt was asked for, a
    /// receipt saying undelivered after `receipt_after_ms`): the sender learns nothing.
    SilentDrop,
}

/// What a warned SMPP message gets when its text cannot carry the warning prefix (a binary
/// or unknown data_coding: WAP push, SIM OTA, 8-bit data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmppUnmarkable {
    /// Forwarded as it came, counted (`warned_unmarked`); the decision record and the police
    /// feed still say warn, and a dissuasion SMS (when enabled) still reaches the recipient.
    Forward,
    /// Treated as blocked (`block`, `block_status`), counted: no suspect message reaches a
    /// handset without its warning.
    Block,
}

/// A bind towards the SMSC with other credentials than the ESME's own.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BindMapping {
    /// The ESME's system_id.
    pub system_id: String,
    /// system_id used towards the SMSC.
    pub upstream_system_id: String,
    /// password used towards the SMSC.
    pub upstream_password: String,
}

/// The inline SMPP proxy: ESMEs bind to it, it binds to the SMSC for each of them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmppConfig {
    /// Where ESMEs connect (absent or `"off"`: no SMPP proxy).
    #[serde(deserialize_with = "address_or_off")]
    pub listen: Option<SocketAddr>,
    /// The SMSC every bind is relayed to.
    pub smsc: SocketAddr,
    /// Credentials mapped per ESME system_id (others bind with their own).
    pub bind_map: Vec<BindMapping>,
    /// Most ESME connections at once; more are refused at accept.
    pub max_sessions: usize,
    /// Most requests of one bind waiting for the other side's answer; beyond it the ESME
    /// gets ESME_RTHROTTLED.
    pub window: usize,
    /// A request the other side has not answered within this long (ms) is answered
    /// ESME_RSYSERR (its late answer is dropped).
    pub response_timeout_ms: u64,
    /// Connecting and binding to the SMSC must finish within this long (ms).
    pub bind_timeout_ms: u64,
    /// Largest PDU accepted (octets); a longer command_length gets generic_nack and the
    /// connection is closed (the stream cannot be resynchronised).
    pub max_pdu_bytes: u32,
    /// Accept C-Octet strings up to 255 octets in any field (peers that exceed SMPP 3.4).
    pub lenient: bool,
    /// What a blocked message gets.
    pub block: SmppBlock,
    /// command_status of a refused message (default 0x45 ESME_RSUBMITFAIL).
    pub block_status: u32,
    /// For a silent drop with a receipt requested: when the "undelivered" receipt is sent (ms).
    pub receipt_after_ms: u64,
    /// Put in front of a warned message's text (`""`: warned messages pass unmarked).
    #[serde(deserialize_with = "text_or_empty")]
    pub warn_prefix: Option<String>,
    /// A warned message whose coding cannot carry the prefix (binary, unknown): forwarded
    /// unmarked (default) or blocked.
    pub warn_unmarkable: SmppUnmarkable,
    /// Parts of a concatenated message are held this long (ms) for the rest; then what
    /// arrived is decided as it is.
    pub reassembly_timeout_ms: u64,
    /// Most octets of held parts per bind (one ESME cannot exhaust the others).
    pub reassembly_bytes_per_session: usize,
    /// Most incomplete messages held per bind.
    pub reassembly_messages_per_session: usize,
    /// Ingress class of SMPP traffic (ESMEs are usually domestic aggregators).
    pub ingress: Ingress,
    /// Trunk name in decision records.
    pub trunk: Option<String>,
    /// On SIGTERM, how long (ms) sessions may take to unbind both sides.
    pub drain_ms: u64,
}

impl Default for SmppConfig {
    fn default() -> Self {
        SmppConfig {
            listen: None,
            smsc: SocketAddr::from(([127, 0, 0, 1], 2776)),
            bind_map: Vec::new(),
            max_sessions: 256,
            window: 512,
            response_timeout_ms: 10_000,
            bind_timeout_ms: 5_000,
            max_pdu_bytes: interdict_smpp::DEFAULT_MAX_PDU_LEN,
            lenient: false,
            block: SmppBlock::Reject,
            block_status: interdict_smpp::status::ESME_RSUBMITFAIL,
            receipt_after_ms: 5_000,
            warn_prefix: Some("【反诈提醒】".into()),
            warn_unmarkable: SmppUnmarkable::Forward,
            reassembly_timeout_ms: 10_000,
            reassembly_bytes_per_session: 1 << 20,
            reassembly_messages_per_session: 1_024,
            ingress: Ingress::Domestic,
            trunk: None,
            drain_ms: 2_000,
        }
    }
}

/// Dissuasion SMS (劝阻短信): when a call or an SMS to a subscriber is warned, the gateway
/// sends that subscriber a warning over its own bind to the SMSC, at most once per period.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DissuasionConfig {
    /// Send dissuasion SMS at all.
    pub enabled: bool,
    /// The SMSC (default: the SMPP proxy's).
    pub smsc: Option<SocketAddr>,
    /// system_id of the gateway's own bind.
    pub system_id: String,
    /// Its password.
    pub password: String,
    /// The sender the subscriber sees (a police short code such as 96110 or 12381).
    pub sender: String,
    /// The text; `{kind}` becomes 电话 or 短信, `{category}` the warned category when the pack
    /// names it in Chinese, else 电信网络.
    pub template: String,
    /// At most one dissuasion SMS per subscriber per this many seconds.
    pub period_s: u64,
    /// Most subscribers remembered for the period (the oldest are forgotten first).
    pub max_subscribers: usize,
}

impl Default for DissuasionConfig {
    fn default() -> Self {
        DissuasionConfig {
            enabled: false,
            smsc: None,
            system_id: "interdict".into(),
            password: "interdict".into(),
            sender: "96110".into(),
            template: "【反诈中心】您刚接到的{kind}疑似{category}诈骗。请勿转账汇款，勿透露验证码。如有疑问请拨打96110。".into(),
            period_s: 86_400,
            max_subscribers: 1_000_000,
        }
    }
}

/// Prometheus metrics and health endpoints.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Address of the HTTP server for `/metrics`, `/healthz`, `/readyz` (`"off"`: none).
    #[serde(deserialize_with = "address_or_off")]
    pub listen: Option<SocketAddr>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 9460))),
        }
    }
}

/// Where decision records go.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecordsConfig {
    /// Records waiting to be written; when full, new records are dropped and counted (the
    /// inline path never waits).
    pub queue: usize,
    /// A JSON-lines file every block, warn, victim-at-risk and shadow difference is appended to.
    pub path: Option<PathBuf>,
    /// Put the message text in block and warn records (never for passed messages).
    pub include_text: bool,
}

impl Default for RecordsConfig {
    fn default() -> Self {
        RecordsConfig {
            queue: 65_536,
            path: None,
            include_text: false,
        }
    }
}

/// A listener address, or `"off"` (TOML has no null, and a removed key keeps its default).
fn address_or_off<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    let text = String::deserialize(d)?;
    match text.trim() {
        "off" | "" => Ok(None),
        addr => addr.parse().map(Some).map_err(|e| {
            serde::de::Error::custom(format!("{addr:?}: {e} (an address, or \"off\")"))
        }),
    }
}

/// A marking text, or `""` for none.
fn text_or_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let text = String::deserialize(d)?;
    Ok((!text.is_empty()).then_some(text))
}

/// A configuration that could not be read, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has a bad key or value (the message names line and key).
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What and where.
        message: String,
    },
}

impl Config {
    /// Reads a configuration file; keys it does not set keep their defaults.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::parse(&text).map_err(|message| ConfigError::Parse {
            path: path.to_owned(),
            message,
        })
    }

    /// Parses configuration text.
    pub fn parse(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_listen_on_loopback_only() {
        let c = Config::default();
        assert!(c.sip.listen_udp.is_some_and(|a| a.ip().is_loopback()));
        assert!(c.sip.listen_tcp.is_some_and(|a| a.ip().is_loopback()));
        assert!(c.metrics.listen.is_some_and(|a| a.ip().is_loopback()));
        assert_eq!(c.sip.block_code.code(), 608);
    }

    #[test]
    fn example_file_parses_and_bad_keys_are_refused() {
        let example = include_str!("../../../interdict.example.toml");
        let c = Config::parse(example).unwrap();
        assert_eq!(c.sip.block_code.code(), 608);
        assert_eq!(c.smpp.block, SmppBlock::Reject);
        assert_eq!(
            c.smpp.block_status,
            interdict_smpp::status::ESME_RSUBMITFAIL
        );
        assert_eq!(c.smpp.warn_prefix.as_deref(), Some("【反诈提醒】"));
        assert!(!c.dissuasion.enabled);
        assert!(Config::parse("[smpp]\nblock = \"drop\"\n").is_err());
        let off = Config::parse(
            "[sip]\nlisten_udp = \"off\"\nlisten_tcp = \"off\"\nwarn_mark = \"\"\n\
             [metrics]\nlisten = \"off\"\n[smpp]\nlisten = \"127.0.0.1:2775\"\nwarn_prefix = \"\"\n",
        )
        .unwrap();
        assert_eq!((off.sip.listen_udp, off.sip.listen_tcp), (None, None));
        assert_eq!((off.metrics.listen, off.sip.warn_mark), (None, None));
        assert_eq!(off.smpp.warn_prefix, None);
        assert!(off.smpp.listen.is_some());
        assert!(Config::parse("[sip]\nlisten_udp = \"nowhere\"\n").is_err());
        assert!(Config::parse("[sip]\nblok_code = 603\n").is_err());
        let err = Config::parse("[sip]\nblock_code = 404\n").unwrap_err();
        assert!(err.contains("608, 603 or 607"), "{err}");
        let c = Config::parse(
            "[sip]\nblock_code = 607\ningress = [{ range = \"10.0.0.0/8\", class = \"international\", trunk = \"intl-1\" }]\n",
        )
        .unwrap();
        assert_eq!(c.sip.block_code.reason(), "Unwanted");
        let (class, trunk) = c.sip.ingress_of("10.1.2.3".parse().unwrap());
        assert_eq!(class, Ingress::International);
        assert_eq!(trunk, Some("intl-1"));
        assert_eq!(
            c.sip.ingress_of("192.0.2.1".parse().unwrap()).0,
            Ingress::Domestic
        );
    }
}
