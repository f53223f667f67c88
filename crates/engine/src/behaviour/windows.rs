//! Per-caller windows: the rolling counts of one caller (calls, SMS, distinct and sequential
//! callees, short calls) and the evaluation that turns them into behaviour flags.
//!
//! Guarantees: a caller's state is a fixed-size `Copy` value (windows are counters, the
//! distinct callees a ring of [`DISTINCT_RING`]), whatever its traffic; `evaluate` only reads
//! it and the thresholds.

use super::*;

/// Two-bucket sliding-window counter.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Window {
    /// `at_ms / width` (saturating: a `u32` of 1-second buckets lasts until 2106).
    pub(super) bucket: u32,
    pub(super) current: u32,
    pub(super) previous: u32,
}

impl Window {
    pub(super) fn bucket(at_ms: u64, width: u64) -> u32 {
        u32::try_from(at_ms / width.max(1)).unwrap_or(u32::MAX)
    }

    pub(super) fn roll(&mut self, at_ms: u64, width: u64) {
        let bucket = Window::bucket(at_ms, width);
        if bucket == self.bucket {
            return;
        }
        if bucket < self.bucket {
            return; // late event: counted in the current bucket
        }
        self.previous = if bucket == self.bucket.saturating_add(1) {
            self.current
        } else {
            0
        };
        self.current = 0;
        self.bucket = bucket;
    }

    pub(super) fn add(&mut self, at_ms: u64, width: u64) {
        self.roll(at_ms, width);
        self.current = self.current.saturating_add(1);
    }

    /// Events in the window ending at `at_ms` (previous bucket weighted by overlap).
    pub(super) fn estimate(&self, at_ms: u64, width: u64) -> u32 {
        let bucket = Window::bucket(at_ms, width);
        let (current, previous) = if bucket == self.bucket {
            (self.current, self.previous)
        } else if bucket == self.bucket.saturating_add(1) {
            (0, self.current)
        } else if bucket < self.bucket {
            (self.current, self.previous)
        } else {
            (0, 0)
        };
        let width = width.max(1);
        let remaining = width - at_ms % width;
        let weighted = u64::from(previous) * remaining / width;
        current.saturating_add(weighted as u32)
    }
}

/// State of one caller: fixed size.
#[derive(Debug, Clone, Copy)]
pub(super) struct CallerState {
    pub(super) key: u64,
    pub(super) last_seen_ms: u64,
    pub(super) calls_s: Window,
    pub(super) calls_m: Window,
    pub(super) sms_s: Window,
    pub(super) sms_m: Window,
    pub(super) ended: Window,
    pub(super) short: Window,
    pub(super) concurrent: u32,
    pub(super) last_callee: u64,
    pub(super) sequential: u32,
    pub(super) last_sequential_ms: u64,
    pub(super) ring_next: u8,
    /// Filled ring slots (at most [`DISTINCT_RING`]).
    pub(super) ring_len: u8,
    pub(super) ring_fp: [u32; DISTINCT_RING],
    pub(super) ring_at_s: [u32; DISTINCT_RING],
}

impl CallerState {
    pub(super) fn new(key: u64, at_ms: u64) -> CallerState {
        CallerState {
            key,
            last_seen_ms: at_ms,
            calls_s: Window::default(),
            calls_m: Window::default(),
            sms_s: Window::default(),
            sms_m: Window::default(),
            ended: Window::default(),
            short: Window::default(),
            concurrent: 0,
            last_callee: 0,
            sequential: 0,
            last_sequential_ms: 0,
            ring_next: 0,
            ring_len: 0,
            ring_fp: [0; DISTINCT_RING],
            ring_at_s: [0; DISTINCT_RING],
        }
    }
}

