//! Prometheus metrics and the health endpoints a carrier's NOC scrapes.
//!
//! `/metrics` (text exposition), `/healthz` (the process answers) and `/readyz` (a rule pack
//! is loaded and the listeners are up). Label values are bounded sets (method names outside
//! the known ones are counted as `other`; rule ids come from the pack), so a hostile peer
//! cannot grow the registry.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::record::SinkStats;

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// Most message counters a thread keeps (the label values are a small fixed set).
const COUNTER_CACHE_MAX: usize = 1024;

thread_local! {
    /// Message counters by (metrics id, label pointers and lengths), per thread.
    static COUNTERS: std::cell::RefCell<rustc_hash::FxHashMap<[usize; 9], Counter>> =
        std::cell::RefCell::new(rustc_hash::FxHashMap::default());
}

/// Labels of `interdict_messages_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MessageLabels {
    /// `sip` or `smpp`.
    pub protocol: &'static str,
    /// Method or command (bounded set, else `other`).
    pub method: &'static str,
    /// `to_core` or `to_border`.
    pub direction: &'static str,
    /// `pass`, `warn`, `block`, or `none` for messages that are not decided.
    pub verdict: &'static str,
}

/// Labels naming one kind of thing (parse error kind, fail-open reason, reload result).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    /// `sip` or `smpp`.
    pub protocol: &'static str,
    /// The kind.
    pub kind: &'static str,
}

/// Labels naming a rule.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RuleLabel {
    /// The rule id from the pack.
    pub rule: String,
}

/// Labels naming an outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    /// `ok` or `refused`.
    pub result: &'static str,
}

