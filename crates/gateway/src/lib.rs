#![cfg_attr(not(test), deny(clippy::indexing_slicing))]
//! The Interdict gateway: the inline SIP proxy (`interdict serve`), the offline
//! `interdict check`, and the parts every proxy and the police feed share.
//!
//! - [`config`]: the TOML configuration, every key with a default (loopback only).
//! - [`ingest`]: protocol bytes → what the engine decides (the one place both the proxies
//!   and `check` read messages, so they cannot disagree).
//! - [`decide`]: one decision per message over every identity, with the deadline, the
//!   fail-open policy and the shadow pack.
//! - [`record`]: decision records and the bounded queue that never blocks the inline path.
//! - [`metrics`]: Prometheus metrics, `/healthz`, `/readyz`.
//! - [`reload`]: rule pack loads with the compiled-database cache, reloads (SIGHUP, a
//!   watched directory).
//! - [`sip`]: the stateless SIP proxy and its sockets.
//! - [`smpp`]: the transparent SMPP proxy (binds relayed, every text decided whole) and
//!   dissuasion SMS.
//! - [`feed`]: the police centre's gRPC service: the durable decision log, the feed, number
//!   pushes, dry-run checks, stats, mutual TLS with roles.
//! - [`serve`]: the process: listeners, signals, drain.
//! - [`smpp_wire`]: SMPP framing over tokio streams (whole PDUs in, batched PDUs out).
//! - [`load_smpp`]: `interdict load smpp`, the SMPP load generator.
//! - [`smsc_sim`]: the SMSC simulator (`interdict smsc-sim`) the SMPP tests and demos use.
//! - [`check`]: the offline tool.

pub mod check;
pub mod config;
pub mod decide;
pub mod feed;
pub mod ingest;
mod jsonl;
pub mod load_smpp;
pub mod metrics;
mod raw;
pub mod record;
pub mod reload;
pub mod serve;
pub mod sip;
pub mod smpp;
pub mod smpp_wire;
pub mod smsc_sim;
