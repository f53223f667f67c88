//! `interdict tail`: a subscriber for people. Prints the feed as a readable table (time,
//! verdict, kind, category, caller → callee, the strongest evidence) or as JSON lines, and
//! on Ctrl-C says where to resume.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use interdict_proto::v1 as pb;
use pb::feed_client::FeedClient;
use tokio_stream::StreamExt;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

/// Options of `interdict tail`.
#[derive(Debug, clap::Args)]
pub struct TailArgs {
    /// The gateway's feed address (host:port).
    #[arg(long, default_value = "127.0.0.1:50051")]
    pub server: String,
    /// Connect without TLS (the gateway must be configured plaintext on loopback).
    #[arg(long)]
    pub plaintext: bool,
    /// The CA certificate that issued the gateway's certificate (PEM).
    #[arg(long, value_name = "PEM")]
    pub ca: Option<PathBuf>,
    /// This client's certificate (PEM).
    #[arg(long, value_name = "PEM")]
    pub cert: Option<PathBuf>,
    /// This client's private key (PEM).
    #[arg(long, value_name = "PEM")]
    pub key: Option<PathBuf>,
    /// The name in the gateway's certificate.
    #[arg(long, default_value = "localhost")]
    pub domain: String,
    /// Resume from this sequence number (last seen + 1); default: live only.
    #[arg(long, value_name = "SEQ")]
    pub from: Option<u64>,
    /// Start from the oldest retained event.
    #[arg(long, conflicts_with = "from")]
    pub oldest: bool,
    /// Only these kinds (call, sms, victim-at-risk, dissuasion-sent, shadow-difference, rule-change).
    #[arg(long, value_delimiter = ',')]
    pub kind: Vec<String>,
    /// Only these verdicts (block, warn, pass).
    #[arg(long, value_delimiter = ',')]
    pub verdict: Vec<String>,
    /// Only these categories.
    #[arg(long, value_delimiter = ',')]
    pub category: Vec<String>,
    /// Only these protocols (sip, smpp).
    #[arg(long, value_delimiter = ',')]
    pub protocol: Vec<String>,
    /// Only callees starting with one of these.
    #[arg(long, value_delimiter = ',')]
    pub callee_prefix: Vec<String>,
    /// Only callers starting with one of these.
    #[arg(long, value_delimiter = ',')]
    pub caller_prefix: Vec<String>,
    /// JSON lines instead of a table.
    #[arg(long)]
    pub json: bool,
}

fn enum_values<E>(names: &[String], parse: impl Fn(&str) -> Option<E>) -> Result<Vec<i32>, String>
where
    E: Into<i32>,
{
    names
        .iter()
        .map(|n| {
            let upper = n.trim().to_ascii_uppercase().replace('-', "_");
            parse(&upper)
                .map(Into::into)
                .ok_or_else(|| format!("unknown value {n:?}"))
        })
        .collect()
}

/// The subscription `args` ask for.
pub fn request(args: &TailArgs) -> Result<pb::SubscribeRequest, String> {
    let (start, from_sequence) = match (args.from, args.oldest) {
        (Some(seq), _) => (pb::StartFrom::Sequence, seq.max(1)),
        (None, true) => (pb::StartFrom::Oldest, 0),
        (None, false) => (pb::StartFrom::Live, 0),
    };
    Ok(pb::SubscribeRequest {
        start: start as i32,
        from_sequence,
        kinds: enum_values(&args.kind, |s| {
            pb::EventKind::from_str_name(&format!("EVENT_KIND_{s}"))
        })?,
        verdicts: enum_values(&args.verdict, |s| {
            pb::Verdict::from_str_name(&format!("VERDICT_{s}"))
        })?,
        categories: args.category.clone(),
        protocols: enum_values(&args.protocol, |s| {
            pb::Protocol::from_str_name(&format!("PROTOCOL_{s}"))
        })?,
        callee_prefixes: args.callee_prefix.clone(),
        caller_prefixes: args.caller_prefix.clone(),
    })
}

fn short(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix)
        .unwrap_or(name)
        .to_ascii_lowercase()
        .replace('_', "-")
}

fn party(p: Option<&pb::Party>) -> String {
    match p {
        Some(p) if !p.number.is_empty() => p.number.clone(),
        Some(p) => p.raw.clone(),
        None => String::new(),
    }
}

/// The strongest evidence of an event, in words.
pub fn strongest(ev: &pb::DecisionEvent) -> String {
    use pb::evidence::Kind;
    if let Some(c) = &ev.rule_change {
        return format!(
            "{} by {}: +{} -{} in {} (case {}, {})",
            c.role,
            c.actor,
            c.added.len(),
            c.removed.len(),
            c.list,
            c.case_id,
            c.reason
        );
    }
    match ev.evidence.first().and_then(|e| e.kind.as_ref()) {
        Some(Kind::ListHit(h)) => format!("{} on {} ({})", h.number, h.list, h.source),
        Some(Kind::Phrase(p)) => format!("\"{}\" [{}..{}]", p.found, p.start, p.end),
        Some(Kind::Contact(c)) => format!("{} {} ({})", c.kind, c.value, c.matched),
        Some(Kind::Behaviour(b)) => format!("{} {} > {}", b.detector, b.observed, b.threshold),
        Some(Kind::Spoofing(s)) => format!("{} on international ingress", s.caller),
        Some(Kind::Campaign(c)) => format!(
            "campaign {}: {} recipients, {} senders in {} s",
            c.template, c.recipients, c.senders, c.window_seconds
        ),
        Some(Kind::Unparseable(u)) => format!("unreadable {}", u.raw),
        None => String::new(),
    }
}

