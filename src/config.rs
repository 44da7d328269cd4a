//! Environment → validated [`Config`], in one place.
//!
//! The SAM template turns each Parameter into one `LOGSCALE_*` variable; the CLI reads the same
//! variables. Everything is parsed and checked here, once, so the rest of the crate works with
//! typed values. Every error names the variable and the value it rejected. Each variable's
//! default and limits come from its entry in [`crate::settings`].

use std::collections::HashMap;
use std::time::Duration;

use thiserror::Error;

use crate::decide::{Policy, PolicyKind, Thresholds};
use crate::discover::PrefixTemplate;
use crate::metric::{MetricSpec, Statistic};
use crate::parse::{ErrorRule, FormatChoice, JsonMapping, ParseOptions, TimeUnit};
use crate::schedule::Schedule;
use crate::settings::{self, Allowed, Fallback, Setting};
use crate::window::Tiling;

/// A setting that could not be used. The message names the variable and the offending value.
#[derive(Debug, Error, PartialEq)]
pub enum ConfigError {
    #[error("{var} is required but not set")]
    Missing { var: &'static str },
    #[error("{var}={value:?} is not valid: {reason}")]
    Invalid {
        var: &'static str,
        value: String,
        reason: String,
    },
}

/// Everything one cycle needs to know, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Bucket holding the application logs.
    pub bucket: String,
    /// Key prefix of the logs inside the bucket (may be empty).
    pub prefix: String,
    /// The Auto Scaling group to size.
    pub group: String,
    /// How runs cut time into windows: the first span, the lag, how late objects may appear,
    /// the catch-up span.
    pub tiling: Tiling,
    /// An empty window from a source that had logs in the last day is no traffic (a quiet
    /// night) rather than missing data.
    pub empty_window_is_quiet: bool,
    /// Keys under the (plain) prefix sort by time: list from where the last run left off.
    pub keys_sorted: bool,
    /// Discovery by queue: S3's notifications of new objects arrive in this SQS queue.
    pub queue_url: Option<String>,
    /// Keep the request history and show its forecast in the record (`LOGSCALE_PREDICT`).
    pub predict: crate::forecast::Predict,
    /// An object whose first timestamped line is older than the window's start by more than
    /// this is a backfill of old logs, not demand; `None`: no check.
    pub backfill: Option<chrono::Duration>,
    /// How far back CPU and memory are averaged. Longer than `window` by default because EC2
    /// basic monitoring publishes a point every 5 minutes, a few minutes late.
    pub metrics_window: Duration,
    /// How the capacity is decided: the policy, its targets, limits and guard rails.
    pub policy: Policy,
    /// The CloudWatch metric read as one more signal (`LOGSCALE_METRIC`), with its statistic;
    /// its target per instance is the policy's.
    pub metric: Option<MetricSpec>,
    /// Minimums and maximums by day and local time (`LOGSCALE_SCHEDULE`); `None` when unset.
    pub schedule: Option<Schedule>,
    /// The group's time zone, the one the schedule's days and times are read in.
    pub timezone: chrono_tz::Tz,
    /// Where the policy's state is kept, in the log bucket.
    pub state_key: String,
    /// `LOGSCALE_INGEST=summaries`: the cycle reads each object's summary instead of the object.
    pub ingest_summaries: bool,
    /// Where the summarizer writes summaries (`LOGSCALE_SUMMARY_PREFIX`).
    pub summary_prefix: String,
    /// Where each record's metrics go (`LOGSCALE_METRICS_NAMESPACE`); `None` when off.
    pub metrics: Option<crate::metrics::MetricsSpec>,
    /// Do everything except the final SetDesiredCapacity call.
    pub dry_run: bool,
    /// Pass HonorCooldown to SetDesiredCapacity, so AWS refuses a change during a cooldown.
    pub honor_cooldown: bool,
    /// How many log objects are downloaded and parsed at once.
    pub fetch_concurrency: usize,
    /// Time kept back from the invocation's deadline for saving, acting and the record (see
    /// `budget`).
    pub reserve: Duration,
    /// How log lines are read: format, error rule, units, JSON keys, the slow threshold and
    /// the cap on one object's decoded text.
    pub parse: ParseOptions,
    /// Path-style S3 addressing when set; `None` leaves it to the endpoint (see
    /// `aws::services_from_env`).
    pub s3_path_style: Option<bool>,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = std::env::vars().collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    /// Reads settings through `lookup` (the environment in production, a map in tests).
    /// An empty value counts as unset, so a blank template Parameter means "use the default".
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = trimmed(lookup);

        let bucket = text(&get, &settings::BUCKET)?;
        validate_bucket(&bucket)?;
        let group = text(&get, &settings::GROUP)?;
        let prefix = text(&get, &settings::PREFIX)?;
        // A bad time field would otherwise list nothing, run after run.
        PrefixTemplate::parse(&prefix)
            .map_err(|e| invalid(settings::PREFIX.variable, &prefix, &e.to_string()))?;

        let window_minutes = number(&get, &settings::WINDOW_MINUTES)?;
        let metrics_minutes = number(&get, &settings::METRICS_MINUTES)?;
        let thresholds = Thresholds {
            cpu_high: number(&get, &settings::CPU_HIGH)?,
            cpu_low: number(&get, &settings::CPU_LOW)?,
            error_rate: number(&get, &settings::ERROR_RATE)?,
            slow_rate: number(&get, &settings::SLOW_RATE)?,
            slow_ms: number(&get, &settings::SLOW_MS)?,
        };
        // The one rule between two settings; the template cannot express it (see CpuLow).
        if thresholds.cpu_low >= thresholds.cpu_high {
            return Err(invalid(
                settings::CPU_LOW.variable,
                &thresholds.cpu_low.to_string(),
                &format!(
                    "must be below LOGSCALE_CPU_HIGH ({}), or the group would flap",
                    thresholds.cpu_high
                ),
            ));
        }
        let fetch_concurrency = count(&get, &settings::FETCH_CONCURRENCY)?;
        let reserve = number(&get, &settings::RESERVE_SECONDS)?;
        let max_object_bytes = byte_count(&get, &settings::MAX_OBJECT_BYTES)?;
        let parse = parse_options(&get, thresholds.slow_ms, Some(max_object_bytes))?;
        let policy = policy(&get, thresholds)?;
        let metric = metric(&get, &policy)?;
        let schedule = optional_text(&get, &settings::SCHEDULE)?
            .map(|raw| {
                Schedule::parse(&raw)
                    .map_err(|e| invalid(settings::SCHEDULE.variable, &raw, &e.to_string()))
            })
            .transpose()?;
        let timezone = time_zone(&get, &settings::TIMEZONE)?;
        let state_key = optional_text(&get, &settings::STATE_KEY)?
            .unwrap_or_else(|| format!("logscale-state/{group}.json"));

