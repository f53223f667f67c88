//! One decision for one ingested message, shared by every proxy: every identity checked,
//! the deadline and internal failures handled by the fail-open policy, the shadow pack run
//! beside the enforced one.
//!
//! * The primary caller and callee are decided with the message text by the engine (this is
//!   what the behaviour detectors count). Every other identity is decided against the lists
//!   only (no text, no behaviour); the strongest verdict wins, so an identity header that
//!   happens to be allowlisted can never cancel a block found on another one.
//! * A decision that panics in the engine, or takes longer than the deadline, is not acted
//!   on: the message passes unmarked (fail-open) or is refused (fail-closed), counted in
//!   `interdict_fail_open_total`, logged, and its record marked degraded.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use interdict_engine::{decide_with, Decision, Engine, Event, Ingress, Snapshot, Verdict};

use crate::ingest::Ingested;
use crate::metrics::{KindLabel, Metrics, RuleLabel};
use crate::record::{DecisionRecord, Degraded, Direction, Protocol, RecordKind, RecordSink};

/// What was decided on one message and what the gateway does about it.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The engine's decision (the strongest over every identity).
    pub decision: Decision,
    /// What the gateway acts on: the decision's verdict, or the fail-open (pass) or
    /// fail-closed (block) verdict when the decision could not be used.
    pub acted: Verdict,
    /// Stages that could not run.
    pub degraded: Degraded,
    /// Nanoseconds the decision took.
    pub latency_ns: u64,
    /// The shadow pack's decision when it differs from the enforced one.
    pub shadow: Option<Decision>,
    /// Version of the enforced pack.
    pub pack_version: Arc<str>,
}

/// Where a decided message came from, for its decision records.
#[derive(Debug, Clone, Copy)]
pub struct Arrival<'a> {
    /// This gateway's id.
    pub gateway: &'a Arc<str>,
    /// SIP or SMPP.
    pub protocol: Protocol,
    /// Towards the core or the border.
    pub direction: Direction,
    /// SIP method or SMPP command.
    pub method: &'a str,
    /// Ingress class.
    pub ingress: Ingress,
    /// Trunk or link, when known.
    pub trunk: Option<&'a str>,
    /// The peer that sent it.
    pub peer: std::net::SocketAddr,
    /// When it arrived (ms since the epoch).
    pub at_ms: u64,
}

/// Queues the records one decision makes, and only those (a pass allocates nothing here):
/// the decision itself when it was block, warn or degraded (with the text when
/// `include_text` and not a pass), and a shadow-difference copy when the shadow pack
/// decided otherwise. The SIP and SMPP proxies both record through here.
pub fn record_outcome(
    sink: &RecordSink,
    arrival: &Arrival<'_>,
    ing: &Ingested<'_>,
    outcome: &Outcome,
    include_text: bool,
) {
    let wants = outcome.acted != Verdict::Pass || outcome.degraded.any();
    if !wants && outcome.shadow.is_none() {
        return;
    }
    let record = DecisionRecord {
        kind: RecordKind::Decision,
        at_ms: arrival.at_ms,
        gateway: arrival.gateway.clone(),
        protocol: arrival.protocol,
        direction: arrival.direction,
        method: arrival.method.to_string(),
        ingress: arrival.ingress,
        trunk: arrival.trunk.map(Arc::from),
        peer: Some(arrival.peer),
        message_id: ing.id.to_string(),
        pack_version: outcome.pack_version.clone(),
        latency_ns: outcome.latency_ns,
        degraded: outcome.degraded,
        acted: outcome.acted,
        decision: outcome.decision.clone(),
        shadow: None,
        call_seconds: None,
        text: None,
    };
    if let Some(shadow) = outcome.shadow.clone() {
        sink.send(DecisionRecord {
            kind: RecordKind::ShadowDifference,
            shadow: Some(shadow),
            ..record.clone()
        });
    }
    if wants {
        let text = (include_text && outcome.acted != Verdict::Pass)
            .then(|| ing.text.as_deref().map(str::to_string))
            .flatten();
        sink.send(DecisionRecord { text, ..record });
    }
}

