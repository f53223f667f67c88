#![cfg_attr(not(test), deny(clippy::indexing_slicing))]
//! Interdict's decision engine: everything that decides, with no I/O.
//!
//! The gateway turns every SIP call and SMPP / SIP message into an [`Event`] (views into the
//! received bytes) and asks [`Engine::decide`] for a [`Decision`]: `pass`, `warn` or `block`,
//! the rule that fired, the fraud categories, and the evidence (which number on which list,
//! which phrase as found and where, which contact, which behaviour figure).
//!
//! - [`number`]: callers and callees normalised to compact keys (E.164, service, sender ids).
//! - [`lists`]: exact and prefix number lists with sources, updated without a rebuild.
//! - [`text`]: the normaliser (NFKC, traditional→simplified, evasions, look-alikes) and the
//!   Hyperscan matcher of fraud phrases and patterns; contact points in texts.
//! - [`behaviour`]: bounded sliding-window detectors (SIM boxes, bulk senders, campaigns).
//! - [`campaign`]: SMS templates (MinHash sketches) counted by recipients and senders.
//! - [`policy`]: rules combining all of these into a verdict, highest priority first.
//! - [`pack`]: the rule pack on disk (`rules/`), checked with file and line, compiled into a
//!   [`Snapshot`]; [`Engine`] swaps snapshots atomically while other threads decide.
//!
//! ```
//! use std::path::Path;
//! use interdict_engine::{load_pack, Engine, Event, Ingress, Verdict};
//!
//! let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules");
//! let engine = Engine::new(load_pack(&rules).expect("the default pack loads"));
//!
//! // Synthetic numbers (170/171 virtual-operator ranges, 138 0000 00xx).
//! let scam = Event::sms("+8617900000001", "13800000001",
//!     "您的身份证涉嫌洗钱，请立即将资金转入安全账户配合调查", 0);
//! let d = engine.decide(&scam);
//! assert_eq!(d.verdict, Verdict::Block);
//! println!("{}", serde_json::to_string(&d).unwrap());
//!
//! let code = Event::sms("95588", "13800000001", "您的验证码为482913，请勿告诉他人。", 0);
//! assert_eq!(engine.decide(&code).verdict, Verdict::Pass);
//!
//! // A bank's service number arriving from abroad is spoofing, allowlist or not.
//! let spoof = Event::call("+86 95588", "13800000001", 0).with_ingress(Ingress::International);
//! assert_eq!(engine.decide(&spoof).verdict, Verdict::Block);
//! ```

pub mod behaviour;
pub mod campaign;
pub mod decision;
pub mod engine;
pub mod event;
pub mod lists;
pub mod number;
pub mod pack;
pub mod policy;
pub mod text;

pub use decision::{Decision, Evidence, Party, PartyKind, Role, Verdict};
pub use engine::{decide_with, Engine, EngineError};
pub use event::{Channel, Event, EventKind, Ingress};
pub use lists::{NumberChange, Source};
pub use number::{normalise, readings, NumberConfig, Readings};
pub use pack::{
    load_pack, load_pack_with, LoadOptions, PackError, PackErrorKind, PackErrors, Snapshot,
};
