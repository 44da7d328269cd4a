//! Scheduled capacity: minimums and maximums by day of week and time of day, in the group's
//! time zone (`LOGSCALE_SCHEDULE`, `LOGSCALE_TIMEZONE`). Pure: the caller passes the instant.
//!
//! # Syntax
//! Rules separated by `;`, each `DAYS WINDOW BOUND [BOUND]`, words separated by spaces:
//!
//! ```text
//! mon-fri 08:00-18:00 min=6; sat,sun 10:00-16:00 min=3 max=8; daily 00:00-06:00 max=4
//! ```
//!
//! - `DAYS`: `mon`, `tue`, `wed`, `thu`, `fri`, `sat`, `sun`, a range (`mon-fri`; `fri-mon`
//!   wraps over the weekend), a list of these without spaces (`mon,wed,fri-sun`), or `daily`.
//! - `WINDOW`: `HH:MM-HH:MM`, 24-hour local time, the start included and the end excluded;
//!   `24:00` is allowed as an end. An end before the start runs past midnight into the next
//!   day: `fri 22:00-06:00` is Friday night until Saturday 06:00.
//! - `BOUND`: `min=N` and/or `max=N`, whole numbers from 0 to 10000, at least one.
//!
//! Day names and `min`/`max` take any case. Blank rules (a trailing `;`) are ignored.
//!
//! # Meaning
//! When several rules match, the highest `min` and the lowest `max` win; should that `min`
//! be above that `max`, [`ScheduledBounds::clamp`] lets the `min` win (a floor is set for a
//! known peak, a cap for cost). Local times follow the zone's daylight-saving rules: a local
//! time the clocks skip never happens, so a window inside the skipped hour does not match that
//! day, and a local time the clocks repeat happens twice, so such a window matches both times.

use std::fmt;

use chrono::{DateTime, Datelike, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use serde::Serialize;
use thiserror::Error;

/// The largest bound, as for the other instance counts: far beyond any group, a typo guard.
pub const MAX_BOUND: u32 = 10_000;

const MINUTES_PER_DAY: u16 = 24 * 60;
const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// A `LOGSCALE_SCHEDULE` that could not be read: which rule, and the word that is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ScheduleError {
    #[error("no rules: expected rules such as `mon-fri 08:00-18:00 min=6`, separated by `;`")]
    NoRules,
    /// `number` counts the rules from 1, blank ones included, as a reader counts semicolons.
    #[error("rule {number} (`{rule}`): {problem}")]
    Rule {
        number: usize,
        rule: String,
        problem: RuleProblem,
    },
}

/// What is wrong in one rule; each names the word it is about.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RuleProblem {
    #[error("`{0}` is not a day: expected mon, tue, wed, thu, fri, sat or sun, a range such as mon-fri, a list such as sat,sun, or daily")]
    NotADay(String),
    #[error("`{0}` is not a time window: expected HH:MM-HH:MM in 24-hour time, 00:00 to 24:00 (24:00 only as an end)")]
    NotAWindow(String),
    #[error("`{0}` starts and ends at the same time: write 00:00-24:00 for the whole day")]
    EmptyWindow(String),
    #[error(
        "`{0}` is not a bound: expected min=N or max=N, N a whole number from 0 to {MAX_BOUND}"
    )]
    NotABound(String),
    #[error("`{0}` sets {1} a second time")]
    RepeatedBound(String, &'static str),
    #[error("`{0}`: min is above max")]
    MinAboveMax(String),
    #[error("the time window is missing after `{0}`: expected HH:MM-HH:MM")]
    MissingWindow(String),
    #[error("no bound after `{0}`: expected min=N and/or max=N")]
    MissingBound(String),
}

impl RuleProblem {
    /// The word of the rule the problem is about.
    pub fn token(&self) -> &str {
        match self {
            RuleProblem::NotADay(t)
            | RuleProblem::NotAWindow(t)
            | RuleProblem::EmptyWindow(t)
            | RuleProblem::NotABound(t)
            | RuleProblem::RepeatedBound(t, _)
            | RuleProblem::MinAboveMax(t)
            | RuleProblem::MissingWindow(t)
            | RuleProblem::MissingBound(t) => t,
        }
    }
}

