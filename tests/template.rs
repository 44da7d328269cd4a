//! template.yaml's operating side, checked without AWS: the dashboard's body (after `!Sub`)
//! against CloudWatch's dashboard body structure and the metrics the records emit, the alarms
//! against the same metrics, the function's failure handling and its retained log group.
//! Each check returns the problems it finds, in words; `the_checks_see_a_drift` breaks the
//! template on purpose to show that each one can fail.

use serde_json::Value as Json;
use serde_yaml::Value as Yaml;

/// The metrics the Embedded Metric Format line of each record may carry, dimensioned by
/// `AutoScalingGroupName`: the names src/metrics.rs emits (a unit test there holds its emitter
/// to these lists).
use logscale::metrics::{signal_metric_names, GROUP_METRICS as CONTRACT_METRICS, HOLDS_METRIC};

const GROUP_DIMENSION: &str = "AutoScalingGroupName";

/// AWS's own metrics the dashboard may show beside logscale's: namespace, dimension, names.
const AWS_METRICS: &[(&str, &str, &[&str])] = &[
    (
        "AWS/Lambda",
        "FunctionName",
        &[
            "Errors",
            "Throttles",
            "Duration",
            "Invocations",
            "ConcurrentExecutions",
        ],
    ),
    (
        "AWS/SQS",
        "QueueName",
        &[
            "ApproximateNumberOfMessagesVisible",
            "ApproximateAgeOfOldestMessage",
        ],
    ),
];

/// Sample values for `!Sub`'s variables that are neither Parameters with a default nor
/// resources (the template's required Parameters and the pseudo parameters).
const SAMPLE_VALUES: &[(&str, &str)] = &[
    ("AWS::Region", "us-east-1"),
    ("AWS::AccountId", "111122223333"),
    ("AWS::Partition", "aws"),
    ("AWS::StackName", "logscale"),
    ("GroupName", "web-asg_prod.1"),
    ("LogBucket", "my-logs"),
];

/// CloudWatch's grid is 24 columns wide; a widget is at most 1000 units high.
const GRID_COLUMNS: i64 = 24;
const MAX_WIDGET_HEIGHT: i64 = 1000;

fn contract_metric(name: &str) -> bool {
    CONTRACT_METRICS.contains(&name) || signal_metrics().iter().any(|n| n == name)
}

/// Every signal's `<Signal>Value`, `<Signal>Target` and `<Signal>Proposal`.
fn signal_metrics() -> Vec<String> {
    logscale::Signal::ALL
        .into_iter()
        .flat_map(signal_metric_names)
        .collect()
}

fn template_text() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("template.yaml");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn parse(text: &str) -> Yaml {
    serde_yaml::from_str(text).expect("template.yaml is YAML")
}

/// The value under a CloudFormation short tag (`!Sub x` is `Sub`), if `value` carries it.
fn tagged<'a>(value: &'a Yaml, tag: &str) -> Option<&'a Yaml> {
    match value {
        Yaml::Tagged(t) if t.tag == tag => Some(&t.value),
        _ => None,
    }
}

fn resources(template: &Yaml) -> &serde_yaml::Mapping {
    template["Resources"]
        .as_mapping()
        .expect("a Resources mapping")
}

/// The resources of one type, by logical ID.
fn resources_of<'a>(template: &'a Yaml, kind: &str) -> Vec<(&'a str, &'a Yaml)> {
    resources(template)
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some(kind))
        .map(|(id, r)| (id.as_str().expect("a logical ID"), r))
        .collect()
}

/// What `${name}` stands for at deploy time, with a sample value: a pseudo parameter or a
/// required Parameter (SAMPLE_VALUES), a Parameter's default, a resource's physical ID
/// (`${Resource}`) or one of its attributes (`${Resource.Attribute}`). None for a name the
/// template does not define, which `!Sub` would refuse.
fn sample_value(template: &Yaml, name: &str) -> Option<String> {
    if let Some((_, v)) = SAMPLE_VALUES.iter().find(|(n, _)| *n == name) {
        return Some(v.to_string());
    }
    if let Some(default) = template["Parameters"][name].get("Default") {
        return match default {
            Yaml::String(s) => Some(s.clone()),
            Yaml::Number(n) => Some(n.to_string()),
            Yaml::Bool(b) => Some(b.to_string()),
            _ => None,
        };
    }
    let (resource, attribute) = match name.split_once('.') {
        Some((r, a)) => (r, Some(a)),
        None => (name, None),
    };
    let kind = resources(template).get(resource)?["Type"].as_str()?;
    Some(match (kind, attribute) {
        ("AWS::CloudWatch::Alarm", Some("Arn")) => {
            format!("arn:aws:cloudwatch:us-east-1:111122223333:alarm:logscale-{resource}-SAMPLE")
        }
        (_, Some("Arn")) => format!("arn:aws:sample:us-east-1:111122223333:{resource}"),
        (_, Some(attribute)) => format!("logscale-{resource}-{attribute}-SAMPLE"),
        (_, None) => format!("logscale-{resource}-SAMPLE"),
    })
}

