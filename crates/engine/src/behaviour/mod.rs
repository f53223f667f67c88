//! Behaviour detectors: bounded sliding-window counters per caller that flag SIM-box / GOIP
//! callers, bulk SMS senders and campaigns across both channels.
//!
//! Every call offer, answer, end and SMS is passed to [`Behaviour::observe`] with its time
//! (`at_ms`, milliseconds; there is no clock inside, so replays and tests are exact). The
//! caller's state is updated and the flags currently raised for that caller are returned:
//!
//! | flag | raised when (strictly above the threshold) |
//! |---|---|
//! | `call_rate` | call offers in the last second > `calls_per_second`, or in the last minute > `calls_per_minute` |
//! | `distinct_callees` | distinct callees (calls and SMS) within `distinct_window_ms` > `distinct_callees` |
//! | `sequential_dialling` | the last `sequential_run` callees each exceed the previous by 1..=`sequential_max_step`, each within `sequential_max_gap_ms` of the previous one (war dialling is fast: an ordinary caller ringing colleagues' nearby lines over an hour never builds a run) |
//! | `sms_burst` | SMS in the last second > `sms_per_second`, or in the last minute > `sms_per_minute` |
//! | `concurrent` | answered calls not yet ended > `max_concurrent_calls` |
//! | `short_calls` | at least `short_call_min_calls` calls ended within `short_call_window_ms` and the share shorter than `short_call_ms` > `short_call_percent` |
//! | `campaign` | within the last minute, call offers ≥ `campaign_min_calls` **and** SMS ≥ `campaign_min_sms` |
//! | `text_campaign` | the SMS's template (see [`crate::campaign`]) reached ≥ `template_min_recipients` distinct recipients **and** ≥ `template_min_senders` distinct senders within `template_window_ms` ([`Behaviour::observe_text`]) |
//!
//! Rates use a two-bucket sliding window (the current bucket plus the previous one weighted
//! by how much of it still lies in the window), which needs two integers per rate and no
//! per-event storage. Distinct callees are fingerprints in a fixed ring of
//! [`DISTINCT_RING`] entries. So a caller's state has a fixed size and an event costs a
//! constant amount of work.
//!
//! **Profiles** override thresholds for callees under a digit prefix and/or a range of local
//! hours (`utc_offset_minutes`, default +08:00), e.g. a lower call rate at night towards
//! international destinations. For each event the matching profile with the longest prefix
//! applies (OpenSIPS `fraud_detection` style, with per-second rates and expiring counters).
//!
//! **Memory is bounded**: the callers are spread over `shards` mutex-protected shards of
//! `max_tracked / shards` entries each, in least-recently-seen order. A new caller in a full
//! shard evicts its least recently seen caller (counted in [`BehaviourStats::evictions`]);
//! callers idle for `idle_expiry_ms` are dropped as they reach the old end of the order, and
//! a caller seen again after that long starts from fresh counters. A tracked caller costs
//! under 400 bytes (its fixed-size state plus its index entry; measured in the tests), so the
//! default `max_tracked` of 200 000 bounds the detectors at about 80 MB.
//!
//! ```
//! use interdict_engine::behaviour::{Behaviour, BehaviourConfig, BehaviourEvent,
//!     BehaviourFlag, BehaviourKind};
//! use interdict_engine::number::{normalise, NumberConfig};
//! let cfg = NumberConfig::default();
//! let b = Behaviour::new(BehaviourConfig::default()).unwrap();
//! // Synthetic numbers (170 virtual-operator range).
//! let caller = normalise("+8617000000001", &cfg).unwrap();
//! let mut flags = Default::default();
//! for i in 0..10u64 {
//!     let callee = normalise(&format!("+86171000000{:02}", i), &cfg).unwrap();
//!     let ev = BehaviourEvent::new(BehaviourKind::CallOffer, &caller, Some(&callee), 1_000 + i);
//!     flags = b.observe(&ev);
//! }
//! assert!(flags.contains(BehaviourFlag::CallRate));
//! assert!(flags.contains(BehaviourFlag::SequentialDialling));
//! ```

use std::sync::{Mutex, PoisonError};

