#!/usr/bin/env python3
"""Cold-start proxy: how long a Lambda binary takes from exec to its first poll of the Runtime API,
and then to answer its first invocation.

  coldstart.py [--runs 21] [--zip bootstrap.zip] [--standin] [--profile INIT_PROFILE_BIN]
               LOGSCALE_BIN HELLO_BIN

Starts a stand-in Runtime API on 127.0.0.1, execs each binary with AWS_LAMBDA_RUNTIME_API and the
environment Lambda gives a function (name, version, memory, log group, region, credentials) plus
logscale's minimal settings, and notes when GET /2018-06-01/runtime/invocation/next first
arrives: everything a function does before that poll is what Lambda bills as its Init phase on a
cold start. With --standin the poll is answered with events/dry-run.json (a one-off dry run,
which changes nothing, so every run sees the same account) and the time to the invocation's
response is noted too, against the local AWS stand-in (tools/standin.py) seeded with an empty
log bucket and a group at 75 % CPU: work moved out of Init into the first invocation shows there.
For the hello-world (crates/coldstart/src/bin/hello_lambda.rs) both are lambda_runtime alone.

The binaries run alternately, after one unmeasured run each (so both start from a warm page
cache), and the medians are printed side by side with their ratio. With --profile, the
init_profile binary (crates/coldstart/src/bin/init_profile.rs: the same steps as
logscale-lambda's main, each timed) runs as many times, and the medians of its steps are printed.

This is a proxy: a real cold start adds the Firecracker VM, the code download and the runtime
bootstrap, which are the same for both binaries, and real AWS endpoints are HTTPS (the first call
then also loads the TLS roots and makes a TLS handshake, which the stand-in's plain HTTP skips).
"""
import argparse
import http.server
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
NEXT_INVOCATION = "/2018-06-01/runtime/invocation/next"
INVOCATION = "/2018-06-01/runtime/invocation/"
BUCKET = "coldstart-logs"
GROUP = "coldstart"


class RuntimeApi:
    """An HTTP server that notes when the first next-invocation poll arrives and, when given an
    event, answers it and notes when the invocation's response (or error) is posted."""

    def __init__(self, event=None):
        self.event = event
        self.first_poll_ns = None
        self.answered_ns = None
        self.outcome = None
        self.polled = threading.Event()
        self.done = threading.Event()
        self.release = threading.Event()
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                now = time.monotonic_ns()
                if not self.path.startswith(NEXT_INVOCATION):
                    self.send_error(404)
                    return
                if not api.polled.is_set():
                    api.first_poll_ns = now
                    api.polled.set()
                    if api.event is not None:
                        body = api.event
                        deadline_ms = int(time.time() * 1000) + 60_000
                        self.send_response(200)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Content-Length", str(len(body)))
                        self.send_header("Lambda-Runtime-Aws-Request-Id", "coldstart-1")
                        self.send_header("Lambda-Runtime-Deadline-Ms", str(deadline_ms))
                        self.send_header(
                            "Lambda-Runtime-Invoked-Function-Arn",
                            "arn:aws:lambda:us-east-1:123456789012:function:logscale-coldstart",
                        )
                        self.end_headers()
                        self.wfile.write(body)
                        return
                # Hold the long poll, as Lambda does between invocations, until the run ends.
                api.release.wait(120)

            def do_POST(self):
                now = time.monotonic_ns()
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.path.startswith(INVOCATION) and not api.done.is_set():
                    api.answered_ns = now
                    api.outcome = (self.path.rsplit("/", 1)[-1], body)
                    api.done.set()
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # each run ends by killing the process: its connections reset

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reset(self):
        self.release.set()
        self.release = threading.Event()
        self.polled.clear()
        self.done.clear()
        self.first_poll_ns = self.answered_ns = self.outcome = None


