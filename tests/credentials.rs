//! The credential chain where users run logscale, with the AWS SDK built without its default
//! features (issue 18): `logscale run` from a developer's shell signs with a profile's
//! `credential_process`, an SSO profile fails for its missing token (not for a feature compiled
//! out), and the Lambda's environment keys sign as before. Every run is the real CLI against
//! the stand-in, which notes the access key each request was signed with.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use support::*;

/// `logscale run --dry-run --json` with only the given environment (and PATH).
fn run(env: &[(&str, String)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_logscale"))
        .args(["run", "--dry-run", "--json"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("running logscale")
}

fn record(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `logscale run`, and the access keys that signed its DescribeAutoScalingGroups calls for
/// `group` (the scenario's seeding before it signs with the stand-in's own keys: left out).
fn run_and_signers(env: &[(&str, String)], group: &str) -> (Output, Vec<String>) {
    let calls = || -> Vec<Value> {
        let calls: Value = serde_json::from_str(&seed(&["calls"])).unwrap();
        calls["calls"].as_array().unwrap().clone()
    };
    let before = calls().len();
    let out = run(env);
    let signers = calls()
        .into_iter()
        .skip(before)
        .filter(|c| c["operation"] == "DescribeAutoScalingGroups")
        .filter(|c| c["body"].as_str().is_some_and(|b| b.contains(group)))
        .filter_map(|c| c["access_key"].as_str().map(str::to_string))
        .collect();
    (out, signers)
}

/// A shell with no keys in its environment: a profile names where credentials come from.
fn profile_shell(
    home: &Path,
    config: &str,
    profile: &str,
    s: &Scenario,
) -> Vec<(&'static str, String)> {
    let config_file = home.join("config");
    std::fs::write(&config_file, config).unwrap();
    let mut env = vec![
        ("HOME", home.display().to_string()),
        ("AWS_CONFIG_FILE", config_file.display().to_string()),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            home.join("no-credentials").display().to_string(),
        ),
        ("AWS_PROFILE", profile.to_string()),
        ("AWS_ENDPOINT_URL", standin().endpoint.clone()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
    ];
    env.extend(s.env());
    env
}

#[test]
fn logscale_run_signs_with_a_profile_s_credential_process() {
    let s = Scenario::new("cred-process", (1, 5, 2), Some(50.0), true);
    let home = tempfile::tempdir().unwrap();
    let ran = home.path().join("process-ran");
    let script = home.path().join("credentials.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho ran >> '{}'\n\
             echo '{{\"Version\": 1, \"AccessKeyId\": \"AKIDFROMPROCESS\", \
             \"SecretAccessKey\": \"secret\", \"SessionToken\": \"token\"}}'\n",
            ran.display()
        ),
    )
    .unwrap();
    std::process::Command::new("chmod")
        .args(["+x", &script.display().to_string()])
        .status()
        .unwrap();
    let config = format!(
        "[profile dev]\nregion = us-east-1\ncredential_process = {}\n",
        script.display()
    );
    let (out, keys) = run_and_signers(&profile_shell(home.path(), &config, "dev", &s), &s.group);
    let r = record(&out);
    assert_eq!(r["errors"], serde_json::json!([]), "{r:#}");
    assert!(
        std::fs::read_to_string(&ran).is_ok_and(|t| t.contains("ran")),
        "the credential_process script never ran"
    );
    assert!(!keys.is_empty(), "no signed DescribeAutoScalingGroups call");
    assert!(keys.iter().all(|k| k == "AKIDFROMPROCESS"), "{keys:?}");
}

#[test]
fn an_sso_profile_fails_for_its_missing_token_not_for_a_missing_feature() {
    let s = Scenario::new("cred-sso", (1, 5, 2), Some(50.0), true);
    let home = tempfile::tempdir().unwrap();
    let config = "[profile sso]\nregion = us-east-1\n\
                  sso_start_url = https://example.awsapps.com/start\nsso_region = us-east-1\n\
                  sso_account_id = 123456789012\nsso_role_name = ReadOnly\n";
    let (out, keys) = run_and_signers(&profile_shell(home.path(), config, "sso", &s), &s.group);
    let r = record(&out);
    let errors = r["errors"].to_string();
    // The SSO provider looked for the token `aws sso login` would have cached.
    assert!(errors.contains(".aws/sso/cache"), "{r:#}");
    assert!(!errors.contains("cargo feature"), "{errors}");
    assert!(
        keys.is_empty(),
        "nothing is signed without credentials: {keys:?}"
    );
    // Scaling in on missing data is never an option: without credentials nothing was read.
    assert_ne!(r["decision"]["action"], "scale_down", "{r:#}");
}

#[test]
fn the_lambda_s_environment_keys_sign_its_calls() {
    let s = Scenario::new("cred-env", (1, 5, 2), Some(50.0), true);
    let mut env = vec![
        ("AWS_ENDPOINT_URL", standin().endpoint.clone()),
        ("AWS_REGION", "us-east-1".to_string()),
        ("AWS_ACCESS_KEY_ID", "ASIAFROMLAMBDA".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "secret".to_string()),
        ("AWS_SESSION_TOKEN", "token".to_string()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
    ];
    env.extend(s.env());
    let (out, keys) = run_and_signers(&env, &s.group);
    let r = record(&out);
    assert_eq!(r["errors"], serde_json::json!([]), "{r:#}");
    assert!(!keys.is_empty(), "no signed DescribeAutoScalingGroups call");
    assert!(keys.iter().all(|k| k == "ASIAFROMLAMBDA"), "{keys:?}");
}
