//! Conversion from the gateway's domain types ([`DecisionRecord`], [`Decision`]) to the wire
//! types of `interdict.v1`. This is the only place that knows both; the domain types are not
//! the wire schema.

use interdict_engine::{Decision, Evidence, Ingress, Party, PartyKind, Role, Verdict};
use interdict_proto::v1 as pb;

use crate::record::{DecisionRecord, Direction, Protocol, RecordKind};

/// A wire timestamp for milliseconds since the Unix epoch.
pub fn timestamp(at_ms: u64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: i64::try_from(at_ms / 1000).unwrap_or(i64::MAX),
        // Below 1e9, always fits.
        nanos: i32::try_from((at_ms % 1000) * 1_000_000).unwrap_or(0),
    }
}

/// Milliseconds since the Unix epoch of a wire timestamp (0 before the epoch).
pub fn timestamp_ms(ts: &prost_types::Timestamp) -> u64 {
    let s = u64::try_from(ts.seconds).unwrap_or(0);
    let n = u64::try_from(ts.nanos).unwrap_or(0) / 1_000_000;
    s.saturating_mul(1000).saturating_add(n)
}

/// The wire verdict.
pub fn verdict(v: Verdict) -> pb::Verdict {
    match v {
        Verdict::Pass => pb::Verdict::Pass,
        Verdict::Warn => pb::Verdict::Warn,
        Verdict::Block => pb::Verdict::Block,
    }
}

fn party_kind(k: PartyKind) -> pb::PartyKind {
    match k {
        PartyKind::E164 => pb::PartyKind::E164,
        PartyKind::Service => pb::PartyKind::Service,
        PartyKind::Alphanumeric => pb::PartyKind::Alphanumeric,
        PartyKind::Unparseable => pb::PartyKind::Unparseable,
    }
}

/// The wire ingress.
pub fn ingress(i: Ingress) -> pb::Ingress {
    match i {
        Ingress::Domestic => pb::Ingress::Domestic,
        Ingress::International => pb::Ingress::International,
    }
}

fn role(r: Role) -> pb::EvidenceRole {
    match r {
        Role::Caller => pb::EvidenceRole::Caller,
        Role::Callee => pb::EvidenceRole::Callee,
        Role::Contact => pb::EvidenceRole::Contact,
    }
}

fn party(p: &Party) -> pb::Party {
    pb::Party {
        raw: p.raw.as_str().to_string(),
        number: p
            .normalised
            .as_ref()
            .map(|n| n.as_str().to_string())
            .unwrap_or_default(),
        kind: party_kind(p.kind) as i32,
    }
}

fn evidence(e: &Evidence) -> pb::Evidence {
    use pb::evidence::Kind;
    let kind = match e {
        Evidence::ListHit {
            party,
            number,
            list,
            category,
            entry,
            source,
        } => Kind::ListHit(pb::ListHit {
            party: role(*party) as i32,
            number: number.clone(),
            list: list.to_string(),
            category: category.to_string(),
            entry: entry.clone(),
            source: source.clone(),
        }),
        Evidence::Phrase {
            category,
            phrase,
            found,
            start,
            end,
        } => Kind::Phrase(pb::PhraseHit {
            category: category.to_string(),
            phrase: phrase.to_string(),
            found: found.clone(),
            start: *start as u64,
            end: *end as u64,
            pattern: false,
        }),
        Evidence::Pattern {
            category,
            pattern,
            found,
            start,
            end,
        } => Kind::Phrase(pb::PhraseHit {
            category: category.to_string(),
            phrase: pattern.to_string(),
            found: found.clone(),
            start: *start as u64,
            end: *end as u64,
            pattern: true,
        }),
        Evidence::Contact {
            kind,
            value,
            matched,
            source,
            start,
            end,
        } => Kind::Contact(pb::ContactHit {
            kind: kind.clone(),
            value: value.clone(),
            matched: matched.clone(),
            source: source.clone(),
            start: *start as u64,
            end: *end as u64,
        }),
        Evidence::Spoofing {
            caller,
            kind,
            ingress: i,
        } => Kind::Spoofing(pb::Spoofing {
            caller: caller.clone(),
            kind: party_kind(*kind) as i32,
            ingress: ingress(*i) as i32,
        }),
        Evidence::Behaviour {
            flag,
            observed,
            threshold,
        } => Kind::Behaviour(pb::BehaviourFigure {
            detector: flag.clone(),
            observed: *observed,
            threshold: *threshold,
            window_seconds: 0,
        }),
        // The example is this message's text: it leaves the gateway only where the event's
        // text does (see `record_event`), so it is filled in there.
        Evidence::Campaign {
            template,
            recipients,
            senders,
            messages,
            window_ms,
            example: _,
        } => Kind::Campaign(pb::CampaignTemplate {
            template: template.clone(),
            recipients: *recipients,
            senders: *senders,
            messages: *messages,
            window_seconds: window_ms / 1000,
            example: String::new(),
        }),
        Evidence::Unparseable { party, raw, error } => Kind::Unparseable(pb::Unparseable {
            party: role(*party) as i32,
            raw: raw.clone(),
            error: error.clone(),
        }),
    };
    pb::Evidence { kind: Some(kind) }
}