def function_env(api_address, endpoint=None):
    """What Lambda sets for a provided.al2023 function, plus logscale's two required settings."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_LAMBDA_RUNTIME_API": api_address,
        "AWS_LAMBDA_FUNCTION_NAME": "logscale-coldstart",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/logscale-coldstart",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]0123456789abcdef",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_SESSION_TOKEN": "test",
        "LAMBDA_TASK_ROOT": "/var/task",
        "LOGSCALE_BUCKET": BUCKET,
        "LOGSCALE_GROUP": GROUP,
    }
    if endpoint:
        env["AWS_ENDPOINT_URL"] = endpoint
        env["AWS_EC2_METADATA_DISABLED"] = "true"
    return env


def run_once(binary, api, env, timeout_s):
    """(ms from exec to the first poll, ms from that poll's answer to the response or None)."""
    api.reset()
    with tempfile.TemporaryFile() as stderr:
        start = time.monotonic_ns()
        process = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            if not api.polled.wait(timeout_s):
                fail(binary, "did not poll the Runtime API", timeout_s, process, stderr)
            init_ms = (api.first_poll_ns - start) / 1e6
            if api.event is None:
                return init_ms, None
            if not api.done.wait(timeout_s):
                fail(binary, "did not answer its first invocation", timeout_s, process, stderr)
            kind, body = api.outcome
            if kind != "response":
                sys.exit(f"coldstart: {binary}'s first invocation failed: {body[:2000]!r}")
            return init_ms, (api.answered_ns - api.first_poll_ns) / 1e6
        finally:
            process.kill()
            process.wait()


def fail(binary, what, timeout_s, process, stderr):
    stderr.seek(0)
    sys.exit(
        f"coldstart: {binary} {what} within {timeout_s} s (exit {process.poll()}):\n"
        f"{stderr.read().decode(errors='replace')[-2000:]}"
    )


class StandIn:
    """tools/standin.py on a free loopback port, seeded with an empty log bucket and a group."""

    def __init__(self, work):
        port_file = pathlib.Path(work) / "standin.port"
        self.log = open(pathlib.Path(work) / "standin.log", "w")
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "tools/standin.py"), "--port", "0",
             "--port-file", str(port_file), "--parent-pid", str(os.getpid())],
            stdout=self.log, stderr=subprocess.STDOUT,
        )
        for _ in range(600):
            if port_file.exists() and port_file.read_text().strip():
                break
            if self.process.poll() is not None:
                sys.exit(f"coldstart: the stand-in exited; see {self.log.name}")
            time.sleep(0.1)
        else:
            sys.exit(f"coldstart: the stand-in did not start; see {self.log.name}")
        self.endpoint = f"http://127.0.0.1:{port_file.read_text().strip()}"
        self.seed("bucket", BUCKET)
        self.seed("group", GROUP, "--min", "1", "--max", "5", "--desired", "2")
        self.seed("cpu", GROUP, "--percent", "75", "--memory", "58")

    def seed(self, *args):
        subprocess.run(
            [sys.executable, str(ROOT / "tools/seed.py"), "--endpoint", self.endpoint, *args],
            check=True, stdout=subprocess.DEVNULL,
        )

    def stop(self):
        self.process.terminate()
        self.process.wait()


def profile(binary, env, runs):
    """The medians of init_profile's steps over `runs` fresh processes, in microseconds."""
    samples = {}
    for _ in range(runs + 1):
        out = subprocess.run([binary], env=env, capture_output=True, text=True, check=True)
        steps = json.loads(out.stdout.strip().splitlines()[-1])
        for name, micros in steps.items():
            samples.setdefault(name, []).append(micros)
    # The first run is unmeasured, as for the binaries.
    return {name: statistics.median(values[1:]) for name, values in samples.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logscale", help="the logscale-lambda release binary")
    parser.add_argument("hello", help="the hello_lambda release binary")
    parser.add_argument("--runs", type=int, default=21, help="measured runs of each binary")
    parser.add_argument("--zip", help="the deployable bootstrap.zip, to print its size")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for a poll")
    parser.add_argument("--standin", action="store_true",
                        help="also time the first invocation, against the local AWS stand-in")
    parser.add_argument("--profile", help="the init_profile binary: print where Init goes")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="coldstart-")
    standin = StandIn(work) if args.standin else None
    event = (ROOT / "events/dry-run.json").read_bytes() if standin else None
    api = RuntimeApi(event)
    env = function_env(api.address, standin.endpoint if standin else None)
    binaries = {"logscale-lambda": args.logscale, "hello_lambda": args.hello}
    try:
        for binary in binaries.values():
            run_once(binary, api, env, args.timeout)  # unmeasured: page cache and loader warm
        init = {name: [] for name in binaries}
        first = {name: [] for name in binaries}
        for _ in range(args.runs):
            for name, binary in binaries.items():
                init_ms, first_ms = run_once(binary, api, env, args.timeout)
                init[name].append(init_ms)
                if first_ms is not None:
                    first[name].append(first_ms)
        steps = profile(args.profile, env, args.runs) if args.profile else None
    finally:
        if standin:
            standin.stop()

    print(f"exec to the first poll of the Runtime API (Init), {args.runs} runs each (alternating):")
    print(f"  {'binary':<16} {'size':>9} {'median':>9} {'min':>9} {'max':>9}"
          + (f" {'1st invoke':>11}" if standin else ""))
    for name, binary in binaries.items():
        s = init[name]
        size = os.path.getsize(binary) / 2**20
        line = (f"  {name:<16} {size:>5.1f} MiB {statistics.median(s):>6.2f} ms "
                f"{min(s):>6.2f} ms {max(s):>6.2f} ms")
        if standin:
            line += f" {statistics.median(first[name]):>8.2f} ms"
        print(line)
    ratio = statistics.median(init["logscale-lambda"]) / statistics.median(init["hello_lambda"])
    print(f"  median Init ratio logscale-lambda / hello_lambda: {ratio:.2f}")
    if standin:
        print("  (1st invoke: median ms from the first poll's answer to the response; for logscale a "
              "dry-run cycle against the stand-in)")
    if steps:
        print(f"where logscale-lambda's Init goes (init_profile, medians of {args.runs} fresh processes):")
        for name, micros in steps.items():
            print(f"  {name:<20} {micros / 1000:>7.2f} ms")
    if args.zip:
        size = os.path.getsize(args.zip)
        print(f"deployable zip {args.zip}: {size} bytes ({size / 2**20:.2f} MiB)")


if __name__ == "__main__":
    main()