/// Every metric the gateway exports.
pub struct Metrics {
    /// Process-unique, for the per-thread counter cache of [`Metrics::message`].
    id: u64,
    registry: Mutex<Registry>,
    /// Messages by protocol, method, direction and verdict.
    pub messages: Family<MessageLabels, Counter>,
    /// Seconds from a message's arrival to its decision.
    pub decision_latency: Histogram,
    /// Messages that could not be parsed, by kind.
    pub parse_errors: Family<KindLabel, Counter>,
    /// Decisions not acted on because of an internal failure (deadline, engine error).
    pub fail_open: Family<KindLabel, Counter>,
    /// Block and warn decisions by rule.
    pub rule_hits: Family<RuleLabel, Counter>,
    /// Where the shadow pack would have decided differently, by the shadow's rule.
    pub shadow_differences: Family<RuleLabel, Counter>,
    /// Calls followed in the dialog table.
    pub live_calls: Gauge,
    /// Calls dropped from a full dialog table.
    pub calls_evicted: Counter,
    /// Victim-at-risk records.
    pub victims_at_risk: Counter,
    /// Rule pack reloads by result.
    pub reloads: Family<ResultLabel, Counter>,
    /// Retransmitted INVITEs answered again with the same block answer, ACKs absorbed.
    pub absorbed: Family<KindLabel, Counter>,
    /// INVITEs the next hop never answered (the border got 503).
    pub upstream_timeouts: Counter,
    /// SMPP sessions (ESME connections) open.
    pub smpp_sessions: Gauge,
    /// SMPP proxy events by kind: throttled, timeout, reassembly_completed / _expired /
    /// _evicted, duplicate_part, bind_failed, unknown_response, dissuasion_sent, …
    pub smpp_events: Family<KindLabel, Counter>,
    /// Records dropped because the record queue was full.
    records_dropped: Gauge,
    /// Records written.
    records_written: Gauge,
    sink: Mutex<Option<Arc<SinkStats>>>,
    ready: AtomicBool,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A registry with every metric registered.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("interdict");
        let m = Metrics {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            registry: Mutex::new(Registry::default()),
            messages: Family::default(),
            decision_latency: Histogram::new(exponential_buckets(1e-6, 2.0, 18)),
            parse_errors: Family::default(),
            fail_open: Family::default(),
            rule_hits: Family::default(),
            shadow_differences: Family::default(),
            live_calls: Gauge::default(),
            calls_evicted: Counter::default(),
            victims_at_risk: Counter::default(),
            reloads: Family::default(),
            absorbed: Family::default(),
            upstream_timeouts: Counter::default(),
            smpp_sessions: Gauge::default(),
            smpp_events: Family::default(),
            records_dropped: Gauge::default(),
            records_written: Gauge::default(),
            sink: Mutex::new(None),
            ready: AtomicBool::new(false),
        };
        registry.register(
            "messages",
            "Messages by protocol, method, direction and verdict",
            m.messages.clone(),
        );
        registry.register(
            "decision_latency_seconds",
            "Time from a message's arrival to its decision",
            m.decision_latency.clone(),
        );
        registry.register(
            "parse_errors",
            "Messages refused because they could not be parsed, by kind",
            m.parse_errors.clone(),
        );
        registry.register(
            "fail_open",
            "Decisions not acted on because of an internal failure, by reason",
            m.fail_open.clone(),
        );
        registry.register(
            "rule_hits",
            "Block and warn decisions by rule",
            m.rule_hits.clone(),
        );
        registry.register(
            "shadow_differences",
            "Messages the shadow pack would have decided differently, by its rule",
            m.shadow_differences.clone(),
        );
        registry.register(
            "live_calls",
            "Calls followed in the dialog table",
            m.live_calls.clone(),
        );
        registry.register(
            "calls_evicted",
            "Calls dropped from a full dialog table",
            m.calls_evicted.clone(),
        );
        registry.register(
            "victims_at_risk",
            "Warned calls answered and lasting long: victim-at-risk records",
            m.victims_at_risk.clone(),
        );
        registry.register("reloads", "Rule pack reloads by result", m.reloads.clone());
        registry.register(
            "absorbed",
            "Retransmissions answered again and ACKs of the gateway's own answers absorbed",
            m.absorbed.clone(),
        );
        registry.register(
            "upstream_timeouts",
            "INVITEs the next hop never answered (answered 503)",
            m.upstream_timeouts.clone(),
        );
        registry.register(
            "smpp_sessions",
            "SMPP sessions (ESME connections) open",
            m.smpp_sessions.clone(),
        );
        registry.register(
            "smpp_events",
            "SMPP proxy events by kind (throttled, timeout, reassembly, dissuasion …)",
            m.smpp_events.clone(),
        );
        registry.register(
            "records_dropped",
            "Decision records dropped because the record queue was full",
            m.records_dropped.clone(),
        );
        registry.register(
            "records_written",
            "Decision records written",
            m.records_written.clone(),
        );
        if let Ok(mut r) = m.registry.lock() {
            *r = registry;
        }
        m
    }

    /// Counts one message. Every message is counted, so each thread keeps the counters it
    /// has used: one small hash and one atomic add, instead of a lookup under the family's
    /// shared lock (which the workers would take in turn for every message).
    pub fn message(
        &self,
        protocol: &'static str,
        method: &'static str,
        direction: &'static str,
        verdict: &'static str,
    ) {
        let at = |s: &'static str| [s.as_ptr() as usize, s.len()];
        let [p0, p1] = at(protocol);
        let [m0, m1] = at(method);
        let [d0, d1] = at(direction);
        let [v0, v1] = at(verdict);
        let key = [self.id as usize, p0, p1, m0, m1, d0, d1, v0, v1];
        let counted = COUNTERS.with(|cache| {
            let mut cache = cache.try_borrow_mut().ok()?;
            if let Some(c) = cache.get(&key) {
                c.inc();
                return Some(());
            }
            if cache.len() >= COUNTER_CACHE_MAX {
                return None;
            }
            let c = self
                .messages
                .get_or_create(&MessageLabels {
                    protocol,
                    method,
                    direction,
                    verdict,
                })
                .clone();
            c.inc();
            cache.insert(key, c);
            Some(())
        });
        if counted.is_none() {
            self.messages
                .get_or_create(&MessageLabels {
                    protocol,
                    method,
                    direction,
                    verdict,
                })
                .inc();
        }
    }

    /// Counts a message refused as unparseable.
    pub fn parse_error(&self, protocol: &'static str, kind: &'static str) {
        self.parse_errors
            .get_or_create(&KindLabel { protocol, kind })
            .inc();
    }

    /// Counts one SMPP proxy event of `kind`.
    pub fn smpp_event(&self, kind: &'static str) {
        self.smpp_events
            .get_or_create(&KindLabel {
                protocol: "smpp",
                kind,
            })
            .inc();
    }

    /// Exposes the record queue's counters.
    pub fn attach_sink(&self, stats: Arc<SinkStats>) {
        if let Ok(mut s) = self.sink.lock() {
            *s = Some(stats);
        }
    }

    /// Marks the gateway ready (pack loaded, listeners up) or not (draining).
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }

    /// Whether `/readyz` answers 200.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    /// The text exposition of every metric.
    pub fn encode(&self) -> String {
        if let Ok(sink) = self.sink.lock() {
            if let Some(s) = sink.as_ref() {
                let get = |a: &std::sync::atomic::AtomicU64| {
                    i64::try_from(a.load(Ordering::Relaxed)).unwrap_or(i64::MAX)
                };
                self.records_dropped.set(get(&s.dropped));
                self.records_written.set(get(&s.written));
            }
        }
        let mut out = String::new();
        if let Ok(r) = self.registry.lock() {
            if prometheus_client::encoding::text::encode(&mut out, &r).is_err() {
                out.clear();
            }
        }
        out
    }
}

