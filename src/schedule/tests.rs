use chrono::{Duration, TimeZone};
use chrono_tz::America::New_York;
use chrono_tz::Europe::Paris;
use chrono_tz::UTC;

use super::*;

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

fn schedule(text: &str) -> Schedule {
    Schedule::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// 2025-03-03 is a Monday; `day` counts from it, so 0..7 is Monday to Sunday.
fn week_day(day: u32, h: u32, mi: u32) -> DateTime<Utc> {
    utc(2025, 3, 3, 0, 0) + Duration::days(day.into()) + Duration::minutes((h * 60 + mi).into())
}

fn matches(s: &Schedule, at: DateTime<Utc>, tz: Tz) -> bool {
    !s.bounds_at(at, tz).is_empty()
}

/// The days (in UTC) on which the rule matches at noon.
fn days_matched_at_noon(text: &str) -> Vec<&'static str> {
    let s = schedule(text);
    (0..7)
        .filter(|d| matches(&s, week_day(*d, 12, 0), UTC))
        .map(|d| DAY_NAMES[d as usize])
        .collect()
}

/// How many minutes from `from` (for `minutes` minutes) the schedule matches.
fn minutes_matched(s: &Schedule, from: DateTime<Utc>, minutes: i64, tz: Tz) -> usize {
    (0..minutes)
        .filter(|m| matches(s, from + Duration::minutes(*m), tz))
        .count()
}

#[test]
fn the_documented_example_parses() {
    let text =
        "mon-fri 08:00-18:00 min=6; sat,sun 10:00-16:00 min=3 max=8; daily 00:00-06:00 max=4";
    let s = schedule(text);
    assert_eq!(s.to_string(), text);
    // Tuesday 09:00: the weekday floor only.
    let b = s.bounds_at(week_day(1, 9, 0), UTC);
    assert_eq!(
        b,
        ScheduledBounds {
            min: Some(6),
            max: None,
            rules: vec!["mon-fri 08:00-18:00 min=6".to_string()],
        }
    );
    // Saturday 11:00: both bounds of the weekend rule.
    let b = s.bounds_at(week_day(5, 11, 0), UTC);
    assert_eq!((b.min, b.max), (Some(3), Some(8)));
    // Wednesday 03:00: the night cap alone.
    let b = s.bounds_at(week_day(2, 3, 0), UTC);
    assert_eq!((b.min, b.max), (None, Some(4)));
    // Wednesday 20:00: nothing.
    assert_eq!(
        s.bounds_at(week_day(2, 20, 0), UTC),
        ScheduledBounds::default()
    );
}

#[test]
fn spaces_case_and_blank_rules_are_tolerated() {
    let s = schedule("  MON-Fri   08:00-18:00\tMIN=6 ;; ; daily 00:00-24:00 Max=9 ;");
    assert_eq!(
        s.to_string(),
        "MON-Fri 08:00-18:00 MIN=6; daily 00:00-24:00 Max=9"
    );
    let b = s.bounds_at(week_day(0, 8, 0), UTC);
    assert_eq!((b.min, b.max), (Some(6), Some(9)));
}