/// `!Sub`'s substitution: every `${name}` replaced by its sample value, `${!text}` by `${text}`.
fn substitute(template: &Yaml, text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut unknown = Vec::new();
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("an unclosed ${{ in {:?}", &rest[start..]))?;
        let name = &after[..end];
        match name.strip_prefix('!') {
            Some(literal) => out.push_str(&format!("${{{literal}}}")),
            None => match sample_value(template, name) {
                Some(value) => out.push_str(&value),
                None => unknown.push(name.to_string()),
            },
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    if unknown.is_empty() {
        Ok(out)
    } else {
        Err(format!(
            "!Sub names what the template does not define: {unknown:?}"
        ))
    }
}

/// The main dashboard's body, substituted and parsed.
fn dashboard_body(template: &Yaml) -> Result<Json, String> {
    dashboard_body_of(template, "Dashboard")
}

/// The body of the dashboard with logical ID `id`, substituted and parsed.
fn dashboard_body_of(template: &Yaml, id: &str) -> Result<Json, String> {
    let dashboards = resources_of(template, "AWS::CloudWatch::Dashboard");
    let Some((_, dashboard)) = dashboards.iter().find(|(name, _)| *name == id) else {
        return Err(format!("no dashboard {id} in the template"));
    };
    let body = &dashboard["Properties"]["DashboardBody"];
    let text = tagged(body, "Sub")
        .and_then(Yaml::as_str)
        .ok_or("DashboardBody is not a `!Sub` of one string")?;
    let text = substitute(template, text)?;
    serde_json::from_str(&text).map_err(|e| format!("the dashboard body is not JSON: {e}"))
}

// ---- The dashboard body (CloudWatch's "Dashboard Body Structure and Syntax") ----

const WIDGET_TYPES: &[&str] = &["metric", "text", "alarm", "log", "explorer", "custom"];
const VIEWS: &[&str] = &["timeSeries", "singleValue", "gauge", "bar", "pie", "table"];
const STATISTICS: &[&str] = &["SampleCount", "Average", "Sum", "Minimum", "Maximum"];
const RENDERING_KEYS: &[&str] = &[
    "accountId",
    "color",
    "id",
    "label",
    "period",
    "region",
    "stat",
    "visible",
    "yAxis",
];

/// A statistic CloudWatch accepts: the five, or a percentile such as `p95` or `p99.9`.
fn statistic(s: &str) -> bool {
    STATISTICS.contains(&s)
        || s.strip_prefix('p')
            .and_then(|p| p.parse::<f64>().ok())
            .is_some_and(|p| (0.0..=100.0).contains(&p))
}

/// The names of the metrics the dashboard reads from logscale's namespace, for the test that
/// every contract metric that matters is on it.
#[derive(Default)]
struct Seen {
    logscale_metrics: Vec<String>,
    search_metrics: Vec<String>,
    /// AWS's metrics: namespace, name and the dimension's value.
    aws_metrics: Vec<(String, String, String)>,
}

struct Expect<'a> {
    namespace: &'a str,
    group: &'a str,
}

fn integer(widget: &Json, key: &str, default: Option<i64>) -> Result<i64, String> {
    match widget.get(key) {
        None => default.ok_or(format!("no {key}")),
        Some(v) => v.as_i64().ok_or(format!("{key} {v} is not a whole number")),
    }
}

