//! The gRPC services of `interdict.v1` (Feed, Rules, Stats) with standard health and server
//! reflection, and the authorisation of every call by the client certificate's role.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use interdict_engine::{decide_with, Engine, Event, Snapshot};
use interdict_proto::v1 as pb;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::Stream;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use tonic::{Request, Response, Status};

use super::log::EventLog;
use super::{convert, number_changes, FeedConfig, FeedStats, Grant, Role, UpdateError};
use crate::check::now_ms;

/// Events read from the log per step of a subscription.
const READ_BATCH: usize = 1024;
/// Events buffered per subscriber between its reader and its connection.
const SUBSCRIBER_BUFFER: usize = 1024;

/// Who is calling, and what they may do.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The certificate identity (or `loopback` in plaintext).
    pub identity: String,
    /// Their grant.
    pub grant: Grant,
}

/// How clients are identified.
#[derive(Debug, Clone)]
pub enum Auth {
    /// Plaintext on loopback: everyone is `loopback` with this role.
    Plaintext(Role),
    /// Mutual TLS: the certificate's DNS/URI SANs, then its subject CN, are looked up here.
    Certificates(Arc<BTreeMap<String, Grant>>),
}

/// The state the services share.
pub struct FeedState {
    /// The durable log.
    pub log: Arc<dyn EventLog>,
    /// The engine numbers are pushed to and checks are decided by.
    pub engine: Arc<Engine>,
    /// This gateway's id (in audit events).
    pub gateway_id: String,
    /// The feed's counters.
    pub stats: Arc<FeedStats>,
    /// How clients are identified.
    pub auth: Auth,
    /// Serialises number updates (durable order = applied order), holding the engine's
    /// snapshot as the feed last left it: a different one means the rule pack was reloaded
    /// and the pushed numbers must be applied again (see [`keep_pushes_after_reload`]).
    pub updates: tokio::sync::Mutex<Option<Arc<Snapshot>>>,
}

/// The identities a DER certificate names: DNS and URI SANs, then the subject CNs.
pub fn certificate_identities(der: &[u8]) -> Vec<String> {
    use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(s) | GeneralName::URI(s) | GeneralName::RFC822Name(s) => {
                    out.push((*s).to_string())
                }
                _ => {}
            }
        }
    }
    for cn in cert.subject().iter_common_name() {
        if let Ok(s) = cn.as_str() {
            out.push(s.to_string());
        }
    }
    out
}

impl FeedState {
    fn authorise<T>(&self, req: &Request<T>, needed: Role) -> Result<Caller, Status> {
        let caller = match &self.auth {
            Auth::Plaintext(role) => Caller {
                identity: "loopback".into(),
                grant: Grant {
                    role: *role,
                    callee_prefixes: Vec::new(),
                },
            },
            Auth::Certificates(roles) => {
                let certs = req
                    .peer_certs()
                    .ok_or_else(|| Status::unauthenticated("a client certificate is required"))?;
                let leaf = certs
                    .first()
                    .ok_or_else(|| Status::unauthenticated("a client certificate is required"))?;
                let ids = certificate_identities(leaf.as_ref());
                ids.iter()
                    .find_map(|id| {
                        roles.get(id).map(|g| Caller {
                            identity: id.clone(),
                            grant: g.clone(),
                        })
                    })
                    .ok_or_else(|| {
                        Status::permission_denied(format!(
                            "certificate {:?} has no role on this gateway",
                            ids.first().map(String::as_str).unwrap_or("")
                        ))
                    })?
            }
        };
        if caller.grant.role < needed {
            return Err(Status::permission_denied(format!(
                "{} is {}; this needs {}",
                caller.identity,
                caller.grant.role.as_str(),
                needed.as_str()
            )));
        }
        Ok(caller)
    }
}

/// Which events a subscription receives.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    kinds: Vec<i32>,
    verdicts: Vec<i32>,
    categories: Vec<String>,
    protocols: Vec<i32>,
    callee_prefixes: Vec<String>,
    caller_prefixes: Vec<String>,
    /// The subscriber's region (from its grant): always applied, to every kind of event.
    region: Vec<String>,
}

fn number_of(p: Option<&pb::Party>) -> &str {
    p.map_or("", |p| {
        if p.number.is_empty() {
            &p.raw
        } else {
            &p.number
        }
    })
}

fn any_prefix(prefixes: &[String], number: &str) -> bool {
    prefixes.is_empty() || prefixes.iter().any(|p| number.starts_with(p.as_str()))
}

impl Filter {
    /// The filter of a request, restricted to `region` (callee prefixes) when not empty.
    pub fn new(r: &pb::SubscribeRequest, region: &[String]) -> Filter {
        Filter {
            kinds: r.kinds.clone(),
            verdicts: r.verdicts.clone(),
            categories: r.categories.clone(),
            protocols: r.protocols.clone(),
            callee_prefixes: r.callee_prefixes.clone(),
            caller_prefixes: r.caller_prefixes.clone(),
            region: region.to_vec(),
        }
    }