/// The decision part of an event (parties, verdict, rule, categories, evidence).
pub fn decision_event(d: &Decision, kind: pb::EventKind, at_ms: u64) -> pb::DecisionEvent {
    pb::DecisionEvent {
        time: Some(timestamp(at_ms)),
        kind: kind as i32,
        caller: Some(party(&d.caller)),
        callee: Some(party(&d.callee)),
        verdict: verdict(d.verdict) as i32,
        rule_id: d.rule.as_deref().unwrap_or_default().to_string(),
        categories: d.categories.iter().map(|c| c.to_string()).collect(),
        evidence: d.evidence.iter().map(evidence).collect(),
        ..Default::default()
    }
}

fn is_call(method: &str) -> bool {
    method.eq_ignore_ascii_case("INVITE")
}

/// The feed event of a decision record (sequence 0: the log assigns it).
pub fn record_event(r: &DecisionRecord) -> pb::DecisionEvent {
    let kind = match r.kind {
        RecordKind::Decision if is_call(&r.method) => pb::EventKind::Call,
        RecordKind::Decision => pb::EventKind::Sms,
        RecordKind::VictimAtRisk => pb::EventKind::VictimAtRisk,
        RecordKind::ShadowDifference => pb::EventKind::ShadowDifference,
        RecordKind::DissuasionSent => pb::EventKind::DissuasionSent,
    };
    let mut ev = decision_event(&r.decision, kind, r.at_ms);
    ev.verdict = verdict(r.acted) as i32;
    ev.gateway_id = r.gateway.to_string();
    ev.protocol = match r.protocol {
        Protocol::Sip => pb::Protocol::Sip,
        Protocol::Smpp => pb::Protocol::Smpp,
    } as i32;
    ev.direction = match r.direction {
        Direction::ToCore => pb::Direction::ToCore,
        Direction::ToBorder => pb::Direction::ToBorder,
    } as i32;
    ev.method = r.method.clone();
    ev.ingress = ingress(r.ingress) as i32;
    ev.trunk = r.trunk.as_deref().unwrap_or_default().to_string();
    ev.message_id = r.message_id.clone();
    ev.pack_version = r.pack_version.to_string();
    ev.latency_ns = r.latency_ns;
    ev.degraded = Some(pb::Degraded {
        text_undecodable: r.degraded.text_undecodable,
        text_truncated: r.degraded.text_truncated,
        deadline: r.degraded.deadline,
        engine_error: r.degraded.engine_error,
    });
    // Only blocks and warnings carry text, and only when the gateway was configured to keep
    // it (the record has none otherwise).
    if matches!(r.acted, Verdict::Block | Verdict::Warn) {
        ev.text = r.text.clone();
        if r.text.is_some() {
            // The campaign's example follows the same rule as the text.
            let examples = r.decision.evidence.iter().filter_map(|e| match e {
                Evidence::Campaign { example, .. } => Some(example),
                _ => None,
            });
            let slots = ev.evidence.iter_mut().filter_map(|e| match &mut e.kind {
                Some(pb::evidence::Kind::Campaign(c)) => Some(c),
                _ => None,
            });
            for (slot, example) in slots.zip(examples) {
                slot.example = example.clone();
            }
        }
    }
    ev.call_seconds = r.call_seconds;
    if let Some(shadow) = &r.shadow {
        ev.shadow_verdict = verdict(shadow.verdict) as i32;
        ev.shadow_rule_id = shadow.rule.as_deref().unwrap_or_default().to_string();
    }
    ev
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Degraded;

    fn campaign_record(text: Option<&str>) -> DecisionRecord {
        let mut decision = Decision::pass(
            Party::new("+8617055550001", None),
            Party::new("+8613800000001", None),
        );
        decision.verdict = Verdict::Warn;
        decision.evidence.push(Evidence::Campaign {
            template: "9f3a".into(),
            recipients: 12,
            senders: 3,
            messages: 14,
            window_ms: 600_000,
            example: "【某银行】您的积分即将清零，请登录兑换".into(),
        });
        DecisionRecord {
            kind: RecordKind::Decision,
            at_ms: 1,
            gateway: "t".into(),
            protocol: Protocol::Smpp,
            direction: Direction::ToCore,
            method: "submit_sm".into(),
            ingress: Ingress::Domestic,
            trunk: None,
            peer: None,
            message_id: "1".into(),
            pack_version: "v".into(),
            latency_ns: 0,
            degraded: Degraded::default(),
            acted: Verdict::Warn,
            decision,
            shadow: None,
            call_seconds: None,
            text: text.map(str::to_string),
        }
    }

    fn campaign(ev: &pb::DecisionEvent) -> pb::CampaignTemplate {
        match ev.evidence.first().and_then(|e| e.kind.clone()) {
            Some(pb::evidence::Kind::Campaign(c)) => c,
            other => panic!("expected a campaign, got {other:?}"),
        }
    }

    #[test]
    fn a_campaign_is_its_own_evidence_and_its_example_follows_the_text_rule() {
        let with_text = record_event(&campaign_record(Some("全文")));
        let c = campaign(&with_text);
        assert_eq!(
            (c.template.as_str(), c.recipients, c.senders, c.messages),
            ("9f3a", 12, 3, 14)
        );
        assert_eq!(c.window_seconds, 600);
        assert!(c.example.contains("积分"), "the example goes with the text");
        let without = record_event(&campaign_record(None));
        assert_eq!(
            campaign(&without).example,
            "",
            "no text configured: no example leaves the gateway"
        );
    }
}