/// Every problem of the body, each naming its widget; the metrics it reads go to `seen`.
fn dashboard_problems(body: &Json, expect: &Expect, seen: &mut Seen) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(widgets) = body["widgets"].as_array().filter(|w| !w.is_empty()) else {
        return vec!["no widgets".to_string()];
    };
    if widgets.len() > 500 {
        problems.push(format!("{} widgets, over 500", widgets.len()));
    }
    let mut placed: Vec<(String, i64, i64, i64, i64)> = Vec::new();
    for (i, widget) in widgets.iter().enumerate() {
        let title = widget["properties"]["title"].as_str().unwrap_or("");
        let name = format!("widget {i} ({title:?})");
        let mut problem = |p: String| problems.push(format!("{name}: {p}"));
        let kind = widget["type"].as_str().unwrap_or("");
        if !WIDGET_TYPES.contains(&kind) {
            problem(format!("type {:?} is not a widget type", widget["type"]));
        }
        let geometry = (
            integer(widget, "x", Some(0)),
            integer(widget, "y", Some(0)),
            integer(widget, "width", Some(6)),
            integer(widget, "height", Some(6)),
        );
        match geometry {
            (Ok(x), Ok(y), Ok(width), Ok(height)) => {
                if !(0..GRID_COLUMNS).contains(&x) || y < 0 {
                    problem(format!("x {x}, y {y} outside the grid"));
                }
                if !(1..=GRID_COLUMNS).contains(&width) || x + width > GRID_COLUMNS {
                    problem(format!("x {x} and width {width} do not fit 24 columns"));
                }
                if !(1..=MAX_WIDGET_HEIGHT).contains(&height) {
                    problem(format!("height {height} is not 1 to {MAX_WIDGET_HEIGHT}"));
                }
                for (other, ox, oy, ow, oh) in &placed {
                    if x < ox + ow && *ox < x + width && y < oy + oh && *oy < y + height {
                        problem(format!("overlaps {other}"));
                    }
                }
                placed.push((name.clone(), x, y, width, height));
            }
            (x, y, width, height) => {
                for e in [x, y, width, height].into_iter().filter_map(Result::err) {
                    problem(e);
                }
            }
        }
        let properties = &widget["properties"];
        if !properties.is_object() {
            problem("no properties object".to_string());
            continue;
        }
        let found = match kind {
            "metric" => metric_widget_problems(properties, expect, seen),
            "text" => match properties["markdown"].as_str() {
                Some(_) => Vec::new(),
                None => vec!["a text widget without markdown".to_string()],
            },
            "alarm" => match properties["alarms"].as_array() {
                Some(arns)
                    if (1..=100).contains(&arns.len())
                        && arns
                            .iter()
                            .all(|a| a.as_str().is_some_and(|a| a.starts_with("arn:"))) =>
                {
                    Vec::new()
                }
                _ => vec!["an alarm widget needs 1 to 100 alarm ARNs".to_string()],
            },
            _ => Vec::new(),
        };
        for p in found {
            problem(p);
        }
    }
    problems
}

fn metric_widget_problems(properties: &Json, expect: &Expect, seen: &mut Seen) -> Vec<String> {
    let mut problems = Vec::new();
    if !properties["region"].is_string() {
        problems.push("no region".to_string());
    }
    if let Some(view) = properties.get("view") {
        if !view.as_str().is_some_and(|v| VIEWS.contains(&v)) {
            problems.push(format!("view {view} is not one of {VIEWS:?}"));
        }
    }
    if let Some(stat) = properties.get("stat") {
        if !stat.as_str().is_some_and(statistic) {
            problems.push(format!("stat {stat} is not a statistic"));
        }
    }
    if let Some(period) = properties.get("period") {
        if !period.as_i64().is_some_and(|p| p > 0 && p % 60 == 0) {
            problems.push(format!("period {period} is not a multiple of 60 s"));
        }
    }
    if let Some(horizontal) = properties.get("annotations").map(|a| &a["horizontal"]) {
        let numbers = horizontal
            .as_array()
            .is_some_and(|h| h.iter().all(|a| a["value"].is_number()));
        if !numbers {
            problems.push("a horizontal annotation without a numeric value".to_string());
        }
    }
    let Some(rows) = properties["metrics"].as_array().filter(|m| !m.is_empty()) else {
        problems.push("a metric widget without metrics".to_string());
        return problems;
    };
    let mut previous: Vec<String> = Vec::new();
    for (r, row) in rows.iter().enumerate() {
        match metric_row(row, &previous, expect, seen) {
            Ok(strings) => previous = strings,
            Err(p) => problems.push(format!("metrics row {r}: {p}")),
        }
    }
    problems
}

