//! Every `LOGSCALE_*` setting in one table: its variable, its SAM template Parameter, its default,
//! what values it allows and what it means.
//!
//! [`crate::config`] parses each variable through its entry here, so a default or a limit is
//! written once. The README's settings tables and `template.yaml`'s Parameters are still written
//! by hand (a reader wants prose there), and a test below fails when either disagrees with this
//! table.

/// What an unset (or empty) variable means.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fallback {
    /// There is no default: the variable must be set.
    Required,
    /// This value, spelled as it would be set; the template's Default is the same.
    Value(&'static str),
    /// Worked out when the variable is unset, as described; the template's Default is blank,
    /// which the function reads as unset.
    Derived(&'static str),
    /// The CLI falls back to `unset`, while the template deploys with `template` (a
    /// conventional value the deployment's IAM policy is scoped to).
    TemplateDiffers {
        unset: &'static str,
        template: &'static str,
    },
}

/// The values a setting accepts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Allowed {
    /// A number from `min` to `max`, inclusive; `whole` refuses fractions.
    Number { min: f64, max: f64, whole: bool },
    /// One of these spellings (any case); a list of numbers is compared by value.
    OneOf(&'static [&'static str]),
    /// `true` or `false` (also `yes`/`no`, `on`/`off`, `1`/`0`, any case).
    Boolean,
    /// An S3 bucket name (the template checks it with an AllowedPattern, `config` in code).
    BucketName,
    /// Any text of at most `max_len` characters.
    Text { max_len: Option<usize> },
    /// One or more names separated by commas.
    List,
    /// Text the template holds to an AllowedPattern and `config` to the same rule in code.
    Pattern(&'static Pattern),
}

/// A text rule written twice, as the template's AllowedPattern (which may use look-ahead, as
/// CloudFormation's Java patterns do) and as the check `config` runs.
#[derive(Debug, Clone, Copy)]
pub struct Pattern {
    pub template: &'static str,
    /// What it allows, for error messages and the README.
    pub describe: &'static str,
    pub check: fn(&str) -> bool,
    /// The template's MaxLength, when it has one.
    pub max_len: Option<usize>,
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Pattern) -> bool {
        self.template == other.template
    }
}

/// Characters S3 calls safe or in need of special handling, less the ones that would widen an
/// IAM ARN or prefix (`*`, `?`: wildcards; `$`, `{`, `}`: policy variables).
fn key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!_.'()&@=;/:+, -".contains(c)
}

/// No space at either end: the template passes a value as typed, the code reads it trimmed, and
/// the two must name the same thing (an IAM prefix, a namespace the alarms read).
fn untrimmed(v: &str) -> bool {
    !v.starts_with(' ') && !v.ends_with(' ')
}

/// A log prefix: key characters (and `%` for the time fields), no `..` segment.
pub const PREFIX_PATTERN: Pattern = Pattern {
    template: "^(?! )(?!.* $)(?!.*[.][.])[A-Za-z0-9!_.'()&@=;/:+, %-]{0,1024}$",
    describe:
        "up to 1024 of A-Z a-z 0-9 ! _ . ' ( ) & @ = ; / : + , % - and inner spaces, without `..`",
    check: |v| {
        v.len() <= 1024
            && untrimmed(v)
            && !v.contains("..")
            && v.chars().all(|c| key_char(c) || c == '%')
    },
    max_len: None,
};

/// The state's key: key characters, room for the history's suffix beside it.
pub const STATE_KEY_PATTERN: Pattern = Pattern {
    template: "^(?! )(?!.* $)(?!.*[.][.])[A-Za-z0-9!_.'()&@=;/:+, -]{0,1013}$",
    describe:
        "up to 1013 of A-Z a-z 0-9 ! _ . ' ( ) & @ = ; / : + , - and inner spaces, without `..`",
    check: |v| v.len() <= 1013 && untrimmed(v) && !v.contains("..") && v.chars().all(key_char),
    max_len: None,
};

/// An Auto Scaling group's name as AWS allows it (printable ASCII but `:`), less what would
/// widen its ARN or the state key derived from it, or break the dashboard's quoted JSON.
pub const GROUP_PATTERN: Pattern = Pattern {
    template: "^(?!.*[.][.])(?!.*[:*?${}])[!#-&(-\\[\\]-~]{1,255}$",
    describe: "1 to 255 printable ASCII characters, none of : * ? $ { } \" ' \\ and no `..`",
    check: |v| {
        (1..=255).contains(&v.len())
            && !v.contains("..")
            && v.bytes()
                .all(|b| (33..=126).contains(&b) && !b":*?${}\"'\\".contains(&b))
    },
    max_len: Some(255),
};