use rustc_hash::FxHashMap;
use serde::Deserialize;

use crate::campaign::{sketch, TemplateCount, TemplateTable};
use crate::lists::mix;
use crate::number::{Normalised, NumberKey};

mod config;
mod shards;
mod windows;

pub use config::{BehaviourConfig, BehaviourError, Profile, ThresholdOverrides, Thresholds};
use shards::Shard;
#[cfg(test)]
use shards::Slot;
use windows::{evaluate, record_callee, CallerState};

/// Slots of the distinct-callee ring per caller: `distinct_callees` must be below it.
pub const DISTINCT_RING: usize = 32;
const SECOND_MS: u64 = 1_000;
const MINUTE_MS: u64 = 60_000;
const NONE: u32 = u32::MAX;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BehaviourKind {
    /// A call is offered (SIP INVITE).
    CallOffer,
    /// A call was answered.
    CallAnswered,
    /// A call ended after `duration_ms` of conversation.
    CallEnded {
        /// Conversation time.
        duration_ms: u64,
    },
    /// A short message.
    Sms,
}

/// One event as the detectors see it.
#[derive(Debug, Clone, Copy)]
pub struct BehaviourEvent<'a> {
    /// What happened.
    pub kind: BehaviourKind,
    /// Who calls or sends.
    pub caller: NumberKey,
    /// Who is called (`None` when the callee could not be normalised).
    pub callee: Option<NumberKey>,
    /// The callee's digits ([`Normalised::digits`]), for profiles; empty when unknown.
    pub callee_digits: &'a [u8],
    /// When, in ms (any epoch, but the same for all events; Unix epoch for profile hours).
    pub at_ms: u64,
}

impl<'a> BehaviourEvent<'a> {
    /// An event between normalised parties.
    pub fn new(
        kind: BehaviourKind,
        caller: &Normalised,
        callee: Option<&'a Normalised>,
        at_ms: u64,
    ) -> BehaviourEvent<'a> {
        BehaviourEvent {
            kind,
            caller: caller.key(),
            callee: callee.map(Normalised::key),
            callee_digits: callee.map(Normalised::digits).unwrap_or(&[]),
            at_ms,
        }
    }
}

/// One detector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BehaviourFlag {
    /// Too many call offers per second or minute.
    CallRate = 0,
    /// Too many distinct callees in the window.
    DistinctCallees = 1,
    /// Callees increasing by small steps.
    SequentialDialling = 2,
    /// Too many SMS per second or minute.
    SmsBurst = 3,
    /// Too many calls up at once.
    Concurrent = 4,
    /// Mostly very short calls.
    ShortCalls = 5,
    /// Bursting on calls and SMS together.
    Campaign = 6,
    /// One SMS template to many recipients from several senders.
    TextCampaign = 7,
}

impl BehaviourFlag {
    /// Every flag, in bit order.
    pub const ALL: [BehaviourFlag; 8] = [
        BehaviourFlag::CallRate,
        BehaviourFlag::DistinctCallees,
        BehaviourFlag::SequentialDialling,
        BehaviourFlag::SmsBurst,
        BehaviourFlag::Concurrent,
        BehaviourFlag::ShortCalls,
        BehaviourFlag::Campaign,
        BehaviourFlag::TextCampaign,
    ];

    /// Name used in rules and evidence (`"call_rate"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            BehaviourFlag::CallRate => "call_rate",
            BehaviourFlag::DistinctCallees => "distinct_callees",
            BehaviourFlag::SequentialDialling => "sequential_dialling",
            BehaviourFlag::SmsBurst => "sms_burst",
            BehaviourFlag::Concurrent => "concurrent",
            BehaviourFlag::ShortCalls => "short_calls",
            BehaviourFlag::Campaign => "campaign",
            BehaviourFlag::TextCampaign => "text_campaign",
        }
    }

    /// The flag with this name.
    pub fn from_name(name: &str) -> Option<BehaviourFlag> {
        BehaviourFlag::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Its bit in [`BehaviourFlags::bits`].
    pub fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// Why a flag was raised: what was observed against which threshold over which window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlagEvidence {
    /// The flag.
    pub flag: BehaviourFlag,
    /// Observed value (count, run length, or percent for `short_calls`).
    pub observed: u32,
    /// The threshold in force (from the profile, if one applied).
    pub threshold: u32,
    /// The window the value was counted over (0 for `concurrent` and `sequential_dialling`).
    pub window_ms: u64,
}