/// One `metrics` row: `[Namespace, MetricName, (DimensionName, DimensionValue)*, {options}?]`,
/// where `"."` repeats the previous row's item, or `[{"expression": ...}]`. Returns the row's
/// strings, resolved, for the next row's `"."`.
fn metric_row(
    row: &Json,
    previous: &[String],
    expect: &Expect,
    seen: &mut Seen,
) -> Result<Vec<String>, String> {
    let items = row.as_array().ok_or("not an array")?;
    if let [Json::Object(expression)] = items.as_slice() {
        let text = expression
            .get("expression")
            .and_then(Json::as_str)
            .ok_or("an object row without an expression")?;
        if let Some(id) = expression.get("id").and_then(Json::as_str) {
            let valid = id.starts_with(|c: char| c.is_ascii_lowercase())
                && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(format!(
                    "id {id:?} must start lowercase, then letters, digits, _"
                ));
            }
        }
        search_problems(text, expect, seen)?;
        return Ok(Vec::new());
    }
    let (options, strings) = match items.split_last() {
        Some((Json::Object(options), strings)) => (Some(options), strings),
        _ => (None, items.as_slice()),
    };
    let mut resolved = Vec::new();
    for (i, item) in strings.iter().enumerate() {
        let s = item
            .as_str()
            .ok_or(format!("item {i} is {item}, not a string"))?;
        let s = match s {
            "." => previous
                .get(i)
                .cloned()
                .ok_or(format!("item {i} is \".\" with nothing above it"))?,
            s => s.to_string(),
        };
        resolved.push(s);
    }
    if resolved.len() < 2 || resolved.len() % 2 != 0 {
        return Err(format!(
            "{resolved:?} is not a namespace, a metric name and name/value pairs"
        ));
    }
    if let Some(options) = options {
        for (key, value) in options {
            if !RENDERING_KEYS.contains(&key.as_str()) {
                return Err(format!("option {key:?} is not one of {RENDERING_KEYS:?}"));
            }
            let fine = match key.as_str() {
                "stat" => value.as_str().is_some_and(statistic),
                "yAxis" => matches!(value.as_str(), Some("left" | "right")),
                "period" => value.as_i64().is_some_and(|p| p > 0 && p % 60 == 0),
                "visible" => value.is_boolean(),
                _ => value.is_string(),
            };
            if !fine {
                return Err(format!("option {key:?} has the value {value}"));
            }
        }
    }
    let (namespace, name) = (&resolved[0], &resolved[1]);
    let dimensions: Vec<(&str, &str)> = resolved[2..]
        .chunks(2)
        .map(|pair| (pair[0].as_str(), pair[1].as_str()))
        .collect();
    if namespace == expect.namespace {
        if !contract_metric(name) {
            return Err(format!("{name} is not a metric the records emit"));
        }
        if dimensions != [(GROUP_DIMENSION, expect.group)] {
            return Err(format!(
                "{name} is read by {dimensions:?}, not by {GROUP_DIMENSION} = {}",
                expect.group
            ));
        }
        seen.logscale_metrics.push(name.clone());
    } else {
        let Some((_, dimension, names)) = AWS_METRICS.iter().find(|(ns, ..)| ns == namespace)
        else {
            return Err(format!(
                "namespace {namespace:?} is neither logscale's nor AWS's"
            ));
        };
        let keyed = dimensions.len() == 1 && dimensions[0].0 == *dimension;
        if !names.contains(&name.as_str()) || !keyed {
            return Err(format!("{namespace} {name} by {dimensions:?}"));
        }
        seen.aws_metrics
            .push((namespace.clone(), name.clone(), dimensions[0].1.to_string()));
    }
    Ok(resolved)
}

/// A `SEARCH('{"Namespace",Dimension,...} terms', 'Stat', period)` over logscale's metrics:
/// the schema is logscale's namespace with the group's dimension, restricted to this group,
/// and each `MetricName="..."` is one the records emit.
fn search_problems(expression: &str, expect: &Expect, seen: &mut Seen) -> Result<(), String> {
    let inner = expression
        .strip_prefix("SEARCH('")
        .and_then(|e| e.split_once("', '"))
        .map(|(query, _)| query)
        .ok_or(format!(
            "{expression:?} is not SEARCH('query', 'statistic', period)"
        ))?;
    let schema = inner
        .strip_prefix('{')
        .and_then(|s| s.split_once('}'))
        .map(|(schema, _)| schema)
        .ok_or(format!("{inner:?} names no metric schema"))?;
    let mut names = schema.split(',').map(|n| n.trim().trim_matches('"'));
    if names.next() != Some(expect.namespace) || !names.any(|n| n == GROUP_DIMENSION) {
        return Err(format!(
            "the schema {{{schema}}} is not logscale's namespace with {GROUP_DIMENSION}"
        ));
    }
    if !inner.contains(&format!("{GROUP_DIMENSION}=\"{}\"", expect.group)) {
        return Err(format!("{inner:?} is not restricted to the group"));
    }
    let metric_names: Vec<&str> = inner
        .split("MetricName=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    if metric_names.is_empty() {
        return Err(format!("{inner:?} names no MetricName"));
    }
    for name in metric_names {
        if name != HOLDS_METRIC && !contract_metric(name) {
            return Err(format!("SEARCH for {name}, not a metric the records emit"));
        }
        seen.search_metrics.push(name.to_string());
    }
    Ok(())
}

