//! `interdict`: the Interdict gateway's command line (a thin shell over the library).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use interdict::{check, config::Config, serve};

/// Interdict: an inline anti-fraud gateway for SIP calls and SMS.
#[derive(Parser)]
#[command(name = "interdict", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the inline gateway (the SIP proxy) with a configuration file.
    ///
    /// Without --config every key has its default (loopback listeners, rules in ./rules).
    /// SIGHUP reloads the rule pack, SIGUSR2 promotes the shadow pack, SIGTERM drains.
    Serve {
        /// TOML configuration (see interdict.example.toml).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Decide events with a rule pack and print one JSON decision per input.
    ///
    /// With --jsonl, each input line is an event object
    /// {"kind":"sms"|"call","caller":…,"callee":…,"text":…,"ingress":"domestic"|"international","ts":RFC 3339};
    /// otherwise each FILE holds one raw SIP message or one SMPP PDU (binary or hex), read
    /// by the same ingest layer as the inline proxies.
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
    /// Follow the police feed: a live table (or JSON lines) of blocks and warnings.
    ///
    /// Ctrl-C stops and prints the sequence number to resume from with --from.
    Tail(Box<interdict::feed::tail::TailArgs>),
    /// The SMSC simulator the SMPP tests and demos use (loopback only by default).
    SmscSim(Box<interdict::smsc_sim::SimArgs>),
    /// Load generators.
    Load {
        #[command(subcommand)]
        command: LoadCommand,
    },
    /// Rule pack commands.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
}

#[derive(Subcommand)]
enum LoadCommand {
    /// Bind SMPP sessions to a target and submit a mix of messages; report the rate,
    /// the responses by status and the latency percentiles.
    Smpp(Box<interdict::load_smpp::LoadSmppArgs>),
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
        Command::Serve { config } => {
            let cfg = match config {
                Some(path) => match Config::load(&path) {
                    Ok(cfg) => cfg,
                    Err(e) => {
                        eprintln!("interdict serve: {e}");
                        return ExitCode::from(2);
                    }
                },
                None => Config::default(),
            };
            serve::run(cfg)
        }
        Command::Check {
            rules,
            jsonl,
            files,
            ingress,
        } => check::run(&rules, jsonl.as_deref(), &files, ingress.into()),
        Command::Tail(args) => interdict::feed::tail::run(&args),
        Command::SmscSim(args) => interdict::smsc_sim::run(&args),
        Command::Load {
            command: LoadCommand::Smpp(args),
        } => interdict::load_smpp::run(&args),
        Command::Rules {
            command: RulesCommand::Validate { dir },
        } => check::validate(&dir),
    }
}
