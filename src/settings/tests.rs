//! The table against itself, and against the two hand-written copies of it: the README's
//! settings tables and `template.yaml`'s Parameters. A failure lists every disagreement.

use std::collections::{BTreeMap, BTreeSet};

use super::*;

/// Template Parameters that configure the deployment rather than the function's variables.
const DEPLOYMENT_ONLY_PARAMETERS: &[&str] = &[
    "ScheduleExpression",
    "LogRetentionDays",
    "FunctionMemoryMb",
    "QueueDiscovery",
    "Architecture",
    "NotificationEmail",
    "NotificationTopicArn",
    "BlindCycles",
    "PinnedAtMaxCycles",
    "LogBucketOwner",
    "KmsKeyArn",
    "ScalingTagKey",
    "ScalingTagValue",
    // Sets AWS_ENDPOINT_URL for `make sam-invoke` only.
    "LocalEndpointUrl",
    "SummarizerConcurrency",
];

/// Variables the template sets from a resource it creates rather than from a Parameter.
const SET_FROM_RESOURCES: &[(&str, &str)] = &[("LOGSCALE_QUEUE_URL", "DiscoveryQueue")];

fn manifest_file(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

#[test]
fn variables_and_parameters_are_unique() {
    let mut variables = BTreeSet::new();
    let mut parameters = BTreeSet::new();
    for s in SETTINGS {
        assert!(s.variable.starts_with("LOGSCALE_"), "{}", s.variable);
        assert!(variables.insert(s.variable), "{} twice", s.variable);
        if let Some(p) = s.parameter {
            assert!(parameters.insert(p), "{p} twice");
        }
    }
}

#[test]
fn every_default_is_allowed_by_its_own_rule() {
    for s in SETTINGS {
        let value = match s.default {
            Fallback::Value(v) | Fallback::TemplateDiffers { unset: v, .. } => v,
            Fallback::Required | Fallback::Derived(_) => continue,
        };
        let ok = match s.allowed {
            Allowed::Number { min, max, whole } => value
                .parse::<f64>()
                .is_ok_and(|v| (min..=max).contains(&v) && (!whole || v.fract() == 0.0)),
            Allowed::OneOf(choices) => choices.iter().any(|c| c.eq_ignore_ascii_case(value)),
            Allowed::Boolean => crate::config::parse_bool(value).is_some(),
            Allowed::Text { max_len } => max_len.is_none_or(|n| value.len() <= n),
            Allowed::List => value.split(',').any(|k| !k.trim().is_empty()),
            Allowed::BucketName => false,
            Allowed::Pattern(p) => (p.check)(value),
        };
        assert!(ok, "{}'s default {value:?} breaks its own rule", s.variable);
    }
}

#[test]
fn choices_are_listed_as_messages_list_them() {
    let words = |w: &[&str]| one_of(&w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    assert_eq!(words(&["default", "original"]), "default or original");
    assert_eq!(words(&["s", "ms", "us", "ns"]), "s, ms, us or ns");
    assert_eq!(words(&["auto"]), "auto");
}

// ---- template.yaml ----

/// One Parameter's keys, values unquoted; a list as its items joined by `,`.
type Parameter = BTreeMap<String, String>;

/// The keys a Parameter may have; any other key fails the reader, so nothing is skipped unseen.
const PARAMETER_KEYS: &[&str] = &[
    "Type",
    "Default",
    "Description",
    "MinValue",
    "MaxValue",
    "AllowedValues",
    "AllowedPattern",
    "MinLength",
    "MaxLength",
    "ConstraintDescription",
];

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

fn unquote(value: &str) -> String {
    let v = value.trim();
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return v[1..v.len() - 1].to_string();
        }
    }
    v.to_string()
}

/// A YAML scalar or a flow list (`[a, "b"]`), as the template writes Parameters.
fn scalar_or_list(value: &str) -> String {
    match value
        .trim()
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
    {
        Some(items) => items.split(',').map(unquote).collect::<Vec<_>>().join(","),
        None => unquote(value),
    }
}

/// The `Parameters:` block, read line by line: two spaces for a name, four for its keys.
/// Folded and literal block values (`>-`, `|`) are skipped over.
fn template_parameters(template: &str) -> BTreeMap<String, Parameter> {
    let mut parameters: BTreeMap<String, Parameter> = BTreeMap::new();
    let mut lines = template
        .lines()
        .skip_while(|l| l.trim_end() != "Parameters:")
        .skip(1)
        .take_while(|l| l.is_empty() || l.starts_with(' ') || l.starts_with('#'))
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .peekable();
    let mut current: Option<String> = None;
    while let Some(line) = lines.next() {
        let (key, value) = line
            .trim()
            .split_once(':')
            .unwrap_or_else(|| panic!("not a key in Parameters: {line:?}"));
        match indent(line) {
            2 => {
                assert!(value.trim().is_empty(), "a Parameter's name line: {line:?}");
                current = Some(key.to_string());
                parameters.entry(key.to_string()).or_default();
            }
            4 => {
                assert!(
                    PARAMETER_KEYS.contains(&key),
                    "unknown Parameter key: {line:?}"
                );
                let name = current.as_ref().expect("a key before any Parameter");
                let value = value.trim();
                if matches!(value, ">" | ">-" | "|" | "|-") {
                    while lines.next_if(|next| indent(next) > 4).is_some() {}
                }
                parameters
                    .get_mut(name)
                    .unwrap()
                    .insert(key.to_string(), scalar_or_list(value));
            }
            _ => panic!("unexpected indentation in Parameters: {line:?}"),
        }
    }
    assert!(!parameters.is_empty(), "no Parameters block found");
    parameters
}

