//! The police feed's measurements (run by hand on an idle machine, never as tests):
//! events/s through the durable log to four live subscribers, decision-to-subscriber latency,
//! push-to-enforcement latency, and start-up with a year of pushes.
//!
//! `cargo run --release -p interdict --example feed_measure -- [all|throughput|latency|push|startup]
//! [--events N] [--seconds S] [--rate R]` (the throughput run offers at most N events, default
//! 1,000,000, for at most S seconds, default 10; the latency run offers R events/s for 3 s:
//! by default 200,000/s (the target) and then 10,000/s).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/feed_support/mod.rs"]
mod feed_support;

use feed_support::*;
use interdict::feed::log::{EventLog, RedbLog};
use interdict::feed::{restore, FeedStats};
use interdict_engine::{load_pack, Engine};
use interdict_proto::v1 as pb;
use prost::Message;
use std::time::Duration;
use tokio_stream::StreamExt;

/// What to run and how much of it.
struct Args {
    /// `all`, `throughput`, `latency`, `push` or `startup`.
    what: String,
    /// Events offered by the throughput run (at most).
    events: u64,
    /// The throughput run stops offering after this long (at most).
    seconds: f64,
    /// Events per second offered by the latency run (for 3 s); by default 200,000 then 10,000.
    rate: Option<u64>,
}

fn args() -> Args {
    let mut a = Args {
        what: "all".into(),
        events: 1_000_000,
        seconds: 10.0,
        rate: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--events" => a.events = it.next().and_then(|v| v.parse().ok()).expect("--events N"),
            "--seconds" => {
                a.seconds = it.next().and_then(|v| v.parse().ok()).expect("--seconds S")
            }
            "--rate" => a.rate = Some(it.next().and_then(|v| v.parse().ok()).expect("--rate R")),
            "all" | "throughput" | "latency" | "push" | "startup" => a.what = arg,
            _ => panic!(
                "usage: feed_measure [all|throughput|latency|push|startup] [--events N] [--seconds S] [--rate R]"
            ),
        }
    }
    a
}

/// Saturated throughput: events offered as fast as the log takes them (at most 32,768
/// waiting) to four live subscribers, for at most `events` events or `seconds`.
async fn throughput_to_four_subscribers(events: u64, seconds: f64) {
    four_subscribers("throughput", events, seconds, None).await;
}

/// Latency at a steady `rate` events/s (not saturated), for 3 s.
async fn latency_at_a_steady_rate(rate: u64) {
    four_subscribers("latency", rate.saturating_mul(3), 60.0, Some(rate)).await;
}

