#!/usr/bin/env python3
"""Checks that infra/template.yaml and the code agree.

- every Lambda's CodeUri names a binary in backend/src/bin, and its handler is `bootstrap`;
- every RESCALER_* variable the template sets is read somewhere in backend/src, and every one
  the backend reads on Lambda (Config::apply_env, kick) is set by the template;
- the cluster keys the ClustersJson parameter documents are fields of ClusterConfig;
- the API function ignores the stage in the path (lambda_http).
usage: check_template.py (from anywhere; needs PyYAML, which cfn-lint brings)
"""
import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
# Read by the local binary or by tests only, never set on Lambda.
LOCAL_ONLY = {"RESCALER_CONFIG", "RESCALER_CONFIG_TOML", "RESCALER_INSTANCE_ID", "RESCALER_CRASH_AFTER",
              "RESCALER_OIDC_USERNAME_CLAIM"}


class Loader(yaml.SafeLoader):
    pass


def any_tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node, deep=True)}
    return {suffix: loader.construct_mapping(node, deep=True)}


Loader.add_multi_constructor("!", any_tag)


def main():
    template = yaml.load((ROOT / "infra/template.yaml").read_text(), Loader=Loader)
    problems = []
    source = "\n".join(p.read_text() for p in (ROOT / "backend/src").rglob("*.rs"))
    binaries = {p.stem for p in (ROOT / "backend/src/bin").glob("*.rs")}
    handler = template["Globals"]["Function"].get("Handler")
    if handler != "bootstrap":
        problems.append(f"global handler is {handler!r}, cargo-lambda builds 'bootstrap'")

    set_vars = set(template["Globals"]["Function"]["Environment"]["Variables"])
    for name, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        match = re.fullmatch(r"\.\./target/lambda/([A-Za-z0-9_-]+)/", props.get("CodeUri", ""))
        if not match or match.group(1) not in binaries:
            problems.append(f"{name}: CodeUri {props.get('CodeUri')!r} names no binary in backend/src/bin")
        set_vars |= set(props.get("Environment", {}).get("Variables", {}))
        if name == "ApiFunction" and props["Environment"]["Variables"].get("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH") != "true":
            problems.append("ApiFunction must set AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH=true")

    for var in sorted(v for v in set_vars if v.startswith("RESCALER_")):
        if f'"{var}"' not in source:
            problems.append(f"the template sets {var}, which the backend never reads")
    read_vars = set(re.findall(r'"(RESCALER_[A-Z0-9_]+)"', source)) - LOCAL_ONLY
    for var in sorted(read_vars - set_vars):
        problems.append(f"the backend reads {var}, which the template never sets")

    config = (ROOT / "backend/src/config.rs").read_text()
    cluster_fields = re.search(r"pub struct ClusterConfig \{(.*?)\n\}", config, re.S).group(1)
    described = template["Parameters"]["ClustersJson"]["Description"]
    for key in ("id", "name", "rest_url", "savepoint_dir", "auth_header", "required_approvals"):
        if key in described and f"pub {key}:" not in cluster_fields:
            problems.append(f"ClustersJson documents {key!r}, which ClusterConfig lacks")

    for problem in problems:
        print(f"infra: {problem}", file=sys.stderr)
    if problems:
        sys.exit(1)
    print(f"infra: template and code agree ({len(set_vars)} variables, {len(binaries)} binaries)")


if __name__ == "__main__":
    main()
