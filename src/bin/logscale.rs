//! The CLI for people: run one cycle against whatever AWS the environment points at, or make
//! sample logs. Wiring only; the rules live in the library.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use chrono::{NaiveDateTime, Utc};
use clap::{Parser, Subcommand};

use logscale::config::Config;
use logscale::cycle::{run_cycle, CycleOptions};
use logscale::loggen::{generate, LogGenSpec};
use logscale::parse::{Format, FormatChoice};

#[derive(Parser)]
#[command(
    name = "logscale",
    version,
    about = "Size an EC2 Auto Scaling group from its application logs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one cycle (read logs, observe the group, decide, act) with the LOGSCALE_* settings.
    Run {
        /// Do everything except the final SetDesiredCapacity call.
        #[arg(long)]
        dry_run: bool,
        /// Print the decision record as JSON instead of the human summary.
        #[arg(long)]
        json: bool,
    },
    /// Read local log files (plain or gzip; `-` for stdin) and print their metrics.
    Analyze {
        /// The log format, or auto to detect it per file.
        #[arg(long, default_value = "auto", value_parser = parse_format_choice)]
        format: FormatChoice,
        /// Print one JSON object instead of the summary.
        #[arg(long)]
        json: bool,
        /// Files to read in parallel (default: the number of cores).
        #[arg(long)]
        threads: Option<usize>,
        /// Log files; `-` reads stdin.
        #[arg(required = true)]
        files: Vec<String>,
    },
    /// Replay a load trace through a capacity model and the real decision code.
    Simulate {
        /// CSV with header minute,requests_per_minute[,error_rate].
        #[arg(long)]
        trace: PathBuf,
        /// original, default, or a JSON file of LOGSCALE_* settings.
        #[arg(long, default_value = "default")]
        policy: String,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Draw load, capacity and instances over time to this SVG file.
        #[arg(long)]
        plot: Option<PathBuf>,
        /// Write the minute-by-minute timeline to this CSV file.
        #[arg(long)]
        timeline: Option<PathBuf>,
        /// Requests per minute one instance serves at 100 % CPU.
        #[arg(long, default_value_t = 1000.0)]
        capacity_per_instance: f64,
        /// Minutes from launch until an instance serves.
        #[arg(long, default_value_t = 3)]
        launch_minutes: u32,
        /// Further minutes until it counts in the CPU average.
        #[arg(long, default_value_t = 2)]
        warmup_minutes: u32,
        /// Latency at no load, ms (it grows as 1 / (1 - utilization)).
        #[arg(long, default_value_t = 60.0)]
        base_latency_ms: f64,
        #[arg(long, default_value_t = 1)]
        min: u32,
        #[arg(long, default_value_t = 40)]
        max: u32,
        /// Instances at minute 0 (default: enough for the first minute's load at 60 %).
        #[arg(long)]
        initial: Option<u32>,
    },
    /// Generate sample logs.
    Loggen {
        /// Number of lines.
        #[arg(long, short = 'n', default_value_t = 1000)]
        lines: u64,
        /// The format to write.
        #[arg(long, default_value = "original", value_parser = parse_format)]
        format: Format,
        /// Share of error lines, 0-1.
        #[arg(long, default_value_t = 0.03)]
        error_share: f64,
        /// Share of slow responses, 0-1.
        #[arg(long, default_value_t = 0.05)]
        slow_share: f64,
        /// Responses above this many ms are slow.
        #[arg(long, default_value_t = 1000.0)]
        slow_ms: f64,
        /// Random seed, for reproducible output.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Timestamp of the first line (YYYY-MM-DDTHH:MM:SS); default now.
        #[arg(long)]
        start: Option<NaiveDateTime>,
        /// Write to this file, or `-` for stdout.
        #[arg(long, short = 'o', default_value = "-", conflicts_with = "s3")]
        out: String,
        /// Upload to s3://BUCKET/PREFIX as application_<time>.log (uses the AWS environment).
        #[arg(long)]
        s3: Option<String>,
        /// Gzip the output (the S3 key then ends in .log.gz).
        #[arg(long)]
        gzip: bool,
    },
}