/// The flags raised for one event, with evidence. `Copy`, no heap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BehaviourFlags {
    bits: u8,
    evidence: [FlagEvidence; 8],
}

impl Default for BehaviourFlags {
    fn default() -> Self {
        let empty = |flag| FlagEvidence {
            flag,
            observed: 0,
            threshold: 0,
            window_ms: 0,
        };
        BehaviourFlags {
            bits: 0,
            evidence: BehaviourFlag::ALL.map(empty),
        }
    }
}

impl BehaviourFlags {
    /// No flag raised.
    pub fn is_empty(&self) -> bool {
        self.bits == 0
    }

    /// One bit per flag, `1 << flag as u8` (the order of [`BehaviourFlag::ALL`]).
    pub fn bits(&self) -> u8 {
        self.bits
    }

    /// Whether `flag` is raised.
    pub fn contains(&self, flag: BehaviourFlag) -> bool {
        self.bits & flag.bit() != 0
    }

    /// Names of the raised flags.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.iter().map(|e| e.flag.name())
    }

    /// Evidence of the raised flags.
    pub fn iter(&self) -> impl Iterator<Item = &FlagEvidence> + '_ {
        self.evidence.iter().filter(|e| self.contains(e.flag))
    }

    /// Evidence of one flag, if raised.
    pub fn evidence(&self, flag: BehaviourFlag) -> Option<FlagEvidence> {
        self.iter().find(|e| e.flag == flag).copied()
    }

    fn raise(&mut self, flag: BehaviourFlag, observed: u32, threshold: u32, window_ms: u64) {
        self.bits |= flag.bit();
        if let Some(e) = self.evidence.get_mut(flag as usize) {
            *e = FlagEvidence {
                flag,
                observed,
                threshold,
                window_ms,
            };
        }
    }
}

/// Counters of the tracker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BehaviourStats {
    /// Callers tracked now.
    pub tracked: usize,
    /// Most callers that can be tracked.
    pub capacity: usize,
    /// Callers dropped to make room for new ones.
    pub evictions: u64,
    /// Callers dropped after being idle for `idle_expiry_ms`.
    pub expired: u64,
}

/// The detectors; share one between threads (interior mutability, sharded locks).
#[derive(Debug)]
pub struct Behaviour {
    config: BehaviourConfig,
    per_shard: usize,
    shards: Box<[Mutex<Shard>]>,
    /// SMS templates (one lock: near-duplicate texts cannot be sharded by their hash).
    templates: Mutex<TemplateTable>,
}

impl Behaviour {
    /// Detectors with these settings (validated).
    pub fn new(config: BehaviourConfig) -> Result<Behaviour, BehaviourError> {
        config.validate()?;
        let per_shard = config.max_tracked / config.shards;
        let shards = (0..config.shards)
            .map(|_| Mutex::new(Shard::new(per_shard)))
            .collect();
        let templates = Mutex::new(TemplateTable::new(
            config.template_slots,
            config.template_window_ms,
        ));
        Ok(Behaviour {
            config,
            per_shard,
            shards,
            templates,
        })
    }

    /// The settings in force.
    pub fn config(&self) -> &BehaviourConfig {
        &self.config
    }

    /// Records one event and returns the flags raised for its caller. Constant cost: one
    /// shard lock, one hash lookup, fixed-size counters.
    pub fn observe(&self, ev: &BehaviourEvent<'_>) -> BehaviourFlags {
        let mut flags = BehaviourFlags::default();
        self.observe_into(ev, &mut flags);
        flags
    }

