//! The gRPC services of `interdict.v1` (Feed, Rules, Stats) with standard health and server
//! reflection, and the authorisation of every call by the client certificate's role.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{BufMut, Bytes};
use interdict_engine::{decide_with, Engine, Event, Snapshot};
use interdict_proto::v1 as pb;
use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::{http, Body, BoxFuture, Service, StdError};
use tonic::server::{Grpc, NamedService, ServerStreamingService};
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use tonic::{Request, Response, Status};

use super::log::{Encoded, EventLog};
use super::{convert, number_changes, FeedConfig, FeedStats, Grant, Role, UpdateError};
use crate::check::now_ms;

/// Events read from the log per step of a subscription.
const READ_BATCH: usize = 1024;
/// Batches (of at most [`READ_BATCH`] events) buffered per subscriber between its reader
/// and its connection.
const SUBSCRIBER_BATCHES: usize = 2;

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

fn number_of(p: Option<&pb::Party>) -> &[u8] {
    p.map_or(&[], |p| {
        if p.number.is_empty() {
            p.raw.as_bytes()
        } else {
            p.number.as_bytes()
        }
    })
}

fn any_prefix(prefixes: &[String], number: &[u8]) -> bool {
    prefixes.is_empty() || prefixes.iter().any(|p| number.starts_with(p.as_bytes()))
}

/// What a filter looks at in an event, read from the event or straight from its encoding.
#[derive(Debug, Default, PartialEq, Eq)]
struct View<'a> {
    kind: i32,
    verdict: i32,
    protocol: i32,
    caller: &'a [u8],
    callee: &'a [u8],
    /// Whether one of the event's categories is one of the filter's.
    category_hit: bool,
}

/// A protobuf field's value, as far as [`fields`] reads it.
enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

/// Reads a varint at the start of `b`: its value and what follows.
fn varint(b: &[u8]) -> Option<(u64, &[u8])> {
    let mut v = 0u64;
    for (i, byte) in b.iter().enumerate().take(10) {
        v |= u64::from(byte & 0x7f) << (7 * i);
        if *byte < 0x80 {
            return Some((v, b.get(i + 1..)?));
        }
    }
    None
}

/// The top-level fields of an encoded message, in order: calls `f(number, value)` for each;
/// false when the encoding is malformed.
fn fields<'a>(mut b: &'a [u8], mut f: impl FnMut(u64, Value<'a>)) -> bool {
    while !b.is_empty() {
        let Some((key, rest)) = varint(b) else {
            return false;
        };
        let (value, rest) = match key & 7 {
            0 => match varint(rest) {
                Some((v, rest)) => (Value::Varint(v), rest),
                None => return false,
            },
            1 => match rest.get(8..) {
                Some(rest) => (Value::Fixed, rest),
                None => return false,
            },
            2 => {
                let Some((len, rest)) = varint(rest) else {
                    return false;
                };
                let Ok(len) = usize::try_from(len) else {
                    return false;
                };
                match (rest.get(..len), rest.get(len..)) {
                    (Some(v), Some(rest)) => (Value::Bytes(v), rest),
                    _ => return false,
                }
            }
            5 => match rest.get(4..) {
                Some(rest) => (Value::Fixed, rest),
                None => return false,
            },
            _ => return false,
        };
        f(key >> 3, value);
        b = rest;
    }
    true
}

