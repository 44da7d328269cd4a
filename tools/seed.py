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

Log objects themselves are written with `logscale loggen --s3`, the project's own generator.
"""
import argparse
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
    import urllib.request

    data = json.dumps(payload).encode() if payload is not None else None
    req = urllib.request.Request(args.endpoint + path, data=data, method=method)
    with urllib.request.urlopen(req) as resp:
        return json.loads(resp.read() or b"{}")


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


def main():
    p = argparse.ArgumentParser(description="Seed the local AWS stand-in.")
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
    args = p.parse_args()
    commands = {
        "bucket": cmd_bucket,
        "group": cmd_group,
        "cpu": cmd_cpu,
        "show": cmd_show,
        "reset": cmd_reset,
        "fault": cmd_fault,
        "calls": cmd_calls,
    }
    commands[args.cmd](args)


if __name__ == "__main__":
    main()
