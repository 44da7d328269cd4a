//! A CloudWatch metric as one more signal (`LOGSCALE_METRIC`): which metric (namespace, name,
//! dimensions) and the statistic it is read with. Parsed once by `config`; pure.
//!
//! The syntax is CloudWatch's own words separated by spaces:
//! `NAMESPACE METRIC_NAME [DIMENSION=VALUE ...]`, for example
//! `AWS/SQS ApproximateNumberOfMessagesVisible QueueName=jobs`. CloudWatch allows spaces inside
//! its names; this syntax does not (no AWS namespace, metric or dimension uses one).

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// The statistic CloudWatch computes for each minute of the metrics window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Statistic {
    #[default]
    Average,
    Sum,
    Maximum,
    Minimum,
}

impl Statistic {
    pub const ALL: [Statistic; 4] = [
        Statistic::Average,
        Statistic::Sum,
        Statistic::Maximum,
        Statistic::Minimum,
    ];

    /// As CloudWatch spells it in a query's `Stat`.
    pub fn name(self) -> &'static str {
        match self {
            Statistic::Average => "Average",
            Statistic::Sum => "Sum",
            Statistic::Maximum => "Maximum",
            Statistic::Minimum => "Minimum",
        }
    }
}

impl FromStr for Statistic {
    type Err = String;

    /// Any case: `sum` is `Sum`.
    fn from_str(s: &str) -> Result<Statistic, String> {
        Statistic::ALL
            .into_iter()
            .find(|stat| stat.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| "expected Average, Sum, Maximum or Minimum".to_string())
    }
}

impl fmt::Display for Statistic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One CloudWatch metric, read with one statistic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricSpec {
    pub namespace: String,
    pub name: String,
    /// Name and value of each dimension, in the order given; CloudWatch matches a metric only
    /// with exactly its dimensions.
    pub dimensions: Vec<(String, String)>,
    pub statistic: Statistic,
}

/// The most dimensions a CloudWatch metric has.
pub const MAX_DIMENSIONS: usize = 30;

/// CloudWatch's length limits, in characters.
const MAX_NAME_CHARS: usize = 255;
const MAX_DIMENSION_VALUE_CHARS: usize = 1024;

/// Why a metric's text is not one: each names the token at fault.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum MetricSpecError {
    #[error("expected `NAMESPACE METRIC_NAME [DIMENSION=VALUE ...]` separated by spaces, for example `AWS/SQS ApproximateNumberOfMessagesVisible QueueName=jobs`")]
    Incomplete,
    #[error("`{token}` is not a dimension: expected DIMENSION=VALUE, both non-empty")]
    NotADimension { token: String },
    #[error("the dimension `{name}` is given twice")]
    RepeatedDimension { name: String },
    #[error("{count} dimensions: a CloudWatch metric has at most {MAX_DIMENSIONS}")]
    TooManyDimensions { count: usize },
    #[error("`{token}` is not a CloudWatch {what}: {why}")]
    BadName {
        token: String,
        what: &'static str,
        why: String,
    },
}

impl MetricSpec {
    /// Reads `NAMESPACE METRIC_NAME [DIMENSION=VALUE ...]` (any run of spaces between words).
    pub fn parse(text: &str, statistic: Statistic) -> Result<MetricSpec, MetricSpecError> {
        let mut words = text.split_whitespace();
        let (Some(namespace), Some(name)) = (words.next(), words.next()) else {
            return Err(MetricSpecError::Incomplete);
        };
        // A dimension mistyped where the name belongs would read as a metric nobody publishes.
        if name.contains('=') {
            return Err(MetricSpecError::Incomplete);
        }
        checked(namespace, "namespace", MAX_NAME_CHARS)?;
        checked(name, "metric name", MAX_NAME_CHARS)?;
        let mut dimensions: Vec<(String, String)> = Vec::new();
        for token in words {
            let Some((key, value)) = token
                .split_once('=')
                .filter(|(k, v)| !k.is_empty() && !v.is_empty())
            else {
                return Err(MetricSpecError::NotADimension {
                    token: token.to_string(),
                });
            };
            checked(key, "dimension name", MAX_NAME_CHARS)?;
            checked(value, "dimension value", MAX_DIMENSION_VALUE_CHARS)?;
            if dimensions.iter().any(|(k, _)| k == key) {
                return Err(MetricSpecError::RepeatedDimension {
                    name: key.to_string(),
                });
            }
            dimensions.push((key.to_string(), value.to_string()));
        }
        if dimensions.len() > MAX_DIMENSIONS {
            return Err(MetricSpecError::TooManyDimensions {
                count: dimensions.len(),
            });
        }
        Ok(MetricSpec {
            namespace: namespace.to_string(),
            name: name.to_string(),
            dimensions,
            statistic,
        })
    }
}

