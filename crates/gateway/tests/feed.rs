//! The police feed in process: the durable log, the gRPC services over plaintext loopback,
//! resume, restart, pushed numbers and the audit trail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod feed_support;
use feed_support::*;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use interdict::feed::log::{EventLog, RedbLog};
use interdict::feed::server::Auth;
use interdict::feed::Role;
use interdict_engine::{load_pack, Engine};
use interdict_proto::v1 as pb;
use pb::feed_client::FeedClient;
use pb::rules_client::RulesClient;
use tokio_stream::StreamExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_after_disconnect_gets_10000_events_exactly_once_in_order() {
    let dir = temp_dir("resume");
    let feed = Feed::start(&dir).await;
    let mut client = feed.feed().await;
    let mut stream = client.subscribe(from(1)).await.unwrap().into_inner();
    // Produce 10,000 events; read the first 1,234 and disconnect while the rest are written.
    let producer = {
        let sender = feed.sender.clone();
        std::thread::spawn(move || {
            for i in 0..10_000u64 {
                sender.send_event(event(i));
                if i % 500 == 0 {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        })
    };
    let mut last = 0;
    for _ in 0..1234 {
        let ev = stream.next().await.unwrap().unwrap();
        assert_eq!(ev.sequence, last + 1, "in order, no gap");
        last = ev.sequence;
    }
    drop(stream);
    producer.join().unwrap();
    feed.wait_written(10_000).await;

    let mut resumed = client.subscribe(from(last + 1)).await.unwrap().into_inner();
    let mut seen = last;
    while seen < 10_000 {
        let ev = resumed.next().await.unwrap().unwrap();
        assert_eq!(ev.sequence, seen + 1, "exactly once, in order");
        assert_eq!(ev.message_id, format!("m{}", ev.sequence - 1));
        seen = ev.sequence;
    }
    // Nothing more arrives: no duplicate after the last.
    let more = tokio::time::timeout(Duration::from_millis(200), resumed.next()).await;
    assert!(more.is_err(), "no event after the 10,000th");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_and_live_start() {
    let dir = temp_dir("filters");
    let feed = Feed::start(&dir).await;
    for i in 0..10 {
        let mut ev = event(i);
        if i % 2 == 1 {
            ev.verdict = pb::Verdict::Warn as i32;
            ev.callee.as_mut().unwrap().number = format!("+8617199{i:06}");
        }
        feed.sender.send_event(ev);
    }
    feed.wait_written(10).await;
    let mut client = feed.feed().await;
    let req = pb::SubscribeRequest {
        start: pb::StartFrom::Oldest as i32,
        verdicts: vec![pb::Verdict::Warn as i32],
        callee_prefixes: vec!["+86171990".into()],
        ..Default::default()
    };
    let mut s = client.subscribe(req).await.unwrap().into_inner();
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(s.next().await.unwrap().unwrap().sequence);
    }
    assert_eq!(got, vec![2, 4, 6, 8, 10]);
    let live = pb::SubscribeRequest {
        start: pb::StartFrom::Live as i32,
        ..Default::default()
    };
    let mut l = client.subscribe(live).await.unwrap().into_inner();
    feed.sender.send_event(event(99));
    let ev = l.next().await.unwrap().unwrap();
    assert_eq!(ev.sequence, 11, "live starts after what was written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushed_number_is_enforced_audited_idempotent_and_survives_restart() {
    let dir = temp_dir("push");
    let number = "+8617055501234";
    {
        let feed = Feed::start(&dir).await;
        let mut rules = feed.rules().await;
        let before = rules.check(check_call(number)).await.unwrap().into_inner();
        assert_ne!(
            before.decision.unwrap().verdict,
            pb::Verdict::Block as i32,
            "not blocked before the push"
        );
        let r = rules
            .update_numbers(push(number, "req-1"))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.rules_version, 1);
        assert!(!r.duplicate);
        // Enforced at once: the next call from that number is blocked, with the case as evidence.
        let after = rules.check(check_call(number)).await.unwrap().into_inner();
        let d = after.decision.unwrap();
        assert_eq!(d.verdict, pb::Verdict::Block as i32);
        let hit = d.evidence.iter().find_map(|e| match &e.kind {
            Some(pb::evidence::Kind::ListHit(h)) => Some(h.clone()),
            _ => None,
        });
        let hit = hit.expect("list hit evidence");
        assert_eq!(hit.list, "fraud_numbers");
        assert!(hit.source.contains("case-2026-0001"), "{}", hit.source);
        // A retry is applied once.
        let again = rules
            .update_numbers(push(number, "req-1"))
            .await
            .unwrap()
            .into_inner();
        assert!(again.duplicate);
        assert_eq!(again.rules_version, 1);
        assert_eq!(again.audit_sequence, r.audit_sequence);
        // Check produces no feed event; the push produced exactly one audit event.
        let mut feed_client = feed.feed().await;
        let mut s = feed_client.subscribe(from(1)).await.unwrap().into_inner();
        let audit = s.next().await.unwrap().unwrap();
        assert_eq!(audit.sequence, r.audit_sequence);
        assert_eq!(audit.kind, pb::EventKind::RuleChange as i32);
        let change = audit.rule_change.unwrap();
        assert_eq!(change.actor, "loopback");
        assert_eq!(change.reason, "reported by victim");
        assert_eq!(change.case_id, "case-2026-0001");
        assert_eq!(change.added, vec![number.to_string()]);
        assert_eq!(change.rules_version, 1);
        assert!(audit.time.is_some());
        let more = tokio::time::timeout(Duration::from_millis(200), s.next()).await;
        assert!(more.is_err(), "Check and the retry wrote no event");
        // Refused: no reason, unknown list.
        let mut bad = push("+8617055509999", "req-2");
        bad.reason.clear();
        assert_eq!(
            rules.update_numbers(bad).await.unwrap_err().code(),
            tonic::Code::InvalidArgument
        );
        let mut bad = push("+8617055509999", "req-3");
        bad.list = "no_such_list".into();
        assert_eq!(
            rules.update_numbers(bad).await.unwrap_err().code(),
            tonic::Code::InvalidArgument
        );
        drop(feed);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // After a restart: the update is re-applied before anything is decided.
    let feed = Feed::start(&dir).await;
    let engine_check = {
        let snap = feed.engine.snapshot();
        interdict_engine::decide_with(
            &snap,
            None,
            &interdict_engine::Event::call(number, "+8617166604321", 0),
        )
    };
    assert_eq!(engine_check.verdict, interdict_engine::Verdict::Block);
    let v = feed
        .rules()
        .await
        .version(pb::VersionRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(v.rules_version, 1);
    feed.sender.send_event(event(1));
    feed.wait_written(2).await;
    assert_eq!(feed.log.first_sequence(), 1);
    let all = feed.log.read(1, 10).unwrap();
    let seqs: Vec<u64> = all.iter().map(|e| e.sequence).collect();
    assert_eq!(seqs, vec![1, 2], "no gap or duplicate across the restart");
}

#[test]
fn sequences_continue_across_reopen_and_retention_keeps_the_newest() {
    let dir = temp_dir("reopen");
    {
        let log = RedbLog::open(&dir).unwrap();
        assert_eq!(log.append((0..100).map(event).collect()).unwrap(), 100);
    }
    let log = RedbLog::open(&dir).unwrap();
    assert_eq!(log.last_sequence(), 100);
    assert_eq!(log.append(vec![event(100)]).unwrap(), 101);
    // Everything is older than a day from "now" = far future: all but the newest go.
    let removed = log
        .enforce(
            interdict::feed::log::Retention {
                max_age_ms: 86_400_000,
                max_bytes: 0,
            },
            4_000_000_000_000,
        )
        .unwrap();
    assert_eq!(removed, 100);
    assert_eq!(log.first_sequence(), 101);
    drop(log);
    let log = RedbLog::open(&dir).unwrap();
    assert_eq!(
        log.append(vec![event(7)]).unwrap(),
        102,
        "no reuse after retention"
    );
}

mod tls {
    use super::*;
    use interdict::feed::Grant;
    use rcgen::{
        BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
        KeyPair,
    };
    use std::collections::BTreeMap;
    use tonic::transport::{Channel, ClientTlsConfig, Identity, ServerTlsConfig};

    struct Ca {
        cert: Certificate,
        key: KeyPair,
    }

    impl Ca {
        fn new(name: &str) -> Ca {
            let key = KeyPair::generate().unwrap();
            let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            p.distinguished_name.push(DnType::CommonName, name);
            let cert = p.self_signed(&key).unwrap();
            Ca { cert, key }
        }

        /// A leaf certificate (PEM cert, PEM key) with `san` as DNS SAN and CN.
        fn issue(&self, san: &str, client: bool) -> (String, String) {
            let key = KeyPair::generate().unwrap();
            let mut p = CertificateParams::new(vec![san.to_string()]).unwrap();
            p.distinguished_name.push(DnType::CommonName, san);
            p.extended_key_usages = vec![if client {
                ExtendedKeyUsagePurpose::ClientAuth
            } else {
                ExtendedKeyUsagePurpose::ServerAuth
            }];
            let cert = p.signed_by(&key, &self.cert, &self.key).unwrap();
            (cert.pem(), key.serialize_pem())
        }
    }

    async fn start(dir: &Path, ca: &Ca) -> Feed {
        let (cert, key) = ca.issue("localhost", false);
        let tls = ServerTlsConfig::new()
            .identity(Identity::from_pem(cert, key))
            .client_ca_root(tonic::transport::Certificate::from_pem(ca.cert.pem()));
        let mut roles = BTreeMap::new();
        let grant = |role, prefixes: &[&str]| Grant {
            role,
            callee_prefixes: prefixes.iter().map(|s| s.to_string()).collect(),
        };
        roles.insert(
            "sz.fzzx.example".into(),
            grant(Role::Subscriber, &["+86171"]),
        );
        roles.insert("analyst.fzzx.example".into(), grant(Role::Analyst, &[]));
        roles.insert("admin.fzzx.example".into(), grant(Role::RulesAdmin, &[]));
        Feed::start_with(dir, Auth::Certificates(Arc::new(roles)), Some(tls)).await
    }

    async fn channel(feed: &Feed, ca: &Ca, client: Option<(String, String)>) -> Option<Channel> {
        let mut cfg = ClientTlsConfig::new()
            .ca_certificate(tonic::transport::Certificate::from_pem(ca.cert.pem()))
            .domain_name("localhost");
        if let Some((cert, key)) = client {
            cfg = cfg.identity(Identity::from_pem(cert, key));
        }
        Channel::from_shared(format!("https://{}", feed.addr))
            .unwrap()
            .tls_config(cfg)
            .unwrap()
            .connect()
            .await
            .ok()
    }

    /// Whether a Version call over `ch` succeeds (the TLS handshake may fail lazily).
    async fn can_call(ch: Option<Channel>) -> bool {
        match ch {
            None => false,
            Some(ch) => RulesClient::new(ch)
                .version(pb::VersionRequest {})
                .await
                .is_ok(),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn roles_regions_and_foreign_certificates() {
        let dir = temp_dir("tls");
        let ca = Ca::new("Interdict test CA");
        let feed = start(&dir, &ca).await;

        // Another CA's certificate, and no certificate, cannot call anything.
        let other = Ca::new("Someone else's CA");
        let foreign = other.issue("admin.fzzx.example", true);
        assert!(!can_call(channel(&feed, &ca, Some(foreign)).await).await);
        assert!(!can_call(channel(&feed, &ca, None).await).await);

        // An unknown identity from the right CA: PERMISSION_DENIED.
        let stranger = channel(&feed, &ca, Some(ca.issue("stranger.example", true)))
            .await
            .unwrap();
        let err = RulesClient::new(stranger)
            .version(pb::VersionRequest {})
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied);

        // A subscriber may subscribe but not push or check.
        let sub = channel(&feed, &ca, Some(ca.issue("sz.fzzx.example", true)))
            .await
            .unwrap();
        let err = RulesClient::new(sub.clone())
            .update_numbers(push("+8617055507777", "r-sub"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied);
        let err = RulesClient::new(sub.clone())
            .check(check_call("+8617055507777"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied);

        // An analyst may check but not push.
        let analyst = channel(&feed, &ca, Some(ca.issue("analyst.fzzx.example", true)))
            .await
            .unwrap();
        assert!(RulesClient::new(analyst.clone())
            .check(check_call("+8617055507777"))
            .await
            .is_ok());
        let analyst_ch = analyst.clone();
        let err = RulesClient::new(analyst)
            .update_numbers(push("+8617055507777", "r-an"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied);
        // ...but may allow a number wrongly blocked, with a reason.
        let mut allow = push("+8617055506666", "r-allow");
        allow.list = "allow_official".into();
        allow.reason = "a clinic's number, wrongly reported".into();
        let r = RulesClient::new(analyst_ch.clone())
            .update_numbers(allow)
            .await
            .unwrap()
            .into_inner();
        let audit = feed.log.read(r.audit_sequence, 1).unwrap().remove(0);
        let change = audit.rule_change.unwrap();
        assert_eq!(change.actor, "analyst.fzzx.example");
        assert_eq!(change.role, "analyst");

        // A rules-admin may push; the audit names the certificate.
        let admin = channel(&feed, &ca, Some(ca.issue("admin.fzzx.example", true)))
            .await
            .unwrap();
        let r = RulesClient::new(admin.clone())
            .update_numbers(push("+8617055507777", "r-admin"))
            .await
            .unwrap()
            .into_inner();
        let audit = feed.log.read(r.audit_sequence, 1).unwrap().remove(0);
        assert_eq!(audit.rule_change.unwrap().actor, "admin.fzzx.example");

        // The +86171 subscriber sees only events whose callee is in its region.
        for i in 0..6u64 {
            let mut ev = event(i);
            if i % 2 == 0 {
                ev.callee.as_mut().unwrap().number = format!("+8617200{i:06}");
            }
            feed.sender.send_event(ev);
        }
        feed.wait_written(r.audit_sequence + 6).await;
        let mut s = FeedClient::new(sub)
            .subscribe(from(1))
            .await
            .unwrap()
            .into_inner();
        let mut callees = Vec::new();
        for _ in 0..3 {
            let ev = s.next().await.unwrap().unwrap();
            callees.push(ev.callee.unwrap().number);
        }
        assert!(
            callees.iter().all(|c| c.starts_with("+86171")),
            "{callees:?}"
        );
        let more = tokio::time::timeout(Duration::from_millis(200), s.next()).await;
        assert!(
            more.is_err(),
            "nothing outside the region, not even the audit event"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_stops_reading_slows_nothing_and_stats_and_health_answer() {
    let dir = temp_dir("stall");
    let feed = Feed::start(&dir).await;
    let mut client = feed.feed().await;
    // Subscribed, never read.
    let _stalled = client.subscribe(from(1)).await.unwrap().into_inner();
    let started = std::time::Instant::now();
    for i in 0..50_000u64 {
        feed.sender.send_event(event(i));
    }
    let queued = started.elapsed();
    feed.wait_written(50_000).await;
    assert!(
        queued < Duration::from_secs(2),
        "handing 50,000 events over took {queued:?}"
    );
    let ch = tonic::transport::Channel::from_shared(format!("http://{}", feed.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let stats = pb::stats_client::StatsClient::new(ch.clone())
        .get(pb::StatsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        stats.dropped, 0,
        "the writer kept up with a stalled subscriber"
    );
    assert_eq!(stats.last_sequence, 50_000);
    assert_eq!(stats.subscribers, 1);
    let blocks = stats.by_verdict.iter().find(|c| c.key == "VERDICT_BLOCK");
    assert_eq!(blocks.map(|c| c.count), Some(50_000));
    // A second subscriber is not held back by the first.
    let mut live = client.subscribe(from(49_990)).await.unwrap().into_inner();
    assert_eq!(live.next().await.unwrap().unwrap().sequence, 49_990);
    let health = tonic_health::pb::health_client::HealthClient::new(ch)
        .check(tonic_health::pb::HealthCheckRequest {
            service: "interdict.v1.Feed".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        health.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    // Server reflection lists the services (what grpcurl relies on).
    use tonic_reflection::pb::v1::{
        server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
        ServerReflectionRequest,
    };
    let ch = tonic::transport::Channel::from_shared(format!("http://{}", feed.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = ServerReflectionClient::new(ch)
        .server_reflection_info(tokio_stream::iter(vec![req]))
        .await
        .unwrap()
        .into_inner();
    let answer = answers.next().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = answer.message_response else {
        panic!("no service list: {answer:?}");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for wanted in [
        "interdict.v1.Feed",
        "interdict.v1.Rules",
        "interdict.v1.Stats",
    ] {
        assert!(
            names.iter().any(|n| n == wanted),
            "{wanted} not in {names:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushed_numbers_stay_enforced_after_a_rule_pack_reload() {
    let dir = temp_dir("reload");
    let feed = Feed::start(&dir).await;
    let number = "+8617055508642";
    let mut rules = feed.rules().await;
    rules
        .update_numbers(push(number, "reload-1"))
        .await
        .unwrap();
    let blocked = |engine: &Engine| {
        let snap = engine.snapshot();
        interdict_engine::decide_with(
            &snap,
            None,
            &interdict_engine::Event::call(number, "+8617166604321", 0),
        )
        .verdict
            == interdict_engine::Verdict::Block
    };
    assert!(blocked(&feed.engine));
    // What SIGHUP does: the pack's own lists replace the pushed ones...
    feed.engine.swap(load_pack(&rules_dir()).unwrap());
    // ...and the feed applies the pushes again within its check interval.
    let started = std::time::Instant::now();
    while !blocked(&feed.engine) {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "push lost after reload"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    eprintln!("pushes re-applied {:?} after the reload", started.elapsed());
}

#[test]
fn feed_config_defaults_to_loopback_and_mutual_tls() {
    use interdict::feed::server::{auth_of, ServeError};
    use interdict::feed::FeedConfig;
    let cfg = FeedConfig::default();
    assert_eq!(cfg.listen.to_string(), "127.0.0.1:50051");
    assert!(!cfg.plaintext);
    assert!(matches!(auth_of(&cfg), Err(ServeError::MissingTls)));
    let open = FeedConfig {
        plaintext: true,
        listen: "0.0.0.0:50051".parse().unwrap(),
        ..FeedConfig::default()
    };
    assert!(matches!(
        auth_of(&open),
        Err(ServeError::PlaintextNotLoopback(_))
    ));
    let local = FeedConfig {
        plaintext: true,
        ..FeedConfig::default()
    };
    assert!(matches!(auth_of(&local), Ok((Auth::Plaintext(_), None))));
    let parsed: interdict::config::Config = toml::from_str(
        "[feed]\nenabled = true\n[feed.roles.\"sz.fzzx.example\"]\nrole = \"subscriber\"\ncallee_prefixes = [\"+86755\"]\n",
    )
    .unwrap();
    let grant = &parsed.feed.roles["sz.fzzx.example"];
    assert_eq!(grant.role, Role::Subscriber);
    assert_eq!(grant.callee_prefixes, vec!["+86755".to_string()]);
}
