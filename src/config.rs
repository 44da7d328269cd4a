//! Environment → validated [`Config`], in one place.
//!
//! The SAM template turns each Parameter into one `LOGSCALE_*` variable; the CLI reads the same
//! variables. Everything is parsed and checked here, once, so the rest of the crate works with
//! typed values. Every error names the variable and the value it rejected.

use std::collections::HashMap;
use std::time::Duration;

use thiserror::Error;

use crate::decide::{Policy, PolicyKind};
use crate::parse::{ErrorRule, FormatChoice, JsonMapping, ParseOptions, TimeUnit};

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

/// The thresholds of the original tool's policy (percentages are 0–100).
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    /// Scale out when the group's average CPU is above this.
    pub cpu_high: f64,
    /// Scale in only when the group's average CPU is below this (and the logs are healthy).
    pub cpu_low: f64,
    /// Scale out when more than this share of requests are errors.
    pub error_rate: f64,
    /// Scale out when more than this share of requests are slow.
    pub slow_rate: f64,
    /// A request is slow when its response time is over this many milliseconds.
    pub slow_ms: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            cpu_high: 70.0,
            cpu_low: 20.0,
            error_rate: 5.0,
            slow_rate: 10.0,
            slow_ms: 1000.0,
        }
    }
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
    /// How far back to look: objects last modified in `(now - window, now]` are read.
    pub window: Duration,
    /// How far back CPU and memory are averaged. Longer than `window` by default because EC2
    /// basic monitoring publishes a point every 5 minutes, a few minutes late.
    pub metrics_window: Duration,
    /// How the capacity is decided: the policy, its targets, limits and guard rails.
    pub policy: Policy,
    /// Where the policy's state is kept, in the log bucket.
    pub state_key: String,
    /// Do everything except the final SetDesiredCapacity call.
    pub dry_run: bool,
    /// Pass HonorCooldown to SetDesiredCapacity, so AWS refuses a change during a cooldown.
    pub honor_cooldown: bool,
    /// How many log objects are downloaded and parsed at once.
    pub fetch_concurrency: usize,
    /// Time kept back from the invocation's deadline for observing, deciding and acting.
    pub reserve: Duration,
    /// How log lines are read: format, error rule, units, JSON keys (and the slow threshold).
    pub parse: ParseOptions,
}