        let ingest_summaries = choice(&get, &settings::INGEST)? == "summaries";
        let summary_prefix = text(&get, &settings::SUMMARY_PREFIX)?;
        summaries_apart_from_logs(&prefix, &summary_prefix, ingest_summaries, &get)?;
        let catch_up_minutes = count(&get, &settings::CATCH_UP_MINUTES)?;
        if f64::from(catch_up_minutes) < window_minutes {
            return Err(invalid(
                "LOGSCALE_CATCH_UP_MINUTES",
                &catch_up_minutes.to_string(),
                &format!(
                    "must be at least LOGSCALE_WINDOW_MINUTES ({window_minutes}): a run reads at most this much, so a schedule slower than it loses logs"
                ),
            ));
        }

        Ok(Config {
            bucket,
            prefix,
            group,
            empty_window_is_quiet: choice(&get, &settings::EMPTY_WINDOW)? == "no_traffic",
            keys_sorted: boolean(&get, &settings::KEYS_SORTED)?,
            queue_url: optional_text(&get, &settings::QUEUE_URL)?.filter(|u| !u.trim().is_empty()),
            predict: match choice(&get, &settings::PREDICT)? {
                "forecast" => crate::forecast::Predict::Forecast,
                "active" => crate::forecast::Predict::Active,
                _ => crate::forecast::Predict::Off,
            },
            backfill: match count(&get, &settings::BACKFILL_MINUTES)? {
                0 => None,
                m => Some(minutes(f64::from(m))),
            },
            tiling: Tiling {
                span: minutes(window_minutes),
                lag: chrono::Duration::seconds(count(&get, &settings::LAG_SECONDS)? as i64),
                late: minutes(count(&get, &settings::LATE_MINUTES)? as f64),
                catch_up: minutes(f64::from(catch_up_minutes)),
            },
            metrics_window: Duration::from_secs_f64(metrics_minutes * 60.0),
            policy,
            metric,
            schedule,
            timezone,
            state_key,
            dry_run: boolean(&get, &settings::DRY_RUN)?,
            honor_cooldown: boolean(&get, &settings::HONOR_COOLDOWN)?,
            fetch_concurrency: fetch_concurrency as usize,
            reserve: Duration::from_secs_f64(reserve),
            parse,
            s3_path_style: optional_boolean(&get, &settings::S3_PATH_STYLE)?,
            metrics: metrics_spec(&get)?,
            ingest_summaries,
            summary_prefix,
        })
    }
}

/// The log-reading settings alone (slow threshold, format, error rule, units, JSON keys), for
/// `logscale analyze`, which reads local files and needs no bucket or group. Unlike the cycle,
/// it caps an object's decoded text only when `LOGSCALE_MAX_OBJECT_BYTES` is set: a local file
/// is the user's own, and a cap nobody asked for would quietly leave the rest of it uncounted.
pub fn log_settings(lookup: impl Fn(&str) -> Option<String>) -> Result<ParseOptions, ConfigError> {
    let get = trimmed(lookup);
    let max_object_bytes = match get(settings::MAX_OBJECT_BYTES.variable) {
        Some(_) => Some(byte_count(&get, &settings::MAX_OBJECT_BYTES)?),
        None => None,
    };
    parse_options(&get, number(&get, &settings::SLOW_MS)?, max_object_bytes)
}

/// `LOGSCALE_S3_PATH_STYLE` alone, for S3 clients built outside a cycle (`logscale loggen --s3`).
pub fn s3_path_style(lookup: impl Fn(&str) -> Option<String>) -> Result<Option<bool>, ConfigError> {
    optional_boolean(&trimmed(lookup), &settings::S3_PATH_STYLE)
}

/// `lookup` with values trimmed and an empty value counted as unset.
fn trimmed(lookup: impl Fn(&str) -> Option<String>) -> impl Fn(&str) -> Option<String> {
    move |var: &str| {
        lookup(var)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }
}

/// The decision policy's settings.
fn policy(
    get: &impl Fn(&str) -> Option<String>,
    thresholds: Thresholds,
) -> Result<Policy, ConfigError> {
    let kind = match choice(get, &settings::POLICY)? {
        "original" => PolicyKind::Original,
        _ => PolicyKind::Default,
    };
    Ok(Policy {
        kind,
        thresholds,
        target_cpu: number(get, &settings::TARGET_CPU)?,
        target_memory: number(get, &settings::TARGET_MEMORY)?,
        target_latency_ms: number(get, &settings::TARGET_LATENCY_MS)?,
        latency_percentile: numeric_choice(get, &settings::LATENCY_PERCENTILE)? as u8,
        tolerance_up: number(get, &settings::TOLERANCE_UP)?,
        tolerance_down: number(get, &settings::TOLERANCE_DOWN)?,
        max_up_percent: number(get, &settings::MAX_UP_PERCENT)?,
        max_up_step: count(get, &settings::MAX_UP_STEP)?,
        max_down_percent: number(get, &settings::MAX_DOWN_PERCENT)?,
        max_down_step: count(get, &settings::MAX_DOWN_STEP)?,
        stabilization: Duration::from_secs_f64(
            60.0 * number(get, &settings::STABILIZATION_MINUTES)?,
        ),
        failsafe_runs: count(get, &settings::FAILSAFE_RUNS)?,
        failsafe_step: count(get, &settings::FAILSAFE_STEP)?,
        log_signals_need_agreement: boolean(get, &settings::LOG_SIGNALS_NEED_AGREEMENT)?,
        // 0: learned from the runs.
        target_requests_per_instance: Some(number(get, &settings::TARGET_REQUESTS_PER_INSTANCE)?)
            .filter(|t| *t > 0.0),
        demand_max_up_percent: number(get, &settings::DEMAND_MAX_UP_PERCENT)?,
        // 0: no metric signal (one is required with LOGSCALE_METRIC; see `metric`).
        target_metric_per_instance: Some(number(get, &settings::METRIC_TARGET_PER_INSTANCE)?)
            .filter(|t| *t > 0.0),
        warmup: Duration::from_secs_f64(number(get, &settings::WARMUP_SECONDS)?),
        paused: boolean(get, &settings::PAUSED)?,
    })
}

