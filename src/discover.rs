//! Which prefixes to list for a window, so that listing costs what the window holds rather than
//! what the bucket has gathered over months.
//!
//! `LOGSCALE_PREFIX` may be a template with time fields — `logs/%Y/%m/%d/%H/` — naming the
//! partitions a shipper writes into (Firehose's default `YYYY/MM/dd/HH/`, Fluent Bit's
//! `s3_key_format`). Then only the partitions that overlap the window are listed. A prefix
//! without fields is listed whole, except an ALB log root, whose objects sit in delivery-date
//! folders (`yyyy/mm/dd/`) and is listed like the template `<root>%Y/%m/%d/`.
//!
//! Times are UTC: Firehose and Fluent Bit name partitions in UTC by default (a stream set to
//! another time zone needs its prefix without fields, or its partitions would be missed).
//! Pure: the window comes from the caller.

use chrono::{DateTime, Datelike, Duration, Months, TimeZone, Timelike, Utc};
use thiserror::Error;

/// How far before the window's start partitions are still listed. A shipper names the
/// partition by a time that can precede the object's LastModified: Firehose by the arrival of
/// the object's oldest record (it buffers up to 900 s), Fluent Bit by the file's first record
/// (it keeps a file open up to `upload_timeout`, 10 minutes by default).
pub const PARTITION_SLACK: Duration = Duration::minutes(15);

/// The most partitions listed one by one; past them, everything under the template's literal
/// head is listed in one go (a window that long is better served by one listing).
pub const MAX_PARTITIONS: usize = 500;

/// A time field of a prefix template, coarsest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TimeField {
    /// `%Y`, four digits.
    Year,
    /// `%m`, two digits.
    Month,
    /// `%d`, two digits.
    Day,
    /// `%H`, two digits, 00–23.
    Hour,
    /// `%M`, two digits.
    Minute,
}

/// A prefix template that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TemplateError {
    #[error("`{field}` is not a time field a prefix can hold: use %Y, %m, %d, %H or %M, and %% for a literal %")]
    UnknownField { field: String },
    #[error("it ends with a lone `%`: write %% for a literal %")]
    TrailingPercent,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Field(TimeField),
}

/// A parsed `LOGSCALE_PREFIX`: literal text and time fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixTemplate {
    pieces: Vec<Piece>,
}

/// How the prefixes of a [`ListingPlan`] were chosen (`logs.discovery.method` in the record).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ListingScope {
    /// A prefix without time fields (and not an ALB root): everything under it, so the
    /// listing grows with the bucket.
    WholePrefix,
    /// An ALB log root: the window's delivery-date folders.
    AlbDeliveryDates,
    /// A templated prefix: the window's partitions.
    Partitions,
    /// A templated prefix over more than [`MAX_PARTITIONS`] partitions: everything under the
    /// literal text before its first field.
    TooManyPartitions,
    /// A plain prefix whose keys sort by time (`LOGSCALE_KEYS_SORTED`): the keys after the last
    /// old one (S3's StartAfter).
    SortedKeys,
    /// Nothing listed: S3's notifications of new objects, drained from an SQS queue
    /// (`LOGSCALE_QUEUE_URL`).
    Queue,
}

/// What to list for a window, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingPlan {
    /// Distinct prefixes, oldest partition first.
    pub prefixes: Vec<String>,
    pub scope: ListingScope,
}

impl ListingPlan {
    /// A sentence for the record when the listing is not bounded by the window.
    pub fn note(&self) -> Option<String> {
        match self.scope {
            ListingScope::WholePrefix => Some(format!(
                "listed everything under {:?}: a prefix with time fields (%Y/%m/%d/%H/) lists only the window's partitions",
                self.prefixes.first().map_or("", String::as_str)
            )),
            ListingScope::TooManyPartitions => Some(format!(
                "the window spans more than {MAX_PARTITIONS} partitions: listed everything under {:?}",
                self.prefixes.first().map_or("", String::as_str)
            )),
            ListingScope::AlbDeliveryDates
            | ListingScope::Partitions
            | ListingScope::SortedKeys
            | ListingScope::Queue => None,
        }
    }
}

