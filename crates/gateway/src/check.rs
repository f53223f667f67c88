//! `interdict check` and `interdict rules validate`: decide inputs offline with
//! a rule pack, exactly as the inline gateway would, and print the decisions.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use interdict_engine::{Decision, Engine, Ingress};
use serde::Serialize;

use std::sync::Arc;
use std::time::Duration;

use crate::decide::Decider;
use crate::metrics::Metrics;
use crate::{jsonl, raw};

/// Ingress class given on the command line for raw files.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum IngressArg {
    /// From a domestic interconnect.
    Domestic,
    /// From an international trunk.
    International,
}

impl From<IngressArg> for Ingress {
    fn from(arg: IngressArg) -> Ingress {
        match arg {
            IngressArg::Domestic => Ingress::Domestic,
            IngressArg::International => Ingress::International,
        }
    }
}

/// One output line: where the input came from, then the decision's fields.
#[derive(Serialize)]
struct DecisionLine<'a> {
    input: &'a str,
    #[serde(flatten)]
    decision: &'a Decision,
}

/// One output line for an input that could not be read or decided.
#[derive(Serialize)]
struct ErrorLine<'a> {
    input: &'a str,
    error: &'a str,
}

/// Writes decisions and errors as JSON lines, counting the errors.
pub struct Output<W: Write> {
    out: W,
    /// Inputs that could not be read or decided.
    pub errors: usize,
}

impl<W: Write> Output<W> {
    /// Prints the decision taken on `input`.
    pub fn decision(&mut self, input: &str, decision: &Decision) -> io::Result<()> {
        self.line(&DecisionLine { input, decision })
    }

    /// Prints why `input` could not be decided; the run goes on.
    pub fn error(&mut self, input: &str, error: &str) -> io::Result<()> {
        self.errors += 1;
        eprintln!("interdict check: {input}: {error}");
        self.line(&ErrorLine { input, error })
    }

    fn line<T: Serialize>(&mut self, value: &T) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, value)?;
        self.out.write_all(b"\n")
    }
}

/// Milliseconds since the Unix epoch now: the time of inputs that carry none.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn load_engine(rules: &Path) -> Result<Engine, ExitCode> {
    match crate::reload::load(rules, crate::reload::default_cache_dir().as_deref()) {
        Ok(snapshot) => Ok(Engine::new(snapshot)),
        Err(errors) => {
            eprintln!(
                "interdict: rule pack {} is invalid:\n{errors}",
                rules.display()
            );
            Err(ExitCode::from(2))
        }
    }
}

/// Runs `interdict check`; exit status 0 when every input was decided, 1 when
/// some input could not be, 2 when the rule pack itself is unusable.
pub fn run(rules: &Path, jsonl: Option<&str>, files: &[PathBuf], ingress: Ingress) -> ExitCode {
    let engine = match load_engine(rules) {
        Ok(engine) => Arc::new(engine),
        Err(code) => return code,
    };
    // The same decider as the inline proxies (every identity, one policy); offline there is
    // no deadline to fail open on.
    let decider = Decider::new(
        engine.clone(),
        Duration::from_secs(3600),
        false,
        Arc::new(Metrics::new()),
    );
    let mut output = Output {
        out: BufWriter::new(io::stdout().lock()),
        errors: 0,
    };
    let result = match jsonl {
        Some(source) => jsonl::check(&engine, source, &mut output),
        None => raw::check(&decider, files, ingress, &mut output),
    };
    let flushed = result.and_then(|()| output.out.flush());
    if let Err(e) = flushed {
        eprintln!("interdict check: writing output: {e}");
        return ExitCode::from(2);
    }
    if output.errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Runs `interdict rules validate`: exit status 0 and a summary when the pack
/// compiles, 1 and every problem with its file and line otherwise.
pub fn validate(dir: &Path) -> ExitCode {
    match crate::reload::load(dir, crate::reload::default_cache_dir().as_deref()) {
        Ok(snapshot) => {
            println!(
                "{}: ok: pack {} {}, {} categories, {} rules, {} lure domains",
                dir.display(),
                snapshot.name(),
                snapshot.version(),
                snapshot.categories().len(),
                snapshot.rules().len(),
                snapshot.lure_domain_count()
            );
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{errors}");
            ExitCode::from(1)
        }
    }
}