/// `LOGSCALE_METRIC` and its statistic, read once into a typed metric; `None` when unset. A
/// metric needs its target per instance: without one it could propose nothing.
fn metric(
    get: &impl Fn(&str) -> Option<String>,
    policy: &Policy,
) -> Result<Option<MetricSpec>, ConfigError> {
    let statistic = parsed::<Statistic>(get, &settings::METRIC_STATISTIC)?;
    let Some(raw) = optional_text(get, &settings::METRIC)? else {
        return Ok(None);
    };
    let spec = MetricSpec::parse(&raw, statistic)
        .map_err(|e| invalid(settings::METRIC.variable, &raw, &e.to_string()))?;
    if policy.target_metric_per_instance.is_none() {
        let target = settings::METRIC_TARGET_PER_INSTANCE.variable;
        return Err(invalid(
            target,
            &get(target).unwrap_or_else(|| "0".to_string()),
            &format!(
                "must be above 0 when LOGSCALE_METRIC is set ({raw}): the value of the metric \
                 one instance should handle"
            ),
        ));
    }
    Ok(Some(spec))
}

/// The log-reading settings, with the slow threshold and the cap already read.
fn parse_options(
    get: &impl Fn(&str) -> Option<String>,
    slow_ms: f64,
    max_object_bytes: Option<u64>,
) -> Result<ParseOptions, ConfigError> {
    let json = JsonMapping {
        status: text(get, &settings::JSON_STATUS_KEY)?,
        latency: list(get, &settings::JSON_LATENCY_KEYS)?,
        latency_unit: parsed::<TimeUnit>(get, &settings::JSON_LATENCY_UNIT)?,
        level: text(get, &settings::JSON_LEVEL_KEY)?,
    };
    Ok(ParseOptions {
        slow_ms,
        format: parsed::<FormatChoice>(get, &settings::FORMAT)?,
        errors: parsed::<ErrorRule>(get, &settings::ERRORS)?,
        request_time_unit: optional_parsed(get, &settings::REQUEST_TIME_UNIT)?,
        json,
        max_object_bytes,
        // Set per window from `backfill` (the cycle knows the window).
        backfill_before: None,
    })
}

/// The value to use: the variable's, else the table's default; `None` when the setting is
/// derived by the caller. A required setting that is unset is an error.
fn value_of(
    get: &impl Fn(&str) -> Option<String>,
    setting: &Setting,
) -> Result<Option<String>, ConfigError> {
    if let Some(raw) = get(setting.variable) {
        return Ok(Some(raw));
    }
    match setting.default {
        Fallback::Required => Err(ConfigError::Missing {
            var: setting.variable,
        }),
        Fallback::Value(v) | Fallback::TemplateDiffers { unset: v, .. } => Ok(Some(v.to_string())),
        Fallback::Derived(_) => Ok(None),
    }
}

/// A setting whose table entry gives a value when unset. Every entry is read on every start
/// (the config tests start from defaults), so a helper called on an entry of the wrong kind
/// fails those tests rather than a deployment.
fn value_or_default(
    get: &impl Fn(&str) -> Option<String>,
    setting: &Setting,
) -> Result<String, ConfigError> {
    Ok(value_of(get, setting)?
        .unwrap_or_else(|| panic!("{} has no default in the settings table", setting.variable)))
}

/// A text setting, checked against its length limit.
fn text(get: &impl Fn(&str) -> Option<String>, setting: &Setting) -> Result<String, ConfigError> {
    let value = value_or_default(get, setting)?;
    within_length(setting, &value)?;
    Ok(value)
}

/// A text setting that is derived when unset.
fn optional_text(
    get: &impl Fn(&str) -> Option<String>,
    setting: &Setting,
) -> Result<Option<String>, ConfigError> {
    let value = value_of(get, setting)?;
    if let Some(v) = &value {
        within_length(setting, v)?;
    }
    Ok(value)
}

fn within_length(setting: &Setting, value: &str) -> Result<(), ConfigError> {
    match setting.allowed {
        Allowed::Pattern(p) if !(p.check)(value) => Err(invalid(
            setting.variable,
            value,
            &format!("expected {}", p.describe),
        )),
        Allowed::Text { max_len: Some(max) } if value.len() > max => Err(invalid(
            setting.variable,
            value,
            &format!("longer than {max} characters"),
        )),
        _ => Ok(()),
    }
}

/// A list of names separated by commas; blanks between commas are dropped, but one is needed.
fn list(
    get: &impl Fn(&str) -> Option<String>,
    setting: &Setting,
) -> Result<Vec<String>, ConfigError> {
    let raw = value_or_default(get, setting)?;
    let names: Vec<String> = raw
        .split(',')
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty())
        .collect();
    if names.is_empty() {
        return Err(invalid(
            setting.variable,
            &raw,
            "expected one or more keys separated by commas",
        ));
    }
    Ok(names)
}

/// A variable read with the type's `FromStr`, whose message becomes the error's reason (the
/// types also take a few spellings the table does not list, such as `millis`).
fn parsed<T: std::str::FromStr<Err = String>>(
    get: &impl Fn(&str) -> Option<String>,
    setting: &Setting,
) -> Result<T, ConfigError> {
    let raw = value_or_default(get, setting)?;
    raw.parse::<T>()
        .map_err(|reason| invalid(setting.variable, &raw, &reason))
}

/// [`parsed`] for a setting that is derived when unset.
fn optional_parsed<T: std::str::FromStr<Err = String>>(
    get: &impl Fn(&str) -> Option<String>,
    setting: &Setting,
) -> Result<Option<T>, ConfigError> {
    value_of(get, setting)?
        .map(|raw| {
            raw.parse::<T>()
                .map_err(|reason| invalid(setting.variable, &raw, &reason))
        })
        .transpose()
}

