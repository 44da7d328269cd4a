#!/usr/bin/env python3
"""Seeds and inspects the local stand-in for logscale's demo and tests (boto3, loopback only).

  seed.py --endpoint URL bucket NAME
  seed.py --endpoint URL group NAME --min 1 --max 5 --desired 2
  seed.py --endpoint URL cpu GROUP --percent 75 [--minutes 10] [--memory 60]
  seed.py --endpoint URL show GROUP          # {"min":..,"max":..,"desired":..,"instances":[..]}
  seed.py --endpoint URL reset
  seed.py --endpoint URL fault OPERATION [CODE] [--times 1] [--status 400] [--match TEXT]
                                          [--delay SECONDS]   # a slow answer, then CODE if given
  seed.py --endpoint URL calls               # {"calls": [{"operation":..,"body":..}, ...]}
  seed.py --endpoint URL objects BUCKET --pattern P --count N --start TIME [--step SECONDS]
                                          [--seed 0] [--body TEXT | --body-file F]
  seed.py --endpoint URL objects BUCKET --keys K [K ...] --last-modified TIME [--body ...]

`objects` writes many objects at once straight into the stand-in's S3 (POST /_logscale/objects;
the bucket must exist): object n = 0..N-1 has LastModified START + n × STEP seconds and the key
P with that time's strftime fields, {n} (its index, e.g. {n:06d}) and {hex} (16 random hex
digits, the same for the same --seed); every object has the same body and its MD5 as ETag. It
prints {"written", "etag", "first_key", "last_key", "bucket_keys", "seconds"}. For example:

  objects logs --pattern 't/%Y/%m/%d/%H/obj-{n:06d}.log' --count 200000 \\
               --start 2024-05-01T12:00:00Z --step -6         # hour partitions, 10 a minute back
  objects logs --pattern 's/%Y%m%dT%H%M%SZ-{n:06d}.log' --count 200000 \\
               --start 2024-04-01T00:00:00Z --step 6          # flat, keys sort by time
  objects logs --pattern 'u/{hex}.log' --count 200000 --start 2024-03-01T00:00:00Z --step -6

Log objects themselves are written with `logscale loggen --s3`, the project's own generator.
"""
import argparse
import base64
import datetime as dt
import json
import sys

import boto3
from botocore.config import Config

REGION = "us-east-1"


def client(args, service):
    return boto3.client(
        service,
        endpoint_url=args.endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
    )


def cmd_bucket(args):
    client(args, "s3").create_bucket(Bucket=args.name)
    print(f"created bucket {args.name}", file=sys.stderr)


def cmd_group(args):
    ec2 = client(args, "ec2")
    template = f"{args.name}-template"
    ec2.create_launch_template(
        LaunchTemplateName=template,
        LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "t3.micro"},
    )
    client(args, "autoscaling").create_auto_scaling_group(
        AutoScalingGroupName=args.name,
        LaunchTemplate={"LaunchTemplateName": template, "Version": "$Latest"},
        MinSize=args.min,
        MaxSize=args.max,
        DesiredCapacity=args.desired,
        AvailabilityZones=[f"{REGION}a", f"{REGION}b"],
    )
    print(f"created group {args.name} (min {args.min}, max {args.max}, desired {args.desired})", file=sys.stderr)


def group_info(args, name):
    groups = client(args, "autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    if not groups:
        sys.exit(f"seed.py: no Auto Scaling group named {name!r}")
    g = groups[0]
    return {
        "min": g["MinSize"],
        "max": g["MaxSize"],
        "desired": g["DesiredCapacity"],
        "instances": [i["InstanceId"] for i in g["Instances"]],
    }


def cmd_cpu(args):
    info = group_info(args, args.group)
    now = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)
    cw = client(args, "cloudwatch")
    for instance in info["instances"]:
        data = []
        for m in range(args.minutes):
            stamp = now - dt.timedelta(minutes=m)
            dims = [{"Name": "InstanceId", "Value": instance}]
            data.append({"MetricName": "CPUUtilization", "Dimensions": dims, "Timestamp": stamp, "Value": args.percent, "Unit": "Percent"})
        cw.put_metric_data(Namespace="AWS/EC2", MetricData=data)
        if args.memory is not None:
            mem = [dict(d, MetricName="mem_used_percent", Value=args.memory) for d in data]
            cw.put_metric_data(Namespace="CWAgent", MetricData=mem)
    print(f"put CPU {args.percent}% for {len(info['instances'])} instances over {args.minutes} min", file=sys.stderr)