/// The number of an encoded `Party`: its normalised number, else its raw form.
fn party_number(b: &[u8]) -> Option<&[u8]> {
    let (mut raw, mut number): (&[u8], &[u8]) = (&[], &[]);
    let ok = fields(b, |field, value| match (field, value) {
        (1, Value::Bytes(v)) => raw = v,
        (2, Value::Bytes(v)) => number = v,
        _ => {}
    });
    ok.then_some(if number.is_empty() { raw } else { number })
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

    /// Whether every event passes.
    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
            && self.verdicts.is_empty()
            && self.categories.is_empty()
            && self.protocols.is_empty()
            && self.callee_prefixes.is_empty()
            && self.caller_prefixes.is_empty()
            && self.region.is_empty()
    }

    /// Whether `ev` passes.
    pub fn matches(&self, ev: &pb::DecisionEvent) -> bool {
        self.passes(&View {
            kind: ev.kind,
            verdict: ev.verdict,
            protocol: ev.protocol,
            caller: number_of(ev.caller.as_ref()),
            callee: number_of(ev.callee.as_ref()),
            category_hit: ev.categories.iter().any(|c| self.categories.contains(c)),
        })
    }

    /// Whether the encoded `DecisionEvent` `bytes` passes, read without decoding it (the
    /// same answer as [`Filter::matches`] on the decoded event); a malformed encoding
    /// passes only an empty filter.
    pub fn matches_encoded(&self, bytes: &[u8]) -> bool {
        if self.is_empty() {
            return true;
        }
        let mut v = View::default();
        let mut parties_ok = true;
        let ok = fields(bytes, |field, value| match (field, value) {
            // Enums are int32 on the wire: the truncation is prost's own.
            (4, Value::Varint(x)) => v.protocol = x as i32,
            (6, Value::Varint(x)) => v.kind = x as i32,
            (9, Value::Varint(x)) => v.verdict = x as i32,
            (7, Value::Bytes(p)) => match party_number(p) {
                Some(n) => v.caller = n,
                None => parties_ok = false,
            },
            (8, Value::Bytes(p)) => match party_number(p) {
                Some(n) => v.callee = n,
                None => parties_ok = false,
            },
            (11, Value::Bytes(c)) => {
                v.category_hit |= self.categories.iter().any(|f| f.as_bytes() == c)
            }
            _ => {}
        });
        ok && parties_ok && self.passes(&v)
    }

    fn passes(&self, v: &View<'_>) -> bool {
        if !self.region.is_empty() {
            // A regional subscriber sees only events about its own callees (not the audit
            // trail of other regions' pushes, which has no callee).
            if v.callee.is_empty() || !any_prefix(&self.region, v.callee) {
                return false;
            }
        }
        (self.kinds.is_empty() || self.kinds.contains(&v.kind))
            && (self.verdicts.is_empty() || self.verdicts.contains(&v.verdict))
            && (self.protocols.is_empty() || self.protocols.contains(&v.protocol))
            && (self.categories.is_empty() || v.category_hit)
            && any_prefix(&self.callee_prefixes, v.callee)
            && any_prefix(&self.caller_prefixes, v.caller)
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

/// What a subscription's reader hands its connection: events already encoded.
type Batch = Result<Vec<Bytes>, Status>;

async fn pump(
    log: Arc<dyn EventLog>,
    mut next: u64,
    filter: Filter,
    tx: mpsc::Sender<Batch>,
    _guard: SubscriberGuard,
) {
    let mut tail = log.watch();
    loop {
        let last = *tail.borrow_and_update();
        if next <= last {
            // Live subscribers find the newest events in memory; those behind read the store.
            let events: Vec<Encoded> = match log.recent(next, READ_BATCH) {
                Some(held) => held,
                None => {
                    let reader = log.clone();
                    let from = next;
                    match tokio::task::spawn_blocking(move || reader.read_encoded(from, READ_BATCH))
                        .await
                    {
                        Ok(Ok(events)) => events,
                        Ok(Err(e)) => {
                            let _ = tx.send(Err(Status::internal(e.to_string()))).await;
                            return;
                        }
                        Err(_) => return,
                    }
                }
            };
            if events.is_empty() {
                // Nothing at or after `next` although `last` is beyond it: cannot happen with
                // a log that keeps its newest event; move on rather than spin.
                next = last.saturating_add(1);
                continue;
            }
            let mut out = Vec::with_capacity(events.len());
            for ev in events {
                next = ev.sequence.saturating_add(1);
                if filter.matches_encoded(&ev.bytes) {
                    out.push(ev.bytes);
                }
            }
            if !out.is_empty() && tx.send(Ok(out)).await.is_err() {
                return;
            }
            continue;
        }
        tokio::select! {
            changed = tail.changed() => if changed.is_err() { return },
            () = tx.closed() => return,
        }
    }
}

/// A subscription's response: the batches of its reader, one event at a time.
pub struct Events {
    rx: mpsc::Receiver<Batch>,
    batch: std::vec::IntoIter<Bytes>,
}

impl Stream for Events {
    type Item = Result<Bytes, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(b) = self.batch.next() {
                return Poll::Ready(Some(Ok(b)));
            }
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(Ok(batch))) => self.batch = batch.into_iter(),
                Poll::Ready(Some(Err(status))) => return Poll::Ready(Some(Err(status))),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// The codec of `Feed.Subscribe`: requests are decoded, events go out as the log's bytes
/// (an encoded `DecisionEvent` each), so an event is encoded once for every subscriber.
#[derive(Debug, Clone, Copy, Default)]
pub struct SubscribeCodec;

/// Writes an encoded `DecisionEvent` as it is.
#[derive(Debug, Clone, Copy, Default)]
pub struct EncodedEncoder;

/// Decodes a `SubscribeRequest`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestDecoder;

impl Codec for SubscribeCodec {
    type Encode = Bytes;
    type Decode = pb::SubscribeRequest;
    type Encoder = EncodedEncoder;
    type Decoder = RequestDecoder;

    fn encoder(&mut self) -> EncodedEncoder {
        EncodedEncoder
    }

    fn decoder(&mut self) -> RequestDecoder {
        RequestDecoder
    }
}

impl Encoder for EncodedEncoder {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }

    fn buffer_settings(&self) -> BufferSettings {
        // Events are small: fill bigger HTTP/2 data frames than tonic's default 32 KiB.
        BufferSettings::new(64 * 1024, 64 * 1024)
    }
}