/// An IANA time zone name, spelled as the database spells it (`Europe/Paris`, `UTC`).
fn time_zone(
    get: &impl Fn(&str) -> Option<String>,
    setting: &Setting,
) -> Result<chrono_tz::Tz, ConfigError> {
    let raw = text(get, setting)?;
    raw.parse::<chrono_tz::Tz>().map_err(|_| {
        invalid(
            setting.variable,
            &raw,
            "expected an IANA time zone name such as UTC, Europe/Paris or America/New_York",
        )
    })
}

/// Whole or fractional minutes as a span of time.
fn minutes(m: f64) -> chrono::Duration {
    chrono::Duration::milliseconds((m * 60_000.0).round() as i64)
}

/// The summaries must not be taken for logs, nor the summarizer's queue drained by the cycle.
fn summaries_apart_from_logs(
    prefix: &str,
    summary_prefix: &str,
    ingest_summaries: bool,
    get: &impl Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    if summary_prefix.is_empty() {
        return Err(invalid(
            settings::SUMMARY_PREFIX.variable,
            summary_prefix,
            "must not be empty: the summaries need a place of their own",
        ));
    }
    let head = crate::discover::PrefixTemplate::parse(prefix)
        .as_ref()
        .map_or(prefix.to_string(), |t| t.literal_head().to_string());
    // Either under the other: summaries read as logs (and announced and summarized as logs),
    // or logs skipped as summaries. (A bucket-wide log prefix holds everything: the listing
    // and the summarizer pass over the summary prefix then.)
    if !head.is_empty() && (summary_prefix.starts_with(&head) || head.starts_with(summary_prefix)) {
        return Err(invalid(
            settings::SUMMARY_PREFIX.variable,
            summary_prefix,
            &format!("overlaps LOGSCALE_PREFIX ({prefix}): summaries would be taken for logs, or logs for summaries"),
        ));
    }
    let queue = get(settings::QUEUE_URL.variable).filter(|u| !u.trim().is_empty());
    if ingest_summaries && queue.is_some() {
        return Err(invalid(
            settings::INGEST.variable,
            "summaries",
            "cannot go with LOGSCALE_QUEUE_URL: in summary mode the discovery queue feeds the summarizer, and the cycle lists the window",
        ));
    }
    Ok(())
}

fn metrics_spec(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<Option<crate::metrics::MetricsSpec>, ConfigError> {
    let namespace = text(get, &settings::METRICS_NAMESPACE)?;
    let dimensions = text(get, &settings::METRICS_DIMENSIONS)?;
    crate::metrics::MetricsSpec::parse(&namespace, &dimensions).map_err(|e| match e {
        crate::metrics::MetricsSpecError::Namespace => invalid(
            settings::METRICS_NAMESPACE.variable,
            &namespace,
            &e.to_string(),
        ),
        _ => invalid(
            settings::METRICS_DIMENSIONS.variable,
            &dimensions,
            &e.to_string(),
        ),
    })
}

fn invalid(var: &'static str, value: &str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        var,
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

/// A number within the entry's range (and whole, when the entry says so).
fn number(get: &impl Fn(&str) -> Option<String>, setting: &Setting) -> Result<f64, ConfigError> {
    let Allowed::Number { min, max, whole } = setting.allowed else {
        panic!("{} is not a number in the settings table", setting.variable);
    };
    let var = setting.variable;
    let raw = value_or_default(get, setting)?;
    let value: f64 = raw
        .parse()
        .map_err(|_| invalid(var, &raw, "expected a number"))?;
    if !value.is_finite() || value < min || value > max {
        return Err(invalid(
            var,
            &raw,
            &format!("expected a number from {min} to {max}"),
        ));
    }
    if whole && value.fract() != 0.0 {
        return Err(invalid(var, &value.to_string(), "must be a whole number"));
    }
    Ok(value)
}

/// A whole number setting (its range keeps it within `u32`).
fn count(get: &impl Fn(&str) -> Option<String>, setting: &Setting) -> Result<u32, ConfigError> {
    Ok(number(get, setting)? as u32)
}

/// A whole number of bytes (its range, at most 64 GiB, is exact in an `f64`).
fn byte_count(
    get: &impl Fn(&str) -> Option<String>,
    setting: &Setting,
) -> Result<u64, ConfigError> {
    Ok(number(get, setting)? as u64)
}

/// One of the entry's words, any case, as the table spells it.
fn choice(
    get: &impl Fn(&str) -> Option<String>,
    setting: &Setting,
) -> Result<&'static str, ConfigError> {
    let Allowed::OneOf(choices) = setting.allowed else {
        panic!("{} is not a choice in the settings table", setting.variable);
    };
    let raw = value_or_default(get, setting)?;
    choices
        .iter()
        .find(|c| c.eq_ignore_ascii_case(&raw))
        .copied()
        .ok_or_else(|| invalid(setting.variable, &raw, &expected_one_of(choices)))
}

/// One of the entry's numbers, compared by value (so `95.0` is `95`).
fn numeric_choice(
    get: &impl Fn(&str) -> Option<String>,
    setting: &Setting,
) -> Result<f64, ConfigError> {
    let Allowed::OneOf(choices) = setting.allowed else {
        panic!("{} is not a choice in the settings table", setting.variable);
    };
    let raw = value_or_default(get, setting)?;
    let value: f64 = raw
        .parse()
        .map_err(|_| invalid(setting.variable, &raw, "expected a number"))?;
    choices
        .iter()
        .any(|c| c.parse::<f64>() == Ok(value))
        .then_some(value)
        .ok_or_else(|| invalid(setting.variable, &raw, &expected_one_of(choices)))
}

fn expected_one_of(choices: &[&str]) -> String {
    let choices: Vec<String> = choices.iter().map(|c| c.to_string()).collect();
    format!("expected {}", settings::one_of(&choices))
}

fn boolean(get: &impl Fn(&str) -> Option<String>, setting: &Setting) -> Result<bool, ConfigError> {
    let raw = value_or_default(get, setting)?;
    parse_bool(&raw).ok_or_else(|| invalid(setting.variable, &raw, "expected true or false"))
}

/// A boolean that is derived when unset.
fn optional_boolean(
    get: &impl Fn(&str) -> Option<String>,
    setting: &Setting,
) -> Result<Option<bool>, ConfigError> {
    value_of(get, setting)?
        .map(|raw| {
            parse_bool(&raw)
                .ok_or_else(|| invalid(setting.variable, &raw, "expected true or false"))
        })
        .transpose()
}

/// `true/false`, `yes/no`, `1/0`, `on/off`, any case.
pub fn parse_bool(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "on" => Some(true),
        "false" | "no" | "0" | "off" => Some(false),
        _ => None,
    }
}