/// A CloudWatch namespace (`off` turns the metrics off).
pub const NAMESPACE_PATTERN: Pattern = Pattern {
    template: "^(?! )(?!.* $)(?!AWS/)[A-Za-z0-9._/#: -]{1,255}$",
    describe: "1 to 255 of A-Z a-z 0-9 . _ / # : - and inner spaces, not under `AWS/`",
    check: |v| {
        (1..=255).contains(&v.len())
            && untrimmed(v)
            && !v.starts_with("AWS/")
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._/#: -".contains(c))
    },
    max_len: Some(255),
};

/// One `LOGSCALE_*` variable.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Setting {
    pub variable: &'static str,
    /// The template Parameter that sets the variable; `None` for CLI and test settings.
    pub parameter: Option<&'static str>,
    pub default: Fallback,
    pub allowed: Allowed,
    /// What it does, as the README says it (Markdown).
    pub meaning: &'static str,
}

/// The template's AllowedPattern for a bucket name; `config` checks the same rules in code.
#[cfg(test)]
pub const BUCKET_NAME_PATTERN: &str = "^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$";

const PERCENT: Allowed = Allowed::Number {
    min: 0.0,
    max: 100.0,
    whole: false,
};
const TARGET_PERCENT: Allowed = Allowed::Number {
    min: 1.0,
    max: 100.0,
    whole: false,
};
/// Up to an hour, for latency thresholds and targets.
const MILLISECONDS: Allowed = Allowed::Number {
    min: 1.0,
    max: 3_600_000.0,
    whole: false,
};
/// Up to a day, for windows.
const MINUTES: Allowed = Allowed::Number {
    min: 1.0,
    max: 1440.0,
    whole: false,
};
const FRACTION: Allowed = Allowed::Number {
    min: 0.0,
    max: 1.0,
    whole: false,
};
/// Instance counts and run counts: far beyond any group, small enough to be a typo guard.
const COUNT: Allowed = Allowed::Number {
    min: 0.0,
    max: 10_000.0,
    whole: true,
};
const KEY: Allowed = Allowed::Text { max_len: None };
const TIME_UNITS: &[&str] = &["s", "ms", "us", "ns"];