/// A test hook standing for an engine failure on some events.
pub type FaultHook = fn(&Event<'_>) -> bool;

/// Decides ingested messages; shared by every worker thread (the engine's snapshot is read
/// lock-free).
pub struct Decider {
    engine: Arc<Engine>,
    /// The enforced snapshot's version, kept per snapshot (no allocation per decision).
    version: arc_swap::ArcSwap<(usize, Arc<str>)>,
    shadow: ArcSwapOption<Snapshot>,
    deadline: Duration,
    fail_closed: bool,
    metrics: Arc<Metrics>,
    fault: Option<FaultHook>,
}

impl Decider {
    /// A decider over `engine` with a decision deadline and failure policy.
    pub fn new(
        engine: Arc<Engine>,
        deadline: Duration,
        fail_closed: bool,
        metrics: Arc<Metrics>,
    ) -> Decider {
        let version = Arc::from(engine.snapshot().version());
        Decider {
            version: arc_swap::ArcSwap::from_pointee((0, version)),
            engine,
            shadow: ArcSwapOption::empty(),
            deadline,
            fail_closed,
            metrics,
            fault: None,
        }
    }

    /// Makes the engine "fail" (panic) on the events `hook` selects: for tests of the
    /// fail-open path.
    pub fn with_fault(mut self, hook: FaultHook) -> Decider {
        self.fault = Some(hook);
        self
    }

    /// The enforced engine.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Sets (or clears) the shadow pack.
    pub fn set_shadow(&self, snapshot: Option<Snapshot>) {
        self.shadow.store(snapshot.map(Arc::new));
    }

    /// Makes the shadow pack the enforced one (one atomic swap); the shadow slot empties.
    /// Returns whether there was a shadow pack.
    pub fn promote_shadow(&self) -> bool {
        match self.shadow.swap(None) {
            Some(snap) => {
                let snap = Arc::try_unwrap(snap).unwrap_or_else(|arc| (*arc).clone());
                self.engine.swap(snap);
                true
            }
            None => false,
        }
    }

    /// The version of `snapshot`, allocated once per snapshot.
    fn pack_version(&self, snapshot: &Arc<Snapshot>) -> Arc<str> {
        let key = Arc::as_ptr(snapshot) as usize;
        let cached = self.version.load();
        if cached.0 == key {
            return cached.1.clone();
        }
        let version: Arc<str> = Arc::from(snapshot.version());
        self.version.store(Arc::new((key, version.clone())));
        version
    }

    /// Decides one ingested message arriving at `at_ms` on `ingress`.
    pub fn decide(
        &self,
        ing: &Ingested<'_>,
        ingress: Ingress,
        trunk: Option<&str>,
        at_ms: u64,
    ) -> Outcome {
        let started = Instant::now();
        let snapshot = self.engine.snapshot();
        let pack_version = self.pack_version(&snapshot);
        let caller = ing.callers.first().map_or("", |c| c.value.as_ref());
        let callee = ing.callees.first().map_or("", |c| c.value.as_ref());
        let event = Event {
            kind: ing.kind,
            caller,
            callee,
            text: ing.text.as_deref(),
            ingress,
            trunk,
            at_ms,
        };
        let mut degraded = ing.degraded;
        let fault = self.fault;
        let result = catch_unwind(AssertUnwindSafe(|| {
            if fault.is_some_and(|f| f(&event)) {
                // Stands for a bug in the engine: the same path a real panic takes.
                return None;
            }
            let mut best = self.engine.decide(&event);
            let others = ing
                .callers
                .iter()
                .skip(1)
                .map(|c| (c.value.as_ref(), callee))
                .chain(
                    ing.callees
                        .iter()
                        .skip(1)
                        .map(|c| (caller, c.value.as_ref())),
                );
            for (caller, callee) in others {
                let alt = decide_with(
                    &snapshot,
                    None,
                    &Event {
                        caller,
                        callee,
                        text: None,
                        ..event
                    },
                );
                if alt.verdict > best.verdict {
                    best = alt;
                }
            }
            Some(best)
        }));
        let decision = match result {
            Ok(Some(d)) => Some(d),
            Ok(None) | Err(_) => None,
        };
        let latency = started.elapsed();
        let latency_ns = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.metrics.decision_latency.observe(latency.as_secs_f64());
        let failed_verdict = if self.fail_closed {
            Verdict::Block
        } else {
            Verdict::Pass
        };
        let (decision, acted) = match decision {
            None => {
                degraded.engine_error = true;
                self.metrics
                    .fail_open
                    .get_or_create(&KindLabel {
                        protocol: "any",
                        kind: "engine_error",
                    })
                    .inc();
                tracing::error!(
                    caller,
                    callee,
                    "engine failed on a message; fail-open policy applied"
                );
                let d = Decision::pass(
                    interdict_engine::Party::new(caller, None),
                    interdict_engine::Party::new(callee, None),
                );
                (d, failed_verdict)
            }
            Some(d) if latency > self.deadline => {
                degraded.deadline = true;
                self.metrics
                    .fail_open
                    .get_or_create(&KindLabel {
                        protocol: "any",
                        kind: "deadline",
                    })
                    .inc();
                tracing::warn!(
                    latency_us = latency.as_micros() as u64,
                    deadline_us = self.deadline.as_micros() as u64,
                    verdict = d.verdict.as_str(),
                    "decision passed its deadline; fail-open policy applied"
                );
                (d, failed_verdict)
            }
            Some(d) => {
                let v = d.verdict;
                (d, v)
            }
        };
        // The engine could not examine all of the text (scan failure, hit limit, length).
        degraded.text_truncated |= decision.degraded;
        if acted != Verdict::Pass {
            if let Some(rule) = decision.rule.as_deref() {
                self.metrics
                    .rule_hits
                    .get_or_create(&RuleLabel {
                        rule: rule.to_string(),
                    })
                    .inc();
            }
        }
        let shadow = self.shadow.load_full().and_then(|shadow| {
            // Both packs decided without behaviour, so only the packs' differences show.
            let (d, base) = catch_unwind(AssertUnwindSafe(|| {
                (
                    decide_with(&shadow, None, &event),
                    decide_with(&snapshot, None, &event),
                )
            }))
            .ok()?;
            if d.verdict != base.verdict || d.rule != base.rule {
                self.metrics
                    .shadow_differences
                    .get_or_create(&RuleLabel {
                        rule: d.rule.as_deref().unwrap_or("none").to_string(),
                    })
                    .inc();
                Some(d)
            } else {
                None
            }
        });
        Outcome {
            decision,
            acted,
            degraded,
            latency_ns,
            shadow,
            pack_version,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::path::Path;

    use interdict_engine::{load_pack, EventKind};

    use super::*;
    use crate::ingest::{Identity, IdentitySource};

    fn decider(deadline: Duration, fail_closed: bool) -> Decider {
        let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules");
        let engine = Arc::new(Engine::new(load_pack(&rules).unwrap()));
        Decider::new(engine, deadline, fail_closed, Arc::new(Metrics::new()))
    }

    fn call<'a>(callers: &[&'a str], callee: &'a str) -> Ingested<'a> {
        Ingested {
            kind: EventKind::CallOffer,
            callers: callers
                .iter()
                .map(|c| Identity {
                    source: IdentitySource::From,
                    value: Cow::Borrowed(*c),
                })
                .collect(),
            callees: [Identity {
                source: IdentitySource::RequestUri,
                value: Cow::Borrowed(callee),
            }]
            .into_iter()
            .collect(),
            text: None,
            degraded: Degraded::default(),
            id: Cow::Borrowed("t"),
            sms_part: None,
        }
    }

    #[test]
    fn the_strongest_verdict_over_every_identity_wins() {
        let d = decider(Duration::from_secs(1), false);
        // Synthetic: +8617100000001 is listed; 95588 is an allowlisted bank number.
        let o = d.decide(
            &call(&["95588", "+8617100000001"], "+8613800000002"),
            Ingress::Domestic,
            None,
            0,
        );
        assert_eq!(o.acted, Verdict::Block);
        assert_eq!(o.decision.rule.as_deref(), Some("caller-reported-fraud"));
        let o = d.decide(
            &call(&["+8613800000001"], "+8613800000002"),
            Ingress::Domestic,
            None,
            0,
        );
        assert_eq!(o.acted, Verdict::Pass);
    }

    #[test]
    fn an_engine_failure_fails_open_or_closed_and_is_marked() {
        let fault: FaultHook = |ev| ev.caller == "+8613800000009";
        let open = decider(Duration::from_secs(1), false).with_fault(fault);
        let o = open.decide(
            &call(&["+8613800000009"], "+8613800000002"),
            Ingress::Domestic,
            None,
            0,
        );
        assert_eq!(o.acted, Verdict::Pass);
        assert!(o.degraded.engine_error);
        let closed = decider(Duration::from_secs(1), true).with_fault(fault);
        let o = closed.decide(
            &call(&["+8613800000009"], "+8613800000002"),
            Ingress::Domestic,
            None,
            0,
        );
        assert_eq!(o.acted, Verdict::Block);
        assert!(o.degraded.engine_error);
        // Other messages are decided normally.
        let o = open.decide(
            &call(&["+8617100000001"], "+8613800000002"),
            Ingress::Domestic,
            None,
            0,
        );
        assert_eq!(o.acted, Verdict::Block);
        assert!(!o.degraded.any());
    }

    #[test]
    fn a_decision_past_its_deadline_is_not_acted_on() {
        let d = decider(Duration::ZERO, false);
        let o = d.decide(
            &call(&["+8617100000001"], "+8613800000002"),
            Ingress::Domestic,
            None,
            0,
        );
        assert_eq!(o.decision.verdict, Verdict::Block);
        assert_eq!(o.acted, Verdict::Pass);
        assert!(o.degraded.deadline);
    }
}
