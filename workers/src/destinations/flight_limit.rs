//! How many sends one destination may have in flight, found by watching it answer, as TCP
//! finds a path's window: grow while latency holds, shrink when it rises or sends fail.
//!
//! - A round is about one round trip: as many answers as the limit allows in flight.
//! - Slow start: a round whose latency held and which used the limit doubles it, until the
//!   first sign of load; after that a round adds √limit.
//! - A failure that says "too much" (timeout, refused connection, 5xx, 429) halves the limit
//!   at once, at most once a round; a round whose mean latency is over twice the baseline
//!   takes a fifth off.
//! - The baseline is the lowest latency seen. It is only raised when the limit has shrunk
//!   to its floor and latency is still high: that latency is not ours, so it is the
//!   destination's new normal, and slow start begins again from there.

use std::time::Duration;

/// A round whose mean latency is under this many baselines may grow.
const GROW_BELOW: f64 = 1.5;
/// Over this many baselines, the round shrinks the limit.
const SHRINK_ABOVE: f64 = 2.0;
const SHRINK_ON_LATENCY: f64 = 0.8;
const SHRINK_ON_FAILURE: f64 = 0.5;

/// The bounds a limit moves between, and where it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlightBounds {
    pub min: usize,
    pub initial: usize,
    pub max: usize,
}

#[derive(Debug, Clone)]
pub struct FlightLimit {
    bounds: FlightBounds,
    limit: f64,
    slow_start: bool,
    /// The lowest latency seen, in seconds.
    baseline: Option<f64>,
    round: Round,
}

#[derive(Debug, Clone, Default)]
struct Round {
    answers: usize,
    latency_sum: f64,
    latency_min: Option<f64>,
    /// The most sends in flight at once during the round.
    peak: usize,
    shrunk: bool,
}

/// What one send came to, as the limit sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Answer {
    /// The destination answered (delivered, or refused for good), in this long.
    Answered(Duration),
    /// It failed in a way that says it has too much (timeout, 5xx, 429, no connection).
    Overloaded,
}

impl FlightLimit {
    pub fn new(bounds: FlightBounds) -> Self {
        let min = bounds.min.max(1);
        let max = bounds.max.max(min);
        let bounds = FlightBounds {
            min,
            max,
            initial: bounds.initial.clamp(min, max),
        };
        FlightLimit {
            bounds,
            limit: bounds.initial as f64,
            slow_start: true,
            baseline: None,
            round: Round::default(),
        }
    }

    /// Sends that may be in flight now.
    pub fn get(&self) -> usize {
        self.limit as usize
    }

    /// The most it may soon allow: its ceiling while still in slow start (nothing has
    /// pushed back yet), else the limit itself.
    pub fn reach(&self) -> usize {
        if self.slow_start {
            self.bounds.max
        } else {
            self.get()
        }
    }

    /// The baseline latency, if any answer came yet.
    pub fn baseline(&self) -> Option<Duration> {
        self.baseline.map(Duration::from_secs_f64)
    }

    /// Notes that `in_flight` sends are out (called as each one starts).
    pub fn started(&mut self, in_flight: usize) {
        self.round.peak = self.round.peak.max(in_flight);
    }

    /// Takes one send's answer; a round ends after as many answers as the limit.
    pub fn answer(&mut self, answer: Answer) {
        match answer {
            Answer::Answered(latency) => {
                let secs = latency.as_secs_f64();
                self.round.answers += 1;
                self.round.latency_sum += secs;
                self.round.latency_min = Some(self.round.latency_min.map_or(secs, |m| m.min(secs)));
                if self.baseline.is_none_or(|b| secs < b) {
                    self.baseline = Some(secs);
                }
            }
            Answer::Overloaded => {
                self.round.answers += 1;
                if !self.round.shrunk {
                    self.shrink(SHRINK_ON_FAILURE);
                    self.round.shrunk = true;
                }
            }
        }
        if self.round.answers >= self.get() {
            self.end_round();
        }
    }

    fn end_round(&mut self) {
        let round = std::mem::take(&mut self.round);
        let answered = round.latency_min.is_some();
        if round.shrunk || !answered {
            return;
        }
        let Some(baseline) = self.baseline else {
            return;
        };
        let mean = round.latency_sum / round.answers as f64;
        if mean > baseline * SHRINK_ABOVE {
            if self.get() <= self.bounds.min {
                // as slow as this even at the floor: the destination's own pace
                self.baseline = round.latency_min;
                self.slow_start = true;
            } else {
                self.shrink(SHRINK_ON_LATENCY);
            }
        } else if mean < baseline * GROW_BELOW && round.peak + 1 >= self.get() {
            let grown = if self.slow_start {
                self.limit * 2.0
            } else {
                self.limit + self.limit.sqrt()
            };
            self.limit = grown.min(self.bounds.max as f64);
        }
    }

    fn shrink(&mut self, factor: f64) {
        self.slow_start = false;
        self.limit = (self.limit * factor).max(self.bounds.min as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDS: FlightBounds = FlightBounds {
        min: 2,
        initial: 8,
        max: 256,
    };

    /// Answers a full round at `latency`, the limit in use throughout.
    fn round(limit: &mut FlightLimit, latency: Duration) {
        let n = limit.get();
        for _ in 0..n {
            limit.started(n);
        }
        for _ in 0..n {
            limit.answer(Answer::Answered(latency));
        }
    }

    #[test]
    fn grows_to_its_bound_while_latency_holds() {
        let mut limit = FlightLimit::new(BOUNDS);
        for _ in 0..20 {
            round(&mut limit, Duration::from_millis(100));
        }
        assert_eq!(limit.get(), 256);
    }

    #[test]
    fn does_not_grow_when_the_limit_is_not_used() {
        let mut limit = FlightLimit::new(BOUNDS);
        for _ in 0..20 {
            limit.started(1);
            for _ in 0..8 {
                limit.answer(Answer::Answered(Duration::from_millis(100)));
            }
        }
        assert_eq!(limit.get(), 8);
    }

    #[test]
    fn failures_halve_it_down_to_the_floor() {
        let mut limit = FlightLimit::new(BOUNDS);
        for _ in 0..3 {
            round(&mut limit, Duration::from_millis(100));
        }
        assert_eq!(limit.get(), 64);
        limit.answer(Answer::Overloaded);
        assert_eq!(limit.get(), 32, "halved at the first failure");
        for _ in 0..200 {
            limit.answer(Answer::Overloaded);
        }
        assert_eq!(limit.get(), 2);
    }

    #[test]
    fn settles_where_latency_starts_to_rise() {
        // a destination that serves 40 at once in 100 ms; more wait their turn
        let mut limit = FlightLimit::new(BOUNDS);
        for _ in 0..200 {
            let n = limit.get();
            let waits = n.div_ceil(40) as u64;
            round(&mut limit, Duration::from_millis(100 * waits));
        }
        let settled = limit.get();
        assert!(
            (40..=80).contains(&settled),
            "settled at {settled}, not near the 40 it can serve"
        );
    }

    #[test]
    fn a_slower_destination_becomes_the_new_normal() {
        let mut limit = FlightLimit::new(BOUNDS);
        for _ in 0..10 {
            round(&mut limit, Duration::from_millis(50));
        }
        // from now on every answer takes 400 ms, however few are in flight
        for _ in 0..100 {
            round(&mut limit, Duration::from_millis(400));
        }
        assert_eq!(limit.baseline(), Some(Duration::from_millis(400)));
        assert_eq!(limit.get(), 256, "grew back once the new pace was learned");
    }
}
