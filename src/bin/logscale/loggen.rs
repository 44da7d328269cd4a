//! `logscale loggen`: sample logs in any format, to a file, stdout or S3.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use chrono::{NaiveDateTime, Utc};

use logscale::parse::{Format, FormatChoice};
use logscale::sample_logs::{generate_to, LogGenSpec};

#[derive(clap::Args)]
pub struct Args {
    /// Number of lines.
    #[arg(long, short = 'n', default_value_t = 1000)]
    lines: u64,
    /// The format to write.
    #[arg(long, default_value = "original", value_parser = concrete_format)]
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
}

fn concrete_format(s: &str) -> Result<Format, String> {
    match s.parse()? {
        FormatChoice::Fixed(f) => Ok(f),
        FormatChoice::Auto => Err("loggen needs a concrete format".into()),
    }
}

pub fn run(
    args: Args,
    runtime: impl FnOnce() -> Result<tokio::runtime::Runtime>,
) -> Result<ExitCode> {
    for (name, v) in [
        ("--error-share", args.error_share),
        ("--slow-share", args.slow_share),
    ] {
        if !(0.0..=1.0).contains(&v) {
            bail!("{name} {v} is not a share from 0 to 1");
        }
    }
    let spec = LogGenSpec {
        lines: args.lines,
        format: args.format,
        error_share: args.error_share,
        slow_share: args.slow_share,
        slow_ms: args.slow_ms,
        start: args.start.unwrap_or_else(|| Utc::now().naive_utc()),
        seed: args.seed,
        keep_latencies: false,
    };
    match &args.s3 {
        Some(url) => runtime()?.block_on(upload(&spec, url, args.gzip))?,
        None => write_local(&spec, &args.out, args.gzip)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn write_local(spec: &LogGenSpec, out: &str, gzip: bool) -> Result<()> {
    if out == "-" {
        generate_to(spec, std::io::stdout().lock(), gzip)?;
        return Ok(());
    }
    let path = PathBuf::from(out);
    let file =
        std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    let stats = generate_to(spec, file, gzip)?;
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
    let path_style = logscale::s3_path_style(|k| std::env::var(k).ok())?;
    let key = format!(
        "{prefix}application_{}.log{}",
        spec.start.format("%Y%m%d_%H%M%S"),
        if gzip { ".gz" } else { "" }
    );
    let mut body = Vec::new();
    let stats = generate_to(spec, &mut body, gzip)?;
    logscale::aws::uploader_from_env(path_style)
        .await
        .put(bucket, &key, body)
        .await
        .with_context(|| format!("uploading s3://{bucket}/{key}"))?;
    eprintln!(
        "uploaded {} lines ({} errors, {} slow) to s3://{bucket}/{key}",
        stats.lines, stats.errors, stats.slow
    );
    Ok(())
}
