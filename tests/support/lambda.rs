//! One of this package's Lambda binaries under cargo-lambda's runtime emulator (`cargo lambda
//! watch --only-lambda-apis`), invoked through `cargo lambda invoke`, talking to the stand-in.
//!
//! The emulator hands each invocation to whichever function process is polling its Runtime API,
//! so `processes` of them serve that many invocations at once, as Lambda runs that many
//! execution environments of one function.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{aws_env, manifest_dir, venv};

/// One emulator and its function processes, for one scenario's settings.
pub struct Lambda {
    pub port: u16,
    pub dir: PathBuf,
    watch: Child,
    functions: Vec<Child>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn cargo_lambda() -> Command {
    let path = format!(
        "{}:{}",
        venv().join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.arg("lambda")
        .env("PATH", path)
        .current_dir(manifest_dir());
    cmd
}

impl Lambda {
    /// The scheduled cycle (`logscale-lambda`), one process.
    pub fn start(settings: &[(&'static str, String)]) -> Lambda {
        Lambda::serve(
            Path::new(env!("CARGO_BIN_EXE_logscale-lambda")),
            settings,
            1,
        )
    }

    /// `binary` with `settings`, `processes` of it polling one emulator.
    pub fn serve(binary: &Path, settings: &[(&'static str, String)], processes: usize) -> Lambda {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("logscale-e2e-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let watch = cargo_lambda()
            .args([
                "watch",
                "--only-lambda-apis",
                "-A",
                "127.0.0.1",
                "-P",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("watch.log")).unwrap())
            .spawn()
            .expect("starting cargo lambda watch");
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "cargo lambda watch did not listen on {port}; see {}",
                dir.join("watch.log").display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let functions = (0..processes.max(1))
            .map(|i| {
                Command::new(binary)
                    .envs(aws_env())
                    .envs(settings.iter().map(|(k, v)| (*k, v.as_str())))
                    .env(
                        "AWS_LAMBDA_RUNTIME_API",
                        format!("http://127.0.0.1:{port}/.rt"),
                    )
                    .env("AWS_LAMBDA_FUNCTION_NAME", "_")
                    .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
                    .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
                    .stdout(std::fs::File::create(dir.join(format!("function-{i}.out"))).unwrap())
                    .stderr(std::fs::File::create(dir.join(format!("function-{i}.err"))).unwrap())
                    .spawn()
                    .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()))
            })
            .collect();
        Lambda {
            port,
            dir,
            watch,
            functions,
        }
    }

    /// `cargo lambda invoke` with the event in `data_file`; returns the function's answer.
    pub fn invoke_file(&self, data_file: &Path) -> Value {
        let out = cargo_lambda()
            .args([
                "invoke",
                "_",
                "-A",
                "127.0.0.1",
                "-P",
                &self.port.to_string(),
            ])
            .arg("--data-file")
            .arg(data_file)
            .args(["--output-format", "json"])
            .output()
            .expect("running cargo lambda invoke");
        assert!(
            out.status.success(),
            "invoke failed: {}\nfunction stderr: {}",
            String::from_utf8_lossy(&out.stderr),
            self.stderr()
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "invoke printed no JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// Everything the function processes printed to stdout (what CloudWatch Logs would keep).
    pub fn stdout(&self) -> String {
        self.read_all("out")
    }

    /// What each function process printed to stdout, in the order they were started.
    pub fn stdout_by_process(&self) -> Vec<String> {
        (0..self.functions.len())
            .map(|i| {
                std::fs::read_to_string(self.dir.join(format!("function-{i}.out")))
                    .unwrap_or_default()
            })
            .collect()
    }

    /// Everything the function processes printed to stderr.
    pub fn stderr(&self) -> String {
        self.read_all("err")
    }

    fn read_all(&self, stream: &str) -> String {
        (0..self.functions.len())
            .map(|i| {
                std::fs::read_to_string(self.dir.join(format!("function-{i}.{stream}")))
                    .unwrap_or_default()
            })
            .collect()
    }

    /// The stdout lines that are JSON objects.
    pub fn logged_json(&self) -> Vec<Value> {
        self.stdout()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .collect()
    }
}

impl Drop for Lambda {
    fn drop(&mut self) {
        for f in &mut self.functions {
            let _ = f.kill();
            let _ = f.wait();
        }
        let _ = self.watch.kill();
        let _ = self.watch.wait();
    }
}

/// What the scenarios ask of the cycle's function (`logscale-lambda`) beyond the plumbing.
pub trait CycleLambda {
    fn invoke(&self, event: &str) -> Value;
    fn check_metrics_line(&self, record: &Value);
    fn logged_records(&self) -> Vec<Value>;
}

impl CycleLambda for Lambda {
    /// `cargo lambda invoke` with an events/ file; returns the decision record.
    fn invoke(&self, event: &str) -> Value {
        let record = self.invoke_file(&manifest_dir().join("events").join(event));
        self.check_metrics_line(&record);
        record
    }

    /// The EMF line the function printed beside this invocation's record: valid by the
    /// specification, and saying what the record says.
    fn check_metrics_line(&self, record: &Value) {
        let request_id = record["invocation"]["request_id"]
            .as_str()
            .expect("the record names its invocation");
        let doc: Value = self
            .logged_json()
            .into_iter()
            .find(|v| v.get("_aws").is_some() && v["request_id"] == request_id)
            .unwrap_or_else(|| panic!("no metrics line for {request_id} in:\n{}", self.stdout()));
        super::emf::check_emf(&doc).unwrap_or_else(|e| panic!("{e}: {doc}"));
        assert_eq!(doc["AutoScalingGroupName"], record["group"]);
        let before = record["decision"]["from"].as_f64();
        match record["capacity"].is_null() {
            true => {
                assert_eq!(doc["Blind"], 1.0, "{doc}");
                assert!(doc.get("DesiredBefore").is_none());
            }
            false => {
                assert_eq!(doc["DesiredBefore"].as_f64(), before);
                let changed = record["applied"] == true;
                let after = if changed {
                    record["decision"]["to"].as_f64()
                } else {
                    before
                };
                assert_eq!(doc["DesiredAfter"].as_f64(), after, "{doc}");
                assert_eq!(doc.get("HeldBy").is_some(), after == before, "{doc}");
            }
        }
        assert_eq!(
            doc["CycleDuration"].as_f64(),
            record["duration_ms"].as_f64()
        );
    }

    /// The record lines the function printed to stdout (what CloudWatch Logs would keep).
    fn logged_records(&self) -> Vec<Value> {
        self.logged_json()
            .into_iter()
            .filter(|v| v.get("decision").is_some())
            .collect()
    }
}
