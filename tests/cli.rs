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

/// Log files in every format, plain and gzip, one cut short and one empty: what `summarize`
/// and `analyze` are compared on. Returns their paths.
fn sample_files(dir: &std::path::Path) -> Vec<String> {
    use logscale::parse::Format;
    use logscale::sample_logs::{generate, LogGenSpec};
    use std::io::Write;
    let mut paths = Vec::new();
    for (n, format) in Format::ALL.into_iter().enumerate() {
        let spec = LogGenSpec {
            seed: n as u64,
            error_share: 0.05,
            slow_share: 0.1,
            ..LogGenSpec::new(format, 2000 + 700 * n as u64)
        };
        let mut text = Vec::new();
        generate(&spec, &mut text).unwrap();
        text.extend_from_slice(b"a line in no format\n");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&text).unwrap();
        let gz = gz.finish().unwrap();
        for (name, bytes) in [
            (format!("{format}.log"), text.clone()),
            (format!("{format}.log.gz"), gz.clone()),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, bytes).unwrap();
            paths.push(path.display().to_string());
        }
        if format == Format::Alb {
            // A gzip stream that stops early: counted up to there, and named.
            let path = dir.join("cut.log.gz");
            std::fs::write(&path, &gz[..gz.len() * 2 / 3]).unwrap();
            paths.push(path.display().to_string());
        }
    }
    let empty = dir.join("empty.log");
    std::fs::write(&empty, b"").unwrap();
    paths.push(empty.display().to_string());
    paths
}

/// `analyze`'s human output without the reading time and speed, which differ run to run.
fn without_timing(human: &str) -> String {
    human
        .lines()
        .map(|line| match line.find(" of log text in ") {
            Some(at) if line.starts_with("Read ") => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn analyze_of_summaries_prints_what_analyze_of_the_logs_prints() {
    let dir = tempfile::tempdir().unwrap();
    let files = sample_files(dir.path());
    let out_dir = dir.path().join("summaries");
    let mut args = vec!["summarize", "--out", out_dir.to_str().unwrap()];
    args.extend(files.iter().map(String::as_str));
    let out = logscale(&args, &[]);
    let stderr = text(&out.stderr);
    // The cut file is summarized with its problem, which is named, as analyze names it.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cut.log.gz: gzip stream ends early")
            && stderr.contains("(its summary says so)"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "summarized {} of {} files into {}",
            files.len(),
            files.len(),
            out_dir.display()
        )),
        "{stderr}"
    );
    let summaries: Vec<String> = files
        .iter()
        .map(|f| {
            let name = std::path::Path::new(f)
                .file_name()
                .unwrap()
                .to_str()
                .unwrap();
            out_dir
                .join(format!("{name}.summary.json"))
                .display()
                .to_string()
        })
        .collect();
    for summary in &summaries {
        let bytes = std::fs::read(summary).unwrap();
        assert!(bytes.starts_with(b"{\"logscale_summary\":1,"), "{summary}");
        assert!(bytes.len() < 4096, "{summary}: {} bytes", bytes.len());
    }

    let analyze = |inputs: &[String], json: bool| {
        let mut args = vec!["analyze", "--threads", "3"];
        if json {
            args.push("--json");
        }
        args.extend(inputs.iter().map(String::as_str));
        let out = logscale(&args, &[]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "the cut file: {}",
            text(&out.stderr)
        );
        (text(&out.stdout), text(&out.stderr))
    };
    let (raw_json, raw_err) = analyze(&files, true);
    let (summary_json, summary_err) = analyze(&summaries, true);
    let raw: Value = serde_json::from_str(&raw_json).unwrap();
    assert!(raw["requests"].as_u64().unwrap() > 10_000, "{raw}");
    assert_eq!(
        serde_json::from_str::<Value>(&summary_json).unwrap(),
        raw,
        "--json"
    );
    assert_eq!(summary_err, raw_err);

    let (raw_human, _) = analyze(&files, false);
    let (summary_human, _) = analyze(&summaries, false);
    assert!(raw_human.contains("Total Requests:"), "{raw_human}");
    assert_eq!(without_timing(&summary_human), without_timing(&raw_human));

    // Mixed: some logs read, some summaries merged, in the order given.
    let mixed: Vec<String> = files
        .iter()
        .zip(&summaries)
        .enumerate()
        .map(|(n, (file, summary))| {
            if n % 2 == 0 {
                file.clone()
            } else {
                summary.clone()
            }
        })
        .collect();
    let (mixed_json, _) = analyze(&mixed, true);
    assert_eq!(serde_json::from_str::<Value>(&mixed_json).unwrap(), raw);
}

#[test]
fn summarize_names_what_it_cannot_summarize() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.log");
    let gen = logscale(&["loggen", "-n", "100", "-o", good.to_str().unwrap()], &[]);
    assert!(gen.status.success());
    let missing = dir.path().join("nope.log");
    let out_dir = dir.path().join("out");
    let out = logscale(
        &[
            "summarize",
            "--format",
            "original",
            "--out",
            out_dir.to_str().unwrap(),
            missing.to_str().unwrap(),
            good.to_str().unwrap(),
        ],
        &[],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("logscale: {}: cannot open: ", missing.display())),
        "{stderr}"
    );
    assert!(stderr.contains("summarized 1 of 2 files"), "{stderr}");
    let summary = out_dir.join("good.log.summary.json");
    assert!(!out_dir.join("nope.log.summary.json").exists());

    // A summary is not summarized again.
    let again = logscale(
        &[
            "summarize",
            "--out",
            dir.path().join("again").to_str().unwrap(),
            summary.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again.stderr).contains("is a summary already"),
        "{}",
        text(&again.stderr)
    );

    // Two inputs that would write one summary: refused before anything is read.
    let other = dir.path().join("sub");
    std::fs::create_dir(&other).unwrap();
    std::fs::copy(&good, other.join("good.log")).unwrap();
    let clash = logscale(
        &[
            "summarize",
            "--out",
            dir.path().join("clash").to_str().unwrap(),
            good.to_str().unwrap(),
            other.join("good.log").to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(clash.status.code(), Some(2));
    assert!(
        text(&clash.stderr).contains("would both be summarized to"),
        "{}",
        text(&clash.stderr)
    );
    assert!(!dir.path().join("clash").exists());

    // A summary that is damaged after its first member: analyze names the file, not its source.
    let mut damaged = std::fs::read(&summary).unwrap();
    damaged.truncate(damaged.len() / 2);
    let damaged_path = dir.path().join("damaged.summary.json");
    std::fs::write(&damaged_path, damaged).unwrap();
    let out = logscale(
        &[
            "analyze",
            "--json",
            damaged_path.to_str().unwrap(),
            summary.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "logscale: {}: unreadable summary: corrupt summary: ",
            damaged_path.display()
        )),
        "{stderr}"
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["requests"], 100);
    assert_eq!(r["inputs"][1]["name"], good.to_str().unwrap());
}