impl Decoder for RequestDecoder {
    type Item = pb::SubscribeRequest;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<pb::SubscribeRequest>, Status> {
        pb::SubscribeRequest::decode(src)
            .map(Some)
            .map_err(|e| Status::invalid_argument(e.to_string()))
    }
}

/// The Feed service (`interdict.v1.Feed`), written out rather than generated so that
/// `Subscribe` sends the log's encoded events as they are.
#[derive(Clone)]
pub struct FeedServer(pub Arc<FeedState>);

impl NamedService for FeedServer {
    const NAME: &'static str = pb::feed_server::SERVICE_NAME;
}

impl FeedServer {
    /// Authorises a subscription and starts its reader.
    fn subscribe(&self, request: Request<pb::SubscribeRequest>) -> Result<Events, Status> {
        let caller = self.0.authorise(&request, Role::Subscriber)?;
        let r = request.into_inner();
        let region = if caller.grant.role == Role::Subscriber {
            caller.grant.callee_prefixes.clone()
        } else {
            Vec::new()
        };
        let filter = Filter::new(&r, &region);
        let start = start_of(&*self.0.log, &r);
        let (tx, rx) = mpsc::channel(SUBSCRIBER_BATCHES);
        self.0.stats.subscribers.fetch_add(1, Ordering::Relaxed);
        let guard = SubscriberGuard(self.0.stats.clone());
        tokio::spawn(pump(self.0.log.clone(), start, filter, tx, guard));
        Ok(Events {
            rx,
            batch: Vec::new().into_iter(),
        })
    }
}

struct SubscribeMethod(FeedServer);

impl ServerStreamingService<pb::SubscribeRequest> for SubscribeMethod {
    type Response = Bytes;
    type ResponseStream = Events;
    type Future = BoxFuture<Response<Events>, Status>;

    fn call(&mut self, request: Request<pb::SubscribeRequest>) -> Self::Future {
        let server = self.0.clone();
        Box::pin(async move { server.subscribe(request).map(Response::new) })
    }
}