fn main() -> ExitCode {
    match real_main() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("logscale: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn real_main() -> Result<ExitCode> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    match cli.command {
        Command::Run { dry_run, json } => runtime.block_on(run(dry_run, json)),
        Command::Analyze {
            format,
            json,
            threads,
            files,
        } => analyze(format, json, threads, &files),
        Command::Simulate {
            trace,
            policy,
            json,
            plot,
            timeline,
            capacity_per_instance,
            launch_minutes,
            warmup_minutes,
            base_latency_ms,
            min,
            max,
            initial,
        } => {
            let model = logscale::simulate::Model {
                capacity_per_instance,
                launch_minutes,
                warmup_minutes,
                base_latency_ms,
                idle_cpu: 5.0,
                min,
                max,
                initial,
            };
            simulate(
                &trace,
                &policy,
                json,
                (plot.as_deref(), timeline.as_deref()),
                &model,
            )
        }
        Command::Loggen {
            lines,
            format,
            error_share,
            slow_share,
            slow_ms,
            seed,
            start,
            out,
            s3,
            gzip,
        } => {
            for (name, v) in [("--error-share", error_share), ("--slow-share", slow_share)] {
                if !(0.0..=1.0).contains(&v) {
                    bail!("{name} {v} is not a share from 0 to 1");
                }
            }
            let spec = LogGenSpec {
                lines,
                format,
                error_share,
                slow_share,
                slow_ms,
                start: start.unwrap_or_else(|| Utc::now().naive_utc()),
                seed,
                keep_latencies: false,
            };
            match s3 {
                Some(url) => runtime.block_on(upload(&spec, &url, gzip)),
                None => write_local(&spec, &out, gzip),
            }?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn parse_format_choice(s: &str) -> Result<FormatChoice, String> {
    s.parse()
}

fn parse_format(s: &str) -> Result<Format, String> {
    match s.parse()? {
        FormatChoice::Fixed(f) => Ok(f),
        FormatChoice::Auto => Err("loggen needs a concrete format".into()),
    }
}

fn simulate(
    trace: &std::path::Path,
    policy_arg: &str,
    json: bool,
    (plot, timeline): (Option<&std::path::Path>, Option<&std::path::Path>),
    model: &logscale::simulate::Model,
) -> Result<ExitCode> {
    if model.capacity_per_instance <= 0.0
        || model.min > model.max
        || model.initial.is_some_and(|n| n > model.max)
    {
        bail!("the model needs --capacity-per-instance > 0 and --min <= --initial <= --max");
    }
    let text =
        std::fs::read_to_string(trace).with_context(|| format!("reading {}", trace.display()))?;
    let points = logscale::simulate::parse_trace(&text)
        .with_context(|| format!("in {}", trace.display()))?;
    // A policy is the LOGSCALE_* settings the Lambda would read, minus where its logs are.
    let settings: std::collections::HashMap<String, String> = match policy_arg {
        "default" | "original" => [("LOGSCALE_POLICY".to_string(), policy_arg.to_string())].into(),
        path => {
            let raw = std::fs::read_to_string(path).with_context(|| {
                format!("--policy {path:?} is not original, default or a readable JSON file")
            })?;
            let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&raw)
                .with_context(|| format!("{path} must be a JSON object of LOGSCALE_* settings"))?;
            object
                .into_iter()
                .map(|(k, v)| {
                    let v = match v {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (k, v)
                })
                .collect()
        }
    };
    let config = Config::from_lookup(|k| match k {
        "LOGSCALE_BUCKET" => Some("simulated".into()),
        "LOGSCALE_GROUP" => Some("simulated".into()),
        _ => settings.get(k).cloned(),
    })?;
    let label = std::path::Path::new(policy_arg)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or(policy_arg);
    let report = logscale::simulate::simulate(&points, model, &config.policy, label);
    if let Some(path) = plot {
        std::fs::write(path, logscale::simulate::plot_svg(&report, model))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = timeline {
        let mut csv = String::from(
            "minute,load,capacity,instances,serving,cpu,p95_ms,error_rate,violation\n",
        );
        for m in &report.timeline {
            csv.push_str(&format!(
                "{},{:.0},{:.0},{},{},{:.1},{:.0},{:.2},{}\n",
                m.minute,
                m.load,
                m.capacity,
                m.instances,
                m.serving,
                m.cpu,
                m.p95_ms,
                m.error_rate,
                m.violation
            ));
        }
        std::fs::write(path, csv).with_context(|| format!("writing {}", path.display()))?;
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "{}: {} minutes, {} instance-minutes, {} SLO violation minutes, {} scaling actions, {} flaps, at most {} instances",
            report.policy,
            report.minutes_simulated,
            report.instance_minutes,
            report.slo_violation_minutes,
            report.scaling_actions,
            report.flaps,
            report.max_instances
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Inputs smaller than this finish before a progress bar would be worth drawing.
const PROGRESS_FROM_BYTES: u64 = 64 << 20;

fn analyze(
    format: FormatChoice,
    json: bool,
    threads: Option<usize>,
    files: &[String],
) -> Result<ExitCode> {
    // The same LOGSCALE_* log settings as the Lambda (slow threshold, error rule, JSON keys).
    let vars: std::collections::HashMap<String, String> = std::env::vars().collect();
    let get = |k: &str| {
        vars.get(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let slow_ms = match get("LOGSCALE_SLOW_MS") {
        None => 1000.0,
        Some(v) => v
            .parse::<f64>()
            .ok()
            .filter(|v| *v > 0.0)
            .with_context(|| format!("LOGSCALE_SLOW_MS={v:?} is not a positive number"))?,
    };
    let mut options = logscale::config::parse_options(&get, slow_ms)?;
    options.format = format;

    let threads = threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let sizes: Option<u64> = files
        .iter()
        .map(|f| {
            (f != "-")
                .then(|| std::fs::metadata(f).ok().map(|m| m.len()))
                .flatten()
        })
        .sum();
    let bar = match sizes {
        Some(total) if total >= PROGRESS_FROM_BYTES => {
            let bar = indicatif::ProgressBar::new(total);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}",
                )
                .expect("a valid template"),
            );
            bar
        }
        Some(_) => indicatif::ProgressBar::hidden(),
        None => indicatif::ProgressBar::new_spinner(),
    };
    let started = std::time::Instant::now();
    let analysis = logscale::analyze::analyze_inputs(files, &options, threads, &|n| bar.inc(n));
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();

    if json {
        println!("{}", serde_json::to_string_pretty(&analysis.to_json())?);
    } else {
        let metrics = logscale::parse::summary::LogMetrics::from(&analysis.summary);
        print!("{}", logscale::human::metrics_summary(&metrics));
        let mb = analysis.summary.bytes as f64 / 1e6;
        println!(
            "Read {} lines, {mb:.1} MB of log text in {seconds:.2} s ({:.0} MB/s)",
            analysis.summary.lines,
            mb / seconds.max(1e-9)
        );
        for input in &analysis.inputs {
            let format = input.format.map_or("-".to_string(), |f| f.to_string());
            let gz = if input.gzip { ", gzip" } else { "" };
            println!(
                "  {}: {format}{gz}, {} requests",
                input.name, input.requests
            );
        }
    }
    let mut failed = false;
    for input in analysis.inputs.iter().filter(|i| i.problem.is_some()) {
        failed = true;
        eprintln!(
            "logscale: {}: {}",
            input.name,
            input.problem.as_deref().unwrap_or("")
        );
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

async fn run(dry_run_flag: bool, json: bool) -> Result<ExitCode> {
    let config = Config::from_env()?;
    let services = logscale::aws::services_from_env().await;
    let options = CycleOptions {
        now: Utc::now(),
        dry_run: dry_run_flag || config.dry_run,
        deadline: None,
    };
    let record = run_cycle(&config, &services, options).await;
    if json {
        println!("{}", serde_json::to_string_pretty(&record)?);
    } else {
        print!("{}", logscale::human::render(&record));
    }
    Ok(ExitCode::SUCCESS)
}

/// Generates into `sink`, gzip-compressed when asked.
fn generate_into<W: Write>(
    spec: &LogGenSpec,
    sink: W,
    gzip: bool,
) -> Result<logscale::loggen::LogGenStats> {
    let mut sink = BufWriter::new(sink);
    let stats = if gzip {
        let mut enc = flate2::write::GzEncoder::new(&mut sink, flate2::Compression::default());
        let stats = generate(spec, &mut enc)?;
        enc.finish()?;
        stats
    } else {
        generate(spec, &mut sink)?
    };
    sink.flush()?;
    Ok(stats)
}

fn write_local(spec: &LogGenSpec, out: &str, gzip: bool) -> Result<()> {
    if out == "-" {
        generate_into(spec, io::stdout().lock(), gzip)?;
        return Ok(());
    }
    let path = PathBuf::from(out);
    let file =
        std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    let stats = generate_into(spec, file, gzip)?;
    eprintln!(
        "wrote {} lines ({} errors, {} slow) to {out}",
        stats.lines, stats.errors, stats.slow
    );
    Ok(())
}

async fn upload(spec: &LogGenSpec, url: &str, gzip: bool) -> Result<()> {
    let Some(rest) = url.strip_prefix("s3://") else {
        bail!("--s3 {url:?} must look like s3://bucket/prefix");
    };
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        bail!("--s3 {url:?} names no bucket");
    }
    let key = format!(
        "{prefix}application_{}.log{}",
        spec.start.format("%Y%m%d_%H%M%S"),
        if gzip { ".gz" } else { "" }
    );
    let mut body = Vec::new();
    let stats = generate_into(spec, &mut body, gzip)?;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = logscale::aws::s3::client(&sdk, logscale::aws::path_style_wanted());
    client
        .put_object()
        .bucket(bucket)
        .key(&key)
        .body(body.into())
        .send()
        .await
        .map_err(|e| logscale::aws::service_error("PutObject", e))
        .with_context(|| format!("uploading s3://{bucket}/{key}"))?;
    eprintln!(
        "uploaded {} lines ({} errors, {} slow) to s3://{bucket}/{key}",
        stats.lines, stats.errors, stats.slow
    );
    Ok(())
}