/// CloudWatch's rules for a name or value: ASCII, not starting with a colon, not too long.
/// Caught here, they name the setting; caught by CloudWatch, they would fail every run.
fn checked(token: &str, what: &'static str, max: usize) -> Result<(), MetricSpecError> {
    let why = if !token.is_ascii() {
        format!("{what}s are ASCII")
    } else if token.starts_with(':') {
        format!("a {what} does not start with a colon")
    } else if token.len() > max {
        format!("longer than {max} characters")
    } else {
        return Ok(());
    };
    Err(MetricSpecError::BadName {
        token: token.to_string(),
        what,
        why,
    })
}

/// The metric as it is written, then its statistic: `AWS/SQS ApproximateNumberOfMessagesVisible
/// QueueName=jobs (Average)`.
impl fmt::Display for MetricSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.namespace, self.name)?;
        for (key, value) in &self.dimensions {
            write!(f, " {key}={value}")?;
        }
        write!(f, " ({})", self.statistic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<MetricSpec, MetricSpecError> {
        MetricSpec::parse(text, Statistic::Average)
    }

    #[test]
    fn a_metric_is_its_namespace_name_and_dimensions() {
        let spec = parse("  AWS/SQS   ApproximateNumberOfMessagesVisible QueueName=jobs ").unwrap();
        assert_eq!(
            spec,
            MetricSpec {
                namespace: "AWS/SQS".into(),
                name: "ApproximateNumberOfMessagesVisible".into(),
                dimensions: vec![("QueueName".into(), "jobs".into())],
                statistic: Statistic::Average,
            }
        );
        assert_eq!(
            spec.to_string(),
            "AWS/SQS ApproximateNumberOfMessagesVisible QueueName=jobs (Average)"
        );

        let bare = MetricSpec::parse("MyApp Backlog", Statistic::Maximum).unwrap();
        assert!(bare.dimensions.is_empty());
        assert_eq!(bare.to_string(), "MyApp Backlog (Maximum)");

        // A value may hold `=` and `/`: only the first `=` splits.
        let arn = parse(
            "AWS/ApplicationELB RequestCount LoadBalancer=app/web/50dc6c495c0c9188 TargetGroup=a=b",
        )
        .unwrap();
        assert_eq!(
            arn.dimensions,
            [
                (
                    "LoadBalancer".to_string(),
                    "app/web/50dc6c495c0c9188".to_string()
                ),
                ("TargetGroup".to_string(), "a=b".to_string()),
            ]
        );
    }

    #[test]
    fn each_error_names_the_token_at_fault() {
        let cases = [
            ("", "expected `NAMESPACE METRIC_NAME"),
            ("AWS/SQS", "expected `NAMESPACE METRIC_NAME"),
            ("AWS/SQS QueueName=jobs", "expected `NAMESPACE METRIC_NAME"),
            (
                "AWS/SQS Visible QueueName",
                "`QueueName` is not a dimension: expected DIMENSION=VALUE",
            ),
            ("AWS/SQS Visible =jobs", "`=jobs` is not a dimension"),
            (
                "AWS/SQS Visible QueueName=",
                "`QueueName=` is not a dimension",
            ),
            (
                "AWS/SQS Visible QueueName=a QueueName=b",
                "the dimension `QueueName` is given twice",
            ),
            (
                ":Private Visible",
                "`:Private` is not a CloudWatch namespace: a namespace does not start with a colon",
            ),
            (
                "MyApp Größe",
                "`Größe` is not a CloudWatch metric name: metric names are ASCII",
            ),
        ];
        for (text, want) in cases {
            let got = parse(text).unwrap_err().to_string();
            assert!(got.starts_with(want), "{text:?}: {got}");
        }
        let long = format!("MyApp Backlog Queue={}", "q".repeat(1025));
        assert!(parse(&long)
            .unwrap_err()
            .to_string()
            .ends_with("dimension value: longer than 1024 characters"));
        let many: Vec<String> = (0..31).map(|n| format!("D{n}=v")).collect();
        assert_eq!(
            parse(&format!("MyApp Backlog {}", many.join(" "))),
            Err(MetricSpecError::TooManyDimensions { count: 31 })
        );
    }

    #[test]
    fn statistics_are_read_in_any_case() {
        for stat in Statistic::ALL {
            assert_eq!(stat.name().to_lowercase().parse(), Ok(stat));
            assert_eq!(stat.name().parse(), Ok(stat));
        }
        assert_eq!(
            "p95".parse::<Statistic>(),
            Err("expected Average, Sum, Maximum or Minimum".to_string())
        );
    }
}