fn time_of(ev: &pb::DecisionEvent) -> String {
    ev.time
        .as_ref()
        .and_then(|t| jiff::Timestamp::new(t.seconds, t.nanos).ok())
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// One event as a JSON object.
pub fn json(ev: &pb::DecisionEvent) -> serde_json::Value {
    let verdict = pb::Verdict::try_from(ev.verdict).unwrap_or(pb::Verdict::Unspecified);
    let kind = pb::EventKind::try_from(ev.kind).unwrap_or(pb::EventKind::Unspecified);
    serde_json::json!({
        "sequence": ev.sequence,
        "time": time_of(ev),
        "gateway": ev.gateway_id,
        "kind": short(kind.as_str_name(), "EVENT_KIND_"),
        "verdict": short(verdict.as_str_name(), "VERDICT_"),
        "rule": ev.rule_id,
        "categories": ev.categories,
        "caller": party(ev.caller.as_ref()),
        "callee": party(ev.callee.as_ref()),
        "message_id": ev.message_id,
        "evidence": strongest(ev),
        "text": ev.text,
    })
}

/// One event as a table row.
pub fn row(ev: &pb::DecisionEvent) -> String {
    let verdict = pb::Verdict::try_from(ev.verdict).unwrap_or(pb::Verdict::Unspecified);
    let kind = pb::EventKind::try_from(ev.kind).unwrap_or(pb::EventKind::Unspecified);
    format!(
        "{:>8} {:<24} {:<11} {:<6} {:<18} {:>16} → {:<16} {}",
        ev.sequence,
        time_of(ev),
        short(kind.as_str_name(), "EVENT_KIND_"),
        short(verdict.as_str_name(), "VERDICT_"),
        ev.categories.first().map(String::as_str).unwrap_or("-"),
        party(ev.caller.as_ref()),
        party(ev.callee.as_ref()),
        strongest(ev)
    )
}

async fn connect(args: &TailArgs) -> Result<Channel, String> {
    let scheme = if args.plaintext { "http" } else { "https" };
    let mut endpoint = Channel::from_shared(format!("{scheme}://{}", args.server))
        .map_err(|e| format!("--server: {e}"))?;
    if !args.plaintext {
        let read = |p: &Option<PathBuf>, what: &str| -> Result<Vec<u8>, String> {
            let p = p
                .as_ref()
                .ok_or_else(|| format!("--{what} is required (or --plaintext)"))?;
            std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))
        };
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(read(&args.ca, "ca")?))
            .identity(Identity::from_pem(
                read(&args.cert, "cert")?,
                read(&args.key, "key")?,
            ))
            .domain_name(args.domain.clone());
        endpoint = endpoint.tls_config(tls).map_err(|e| e.to_string())?;
    }
    endpoint
        .connect()
        .await
        .map_err(|e| format!("{}: {e}", args.server))
}

async fn tail(args: &TailArgs) -> Result<(), String> {
    let req = request(args)?;
    let channel = connect(args).await?;
    let mut stream = FeedClient::new(channel)
        .subscribe(req)
        .await
        .map_err(|s| format!("{}: {}", s.code(), s.message()))?
        .into_inner();
    let mut next = args.from;
    let stdout = std::io::stdout();
    if !args.json {
        println!(
            "{:>8} {:<24} {:<11} {:<6} {:<18} {:>16} → {:<16} evidence",
            "seq", "time", "kind", "verdict", "category", "caller", "callee"
        );
    }
    loop {
        tokio::select! {
            item = stream.next() => match item {
                Some(Ok(ev)) => {
                    next = Some(ev.sequence.saturating_add(1));
                    let line = if args.json { json(&ev).to_string() } else { row(&ev) };
                    let mut out = stdout.lock();
                    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
                        break;
                    }
                }
                Some(Err(s)) => {
                    resume_hint(next);
                    return Err(format!("{}: {}", s.code(), s.message()));
                }
                None => break,
            },
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    resume_hint(next);
    Ok(())
}

fn resume_hint(next: Option<u64>) {
    match next {
        Some(seq) => eprintln!("interdict tail: resume with --from {seq}"),
        None => eprintln!("interdict tail: no event received"),
    }
}

/// Runs `interdict tail`; exit status 0 on Ctrl-C or end of stream, 1 on failure.
pub fn run(args: &TailArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("interdict tail: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(tail(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("interdict tail: {e}");
            ExitCode::from(1)
        }
    }
}
