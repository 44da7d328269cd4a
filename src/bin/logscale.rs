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
    /// Generate sample logs in the original format.
    Loggen {
        /// Number of lines.
        #[arg(long, short = 'n', default_value_t = 1000)]
        lines: u64,
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
        Command::Loggen {
            lines,
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
                error_share,
                slow_share,
                slow_ms,
                start: start.unwrap_or_else(|| Utc::now().naive_utc()),
                seed,
            };
            match s3 {
                Some(url) => runtime.block_on(upload(&spec, &url, gzip)),
                None => write_local(&spec, &out, gzip),
            }?;
            Ok(ExitCode::SUCCESS)
        }
    }
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