def cmd_show(args):
    print(json.dumps(group_info(args, args.group)))


def cmd_reset(args):
    control(args, "/moto-api/reset", "POST")


def control(args, path, method="GET", payload=None):
    import urllib.error
    import urllib.request

    data = json.dumps(payload).encode() if payload is not None else None
    req = urllib.request.Request(args.endpoint + path, data=data, method=method)
    try:
        with urllib.request.urlopen(req) as resp:
            return json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as error:
        sys.exit(f"seed.py: {method} {path}: {error.code} {error.read().decode('utf-8', 'replace')}")


def cmd_fault(args):
    if args.code is None and args.delay is None:
        sys.exit("seed.py fault: give an error CODE, a --delay, or both")
    fault = {"operation": args.operation, "times": args.times, "status": args.status}
    if args.code is not None:
        fault["code"] = args.code
    if args.delay is not None:
        fault["delay_seconds"] = args.delay
    if args.match:
        fault["match"] = args.match
    control(args, "/_logscale/faults", "POST", fault)


def cmd_calls(args):
    print(json.dumps(control(args, "/_logscale/calls")))


def cmd_objects(args):
    request = {"bucket": args.bucket}
    if args.body_file:
        with open(args.body_file, "rb") as f:
            request["body_base64"] = base64.b64encode(f.read()).decode()
    else:
        request["body"] = args.body
    if args.keys:
        if args.last_modified is None:
            sys.exit("seed.py objects: --keys needs --last-modified")
        request.update(keys=args.keys, last_modified=args.last_modified)
    else:
        if args.pattern is None or args.count is None or args.start is None:
            sys.exit("seed.py objects: give --keys, or --pattern, --count and --start")
        request["generate"] = {
            "pattern": args.pattern,
            "count": args.count,
            "start": args.start,
            "step_seconds": args.step,
            "seed": args.seed,
        }
    print(json.dumps(control(args, "/_logscale/objects", "POST", request)))


def main():
    p = argparse.ArgumentParser(
        description="Seed the local AWS stand-in.",
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--endpoint", required=True)
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bucket")
    b.add_argument("name")
    g = sub.add_parser("group")
    g.add_argument("name")
    g.add_argument("--min", type=int, default=1)
    g.add_argument("--max", type=int, default=5)
    g.add_argument("--desired", type=int, default=2)
    c = sub.add_parser("cpu")
    c.add_argument("group")
    c.add_argument("--percent", type=float, required=True)
    c.add_argument("--minutes", type=int, default=10)
    c.add_argument("--memory", type=float)
    s = sub.add_parser("show")
    s.add_argument("group")
    sub.add_parser("reset")
    f = sub.add_parser("fault")
    f.add_argument("operation")
    f.add_argument("code", nargs="?")
    f.add_argument("--delay", type=float, help="answer only after this many seconds")
    f.add_argument("--times", type=int, default=1)
    f.add_argument("--status", type=int, default=400)
    f.add_argument("--match", help="only requests whose body contains this text")
    sub.add_parser("calls")
    o = sub.add_parser(
        "objects",
        help="many objects at once, straight into the stand-in's S3",
        description="Write many objects at once into an existing bucket of the stand-in's S3, with "
        "chosen LastModified times and the body's MD5 as ETag (no notifications).",
    )
    o.add_argument("bucket")
    o.add_argument("--pattern", help="key of object n: strftime fields of its time, {n}, {hex}")
    o.add_argument("--count", type=int, help="how many objects")
    o.add_argument("--start", help="RFC 3339 LastModified of object 0")
    o.add_argument("--step", type=float, default=0, help="seconds from one object's time to the next (negative: back)")
    o.add_argument("--seed", type=int, default=0, help="seeds {hex}")
    o.add_argument("--keys", nargs="+", help="explicit keys instead of a pattern")
    o.add_argument("--last-modified", help="RFC 3339 LastModified of every --keys object")
    body = o.add_mutually_exclusive_group()
    body.add_argument("--body", default="", help="text of every object (default empty)")
    body.add_argument("--body-file", help="bytes of every object, from this file")
    args = p.parse_args()
    commands = {
        "bucket": cmd_bucket,
        "group": cmd_group,
        "cpu": cmd_cpu,
        "show": cmd_show,
        "reset": cmd_reset,
        "fault": cmd_fault,
        "calls": cmd_calls,
        "objects": cmd_objects,
    }
    commands[args.cmd](args)


if __name__ == "__main__":
    main()