impl PrefixTemplate {
    /// Reads `%Y %m %d %H %M` as time fields and `%%` as a `%`; any other `%` is an error.
    pub fn parse(text: &str) -> Result<PrefixTemplate, TemplateError> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                literal.push(c);
                continue;
            }
            let field = match chars.next() {
                None => return Err(TemplateError::TrailingPercent),
                Some('%') => {
                    literal.push('%');
                    continue;
                }
                Some('Y') => TimeField::Year,
                Some('m') => TimeField::Month,
                Some('d') => TimeField::Day,
                Some('H') => TimeField::Hour,
                Some('M') => TimeField::Minute,
                Some(other) => {
                    return Err(TemplateError::UnknownField {
                        field: format!("%{other}"),
                    })
                }
            };
            if !literal.is_empty() {
                pieces.push(Piece::Literal(std::mem::take(&mut literal)));
            }
            pieces.push(Piece::Field(field));
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        Ok(PrefixTemplate { pieces })
    }

    /// The finest field, which sets the partitions' length; `None` for a plain prefix.
    fn finest_field(&self) -> Option<TimeField> {
        self.pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Field(f) => Some(*f),
                Piece::Literal(_) => None,
            })
            .max()
    }

    /// The literal text before the first field: every partition lies under it.
    pub fn literal_head(&self) -> &str {
        match self.pieces.first() {
            Some(Piece::Literal(text)) => text,
            _ => "",
        }
    }

    /// The prefix of the partition holding `at`.
    fn render(&self, at: DateTime<Utc>) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Literal(text) => out.push_str(text),
                Piece::Field(TimeField::Year) => out.push_str(&format!("{:04}", at.year())),
                Piece::Field(TimeField::Month) => out.push_str(&format!("{:02}", at.month())),
                Piece::Field(TimeField::Day) => out.push_str(&format!("{:02}", at.day())),
                Piece::Field(TimeField::Hour) => out.push_str(&format!("{:02}", at.hour())),
                Piece::Field(TimeField::Minute) => out.push_str(&format!("{:02}", at.minute())),
            }
        }
        out
    }

    /// What to list for objects last modified in `(start, end]`: the partitions from the one
    /// holding `start - slack` to the one holding `end`. A window that ends before it starts
    /// lists the partition of its end.
    pub fn plan(&self, start: DateTime<Utc>, end: DateTime<Utc>, slack: Duration) -> ListingPlan {
        let Some(step) = self.finest_field() else {
            let prefix = self.literal_head().to_string();
            return match alb_delivery_dates(&prefix) {
                Some(alb) => ListingPlan {
                    scope: ListingScope::AlbDeliveryDates,
                    ..alb.plan(start, end, slack)
                },
                None => ListingPlan {
                    prefixes: vec![prefix],
                    scope: ListingScope::WholePrefix,
                },
            };
        };
        let from = start.checked_sub_signed(slack).unwrap_or(start).min(end);
        let mut partition = floor(from, step);
        let mut prefixes: Vec<String> = Vec::new();
        let mut partitions = 0;
        while partition <= end {
            partitions += 1;
            if partitions > MAX_PARTITIONS {
                return ListingPlan {
                    prefixes: vec![self.literal_head().to_string()],
                    scope: ListingScope::TooManyPartitions,
                };
            }
            // A template without its coarser fields (`logs/%H/`) names the same partition
            // again a day later: it is listed once.
            let prefix = self.render(partition);
            if !prefixes.contains(&prefix) {
                prefixes.push(prefix);
            }
            match next(partition, step) {
                Some(later) => partition = later,
                None => break,
            }
        }
        ListingPlan {
            prefixes,
            scope: ListingScope::Partitions,
        }
    }
}

