//! `logscale summarize`: one summary file per log file, as the summarizer Lambda writes one
//! per S3 object; `logscale analyze` merges them as it would read the logs.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};

use logscale::parse::FormatChoice;

#[derive(clap::Args)]
pub struct Args {
    /// The log format, or auto to detect it per file.
    #[arg(long, default_value = "auto", value_parser = |s: &str| s.parse::<FormatChoice>())]
    format: FormatChoice,
    /// The directory to write `<file name>.summary.json` into (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Files to read in parallel (default: the number of cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Log files, plain or gzip.
    #[arg(required = true)]
    files: Vec<String>,
}

pub fn run(args: Args) -> Result<ExitCode> {
    // The same LOGSCALE_* log settings as the Lambda and `analyze`.
    let mut options = logscale::log_settings(|k| std::env::var(k).ok())?;
    options.format = args.format;
    let threads = args.threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });

    let bar = indicatif::ProgressBar::new(args.files.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} files, eta {eta}")
            .expect("a valid template"),
    );
    let results =
        logscale::summarize_inputs(&args.files, &options, &args.out, threads, &|_| bar.inc(1))
            .map_err(anyhow::Error::msg)
            .context("nothing summarized")?;
    bar.finish_and_clear();

    let mut failed = false;
    let mut written = 0;
    for result in &results {
        match (&result.error, &result.problem) {
            (Some(error), _) => {
                failed = true;
                eprintln!("logscale: {}: {error}", result.input);
            }
            (None, Some(problem)) => {
                failed = true;
                written += 1;
                eprintln!(
                    "logscale: {}: {problem} (its summary says so)",
                    result.input
                );
            }
            (None, None) => written += 1,
        }
    }
    eprintln!(
        "summarized {written} of {} files into {}",
        results.len(),
        args.out.display()
    );
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
