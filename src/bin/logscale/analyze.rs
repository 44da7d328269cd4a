//! `logscale analyze`: the parsing engine over local files, with a progress bar on big inputs.

use std::process::ExitCode;

use anyhow::Result;

use logscale::parse::FormatChoice;

#[derive(clap::Args)]
pub struct Args {
    /// The log format, or auto to detect it per file.
    #[arg(long, default_value = "auto", value_parser = |s: &str| s.parse::<FormatChoice>())]
    format: FormatChoice,
    /// Print one JSON object instead of the summary.
    #[arg(long)]
    json: bool,
    /// Files to read in parallel (default: the number of cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Log files, or summary files (`logscale summarize`'s, recognised by their content); `-`
    /// reads stdin.
    #[arg(required = true)]
    files: Vec<String>,
}

/// Inputs smaller than this finish before a progress bar would be worth drawing.
const PROGRESS_FROM_BYTES: u64 = 64 << 20;

pub fn run(args: Args) -> Result<ExitCode> {
    // The same LOGSCALE_* log settings as the Lambda (slow threshold, error rule, JSON keys).
    let mut options = logscale::log_settings(|k| std::env::var(k).ok())?;
    options.format = args.format;
    let threads = args.threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });

    let bar = progress_bar(&args.files);
    let started = std::time::Instant::now();
    let analysis = logscale::analyze_inputs(&args.files, &options, threads, &|n| bar.inc(n));
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();

    if args.json {
        println!("{}", serde_json::to_string_pretty(&analysis.to_json())?);
    } else {
        print!("{}", logscale::render_analysis(&analysis, seconds));
    }
    let mut failed = false;
    for input in &analysis.inputs {
        if let Some(problem) = &input.problem {
            failed = true;
            eprintln!("logscale: {}: {problem}", input.name);
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// A bar for inputs of known size worth one, a spinner when stdin makes the size unknown.
fn progress_bar(files: &[String]) -> indicatif::ProgressBar {
    let sizes: Option<u64> = files
        .iter()
        .map(|f| {
            (f != "-")
                .then(|| std::fs::metadata(f).ok().map(|m| m.len()))
                .flatten()
        })
        .sum();
    match sizes {
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
    }
}