#[test]
fn each_error_names_its_rule_and_token() {
    use RuleProblem::*;
    let cases: &[(&str, usize, RuleProblem)] = &[
        ("weekdays 08:00-18:00 min=6", 1, NotADay("weekdays".into())),
        ("mon-fry 08:00-18:00 min=6", 1, NotADay("mon-fry".into())),
        ("mon, 08:00-18:00 min=6", 1, NotADay("mon,".into())),
        ("monday 08:00-18:00 min=6", 1, NotADay("monday".into())),
        (
            "mon-tue-wed 08:00-18:00 min=6",
            1,
            NotADay("mon-tue-wed".into()),
        ),
        ("mon 8:00-18:00 min=6", 1, NotAWindow("8:00-18:00".into())),
        ("mon 08:00-25:00 min=6", 1, NotAWindow("08:00-25:00".into())),
        ("mon 08:00-24:01 min=6", 1, NotAWindow("08:00-24:01".into())),
        ("mon 24:00-06:00 min=6", 1, NotAWindow("24:00-06:00".into())),
        ("mon 08:60-09:00 min=6", 1, NotAWindow("08:60-09:00".into())),
        ("mon 08:00 min=6", 1, NotAWindow("08:00".into())),
        ("mon 08h00-18h00 min=6", 1, NotAWindow("08h00-18h00".into())),
        ("mon min=6", 1, NotAWindow("min=6".into())),
        (
            "mon 08:00-08:00 min=6",
            1,
            EmptyWindow("08:00-08:00".into()),
        ),
        ("mon", 1, MissingWindow("mon".into())),
        ("mon 08:00-18:00", 1, MissingBound("08:00-18:00".into())),
        ("mon 08:00-18:00 min=six", 1, NotABound("min=six".into())),
        ("mon 08:00-18:00 min=-1", 1, NotABound("min=-1".into())),
        ("mon 08:00-18:00 min=+1", 1, NotABound("min=+1".into())),
        ("mon 08:00-18:00 min=1.5", 1, NotABound("min=1.5".into())),
        (
            "mon 08:00-18:00 max=10001",
            1,
            NotABound("max=10001".into()),
        ),
        ("mon 08:00-18:00 min=", 1, NotABound("min=".into())),
        ("mon 08:00-18:00 min", 1, NotABound("min".into())),
        ("mon 08:00-18:00 floor=3", 1, NotABound("floor=3".into())),
        (
            "mon 08:00-18:00 min=2 min=3",
            1,
            RepeatedBound("min=3".into(), "min"),
        ),
        (
            "mon 08:00-18:00 max=2 MAX=3",
            1,
            RepeatedBound("MAX=3".into(), "max"),
        ),
        (
            "mon 08:00-18:00 min=8 max=4",
            1,
            MinAboveMax("min=8 max=4".into()),
        ),
        (
            "mon-fri 08:00-18:00 min=6; sat 10:00 min=3",
            2,
            NotAWindow("10:00".into()),
        ),
        // Blank rules count, so the number is the one a reader finds by counting semicolons.
        (
            "mon 08:00-18:00 min=6;; bad 10:00-11:00 min=1",
            3,
            NotADay("bad".into()),
        ),
    ];
    for (text, number, problem) in cases {
        let err = Schedule::parse(text).unwrap_err();
        let ScheduleError::Rule {
            number: got_number,
            problem: ref got_problem,
            ref rule,
        } = err
        else {
            panic!("{text}: {err:?}");
        };
        assert_eq!((got_number, got_problem), (*number, problem), "{text}");
        let message = err.to_string();
        assert!(
            message.starts_with(&format!("rule {number} (`{rule}`): ")),
            "{message}"
        );
        assert!(
            message.contains(&format!("`{}`", problem.token())),
            "{text}: {message}"
        );
    }
}

#[test]
fn a_schedule_needs_a_rule() {
    for text in ["", "   ", " ; ;"] {
        assert_eq!(
            Schedule::parse(text),
            Err(ScheduleError::NoRules),
            "{text:?}"
        );
    }
}

#[test]
fn days_single_ranges_lists_and_daily() {
    assert_eq!(days_matched_at_noon("wed 00:00-24:00 min=1"), ["wed"]);
    assert_eq!(
        days_matched_at_noon("mon-fri 00:00-24:00 min=1"),
        ["mon", "tue", "wed", "thu", "fri"]
    );
    // A range that ends before it starts wraps over the weekend.
    assert_eq!(
        days_matched_at_noon("fri-mon 00:00-24:00 min=1"),
        ["mon", "fri", "sat", "sun"]
    );
    assert_eq!(
        days_matched_at_noon("sat-tue 00:00-24:00 min=1"),
        ["mon", "tue", "sat", "sun"]
    );
    assert_eq!(days_matched_at_noon("sun-sun 00:00-24:00 min=1"), ["sun"]);
    assert_eq!(
        days_matched_at_noon("mon,wed,fri-sun 00:00-24:00 min=1"),
        ["mon", "wed", "fri", "sat", "sun"]
    );
    assert_eq!(
        days_matched_at_noon("Sat,SUN 00:00-24:00 min=1"),
        ["sat", "sun"]
    );
    assert_eq!(days_matched_at_noon("daily 00:00-24:00 min=1"), DAY_NAMES);
}

