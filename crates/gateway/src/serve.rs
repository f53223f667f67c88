//! `interdict serve`: the gateway process.
//!
//! Starts the rule pack (and the shadow pack), the record writer, the metrics server, the
//! SIP listeners and the periodic work, then waits for signals: SIGHUP reloads the pack
//! (refused packs leave the old one in place), SIGUSR2 promotes the shadow pack, SIGTERM
//! and SIGINT drain (stop accepting, finish in-flight messages, flush records, exit within
//! `drain_ms`).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use interdict_engine::Engine;

use crate::config::{Config, LogFormat};
use crate::decide::Decider;
use crate::ingest::IngestOptions;
use crate::metrics::Metrics;
use crate::record::{spawn_writer, RecordSink};
use crate::reload::{reload, spawn_watcher};
use crate::sip::proxy::ProxyParts;
use crate::sip::transport::{bind_udp, tcp_accept, Outbox};
use crate::sip::udp::udp_worker;
use crate::sip::{Local, SipProxy};

/// Sets up `tracing` on standard error in the configured format (level from `RUST_LOG`,
/// default `info`).
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Runs the gateway until SIGTERM or SIGINT. Exit status 0 after a drain, 2 when the
/// configuration or the rule pack is unusable or a listener cannot be opened.
pub fn run(cfg: Config) -> ExitCode {
    init_logging(cfg.gateway.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("interdict-io")
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the runtime");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(serve(cfg)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            eprintln!("interdict serve: {message}");
            ExitCode::from(2)
        }
    }
}

