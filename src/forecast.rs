//! Requests per minute over the last weeks, and what they say of the next minutes: a seasonal
//! naive forecast (the same time a day and a week earlier). Pure: times come from the caller.
//!
//! The history is one number per five-minute slot, four weeks of them (8,064), kept in its own
//! object beside the state (gzip JSON, a few tens of kilobytes; [`history_key`]), so the state
//! stays small. A slot
//! no run wrote is `null`, and a forecast needs at least one of its two seasons.

use std::collections::VecDeque;
use std::io::{Read, Write};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// What the history is for (`LOGSCALE_PREDICT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Predict {
    /// No history is kept.
    #[default]
    Off,
    /// The record shows the forecast against what came; decisions ignore it.
    Forecast,
    /// Also a signal: the highest forecast until capacity asked for now would serve, which may
    /// scale out ahead of a rise and never scales in.
    Active,
}

/// Minutes per slot: the schedule's period.
pub const SLOT_MINUTES: i64 = 5;

/// How much further ahead than the warm-up the forecast signal looks (`LOGSCALE_PREDICT=active`):
/// a forecast rise is met by the usual limit per run, not in one step (issue 19), so it is seen
/// two periods early: two runs to prepare it (×9 at the default +200 %).
pub const SIGNAL_LEAD: Duration = Duration::minutes(2 * SLOT_MINUTES);

/// Slots kept: four weeks, so that a week ago is there for three weeks' worth of forecasts.
pub const KEEP_SLOTS: usize = (28 * 24 * 60 / SLOT_MINUTES) as usize;

/// Slots further from the epoch than this (about 950 years) are not a run's.
const MAX_SLOT: i64 = 100_000_000;

/// The format's version; a newer one is refused with its number.
pub const VERSION: u32 = 1;

/// The largest history object read (compressed or not): four weeks of slots are well under it.
pub const MAX_HISTORY_BYTES: usize = 1024 * 1024;

/// Requests per minute, one slot per five minutes, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    version: u32,
    /// The first slot's number (minutes since the epoch / [`SLOT_MINUTES`]).
    first_slot: i64,
    values: VecDeque<Option<f32>>,
}

/// What the history says of one time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Forecast {
    pub requests_per_minute: f64,
    /// Which seasons it rests on: `day`, `week` or `day_and_week` (their smaller).
    pub from: Season,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Season {
    Day,
    Week,
    DayAndWeek,
}

fn slot_of(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(60 * SLOT_MINUTES)
}

impl History {
    /// Remembers `requests_per_minute` for the slot of `at` (a later value for the same slot
    /// replaces it), and forgets slots older than [`KEEP_SLOTS`].
    pub fn record(&mut self, at: DateTime<Utc>, requests_per_minute: f64) {
        if !requests_per_minute.is_finite() || requests_per_minute < 0.0 {
            return;
        }
        let slot = slot_of(at);
        // Slots a day past this time were not written by a run (the object sits in a bucket
        // others may write): such a history would never take a value again, so it restarts.
        let newest = self.first_slot + self.values.len() as i64 - 1;
        if self.values.is_empty() || newest > slot + 24 * 60 / SLOT_MINUTES {
            self.values.clear();
            self.first_slot = slot;
        }
        if slot < self.first_slot {
            // Older than everything kept: only if it still falls within the kept span.
            let back = (self.first_slot - slot) as usize;
            if back + self.values.len() > KEEP_SLOTS {
                return;
            }
            for _ in 0..back {
                self.values.push_front(None);
            }
            self.first_slot = slot;
        }
        let index = (slot - self.first_slot) as usize;
        if index >= KEEP_SLOTS + self.values.len() {
            // A jump beyond everything kept (a long pause): start again from here.
            self.values.clear();
            self.first_slot = slot;
        }
        let index = (slot - self.first_slot) as usize;
        while self.values.len() <= index {
            self.values.push_back(None);
        }
        self.values[index] = Some(requests_per_minute as f32);
        while self.values.len() > KEEP_SLOTS {
            self.values.pop_front();
            self.first_slot += 1;
        }
    }

