//! Helpers shared by the feed's tests (`tests/feed.rs`) and its measurements
//! (`examples/feed_measure.rs`): an in-process feed on loopback, events, pushes.
#![allow(
    dead_code,
    unused_imports,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use interdict::feed::log::{EventLog, RedbLog};
use interdict::feed::server::{serve, Auth, FeedState};
use interdict::feed::{restore, spawn_log_writer, FeedSender, FeedStats, Role};
use interdict_engine::{load_pack, Engine};
use interdict_proto::v1 as pb;
use pb::feed_client::FeedClient;
use pb::rules_client::RulesClient;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio_stream::StreamExt;

pub fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules")
}

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("interdict-feed-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A synthetic SMS block event from caller `+86170…` to callee `+86171…`.
pub fn event(i: u64) -> pb::DecisionEvent {
    pb::DecisionEvent {
        time: Some(interdict::feed::convert::timestamp(1_700_000_000_000 + i)),
        kind: pb::EventKind::Sms as i32,
        protocol: pb::Protocol::Smpp as i32,
        verdict: pb::Verdict::Block as i32,
        caller: Some(pb::Party {
            raw: format!("+8617000{i:06}"),
            number: format!("+8617000{i:06}"),
            kind: pb::PartyKind::E164 as i32,
        }),
        callee: Some(pb::Party {
            raw: String::new(),
            number: format!("+8617100{i:06}"),
            kind: pb::PartyKind::E164 as i32,
        }),
        message_id: format!("m{i}"),
        ..Default::default()
    }
}

pub struct Feed {
    pub addr: std::net::SocketAddr,
    pub sender: FeedSender,
    pub log: Arc<dyn EventLog>,
    pub engine: Arc<Engine>,
    pub stats: Arc<FeedStats>,
    pub stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Feed {
    pub async fn start(dir: &Path) -> Feed {
        Feed::start_with(dir, Auth::Plaintext(Role::RulesAdmin), None).await
    }

    pub async fn start_with(
        dir: &Path,
        auth: Auth,
        tls: Option<tonic::transport::ServerTlsConfig>,
    ) -> Feed {
        let log: Arc<dyn EventLog> = Arc::new(RedbLog::open(dir).unwrap());
        let engine = Arc::new(Engine::new(load_pack(&rules_dir()).unwrap()));
        restore(&*log, &engine).unwrap();
        let stats = Arc::new(FeedStats::default());
        let (sender, _) = spawn_log_writer(log.clone(), 65_536, stats.clone()).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(FeedState {
            log: log.clone(),
            engine: engine.clone(),
            gateway_id: "gw-test".into(),
            stats: stats.clone(),
            auth,
            updates: tokio::sync::Mutex::new(Some(engine.snapshot())),
        });
        tokio::spawn(interdict::feed::server::keep_pushes_after_reload(
            state.clone(),
            Duration::from_millis(20),
        ));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve(state, tls, listener, async {
            let _ = stopped.await;
        }));
        Feed {
            addr,
            sender,
            log,
            engine,
            stats,
            stop: Some(stop),
        }
    }

    pub fn sender_dropped(&self) -> u64 {
        self.stats
            .dropped
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    pub async fn feed(&self) -> FeedClient<tonic::transport::Channel> {
        FeedClient::connect(format!("http://{}", self.addr))
            .await
            .unwrap()
    }

    pub async fn rules(&self) -> RulesClient<tonic::transport::Channel> {
        RulesClient::connect(format!("http://{}", self.addr))
            .await
            .unwrap()
    }

    pub async fn wait_written(&self, last: u64) {
        for _ in 0..500 {
            if self.log.last_sequence() >= last {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("log reached only {} of {last}", self.log.last_sequence());
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

pub fn from(seq: u64) -> pb::SubscribeRequest {
    pb::SubscribeRequest {
        start: pb::StartFrom::Sequence as i32,
        from_sequence: seq,
        ..Default::default()
    }
}

pub fn push(number: &str, request_id: &str) -> pb::UpdateNumbersRequest {
    pb::UpdateNumbersRequest {
        list: "fraud_numbers".into(),
        add: vec![number.into()],
        category: "impersonation".into(),
        action: "block".into(),
        reason: "reported by victim".into(),
        case_id: "case-2026-0001".into(),
        request_id: request_id.into(),
        ..Default::default()
    }
}

pub fn check_call(caller: &str) -> pb::CheckRequest {
    pb::CheckRequest {
        kind: pb::EventKind::Call as i32,
        caller: caller.into(),
        callee: "+8617166604321".into(),
        ..Default::default()
    }
}