/// The variables [`Config::from_lookup`] reads, with their defaults, for help texts and docs.
pub const VARIABLES: &[(&str, &str)] = &[
    ("LOGSCALE_BUCKET", "(required)"),
    ("LOGSCALE_PREFIX", "\"\""),
    ("LOGSCALE_GROUP", "(required)"),
    ("LOGSCALE_WINDOW_MINUTES", "5"),
    ("LOGSCALE_METRICS_MINUTES", "10"),
    ("LOGSCALE_CPU_HIGH", "70"),
    ("LOGSCALE_CPU_LOW", "20"),
    ("LOGSCALE_ERROR_RATE", "5"),
    ("LOGSCALE_SLOW_RATE", "10"),
    ("LOGSCALE_SLOW_MS", "1000"),
    ("LOGSCALE_DRY_RUN", "false"),
    ("LOGSCALE_HONOR_COOLDOWN", "true"),
    ("LOGSCALE_FETCH_CONCURRENCY", "8"),
    ("LOGSCALE_RESERVE_SECONDS", "15"),
    ("LOGSCALE_POLICY", "default"),
    ("LOGSCALE_TARGET_CPU", "65"),
    ("LOGSCALE_TARGET_MEMORY", "75"),
    ("LOGSCALE_TARGET_LATENCY_MS", "600"),
    ("LOGSCALE_LATENCY_PERCENTILE", "95"),
    ("LOGSCALE_TOLERANCE_UP", "0.1"),
    ("LOGSCALE_TOLERANCE_DOWN", "0.1"),
    ("LOGSCALE_MAX_UP_PERCENT", "200"),
    ("LOGSCALE_MAX_UP_STEP", "4"),
    ("LOGSCALE_MAX_DOWN_PERCENT", "20"),
    ("LOGSCALE_MAX_DOWN_STEP", "1"),
    ("LOGSCALE_STABILIZATION_MINUTES", "15"),
    ("LOGSCALE_FAILSAFE_RUNS", "0"),
    ("LOGSCALE_FAILSAFE_STEP", "1"),
    ("LOGSCALE_WARMUP_SECONDS", "300"),
    ("LOGSCALE_PAUSED", "false"),
    ("LOGSCALE_STATE_KEY", "logscale-state/<group>.json"),
    ("LOGSCALE_FORMAT", "auto"),
    ("LOGSCALE_ERRORS", "auto"),
    ("LOGSCALE_REQUEST_TIME_UNIT", "(guess)"),
    ("LOGSCALE_JSON_STATUS_KEY", "status"),
    (
        "LOGSCALE_JSON_LATENCY_KEYS",
        "duration_ms,latency_ms,response_time_ms,latency,duration",
    ),
    ("LOGSCALE_JSON_LATENCY_UNIT", "ms"),
    ("LOGSCALE_JSON_LEVEL_KEY", "level"),
];

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = std::env::vars().collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    /// Reads settings through `lookup` (the environment in production, a map in tests).
    /// An empty value counts as unset, so a blank template Parameter means "use the default".
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |var: &str| {
            lookup(var)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };

        let bucket = get("LOGSCALE_BUCKET").ok_or(ConfigError::Missing {
            var: "LOGSCALE_BUCKET",
        })?;
        validate_bucket(&bucket)?;
        let group = get("LOGSCALE_GROUP").ok_or(ConfigError::Missing {
            var: "LOGSCALE_GROUP",
        })?;
        if group.len() > 255 {
            return Err(invalid(
                "LOGSCALE_GROUP",
                &group,
                "longer than 255 characters",
            ));
        }
        let prefix = get("LOGSCALE_PREFIX").unwrap_or_default();

        let window_minutes = number(&get, "LOGSCALE_WINDOW_MINUTES", 5.0, 1.0, 1440.0)?;
        let metrics_minutes = number(&get, "LOGSCALE_METRICS_MINUTES", 10.0, 1.0, 1440.0)?;
        let thresholds = Thresholds {
            cpu_high: number(&get, "LOGSCALE_CPU_HIGH", 70.0, 0.0, 100.0)?,
            cpu_low: number(&get, "LOGSCALE_CPU_LOW", 20.0, 0.0, 100.0)?,
            error_rate: number(&get, "LOGSCALE_ERROR_RATE", 5.0, 0.0, 100.0)?,
            slow_rate: number(&get, "LOGSCALE_SLOW_RATE", 10.0, 0.0, 100.0)?,
            slow_ms: number(&get, "LOGSCALE_SLOW_MS", 1000.0, 1.0, 3_600_000.0)?,
        };
        if thresholds.cpu_low >= thresholds.cpu_high {
            return Err(invalid(
                "LOGSCALE_CPU_LOW",
                &thresholds.cpu_low.to_string(),
                &format!(
                    "must be below LOGSCALE_CPU_HIGH ({}), or the group would flap",
                    thresholds.cpu_high
                ),
            ));
        }
        let fetch_concurrency = number(&get, "LOGSCALE_FETCH_CONCURRENCY", 8.0, 1.0, 64.0)?;
        if fetch_concurrency.fract() != 0.0 {
            return Err(invalid(
                "LOGSCALE_FETCH_CONCURRENCY",
                &fetch_concurrency.to_string(),
                "must be a whole number",
            ));
        }
        let reserve = number(&get, "LOGSCALE_RESERVE_SECONDS", 15.0, 0.0, 600.0)?;
        let parse = parse_options(&get, thresholds.slow_ms)?;
        let policy = policy(&get, thresholds)?;
        let state_key =
            get("LOGSCALE_STATE_KEY").unwrap_or_else(|| format!("logscale-state/{group}.json"));

        Ok(Config {
            bucket,
            prefix,
            group,
            window: Duration::from_secs_f64(window_minutes * 60.0),
            metrics_window: Duration::from_secs_f64(metrics_minutes * 60.0),
            policy,
            state_key,
            dry_run: boolean(&get, "LOGSCALE_DRY_RUN", false)?,
            honor_cooldown: boolean(&get, "LOGSCALE_HONOR_COOLDOWN", true)?,
            fetch_concurrency: fetch_concurrency as usize,
            reserve: Duration::from_secs_f64(reserve),
            parse,
        })
    }
}