// ---- Alarms, failures, the log group ----

/// A `!Ref` of `name`?
fn is_ref(value: &Yaml, name: &str) -> bool {
    tagged(value, "Ref").and_then(Yaml::as_str) == Some(name)
}

/// Every alarm on logscale's namespace reads a contract metric by the group alone; every alarm
/// says what it means; the Blind and AtMax alarms exist.
fn alarm_problems(template: &Yaml) -> Vec<String> {
    let mut problems = Vec::new();
    let mut on_namespace = Vec::new();
    for (id, alarm) in resources_of(template, "AWS::CloudWatch::Alarm") {
        let p = &alarm["Properties"];
        let describes = p["AlarmDescription"].as_str().is_some()
            || tagged(&p["AlarmDescription"], "Sub").is_some();
        if !describes {
            problems.push(format!("{id} has no AlarmDescription"));
        }
        if !is_ref(&p["Namespace"], "MetricsNamespace") {
            continue;
        }
        let name = p["MetricName"].as_str().unwrap_or("");
        on_namespace.push(name.to_string());
        if !contract_metric(name) {
            problems.push(format!(
                "{id} reads {name:?}, not a metric the records emit"
            ));
        }
        let by_group = match p["Dimensions"].as_sequence().map(Vec::as_slice) {
            Some([dimension]) => {
                dimension["Name"].as_str() == Some(GROUP_DIMENSION)
                    && is_ref(&dimension["Value"], "GroupName")
            }
            _ => false,
        };
        if !by_group {
            problems.push(format!(
                "{id} does not read {name} by {GROUP_DIMENSION} = !Ref GroupName alone"
            ));
        }
    }
    for needed in ["Blind", "AtMax"] {
        if !on_namespace.iter().any(|n| n == needed) {
            problems.push(format!("no alarm on {needed}"));
        }
    }
    problems
}

/// The scaling function (the summarizer, with Ingest=summaries, is the other).
fn function(template: &Yaml) -> &Yaml {
    resources_of(template, "AWS::Serverless::Function")
        .into_iter()
        .find(|(id, _)| *id == "LogscaleFunction")
        .map(|(_, f)| f)
        .expect("the LogscaleFunction resource")
}

/// No retry, a bounded event age under the 5-minute schedule, failures to SQS.
fn invoke_config_problems(template: &Yaml) -> Vec<String> {
    let config = &function(template)["Properties"]["EventInvokeConfig"];
    let mut problems = Vec::new();
    if config["MaximumRetryAttempts"].as_i64() != Some(0) {
        problems.push(format!(
            "MaximumRetryAttempts is {:?}, not 0",
            config["MaximumRetryAttempts"]
        ));
    }
    match config["MaximumEventAgeInSeconds"].as_i64() {
        Some(age) if (60..300).contains(&age) => {}
        other => problems.push(format!(
            "MaximumEventAgeInSeconds is {other:?}, not 60 to 299 (under the schedule)"
        )),
    }
    let on_failure = &config["DestinationConfig"]["OnFailure"];
    if on_failure["Type"].as_str() != Some("SQS") {
        problems.push("OnFailure is not an SQS queue".to_string());
    }
    problems
}

/// The function logs JSON to a log group the stack keeps on deletion and replacement.
fn log_group_problems(template: &Yaml) -> Vec<String> {
    let logging = &function(template)["Properties"]["LoggingConfig"];
    let mut problems = Vec::new();
    if logging["LogFormat"].as_str() != Some("JSON") {
        problems.push("the function's LogFormat is not JSON".to_string());
    }
    let Some(name) = tagged(&logging["LogGroup"], "Ref").and_then(Yaml::as_str) else {
        return vec!["the function's LoggingConfig.LogGroup is not a !Ref".to_string()];
    };
    let Some(group) = resources(template).get(name) else {
        return vec![format!("no resource {name}")];
    };
    if group["Type"].as_str() != Some("AWS::Logs::LogGroup") {
        problems.push(format!("{name} is not an AWS::Logs::LogGroup"));
    }
    for policy in ["DeletionPolicy", "UpdateReplacePolicy"] {
        if group[policy].as_str() != Some("Retain") {
            problems.push(format!("{name}'s {policy} is not Retain"));
        }
    }
    if !is_ref(&group["Properties"]["RetentionInDays"], "LogRetentionDays") {
        problems.push(format!("{name}'s retention is not !Ref LogRetentionDays"));
    }
    problems
}

