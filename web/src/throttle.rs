//! Throttles for what a stranger can try over and over: signing in, and inbox links. Failures
//! are counted per client and overall in a sliding minute; past either limit, the request is
//! answered 429 before it reaches the database (whose log would otherwise grow with every
//! wrong guess), with how long to wait.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);
/// Clients remembered at most; the oldest are forgotten first.
const CLIENTS: usize = 10_000;

pub struct Throttle {
    per_client: usize,
    overall: usize,
    failures: Mutex<Failures>,
}

#[derive(Default)]
struct Failures {
    by_client: HashMap<IpAddr, VecDeque<Instant>>,
    all: VecDeque<Instant>,
}

impl Throttle {
    /// At most `per_client` failures a minute from one client, `overall` from all.
    pub fn new(per_client: usize, overall: usize) -> Throttle {
        Throttle {
            per_client,
            overall,
            failures: Mutex::default(),
        }
    }

    /// `Err(wait)` while `client`, or everyone, has failed too often in the last minute.
    pub fn check(&self, client: IpAddr) -> Result<(), Duration> {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let Failures { by_client, all } = &mut *failures;
        forget(all, now);
        if all.len() >= self.overall {
            return Err(wait(all, now));
        }
        match by_client.get_mut(&client) {
            Some(mine) => {
                forget(mine, now);
                if mine.len() >= self.per_client {
                    return Err(wait(mine, now));
                }
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// `client` got it wrong.
    pub fn failed(&self, client: IpAddr) {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.by_client.len() >= CLIENTS && !failures.by_client.contains_key(&client) {
            failures
                .by_client
                .retain(|_, times| times.back().is_some_and(|t| now - *t < WINDOW));
            if failures.by_client.len() >= CLIENTS {
                failures.by_client.clear();
            }
        }
        failures.by_client.entry(client).or_default().push_back(now);
        failures.all.push_back(now);
    }
}

fn forget(times: &mut VecDeque<Instant>, now: Instant) {
    while times.front().is_some_and(|t| now - *t >= WINDOW) {
        times.pop_front();
    }
}

/// Until the oldest failure counted leaves the window.
fn wait(times: &VecDeque<Instant>, now: Instant) -> Duration {
    times
        .front()
        .map_or(WINDOW, |t| WINDOW.saturating_sub(now - *t))
        .max(Duration::from_secs(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_past_its_failures_waits_and_others_go_on_until_everyone_has_failed_too_often() {
        let throttle = Throttle::new(3, 5);
        let (a, b, c): (IpAddr, IpAddr, IpAddr) = (
            "10.0.0.1".parse().unwrap(),
            "10.0.0.2".parse().unwrap(),
            "10.0.0.3".parse().unwrap(),
        );
        for _ in 0..3 {
            assert!(throttle.check(a).is_ok());
            throttle.failed(a);
        }
        let wait = throttle.check(a).expect_err("a failed three times");
        assert!(wait <= WINDOW && wait >= Duration::from_secs(1), "{wait:?}");
        assert!(throttle.check(b).is_ok(), "b has not failed");
        throttle.failed(b);
        throttle.failed(b);
        assert!(
            throttle.check(c).is_err(),
            "five failures in all: everyone waits"
        );
    }
}