async fn serve(cfg: Config) -> Result<(), String> {
    let started = Instant::now();
    let cache = cfg.gateway.cache_dir();
    let snapshot = crate::reload::load(&cfg.gateway.rules, cache.as_deref())
        .map_err(|e| format!("rule pack {} is invalid:\n{e}", cfg.gateway.rules.display()))?;
    let pack_version = snapshot.version().to_string();
    let stats = snapshot.matcher().cache_stats();
    tracing::info!(
        cache = ?cache,
        loaded = stats.loaded,
        compiled = stats.compiled,
        rejected = stats.rejected,
        "rule pack compiled"
    );
    let metrics = Arc::new(Metrics::new());
    let engine = Arc::new(Engine::new(snapshot));
    // Pushed numbers are re-applied by `feed::start` before the first message is decided.
    let feed = if cfg.feed.enabled {
        Some(crate::feed::start(&cfg.feed, engine.clone(), &cfg.gateway.id).await?)
    } else {
        None
    };
    let feed_sender = feed.as_ref().map(|f| f.sender.clone());
    let decider = Arc::new(Decider::new(
        engine,
        Duration::from_micros(cfg.gateway.decision_deadline_us),
        cfg.gateway.fail_closed,
        metrics.clone(),
    ));
    if let Some(dir) = &cfg.gateway.shadow_rules {
        let shadow = crate::reload::load(dir, cache.as_deref())
            .map_err(|e| format!("shadow rule pack {} is invalid:\n{e}", dir.display()))?;
        tracing::info!(pack = %dir.display(), version = shadow.version(), "shadow pack loaded");
        decider.set_shadow(Some(shadow));
    }

    let (sink, rx, stats) = RecordSink::new(cfg.records.queue);
    metrics.attach_sink(stats.clone());
    let writer = spawn_writer(rx, cfg.records.path.as_deref(), stats, move |r| {
        if let Some(feed) = &feed_sender {
            feed.send(r);
        }
        tracing::debug!(
            kind = ?r.kind,
            verdict = r.acted.as_str(),
            rule = r.decision.rule.as_deref().unwrap_or("-"),
            caller = r.decision.caller.display(),
            callee = r.decision.callee.display(),
            id = %r.message_id,
            "decision"
        );
    })
    .map_err(|e| format!("records: {e}"))?;

    let dissuader = cfg.dissuasion.enabled.then(|| {
        crate::smpp::dissuade::Dissuader::start(
            cfg.dissuasion.clone(),
            cfg.dissuasion.smsc.unwrap_or(cfg.smpp.smsc),
            sink.clone(),
            metrics.clone(),
            Arc::from(cfg.gateway.id.as_str()),
        )
    });
    let stop = Arc::new(AtomicBool::new(false));
    let sip = Arc::new(cfg.sip.clone());
    let sip_running = if sip.listen_udp.is_some() || sip.listen_tcp.is_some() {
        Some(
            start_sip(
                &cfg,
                sip.clone(),
                decider.clone(),
                metrics.clone(),
                sink.clone(),
                dissuader.clone(),
                stop.clone(),
            )
            .await?,
        )
    } else {
        None
    };
    let (smpp_stop_tx, smpp_stop) = tokio::sync::watch::channel(false);
    let smpp_live = Arc::new(crate::smpp::net::Live::default());
    let smpp_addr = match cfg.smpp.listen {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| format!("smpp.listen {addr}: {e}"))?;
            let bound = listener.local_addr().map_err(|e| e.to_string())?;
            let shared = Arc::new(crate::smpp::session::Shared::new(
                Arc::new(cfg.smpp.clone()),
                decider.clone(),
                metrics.clone(),
                sink.clone(),
                Arc::from(cfg.gateway.id.as_str()),
                cfg.records.include_text,
                IngestOptions {
                    refuse_undecodable: cfg.gateway.refuse_undecodable,
                    ..IngestOptions::default()
                },
                dissuader.clone(),
            ));
            tokio::spawn(crate::smpp::net::accept(
                listener,
                shared,
                smpp_stop,
                smpp_live.clone(),
            ));
            Some(bound)
        }
        None => None,
    };
    if sip_running.is_none() && smpp_addr.is_none() {
        return Err(
            "no listener configured (sip.listen_udp, sip.listen_tcp or smpp.listen)".into(),
        );
    }
    drop(sink);
    drop(dissuader);

    let metrics_addr = match cfg.metrics.listen {
        Some(addr) => Some(
            crate::metrics::serve(addr, metrics.clone())
                .await
                .map_err(|e| format!("metrics.listen {addr}: {e}"))?,
        ),
        None => None,
    };
    if cfg.gateway.watch_rules {
        spawn_watcher(
            decider.clone(),
            cfg.gateway.rules.clone(),
            cache.clone(),
            metrics.clone(),
            Duration::from_secs(1),
        )
        .map_err(|e| e.to_string())?;
    }
    metrics.set_ready(true);
    tracing::info!(
        udp = ?sip_running.as_ref().and_then(|s| s.udp),
        tcp = ?sip_running.as_ref().and_then(|s| s.tcp),
        smpp = ?smpp_addr,
        metrics = ?metrics_addr,
        next_hop = %sip.next_hop,
        smsc = %cfg.smpp.smsc,
        pack = %pack_version,
        startup_ms = started.elapsed().as_millis() as u64,
        "interdict serving"
    );

    wait_for_stop(&decider, &cfg, &metrics).await;

    // Drain: stop accepting, let workers finish the message in hand, unbind the SMPP
    // sessions, flush the records.
    metrics.set_ready(false);
    stop.store(true, Ordering::SeqCst);
    let _ = smpp_stop_tx.send(true);
    let drain_ms = sip.drain_ms.max(cfg.smpp.drain_ms);
    let deadline = Instant::now() + Duration::from_millis(drain_ms);
    if let Some(running) = sip_running {
        for t in running.threads {
            while !t.is_finished() && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    while smpp_live.get() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    while !writer.is_finished() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tracing::info!("drained; exiting");
    Ok(())
}

/// The SIP proxy while it runs.
struct SipRunning {
    threads: Vec<std::thread::JoinHandle<()>>,
    udp: Option<SocketAddr>,
    tcp: Option<SocketAddr>,
}

/// Opens the SIP listeners and starts the workers and the timer thread.
async fn start_sip(
    cfg: &Config,
    sip: Arc<crate::config::SipConfig>,
    decider: Arc<Decider>,
    metrics: Arc<Metrics>,
    sink: RecordSink,
    dissuader: Option<crate::smpp::dissuade::Dissuader>,
    stop: Arc<AtomicBool>,
) -> Result<SipRunning, String> {
    let listen = sip
        .listen_udp
        .or(sip.listen_tcp)
        .ok_or("no SIP listener configured (sip.listen_udp or sip.listen_tcp)")?;
    let local = Local {
        host: sip.advertise.clone().unwrap_or_else(|| match listen.ip() {
            std::net::IpAddr::V6(a) => format!("[{a}]"),
            a => a.to_string(),
        }),
        port: listen.port(),
    };
    let proxy = Arc::new(SipProxy::new(ProxyParts {
        cfg: sip.clone(),
        local,
        decider: decider.clone(),
        metrics: metrics.clone(),
        records: sink,
        dissuader,
        gateway_id: Arc::from(cfg.gateway.id.as_str()),
        include_text: cfg.records.include_text,
        ingest: IngestOptions {
            refuse_undecodable: cfg.gateway.refuse_undecodable,
            ..IngestOptions::default()
        },
    }));

    let workers = if sip.workers == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        sip.workers
    };
    // Each worker has its own socket on the port by default (SO_REUSEPORT): the kernel picks
    // the socket by the peer's address, so one peer's messages stay in order. With
    // `reuse_port = false` the workers share one socket (better balance with a single big
    // peer, at the price of possible reordering between workers).
    let mut sockets = Vec::new();
    let udp_addr = match sip.listen_udp {
        Some(addr) => {
            let first = bind_udp(addr).map_err(|e| format!("sip.listen_udp {addr}: {e}"))?;
            let bound = first.local_addr().map_err(|e| e.to_string())?;
            for _ in 1..workers {
                let next = if sip.reuse_port {
                    bind_udp(bound)
                } else {
                    first.try_clone()
                };
                sockets.push(next.map_err(|e| format!("sip.listen_udp {bound}: {e}"))?);
            }
            sockets.insert(0, first);
            Some(bound)
        }
        None => None,
    };
    let outbox_socket = match sockets.first() {
        Some(s) => s.try_clone().map_err(|e| e.to_string())?,
        None => {
            std::net::UdpSocket::bind(SocketAddr::new(listen.ip(), 0)).map_err(|e| e.to_string())?
        }
    };
    let outbox = Outbox::new(
        outbox_socket,
        tokio::runtime::Handle::current(),
        proxy.clone(),
        sip.max_message_bytes,
        Duration::from_secs(sip.tcp_idle_timeout_s.max(1)),
    );
    let mut threads = Vec::new();
    for (i, socket) in sockets.into_iter().enumerate() {
        let (outbox, proxy, stop) = (outbox.clone(), proxy.clone(), stop.clone());
        let t = std::thread::Builder::new()
            .name(format!("sip-udp-{i}"))
            .spawn(move || udp_worker(socket, outbox, proxy, stop))
            .map_err(|e| e.to_string())?;
        threads.push(t);
    }
    let tcp_addr = match sip.listen_tcp {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| format!("sip.listen_tcp {addr}: {e}"))?;
            let bound = listener.local_addr().map_err(|e| e.to_string())?;
            tokio::spawn(tcp_accept(
                listener,
                outbox.clone(),
                sip.max_tcp_connections,
                stop.clone(),
            ));
            Some(bound)
        }
        None => None,
    };
    {
        let (proxy, stop, outbox) = (proxy.clone(), stop.clone(), outbox.clone());
        std::thread::Builder::new()
            .name("sip-tick".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(100));
                    for (dest, bytes) in proxy.tick(crate::sip::proxy::now_ms()) {
                        outbox.dispatch(crate::sip::Action::Send(dest), &bytes, None);
                    }
                }
            })
            .map_err(|e| e.to_string())?;
    }
    Ok(SipRunning {
        threads,
        udp: udp_addr,
        tcp: tcp_addr,
    })
}