pub const BUCKET: Setting = Setting {
    variable: "LOGSCALE_BUCKET",
    parameter: Some("LogBucket"),
    default: Fallback::Required,
    allowed: Allowed::BucketName,
    meaning: "bucket holding the logs",
};
pub const PREFIX: Setting = Setting {
    variable: "LOGSCALE_PREFIX",
    parameter: Some("LogPrefix"),
    default: Fallback::TemplateDiffers {
        unset: "",
        template: "logs/",
    },
    allowed: Allowed::Pattern(&PREFIX_PATTERN),
    meaning: "key prefix of the logs; it may hold the UTC time fields `%Y`, `%m`, `%d`, `%H` and `%M` (`%%` for a `%`), and then only the partitions that overlap the window are listed (see [Discovery](#discovery))",
};
pub const GROUP: Setting = Setting {
    variable: "LOGSCALE_GROUP",
    parameter: Some("GroupName"),
    default: Fallback::Required,
    allowed: Allowed::Pattern(&GROUP_PATTERN),
    meaning: "the Auto Scaling group to size",
};
pub const WINDOW_MINUTES: Setting = Setting {
    variable: "LOGSCALE_WINDOW_MINUTES",
    parameter: Some("WindowMinutes"),
    default: Fallback::Value("5"),
    allowed: MINUTES,
    meaning: "the first run's window, in minutes; later runs read from where the last one ended (see [Windows](#windows-every-object-once))",
};
pub const METRICS_MINUTES: Setting = Setting {
    variable: "LOGSCALE_METRICS_MINUTES",
    parameter: Some("MetricsMinutes"),
    default: Fallback::Value("10"),
    allowed: MINUTES,
    meaning: "CPU and memory are averaged over the last N minutes (basic monitoring publishes every 5 minutes, late)",
};
pub const CPU_HIGH: Setting = Setting {
    variable: "LOGSCALE_CPU_HIGH",
    parameter: Some("CpuHigh"),
    default: Fallback::Value("70"),
    allowed: PERCENT,
    meaning: "original policy: scale out above this average CPU %; default policy: a guard rail (at least one more)",
};
pub const CPU_LOW: Setting = Setting {
    variable: "LOGSCALE_CPU_LOW",
    parameter: Some("CpuLow"),
    default: Fallback::Value("20"),
    allowed: PERCENT,
    meaning: "original policy: scale in below this when the logs are healthy; must be below `LOGSCALE_CPU_HIGH` (checked when the function starts: a template cannot compare two Parameters)",
};
pub const ERROR_RATE: Setting = Setting {
    variable: "LOGSCALE_ERROR_RATE",
    parameter: Some("ErrorRate"),
    default: Fallback::Value("5"),
    allowed: PERCENT,
    meaning: "% of requests that are errors: the original's trigger, the default policy's target and guard rail",
};
pub const SLOW_RATE: Setting = Setting {
    variable: "LOGSCALE_SLOW_RATE",
    parameter: Some("SlowRate"),
    default: Fallback::Value("10"),
    allowed: PERCENT,
    meaning: "% of timed requests that are slow: the same for the slow share",
};
pub const SLOW_MS: Setting = Setting {
    variable: "LOGSCALE_SLOW_MS",
    parameter: Some("SlowMs"),
    default: Fallback::Value("1000"),
    allowed: MILLISECONDS,
    meaning: "a request is slow above this many ms",
};
pub const DRY_RUN: Setting = Setting {
    variable: "LOGSCALE_DRY_RUN",
    parameter: Some("DryRun"),
    default: Fallback::Value("false"),
    allowed: Allowed::Boolean,
    meaning: "decide and record, never call `SetDesiredCapacity`",
};
pub const HONOR_COOLDOWN: Setting = Setting {
    variable: "LOGSCALE_HONOR_COOLDOWN",
    parameter: Some("HonorCooldown"),
    default: Fallback::Value("true"),
    allowed: Allowed::Boolean,
    meaning: "let AWS refuse a change during a cooldown or scaling activity",
};
pub const FETCH_CONCURRENCY: Setting = Setting {
    variable: "LOGSCALE_FETCH_CONCURRENCY",
    parameter: Some("FetchConcurrency"),
    default: Fallback::Value("8"),
    allowed: Allowed::Number {
        min: 1.0,
        max: 64.0,
        whole: true,
    },
    meaning: "log objects read at once",
};
pub const RESERVE_SECONDS: Setting = Setting {
    variable: "LOGSCALE_RESERVE_SECONDS",
    parameter: None,
    default: Fallback::Value("15"),
    allowed: Allowed::Number {
        min: 0.0,
        max: 600.0,
        whole: false,
    },
    meaning: "time kept back from the invocation's deadline for saving the state, acting and the record: listing, reading, observing and loading the state stop at the deadline less this, and what did not answer is named in the record",
};
pub const LAG_SECONDS: Setting = Setting {
    variable: "LOGSCALE_LAG_SECONDS",
    parameter: Some("LagSeconds"),
    default: Fallback::Value("60"),
    allowed: Allowed::Number {
        min: 0.0,
        max: 3600.0,
        whole: true,
    },
    meaning: "the window ends this many seconds before the scheduled time, so objects still being written land in it (shippers flush on the minute; ALB delivers every 5 minutes)",
};
pub const LATE_MINUTES: Setting = Setting {
    variable: "LOGSCALE_LATE_MINUTES",
    parameter: Some("LateMinutes"),
    default: Fallback::Value("10"),
    allowed: Allowed::Number {
        min: 0.0,
        max: 120.0,
        whole: true,
    },
    meaning: "how long after its LastModified an object may first be listed (a multipart upload's LastModified is its start: Fluent Bit keeps one open up to 10 minutes); objects that late are still counted once, by the next run",
};
pub const CATCH_UP_MINUTES: Setting = Setting {
    variable: "LOGSCALE_CATCH_UP_MINUTES",
    parameter: Some("CatchUpMinutes"),
    default: Fallback::Value("30"),
    allowed: Allowed::Number {
        min: 1.0,
        max: 1440.0,
        whole: true,
    },
    meaning: "after missed runs, at most this many minutes of logs are read at once; the span beyond is named in the record",
};
pub const KEYS_SORTED: Setting = Setting {
    variable: "LOGSCALE_KEYS_SORTED",
    parameter: Some("KeysSorted"),
    default: Fallback::Value("false"),
    allowed: Allowed::Boolean,
    meaning: "keys under a plain prefix sort by time (a shipper's `%Y%m%d%H%M%S…` names, CloudFront's `<distribution>.YYYY-MM-DD-HH.`): after the first run, each lists only the keys after the last old one (S3's StartAfter), see [Discovery](#discovery)",
};
pub const QUEUE_URL: Setting = Setting {
    variable: "LOGSCALE_QUEUE_URL",
    parameter: None,
    default: Fallback::Derived("unset: objects are found by listing"),
    allowed: Allowed::Text {
        max_len: Some(1024),
    },
    meaning: "an SQS queue receiving the bucket's notifications of new objects: each run drains it instead of listing, for any key layout (the template creates it with `QueueDiscovery=true`), see [Discovery](#discovery)",
};
pub const BACKFILL_MINUTES: Setting = Setting {
    variable: "LOGSCALE_BACKFILL_MINUTES",
    parameter: Some("BackfillMinutes"),
    default: Fallback::Value("1440"),
    allowed: Allowed::Number {
        min: 0.0,
        max: 10080.0,
        whole: true,
    },
    meaning: "an object whose first timestamped line is older than the window's start by more than this is a backfill of old logs: not counted as demand, but counted in the record (`logs.backfill_objects`); a day by default, so a log written in local time (up to UTC+14) is never taken for one; `0` turns the check off",
};
pub const PREDICT: Setting = Setting {
    variable: "LOGSCALE_PREDICT",
    parameter: Some("Predict"),
    default: Fallback::Value("off"),
    allowed: Allowed::OneOf(&["off", "forecast", "active"]),
    meaning: "`forecast` keeps four weeks of requests per minute beside the state and shows in the record what the same time a day and a week earlier forecast for this window and for the next minutes, against what came (it changes no decision); `active` also scales out ahead of a forecast rise (never in); `off` keeps nothing, see [Forecasts](#forecasts)",
};
pub const EMPTY_WINDOW: Setting = Setting {
    variable: "LOGSCALE_EMPTY_WINDOW",
    parameter: Some("EmptyWindow"),
    default: Fallback::Value("no_traffic"),
    allowed: Allowed::OneOf(&["no_traffic", "missing"]),
    meaning: "an empty window from a source that had logs in the last 24 hours: `no_traffic` (a quiet night: CPU may scale in) or `missing` (for a shipper that may be dead: never scale in on it)",
};
pub const MAX_OBJECT_BYTES: Setting = Setting {
    variable: "LOGSCALE_MAX_OBJECT_BYTES",
    parameter: Some("MaxObjectBytes"),
    default: Fallback::Value("1073741824"),
    allowed: Allowed::Number {
        min: 1_048_576.0,
        max: 68_719_476_736.0,
        whole: true,
    },
    meaning: "most bytes of text (after gzip) read from one object: past them reading stops, the object is named in the record and what came before still counts, so a gzip bomb costs bounded time (see [Log formats](#log-formats)); `logscale analyze` has no cap unless it is set",
};
pub const S3_PATH_STYLE: Setting = Setting {
    variable: "LOGSCALE_S3_PATH_STYLE",
    parameter: None,
    default: Fallback::Derived("auto"),
    allowed: Allowed::Boolean,
    meaning: "path-style S3 addressing; unset, it is on when `AWS_ENDPOINT_URL[_S3]` is set",
};
pub const FORMAT: Setting = Setting {
    variable: "LOGSCALE_FORMAT",
    parameter: Some("LogFormat"),
    default: Fallback::Value("auto"),
    allowed: Allowed::OneOf(&["auto", "original", "alb", "combined", "json"]),
    meaning: "the log format; `auto` detects each object's format from its first lines",
};
pub const ERRORS: Setting = Setting {
    variable: "LOGSCALE_ERRORS",
    parameter: Some("ErrorRule"),
    default: Fallback::Value("auto"),
    allowed: Allowed::OneOf(&["auto", "words", "status", "either"]),
    meaning: "what counts as an error: `auto` is each format's own rule (below), `status` is a status ≥ 500, `either` is words or status",
};
pub const REQUEST_TIME_UNIT: Setting = Setting {
    variable: "LOGSCALE_REQUEST_TIME_UNIT",
    parameter: Some("RequestTimeUnit"),
    default: Fallback::Derived("guess"),
    allowed: Allowed::OneOf(TIME_UNITS),
    meaning: "unit of a combined log's trailing request time; unset, a value with a decimal point is seconds (nginx `$request_time`), a whole number microseconds (Apache `%D`)",
};
pub const JSON_STATUS_KEY: Setting = Setting {
    variable: "LOGSCALE_JSON_STATUS_KEY",
    parameter: Some("JsonStatusKey"),
    default: Fallback::Value("status"),
    allowed: KEY,
    meaning: "JSON lines: key of the HTTP status",
};
pub const JSON_LATENCY_KEYS: Setting = Setting {
    variable: "LOGSCALE_JSON_LATENCY_KEYS",
    parameter: Some("JsonLatencyKeys"),
    default: Fallback::Value("duration_ms,latency_ms,response_time_ms,latency,duration"),
    allowed: Allowed::List,
    meaning: "JSON lines: keys that may hold the latency, first present wins",
};
pub const JSON_LATENCY_UNIT: Setting = Setting {
    variable: "LOGSCALE_JSON_LATENCY_UNIT",
    parameter: Some("JsonLatencyUnit"),
    default: Fallback::Value("ms"),
    allowed: Allowed::OneOf(TIME_UNITS),
    meaning: "JSON lines: unit of the latency",
};
pub const JSON_LEVEL_KEY: Setting = Setting {
    variable: "LOGSCALE_JSON_LEVEL_KEY",
    parameter: Some("JsonLevelKey"),
    default: Fallback::Value("level"),
    allowed: KEY,
    meaning: "JSON lines: key of the log level",
};
pub const POLICY: Setting = Setting {
    variable: "LOGSCALE_POLICY",
    parameter: Some("Policy"),
    default: Fallback::Value("default"),
    allowed: Allowed::OneOf(&["default", "original"]),
    meaning:
        "`default` is proportional with stabilization; `original` steps by one on fixed thresholds",
};
pub const TARGET_CPU: Setting = Setting {
    variable: "LOGSCALE_TARGET_CPU",
    parameter: Some("TargetCpu"),
    default: Fallback::Value("65"),
    allowed: TARGET_PERCENT,
    meaning: "average CPU % to aim for",
};
pub const TARGET_MEMORY: Setting = Setting {
    variable: "LOGSCALE_TARGET_MEMORY",
    parameter: Some("TargetMemory"),
    default: Fallback::Value("75"),
    allowed: TARGET_PERCENT,
    meaning: "average memory used % to aim for (needs the CloudWatch agent)",
};
pub const TARGET_LATENCY_MS: Setting = Setting {
    variable: "LOGSCALE_TARGET_LATENCY_MS",
    parameter: Some("TargetLatencyMs"),
    default: Fallback::Value("600"),
    allowed: MILLISECONDS,
    meaning: "latency percentile to aim for, ms",
};
pub const LATENCY_PERCENTILE: Setting = Setting {
    variable: "LOGSCALE_LATENCY_PERCENTILE",
    parameter: Some("LatencyPercentile"),
    default: Fallback::Value("95"),
    allowed: Allowed::OneOf(&["50", "90", "95", "99"]),
    meaning: "which latency percentile is compared with the target",
};
pub const TOLERANCE_UP: Setting = Setting {
    variable: "LOGSCALE_TOLERANCE_UP",
    parameter: Some("ToleranceUp"),
    default: Fallback::Value("0.1"),
    allowed: FRACTION,
    meaning: "a ratio up to 1 + this over the target changes nothing",
};
pub const TOLERANCE_DOWN: Setting = Setting {
    variable: "LOGSCALE_TOLERANCE_DOWN",
    parameter: Some("ToleranceDown"),
    default: Fallback::Value("0.1"),
    allowed: FRACTION,
    meaning: "a ratio down to 1 − this under the target changes nothing",
};
pub const MAX_UP_PERCENT: Setting = Setting {
    variable: "LOGSCALE_MAX_UP_PERCENT",
    parameter: Some("MaxUpPercent"),
    default: Fallback::Value("200"),
    allowed: Allowed::Number {
        min: 0.0,
        max: 1000.0,
        whole: false,
    },
    meaning: "a run adds at most the larger of this % of the capacity and `LOGSCALE_MAX_UP_STEP`",
};
pub const MAX_UP_STEP: Setting = Setting {
    variable: "LOGSCALE_MAX_UP_STEP",
    parameter: Some("MaxUpStep"),
    default: Fallback::Value("4"),
    allowed: COUNT,
    meaning: "a run adds at most the larger of `LOGSCALE_MAX_UP_PERCENT` and this many instances",
};
pub const MAX_DOWN_PERCENT: Setting = Setting {
    variable: "LOGSCALE_MAX_DOWN_PERCENT",
    parameter: Some("MaxDownPercent"),
    default: Fallback::Value("20"),
    allowed: PERCENT,
    meaning:
        "a run removes at most the larger of this % of the capacity and `LOGSCALE_MAX_DOWN_STEP`",
};
pub const MAX_DOWN_STEP: Setting = Setting {
    variable: "LOGSCALE_MAX_DOWN_STEP",
    parameter: Some("MaxDownStep"),
    default: Fallback::Value("1"),
    allowed: COUNT,
    meaning:
        "a run removes at most the larger of `LOGSCALE_MAX_DOWN_PERCENT` and this many instances",
};
pub const STABILIZATION_MINUTES: Setting = Setting {
    variable: "LOGSCALE_STABILIZATION_MINUTES",
    parameter: Some("StabilizationMinutes"),
    default: Fallback::Value("15"),
    allowed: Allowed::Number {
        min: 0.0,
        max: 1440.0,
        whole: false,
    },
    meaning: "scale-in to the highest recommendation of this window",
};
pub const FAILSAFE_RUNS: Setting = Setting {
    variable: "LOGSCALE_FAILSAFE_RUNS",
    parameter: Some("FailsafeRuns"),
    default: Fallback::Value("0"),
    allowed: COUNT,
    meaning: "one step out on every this-many-th run in a row without any signal (`0`: never); dry runs do not count",
};
pub const FAILSAFE_STEP: Setting = Setting {
    variable: "LOGSCALE_FAILSAFE_STEP",
    parameter: Some("FailsafeStep"),
    default: Fallback::Value("1"),
    allowed: COUNT,
    meaning: "how many instances the fail-safe adds",
};
pub const LOG_SIGNALS_NEED_AGREEMENT: Setting = Setting {
    variable: "LOGSCALE_LOG_SIGNALS_NEED_AGREEMENT",
    parameter: Some("LogSignalsNeedAgreement"),
    default: Fallback::Value("true"),
    allowed: Allowed::Boolean,
    meaning: "the latency, error rate, slow share and requests add more than one instance in a run only when CPU, memory or the configured CloudWatch metric (none of which log writers can forge) also asks for more (see [the safety bounds](#safety-bounds))",
};
pub const WARMUP_SECONDS: Setting = Setting {
    variable: "LOGSCALE_WARMUP_SECONDS",
    parameter: Some("WarmupSeconds"),
    default: Fallback::Value("300"),
    allowed: Allowed::Number {
        min: 0.0,
        max: 86_400.0,
        whole: false,
    },
    meaning: "younger instances stay out of the averages and hold scale-ins; the group's own DefaultInstanceWarmup, when set, takes its place",
};
pub const TARGET_REQUESTS_PER_INSTANCE: Setting = Setting {
    variable: "LOGSCALE_TARGET_REQUESTS_PER_INSTANCE",
    parameter: Some("TargetRequestsPerInstance"),
    default: Fallback::Value("0"),
    allowed: Allowed::Number {
        min: 0.0,
        max: 100_000_000.0,
        whole: false,
    },
    meaning: "requests per minute one instance should serve: the requests signal proposes `ceil(requests per minute / this)`; `0` learns it from the runs where CPU was within 40 % of its target (unsaturated), used once an hour of such runs backs it, see [The policy](#the-policy)",
};
pub const DEMAND_MAX_UP_PERCENT: Setting = Setting {
    variable: "LOGSCALE_DEMAND_MAX_UP_PERCENT",
    parameter: Some("DemandMaxUpPercent"),
    default: Fallback::Value("900"),
    allowed: Allowed::Number {
        min: 0.0,
        max: 10_000.0,
        whole: false,
    },
    meaning: "when measured demand (the requests signal) asks for more, one run may add up to this percentage of the capacity, beyond `LOGSCALE_MAX_UP_PERCENT`: a step in traffic is met in one run",
};
pub const METRIC: Setting = Setting {
    variable: "LOGSCALE_METRIC",
    parameter: Some("Metric"),
    default: Fallback::Derived("none"),
    allowed: Allowed::Text {
        max_len: Some(1024),
    },
    meaning: "a CloudWatch metric as one more signal, `NAMESPACE METRIC_NAME [DIMENSION=VALUE ...]` separated by spaces, for example `AWS/SQS ApproximateNumberOfMessagesVisible QueueName=jobs`: it proposes `ceil(metric / LOGSCALE_METRIC_TARGET_PER_INSTANCE)` (see [A CloudWatch metric as a signal](#a-cloudwatch-metric-as-a-signal))",
};
pub const METRIC_STATISTIC: Setting = Setting {
    variable: "LOGSCALE_METRIC_STATISTIC",
    parameter: Some("MetricStatistic"),
    default: Fallback::Value("Average"),
    allowed: Allowed::OneOf(&["Average", "Sum", "Maximum", "Minimum"]),
    meaning: "the statistic `LOGSCALE_METRIC` is read with, per minute; the minutes of the metrics window are averaged",
};
pub const METRIC_TARGET_PER_INSTANCE: Setting = Setting {
    variable: "LOGSCALE_METRIC_TARGET_PER_INSTANCE",
    parameter: Some("MetricTargetPerInstance"),
    default: Fallback::Value("0"),
    allowed: Allowed::Number {
        min: 0.0,
        max: 1_000_000_000.0,
        whole: false,
    },
    meaning: "the value of `LOGSCALE_METRIC` one instance should handle, such as 100 visible messages per worker; above `0` when `LOGSCALE_METRIC` is set",
};
pub const PAUSED: Setting = Setting {
    variable: "LOGSCALE_PAUSED",
    parameter: Some("Paused"),
    default: Fallback::Value("false"),
    allowed: Allowed::Boolean,
    meaning: "decide and record, change nothing",
};
pub const INGEST: Setting = Setting {
    variable: "LOGSCALE_INGEST",
    parameter: Some("Ingest"),
    default: Fallback::Value("direct"),
    allowed: Allowed::OneOf(&["direct", "summaries"]),
    meaning: "`direct`: each run reads the window's log objects; `summaries`: each run lists them but reads the summary the summarizer wrote of each (`LOGSCALE_SUMMARY_PREFIX`), so its cost follows the number of objects, not their bytes; an object not summarized yet leaves the window incomplete (no scale-in), see [Past one Lambda](#past-one-lambda-summaries)",
};
pub const SUMMARY_PREFIX: Setting = Setting {
    variable: "LOGSCALE_SUMMARY_PREFIX",
    parameter: Some("SummaryPrefix"),
    default: Fallback::Value("logscale-summaries/"),
    allowed: Allowed::Pattern(&STATE_KEY_PATTERN),
    meaning: "where the summarizer writes one summary per log object, in the log bucket, outside `LOGSCALE_PREFIX`",
};
pub const METRICS_NAMESPACE: Setting = Setting {
    variable: "LOGSCALE_METRICS_NAMESPACE",
    parameter: Some("MetricsNamespace"),
    default: Fallback::Value("Logscale"),
    allowed: Allowed::Pattern(&NAMESPACE_PATTERN),
    meaning: "the CloudWatch namespace of the metrics each record emits as an Embedded Metric Format line (A-Z a-z 0-9 . - _ / # : and spaces, not under `AWS/`); `off` turns them off, see [Deploy and operate](#deploy-and-operate)",
};
pub const METRICS_DIMENSIONS: Setting = Setting {
    variable: "LOGSCALE_METRICS_DIMENSIONS",
    parameter: Some("MetricsDimensions"),
    default: Fallback::Value(""),
    allowed: Allowed::Text { max_len: Some(4096) },
    meaning: "fixed dimensions added beside `AutoScalingGroupName` to every metric, as `Name=Value,Name=Value` (for example `Environment=prod`); the template's alarms and dashboard read the metrics by the group alone, so leave it empty with them",
};
pub const STATE_KEY: Setting = Setting {
    variable: "LOGSCALE_STATE_KEY",
    parameter: Some("StateKey"),
    default: Fallback::Derived("`logscale-state/<group>.json`"),
    allowed: Allowed::Pattern(&STATE_KEY_PATTERN),
    meaning: "the state object's key in the log bucket",
};
pub const SCHEDULE: Setting = Setting {
    variable: "LOGSCALE_SCHEDULE",
    parameter: Some("Schedule"),
    default: Fallback::Derived("none"),
    // Lambda allows 4 KB of variables in all; a schedule is a few dozen characters a rule.
    allowed: Allowed::Text {
        max_len: Some(1024),
    },
    meaning: "minimums and maximums by day and local time, applied as floors and caps, for example `mon-fri 08:00-18:00 min=6; daily 00:00-06:00 max=4` (see [Scheduled capacity](#scheduled-capacity))",
};
pub const TIMEZONE: Setting = Setting {
    variable: "LOGSCALE_TIMEZONE",
    parameter: Some("TimeZone"),
    default: Fallback::Value("UTC"),
    allowed: Allowed::Text { max_len: Some(64) },
    meaning: "the IANA time zone `LOGSCALE_SCHEDULE`'s times are in, such as `Europe/Paris`; daylight saving time is followed",
};