/// The function's `Environment: Variables:` block: variable → the Parameter it `!Ref`s first.
fn template_environment(template: &str) -> BTreeMap<String, String> {
    let mut lines = template
        .lines()
        .skip_while(|l| l.trim_end() != "      Environment:");
    lines.next().expect("an Environment block in the function");
    let variables = lines.next().expect("Variables: under Environment");
    assert_eq!(variables.trim(), "Variables:");
    let depth = indent(variables);
    lines
        .take_while(|l| indent(l) > depth)
        // Comments, and the SDK's own variables (the local endpoint for `make sam-invoke`).
        .filter(|l| l.trim().starts_with("LOGSCALE_"))
        .map(|line| {
            let (variable, value) = line.trim().split_once(':').expect("VARIABLE: value");
            let parameter = value
                .split("!Ref ")
                .nth(1)
                .and_then(|rest| rest.split([',', ' ', ']']).next())
                .unwrap_or_else(|| panic!("{variable} is set from no Parameter: {line:?}"));
            (variable.to_string(), parameter.to_string())
        })
        .collect()
}

fn same_number(a: &str, b: &str) -> bool {
    matches!((a.parse::<f64>(), b.parse::<f64>()), (Ok(x), Ok(y)) if x == y)
}

/// What the Parameter of `s` must say, key by key (`None`: the key must be absent).
fn expected_parameter(s: &Setting) -> Vec<(&'static str, Option<String>)> {
    let default = match s.default {
        Fallback::Required => None,
        Fallback::Value(v) => Some(v.to_string()),
        Fallback::Derived(_) => Some(String::new()),
        Fallback::TemplateDiffers { template, .. } => Some(template.to_string()),
    };
    let (min, max) = match s.allowed {
        Allowed::Number { min, max, .. } => (Some(min.to_string()), Some(max.to_string())),
        _ => (None, None),
    };
    let allowed_values = match s.allowed {
        // A blank value is how a template leaves a derived setting unset.
        Allowed::OneOf(choices) => {
            let blank = matches!(s.default, Fallback::Derived(_)).then_some("");
            Some(
                blank
                    .into_iter()
                    .chain(choices.iter().copied())
                    .collect::<Vec<_>>()
                    .join(","),
            )
        }
        Allowed::Boolean => Some("true,false".to_string()),
        _ => None,
    };
    let pattern = match s.allowed {
        Allowed::BucketName => Some(BUCKET_NAME_PATTERN.to_string()),
        Allowed::Pattern(p) => Some(p.template.to_string()),
        _ => None,
    };
    let max_len = match s.allowed {
        Allowed::Text { max_len } => max_len.map(|n| n.to_string()),
        Allowed::Pattern(p) => p.max_len.map(|n| n.to_string()),
        _ => None,
    };
    // A required text is not blank; the bucket's pattern says so for the bucket.
    let min_len = (s.default == Fallback::Required && max_len.is_some()).then(|| "1".to_string());
    vec![
        ("Type", Some(s.template_type().to_string())),
        ("Default", default),
        ("MinValue", min),
        ("MaxValue", max),
        ("AllowedValues", allowed_values),
        ("AllowedPattern", pattern),
        ("MinLength", min_len),
        ("MaxLength", max_len),
    ]
}