    /// [`Behaviour::observe`] raising the flags in `flags` (expected empty), so the engine's
    /// decision keeps them in place instead of copying the ~170-byte result.
    pub(crate) fn observe_into(&self, ev: &BehaviourEvent<'_>, flags: &mut BehaviourFlags) {
        let caller = ev.caller.raw();
        let shard_index = (mix(caller) % self.shards.len() as u64) as usize;
        let Some(shard) = self.shards.get(shard_index) else {
            return;
        };
        let thresholds = self.thresholds_for(ev);
        let cfg = &self.config;
        let t = ev.at_ms;
        let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(s) = shard.entry(caller, t, self.per_shard, cfg.idle_expiry_ms) else {
            return;
        };
        match ev.kind {
            BehaviourKind::CallOffer => {
                s.calls_s.add(t, SECOND_MS);
                s.calls_m.add(t, MINUTE_MS);
                record_callee(s, ev, cfg);
            }
            BehaviourKind::Sms => {
                s.sms_s.add(t, SECOND_MS);
                s.sms_m.add(t, MINUTE_MS);
                record_callee(s, ev, cfg);
            }
            BehaviourKind::CallAnswered => s.concurrent = s.concurrent.saturating_add(1),
            BehaviourKind::CallEnded { duration_ms } => {
                s.concurrent = s.concurrent.saturating_sub(1);
                s.ended.add(t, cfg.short_call_window_ms);
                if duration_ms < cfg.short_call_ms {
                    s.short.add(t, cfg.short_call_window_ms);
                } else {
                    s.short.roll(t, cfg.short_call_window_ms);
                }
            }
        }
        evaluate(s, t, cfg, &thresholds, flags);
    }

    /// Counts an SMS's template ([`crate::campaign`]): `normalised` is its normalised text.
    /// Raises `text_campaign` in `flags` when the template reached the thresholds, and returns
    /// the template's counts (`None` for a text too short to fingerprint).
    pub fn observe_text(
        &self,
        normalised: &str,
        sender: NumberKey,
        recipient: Option<NumberKey>,
        at_ms: u64,
        flags: &mut BehaviourFlags,
    ) -> Option<TemplateCount> {
        let cfg = &self.config;
        let s = sketch(normalised, cfg.template_min_chars)?;
        let hash32 = |k: NumberKey| ((mix(k.raw()) >> 32) as u32).max(1);
        let to = recipient.map_or(0, hash32);
        let count = self
            .templates
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .observe(&s, hash32(sender), to, at_ms);
        if count.recipients >= cfg.template_min_recipients
            && count.senders >= cfg.template_min_senders
        {
            flags.raise(
                BehaviourFlag::TextCampaign,
                count.recipients,
                cfg.template_min_recipients,
                cfg.template_window_ms,
            );
        }
        Some(count)
    }

    /// Tracked callers, capacity, evictions and expiries so far.
    pub fn stats(&self) -> BehaviourStats {
        let mut stats = BehaviourStats {
            capacity: self.per_shard * self.shards.len(),
            ..BehaviourStats::default()
        };
        for shard in self.shards.iter() {
            let shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            stats.tracked += shard.index.len();
            stats.evictions += shard.evictions;
            stats.expired += shard.expired;
        }
        stats
    }

    /// Thresholds for this event: the defaults, overridden by the matching profile with the
    /// longest callee prefix (first one on ties).
    fn thresholds_for(&self, ev: &BehaviourEvent<'_>) -> Thresholds {
        let base = self.config.thresholds;
        if self.config.profiles.is_empty() {
            return base;
        }
        let local_ms = ev
            .at_ms
            .wrapping_add_signed(i64::from(self.config.utc_offset_minutes) * MINUTE_MS as i64);
        let hour = ((local_ms / (60 * MINUTE_MS)) % 24) as u8;
        let mut best: Option<&Profile> = None;
        for p in &self.config.profiles {
            if p.covers_hour(hour)
                && ev.callee_digits.starts_with(p.prefix())
                && best.is_none_or(|b| p.prefix().len() > b.prefix().len())
            {
                best = Some(p);
            }
        }
        best.map_or(base, |p| p.thresholds.apply(base))
    }
}

#[cfg(test)]
mod tests {
    //! Synthetic numbers only (170/171 virtual-operator ranges, +44 20 7946 0xxx drama range).
    use super::*;
    use crate::number::{normalise, NumberConfig};

