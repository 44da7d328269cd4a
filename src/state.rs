//! What the policy remembers between runs: recent recommendations (for the scale-in
//! stabilization window) and how many runs in a row had no signal at all (for the fail-safe). Kept as a small JSON object in S3, written with a
//! conditional put so two overlapping runs can never both act on stale state.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

pub const VERSION: u32 = 1;

/// One run's raw recommendation, before limits and stabilization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recommendation {
    pub at: DateTime<Utc>,
    pub capacity: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    #[serde(default)]
    pub version: u32,
    #[serde(default)]
    pub recommendations: Vec<Recommendation>,
    #[serde(default)]
    pub no_signal_runs: u32,
}

impl State {
    /// Parses stored state. Anything unreadable is an error the caller reports before starting
    /// fresh, which is safe: an empty window only delays a scale-in.
    pub fn decode(bytes: &[u8]) -> Result<State, String> {
        let state: State =
            serde_json::from_slice(bytes).map_err(|e| format!("not valid state JSON: {e}"))?;
        if state.version > VERSION {
            return Err(format!(
                "state version {} is newer than this logscale ({VERSION})",
                state.version
            ));
        }
        Ok(state)
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut s = self.clone();
        s.version = VERSION;
        serde_json::to_vec(&s).expect("state always serializes")
    }

    /// Adds this run's recommendation and forgets those older than `window`.
    pub fn remember(&mut self, at: DateTime<Utc>, capacity: u32, window: Duration) {
        self.recommendations
            .retain(|r| r.at > at - window && r.at <= at);
        self.recommendations.push(Recommendation { at, capacity });
    }

    /// The highest recommendation in the window (this run's included).
    pub fn highest_recent(&self) -> Option<u32> {
        self.recommendations.iter().map(|r| r.capacity).max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn round_trip_and_window() {
        let t0 = Utc.with_ymd_and_hms(2024, 12, 8, 12, 0, 0).unwrap();
        let mut s = State::default();
        for (n, cap) in [5, 3, 2, 2].into_iter().enumerate() {
            s.remember(
                t0 + Duration::minutes(5 * n as i64),
                cap,
                Duration::minutes(15),
            );
        }
        // at 12:15 the 12:00 recommendation has left the 15-minute window
        assert_eq!(s.recommendations.len(), 3);
        assert_eq!(s.highest_recent(), Some(3));
        let back = State::decode(&s.encode()).unwrap();
        assert_eq!(back.recommendations, s.recommendations);
        assert_eq!(back.version, VERSION);
    }

    #[test]
    fn corrupt_or_future_state_is_an_error() {
        assert!(State::decode(b"{not json").is_err());
        assert!(State::decode(br#"{"version": 99}"#)
            .unwrap_err()
            .contains("newer"));
        assert_eq!(State::decode(b"{}").unwrap(), State::default());
    }
}