    /// Whether `ev` passes.
    pub fn matches(&self, ev: &pb::DecisionEvent) -> bool {
        let callee = number_of(ev.callee.as_ref());
        if !self.region.is_empty() {
            // A regional subscriber sees only events about its own callees (not the audit
            // trail of other regions' pushes, which has no callee).
            if callee.is_empty() || !any_prefix(&self.region, callee) {
                return false;
            }
        }
        (self.kinds.is_empty() || self.kinds.contains(&ev.kind))
            && (self.verdicts.is_empty() || self.verdicts.contains(&ev.verdict))
            && (self.protocols.is_empty() || self.protocols.contains(&ev.protocol))
            && (self.categories.is_empty()
                || ev.categories.iter().any(|c| self.categories.contains(c)))
            && any_prefix(&self.callee_prefixes, callee)
            && any_prefix(&self.caller_prefixes, number_of(ev.caller.as_ref()))
    }
}

/// The first sequence number a subscription reads.
fn start_of(log: &dyn EventLog, r: &pb::SubscribeRequest) -> u64 {
    let first = log.first_sequence();
    match pb::StartFrom::try_from(r.start).unwrap_or(pb::StartFrom::Sequence) {
        pb::StartFrom::Live => log.last_sequence().saturating_add(1),
        pb::StartFrom::Oldest => first,
        pb::StartFrom::Sequence if r.from_sequence == 0 => first,
        pb::StartFrom::Sequence => r.from_sequence.max(first),
    }
}

