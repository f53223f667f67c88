#![cfg_attr(not(test), deny(clippy::indexing_slicing))]
//! `interdict`: the Interdict gateway's command-line entry point.
//!
//! Today it offers `check` (decide events, raw SIP messages or SMPP PDUs with a
//! rule pack and print one JSON decision per input) and `rules validate`
//! (report every problem of a rule pack with its file and line). The inline
//! proxies (`serve`), `load`, `tail` and `demo` follow in later issues.

mod check;
mod jsonl;
mod raw;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Interdict: an inline anti-fraud gateway for SIP calls and SMS.
#[derive(Parser)]
#[command(name = "interdict", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Decide events with a rule pack and print one JSON decision per input.
    ///
    /// With --jsonl, each input line is an event object
    /// {"kind":"sms"|"call","caller":…,"callee":…,"text":…,"ingress":"domestic"|"international","ts":RFC 3339};
    /// otherwise each FILE holds one raw SIP message or one SMPP PDU (binary or hex).
    Check {
        /// Rule pack directory.
        #[arg(long, default_value = "rules")]
        rules: PathBuf,
        /// Read JSON-lines events from this file (`-` for standard input).
        #[arg(long, value_name = "FILE|-", conflicts_with = "files")]
        jsonl: Option<String>,
        /// Files each holding one raw SIP message or one SMPP PDU.
        #[arg(value_name = "FILE", required_unless_present = "jsonl")]
        files: Vec<PathBuf>,
        /// Ingress class assumed for raw SIP/SMPP files.
        #[arg(long, value_enum, default_value = "domestic")]
        ingress: check::IngressArg,
    },
    /// Rule pack commands.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Load and compile a rule pack; report every problem with file and line.
    Validate {
        /// Rule pack directory.
        #[arg(default_value = "rules")]
        dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check {
            rules,
            jsonl,
            files,
            ingress,
        } => check::run(&rules, jsonl.as_deref(), &files, ingress.into()),
        Command::Rules {
            command: RulesCommand::Validate { dir },
        } => check::validate(&dir),
    }
}