/// The process's CPU time (user + system) in seconds, from `/proc/self/stat` (Linux; 0
/// elsewhere).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // After the command name in parentheses: state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// The two fields of a `DecisionEvent` the in-process watcher reads (prost skips the rest),
/// so that measuring decision->durable costs the process little.
#[derive(Clone, PartialEq, prost::Message)]
struct Stamp {
    #[prost(string, tag = "15")]
    message_id: String,
    #[prost(uint64, tag = "17")]
    latency_ns: u64,
}

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// Up to `n` events (for at most `seconds`) to four live subscribers; with `rate`, offered
/// at that many per second.
async fn four_subscribers(name: &str, n: u64, seconds: f64, rate: Option<u64>) {
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
            let mut lat = Vec::with_capacity(n.min(4_000_000) as usize);
            loop {
                let ev = s.next().await.unwrap().unwrap();
                if ev.message_id == "end" {
                    break;
                }
                // The send time rides in latency_ns for this measurement only.
                lat.push(now_ns().saturating_sub(ev.latency_ns));
            }
            (lat, std::time::Instant::now())
        }));
    }
    // Decision to durable: an in-process watcher of the log's last sequence, reading the
    // newest committed events as soon as they are announced (what every subscriber's
    // reader does before the network).
    let durable = {
        let log = feed.log.clone();
        let mut tail = log.watch();
        let mut next = log.last_sequence() + 1;
        tokio::spawn(async move {
            let mut lat = Vec::with_capacity(n.min(4_000_000) as usize);
            while tail.changed().await.is_ok() {
                let last = *tail.borrow_and_update();
                while next <= last {
                    let Some(held) = log.recent(next, 4096) else {
                        break;
                    };
                    let now = now_ns();
                    for e in &held {
                        let ev = Stamp::decode(e.bytes.clone()).unwrap();
                        if ev.message_id == "end" {
                            return lat;
                        }
                        lat.push(now.saturating_sub(ev.latency_ns));
                    }
                    next = held.last().map_or(last + 1, |e| e.sequence + 1);
                }
            }
            lat
        })
    };
    let cpu_before = cpu_seconds();
    let started = std::time::Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let sender = feed.sender.clone();
    let stats = feed.stats.clone();
    let done = |s: &FeedStats| {
        s.written.load(std::sync::atomic::Ordering::Relaxed)
            + s.dropped.load(std::sync::atomic::Ordering::Relaxed)
    };
    let producer = std::thread::spawn(move || {
        let mut offered = 0;
        while offered < n && (offered % 1024 != 0 || std::time::Instant::now() < deadline) {
            let i = offered;
            // Offered as fast as the log takes it: at most 32,768 waiting.
            while i.saturating_sub(done(&stats)) > 32_768 {
                std::thread::sleep(Duration::from_micros(200));
            }
            if let Some(rate) = rate {
                if i % 64 == 0 {
                    let due = started + Duration::from_nanos(i * 1_000_000_000 / rate.max(1));
                    if let Some(wait) = due.checked_duration_since(std::time::Instant::now()) {
                        std::thread::sleep(wait);
                    }
                }
            }
            let mut ev = event(i);
            ev.latency_ns = now_ns();
            sender.send_event(ev);
            offered += 1;
        }
        // Every event written or dropped: the end marker cannot be dropped.
        while done(&stats) < offered {
            std::thread::sleep(Duration::from_micros(200));
        }
        let logged = started.elapsed();
        let mut end = event(offered);
        end.message_id = "end".into();
        sender.send_event(end);
        (offered, logged)
    });
    let mut all = Vec::new();
    let mut delivered = Vec::new();
    for t in tasks {
        let (lat, at) = t.await.unwrap();
        delivered.push((lat.len(), at.duration_since(started).as_secs_f64()));
        all.extend(lat);
    }
    let (offered, logged) = producer.join().unwrap();
    let cpu = cpu_seconds() - cpu_before;
    let mut durable = durable.await.unwrap();
    durable.sort_unstable();
    let written = feed
        .stats
        .written
        .load(std::sync::atomic::Ordering::Relaxed);
    let secs = delivered.iter().map(|d| d.1).fold(0.0, f64::max);
    all.sort_unstable();
    let p99 = all.get(all.len() * 99 / 100).copied().unwrap_or(0);
    let p50 = all.get(all.len() / 2).copied().unwrap_or(0);
    eprintln!(
        "{name}: {offered} events offered, {} written to the log in {:.2} s: {:.0} events/s into the log; dropped {}",
        written.saturating_sub(1),
        logged.as_secs_f64(),
        written.saturating_sub(1) as f64 / logged.as_secs_f64(),
        feed.sender_dropped()
    );
    eprintln!(
        "{name}: delivered to 4 subscribers {:?} in {secs:.2} s: {:.0} events/s to each, {:.0} deliveries/s; decision->subscriber p50 {:.1} ms p99 {:.1} ms",
        delivered.iter().map(|d| d.0).collect::<Vec<_>>(),
        all.len() as f64 / 4.0 / secs,
        all.len() as f64 / secs,
        p50 as f64 / 1e6,
        p99 as f64 / 1e6,
    );
    eprintln!(
        "{name}: decision->durable (committed and announced, in process) p50 {:.1} ms p99 {:.1} ms",
        durable.get(durable.len() / 2).copied().unwrap_or(0) as f64 / 1e6,
        durable.get(durable.len() * 99 / 100).copied().unwrap_or(0) as f64 / 1e6,
    );
    eprintln!(
        "{name}: CPU (user+system, all threads, producer and subscribers included) {cpu:.2} s: {:.1} us per event",
        cpu * 1e6 / offered.max(1) as f64
    );
    // The log's file goes, so that its pages are not written back under the next run's
    // fsyncs.
    drop(feed);
    let _ = std::fs::remove_dir_all(&dir);
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
    let a = args();
    let all = a.what == "all";
    if all || a.what == "latency" {
        let rates = a.rate.map_or(vec![200_000, 10_000], |r| vec![r]);
        for rate in rates {
            rt.block_on(latency_at_a_steady_rate(rate));
        }
    }
    if all || a.what == "throughput" {
        rt.block_on(throughput_to_four_subscribers(a.events, a.seconds));
    }
    if all || a.what == "push" {
        rt.block_on(push_to_enforcement());
    }
    if all || a.what == "startup" {
        startup_with_a_year_of_pushes();
    }
}