/// A parsed `LOGSCALE_SCHEDULE`: its rules in the order written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    rules: Vec<Rule>,
}

/// What the schedule asks for at one instant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScheduledBounds {
    /// The highest `min` of the matching rules; `None` when none sets one.
    pub min: Option<u32>,
    /// The lowest `max` of the matching rules; `None` when none sets one.
    pub max: Option<u32>,
    /// The matching rules as written (spaces tidied), for the record.
    pub rules: Vec<String>,
}

impl ScheduledBounds {
    /// No rule matched.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The group's limits narrowed by these bounds, each kept within the group's own: a floor
    /// no lower than its minimum nor higher than its maximum, a cap no higher than its maximum
    /// and no lower than the floor.
    pub fn limits(&self, group: crate::decide::Capacity) -> crate::decide::Capacity {
        let min = self
            .min
            .map_or(group.min, |m| m.clamp(group.min, group.max.max(group.min)));
        let max = self.max.map_or(group.max, |m| m.min(group.max)).max(min);
        crate::decide::Capacity {
            min,
            max,
            desired: group.desired,
        }
    }

    /// `capacity` brought under the `max`, then up to the `min`: when the two conflict, the
    /// floor wins.
    pub fn clamp(&self, capacity: u32) -> u32 {
        let capped = self.max.map_or(capacity, |max| capacity.min(max));
        self.min.map_or(capped, |min| capped.max(min))
    }
}

/// One rule: days, a local time window and its bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    /// The rule as written, its words separated by single spaces.
    text: String,
    /// Bit `n` is the day `n` days from Monday.
    days: u8,
    /// Minutes after local midnight; the start is included, the end excluded.
    start: u16,
    end: u16,
    min: Option<u32>,
    max: Option<u32>,
}

impl Schedule {
    /// Reads the rules of `text` (see the module's documentation for the syntax).
    pub fn parse(text: &str) -> Result<Schedule, ScheduleError> {
        let mut rules = Vec::new();
        for (index, raw) in text.split(';').enumerate() {
            let words: Vec<&str> = raw.split_whitespace().collect();
            if words.is_empty() {
                continue;
            }
            let rule = words.join(" ");
            let parsed = Rule::parse(&words, &rule).map_err(|problem| ScheduleError::Rule {
                number: index + 1,
                rule: rule.clone(),
                problem,
            })?;
            rules.push(parsed);
        }
        if rules.is_empty() {
            return Err(ScheduleError::NoRules);
        }
        Ok(Schedule { rules })
    }

    /// The bounds in force at `at`, read on the clock of `tz`.
    pub fn bounds_at(&self, at: DateTime<Utc>, tz: Tz) -> ScheduledBounds {
        // Converting the instant (never a local time back to an instant) is what makes skipped
        // local times match nothing and repeated ones match twice.
        let local = at.with_timezone(&tz);
        let weekday = local.weekday();
        let minute = (local.hour() * 60 + local.minute()) as u16;
        let mut bounds = ScheduledBounds::default();
        for rule in self.rules.iter().filter(|r| r.matches(weekday, minute)) {
            if let Some(min) = rule.min {
                bounds.min = Some(bounds.min.map_or(min, |m| m.max(min)));
            }
            if let Some(max) = rule.max {
                bounds.max = Some(bounds.max.map_or(max, |m| m.min(max)));
            }
            bounds.rules.push(rule.text.clone());
        }
        bounds
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let texts: Vec<&str> = self.rules.iter().map(|r| r.text.as_str()).collect();
        f.write_str(&texts.join("; "))
    }
}