    /// The requests per minute recorded for the slot of `at`.
    pub fn at(&self, at: DateTime<Utc>) -> Option<f64> {
        let index = slot_of(at) - self.first_slot;
        let index = usize::try_from(index).ok()?;
        self.values.get(index).copied().flatten().map(f64::from)
    }

    /// The seasonal naive forecast for `at`: the same time a day earlier, or a week earlier,
    /// and with both, their smaller. Both seasons must have seen a load for it to be forecast:
    /// a one-off peak (a load test, a retry storm) is not prepared for again a day and a week
    /// later, and one forged slot is outvoted by the other season (issue 19). The price: a
    /// weekly rise after a quiet day (Monday after Sunday) is met as it comes.
    pub fn forecast(&self, at: DateTime<Utc>) -> Option<Forecast> {
        let day = self.at(at - Duration::days(1));
        let week = self.at(at - Duration::weeks(1));
        let (requests_per_minute, from) = match (day, week) {
            (Some(d), Some(w)) => (d.min(w), Season::DayAndWeek),
            (Some(d), None) => (d, Season::Day),
            (None, Some(w)) => (w, Season::Week),
            (None, None) => return None,
        };
        Some(Forecast {
            requests_per_minute,
            from,
        })
    }

    /// The highest forecast of the slots from `from` to `to` (both included): what capacity
    /// started now must be ready for.
    pub fn highest_forecast(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Option<Forecast> {
        let mut at = from;
        let mut best: Option<Forecast> = None;
        while at <= to {
            if let Some(f) = self.forecast(at) {
                if best.is_none_or(|b| f.requests_per_minute > b.requests_per_minute) {
                    best = Some(f);
                }
            }
            at += Duration::minutes(SLOT_MINUTES);
        }
        best
    }

    /// How many slots hold a value.
    pub fn recorded(&self) -> usize {
        self.values.iter().filter(|v| v.is_some()).count()
    }

    /// The stored form: gzip of the JSON.
    pub fn encode(&self) -> Vec<u8> {
        let mut h = self.clone();
        h.version = VERSION;
        let json = serde_json::to_vec(&h).expect("history always serializes");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&json).expect("writing to memory");
        gz.finish().expect("writing to memory")
    }

    /// Reads the stored form; anything unreadable, oversized or from a newer version is an
    /// error the caller reports before starting an empty history (a forecast only waits).
    pub fn decode(bytes: &[u8]) -> Result<History, String> {
        if bytes.len() > MAX_HISTORY_BYTES {
            return Err(format!(
                "{} bytes, over the cap of {MAX_HISTORY_BYTES}",
                bytes.len()
            ));
        }
        let mut json = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .take(MAX_HISTORY_BYTES as u64 + 1)
            .read_to_end(&mut json)
            .map_err(|e| format!("not gzip: {e}"))?;
        if json.len() > MAX_HISTORY_BYTES {
            return Err(format!("decodes to over {MAX_HISTORY_BYTES} bytes"));
        }
        let mut h: History =
            serde_json::from_slice(&json).map_err(|e| format!("not history JSON: {e}"))?;
        if h.version > VERSION {
            return Err(format!(
                "history version {} is newer than this logscale ({VERSION})",
                h.version
            ));
        }
        // Written by a run, its slots are times of this era (the bound keeps slot arithmetic
        // far from overflow), and it never holds more than the kept span or a negative rate.
        if !(-MAX_SLOT..=MAX_SLOT).contains(&h.first_slot) {
            return Err(format!(
                "first slot {} is no time a run wrote",
                h.first_slot
            ));
        }
        while h.values.len() > KEEP_SLOTS {
            h.values.pop_front();
            h.first_slot += 1;
        }
        for v in h.values.iter_mut() {
            if v.is_some_and(|r| !r.is_finite() || r < 0.0) {
                *v = None;
            }
        }
        Ok(h)
    }
}

