//! `logscale run`: one cycle with the LOGSCALE_* settings, against the AWS the environment names.

use std::process::ExitCode;

use anyhow::Result;
use chrono::Utc;

use logscale::{run_cycle, Config, CycleOptions};

#[derive(clap::Args)]
pub struct Args {
    /// Do everything except the final SetDesiredCapacity call.
    #[arg(long)]
    dry_run: bool,
    /// Print the decision record as JSON instead of the human summary.
    #[arg(long)]
    json: bool,
    /// The time the run stands for, as a scheduled event's `time` (RFC 3339, e.g.
    /// 2024-12-08T12:35:00Z): the window ends there, less LOGSCALE_LAG_SECONDS. Default: now.
    #[arg(long, value_parser = |s: &str| chrono::DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)))]
    at: Option<chrono::DateTime<Utc>>,
}

pub async fn run(args: Args) -> Result<ExitCode> {
    let config = Config::from_env()?;
    let services = logscale::aws::services_from_env(config.s3_path_style).await;
    let options = CycleOptions {
        now: Utc::now(),
        scheduled: args.at,
        dry_run: args.dry_run || config.dry_run,
        // `--dry-run` on a live deployment is a trial: it leaves the state to the schedule.
        save_state: !args.dry_run || config.dry_run,
        deadline: None,
    };
    let record = run_cycle(&config, &services, options).await;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&record)?);
    } else {
        print!("{}", logscale::render_record(&record));
    }
    Ok(ExitCode::SUCCESS)
}
