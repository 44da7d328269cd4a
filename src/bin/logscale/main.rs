//! The CLI for people: run one cycle against whatever AWS the environment points at, read local
//! log files or their summaries, replay a load trace, or make sample logs. One file per subcommand, each only
//! wiring: arguments in, a library call, output out.

mod analyze;
mod loggen;
mod run;
mod simulate;
mod summarize;

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

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
    Run(run::Args),
    /// Read local log files (plain or gzip; `-` for stdin) or their summaries and print their
    /// metrics.
    Analyze(analyze::Args),
    /// Summarize log files one by one into summary files, which `analyze` merges.
    Summarize(summarize::Args),
    /// Replay a load trace through a capacity model and the real decision code.
    Simulate(simulate::Args),
    /// Generate sample logs.
    Loggen(loggen::Args),
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
    let runtime = || tokio::runtime::Runtime::new().context("starting the async runtime");
    match cli.command {
        Command::Run(args) => runtime()?.block_on(run::run(args)),
        Command::Analyze(args) => analyze::run(args),
        Command::Summarize(args) => summarize::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Loggen(args) => loggen::run(args, runtime),
    }
}