/// An ALB log root (`…/AWSLogs/<12-digit account>/elasticloadbalancing/<region>/`) as the
/// template of its delivery-date folders.
fn alb_delivery_dates(prefix: &str) -> Option<PrefixTemplate> {
    let parts: Vec<&str> = prefix.trim_end_matches('/').rsplit('/').take(4).collect();
    let is_alb_root = prefix.ends_with('/')
        && matches!(parts.as_slice(), [region, "elasticloadbalancing", account, "AWSLogs"]
            if account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) && !region.is_empty());
    is_alb_root.then(|| PrefixTemplate {
        pieces: vec![
            Piece::Literal(prefix.to_string()),
            Piece::Field(TimeField::Year),
            Piece::Literal("/".into()),
            Piece::Field(TimeField::Month),
            Piece::Literal("/".into()),
            Piece::Field(TimeField::Day),
            Piece::Literal("/".into()),
        ],
    })
}

/// The start of the partition holding `at`.
fn floor(at: DateTime<Utc>, step: TimeField) -> DateTime<Utc> {
    let (month, day, hour, minute) = match step {
        TimeField::Year => (1, 1, 0, 0),
        TimeField::Month => (at.month(), 1, 0, 0),
        TimeField::Day => (at.month(), at.day(), 0, 0),
        TimeField::Hour => (at.month(), at.day(), at.hour(), 0),
        TimeField::Minute => (at.month(), at.day(), at.hour(), at.minute()),
    };
    Utc.with_ymd_and_hms(at.year(), month, day, hour, minute, 0)
        .single()
        .expect("every such time exists once in UTC")
}