/// The Duration alarm's threshold is 80 % of the function's timeout, in milliseconds.
fn duration_alarm_problems(template: &Yaml) -> Vec<String> {
    let timeout_s = function(template)["Properties"]["Timeout"]
        .as_i64()
        .expect("a Timeout in seconds");
    let duration_alarms: Vec<_> = resources_of(template, "AWS::CloudWatch::Alarm")
        .into_iter()
        .filter(|(_, a)| {
            a["Properties"]["Namespace"].as_str() == Some("AWS/Lambda")
                && a["Properties"]["MetricName"].as_str() == Some("Duration")
        })
        .collect();
    let [(id, alarm)] = duration_alarms.as_slice() else {
        return vec![format!(
            "{} Duration alarms, not one",
            duration_alarms.len()
        )];
    };
    let threshold = alarm["Properties"]["Threshold"].as_f64();
    let wanted = timeout_s as f64 * 1000.0 * 0.8;
    if threshold != Some(wanted) {
        return vec![format!(
            "{id}'s threshold is {threshold:?}, not 80 % of the {timeout_s} s timeout ({wanted} ms)"
        )];
    }
    Vec::new()
}

fn expect() -> Expect<'static> {
    Expect {
        namespace: "Logscale",
        group: SAMPLE_VALUES
            .iter()
            .find(|(n, _)| *n == "GroupName")
            .map(|(_, v)| *v)
            .unwrap(),
    }
}

fn assert_none(what: &str, problems: Vec<String>) {
    assert!(problems.is_empty(), "{what}:\n{}", problems.join("\n"));
}