#[test]
fn windows_include_their_start_and_exclude_their_end() {
    let s = schedule("tue 08:00-18:00 min=6");
    assert!(!matches(&s, week_day(1, 7, 59), UTC));
    assert!(matches(&s, week_day(1, 8, 0), UTC));
    assert!(matches(
        &s,
        week_day(1, 17, 59) + Duration::seconds(59),
        UTC
    ));
    assert!(!matches(&s, week_day(1, 18, 0), UTC));
    // Another day at the same hour.
    assert!(!matches(&s, week_day(2, 9, 0), UTC));
}

#[test]
fn an_overnight_window_runs_into_the_next_morning() {
    let s = schedule("fri 22:00-06:00 min=2");
    assert!(!matches(&s, week_day(4, 21, 59), UTC), "Friday before");
    assert!(matches(&s, week_day(4, 22, 0), UTC), "Friday night");
    assert!(matches(&s, week_day(4, 23, 59), UTC));
    assert!(
        matches(&s, week_day(5, 0, 0), UTC),
        "Saturday after midnight"
    );
    assert!(matches(&s, week_day(5, 5, 59), UTC));
    assert!(
        !matches(&s, week_day(5, 6, 0), UTC),
        "Saturday 06:00 ends it"
    );
    assert!(
        !matches(&s, week_day(5, 22, 30), UTC),
        "Saturday is not listed"
    );
    assert!(
        !matches(&s, week_day(4, 3, 0), UTC),
        "Friday morning belongs to Thursday"
    );
    assert!(!matches(&s, week_day(3, 23, 0), UTC), "Thursday night");

    // Sunday night runs into Monday morning: the week wraps too.
    let s = schedule("sun 22:00-02:00 max=3");
    assert!(matches(&s, week_day(0, 1, 0), UTC), "Monday 01:00");
    assert!(matches(&s, week_day(6, 23, 0), UTC), "Sunday 23:00");
    assert!(!matches(&s, week_day(6, 1, 0), UTC), "Sunday 01:00");

    // Every day's night: 8 hours a day.
    let s = schedule("daily 22:00-06:00 max=2");
    assert_eq!(
        minutes_matched(&s, week_day(0, 0, 0), 7 * 1440, UTC),
        7 * 8 * 60
    );
}

#[test]
fn midnight_as_an_end_is_24_00() {
    let s = schedule("daily 18:00-24:00 max=4");
    assert!(matches(&s, week_day(2, 23, 59), UTC));
    assert!(
        !matches(&s, week_day(3, 0, 0), UTC),
        "the next day's midnight"
    );
    assert_eq!(minutes_matched(&s, week_day(0, 0, 0), 1440, UTC), 6 * 60);

    let s = schedule("mon 00:00-24:00 min=1");
    assert!(matches(&s, week_day(0, 0, 0), UTC));
    assert!(matches(&s, week_day(0, 23, 59), UTC));
    assert!(!matches(&s, week_day(1, 0, 0), UTC));
    assert!(!matches(&s, week_day(6, 23, 59), UTC));

    // 00:00 as an end is the same midnight, read as a window that ends before it starts.
    let a = schedule("mon 22:00-00:00 min=1");
    let b = schedule("mon 22:00-24:00 min=1");
    for minute in (0..7 * 1440).step_by(15) {
        let at = week_day(0, 0, 0) + Duration::minutes(minute);
        assert_eq!(matches(&a, at, UTC), matches(&b, at, UTC), "{at}");
    }
}