struct SubscriberGuard(Arc<FeedStats>);
impl Drop for SubscriberGuard {
    fn drop(&mut self) {
        self.0.subscribers.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn pump(
    log: Arc<dyn EventLog>,
    mut next: u64,
    filter: Filter,
    tx: mpsc::Sender<Result<pb::DecisionEvent, Status>>,
    _guard: SubscriberGuard,
) {
    let mut tail = log.watch();
    loop {
        let last = *tail.borrow_and_update();
        if next <= last {
            let reader = log.clone();
            let from = next;
            let batch = tokio::task::spawn_blocking(move || reader.read(from, READ_BATCH)).await;
            let events = match batch {
                Ok(Ok(events)) => events,
                Ok(Err(e)) => {
                    let _ = tx.send(Err(Status::internal(e.to_string()))).await;
                    return;
                }
                Err(_) => return,
            };
            if events.is_empty() {
                // Nothing at or after `next` although `last` is beyond it: cannot happen with
                // a log that keeps its newest event; move on rather than spin.
                next = last.saturating_add(1);
                continue;
            }
            for ev in events {
                next = ev.sequence.saturating_add(1);
                if filter.matches(&ev) && tx.send(Ok(ev)).await.is_err() {
                    return;
                }
            }
            continue;
        }
        tokio::select! {
            changed = tail.changed() => if changed.is_err() { return },
            () = tx.closed() => return,
        }
    }
}

/// The Feed service.
#[derive(Clone)]
pub struct FeedService(pub Arc<FeedState>);

#[tonic::async_trait]
impl pb::feed_server::Feed for FeedService {
    type SubscribeStream =
        Pin<Box<dyn Stream<Item = Result<pb::DecisionEvent, Status>> + Send + 'static>>;

    async fn subscribe(
        &self,
        request: Request<pb::SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let caller = self.0.authorise(&request, Role::Subscriber)?;
        let r = request.into_inner();
        let region = if caller.grant.role == Role::Subscriber {
            caller.grant.callee_prefixes.clone()
        } else {
            Vec::new()
        };
        let filter = Filter::new(&r, &region);
        let start = start_of(&*self.0.log, &r);
        let (tx, rx) = mpsc::channel(SUBSCRIBER_BUFFER);
        self.0.stats.subscribers.fetch_add(1, Ordering::Relaxed);
        let guard = SubscriberGuard(self.0.stats.clone());
        tokio::spawn(pump(self.0.log.clone(), start, filter, tx, guard));
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

/// The Rules service.
#[derive(Clone)]
pub struct RulesService(pub Arc<FeedState>);

#[tonic::async_trait]
impl pb::rules_server::Rules for RulesService {
    async fn update_numbers(
        &self,
        request: Request<pb::UpdateNumbersRequest>,
    ) -> Result<Response<pb::UpdateNumbersResponse>, Status> {
        // An analyst may allow a number wrongly blocked (the remediation RFC 8688's
        // Call-Info points to); every other change needs a rules-admin.
        let snapshot = self.0.engine.snapshot();
        let allows = {
            let r = request.get_ref();
            let lists = snapshot.lists();
            r.remove.is_empty()
                && lists
                    .list_id(&r.list)
                    .and_then(|id| lists.meta(id))
                    .is_some_and(|m| m.action == interdict_engine::lists::Action::Allow)
        };
        let needed = if allows {
            Role::Analyst
        } else {
            Role::RulesAdmin
        };
        let caller = self.0.authorise(&request, needed)?;
        let update = request.into_inner();
        if update.reason.trim().is_empty() {
            return Err(Status::invalid_argument("a reason is required"));
        }
        if !update.add.is_empty() && update.case_id.trim().is_empty() {
            return Err(Status::invalid_argument(
                "a case id is required to add numbers",
            ));
        }
        if update.add.is_empty() && update.remove.is_empty() {
            return Err(Status::invalid_argument("nothing to add or remove"));
        }
        let mut known = self.0.updates.lock().await;
        let changes = number_changes(&self.0.engine.snapshot(), &update).map_err(|e| match e {
            UpdateError::Invalid(m) => Status::invalid_argument(m),
            UpdateError::Engine(m) => Status::internal(m),
        })?;
        let now = now_ms();
        let audit = pb::DecisionEvent {
            time: Some(convert::timestamp(now)),
            gateway_id: self.0.gateway_id.clone(),
            kind: pb::EventKind::RuleChange as i32,
            rule_change: Some(pb::RuleChange {
                actor: caller.identity.clone(),
                role: caller.grant.role.as_str().to_string(),
                list: update.list.clone(),
                added: update.add.clone(),
                removed: update.remove.clone(),
                category: update.category.clone(),
                action: update.action.clone(),
                reason: update.reason.clone(),
                case_id: update.case_id.clone(),
                expires_at: update.expires_at,
                request_id: update.request_id.clone(),
                rules_version: 0,
            }),
            ..Default::default()
        };
        let log = self.0.log.clone();
        let stored = update.clone();
        let applied = tokio::task::spawn_blocking(move || log.record_update(&stored, audit))
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(|e| Status::unavailable(e.to_string()))?;
        if !applied.duplicate {
            self.0
                .engine
                .apply_number_changes(&changes)
                .map_err(|e| Status::internal(e.to_string()))?;
            *known = Some(self.0.engine.snapshot());
            tracing::info!(
                actor = %caller.identity, list = %update.list, added = update.add.len(),
                removed = update.remove.len(), case = %update.case_id,
                version = applied.rules_version, "numbers pushed"
            );
        }
        Ok(Response::new(pb::UpdateNumbersResponse {
            rules_version: applied.rules_version,
            audit_sequence: applied.audit_sequence,
            duplicate: applied.duplicate,
        }))
    }

    async fn version(
        &self,
        request: Request<pb::VersionRequest>,
    ) -> Result<Response<pb::VersionResponse>, Status> {
        self.0.authorise(&request, Role::Subscriber)?;
        Ok(Response::new(pb::VersionResponse {
            rules_version: self.0.log.rules_version(),
            pack_version: self.0.engine.snapshot().version().to_string(),
        }))
    }

    async fn check(
        &self,
        request: Request<pb::CheckRequest>,
    ) -> Result<Response<pb::CheckResponse>, Status> {
        self.0.authorise(&request, Role::Analyst)?;
        let r = request.into_inner();
        let now = now_ms();
        let ingress = match pb::Ingress::try_from(r.ingress) {
            Ok(pb::Ingress::International) => interdict_engine::Ingress::International,
            _ => interdict_engine::Ingress::Domestic,
        };
        let kind = pb::EventKind::try_from(r.kind).unwrap_or(pb::EventKind::Unspecified);
        let ev = match kind {
            pb::EventKind::Call => Event::call(&r.caller, &r.callee, now),
            pb::EventKind::Sms => Event::sms(&r.caller, &r.callee, &r.text, now),
            _ => return Err(Status::invalid_argument("kind must be CALL or SMS")),
        }
        .with_ingress(ingress);
        // Behaviour detectors are not fed: a dry run changes nothing.
        let snapshot = self.0.engine.snapshot();
        let decision = decide_with(&snapshot, None, &ev);
        let mut out = convert::decision_event(&decision, kind, now);
        out.gateway_id = self.0.gateway_id.clone();
        out.ingress = convert::ingress(ingress) as i32;
        out.pack_version = snapshot.version().to_string();
        Ok(Response::new(pb::CheckResponse {
            decision: Some(out),
        }))
    }
}

/// The Stats service.
#[derive(Clone)]
pub struct StatsService(pub Arc<FeedState>);

fn counters(m: &BTreeMap<String, u64>) -> Vec<pb::Counter> {
    m.iter()
        .map(|(k, v)| pb::Counter {
            key: k.clone(),
            count: *v,
        })
        .collect()
}

#[tonic::async_trait]
impl pb::stats_server::Stats for StatsService {
    async fn get(
        &self,
        request: Request<pb::StatsRequest>,
    ) -> Result<Response<pb::StatsResponse>, Status> {
        self.0.authorise(&request, Role::Analyst)?;
        let s = &self.0.stats;
        let c = s.counts.lock().unwrap_or_else(|p| p.into_inner());
        Ok(Response::new(pb::StatsResponse {
            by_verdict: counters(&c.by_verdict),
            by_protocol: counters(&c.by_protocol),
            by_rule: counters(&c.by_rule),
            dropped: s.dropped.load(Ordering::Relaxed),
            first_sequence: self.0.log.first_sequence(),
            last_sequence: self.0.log.last_sequence(),
            subscribers: s.subscribers.load(Ordering::Relaxed),
        }))
    }
}

/// Applies the pushed numbers again whenever the engine's snapshot was replaced by someone
/// else (a rule-pack reload swaps in the pack's own lists): checked every `every`, until the
/// services are gone.
pub async fn keep_pushes_after_reload(state: Arc<FeedState>, every: std::time::Duration) {
    let weak = Arc::downgrade(&state);
    drop(state);
    loop {
        tokio::time::sleep(every).await;
        let Some(state) = weak.upgrade() else {
            return;
        };
        let current = state.engine.snapshot();
        let mut known = state.updates.lock().await;
        if known.as_ref().is_some_and(|k| Arc::ptr_eq(k, &current)) {
            continue;
        }
        let (log, engine) = (state.log.clone(), state.engine.clone());
        match tokio::task::spawn_blocking(move || super::restore(&*log, &engine)).await {
            Ok(Ok(n)) => tracing::info!(updates = n, "pushed numbers applied to the reloaded pack"),
            Ok(Err(e)) => tracing::error!(error = %e, "pushed numbers not applied after a reload"),
            Err(e) => tracing::error!(error = %e, "pushed numbers not applied after a reload"),
        }
        *known = Some(state.engine.snapshot());
    }
}

/// A feed configuration that cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Plaintext asked for on an address that is not loopback.
    #[error("feed.plaintext is only allowed on a loopback address, not {0}")]
    PlaintextNotLoopback(std::net::SocketAddr),
    /// TLS files missing from the configuration.
    #[error("feed: TLS needs feed.cert, feed.key and feed.client_ca (or feed.plaintext = true on loopback)")]
    MissingTls,
    /// A TLS file cannot be read.
    #[error("feed: {0}: {1}")]
    Read(std::path::PathBuf, std::io::Error),
    /// The server failed.
    #[error("feed server: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// The reflection service could not be built.
    #[error("feed reflection: {0}")]
    Reflection(String),
}

/// How clients are identified under `cfg`, and the TLS settings (None: plaintext).
pub fn auth_of(cfg: &FeedConfig) -> Result<(Auth, Option<ServerTlsConfig>), ServeError> {
    if cfg.plaintext {
        if !cfg.listen.ip().is_loopback() {
            return Err(ServeError::PlaintextNotLoopback(cfg.listen));
        }
        return Ok((Auth::Plaintext(cfg.plaintext_role), None));
    }
    let (Some(cert), Some(key), Some(ca)) = (&cfg.cert, &cfg.key, &cfg.client_ca) else {
        return Err(ServeError::MissingTls);
    };
    let read =
        |p: &std::path::PathBuf| std::fs::read(p).map_err(|e| ServeError::Read(p.clone(), e));
    let tls = ServerTlsConfig::new()
        .identity(Identity::from_pem(read(cert)?, read(key)?))
        .client_ca_root(Certificate::from_pem(read(ca)?))
        .client_auth_optional(false);
    Ok((Auth::Certificates(Arc::new(cfg.roles.clone())), Some(tls)))
}

/// Serves Feed, Rules, Stats, health and reflection on `listener` until `shutdown` resolves.
pub async fn serve(
    state: Arc<FeedState>,
    tls: Option<ServerTlsConfig>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<pb::feed_server::FeedServer<FeedService>>()
        .await;
    health
        .set_serving::<pb::rules_server::RulesServer<RulesService>>()
        .await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(interdict_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| ServeError::Reflection(e.to_string()))?;
    let mut builder = Server::builder();
    if let Some(tls) = tls {
        builder = builder.tls_config(tls)?;
    }
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    builder
        .add_service(health_service)
        .add_service(reflection)
        .add_service(pb::feed_server::FeedServer::new(FeedService(state.clone())))
        .add_service(pb::rules_server::RulesServer::new(RulesService(
            state.clone(),
        )))
        .add_service(pb::stats_server::StatsServer::new(StatsService(state)))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await?;
    Ok(())
}