/// Every disagreement between the table and the template, in words.
fn template_disagreements(template: &str) -> Vec<String> {
    let parameters = template_parameters(template);
    let environment = template_environment(template);
    let mut problems = Vec::new();

    for s in SETTINGS {
        let Some(name) = s.parameter else {
            let from_resource = SET_FROM_RESOURCES
                .iter()
                .find(|(v, _)| *v == s.variable)
                .map(|(_, r)| *r);
            if let Some(p) = environment
                .get(s.variable)
                .filter(|p| Some(p.as_str()) != from_resource)
            {
                problems.push(format!(
                    "{} is set from {p} in the template but has no Parameter in the table",
                    s.variable
                ));
            }
            continue;
        };
        match environment.get(s.variable) {
            Some(p) if p == name => {}
            Some(p) => problems.push(format!(
                "{} is set from {p}, the table says {name}",
                s.variable
            )),
            None => problems.push(format!(
                "{} is not in the function's Environment",
                s.variable
            )),
        }
        let Some(parameter) = parameters.get(name) else {
            problems.push(format!("Parameter {name} ({}) is missing", s.variable));
            continue;
        };
        let numeric = s.template_type() == "Number";
        for (key, want) in expected_parameter(s) {
            let have = parameter.get(key);
            let agree = match (have, &want) {
                (None, None) => true,
                (Some(h), Some(w))
                    if numeric && matches!(key, "Default" | "MinValue" | "MaxValue") =>
                {
                    same_number(h, w)
                }
                (Some(h), Some(w)) => h == w,
                _ => false,
            };
            if !agree {
                problems.push(format!(
                    "Parameter {name} ({}): {key} is {have:?}, the table says {want:?}",
                    s.variable
                ));
            }
        }
    }
    for (variable, parameter) in &environment {
        // A variable in the table with another Parameter is reported above.
        if find(variable).is_none() {
            problems.push(format!("{variable} (from {parameter}) is not in the table"));
        }
    }
    let referenced: BTreeSet<&String> = environment.values().collect();
    for name in parameters.keys() {
        if !referenced.contains(name) && !DEPLOYMENT_ONLY_PARAMETERS.contains(&name.as_str()) {
            problems.push(format!(
                "Parameter {name} sets no LOGSCALE_ variable and is not listed as deployment-only"
            ));
        }
    }
    problems
}

// ---- README.md ----

/// Every settings row: `| variable | template parameter | default | allowed | meaning |`.
fn readme_rows(readme: &str) -> Vec<Vec<String>> {
    readme
        .lines()
        .filter(|l| l.starts_with("| `LOGSCALE_"))
        .map(|l| {
            let cells: Vec<String> = l.split('|').map(|c| c.trim().to_string()).collect();
            // The split leaves an empty cell before the first and after the last bar.
            cells[1..cells.len() - 1].to_vec()
        })
        .collect()
}

fn readme_row(s: &Setting) -> Vec<String> {
    vec![
        format!("`{}`", s.variable),
        s.parameter.map_or("—".to_string(), |p| format!("`{p}`")),
        s.default_text(),
        s.allowed_text(),
        s.meaning.to_string(),
    ]
}

fn readme_disagreements(readme: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen = BTreeMap::new();
    for row in readme_rows(readme) {
        let variable = row[0].trim_matches('`').to_string();
        let Some(s) = find(&variable) else {
            problems.push(format!("README row for {variable}, which is not a setting"));
            continue;
        };
        *seen.entry(s.variable).or_insert(0) += 1;
        let want = readme_row(s);
        if row != want {
            problems.push(format!(
                "README row for {variable} is\n  | {} |\nthe table says\n  | {} |",
                row.join(" | "),
                want.join(" | ")
            ));
        }
    }
    for s in SETTINGS {
        match seen.get(s.variable) {
            Some(1) => {}
            Some(n) => problems.push(format!("{} has {n} README rows", s.variable)),
            None => problems.push(format!(
                "{} has no README row; it would be\n  | {} |",
                s.variable,
                readme_row(s).join(" | ")
            )),
        }
    }
    problems
}

#[test]
fn template_parameters_agree_with_the_table() {
    let problems = template_disagreements(&manifest_file("template.yaml"));
    assert!(
        problems.is_empty(),
        "template.yaml disagrees with src/settings.rs:\n{}",
        problems.join("\n")
    );
}

#[test]
fn readme_settings_tables_agree_with_the_table() {
    let problems = readme_disagreements(&manifest_file("README.md"));
    assert!(
        problems.is_empty(),
        "README.md disagrees with src/settings.rs:\n{}",
        problems.join("\n")
    );
}

/// The checks catch what they are for: a looser MaxValue, a changed default, a missing row.
#[test]
fn the_checks_see_a_drift() {
    let template = manifest_file("template.yaml");
    let block = template
        .find("\n  MaxUpPercent:\n")
        .expect("a MaxUpPercent Parameter");
    let (before, after) = template.split_at(block);
    let looser = format!(
        "{before}{}",
        after.replacen("MaxValue: 1000\n", "MaxValue: 5000\n", 1)
    );
    assert!(
        looser != template,
        "MaxUpPercent has no MaxValue: 1000; update this test"
    );
    let problems = template_disagreements(&looser);
    assert!(
        problems.iter().any(|p| p.contains("MaxUpPercent")),
        "{problems:?}"
    );

    let readme = manifest_file("README.md");
    let row = readme
        .lines()
        .find(|l| l.starts_with("| `LOGSCALE_SLOW_MS`"))
        .unwrap();
    let changed = readme.replace(row, &row.replace("`1000`", "`500`"));
    assert!(readme_disagreements(&changed)
        .iter()
        .any(|p| p.contains("LOGSCALE_SLOW_MS")));
    let dropped = readme.replace(&format!("{row}\n"), "");
    assert!(readme_disagreements(&dropped)
        .iter()
        .any(|p| p.contains("no README row")));
}
