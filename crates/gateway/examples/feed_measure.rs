//! The police feed's measurements (run by hand on an idle machine, never as tests):
//! events/s through the durable log to four live subscribers, decision-to-subscriber latency,
//! push-to-enforcement latency, and start-up with a year of pushes.
//!
//! `cargo run --release -p interdict --example feed_measure`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/feed_support/mod.rs"]
mod feed_support;

use feed_support::*;
use interdict::feed::log::{EventLog, RedbLog};
use interdict::feed::{restore, FeedStats};
use interdict_engine::{load_pack, Engine};
use interdict_proto::v1 as pb;
use std::time::Duration;
use tokio_stream::StreamExt;

/// Throughput: events/s through the log to four live subscribers, and decision-to-subscriber
/// latency. (`cargo run --release -p interdict --example feed_measure`)
async fn throughput_to_four_subscribers() {
    four_subscribers("throughput", 200_000, None).await;
}

/// Latency at a steady 10,000 events/s (not saturated).
/// (`cargo run --release -p interdict --example feed_measure`)
async fn latency_at_10k_events_per_second() {
    four_subscribers("latency", 30_000, Some(10)).await;
}

/// `n` events to four live subscribers; with `per_ms`, offered at that many per millisecond.
async fn four_subscribers(name: &str, n: u64, per_ms: Option<u64>) {
    let dir = temp_dir(name);
    let feed = Feed::start(&dir).await;
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let mut client = feed.feed().await;
        let mut s = client
            .subscribe(pb::SubscribeRequest {
                start: pb::StartFrom::Live as i32,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(n as usize);
            loop {
                let ev = s.next().await.unwrap().unwrap();
                if ev.message_id == "end" {
                    break;
                }
                let sent = ev.latency_ns;
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64;
                lat.push(now.saturating_sub(sent));
            }
            lat
        }));
    }
    let started = std::time::Instant::now();
    let sender = feed.sender.clone();
    let stats = feed.stats.clone();
    let done = |s: &FeedStats| {
        s.written.load(std::sync::atomic::Ordering::Relaxed)
            + s.dropped.load(std::sync::atomic::Ordering::Relaxed)
    };
    std::thread::spawn(move || {
        for i in 0..n {
            // Offered as fast as the log takes it: at most 32,768 waiting.
            while i.saturating_sub(done(&stats)) > 32_768 {
                std::thread::sleep(Duration::from_micros(200));
            }
            if let Some(k) = per_ms {
                if i % k == 0 {
                    let due = started + Duration::from_micros(i * 1000 / k);
                    if let Some(wait) = due.checked_duration_since(std::time::Instant::now()) {
                        std::thread::sleep(wait);
                    }
                }
            }
            let mut ev = event(i);
            // The send time rides in latency_ns for this measurement only.
            ev.latency_ns = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64;
            sender.send_event(ev);
        }
        // Every event written or dropped: the end marker cannot be dropped.
        while done(&stats) < n {
            std::thread::sleep(Duration::from_millis(1));
        }
        let mut end = event(n);
        end.message_id = "end".into();
        sender.send_event(end);
    });
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let secs = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let p99 = all[all.len() * 99 / 100];
    let p50 = all[all.len() / 2];
    eprintln!(
        "{n} events offered, {} delivered to each of 4 subscribers in {secs:.2} s: {:.0} events/s, {:.0} deliveries/s; decision->subscriber p50 {:.1} ms p99 {:.1} ms; dropped {}",
        all.len() / 4,
        all.len() as f64 / 4.0 / secs,
        all.len() as f64 / secs,
        p50 as f64 / 1e6,
        p99 as f64 / 1e6,
        feed.sender_dropped()
    );
}

/// Push to enforcement: each push is applied before it is acknowledged, so the figure is the
/// UpdateNumbers round trip (durable write included) plus the first Check that sees it.
/// (`cargo run --release -p interdict --example feed_measure`)
async fn push_to_enforcement() {
    let dir = temp_dir("push-latency");
    let feed = Feed::start(&dir).await;
    let mut rules = feed.rules().await;
    let mut lat = Vec::new();
    for i in 0..300u64 {
        let number = format!("+8617077{i:06}");
        let started = std::time::Instant::now();
        rules
            .update_numbers(push(&number, &format!("lat-{i}")))
            .await
            .unwrap();
        let d = rules
            .check(check_call(&number))
            .await
            .unwrap()
            .into_inner()
            .decision
            .unwrap();
        assert_eq!(d.verdict, pb::Verdict::Block as i32);
        lat.push(started.elapsed());
    }
    lat.sort_unstable();
    eprintln!(
        "push to enforcement over {} pushes: p50 {:?} p99 {:?} max {:?}",
        lat.len(),
        lat[lat.len() / 2],
        lat[lat.len() * 99 / 100],
        lat[lat.len() - 1]
    );
}

/// Start-up with a year of pushes: 3,650 updates of 100 numbers (10 a day... of batches),
/// re-applied to a fresh engine as `interdict serve` does before its first decision.
/// (`cargo run --release -p interdict --example feed_measure`)
fn startup_with_a_year_of_pushes() {
    let dir = temp_dir("year");
    let updates = 3_650u64;
    {
        let log = RedbLog::open(&dir).unwrap();
        for u in 0..updates {
            let mut req = push("+8617000000000", &format!("y-{u}"));
            req.add = (0..100u64)
                .map(|i| format!("+86170{:08}", u * 100 + i))
                .collect();
            let audit = pb::DecisionEvent {
                kind: pb::EventKind::RuleChange as i32,
                ..Default::default()
            };
            log.record_update(&req, audit).unwrap();
        }
    }
    let engine = Engine::new(load_pack(&rules_dir()).unwrap());
    let started = std::time::Instant::now();
    let log = RedbLog::open(&dir).unwrap();
    let applied = restore(&log, &engine).unwrap();
    let took = started.elapsed();
    assert_eq!(applied as u64, updates);
    let snap = engine.snapshot();
    let d = interdict_engine::decide_with(
        &snap,
        None,
        &interdict_engine::Event::call("+8617000012345", "+8617166604321", 0),
    );
    assert_eq!(d.verdict, interdict_engine::Verdict::Block);
    eprintln!(
        "start-up: {updates} updates ({} numbers) re-applied in {took:?}",
        updates * 100
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(throughput_to_four_subscribers());
    rt.block_on(latency_at_10k_events_per_second());
    rt.block_on(push_to_enforcement());
    startup_with_a_year_of_pushes();
}