#[test]
fn the_dashboard_is_valid_and_reads_only_emitted_metrics() {
    let template = parse(&template_text());
    assert_eq!(
        template["Parameters"]["MetricsNamespace"]["Default"].as_str(),
        Some(expect().namespace),
        "the namespace the dashboard is checked against is the Parameter's default"
    );
    let body = dashboard_body(&template).unwrap();
    let mut seen = Seen::default();
    assert_none(
        "the dashboard body",
        dashboard_problems(&body, &expect(), &mut seen),
    );
    // What the issue asks the dashboard to show: capacity, each signal against its target
    // and its proposal, requests/errors/latency, holds by reason, blindness, cycle duration.
    let mut wanted: Vec<String> = [
        "DesiredAfter",
        "MinSize",
        "MaxSize",
        "RequestsPerMinute",
        "ErrorRate",
        "Latency",
        "Blind",
        "CycleDuration",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    wanted.extend(signal_metrics());
    let missing: Vec<_> = wanted
        .iter()
        .filter(|w| !seen.logscale_metrics.contains(w))
        .collect();
    assert!(missing.is_empty(), "not on the dashboard: {missing:?}");
    assert_eq!(seen.search_metrics, [HOLDS_METRIC], "holds by reason");
}

/// Summary mode's dashboard (issue 12): valid, there only with the summarizer, and showing its
/// errors, the discovery queue's backlog (the age of its oldest message) and its dead letters.
#[test]
fn the_summarizer_dashboard_shows_its_errors_backlog_and_dead_letters() {
    let template = parse(&template_text());
    let id = "SummarizerDashboard";
    assert_eq!(
        resources(&template)[id]["Condition"].as_str(),
        resources(&template)["SummarizerFunction"]["Condition"].as_str(),
        "the dashboard exists exactly when the summarizer does"
    );
    let body = dashboard_body_of(&template, id).unwrap();
    let mut seen = Seen::default();
    assert_none(id, dashboard_problems(&body, &expect(), &mut seen));
    let function = sample_value(&template, "SummarizerFunction").unwrap();
    let queue = sample_value(&template, "DiscoveryQueue.QueueName").unwrap();
    let dead = sample_value(&template, "DiscoveryDeadLetterQueue.QueueName").unwrap();
    for (namespace, name, of) in [
        ("AWS/Lambda", "Errors", &function),
        ("AWS/Lambda", "Throttles", &function),
        ("AWS/Lambda", "Duration", &function),
        ("AWS/SQS", "ApproximateAgeOfOldestMessage", &queue),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible", &dead),
    ] {
        let shown = (namespace.to_string(), name.to_string(), of.clone());
        assert!(
            seen.aws_metrics.contains(&shown),
            "{namespace} {name} of {of} is not on the summarizer's dashboard: {:?}",
            seen.aws_metrics
        );
    }
    let alarms = body["widgets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["type"] == "alarm")
        .flat_map(|w| w["properties"]["alarms"].as_array().unwrap().clone())
        .collect::<Vec<_>>();
    for alarm in [
        "SummarizerErrorsAlarm",
        "SummaryBacklogAlarm",
        "SummaryDeadLettersAlarm",
    ] {
        let arn = sample_value(&template, &format!("{alarm}.Arn")).unwrap();
        assert!(alarms.contains(&Json::from(arn)), "{alarm} not shown");
    }
}

/// Review (issue 12): the summarizer lacked the JSON-lines settings the cycle had. A summary is
/// keyed by the parse settings it was read with, so with any non-default one the cycle never
/// found a summary. Every variable that feeds the parse settings (asked of the code itself)
/// must reach both functions alike.
#[test]
fn the_summarizer_reads_with_the_cycle_s_parse_settings() {
    let template = parse(&template_text());
    let asked = std::cell::RefCell::new(Vec::new());
    logscale::log_settings(|var| {
        asked.borrow_mut().push(var.to_string());
        None
    })
    .unwrap();
    let parse_variables = asked.into_inner();
    assert!(parse_variables.len() >= 5, "{parse_variables:?}");
    let env = |function: &str| {
        resources(&template)[function]["Properties"]["Environment"]["Variables"].clone()
    };
    let (cycle, summarizer) = (env("LogscaleFunction"), env("SummarizerFunction"));
    let differ: Vec<_> = parse_variables
        .iter()
        .filter(|var| cycle.get(var.as_str()) != summarizer.get(var.as_str()))
        .collect();
    assert!(
        differ.is_empty(),
        "set differently for the cycle and the summarizer: {differ:?}"
    );
}

/// The summarizer dashboard's lines are the function's timeout and the backlog alarm's
/// threshold, not numbers that drift from them.
#[test]
fn the_summarizer_dashboard_lines_are_the_timeout_and_the_alarm() {
    let template = parse(&template_text());
    let body = dashboard_body_of(&template, "SummarizerDashboard").unwrap();
    let line = |title: &str, label: &str| {
        body["widgets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["properties"]["title"] == title)
            .and_then(|w| w["properties"]["annotations"]["horizontal"].as_array())
            .and_then(|lines| lines.iter().find(|l| l["label"] == label))
            .and_then(|l| l["value"].as_f64())
            .unwrap_or_else(|| panic!("no {label:?} line on {title:?}"))
    };
    let timeout = resources(&template)["SummarizerFunction"]["Properties"]["Timeout"]
        .as_f64()
        .unwrap();
    assert_eq!(
        line("Summarizer duration (ms)", "timeout"),
        timeout * 1000.0
    );
    let threshold = resources(&template)["SummaryBacklogAlarm"]["Properties"]["Threshold"]
        .as_f64()
        .unwrap();
    assert_eq!(
        line(
            "Discovery queue: age of the oldest message (s)",
            "SummaryBacklog alarm"
        ),
        threshold
    );
}

#[test]
fn alarms_read_emitted_metrics_by_the_group() {
    let template = parse(&template_text());
    assert_none("alarms", alarm_problems(&template));
    assert_none("the Duration alarm", duration_alarm_problems(&template));
}

#[test]
fn a_failed_invocation_is_not_retried_and_leaves_a_trace() {
    assert_none(
        "EventInvokeConfig",
        invoke_config_problems(&parse(&template_text())),
    );
}

#[test]
fn the_decision_log_group_is_json_and_retained() {
    assert_none(
        "the log group",
        log_group_problems(&parse(&template_text())),
    );
}

/// Every check above finds what it is for, on a template broken on purpose.
#[test]
fn the_checks_see_a_drift() {
    let text = template_text();
    let changed = |from: &str, to: &str| {
        assert_eq!(
            text.matches(from).count(),
            1,
            "{from:?} once in template.yaml"
        );
        parse(&text.replacen(from, to, 1))
    };
    let dashboard = |template: &Yaml| {
        let body = dashboard_body(template)?;
        Ok::<_, String>(dashboard_problems(&body, &expect(), &mut Seen::default()))
    };
    let found = |problems: Vec<String>, needle: &str| {
        assert!(
            problems.iter().any(|p| p.contains(needle)),
            "no problem mentions {needle:?}: {problems:?}"
        );
    };

    // The dashboard: a widget too wide, a metric the records do not emit, a row by another
    // dimension, an undefined !Sub variable, a SEARCH for another metric, a missing region.
    let first_metric = r#""x": 0, "y": 2, "width": 8,"#;
    found(
        dashboard(&changed(first_metric, r#""x": 0, "y": 2, "width": 25,"#)).unwrap(),
        "do not fit 24 columns",
    );
    found(
        dashboard(&changed(first_metric, r#""x": 4, "y": 2, "width": 8,"#)).unwrap(),
        "overlaps",
    );
    found(
        dashboard(&changed(r#""CpuValue""#, r#""CpuValu""#)).unwrap(),
        "CpuValu is not a metric the records emit",
    );
    found(
        dashboard(&changed(
            r#""MinSize", "AutoScalingGroupName""#,
            r#""MinSize", "GroupName""#,
        ))
        .unwrap(),
        "not by AutoScalingGroupName",
    );
    assert!(dashboard(&changed(
        r#""${LogscaleFunction}", {"label": "errors"}"#,
        r#""${LogscaleFn}", {"label": "errors"}"#
    ))
    .unwrap_err()
    .contains("LogscaleFn"));
    found(
        dashboard(&changed(
            r#"MetricName=\"Holds\""#,
            r#"MetricName=\"Held\""#,
        ))
        .unwrap(),
        "SEARCH for Held",
    );
    let text_widget_region = r#""title": "Capacity (instances)", "region": "${AWS::Region}","#;
    found(
        dashboard(&changed(
            text_widget_region,
            r#""title": "Capacity (instances)","#,
        ))
        .unwrap(),
        "no region",
    );
    found(
        dashboard(&changed(
            r#"{"label": "longest"}"#,
            r#"{"label": "longest", "yAxis": "middle"}"#,
        ))
        .unwrap(),
        "yAxis",
    );

    // The alarms: another metric, another dimension, the Duration threshold.
    found(
        alarm_problems(&changed("MetricName: Blind\n", "MetricName: Blinded\n")),
        "Blinded",
    );
    found(
        alarm_problems(&changed("MetricName: AtMax\n", "MetricName: AtMin\n")),
        "no alarm on AtMax",
    );
    let by_group = "        - Name: AutoScalingGroupName\n          Value: !Ref GroupName\n";
    assert!(
        text.contains(by_group),
        "the alarms' dimension as written here"
    );
    found(
        alarm_problems(&parse(&text.replacen(
            by_group,
            "        - Name: AutoScalingGroupName\n          Value: !Ref LogBucket\n",
            1,
        ))),
        "does not read Blind by AutoScalingGroupName",
    );
    found(
        duration_alarm_problems(&changed("Threshold: 48000\n", "Threshold: 60000\n")),
        "not 80 %",
    );

    // Failures and the log group.
    found(
        invoke_config_problems(&changed(
            "MaximumRetryAttempts: 0\n",
            "MaximumRetryAttempts: 2\n",
        )),
        "MaximumRetryAttempts",
    );
    found(
        invoke_config_problems(&changed(
            "MaximumEventAgeInSeconds: 240\n",
            "MaximumEventAgeInSeconds: 21600\n",
        )),
        "MaximumEventAgeInSeconds",
    );
    found(
        log_group_problems(&changed(
            "    DeletionPolicy: Retain\n    UpdateReplacePolicy: Retain\n",
            "    UpdateReplacePolicy: Retain\n",
        )),
        "DeletionPolicy is not Retain",
    );
    found(
        log_group_problems(&changed(
            "        LogFormat: JSON\n        LogGroup: !Ref DecisionLogGroup\n",
            "        LogFormat: Text\n        LogGroup: !Ref DecisionLogGroup\n",
        )),
        "LogFormat",
    );
}

/// The short tags parse as tags, and `!Sub`'s substitution knows its escapes.
#[test]
fn substitution_follows_cloudformation() {
    let template = parse(&template_text());
    assert_eq!(
        substitute(&template, "a ${GroupName} ${!Literal} ${AWS::Region}").unwrap(),
        "a web-asg_prod.1 ${Literal} us-east-1"
    );
    assert!(substitute(&template, "${NoSuchThing}").is_err());
    assert_eq!(
        substitute(&template, "${BlindAlarm.Arn}").unwrap(),
        "arn:aws:cloudwatch:us-east-1:111122223333:alarm:logscale-BlindAlarm-SAMPLE"
    );
    assert!(tagged(&function(&template)["Properties"]["MemorySize"], "Ref").is_some());
}