/// Every setting, in the README's order.
pub const SETTINGS: &[Setting] = &[
    BUCKET,
    PREFIX,
    GROUP,
    WINDOW_MINUTES,
    LAG_SECONDS,
    LATE_MINUTES,
    CATCH_UP_MINUTES,
    KEYS_SORTED,
    QUEUE_URL,
    BACKFILL_MINUTES,
    PREDICT,
    EMPTY_WINDOW,
    METRICS_MINUTES,
    CPU_HIGH,
    CPU_LOW,
    ERROR_RATE,
    SLOW_RATE,
    SLOW_MS,
    DRY_RUN,
    HONOR_COOLDOWN,
    FETCH_CONCURRENCY,
    RESERVE_SECONDS,
    MAX_OBJECT_BYTES,
    S3_PATH_STYLE,
    FORMAT,
    ERRORS,
    REQUEST_TIME_UNIT,
    JSON_STATUS_KEY,
    JSON_LATENCY_KEYS,
    JSON_LATENCY_UNIT,
    JSON_LEVEL_KEY,
    POLICY,
    TARGET_CPU,
    TARGET_MEMORY,
    TARGET_LATENCY_MS,
    LATENCY_PERCENTILE,
    TOLERANCE_UP,
    TOLERANCE_DOWN,
    MAX_UP_PERCENT,
    MAX_UP_STEP,
    MAX_DOWN_PERCENT,
    MAX_DOWN_STEP,
    STABILIZATION_MINUTES,
    FAILSAFE_RUNS,
    FAILSAFE_STEP,
    LOG_SIGNALS_NEED_AGREEMENT,
    WARMUP_SECONDS,
    TARGET_REQUESTS_PER_INSTANCE,
    DEMAND_MAX_UP_PERCENT,
    METRIC,
    METRIC_STATISTIC,
    METRIC_TARGET_PER_INSTANCE,
    PAUSED,
    METRICS_NAMESPACE,
    METRICS_DIMENSIONS,
    INGEST,
    SUMMARY_PREFIX,
    STATE_KEY,
    SCHEDULE,
    TIMEZONE,
];