#[test]
fn overlapping_rules_take_the_highest_min_and_the_lowest_max() {
    let s = schedule(
        "mon-fri 08:00-18:00 min=6 max=20; mon 09:00-10:00 min=10; daily 00:00-24:00 min=2 max=12; tue 12:00-13:00 max=8",
    );
    // Monday 09:30: three rules; the highest min (10) and the lowest max (12).
    let b = s.bounds_at(week_day(0, 9, 30), UTC);
    assert_eq!((b.min, b.max), (Some(10), Some(12)));
    assert_eq!(
        b.rules,
        [
            "mon-fri 08:00-18:00 min=6 max=20",
            "mon 09:00-10:00 min=10",
            "daily 00:00-24:00 min=2 max=12",
        ]
    );
    // Tuesday 12:30: min 6 from the weekday rule, max 8 from the lunch rule.
    let b = s.bounds_at(week_day(1, 12, 30), UTC);
    assert_eq!((b.min, b.max), (Some(6), Some(8)));
    assert_eq!(b.rules.len(), 3);
    // Saturday: the daily rule alone.
    let b = s.bounds_at(week_day(5, 12, 30), UTC);
    assert_eq!((b.min, b.max), (Some(2), Some(12)));
    assert_eq!(b.rules, ["daily 00:00-24:00 min=2 max=12"]);
}

#[test]
fn clamp_caps_then_floors_so_a_conflicting_min_wins() {
    let bounds = |min, max| ScheduledBounds {
        min,
        max,
        rules: vec!["r".into()],
    };
    assert_eq!(ScheduledBounds::default().clamp(7), 7);
    assert_eq!(bounds(Some(3), Some(8)).clamp(1), 3);
    assert_eq!(bounds(Some(3), Some(8)).clamp(5), 5);
    assert_eq!(bounds(Some(3), Some(8)).clamp(12), 8);
    assert_eq!(bounds(None, Some(0)).clamp(4), 0);
    // Two rules in conflict: min 6 from one, max 4 from another.
    let s = schedule("daily 00:00-24:00 min=6; daily 00:00-24:00 max=4");
    let b = s.bounds_at(week_day(0, 0, 0), UTC);
    assert_eq!((b.min, b.max), (Some(6), Some(4)));
    assert_eq!(b.clamp(2), 6);
    assert_eq!(b.clamp(9), 6);
}

#[test]
fn windows_are_read_in_the_group_time_zone() {
    let s = schedule("mon-fri 08:00-18:00 min=6");
    // Winter, Paris is UTC+1: Monday 08:00 there is 07:00 UTC.
    assert!(!matches(&s, utc(2025, 1, 6, 6, 59), Paris));
    assert!(matches(&s, utc(2025, 1, 6, 7, 0), Paris));
    assert!(!matches(&s, utc(2025, 1, 6, 17, 0), Paris));
    // Summer, UTC+2: 06:00 UTC.
    assert!(matches(&s, utc(2025, 7, 7, 6, 0), Paris));
    assert!(!matches(&s, utc(2025, 7, 7, 16, 0), Paris));
    // New York in winter is UTC−5.
    assert!(matches(&s, utc(2025, 1, 6, 13, 0), New_York));
    assert!(!matches(&s, utc(2025, 1, 6, 12, 59), New_York));

    // The day is the local one too: Sunday 23:30 UTC is Monday 00:30 in Paris.
    let s = schedule("mon 00:00-01:00 min=1");
    assert!(matches(&s, utc(2025, 1, 5, 23, 30), Paris));
    assert!(!matches(&s, utc(2025, 1, 5, 23, 30), UTC));
}