pub(super) fn record_callee(s: &mut CallerState, ev: &BehaviourEvent<'_>, cfg: &BehaviourConfig) {
    let Some(callee) = ev.callee else {
        return;
    };
    let raw = callee.raw();
    let t = ev.at_ms;
    // Sequential dialling: each callee a small step above the previous one.
    let step = raw.wrapping_sub(s.last_callee);
    // Only at SIM-box rates: a pause longer than `sequential_max_gap_ms` ends the run.
    let recent = t.saturating_sub(s.last_sequential_ms) <= cfg.sequential_max_gap_ms;
    if s.last_callee != 0 && raw > s.last_callee && step <= cfg.sequential_max_step && recent {
        s.sequential = s.sequential.saturating_add(1);
    } else if raw != s.last_callee {
        s.sequential = 1;
    }
    s.last_callee = raw;
    s.last_sequential_ms = t;
    // Distinct callees: fingerprint ring (0 is never a fingerprint).
    let fp = ((mix(raw) >> 32) as u32).max(1);
    let now_s = (t / SECOND_MS) as u32;
    let filled = s.ring_fp.get(..usize::from(s.ring_len)).unwrap_or(&[]);
    if let Some(i) = filled.iter().position(|&f| f == fp) {
        if let Some(at) = s.ring_at_s.get_mut(i) {
            *at = now_s;
        }
        return;
    }
    let i = usize::from(s.ring_next) % DISTINCT_RING;
    if let (Some(f), Some(at)) = (s.ring_fp.get_mut(i), s.ring_at_s.get_mut(i)) {
        *f = fp;
        *at = now_s;
    }
    s.ring_next = ((i + 1) % DISTINCT_RING) as u8;
    s.ring_len = s.ring_len.saturating_add(1).min(DISTINCT_RING as u8);
}

pub(super) fn evaluate(
    s: &CallerState,
    t: u64,
    cfg: &BehaviourConfig,
    th: &Thresholds,
    flags: &mut BehaviourFlags,
) {
    let calls_s = s.calls_s.estimate(t, SECOND_MS);
    let calls_m = s.calls_m.estimate(t, MINUTE_MS);
    if calls_s > th.calls_per_second {
        flags.raise(
            BehaviourFlag::CallRate,
            calls_s,
            th.calls_per_second,
            SECOND_MS,
        );
    } else if calls_m > th.calls_per_minute {
        flags.raise(
            BehaviourFlag::CallRate,
            calls_m,
            th.calls_per_minute,
            MINUTE_MS,
        );
    }
    let sms_s = s.sms_s.estimate(t, SECOND_MS);
    let sms_m = s.sms_m.estimate(t, MINUTE_MS);
    if sms_s > th.sms_per_second {
        flags.raise(BehaviourFlag::SmsBurst, sms_s, th.sms_per_second, SECOND_MS);
    } else if sms_m > th.sms_per_minute {
        flags.raise(BehaviourFlag::SmsBurst, sms_m, th.sms_per_minute, MINUTE_MS);
    }
    // Counting only pays when the ring holds more callees than allowed.
    if u32::from(s.ring_len) > th.distinct_callees {
        let window_s = (cfg.distinct_window_ms / SECOND_MS).max(1);
        let now_s = t / SECOND_MS;
        let distinct = s
            .ring_at_s
            .iter()
            .take(usize::from(s.ring_len))
            .filter(|at| now_s.saturating_sub(u64::from(**at)) < window_s)
            .count() as u32;
        if distinct > th.distinct_callees {
            flags.raise(
                BehaviourFlag::DistinctCallees,
                distinct,
                th.distinct_callees,
                cfg.distinct_window_ms,
            );
        }
    }
    if s.sequential >= cfg.sequential_run {
        flags.raise(
            BehaviourFlag::SequentialDialling,
            s.sequential,
            cfg.sequential_run,
            0,
        );
    }
    if s.concurrent > th.max_concurrent_calls {
        flags.raise(
            BehaviourFlag::Concurrent,
            s.concurrent,
            th.max_concurrent_calls,
            0,
        );
    }
    // The estimate never exceeds the two buckets' sum: skip the divisions below that.
    let ended_bound = s.ended.current.saturating_add(s.ended.previous);
    let ended = if ended_bound >= cfg.short_call_min_calls {
        s.ended.estimate(t, cfg.short_call_window_ms)
    } else {
        0
    };
    if ended >= cfg.short_call_min_calls && ended > 0 {
        let short = s.short.estimate(t, cfg.short_call_window_ms);
        let percent = (u64::from(short) * 100 / u64::from(ended)).min(100) as u32;
        if percent > cfg.short_call_percent {
            flags.raise(
                BehaviourFlag::ShortCalls,
                percent,
                cfg.short_call_percent,
                cfg.short_call_window_ms,
            );
        }
    }
    if calls_m >= cfg.campaign_min_calls && sms_m >= cfg.campaign_min_sms {
        flags.raise(
            BehaviourFlag::Campaign,
            calls_m.saturating_add(sms_m),
            cfg.campaign_min_calls.saturating_add(cfg.campaign_min_sms),
            MINUTE_MS,
        );
    }
}