/// S3's naming rules, checked early so a typo is reported as a bad setting rather than as a
/// confusing error from the service.
fn validate_bucket(bucket: &str) -> Result<(), ConfigError> {
    let ok_chars = bucket
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    let ends_ok = bucket
        .bytes()
        .next()
        .zip(bucket.bytes().last())
        .is_some_and(|(a, z)| a.is_ascii_alphanumeric() && z.is_ascii_alphanumeric());
    if !(3..=63).contains(&bucket.len()) || !ok_chars || !ends_ok {
        return Err(invalid(
            "LOGSCALE_BUCKET",
            bucket,
            "an S3 bucket name is 3-63 characters of a-z, 0-9, '-' and '.', starting and ending with a letter or digit",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    const BASE: [(&str, &str); 2] = [("LOGSCALE_BUCKET", "app-logs"), ("LOGSCALE_GROUP", "web")];

    #[test]
    fn names_that_would_widen_an_arn_are_refused_as_the_template_refuses_them() {
        for (var, bad) in [
            ("LOGSCALE_GROUP", "web-*"),
            ("LOGSCALE_GROUP", "a:b"),
            ("LOGSCALE_GROUP", "${aws:username}"),
            ("LOGSCALE_PREFIX", "logs/*"),
            ("LOGSCALE_PREFIX", "logs/../other/"),
            ("LOGSCALE_STATE_KEY", "state/?.json"),
            ("LOGSCALE_STATE_KEY", "state/%Y.json"),
        ] {
            let mut pairs = BASE.to_vec();
            pairs.push((var, bad));
            let err = config(&pairs).unwrap_err().to_string();
            assert!(err.contains(var) && err.contains(bad), "{var}={bad}: {err}");
        }
        // Spaces at either end: the template refuses them, and the code reads values trimmed.
        for pattern in [
            &settings::PREFIX_PATTERN,
            &settings::STATE_KEY_PATTERN,
            &settings::NAMESPACE_PATTERN,
        ] {
            assert!(!(pattern.check)(" logs/") && !(pattern.check)("logs "));
            assert!(pattern.template.starts_with("^(?! )(?!.* $)"));
        }
        // A group whose name a state key may not hold still gets its derived key.
        let mut derived = BASE.to_vec();
        derived.extend([("LOGSCALE_GROUP", "web#blue"), ("LOGSCALE_STATE_KEY", "")]);
        assert_eq!(
            config(&derived).unwrap().state_key,
            "logscale-state/web#blue.json"
        );
        let mut fine = BASE.to_vec();
        fine.extend([
            ("LOGSCALE_GROUP", "web-asg_2.prod"),
            (
                "LOGSCALE_PREFIX",
                "AWSLogs/123456789012/elasticloadbalancing/%Y/%m/%d/",
            ),
            ("LOGSCALE_STATE_KEY", "logscale-state/web (prod).json"),
        ]);
        config(&fine).unwrap();
    }

    #[test]
    fn defaults_are_the_original_tools_thresholds() {
        let c = config(&BASE).unwrap();
        assert_eq!(c.policy.thresholds, Thresholds::default());
        assert_eq!(c.policy, Policy::default());
        assert_eq!(c.state_key, "logscale-state/web.json");
        assert_eq!(c.tiling, Tiling::default());
        assert!(!c.dry_run);
        assert!(c.honor_cooldown);
        assert_eq!(c.prefix, "");
        assert_eq!(c.fetch_concurrency, 8);
    }

    #[test]
    fn missing_required_variable_is_named() {
        let err = config(&[("LOGSCALE_GROUP", "web")]).unwrap_err();
        assert_eq!(err.to_string(), "LOGSCALE_BUCKET is required but not set");
        let err = config(&[("LOGSCALE_BUCKET", "app-logs"), ("LOGSCALE_GROUP", "  ")]).unwrap_err();
        assert_eq!(
            err,
            ConfigError::Missing {
                var: "LOGSCALE_GROUP"
            }
        );
    }

    #[test]
    fn bad_number_names_variable_and_value() {
        let mut pairs = BASE.to_vec();
        pairs.push(("LOGSCALE_CPU_HIGH", "seventy"));
        let msg = config(&pairs).unwrap_err().to_string();
        assert!(msg.contains("LOGSCALE_CPU_HIGH"), "{msg}");
        assert!(msg.contains("\"seventy\""), "{msg}");

        let mut pairs = BASE.to_vec();
        pairs.push(("LOGSCALE_ERROR_RATE", "150"));
        let msg = config(&pairs).unwrap_err().to_string();
        assert!(msg.contains("LOGSCALE_ERROR_RATE=\"150\""), "{msg}");
    }

    #[test]
    fn the_catch_up_span_covers_at_least_one_window() {
        let mut pairs = BASE.to_vec();
        pairs.extend([
            ("LOGSCALE_WINDOW_MINUTES", "60"),
            ("LOGSCALE_CATCH_UP_MINUTES", "30"),
        ]);
        let msg = config(&pairs).unwrap_err().to_string();
        assert!(msg.starts_with("LOGSCALE_CATCH_UP_MINUTES=\"30\""), "{msg}");
        pairs.push(("LOGSCALE_CATCH_UP_MINUTES", "60"));
        pairs.retain(|(k, v)| !(*k == "LOGSCALE_CATCH_UP_MINUTES" && *v == "30"));
        assert_eq!(
            config(&pairs).unwrap().tiling.catch_up,
            chrono::Duration::minutes(60)
        );
    }

    #[test]
    fn low_mark_must_be_below_high_mark() {
        let mut pairs = BASE.to_vec();
        pairs.extend([("LOGSCALE_CPU_HIGH", "50"), ("LOGSCALE_CPU_LOW", "60")]);
        let msg = config(&pairs).unwrap_err().to_string();
        assert!(msg.contains("LOGSCALE_CPU_LOW"), "{msg}");
    }

    #[test]
    fn booleans_accept_common_spellings_and_reject_others() {
        for (raw, want) in [("TRUE", true), ("yes", true), ("0", false), ("off", false)] {
            let mut pairs = BASE.to_vec();
            pairs.push(("LOGSCALE_DRY_RUN", raw));
            assert_eq!(config(&pairs).unwrap().dry_run, want, "{raw}");
        }
        let mut pairs = BASE.to_vec();
        pairs.push(("LOGSCALE_DRY_RUN", "maybe"));
        assert!(config(&pairs)
            .unwrap_err()
            .to_string()
            .contains("LOGSCALE_DRY_RUN=\"maybe\""));
    }

    #[test]
    fn bucket_names_are_checked() {
        for bad in ["ab", "App-Logs", "logs_bucket", "-logs", "logs-"] {
            let err = config(&[("LOGSCALE_BUCKET", bad), ("LOGSCALE_GROUP", "web")]).unwrap_err();
            assert!(err.to_string().contains("LOGSCALE_BUCKET"), "{bad}: {err}");
        }
    }

    #[test]
    fn policy_settings() {
        let mut pairs = BASE.to_vec();
        pairs.extend([
            ("LOGSCALE_POLICY", "Original"),
            ("LOGSCALE_TARGET_CPU", "55"),
            ("LOGSCALE_STABILIZATION_MINUTES", "30"),
            ("LOGSCALE_FAILSAFE_RUNS", "3"),
            ("LOGSCALE_PAUSED", "yes"),
            ("LOGSCALE_LOG_SIGNALS_NEED_AGREEMENT", "false"),
            ("LOGSCALE_STATE_KEY", "state/web.json"),
        ]);
        let c = config(&pairs).unwrap();
        assert_eq!(c.policy.kind, PolicyKind::Original);
        assert_eq!(c.policy.target_cpu, 55.0);
        assert_eq!(c.policy.stabilization, Duration::from_secs(1800));
        assert_eq!(c.policy.failsafe_runs, 3);
        assert!(c.policy.paused);
        assert!(!c.policy.log_signals_need_agreement);
        assert!(
            config(&BASE).unwrap().policy.log_signals_need_agreement,
            "on by default"
        );
        assert_eq!(c.state_key, "state/web.json");
        for (var, bad) in [
            ("LOGSCALE_POLICY", "aggressive"),
            ("LOGSCALE_LATENCY_PERCENTILE", "97"),
            ("LOGSCALE_MAX_UP_STEP", "1.5"),
            ("LOGSCALE_TOLERANCE_UP", "2"),
        ] {
            let mut pairs = BASE.to_vec();
            pairs.push((var, bad));
            let msg = config(&pairs).unwrap_err().to_string();
            assert!(msg.starts_with(&format!("{var}=")), "{msg}");
        }
    }

    #[test]
    fn log_reading_settings() {
        let c = config(&BASE).unwrap();
        assert_eq!(c.parse.format, FormatChoice::Auto);
        assert_eq!(c.parse.slow_ms, 1000.0);
        let mut pairs = BASE.to_vec();
        pairs.extend([
            ("LOGSCALE_FORMAT", "alb"),
            ("LOGSCALE_ERRORS", "either"),
            ("LOGSCALE_SLOW_MS", "250"),
            ("LOGSCALE_JSON_LATENCY_KEYS", " rt , elapsed "),
            ("LOGSCALE_JSON_LATENCY_UNIT", "s"),
            ("LOGSCALE_REQUEST_TIME_UNIT", "us"),
        ]);
        let p = config(&pairs).unwrap().parse;
        assert_eq!(p.format, FormatChoice::Fixed(crate::parse::Format::Alb));
        assert_eq!(p.errors, ErrorRule::Either);
        assert_eq!(p.slow_ms, 250.0);
        assert_eq!(p.json.latency, ["rt", "elapsed"]);
        assert_eq!(p.json.latency_unit, TimeUnit::Seconds);
        assert_eq!(p.request_time_unit, Some(TimeUnit::Micros));
        for (var, bad) in [
            ("LOGSCALE_FORMAT", "csv"),
            ("LOGSCALE_ERRORS", "some"),
            ("LOGSCALE_JSON_LATENCY_UNIT", "weeks"),
            ("LOGSCALE_JSON_LATENCY_KEYS", " , "),
        ] {
            let mut pairs = BASE.to_vec();
            pairs.push((var, bad));
            let msg = config(&pairs).unwrap_err().to_string();
            assert!(msg.starts_with(&format!("{var}=")), "{msg}");
        }
    }

    #[test]
    fn log_defaults_are_the_parsers_defaults() {
        let p = config(&BASE).unwrap().parse;
        assert_eq!(p.json, JsonMapping::default());
        assert_eq!(p.format, FormatChoice::default());
        assert_eq!(p.errors, ErrorRule::default());
        assert_eq!(p.request_time_unit, None);
    }

    #[test]
    fn the_tables_choices_are_what_the_parser_takes() {
        for (setting, parses) in [
            (
                &settings::FORMAT,
                (|c: &str| c.parse::<FormatChoice>().is_ok()) as fn(&str) -> bool,
            ),
            (&settings::ERRORS, |c| c.parse::<ErrorRule>().is_ok()),
            (&settings::REQUEST_TIME_UNIT, |c| {
                c.parse::<TimeUnit>().is_ok()
            }),
            (&settings::JSON_LATENCY_UNIT, |c| {
                c.parse::<TimeUnit>().is_ok()
            }),
            (&settings::METRIC_STATISTIC, |c| {
                c.parse::<Statistic>().is_ok()
            }),
        ] {
            let Allowed::OneOf(choices) = setting.allowed else {
                panic!("{} lists no choices", setting.variable);
            };
            for c in choices {
                assert!(parses(c), "{}: {c}", setting.variable);
            }
        }
    }

    #[test]
    fn s3_path_style_is_a_setting() {
        assert_eq!(config(&BASE).unwrap().s3_path_style, None);
        let mut pairs = BASE.to_vec();
        pairs.push(("LOGSCALE_S3_PATH_STYLE", "on"));
        assert_eq!(config(&pairs).unwrap().s3_path_style, Some(true));
        let mut pairs = BASE.to_vec();
        pairs.push(("LOGSCALE_S3_PATH_STYLE", "sometimes"));
        assert_eq!(
            config(&pairs).unwrap_err().to_string(),
            "LOGSCALE_S3_PATH_STYLE=\"sometimes\" is not valid: expected true or false"
        );
        let lookup = |k: &str| (k == "LOGSCALE_S3_PATH_STYLE").then(|| "false".to_string());
        assert_eq!(s3_path_style(lookup), Ok(Some(false)));
    }

    #[test]
    fn log_settings_read_like_the_cycle() {
        let lookup = |pairs: &[(&str, &str)]| {
            let map: HashMap<String, String> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            move |k: &str| map.get(k).cloned()
        };
        // The same, except that the cycle caps an object's text by default and analyze only
        // when asked (see `max_object_bytes_caps_the_cycle_and_analyze_only_when_set`).
        let mut cycle = config(&BASE).unwrap().parse;
        assert_eq!(cycle.max_object_bytes, Some(1 << 30));
        cycle.max_object_bytes = None;
        assert_eq!(log_settings(lookup(&[])), Ok(cycle));
        let p = log_settings(lookup(&[
            ("LOGSCALE_SLOW_MS", " 250 "),
            ("LOGSCALE_ERRORS", "status"),
        ]))
        .unwrap();
        assert_eq!((p.slow_ms, p.errors), (250.0, ErrorRule::Status));
        // The same limits as the Lambda: no zero, nothing past an hour.
        for bad in ["0", "3600001", "soon"] {
            let err = log_settings(lookup(&[("LOGSCALE_SLOW_MS", bad)])).unwrap_err();
            assert!(
                err.to_string().starts_with("LOGSCALE_SLOW_MS="),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn max_object_bytes_caps_the_cycle_and_analyze_only_when_set() {
        assert_eq!(
            config(&BASE).unwrap().parse.max_object_bytes,
            Some(1_073_741_824)
        );
        let mut pairs = BASE.to_vec();
        pairs.push(("LOGSCALE_MAX_OBJECT_BYTES", "1048576"));
        assert_eq!(
            config(&pairs).unwrap().parse.max_object_bytes,
            Some(1 << 20)
        );
        let analyze = |value: &'static str| {
            log_settings(move |k| (k == "LOGSCALE_MAX_OBJECT_BYTES").then(|| value.to_string()))
        };
        assert_eq!(analyze("").unwrap().max_object_bytes, None);
        assert_eq!(
            analyze("68719476736").unwrap().max_object_bytes,
            Some(64 << 30)
        );
        // The same limits for both: a cap below 1 MiB would cut ordinary objects, and bytes
        // are whole.
        for bad in ["1048575", "68719476737", "1048576.5", "1GiB"] {
            let mut pairs = BASE.to_vec();
            pairs.push(("LOGSCALE_MAX_OBJECT_BYTES", bad));
            let msg = config(&pairs).unwrap_err().to_string();
            assert!(
                msg.starts_with("LOGSCALE_MAX_OBJECT_BYTES="),
                "{bad}: {msg}"
            );
            let msg = analyze(bad).unwrap_err().to_string();
            assert!(
                msg.starts_with("LOGSCALE_MAX_OBJECT_BYTES="),
                "{bad}: {msg}"
            );
        }
    }

    #[test]
    fn latency_percentile_is_one_of_four() {
        let mut pairs = BASE.to_vec();
        pairs.push(("LOGSCALE_LATENCY_PERCENTILE", "99.0"));
        assert_eq!(config(&pairs).unwrap().policy.latency_percentile, 99);
        let mut pairs = BASE.to_vec();
        pairs.push(("LOGSCALE_LATENCY_PERCENTILE", "97"));
        assert_eq!(
            config(&pairs).unwrap_err().to_string(),
            "LOGSCALE_LATENCY_PERCENTILE=\"97\" is not valid: expected 50, 90, 95 or 99"
        );
    }

    #[test]
    fn prefix_time_fields_are_checked_at_start() {
        let mut pairs = BASE.to_vec();
        pairs.push(("LOGSCALE_PREFIX", "logs/%Y/%m/%d/%H/"));
        assert_eq!(config(&pairs).unwrap().prefix, "logs/%Y/%m/%d/%H/");
        let mut pairs = BASE.to_vec();
        pairs.push(("LOGSCALE_PREFIX", "logs/%Y/%m/%d/%H/%S/"));
        let msg = config(&pairs).unwrap_err().to_string();
        assert!(
            msg.starts_with("LOGSCALE_PREFIX=\"logs/%Y/%m/%d/%H/%S/\" is not valid: `%S`"),
            "{msg}"
        );
        let mut pairs = BASE.to_vec();
        pairs.push(("LOGSCALE_PREFIX", "logs/100%"));
        let msg = config(&pairs).unwrap_err().to_string();
        assert!(msg.contains("%%"), "{msg}");
    }

    #[test]
    fn schedule_and_time_zone_are_read_once_at_start() {
        let c = config(&BASE).unwrap();
        assert_eq!(c.schedule, None);
        assert_eq!(c.timezone, chrono_tz::UTC);

        let mut pairs = BASE.to_vec();
        pairs.extend([
            (
                "LOGSCALE_SCHEDULE",
                " mon-fri 08:00-18:00 min=6; daily 00:00-06:00 max=4 ",
            ),
            ("LOGSCALE_TIMEZONE", "Europe/Paris"),
        ]);
        let c = config(&pairs).unwrap();
        assert_eq!(c.timezone, chrono_tz::Europe::Paris);
        let schedule = c.schedule.expect("a schedule");
        assert_eq!(
            schedule.to_string(),
            "mon-fri 08:00-18:00 min=6; daily 00:00-06:00 max=4"
        );
        // Monday 2025-01-06 07:30 UTC is 08:30 in Paris.
        let at = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2025, 1, 6, 7, 30, 0).unwrap();
        assert_eq!(schedule.bounds_at(at, c.timezone).min, Some(6));

        // A blank template Parameter means no schedule and UTC.
        let mut pairs = BASE.to_vec();
        pairs.extend([("LOGSCALE_SCHEDULE", ""), ("LOGSCALE_TIMEZONE", " ")]);
        let c = config(&pairs).unwrap();
        assert_eq!((c.schedule, c.timezone), (None, chrono_tz::UTC));
    }

    #[test]
    fn a_bad_schedule_or_time_zone_names_the_variable_rule_and_token() {
        let mut pairs = BASE.to_vec();
        pairs.push((
            "LOGSCALE_SCHEDULE",
            "mon-fri 08:00-18:00 min=6; sat,sun 10:00-16:00 min=lots",
        ));
        assert_eq!(
            config(&pairs).unwrap_err().to_string(),
            "LOGSCALE_SCHEDULE=\"mon-fri 08:00-18:00 min=6; sat,sun 10:00-16:00 min=lots\" is not valid: \
             rule 2 (`sat,sun 10:00-16:00 min=lots`): `min=lots` is not a bound: \
             expected min=N or max=N, N a whole number from 0 to 10000"
        );
        let mut pairs = BASE.to_vec();
        let long = "daily 00:00-24:00 min=1;".repeat(50);
        pairs.push(("LOGSCALE_SCHEDULE", &long));
        let msg = config(&pairs).unwrap_err().to_string();
        assert!(msg.ends_with("longer than 1024 characters"), "{msg}");

        for bad in ["Paris", "europe/paris", "CEST", "UTC+2"] {
            let mut pairs = BASE.to_vec();
            pairs.push(("LOGSCALE_TIMEZONE", bad));
            assert_eq!(
                config(&pairs).unwrap_err().to_string(),
                format!(
                    "LOGSCALE_TIMEZONE={bad:?} is not valid: expected an IANA time zone name \
                     such as UTC, Europe/Paris or America/New_York"
                )
            );
        }
    }

    #[test]
    fn a_cloudwatch_metric_is_read_once_into_a_typed_spec() {
        let c = config(&BASE).unwrap();
        assert_eq!(c.metric, None, "unset: no metric signal");
        assert_eq!(c.policy.target_metric_per_instance, None);

        let mut pairs = BASE.to_vec();
        pairs.extend([
            (
                "LOGSCALE_METRIC",
                " AWS/SQS ApproximateNumberOfMessagesVisible  QueueName=jobs ",
            ),
            ("LOGSCALE_METRIC_STATISTIC", "maximum"),
            ("LOGSCALE_METRIC_TARGET_PER_INSTANCE", "100"),
        ]);
        let c = config(&pairs).unwrap();
        assert_eq!(
            c.metric,
            Some(MetricSpec {
                namespace: "AWS/SQS".into(),
                name: "ApproximateNumberOfMessagesVisible".into(),
                dimensions: vec![("QueueName".into(), "jobs".into())],
                statistic: Statistic::Maximum,
            })
        );
        assert_eq!(c.policy.target_metric_per_instance, Some(100.0));

        // The statistic defaults to Average; blank template Parameters mean no metric.
        let mut pairs = BASE.to_vec();
        pairs.extend([
            ("LOGSCALE_METRIC", "MyApp Backlog"),
            ("LOGSCALE_METRIC_TARGET_PER_INSTANCE", "2.5"),
        ]);
        let c = config(&pairs).unwrap();
        assert_eq!(c.metric.map(|m| m.statistic), Some(Statistic::Average));
        let mut pairs = BASE.to_vec();
        pairs.extend([
            ("LOGSCALE_METRIC", " "),
            ("LOGSCALE_METRIC_STATISTIC", ""),
            ("LOGSCALE_METRIC_TARGET_PER_INSTANCE", ""),
        ]);
        assert_eq!(config(&pairs).unwrap().metric, None);
    }

    #[test]
    fn a_bad_metric_names_the_variable_and_the_token() {
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut pairs = BASE.to_vec();
            pairs.extend_from_slice(extra);
            config(&pairs).unwrap_err().to_string()
        };
        assert_eq!(
            with(&[
                ("LOGSCALE_METRIC", "AWS/SQS Visible QueueName"),
                ("LOGSCALE_METRIC_TARGET_PER_INSTANCE", "100"),
            ]),
            "LOGSCALE_METRIC=\"AWS/SQS Visible QueueName\" is not valid: `QueueName` is not a \
             dimension: expected DIMENSION=VALUE, both non-empty"
        );
        assert_eq!(
            with(&[("LOGSCALE_METRIC", "AWS/SQS")]),
            "LOGSCALE_METRIC=\"AWS/SQS\" is not valid: expected `NAMESPACE METRIC_NAME \
             [DIMENSION=VALUE ...]` separated by spaces, for example `AWS/SQS \
             ApproximateNumberOfMessagesVisible QueueName=jobs`"
        );
        assert_eq!(
            with(&[
                ("LOGSCALE_METRIC", "MyApp Backlog"),
                ("LOGSCALE_METRIC_STATISTIC", "p95"),
            ]),
            "LOGSCALE_METRIC_STATISTIC=\"p95\" is not valid: expected Average, Sum, Maximum or \
             Minimum"
        );
        // Without a target the metric could propose nothing: the target is named.
        for target in [None, Some("0")] {
            let mut extra = vec![("LOGSCALE_METRIC", "MyApp Backlog")];
            extra.extend(target.map(|t| ("LOGSCALE_METRIC_TARGET_PER_INSTANCE", t)));
            assert_eq!(
                with(&extra),
                "LOGSCALE_METRIC_TARGET_PER_INSTANCE=\"0\" is not valid: must be above 0 when \
                 LOGSCALE_METRIC is set (MyApp Backlog): the value of the metric one instance \
                 should handle"
            );
        }
        assert!(with(&[
            ("LOGSCALE_METRIC", "MyApp Backlog"),
            ("LOGSCALE_METRIC_TARGET_PER_INSTANCE", "-1"),
        ])
        .starts_with("LOGSCALE_METRIC_TARGET_PER_INSTANCE=\"-1\" is not valid"));
    }

    #[test]
    fn blank_optional_values_fall_back_to_defaults() {
        let mut pairs = BASE.to_vec();
        pairs.extend([
            ("LOGSCALE_WINDOW_MINUTES", ""),
            ("LOGSCALE_PREFIX", "logs/"),
        ]);
        let c = config(&pairs).unwrap();
        assert_eq!(c.tiling, Tiling::default());
        assert_eq!(c.prefix, "logs/");
    }
}