/// The entry for `variable`, if it is a setting.
pub fn find(variable: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.variable == variable)
}

impl Setting {
    /// The README's default cell: `(required)`, the value in backticks, or `(how it is derived)`.
    pub fn default_text(&self) -> String {
        match self.default {
            Fallback::Required => "(required)".to_string(),
            Fallback::Value(v) => code(v),
            Fallback::Derived(how) => format!("({how})"),
            Fallback::TemplateDiffers { unset, template } => {
                format!("{} (template: {})", code(unset), code(template))
            }
        }
    }

    /// The README's allowed cell.
    pub fn allowed_text(&self) -> String {
        match self.allowed {
            Allowed::Number { min, max, whole } => {
                let range = format!("{} to {}", code(&min.to_string()), code(&max.to_string()));
                if whole {
                    format!("whole number, {range}")
                } else {
                    range
                }
            }
            Allowed::OneOf(choices) => {
                let choices: Vec<String> = choices.iter().map(|c| code(c)).collect();
                one_of(&choices)
            }
            Allowed::Boolean => format!("{} or {}", code("true"), code("false")),
            Allowed::BucketName => "an S3 bucket name".to_string(),
            Allowed::Text { max_len: Some(n) } => format!("up to {n} characters"),
            Allowed::Text { max_len: None } => "text".to_string(),
            Allowed::List => "names separated by commas".to_string(),
            Allowed::Pattern(p) => p.describe.to_string(),
        }
    }

    /// The CloudFormation Parameter type that carries the setting.
    pub fn template_type(&self) -> &'static str {
        match self.allowed {
            Allowed::Number { .. } => "Number",
            Allowed::OneOf(choices) if choices.iter().all(|c| c.parse::<f64>().is_ok()) => "Number",
            _ => "String",
        }
    }
}

/// `a`, `a or b`, `a, b or c`: how an error message and the README list choices.
pub fn one_of(choices: &[String]) -> String {
    match choices {
        [] => String::new(),
        [only] => only.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// A value in Markdown code, `""` for the empty one.
fn code(value: &str) -> String {
    if value.is_empty() {
        "`\"\"`".to_string()
    } else {
        format!("`{value}`")
    }
}

#[cfg(test)]
mod tests;