    /// 2023-11-14 00:00:00 UTC: a minute-aligned instant.
    const DAY: u64 = 1_699_920_000_000;

    fn num(raw: &str) -> Normalised {
        normalise(raw, &NumberConfig::default()).unwrap()
    }

    fn callee(i: u64) -> Normalised {
        num(&format!("+861710000{:04}", i))
    }

    fn scattered(i: u64) -> Normalised {
        // Far apart, never sequential.
        num(&format!("+86171{:08}", (i * 7_919_333) % 100_000_000))
    }

    fn offer(b: &Behaviour, caller: &Normalised, to: &Normalised, at: u64) -> BehaviourFlags {
        b.observe(&BehaviourEvent::new(
            BehaviourKind::CallOffer,
            caller,
            Some(to),
            at,
        ))
    }

    fn sms(b: &Behaviour, caller: &Normalised, to: &Normalised, at: u64) -> BehaviourFlags {
        b.observe(&BehaviourEvent::new(
            BehaviourKind::Sms,
            caller,
            Some(to),
            at,
        ))
    }

    fn event(b: &Behaviour, kind: BehaviourKind, caller: &Normalised, at: u64) -> BehaviourFlags {
        b.observe(&BehaviourEvent::new(kind, caller, None, at))
    }

    fn behaviour() -> Behaviour {
        Behaviour::new(BehaviourConfig::default()).unwrap()
    }

    #[test]
    fn call_rate_per_second() {
        let b = behaviour();
        let caller = num("+8617000000001");
        for i in 0..3 {
            assert!(offer(&b, &caller, &scattered(i), DAY + i * 100).is_empty());
        }
        let f = offer(&b, &caller, &scattered(3), DAY + 300);
        assert_eq!(
            f.evidence(BehaviourFlag::CallRate),
            Some(FlagEvidence {
                flag: BehaviourFlag::CallRate,
                observed: 4,
                threshold: 3,
                window_ms: 1_000
            })
        );
        assert_eq!(f.names().collect::<Vec<_>>(), ["call_rate"]);
        // Another caller is unaffected.
        assert!(offer(&b, &num("+8617000000002"), &scattered(0), DAY + 300).is_empty());
    }

    #[test]
    fn call_rate_per_minute() {
        let b = behaviour();
        let caller = num("+8617000000001");
        // One call every 1.9 s: never more than 3 in a second, 31 in the minute.
        for i in 0..30 {
            assert!(!offer(&b, &caller, &scattered(i % 10), DAY + i * 1_900)
                .contains(BehaviourFlag::CallRate));
        }
        let f = offer(&b, &caller, &scattered(3), DAY + 30 * 1_900);
        assert_eq!(
            f.evidence(BehaviourFlag::CallRate)
                .map(|e| (e.observed, e.threshold, e.window_ms)),
            Some((31, 30, 60_000))
        );
    }

    #[test]
    fn distinct_callees_in_window() {
        let b = behaviour();
        let caller = num("+8617000000001");
        let repeat = num("+8617000000003");
        // The same few callees over and over: no flag.
        for i in 0..40 {
            let f = offer(&b, &repeat, &scattered(i % 5), DAY + i * 3_000);
            assert!(!f.contains(BehaviourFlag::DistinctCallees));
        }
        // 21 different callees, calls 3 s apart (below the call-rate thresholds).
        for i in 0..20 {
            assert!(
                offer(&b, &caller, &scattered(i), DAY + i * 3_000).is_empty(),
                "call {i}"
            );
        }
        let f = offer(&b, &caller, &scattered(20), DAY + 20 * 3_000);
        assert_eq!(
            f.evidence(BehaviourFlag::DistinctCallees)
                .map(|e| (e.observed, e.threshold)),
            Some((21, 20))
        );
        // Once the window has passed, the old callees no longer count.
        let later = DAY + 20 * 3_000 + 10 * 60_000 + 1_000;
        assert!(offer(&b, &caller, &scattered(21), later).is_empty());
    }

