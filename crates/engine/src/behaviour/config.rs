//! Configuration: thresholds, their per-profile overrides, and their checks.
//!
//! Guarantees: a [`BehaviourConfig`] that passes [`BehaviourConfig::check`] has every window
//! and capacity in range, so the windows and shards sized from it are bounded.

use super::*;

/// Thresholds a [`Profile`] may override.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// Call offers per second above which `call_rate` is raised.
    pub calls_per_second: u32,
    /// Call offers per minute above which `call_rate` is raised.
    pub calls_per_minute: u32,
    /// Distinct callees per window above which `distinct_callees` is raised (< [`DISTINCT_RING`]).
    pub distinct_callees: u32,
    /// SMS per second above which `sms_burst` is raised.
    pub sms_per_second: u32,
    /// SMS per minute above which `sms_burst` is raised.
    pub sms_per_minute: u32,
    /// Answered, not yet ended calls above which `concurrent` is raised.
    pub max_concurrent_calls: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            calls_per_second: 3,
            calls_per_minute: 30,
            distinct_callees: 20,
            sms_per_second: 5,
            sms_per_minute: 60,
            max_concurrent_calls: 8,
        }
    }
}

/// Optional overrides of [`Thresholds`] for one profile.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThresholdOverrides {
    /// Overrides [`Thresholds::calls_per_second`].
    pub calls_per_second: Option<u32>,
    /// Overrides [`Thresholds::calls_per_minute`].
    pub calls_per_minute: Option<u32>,
    /// Overrides [`Thresholds::distinct_callees`].
    pub distinct_callees: Option<u32>,
    /// Overrides [`Thresholds::sms_per_second`].
    pub sms_per_second: Option<u32>,
    /// Overrides [`Thresholds::sms_per_minute`].
    pub sms_per_minute: Option<u32>,
    /// Overrides [`Thresholds::max_concurrent_calls`].
    pub max_concurrent_calls: Option<u32>,
}

impl ThresholdOverrides {
    pub(super) fn apply(&self, base: Thresholds) -> Thresholds {
        Thresholds {
            calls_per_second: self.calls_per_second.unwrap_or(base.calls_per_second),
            calls_per_minute: self.calls_per_minute.unwrap_or(base.calls_per_minute),
            distinct_callees: self.distinct_callees.unwrap_or(base.distinct_callees),
            sms_per_second: self.sms_per_second.unwrap_or(base.sms_per_second),
            sms_per_minute: self.sms_per_minute.unwrap_or(base.sms_per_minute),
            max_concurrent_calls: self
                .max_concurrent_calls
                .unwrap_or(base.max_concurrent_calls),
        }
    }
}

/// Thresholds for callees under a prefix and/or during some local hours.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Name, for evidence and errors.
    pub name: String,
    /// Callee digit prefix as [`Normalised::digits`] gives it (`86170`; a leading `+` is
    /// ignored); empty matches every callee.
    #[serde(default)]
    pub callee_prefix: String,
    /// First local hour (0–23) the profile applies.
    #[serde(default)]
    pub from_hour: u8,
    /// Local hour (1–24) from which it no longer applies; below `from_hour` wraps past
    /// midnight (22 → 6).
    #[serde(default = "default_to_hour")]
    pub to_hour: u8,
    /// The thresholds it changes.
    #[serde(flatten)]
    pub thresholds: ThresholdOverrides,
}

pub(super) fn default_to_hour() -> u8 {
    24
}

impl Profile {
    pub(super) fn prefix(&self) -> &[u8] {
        let p = self.callee_prefix.as_bytes();
        p.strip_prefix(b"+").unwrap_or(p)
    }

    pub(super) fn covers_hour(&self, hour: u8) -> bool {
        if self.from_hour <= self.to_hour {
            (self.from_hour..self.to_hour).contains(&hour)
        } else {
            hour >= self.from_hour || hour < self.to_hour
        }
    }
}

/// Settings of the detectors (the rule pack's `[behaviour]` table; absent keys keep defaults).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BehaviourConfig {
    /// Most callers tracked at once, over all shards.
    pub max_tracked: usize,
    /// Number of independently locked shards.
    pub shards: usize,
    /// A caller idle this long is forgotten (its counters expire).
    pub idle_expiry_ms: u64,
    /// Window of the distinct-callee count.
    pub distinct_window_ms: u64,
    /// Consecutive increasing callees that make `sequential_dialling`.
    pub sequential_run: u32,
    /// Largest step between consecutive callees that still counts as sequential.
    pub sequential_max_step: u64,
    /// Longest time between two calls of a sequential run: a slower caller starts a new run.
    pub sequential_max_gap_ms: u64,
    /// A call shorter than this is short.
    pub short_call_ms: u64,
    /// Window of the short-call ratio.
    pub short_call_window_ms: u64,
    /// Ended calls needed before the ratio is judged.
    pub short_call_min_calls: u32,
    /// Share of short calls (percent) above which `short_calls` is raised.
    pub short_call_percent: u32,
    /// Call offers within a minute needed for `campaign`.
    pub campaign_min_calls: u32,
    /// SMS within a minute needed for `campaign`.
    pub campaign_min_sms: u32,
    /// Window of the template counts of `text_campaign` (tumbling, from a template's first
    /// sight).
    pub template_window_ms: u64,
    /// Distinct recipients of one template that make `text_campaign` (at most
    /// [`crate::campaign::RECIPIENTS`]).
    pub template_min_recipients: u32,
    /// Distinct senders of one template that make `text_campaign` (at most
    /// [`crate::campaign::SENDERS`]).
    pub template_min_senders: u32,
    /// Templates tracked at once (fixed memory, about 300 bytes each).
    pub template_slots: usize,
    /// Shortest text fingerprinted, in CJK ideographs.
    pub template_min_chars: usize,
    /// Offset of local time from UTC for profile hours (minutes; +480 for China).
    pub utc_offset_minutes: i32,
    /// Default thresholds.
    #[serde(flatten)]
    pub thresholds: Thresholds,
    /// Threshold profiles per callee prefix and time of day.
    #[serde(rename = "profile")]
    pub profiles: Vec<Profile>,
}