#[test]
fn paris_spring_forward_skips_the_hour_so_it_never_matches() {
    // 2025-03-30: at 01:00 UTC, 02:00 CET becomes 03:00 CEST.
    let skipped = schedule("sun 02:00-03:00 min=5");
    let day = utc(2025, 3, 29, 22, 0); // Sunday 00:00 CET
    assert_eq!(minutes_matched(&skipped, day, 23 * 60, Paris), 0);
    // The Sunday before, an ordinary one, has the whole hour.
    let before = utc(2025, 3, 22, 23, 0);
    assert_eq!(minutes_matched(&skipped, before, 24 * 60, Paris), 60);
    // A window around the gap is an hour shorter in real time.
    let around = schedule("sun 01:00-04:00 min=5");
    assert_eq!(minutes_matched(&around, day, 23 * 60, Paris), 120);
    assert!(
        matches(&around, utc(2025, 3, 30, 0, 59), Paris),
        "01:59 CET"
    );
    assert!(
        matches(&around, utc(2025, 3, 30, 1, 0), Paris),
        "03:00 CEST"
    );
    assert!(
        !matches(&around, utc(2025, 3, 30, 2, 0), Paris),
        "04:00 CEST"
    );
}

#[test]
fn paris_fall_back_repeats_the_hour_so_it_matches_twice() {
    // 2025-10-26: at 01:00 UTC, 03:00 CEST becomes 02:00 CET.
    let repeated = schedule("sun 02:00-03:00 min=5");
    let day = utc(2025, 10, 25, 22, 0); // Sunday 00:00 CEST
    assert_eq!(minutes_matched(&repeated, day, 25 * 60, Paris), 120);
    assert!(
        matches(&repeated, utc(2025, 10, 26, 0, 30), Paris),
        "02:30 CEST"
    );
    assert!(
        matches(&repeated, utc(2025, 10, 26, 1, 30), Paris),
        "02:30 CET"
    );
    assert!(
        !matches(&repeated, utc(2025, 10, 26, 2, 0), Paris),
        "03:00 CET"
    );
    assert!(
        !matches(&repeated, utc(2025, 10, 25, 23, 59), Paris),
        "01:59 CEST"
    );
}

#[test]
fn new_york_spring_forward_and_fall_back() {
    // 2025-03-09: at 07:00 UTC, 02:00 EST becomes 03:00 EDT.
    let s = schedule("sun 02:00-03:00 min=5");
    let spring = utc(2025, 3, 9, 5, 0); // Sunday 00:00 EST
    assert_eq!(minutes_matched(&s, spring, 23 * 60, New_York), 0);
    assert!(!matches(&s, utc(2025, 3, 9, 7, 0), New_York), "03:00 EDT");
    // 2025-11-02: at 06:00 UTC, 02:00 EDT becomes 01:00 EST.
    let s = schedule("sun 01:00-02:00 min=5");
    let fall = utc(2025, 11, 2, 4, 0); // Sunday 00:00 EDT
    assert_eq!(minutes_matched(&s, fall, 25 * 60, New_York), 120);
    assert!(matches(&s, utc(2025, 11, 2, 5, 30), New_York), "01:30 EDT");
    assert!(matches(&s, utc(2025, 11, 2, 6, 30), New_York), "01:30 EST");
    assert!(!matches(&s, utc(2025, 11, 2, 7, 0), New_York), "02:00 EST");
    // An overnight window across the change keeps its local hours: 22:00 to 06:00 local
    // is 9 real hours that night (one repeated), 7 on the spring night.
    let night = schedule("sat 22:00-06:00 max=2");
    let saturday_fall = utc(2025, 11, 1, 4, 0); // Saturday 00:00 EDT
    assert_eq!(
        minutes_matched(&night, saturday_fall, 49 * 60, New_York),
        9 * 60
    );
    let saturday_spring = utc(2025, 3, 8, 5, 0); // Saturday 00:00 EST
    assert_eq!(
        minutes_matched(&night, saturday_spring, 47 * 60, New_York),
        7 * 60
    );
}