    #[test]
    fn sequential_dialling() {
        let b = behaviour();
        let caller = num("+8617000000001");
        for i in 0..4 {
            let f = offer(&b, &caller, &callee(100 + i * 2), DAY + i * 5_000);
            assert!(!f.contains(BehaviourFlag::SequentialDialling), "call {i}");
        }
        let f = offer(&b, &caller, &callee(108), DAY + 20_000);
        assert_eq!(
            f.evidence(BehaviourFlag::SequentialDialling)
                .map(|e| (e.observed, e.threshold)),
            Some((5, 5))
        );
        // A jump larger than the step breaks the run.
        let f = offer(&b, &caller, &callee(200), DAY + 25_000);
        assert!(!f.contains(BehaviourFlag::SequentialDialling));
        // Decreasing numbers are not sequential dialling.
        let other = num("+8617000000002");
        for i in 0..8 {
            let f = offer(&b, &other, &callee(500 - i), DAY + i * 5_000);
            assert!(!f.contains(BehaviourFlag::SequentialDialling));
        }
    }

    /// The false alarm the gap guards against: an ordinary subscriber ringing a handful of
    /// colleagues' direct lines in one block (increasing numbers, small steps) over an hour.
    #[test]
    fn ordinary_caller_ringing_nearby_lines_over_an_hour_is_not_sequential() {
        let b = behaviour();
        let caller = num("+8617000000003");
        for i in 0..8u64 {
            let f = offer(&b, &caller, &callee(300 + i), DAY + i * 8 * 60_000);
            assert!(
                f.is_empty(),
                "call {i}: {:?}",
                f.names().collect::<Vec<_>>()
            );
        }
        // Even at one call a minute the run never builds.
        let other = num("+8617000000004");
        for i in 0..10u64 {
            let f = offer(&b, &other, &callee(400 + i), DAY + i * 60_000);
            assert!(!f.contains(BehaviourFlag::SequentialDialling), "call {i}");
        }
    }

    #[test]
    fn sms_burst_per_second_and_minute() {
        let b = behaviour();
        let sender = num("+8617000000001");
        for i in 0..5 {
            assert!(sms(&b, &sender, &scattered(i % 3), DAY + i * 10).is_empty());
        }
        let f = sms(&b, &sender, &scattered(1), DAY + 60);
        assert_eq!(
            f.evidence(BehaviourFlag::SmsBurst)
                .map(|e| (e.observed, e.threshold, e.window_ms)),
            Some((6, 5, 1_000))
        );
        let slow = num("ICBC-BULK");
        for i in 0..60 {
            let f = sms(&b, &slow, &scattered(i % 3), DAY + i * 900);
            assert!(!f.contains(BehaviourFlag::SmsBurst), "sms {i}");
        }
        let f = sms(&b, &slow, &scattered(0), DAY + 60 * 900);
        assert_eq!(
            f.evidence(BehaviourFlag::SmsBurst)
                .map(|e| (e.observed, e.window_ms)),
            Some((61, 60_000))
        );
    }

    #[test]
    fn concurrent_calls() {
        let b = behaviour();
        let caller = num("+8617000000001");
        for i in 0..8 {
            assert!(event(&b, BehaviourKind::CallAnswered, &caller, DAY + i).is_empty());
        }
        let f = event(&b, BehaviourKind::CallAnswered, &caller, DAY + 8);
        assert_eq!(
            f.evidence(BehaviourFlag::Concurrent)
                .map(|e| (e.observed, e.threshold)),
            Some((9, 8))
        );
        let f = event(
            &b,
            BehaviourKind::CallEnded {
                duration_ms: 60_000,
            },
            &caller,
            DAY + 60_000,
        );
        assert!(!f.contains(BehaviourFlag::Concurrent));
    }

    #[test]
    fn short_call_ratio() {
        let b = behaviour();
        let robot = num("+8617000000001");
        let ended = |d| BehaviourKind::CallEnded { duration_ms: d };
        for i in 0..9 {
            assert!(
                event(&b, ended(1_000), &robot, DAY + i * 10_000).is_empty(),
                "needs 10 calls"
            );
        }
        let f = event(&b, ended(2_000), &robot, DAY + 90_000);
        assert_eq!(
            f.evidence(BehaviourFlag::ShortCalls)
                .map(|e| (e.observed, e.threshold)),
            Some((100, 70))
        );
        let human = num("+8617000000002");
        for i in 0..20 {
            let d = if i % 2 == 0 { 1_000 } else { 120_000 };
            let f = event(&b, ended(d), &human, DAY + i * 10_000);
            assert!(
                !f.contains(BehaviourFlag::ShortCalls),
                "half short is normal"
            );
        }
    }

