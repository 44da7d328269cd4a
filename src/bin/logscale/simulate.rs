//! `logscale simulate`: a load trace through the capacity model and the real decision code.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};

use logscale::simulator::{
    parse_trace, plot_svg, simulate_with, Context as SimContext, Model, Scaler,
};
use logscale::Config;

#[derive(clap::Args)]
pub struct Args {
    /// CSV with header minute,requests_per_minute[,error_rate].
    #[arg(long)]
    trace: PathBuf,
    /// original, default, a JSON file of LOGSCALE_* settings, or a peer: target-tracking
    /// (EC2 Auto Scaling target tracking on CPU) or hpa (the Kubernetes HPA on CPU), both at
    /// the default policy's CPU target and judged by its SLO.
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
}

pub fn run(args: Args) -> Result<ExitCode> {
    let model = Model {
        capacity_per_instance: args.capacity_per_instance,
        launch_minutes: args.launch_minutes,
        warmup_minutes: args.warmup_minutes,
        base_latency_ms: args.base_latency_ms,
        idle_cpu: 5.0,
        min: args.min,
        max: args.max,
        initial: args.initial,
    };
    if model.capacity_per_instance <= 0.0
        || model.min > model.max
        || model.initial.is_some_and(|n| n > model.max)
    {
        bail!("the model needs --capacity-per-instance > 0 and --min <= --initial <= --max");
    }
    let trace = &args.trace;
    let text =
        std::fs::read_to_string(trace).with_context(|| format!("reading {}", trace.display()))?;
    let points = parse_trace(&text).with_context(|| format!("in {}", trace.display()))?;
    let peer = Scaler::peer_named(&args.policy);
    let settings = match peer {
        Some(_) => policy_settings("default")?,
        None => policy_settings(&args.policy)?,
    };
    // A policy is the LOGSCALE_* settings the Lambda would read, minus where its logs are.
    let config = Config::from_lookup(|k| match k {
        "LOGSCALE_BUCKET" | "LOGSCALE_GROUP" => Some("simulated".into()),
        _ => settings.get(k).cloned(),
    })?;
    let label = Path::new(&args.policy)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or(&args.policy);
    let context = SimContext {
        schedule: config.schedule.clone(),
        timezone: config.timezone,
        predict: config.predict,
    };
    let report = simulate_with(
        &points,
        &model,
        &config.policy,
        &context,
        peer.unwrap_or(Scaler::Logscale),
        label,
    );
    if let Some(path) = &args.plot {
        std::fs::write(path, plot_svg(&report, &model))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.timeline {
        std::fs::write(path, report.timeline_csv())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{}", report.summary_line());
    }
    Ok(ExitCode::SUCCESS)
}

/// `original`, `default`, or a JSON file of LOGSCALE_* settings, as the variables it sets.
fn policy_settings(arg: &str) -> Result<HashMap<String, String>> {
    if matches!(arg, "default" | "original") {
        return Ok([("LOGSCALE_POLICY".to_string(), arg.to_string())].into());
    }
    let raw = std::fs::read_to_string(arg).with_context(|| {
        format!(
            "--policy {arg:?} is not original, default, target-tracking, hpa or a readable JSON file"
        )
    })?;
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&raw)
        .with_context(|| format!("{arg} must be a JSON object of LOGSCALE_* settings"))?;
    object
        .into_iter()
        .map(|(k, v)| {
            if logscale::find_setting(&k).is_none() {
                bail!(
                    "{arg}: {k:?} is not a LOGSCALE_* setting (see the README's settings tables)"
                );
            }
            let v = match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            Ok((k, v))
        })
        .collect()
}
