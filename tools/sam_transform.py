"""Writes template.yaml as CloudFormation, after the SAM transform, for checkov (`make lint`).

Offline: the SAM CLI's own translator (run with $LOGSCALE_SAM_VENV's python), with no call to
AWS (the template names no AWS managed policy, the only thing the translator would fetch).

checkov evaluates each resource's Condition from the Parameters' defaults, so with the defaults
alone the optional resources (the discovery queue, the notification topic, the KMS and tag
statements) would never be checked. Two variants are written: `defaults.json`, and
`every-option.json` whose defaults turn every option on.

usage: python tools/sam_transform.py TEMPLATE OUT_DIR
"""

import copy
import json
import pathlib
import sys

from samcli.lib.translate.sam_template_validator import SamTemplateValidator
from samcli.yamlhelper import yaml_parse

# Sample values that make every Condition of the template true (none of them is deployed).
EVERY_OPTION = {
    "QueueDiscovery": "true",
    "Ingest": "summaries",
    "StateKey": "logscale-state/sample.json",
    "NotificationEmail": "ops@example.com",
    "LogBucketOwner": "111122223333",
    "KmsKeyArn": "arn:aws:kms:us-east-1:111122223333:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0",
    "ScalingTagKey": "logscale",
    "ScalingTagValue": "on",
}


class NoManagedPolicies:
    """Stands in for the SAM CLI's loader, which would ask IAM for every managed policy."""

    def load(self):
        raise SystemExit(
            "sam_transform.py: the template names an AWS managed policy; "
            "resolving it needs AWS, so this offline transform refuses"
        )


def transform(template: dict) -> dict:
    validator = SamTemplateValidator(copy.deepcopy(template), NoManagedPolicies(), region="us-east-1")
    return yaml_parse(validator.get_translated_template_if_valid())


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    template = yaml_parse(pathlib.Path(sys.argv[1]).read_text())
    out = pathlib.Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)

    every_option = copy.deepcopy(template)
    for name, value in EVERY_OPTION.items():
        if name not in every_option["Parameters"]:
            raise SystemExit(f"sam_transform.py: no Parameter {name} in {sys.argv[1]}")
        every_option["Parameters"][name]["Default"] = value

    for name, variant in (("defaults", template), ("every-option", every_option)):
        path = out / f"{name}.json"
        path.write_text(json.dumps(transform(variant), indent=1, default=str))
        print(f"sam_transform.py: wrote {path}")


if __name__ == "__main__":
    main()