    #[test]
    fn campaign_across_calls_and_sms() {
        let b = behaviour();
        let caller = num("+8617000000001");
        for i in 0..5 {
            assert!(offer(&b, &caller, &scattered(i), DAY + i * 4_000).is_empty());
        }
        for i in 0..4 {
            assert!(!sms(&b, &caller, &scattered(i), DAY + 20_000 + i * 4_000)
                .contains(BehaviourFlag::Campaign));
        }
        let f = sms(&b, &caller, &scattered(9), DAY + 40_000);
        assert_eq!(
            f.evidence(BehaviourFlag::Campaign)
                .map(|e| (e.observed, e.threshold)),
            Some((10, 10))
        );
        // SMS alone is no campaign.
        let bulk = num("+8617000000002");
        for i in 0..20 {
            assert!(!sms(&b, &bulk, &scattered(i % 4), DAY + i * 2_000)
                .contains(BehaviourFlag::Campaign));
        }
    }

    #[test]
    fn profiles_by_callee_prefix_and_local_hour() {
        let cfg: BehaviourConfig = toml::from_str(
            r#"
            calls_per_minute = 30
            [[profile]]
            name = "international-night"
            callee_prefix = "+44"
            from_hour = 22
            to_hour = 6
            calls_per_minute = 5
            [[profile]]
            name = "uk-london-night"
            callee_prefix = "4420"
            from_hour = 22
            to_hour = 6
            calls_per_minute = 8
            "#,
        )
        .unwrap();
        let b = Behaviour::new(cfg).unwrap();
        let uk = |i: u64| num(&format!("+44117496{:04}", i * 37));
        let london = |i: u64| num(&format!("+44207946{:04}", i * 37));
        // 02:00 in UTC+8 is 18:00 UTC.
        let night = DAY + 18 * 3_600_000;
        let day = DAY + 6 * 3_600_000; // 14:00 local
        let run = |caller: &str, at: u64, to: &dyn Fn(u64) -> Normalised, n: u64| {
            let c = num(caller);
            (0..n)
                .map(|i| offer(&b, &c, &to(i), at + i * 2_000))
                .last()
                .unwrap()
        };
        let f = run("+8617000000001", night, &uk, 6);
        assert_eq!(
            f.evidence(BehaviourFlag::CallRate)
                .map(|e| (e.observed, e.threshold)),
            Some((6, 5))
        );
        // Longest prefix: London numbers at night get 8.
        assert!(run("+8617000000002", night, &london, 8).is_empty());
        let f = run("+8617000000003", night, &london, 9);
        assert_eq!(
            f.evidence(BehaviourFlag::CallRate).map(|e| e.threshold),
            Some(8)
        );
        // In the day the default (30) applies.
        assert!(run("+8617000000004", day, &uk, 20).is_empty());
        // Domestic callees at night: default.
        assert!(run("+8617000000005", night, &scattered, 20).is_empty());
    }

    #[test]
    fn counters_expire() {
        let b = behaviour();
        let caller = num("+8617000000001");
        for i in 0..4 {
            offer(&b, &caller, &scattered(i), DAY + i);
        }
        // Two minutes later the rates are back to one call.
        let f = offer(&b, &caller, &scattered(9), DAY + 120_000);
        assert!(f.is_empty());
        // Concurrency and sequential state expire with an idle caller.
        for i in 0..9 {
            event(&b, BehaviourKind::CallAnswered, &caller, DAY + 130_000 + i);
        }
        let idle = DAY + 130_000 + 16 * 60_000;
        let f = event(&b, BehaviourKind::CallAnswered, &caller, idle);
        assert!(!f.contains(BehaviourFlag::Concurrent));
        // An idle caller at the old end is dropped when another caller arrives.
        assert_eq!(b.stats().tracked, 1);
        let later = idle + 15 * 60_000;
        let mut all_expired = 0;
        for i in 0..64u64 {
            // Reach the caller's shard: try distinct callers until one lands there.
            offer(
                &b,
                &num(&format!("+86170100{:05}", i)),
                &scattered(0),
                later,
            );
            all_expired = b.stats().expired;
            if all_expired == 1 {
                break;
            }
        }
        assert_eq!(all_expired, 1);
    }