/// The history object's key beside the state's: `logscale-state/web.json` →
/// `logscale-state/web.json.history.gz` (the state's key and a suffix, so one IAM resource
/// pattern covers both whatever `LOGSCALE_STATE_KEY` is).
pub fn history_key(state_key: &str) -> String {
    format!("{state_key}.history.gz")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 12, 2, 0, 0, 0).unwrap()
    }

    #[test]
    fn a_forecast_is_the_smaller_of_a_day_and_a_week_earlier() {
        let mut h = History::default();
        let at = t0() + Duration::weeks(1) + Duration::hours(9);
        assert_eq!(h.forecast(at), None, "nothing recorded yet");
        h.record(at - Duration::weeks(1), 5_000.0);
        assert_eq!(
            h.forecast(at),
            Some(Forecast {
                requests_per_minute: 5_000.0,
                from: Season::Week
            })
        );
        // A one-off peak yesterday (a load test) is outvoted by last week.
        h.record(at - Duration::days(1), 7_000.0);
        let f = h.forecast(at).unwrap();
        assert_eq!(
            (f.requests_per_minute, f.from),
            (5_000.0, Season::DayAndWeek)
        );
        // Within the same five minutes, the same slot.
        assert_eq!(
            h.at(at - Duration::days(1) + Duration::minutes(4)),
            Some(7_000.0)
        );
        assert_eq!(h.at(at - Duration::days(1) + Duration::minutes(5)), None);
    }

    #[test]
    fn a_year_of_runs_keeps_four_weeks_in_a_small_object() {
        let mut h = History::default();
        let runs = 365 * 24 * 12;
        for k in 0..runs {
            let at = t0() + Duration::minutes(5 * i64::from(k));
            let hour = (k / 12) % 24;
            h.record(at, 1_000.0 + 500.0 * f64::from(hour));
        }
        assert_eq!(h.values.len(), KEEP_SLOTS);
        assert_eq!(h.recorded(), KEEP_SLOTS);
        let bytes = h.encode();
        assert!(bytes.len() < 64 * 1024, "{} bytes", bytes.len());
        let back = History::decode(&bytes).unwrap();
        assert_eq!(back.values, h.values);
        let last = t0() + Duration::minutes(5 * i64::from(runs - 1));
        // The same hour a day later is forecast from the day and the week before.
        let f = back.forecast(last + Duration::minutes(5)).unwrap();
        assert_eq!(f.from, Season::DayAndWeek);
    }

    #[test]
    fn gaps_old_values_and_garbage_are_handled() {
        let mut h = History::default();
        h.record(t0(), 100.0);
        // Six weeks later: everything before is forgotten.
        h.record(t0() + Duration::weeks(6), 200.0);
        assert_eq!(h.at(t0()), None);
        assert_eq!(h.recorded(), 1);
        for bad in [f64::NAN, -1.0, f64::INFINITY] {
            h.record(t0() + Duration::weeks(6), bad);
        }
        assert_eq!(h.at(t0() + Duration::weeks(6)), Some(200.0));
        for bytes in [&b"not gzip"[..], &[0x1f, 0x8b, 0, 0][..]] {
            assert!(History::decode(bytes).is_err());
        }
        assert_eq!(
            history_key("logscale-state/web.json"),
            "logscale-state/web.json.history.gz"
        );
    }

    /// A tampered history that starts in the future would never take a value again (every
    /// run's slot lies before it); one whose first slot is absurd would overflow slot sums.
    #[test]
    fn a_history_from_the_future_restarts_and_an_absurd_one_is_refused() {
        let mut future = History::default();
        future.record(t0() + Duration::weeks(3), 900.0);
        future.record(t0(), 100.0);
        assert_eq!(future.at(t0()), Some(100.0), "restarted from this run");
        assert_eq!(future.recorded(), 1);
        for first_slot in [i64::MAX, i64::MIN, MAX_SLOT + 1] {
            let forged = History {
                version: VERSION,
                first_slot,
                values: VecDeque::from([Some(1.0)]),
            };
            let err = History::decode(&forged.encode()).unwrap_err();
            assert!(err.contains("no time a run wrote"), "{err}");
        }
    }
}