impl<B> Service<http::Request<B>> for FeedServer
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if req.uri().path() == "/interdict.v1.Feed/Subscribe" {
            let method = SubscribeMethod(self.clone());
            return Box::pin(async move {
                Ok(Grpc::new(SubscribeCodec)
                    .server_streaming(method, req)
                    .await)
            });
        }
        Box::pin(async move { Ok(Status::unimplemented("no such method").into_http()) })
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
    health.set_serving::<FeedServer>().await;
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
    // Without TCP_NODELAY on the accepted connections, a subscriber's small frames waited
    // for the previous ones to be acknowledged (Nagle): about 10 ms per event at a low rate.
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    builder
        .add_service(health_service)
        .add_service(reflection)
        .add_service(FeedServer(state.clone()))
        .add_service(pb::rules_server::RulesServer::new(RulesService(
            state.clone(),
        )))
        .add_service(pb::stats_server::StatsServer::new(StatsService(state)))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use proptest::prelude::*;

    fn party(raw: &str, number: &str) -> Option<pb::Party> {
        Some(pb::Party {
            raw: raw.into(),
            number: number.into(),
            kind: pb::PartyKind::E164 as i32,
        })
    }

    const NUMBERS: [&str; 4] = ["", "+8617000001", "+8617100002", "95588"];
    const CATEGORIES: [&str; 3] = ["impersonation", "loan", "phishing"];

    fn pick(from: &[&str], mask: u8) -> Vec<String> {
        from.iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, s)| s.to_string())
            .collect()
    }

    proptest! {
        /// The filter reads an encoded event exactly as it reads the decoded one.
        #[test]
        fn encoded_and_decoded_events_filter_alike(
            kind in 0i32..6, verdict in 0i32..4, protocol in 0i32..3,
            caller in (0usize..4, 0usize..4), callee in proptest::option::of((0usize..4, 0usize..4)),
            cats in 0u8..8, text in proptest::option::of("[a-z ]{0,20}"),
            f_kinds in proptest::collection::vec(0i32..6, 0..3),
            f_verdicts in proptest::collection::vec(0i32..4, 0..2),
            f_protocols in proptest::collection::vec(0i32..3, 0..2),
            f_cats in 0u8..8, f_callee in 0u8..16, f_caller in 0u8..16, region in 0u8..16,
        ) {
            let num = |(r, n): (usize, usize)| (NUMBERS[r], NUMBERS[n]);
            let (cr, cn) = num(caller);
            let ev = pb::DecisionEvent {
                sequence: 7,
                kind, verdict, protocol,
                caller: party(cr, cn),
                callee: callee.map(num).and_then(|(r, n)| party(r, n)),
                categories: pick(&CATEGORIES, cats),
                text,
                rule_id: "r1".into(),
                evidence: vec![pb::Evidence { kind: Some(pb::evidence::Kind::Phrase(pb::PhraseHit {
                    category: "loan".into(), phrase: "p".into(), found: "f".into(),
                    start: 1, end: 300, pattern: false,
                })) }],
                time: Some(super::convert::timestamp(1_700_000_000_123)),
                latency_ns: u64::MAX,
                ..Default::default()
            };
            let prefixes = ["+86170", "+86171", "9", "+"];
            let req = pb::SubscribeRequest {
                kinds: f_kinds, verdicts: f_verdicts, protocols: f_protocols,
                categories: pick(&CATEGORIES, f_cats),
                callee_prefixes: pick(&prefixes, f_callee),
                caller_prefixes: pick(&prefixes, f_caller),
                ..Default::default()
            };
            let filter = Filter::new(&req, &pick(&prefixes, region));
            let bytes = ev.encode_to_vec();
            prop_assert_eq!(filter.matches_encoded(&bytes), filter.matches(&ev));
        }
    }

    #[test]
    fn a_malformed_encoding_passes_only_an_empty_filter() {
        let ev = pb::DecisionEvent {
            kind: pb::EventKind::Sms as i32,
            callee: party("", "+8617100002"),
            ..Default::default()
        };
        let bytes = ev.encode_to_vec();
        let cut = bytes.get(..bytes.len() - 2).unwrap();
        let region = Filter::new(&pb::SubscribeRequest::default(), &["+86171".to_string()]);
        assert!(region.matches_encoded(&bytes));
        assert!(!region.matches_encoded(cut));
        assert!(Filter::default().matches_encoded(cut));
    }
}