impl Rule {
    fn parse(words: &[&str], text: &str) -> Result<Rule, RuleProblem> {
        let (days_word, rest) = words.split_first().expect("a rule has words");
        let days = parse_days(days_word)?;
        let Some((window_word, bound_words)) = rest.split_first() else {
            return Err(RuleProblem::MissingWindow(days_word.to_string()));
        };
        let (start, end) = parse_window(window_word)?;
        if bound_words.is_empty() {
            return Err(RuleProblem::MissingBound(window_word.to_string()));
        }
        let (mut min, mut max) = (None, None);
        for word in bound_words {
            let (key, value) = word
                .split_once('=')
                .ok_or_else(|| RuleProblem::NotABound(word.to_string()))?;
            let (slot, name) = match key.to_ascii_lowercase().as_str() {
                "min" => (&mut min, "min"),
                "max" => (&mut max, "max"),
                _ => return Err(RuleProblem::NotABound(word.to_string())),
            };
            let value =
                parse_bound(value).ok_or_else(|| RuleProblem::NotABound(word.to_string()))?;
            if slot.replace(value).is_some() {
                return Err(RuleProblem::RepeatedBound(word.to_string(), name));
            }
        }
        if let (Some(low), Some(high)) = (min, max) {
            if low > high {
                return Err(RuleProblem::MinAboveMax(bound_words.join(" ")));
            }
        }
        Ok(Rule {
            text: text.to_string(),
            days,
            start,
            end,
            min,
            max,
        })
    }

    fn on(&self, day: Weekday) -> bool {
        self.days & (1 << day.num_days_from_monday()) != 0
    }

    /// A window that ends before it starts begins on one of the rule's days and ends the
    /// next morning, so after midnight it is the previous day that must be listed.
    fn matches(&self, day: Weekday, minute: u16) -> bool {
        if self.start < self.end {
            self.on(day) && (self.start..self.end).contains(&minute)
        } else {
            (self.on(day) && minute >= self.start) || (self.on(day.pred()) && minute < self.end)
        }
    }
}

/// `daily`, a day, a range of days or a list of those, as a set of bits from Monday.
fn parse_days(word: &str) -> Result<u8, RuleProblem> {
    let not_a_day = || RuleProblem::NotADay(word.to_string());
    let mut days = 0u8;
    for item in word.split(',') {
        let item = item.to_ascii_lowercase();
        if item == "daily" {
            days = 0b111_1111;
            continue;
        }
        let (first, last) = match item.split_once('-') {
            Some((a, b)) => (day_index(a), day_index(b)),
            None => (day_index(&item), day_index(&item)),
        };
        let (Some(first), Some(last)) = (first, last) else {
            return Err(not_a_day());
        };
        // A range whose last day comes before its first wraps over Sunday (fri-mon).
        let span = (last + 7 - first) % 7;
        for offset in 0..=span {
            days |= 1 << ((first + offset) % 7);
        }
    }
    Ok(days)
}

fn day_index(name: &str) -> Option<u8> {
    DAY_NAMES.iter().position(|d| *d == name).map(|i| i as u8)
}

/// `HH:MM-HH:MM` as minutes after midnight; the start is before 24:00, the end up to it.
fn parse_window(word: &str) -> Result<(u16, u16), RuleProblem> {
    let not_a_window = || RuleProblem::NotAWindow(word.to_string());
    let (start, end) = word.split_once('-').ok_or_else(not_a_window)?;
    let start = parse_time(start).filter(|m| *m < MINUTES_PER_DAY);
    let end = parse_time(end);
    let (Some(start), Some(end)) = (start, end) else {
        return Err(not_a_window());
    };
    if start == end {
        return Err(RuleProblem::EmptyWindow(word.to_string()));
    }
    Ok((start, end))
}

/// `HH:MM`, two digits each, from 00:00 to 24:00.
fn parse_time(text: &str) -> Option<u16> {
    let (hours, minutes) = text.split_once(':')?;
    let two_digits = |s: &str| {
        (s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u16>().ok())
            .flatten()
    };
    let (hours, minutes) = (two_digits(hours)?, two_digits(minutes)?);
    let minute = hours * 60 + minutes;
    (minutes < 60 && minute <= MINUTES_PER_DAY).then_some(minute)
}

fn parse_bound(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u32>().ok().filter(|n| *n <= MAX_BOUND)
}

#[cfg(test)]
mod tests;
