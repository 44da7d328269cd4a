//! The `logscale` CLI as a person runs it: loggen, run (human and JSON), and its errors.

mod support;

use std::process::{Command, Output};

use serde_json::Value;
use support::*;

fn logscale(args: &[&str], env: &[(&'static str, String)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_logscale"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("running logscale")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn loggen_writes_parseable_lines_with_the_asked_shares() {
    let out = logscale(
        &[
            "loggen",
            "-n",
            "4000",
            "--error-share",
            "0.1",
            "--slow-share",
            "0.2",
            "--seed",
            "7",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = logscale::parse::summarize_bytes(&out.stdout, &Default::default());
    assert_eq!(s.requests, 4000);
    assert_eq!(s.unparsed, 0);
    let errors = s.error_rate().unwrap();
    let slow = s.slow_rate().unwrap();
    assert!((7.0..13.0).contains(&errors), "{errors}");
    assert!((16.0..24.0).contains(&slow), "{slow}");
}

#[test]
fn bad_arguments_and_settings_are_named() {
    let out = logscale(&["loggen", "--error-share", "1.5"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--error-share 1.5"),
        "{}",
        text(&out.stderr)
    );

    let out = logscale(&["run"], &[("LOGSCALE_GROUP", "web".into())]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("LOGSCALE_BUCKET is required"),
        "{}",
        text(&out.stderr)
    );

    let out = logscale(
        &["run"],
        &[
            ("LOGSCALE_GROUP", "web".into()),
            ("LOGSCALE_BUCKET", "logs".into()),
            ("LOGSCALE_WINDOW_MINUTES", "0".into()),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("LOGSCALE_WINDOW_MINUTES=\"0\""),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn run_uploads_with_loggen_then_decides_in_dry_run() {
    let s = Scenario::new("cli", (1, 5, 2), Some(75.0), true);
    let mut env = aws_env();
    env.extend(s.env());
    let upload = logscale(
        &[
            "loggen",
            "-n",
            "1200",
            "--error-share",
            "0.01",
            "--s3",
            &format!("s3://{}/logs/", s.bucket),
        ],
        &env,
    );
    assert!(upload.status.success(), "{}", text(&upload.stderr));
    assert!(
        text(&upload.stderr).contains("uploaded 1200 lines"),
        "{}",
        text(&upload.stderr)
    );

    let out = logscale(&["run", "--dry-run", "--json"], &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["logs"]["requests"], 1200);
    assert_eq!(r["decision"]["to"], 3);
    assert_eq!(r["applied"], false);
    assert_eq!(group_state(&s.group)["desired"], 2);

    let out = logscale(&["run", "--dry-run"], &env);
    let human = text(&out.stdout);
    assert!(human.contains("METRICS SUMMARY"), "{human}");
    assert!(
        human.contains("1 objects in window, 1 read · complete"),
        "{human}"
    );
    assert!(human.contains("Total Requests:     1200"), "{human}");
    assert!(
        human.contains("Decision: SCALE UP 2 → 3 (dry run, not applied)"),
        "{human}"
    );
}

#[test]
fn analyze_reports_every_format_as_json_and_reads_stdin() {
    let dir = tempfile::tempdir().unwrap();
    for format in ["original", "alb", "combined", "json"] {
        let path = dir.path().join(format!("{format}.log"));
        let gen = logscale(
            &[
                "loggen",
                "-n",
                "3000",
                "--format",
                format,
                "--error-share",
                "0.1",
                "-o",
                path.to_str().unwrap(),
            ],
            &[],
        );
        assert!(gen.status.success(), "{}", text(&gen.stderr));
        let out = logscale(&["analyze", "--json", path.to_str().unwrap()], &[]);
        assert!(out.status.success(), "{format}: {}", text(&out.stderr));
        let r: Value = serde_json::from_slice(&out.stdout).unwrap();
        for key in [
            "requests",
            "errors",
            "slow",
            "error_rate",
            "slow_rate",
            "mean_ms",
            "p50_ms",
            "p90_ms",
            "p95_ms",
            "p99_ms",
            "status",
            "unparsed",
            "bytes",
        ] {
            assert!(r.get(key).is_some(), "{format}: no {key} in {r}");
        }
        assert_eq!(r["requests"], 3000, "{format}");
        assert_eq!(r["unparsed"], 0, "{format}");
        assert_eq!(r["inputs"][0]["format"], format);
        let rate = r["error_rate"].as_f64().unwrap();
        assert!((7.0..13.0).contains(&rate), "{format}: {rate}");
    }

    // stdin, gzip-compressed, with the human summary
    let gz = dir.path().join("in.log.gz");
    let gen = logscale(
        &["loggen", "-n", "500", "--gzip", "-o", gz.to_str().unwrap()],
        &[],
    );
    assert!(gen.status.success());
    let out = Command::new(env!("CARGO_BIN_EXE_logscale"))
        .args(["analyze", "-"])
        .stdin(std::fs::File::open(&gz).unwrap())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let human = text(&out.stdout);
    assert!(human.contains("Total Requests:     500"), "{human}");
    assert!(human.contains("Percentiles:        p50 "), "{human}");
    assert!(human.contains("-: original, gzip, 500 requests"), "{human}");
}

#[test]
fn analyze_names_a_missing_file_and_still_reports_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.log");
    let gen = logscale(&["loggen", "-n", "100", "-o", good.to_str().unwrap()], &[]);
    assert!(gen.status.success());
    let missing = dir.path().join("nope.log");
    let out = logscale(
        &[
            "analyze",
            "--json",
            good.to_str().unwrap(),
            missing.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("nope.log: cannot open"),
        "{}",
        text(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["requests"], 100);

    let out = logscale(&["analyze", "--format", "csv", good.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("csv"), "{}", text(&out.stderr));
}