impl Default for BehaviourConfig {
    fn default() -> Self {
        BehaviourConfig {
            max_tracked: 200_000,
            shards: 64,
            idle_expiry_ms: 15 * MINUTE_MS,
            distinct_window_ms: 10 * MINUTE_MS,
            sequential_run: 5,
            sequential_max_step: 10,
            sequential_max_gap_ms: 15 * SECOND_MS,
            short_call_ms: 8_000,
            short_call_window_ms: 10 * MINUTE_MS,
            short_call_min_calls: 10,
            short_call_percent: 70,
            campaign_min_calls: 5,
            campaign_min_sms: 5,
            template_window_ms: 10 * MINUTE_MS,
            template_min_recipients: 10,
            template_min_senders: 3,
            template_slots: 8_192,
            template_min_chars: 12,
            utc_offset_minutes: 480,
            thresholds: Thresholds::default(),
            profiles: Vec::new(),
        }
    }
}

/// A setting the detectors cannot work with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BehaviourError {
    /// A setting is out of its range.
    #[error("behaviour setting `{setting}` {problem}")]
    Invalid {
        /// Which setting (`shards`, `profile[2].to_hour`, ...).
        setting: String,
        /// What is wrong with it.
        problem: &'static str,
    },
}

impl BehaviourConfig {
    /// Checks every setting's range.
    pub fn validate(&self) -> Result<(), BehaviourError> {
        let bad = |setting: &str, problem| {
            Err(BehaviourError::Invalid {
                setting: setting.to_owned(),
                problem,
            })
        };
        if self.shards == 0 || self.shards > 4096 {
            return bad("shards", "must be 1..=4096");
        }
        if self.max_tracked < self.shards || self.max_tracked > 50_000_000 {
            return bad(
                "max_tracked",
                "must be at least `shards` and at most 50000000",
            );
        }
        if self.idle_expiry_ms == 0
            || self.distinct_window_ms == 0
            || self.short_call_window_ms == 0
        {
            return bad(
                "idle_expiry_ms/distinct_window_ms/short_call_window_ms",
                "must be > 0",
            );
        }
        if self.template_window_ms == 0 || !(1..=1 << 20).contains(&self.template_slots) {
            return bad(
                "template_window_ms/template_slots",
                "must be > 0 (slots at most 1048576)",
            );
        }
        if !(2..=crate::campaign::RECIPIENTS as u32).contains(&self.template_min_recipients)
            || !(1..=crate::campaign::SENDERS as u32).contains(&self.template_min_senders)
        {
            return bad(
                "template_min_recipients/template_min_senders",
                "must be 2..=48 and 1..=12",
            );
        }
        if self.sequential_max_gap_ms == 0 {
            return bad("sequential_max_gap_ms", "must be > 0");
        }
        if self.sequential_run < 2 {
            return bad("sequential_run", "must be at least 2");
        }
        if self.short_call_percent > 100 {
            return bad("short_call_percent", "must be 0..=100");
        }
        if !(-14 * 60..=14 * 60).contains(&self.utc_offset_minutes) {
            return bad("utc_offset_minutes", "must be within ±14 hours");
        }
        let check_distinct = |t: u32, setting: &str| {
            if t as usize >= DISTINCT_RING {
                bad(setting, "must be below 32 (the distinct-callee ring)")
            } else {
                Ok(())
            }
        };
        check_distinct(self.thresholds.distinct_callees, "distinct_callees")?;
        for (i, p) in self.profiles.iter().enumerate() {
            if p.from_hour > 23 || p.to_hour > 24 || p.to_hour == 0 || p.from_hour == p.to_hour {
                return bad(
                    &format!("profile[{i}] ({}) from_hour/to_hour", p.name),
                    "must be 0..=23 and 1..=24 and differ",
                );
            }
            if !p.prefix().iter().all(u8::is_ascii_digit) {
                return bad(
                    &format!("profile[{i}] ({}) callee_prefix", p.name),
                    "must be digits",
                );
            }
            if let Some(d) = p.thresholds.distinct_callees {
                check_distinct(d, &format!("profile[{i}] ({}) distinct_callees", p.name))?;
            }
        }
        Ok(())
    }
}
