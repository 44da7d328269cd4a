#!/usr/bin/env python3
"""Cold-start proxy: how long a Lambda binary takes from exec to its first poll of the Runtime API.

  coldstart.py [--runs 21] [--zip target/lambda/logscale-lambda/bootstrap.zip] LOGSCALE_BIN HELLO_BIN

Starts a stand-in Runtime API on 127.0.0.1 that only notes when GET
/2018-06-01/runtime/invocation/next first arrives, execs each binary with AWS_LAMBDA_RUNTIME_API and
the environment Lambda gives a function (name, version, memory, log group, region, credentials)
plus logscale's minimal settings, and kills it at the first poll. Everything a function does before
that poll is what Lambda bills as its Init phase on a cold start: for logscale, reading its
settings and building the AWS clients; for the hello-world (examples/hello_lambda.rs), nothing
beyond lambda_runtime itself. The two binaries run alternately, after one unmeasured run each (so
both start from a warm page cache), and the medians are printed side by side with their ratio.
This is a proxy: a real cold start adds the Firecracker VM, the code download and the runtime
bootstrap, which are the same for both binaries.
"""
import argparse
import http.server
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

NEXT_INVOCATION = "/2018-06-01/runtime/invocation/next"


class RuntimeApi:
    """An HTTP server that records when the next-invocation poll arrives, and never answers it."""

    def __init__(self):
        self.first_poll_ns = None
        self.polled = threading.Event()
        self.release = threading.Event()
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                now = time.monotonic_ns()
                if self.path.startswith(NEXT_INVOCATION):
                    if not api.polled.is_set():
                        api.first_poll_ns = now
                        api.polled.set()
                    # Hold the long poll, as Lambda does between invocations, until the run ends.
                    api.release.wait(30)
                    return
                self.send_error(404)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reset(self):
        self.release.set()
        self.release = threading.Event()
        self.polled.clear()
        self.first_poll_ns = None


def function_env(api_address):
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
        "LOGSCALE_BUCKET": "coldstart-logs",
        "LOGSCALE_GROUP": "coldstart",
    }
    return env


def measure(binary, api, timeout_s):
    """Milliseconds from exec to the first poll, for one fresh process."""
    api.reset()
    with tempfile.TemporaryFile() as stderr:
        start = time.monotonic_ns()
        process = subprocess.Popen(
            [binary], env=function_env(api.address), stdout=subprocess.DEVNULL, stderr=stderr
        )
        try:
            if not api.polled.wait(timeout_s):
                stderr.seek(0)
                sys.exit(
                    f"coldstart: {binary} did not poll the Runtime API within {timeout_s} s "
                    f"(exit {process.poll()}):\n{stderr.read().decode(errors='replace')[-2000:]}"
                )
            return (api.first_poll_ns - start) / 1e6
        finally:
            process.kill()
            process.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logscale", help="the logscale-lambda release binary")
    parser.add_argument("hello", help="the hello_lambda release binary (examples/hello_lambda.rs)")
    parser.add_argument("--runs", type=int, default=21, help="measured runs of each binary")
    parser.add_argument("--zip", help="the deployable bootstrap.zip, to print its size")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for a poll")
    args = parser.parse_args()

    api = RuntimeApi()
    binaries = {"logscale-lambda": args.logscale, "hello_lambda": args.hello}
    for binary in binaries.values():
        measure(binary, api, args.timeout)  # unmeasured: page cache and dynamic loader warm
    samples = {name: [] for name in binaries}
    for _ in range(args.runs):
        for name, binary in binaries.items():
            samples[name].append(measure(binary, api, args.timeout))

    print(f"exec to the first poll of the Runtime API, {args.runs} runs each (alternating):")
    print(f"  {'binary':<16} {'size':>9} {'median':>9} {'min':>9} {'max':>9}")
    for name, binary in binaries.items():
        s = samples[name]
        size = os.path.getsize(binary) / 2**20
        print(
            f"  {name:<16} {size:>6.1f} MB {statistics.median(s):>6.2f} ms "
            f"{min(s):>6.2f} ms {max(s):>6.2f} ms"
        )
    ratio = statistics.median(samples["logscale-lambda"]) / statistics.median(samples["hello_lambda"])
    print(f"  median ratio logscale-lambda / hello_lambda: {ratio:.2f}")
    if args.zip:
        size = os.path.getsize(args.zip)
        print(f"deployable zip {args.zip}: {size} bytes ({size / 2**20:.1f} MB)")


if __name__ == "__main__":
    main()