    #[test]
    fn memory_is_bounded_and_evictions_counted() {
        let cfg = BehaviourConfig {
            max_tracked: 64,
            shards: 1,
            ..BehaviourConfig::default()
        };
        let b = Behaviour::new(cfg).unwrap();
        let first = num("+8617000000000");
        for i in 0..3 {
            offer(&b, &first, &scattered(i), DAY + i);
        }
        for i in 1..=100u64 {
            offer(
                &b,
                &num(&format!("+86170000{:05}", i)),
                &scattered(0),
                DAY + 10 + i,
            );
        }
        // Fixed size per tracked caller: the slot plus its index entry (key, slot, control byte).
        let per_caller = std::mem::size_of::<Slot>() + 8 + 4 + 1;
        println!("behaviour state: {per_caller} bytes per tracked caller");
        assert!(per_caller <= 400, "{per_caller}");
        let stats = b.stats();
        assert_eq!(
            (
                stats.tracked,
                stats.capacity,
                stats.evictions,
                stats.expired
            ),
            (64, 64, 37, 0)
        );
        // The first caller was evicted: its counts start again.
        let f = offer(&b, &first, &scattered(3), DAY + 200);
        assert!(!f.contains(BehaviourFlag::CallRate));
        // Recently seen callers are kept (least recently seen evicted first).
        let recent = num("+8617000000100");
        for i in 0..3 {
            offer(&b, &recent, &scattered(i), DAY + 300 + i);
        }
        assert!(offer(&b, &recent, &scattered(4), DAY + 304).contains(BehaviourFlag::CallRate));
    }

    #[test]
    fn shared_between_threads() {
        let b = behaviour();
        let caller = num("+8617000000001");
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let (b, caller) = (&b, &caller);
                s.spawn(move || {
                    for i in 0..10 {
                        offer(b, caller, &scattered(t * 10 + i), DAY + 500);
                    }
                });
            }
        });
        let f = offer(&b, &caller, &scattered(99), DAY + 600);
        assert_eq!(
            f.evidence(BehaviourFlag::CallRate).map(|e| e.observed),
            Some(41)
        );
    }

    #[test]
    fn config_from_toml_and_validation() {
        let cfg: BehaviourConfig = toml::from_str("calls_per_second = 10\nshards = 8\n").unwrap();
        assert_eq!(
            (
                cfg.thresholds.calls_per_second,
                cfg.shards,
                cfg.sequential_run
            ),
            (10, 8, 5)
        );
        assert!(toml::from_str::<BehaviourConfig>("no_such_key = 1").is_err());
        assert!(toml::from_str::<BehaviourConfig>(
            "[[profile]]\nname = \"p\"\ncalls_per_hour = 1\n"
        )
        .is_err());
        let bad = BehaviourConfig {
            shards: 0,
            ..BehaviourConfig::default()
        };
        assert!(matches!(
            Behaviour::new(bad),
            Err(BehaviourError::Invalid { .. })
        ));
        let mut bad = BehaviourConfig::default();
        bad.thresholds.distinct_callees = 40;
        assert!(bad.validate().is_err());
        let bad: BehaviourConfig =
            toml::from_str("[[profile]]\nname = \"x\"\nfrom_hour = 25\n").unwrap();
        let err = bad.validate().unwrap_err().to_string();
        assert!(err.contains("profile[0] (x)"), "{err}");
        assert_eq!(
            BehaviourFlag::from_name("campaign"),
            Some(BehaviourFlag::Campaign)
        );
        assert_eq!(BehaviourFlag::SmsBurst.bit(), 0b1000);
    }
}