/// The method label for a SIP method token (a bounded set).
pub fn sip_method_label(method: &str) -> &'static str {
    const KNOWN: [&str; 14] = [
        "INVITE",
        "ACK",
        "BYE",
        "CANCEL",
        "REGISTER",
        "OPTIONS",
        "INFO",
        "UPDATE",
        "PRACK",
        "SUBSCRIBE",
        "NOTIFY",
        "PUBLISH",
        "REFER",
        "MESSAGE",
    ];
    KNOWN
        .iter()
        .find(|k| k.eq_ignore_ascii_case(method))
        .copied()
        .unwrap_or("other")
}

/// Serves `/metrics`, `/healthz` and `/readyz` on `addr` until the runtime stops.
pub async fn serve(addr: SocketAddr, metrics: Arc<Metrics>) -> std::io::Result<SocketAddr> {
    use axum::http::StatusCode;
    use axum::routing::get;
    let m1 = metrics.clone();
    let m2 = metrics;
    let app = axum::Router::new()
        .route(
            "/metrics",
            get(move || {
                let m = m1.clone();
                async move {
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        m.encode(),
                    )
                }
            }),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(move || {
                let m = m2.clone();
                async move {
                    if m.is_ready() {
                        (StatusCode::OK, "ready\n")
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
                    }
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "metrics server stopped");
        }
    });
    Ok(local)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(m: &Metrics, line: &str) -> f64 {
        m.encode()
            .lines()
            .find(|l| l.starts_with(line))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    }

    #[test]
    fn messages_are_counted_per_metrics_and_per_label_through_the_thread_cache() {
        let (a, b) = (Metrics::new(), Metrics::new());
        for _ in 0..3 {
            a.message("sip", "INVITE", "to_core", "pass");
        }
        a.message("sip", "INVITE", "to_core", "block");
        b.message("sip", "INVITE", "to_core", "pass");
        // Another thread counts into the same counters.
        std::thread::scope(|s| {
            s.spawn(|| a.message("sip", "INVITE", "to_core", "pass"));
        });
        let pass = r#"interdict_messages_total{protocol="sip",method="INVITE",direction="to_core",verdict="pass"}"#;
        let block = r#"interdict_messages_total{protocol="sip",method="INVITE",direction="to_core",verdict="block"}"#;
        assert_eq!(count(&a, pass), 4.0);
        assert_eq!(count(&a, block), 1.0);
        assert_eq!(count(&b, pass), 1.0, "a second registry counts apart");
    }
}