/// The start of the next partition (months and years by the calendar).
fn next(partition: DateTime<Utc>, step: TimeField) -> Option<DateTime<Utc>> {
    match step {
        TimeField::Year => partition.checked_add_months(Months::new(12)),
        TimeField::Month => partition.checked_add_months(Months::new(1)),
        TimeField::Day => partition.checked_add_signed(Duration::days(1)),
        TimeField::Hour => partition.checked_add_signed(Duration::hours(1)),
        TimeField::Minute => partition.checked_add_signed(Duration::minutes(1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    /// The prefixes for `(start, end]` with no slack.
    fn listed(template: &str, start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<String> {
        PrefixTemplate::parse(template)
            .unwrap()
            .plan(start, end, Duration::zero())
            .prefixes
    }

    #[test]
    fn hour_partitions_overlapping_the_window() {
        let hourly = "logs/%Y/%m/%d/%H/";
        // (template, start, end, expected)
        let cases: &[(DateTime<Utc>, DateTime<Utc>, &[&str])] = &[
            // Five minutes inside one hour.
            (
                at(2024, 12, 8, 12, 30),
                at(2024, 12, 8, 12, 35),
                &["logs/2024/12/08/12/"],
            ),
            // Five minutes across an hour.
            (
                at(2024, 12, 8, 12, 58),
                at(2024, 12, 8, 13, 3),
                &["logs/2024/12/08/12/", "logs/2024/12/08/13/"],
            ),
            // Across midnight.
            (
                at(2024, 12, 8, 23, 58),
                at(2024, 12, 9, 0, 3),
                &["logs/2024/12/08/23/", "logs/2024/12/09/00/"],
            ),
            // Across a month's end (a 30-day month).
            (
                at(2024, 11, 30, 23, 55),
                at(2024, 12, 1, 0, 0),
                &["logs/2024/11/30/23/", "logs/2024/12/01/00/"],
            ),
            // Across February's end in a leap year.
            (
                at(2024, 2, 29, 23, 59),
                at(2024, 3, 1, 0, 1),
                &["logs/2024/02/29/23/", "logs/2024/03/01/00/"],
            ),
            // Across the year's end.
            (
                at(2024, 12, 31, 23, 57),
                at(2025, 1, 1, 0, 2),
                &["logs/2024/12/31/23/", "logs/2025/01/01/00/"],
            ),
            // An end exactly on the hour belongs to the new hour (the window is closed there).
            (
                at(2024, 12, 8, 12, 55),
                at(2024, 12, 8, 13, 0),
                &["logs/2024/12/08/12/", "logs/2024/12/08/13/"],
            ),
            // Three hours.
            (
                at(2024, 12, 8, 10, 30),
                at(2024, 12, 8, 12, 30),
                &[
                    "logs/2024/12/08/10/",
                    "logs/2024/12/08/11/",
                    "logs/2024/12/08/12/",
                ],
            ),
        ];
        for (start, end, want) in cases {
            assert_eq!(listed(hourly, *start, *end), *want, "{start} → {end}");
        }
    }

    #[test]
    fn minute_day_month_and_year_partitions() {
        assert_eq!(
            listed(
                "app/%Y-%m-%d/%H:%M/",
                at(2024, 12, 31, 23, 58),
                at(2025, 1, 1, 0, 1)
            ),
            [
                "app/2024-12-31/23:58/",
                "app/2024-12-31/23:59/",
                "app/2025-01-01/00:00/",
                "app/2025-01-01/00:01/",
            ]
        );
        assert_eq!(
            listed("d/%Y%m%d/", at(2024, 12, 31, 23, 58), at(2025, 1, 1, 0, 1)),
            ["d/20241231/", "d/20250101/"]
        );
        assert_eq!(
            listed("m/%Y/%m/", at(2024, 1, 31, 23, 0), at(2024, 3, 1, 0, 0)),
            ["m/2024/01/", "m/2024/02/", "m/2024/03/"]
        );
        assert_eq!(
            listed("y/%Y/", at(2024, 12, 31, 23, 0), at(2025, 1, 1, 1, 0)),
            ["y/2024/", "y/2025/"]
        );
    }

    #[test]
    fn the_slack_reaches_back_to_earlier_partitions() {
        let template = PrefixTemplate::parse("logs/%Y/%m/%d/%H/").unwrap();
        let (start, end) = (at(2024, 12, 9, 0, 5), at(2024, 12, 9, 0, 10));
        assert_eq!(
            template.plan(start, end, PARTITION_SLACK).prefixes,
            ["logs/2024/12/08/23/", "logs/2024/12/09/00/"],
            "an object named for 23:55 may be last modified at 00:07"
        );
        assert_eq!(
            template.plan(start, end, Duration::zero()).prefixes,
            ["logs/2024/12/09/00/"]
        );
        // Later in the hour the slack stays inside it.
        let later = template.plan(
            at(2024, 12, 9, 0, 30),
            at(2024, 12, 9, 0, 35),
            PARTITION_SLACK,
        );
        assert_eq!(later.prefixes, ["logs/2024/12/09/00/"]);
        assert_eq!(later.scope, ListingScope::Partitions);
        assert_eq!(later.note(), None);
    }

    #[test]
    fn a_template_without_its_coarser_fields_lists_each_partition_once() {
        let prefixes = listed("logs/%H/", at(2024, 12, 8, 0, 0), at(2024, 12, 9, 12, 0));
        assert_eq!(prefixes.len(), 24);
        assert_eq!(prefixes[0], "logs/00/");
        assert_eq!(prefixes[23], "logs/23/");
    }

    #[test]
    fn past_the_cap_the_literal_head_is_listed_whole() {
        let template = PrefixTemplate::parse("logs/app-%Y/%m/%d/%H/").unwrap();
        let start = at(2024, 12, 1, 0, 0);
        // 500 hours fit …
        let fits = template.plan(
            start,
            start + Duration::hours(MAX_PARTITIONS as i64 - 1),
            Duration::zero(),
        );
        assert_eq!(fits.scope, ListingScope::Partitions);
        assert_eq!(fits.prefixes.len(), MAX_PARTITIONS);
        // … one more does not.
        let too_many = template.plan(
            start,
            start + Duration::hours(MAX_PARTITIONS as i64),
            Duration::zero(),
        );
        assert_eq!(too_many.scope, ListingScope::TooManyPartitions);
        assert_eq!(too_many.prefixes, ["logs/app-"]);
        let note = too_many.note().unwrap();
        assert!(note.contains("more than 500 partitions"), "{note}");
        // A field first: the head is the whole bucket.
        let bare = PrefixTemplate::parse("%Y/%m/%d/%H/%M/").unwrap();
        assert_eq!(
            bare.plan(start, start + Duration::days(1), Duration::zero())
                .prefixes,
            [""]
        );
    }

    #[test]
    fn percent_percent_is_a_literal_percent() {
        assert_eq!(
            listed("100%%/%Y/", at(2024, 12, 8, 12, 0), at(2024, 12, 8, 12, 5)),
            ["100%/2024/"]
        );
        let plain = PrefixTemplate::parse("a%%b/").unwrap();
        let plan = plain.plan(
            at(2024, 12, 8, 12, 0),
            at(2024, 12, 8, 12, 5),
            PARTITION_SLACK,
        );
        assert_eq!(plan.prefixes, ["a%b/"]);
        assert_eq!(plan.scope, ListingScope::WholePrefix);
    }

    #[test]
    fn other_fields_are_refused_by_name() {
        for (template, field) in [
            ("logs/%Y/%m/%d/%H/%S/", "%S"),
            ("logs/%y/", "%y"),
            ("logs/%j/", "%j"),
            ("logs/%-d/", "%-"),
            ("logs/%/", "%/"),
        ] {
            let err = PrefixTemplate::parse(template).unwrap_err();
            assert_eq!(
                err,
                TemplateError::UnknownField {
                    field: field.into()
                },
                "{template}"
            );
            assert!(err.to_string().contains(field), "{err}");
        }
        assert_eq!(
            PrefixTemplate::parse("logs/%"),
            Err(TemplateError::TrailingPercent)
        );
    }

    #[test]
    fn a_prefix_without_fields_is_listed_whole() {
        for plain in [
            "logs/",
            "",
            "logs/app-",
            "x/AWSLogs/123/elasticloadbalancing/us-east-1/",
        ] {
            let plan = PrefixTemplate::parse(plain).unwrap().plan(
                at(2024, 12, 8, 12, 30),
                at(2024, 12, 8, 12, 35),
                PARTITION_SLACK,
            );
            assert_eq!(plan.prefixes, [plain], "{plain}");
            assert_eq!(plan.scope, ListingScope::WholePrefix);
            assert!(
                plan.note().unwrap().contains("listed everything"),
                "{plain}"
            );
        }
    }

    #[test]
    fn alb_prefixes_are_listed_by_delivery_date() {
        let alb = "lb/AWSLogs/123456789012/elasticloadbalancing/us-east-1/";
        let t = |d, h, m| at(2024, 12, d, h, m);
        let plan = |prefix: &str, start, end| {
            PrefixTemplate::parse(prefix)
                .unwrap()
                .plan(start, end, PARTITION_SLACK)
        };
        let one_day = plan(alb, t(8, 12, 30), t(8, 12, 35));
        assert_eq!(one_day.prefixes, [format!("{alb}2024/12/08/")]);
        assert_eq!(one_day.scope, ListingScope::AlbDeliveryDates);
        assert_eq!(
            plan(alb, t(8, 23, 58), t(9, 0, 3)).prefixes,
            [format!("{alb}2024/12/08/"), format!("{alb}2024/12/09/")]
        );
        // A file for the interval ending 23:55 can be delivered after midnight.
        assert_eq!(
            plan(alb, t(9, 0, 5), t(9, 0, 10)).prefixes,
            [format!("{alb}2024/12/08/"), format!("{alb}2024/12/09/")]
        );
        for other in [
            "logs/",
            "",
            "lb/AWSLogs/123/elasticloadbalancing/us-east-1/",
            "x/AWSLogs/123456789012/elasticloadbalancing/us-east-1",
        ] {
            assert_eq!(
                plan(other, t(8, 12, 30), t(8, 12, 35)).prefixes,
                [other.to_string()],
                "{other}"
            );
        }
    }

    #[test]
    fn a_window_ending_before_it_starts_lists_its_end() {
        assert_eq!(
            listed(
                "logs/%Y/%m/%d/%H/",
                at(2024, 12, 8, 14, 0),
                at(2024, 12, 8, 12, 35)
            ),
            ["logs/2024/12/08/12/"]
        );
    }
}