/// The decision policy's settings.
fn policy(
    get: &impl Fn(&str) -> Option<String>,
    thresholds: Thresholds,
) -> Result<Policy, ConfigError> {
    let d = Policy::default();
    let kind = match get("LOGSCALE_POLICY")
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("default") => PolicyKind::Default,
        Some("original") => PolicyKind::Original,
        Some(_) => {
            let raw = get("LOGSCALE_POLICY").unwrap_or_default();
            return Err(invalid(
                "LOGSCALE_POLICY",
                &raw,
                "expected default or original",
            ));
        }
    };
    let whole = |var: &'static str, default: u32, max: f64| -> Result<u32, ConfigError> {
        let v = number(get, var, f64::from(default), 0.0, max)?;
        if v.fract() != 0.0 {
            return Err(invalid(var, &v.to_string(), "must be a whole number"));
        }
        Ok(v as u32)
    };
    let percentile = whole("LOGSCALE_LATENCY_PERCENTILE", 95, 100.0)?;
    if ![50, 90, 95, 99].contains(&percentile) {
        return Err(invalid(
            "LOGSCALE_LATENCY_PERCENTILE",
            &percentile.to_string(),
            "expected 50, 90, 95 or 99",
        ));
    }
    Ok(Policy {
        kind,
        thresholds,
        target_cpu: number(get, "LOGSCALE_TARGET_CPU", d.target_cpu, 1.0, 100.0)?,
        target_memory: number(get, "LOGSCALE_TARGET_MEMORY", d.target_memory, 1.0, 100.0)?,
        target_latency_ms: number(
            get,
            "LOGSCALE_TARGET_LATENCY_MS",
            d.target_latency_ms,
            1.0,
            3_600_000.0,
        )?,
        latency_percentile: percentile as u8,
        tolerance_up: number(get, "LOGSCALE_TOLERANCE_UP", d.tolerance_up, 0.0, 1.0)?,
        tolerance_down: number(get, "LOGSCALE_TOLERANCE_DOWN", d.tolerance_down, 0.0, 1.0)?,
        max_up_percent: number(
            get,
            "LOGSCALE_MAX_UP_PERCENT",
            d.max_up_percent,
            0.0,
            1000.0,
        )?,
        max_up_step: whole("LOGSCALE_MAX_UP_STEP", d.max_up_step, 10_000.0)?,
        max_down_percent: number(
            get,
            "LOGSCALE_MAX_DOWN_PERCENT",
            d.max_down_percent,
            0.0,
            100.0,
        )?,
        max_down_step: whole("LOGSCALE_MAX_DOWN_STEP", d.max_down_step, 10_000.0)?,
        stabilization: Duration::from_secs_f64(
            60.0 * number(get, "LOGSCALE_STABILIZATION_MINUTES", 15.0, 0.0, 1440.0)?,
        ),
        failsafe_runs: whole("LOGSCALE_FAILSAFE_RUNS", d.failsafe_runs, 10_000.0)?,
        failsafe_step: whole("LOGSCALE_FAILSAFE_STEP", d.failsafe_step, 10_000.0)?,
        warmup: Duration::from_secs_f64(number(
            get,
            "LOGSCALE_WARMUP_SECONDS",
            300.0,
            0.0,
            86_400.0,
        )?),
        paused: boolean(get, "LOGSCALE_PAUSED", false)?,
    })
}