#[cfg(unix)]
async fn wait_for_stop(decider: &Arc<Decider>, cfg: &Config, metrics: &Arc<Metrics>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut hup), Ok(mut term), Ok(mut int), Ok(mut usr2)) = (
        signal(SignalKind::hangup()),
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::user_defined2()),
    ) else {
        tracing::error!("cannot install signal handlers; stopping");
        return;
    };
    loop {
        tokio::select! {
            _ = hup.recv() => {
                let (d, dir, m) = (decider.clone(), cfg.gateway.rules.clone(), metrics.clone());
                let cache = cfg.gateway.cache_dir();
                // Compiling a large pack takes seconds: off the runtime's threads.
                let _ = tokio::task::spawn_blocking(move || reload(&d, &dir, cache.as_deref(), &m)).await;
            }
            _ = usr2.recv() => {
                if decider.promote_shadow() {
                    tracing::info!("shadow pack promoted: it is now enforced");
                } else {
                    tracing::warn!("SIGUSR2: no shadow pack to promote");
                }
            }
            _ = term.recv() => { tracing::info!("SIGTERM: draining"); return; }
            _ = int.recv() => { tracing::info!("SIGINT: draining"); return; }
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_stop(_: &Arc<Decider>, _: &Config, _: &Arc<Metrics>) {
    let _ = tokio::signal::ctrl_c().await;
}