/// The log-reading settings; shared with `logscale analyze`, which takes the same variables.
pub fn parse_options(
    get: &impl Fn(&str) -> Option<String>,
    slow_ms: f64,
) -> Result<ParseOptions, ConfigError> {
    let defaults = JsonMapping::default();
    let json = JsonMapping {
        status: get("LOGSCALE_JSON_STATUS_KEY").unwrap_or(defaults.status),
        latency: match get("LOGSCALE_JSON_LATENCY_KEYS") {
            None => defaults.latency,
            Some(raw) => {
                let keys: Vec<String> = raw
                    .split(',')
                    .map(|k| k.trim().to_string())
                    .filter(|k| !k.is_empty())
                    .collect();
                if keys.is_empty() {
                    return Err(invalid(
                        "LOGSCALE_JSON_LATENCY_KEYS",
                        &raw,
                        "expected one or more keys separated by commas",
                    ));
                }
                keys
            }
        },
        latency_unit: parsed(get, "LOGSCALE_JSON_LATENCY_UNIT")?.unwrap_or(TimeUnit::Millis),
        level: get("LOGSCALE_JSON_LEVEL_KEY").unwrap_or(defaults.level),
    };
    Ok(ParseOptions {
        slow_ms,
        format: parsed::<FormatChoice>(get, "LOGSCALE_FORMAT")?.unwrap_or_default(),
        errors: parsed::<ErrorRule>(get, "LOGSCALE_ERRORS")?.unwrap_or_default(),
        request_time_unit: parsed(get, "LOGSCALE_REQUEST_TIME_UNIT")?,
        json,
    })
}

/// A variable read with the type's `FromStr`, whose message becomes the error's reason.
fn parsed<T: std::str::FromStr<Err = String>>(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
) -> Result<Option<T>, ConfigError> {
    get(var)
        .map(|raw| {
            raw.parse::<T>()
                .map_err(|reason| invalid(var, &raw, &reason))
        })
        .transpose()
}

fn invalid(var: &'static str, value: &str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        var,
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

fn number(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: f64,
    min: f64,
    max: f64,
) -> Result<f64, ConfigError> {
    let Some(raw) = get(var) else {
        return Ok(default);
    };
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
    Ok(value)
}

fn boolean(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: bool,
) -> Result<bool, ConfigError> {
    match get(var) {
        None => Ok(default),
        Some(raw) => parse_bool(&raw).ok_or_else(|| invalid(var, &raw, "expected true or false")),
    }
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
    fn defaults_are_the_original_tools_thresholds() {
        let c = config(&BASE).unwrap();
        assert_eq!(c.policy.thresholds, Thresholds::default());
        assert_eq!(c.policy, Policy::default());
        assert_eq!(c.state_key, "logscale-state/web.json");
        assert_eq!(c.window, Duration::from_secs(300));
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
            ("LOGSCALE_STATE_KEY", "state/web.json"),
        ]);
        let c = config(&pairs).unwrap();
        assert_eq!(c.policy.kind, PolicyKind::Original);
        assert_eq!(c.policy.target_cpu, 55.0);
        assert_eq!(c.policy.stabilization, Duration::from_secs(1800));
        assert_eq!(c.policy.failsafe_runs, 3);
        assert!(c.policy.paused);
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
    fn blank_optional_values_fall_back_to_defaults() {
        let mut pairs = BASE.to_vec();
        pairs.extend([
            ("LOGSCALE_WINDOW_MINUTES", ""),
            ("LOGSCALE_PREFIX", "logs/"),
        ]);
        let c = config(&pairs).unwrap();
        assert_eq!(c.window, Duration::from_secs(300));
        assert_eq!(c.prefix, "logs/");
    }
}
