#!/usr/bin/env python3
"""Checks that infra/template.yaml and the code agree.

- every Lambda's CodeUri names a binary in backend/src/bin, and its handler is `bootstrap`;
- every RESCALER_* variable the template sets is read somewhere in backend/src, and every one
  the backend reads on Lambda (Config::apply_env, kick) is set by the template;
- the cluster keys the ClustersJson parameter documents are fields of ClusterConfig;
- the API function ignores the stage in the path (lambda_http);
- every function may read the clusters' SSM parameters under SecretsPath, and no other, and
  ClustersJson documents auth_header_ssm (a header value never sits in a plain parameter);
- the MSF statements grant what backend/src/cluster/msf/sdk.rs calls: the API function its reads
  (Describe*, List*) only, the reconcile function every call, on MsfApplicationArns (only
  ListApplications on *), and both sts:AssumeRole on MsfRoleArns; each under its condition, and
  the check refuses weakened or widened copies;
- the records bucket's policy keeps the audit log append-only for every principal (no delete,
  no put without `If-None-Match`), and the backend writes audit events create-only; the check
  is itself run against weakened copies of the policy, each of which it must refuse;
- the CDN rules of cdn_rules.py: the console's routes function (infra/console-routes.js, copied
  inline) on the console's behaviour only, no distribution-wide error pages, the security
  headers policy on every behaviour, the API throttled (refusing wrong copies too).
usage: check_template.py (from anywhere; needs PyYAML, which cfn-lint brings)
"""
import copy
import pathlib
import re
import sys

import yaml

import cdn_rules

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


AUDIT_OBJECTS = {"Sub": "${RecordsBucket.Arn}/${RecordsPrefix}audit/*"}
CREATE_ONLY = {"Null": {"s3:if-none-match": "true"}}


def as_list(value):
    return value if isinstance(value, list) else [value]


def records_policy_statements(template):
    policies = [
        resource for resource in template["Resources"].values()
        if resource.get("Type") == "AWS::S3::BucketPolicy"
        and resource.get("Properties", {}).get("Bucket") == {"Ref": "RecordsBucket"}
    ]
    if len(policies) != 1:
        return None
    return as_list(policies[0]["Properties"]["PolicyDocument"].get("Statement", []))


def denies_everyone(statements, action, condition):
    """Some statement denies `action` on every audit object to every principal, under exactly
    `condition` (None: unconditionally)."""
    for statement in statements:
        if any(key in statement for key in ("NotPrincipal", "NotAction", "NotResource")):
            continue
        if statement.get("Effect") != "Deny" or statement.get("Principal") != "*":
            continue
        if action not in as_list(statement.get("Action", [])) or AUDIT_OBJECTS not in as_list(statement.get("Resource")):
            continue
        if statement.get("Condition") == condition:
            return True
    return False


def audit_policy_problems(template):
    """What lets someone delete or rewrite an audit event in the records bucket."""
    statements = records_policy_statements(template)
    if statements is None:
        return ["the records bucket needs exactly one bucket policy"]
    problems = []
    for action in ("s3:DeleteObject", "s3:DeleteObjectVersion"):
        if not denies_everyone(statements, action, None):
            problems.append(f"the records bucket policy must deny {action} on audit/* to everyone, unconditionally")
    if not denies_everyone(statements, "s3:PutObject", CREATE_ONLY):
        problems.append("the records bucket policy must deny s3:PutObject on audit/* without If-None-Match "
                        "(Condition Null s3:if-none-match true)")
    pattern = template["Parameters"]["RecordsPrefix"].get("AllowedPattern", "")
    if not all(re.fullmatch(pattern, prefix) for prefix in ("", "rescaler/")) or re.fullmatch(pattern, "rescaler"):
        problems.append("RecordsPrefix must be empty or end with '/', as the audit/* resources assume")
    return problems


def weakened_copies(template):
    """Copies of the template whose audit protection is weaker, each with what was done."""
    def statement(copied, sid):
        return next(s for s in records_policy_statements(copied) if s.get("Sid") == sid)

    def drop(copied, sid):
        policy = statement(copied, sid)
        records_policy_statements(copied).remove(policy)

    mutations = {
        "delete statement removed": lambda c: drop(c, "DenyAuditDelete"),
        "overwrite statement removed": lambda c: drop(c, "DenyAuditOverwrite"),
        "DeleteObjectVersion allowed": lambda c: statement(c, "DenyAuditDelete").update(Action=["s3:DeleteObject"]),
        "delete denied to one principal only": lambda c: statement(c, "DenyAuditDelete").update(
            Principal={"AWS": "arn:aws:iam::111122223333:root"}),
        "delete denied only without TLS": lambda c: statement(c, "DenyAuditDelete").update(
            Condition={"Bool": {"aws:SecureTransport": "false"}}),
        "overwrite statement turned into an Allow": lambda c: statement(c, "DenyAuditOverwrite").update(Effect="Allow"),
        "overwrite denied only with If-None-Match": lambda c: statement(c, "DenyAuditOverwrite").update(
            Condition={"StringEquals": {"s3:if-none-match": "*"}}),
        "overwrite denied on another prefix": lambda c: statement(c, "DenyAuditOverwrite").update(
            Resource={"Sub": "${RecordsBucket.Arn}/${RecordsPrefix}audit-old/*"}),
        "overwrite statement with NotPrincipal": lambda c: statement(c, "DenyAuditOverwrite").update(
            NotPrincipal={"AWS": "arn:aws:iam::111122223333:root"}),
        "prefix without a trailing slash allowed": lambda c: c["Parameters"]["RecordsPrefix"].pop("AllowedPattern"),
    }
    for name, mutate in mutations.items():
        copied = copy.deepcopy(template)
        mutate(copied)
        yield name, copied


def audit_writes_problems():
    """The backend writes audit events create-only, from one place (Records::audit)."""
    problems = []
    for path in (ROOT / "backend/src").rglob("*.rs"):
        if '"audit/' in path.read_text() and path != ROOT / "backend/src/records.rs":
            problems.append(f"{path.relative_to(ROOT)} names audit/ keys: only Records::audit writes them")
    records = (ROOT / "backend/src/records.rs").read_text()
    body = re.search(r"pub async fn audit\(&self.*?\n    \}\n", records, re.S)
    if not body or "create_json" not in body.group(0) or re.search(r"replace|\.put|delete", body.group(0)):
        problems.append("Records::audit must write with create_json only (the bucket refuses other puts)")
    return problems


def secrets_problems(template):
    """Each function reads the SSM parameters under SecretsPath, and only those."""
    problems = []
    allowed = {"Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${SecretsPath}*"}
    for name, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        statements = [s for policy in resource["Properties"].get("Policies", []) for s in as_list(policy.get("Statement", []))]
        ssm = [s for s in statements if isinstance(s, dict) and any(str(a).startswith("ssm:") for a in as_list(s.get("Action", [])))]
        if not ssm:
            problems.append(f"{name} cannot read the clusters' SSM parameters (ssm:GetParameter on SecretsPath)")
        for statement in ssm:
            if as_list(statement.get("Action")) != ["ssm:GetParameter"] or as_list(statement.get("Resource")) != [allowed]:
                problems.append(f"{name}: SSM access must be ssm:GetParameter on {allowed['Sub']} only")
    if "auth_header_ssm" not in template["Parameters"]["ClustersJson"]["Description"]:
        problems.append("ClustersJson must document auth_header_ssm")
    return problems


MSF_SDK = ROOT / "backend/src/cluster/msf/sdk.rs"
MSF_RESOURCE = {"Ref": "MsfApplicationArns"}


def msf_calls():
    """The kinesisanalytics actions the MSF adapter calls, from its SDK calls (`client.x_y()`)."""
    names = set(re.findall(r"client\s*\.\s*([a-z_]+)\(\)", MSF_SDK.read_text()))
    return {"kinesisanalytics:" + "".join(part.title() for part in name.split("_")) for name in names}


def conditional_statements(resource):
    """A function's policy statements as (condition or None, statement)."""
    for policy in resource["Properties"].get("Policies", []):
        for statement in as_list(policy.get("Statement", [])):
            if isinstance(statement, dict) and "If" in statement:
                condition, then, _ = statement["If"]
                yield condition, then
            elif isinstance(statement, dict):
                yield None, statement


def msf_problems(template, calls):
    """What the two functions' MSF statements grant that the code does not call, or miss."""
    problems = []
    reads = {call for call in calls if call.split(":")[1].startswith(("Describe", "List"))}
    wanted = {"ApiFunction": reads, "ReconcileFunction": calls}
    for name, needed in wanted.items():
        granted = set()
        assumes = False
        for condition, statement in conditional_statements(template["Resources"][name]):
            actions = as_list(statement.get("Action", []))
            if any(action == "sts:AssumeRole" for action in actions):
                assumes = condition == "HasMsfRoles" and statement.get("Resource") == {"Ref": "MsfRoleArns"}
            msf = [action for action in actions if str(action).startswith("kinesisanalytics:")]
            if not msf:
                continue
            everywhere = msf == ["kinesisanalytics:ListApplications"] and statement.get("Resource") == "*"
            if condition != "HasMsfApplications" or not (everywhere or statement.get("Resource") == MSF_RESOURCE):
                problems.append(f"{name}: {msf} must be granted under HasMsfApplications on MsfApplicationArns"
                                " (ListApplications alone on *)")
            granted |= set(msf)
        for action in sorted(needed - granted):
            problems.append(f"{name} may not call {action}, which the MSF adapter calls")
        for action in sorted(granted - needed):
            problems.append(f"{name} is granted {action}, which it never calls")
        if "AssumeRoleProvider" in MSF_SDK.read_text() and not assumes:
            problems.append(f"{name} must be allowed sts:AssumeRole on MsfRoleArns under HasMsfRoles (role_arn)")
    return problems


def widened_msf_copies(template):
    """Copies of the template whose MSF grants are wrong, each with what was done."""
    def msf_statement(copied, name, action):
        for _, statement in conditional_statements(copied["Resources"][name]):
            if action in as_list(statement.get("Action", [])):
                return statement
        raise KeyError(action)

    def drop_action(copied, name, action):
        statement = msf_statement(copied, name, action)
        statement["Action"] = [a for a in as_list(statement["Action"]) if a != action]

    mutations = {
        "the API may update": lambda c: msf_statement(c, "ApiFunction", "kinesisanalytics:DescribeApplication")[
            "Action"].append("kinesisanalytics:UpdateApplication"),
        "the reconciler may not update": lambda c: drop_action(c, "ReconcileFunction", "kinesisanalytics:UpdateApplication"),
        "updates on every application": lambda c: msf_statement(
            c, "ReconcileFunction", "kinesisanalytics:UpdateApplication").update(Resource="*"),
        "the API may not read operations": lambda c: drop_action(
            c, "ApiFunction", "kinesisanalytics:DescribeApplicationOperation"),
        "any role assumed": lambda c: msf_statement(c, "ReconcileFunction", "sts:AssumeRole").update(Resource="*"),
    }
    for name, mutate in mutations.items():
        copied = copy.deepcopy(template)
        mutate(copied)
        yield name, copied


def cdn_problems_checked(template):
    """The CDN rules' problems, and any wrong copy they let through."""
    problems = cdn_rules.cdn_problems(template)
    for name, wrong in cdn_rules.wrong_copies(template):
        if not cdn_rules.cdn_problems(wrong):
            problems.append(f"the CDN check accepts a wrong template ({name})")
    return problems


def main():
    template = yaml.load((ROOT / "infra/template.yaml").read_text(), Loader=Loader)
    problems = audit_policy_problems(template) + audit_writes_problems() + secrets_problems(template)
    calls = msf_calls()
    if len(calls) < 8:
        problems.append(f"found only {sorted(calls)} in {MSF_SDK.relative_to(ROOT)}: the MSF check reads nothing")
    problems += msf_problems(template, calls)
    for name, widened in widened_msf_copies(template):
        if not msf_problems(widened, calls):
            problems.append(f"the MSF check accepts a wrong grant ({name})")
    for name, weakened in weakened_copies(template):
        if not audit_policy_problems(weakened):
            problems.append(f"the audit policy check accepts a weakened policy ({name})")
    problems += cdn_problems_checked(template)
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
    for key in ("id", "name", "kind", "rest_url", "msf", "savepoint_dir", "auth_header", "auth_header_ssm",
                "required_approvals"):
        if key in described and f"pub {key}:" not in cluster_fields:
            problems.append(f"ClustersJson documents {key!r}, which ClusterConfig lacks")

    for problem in problems:
        print(f"infra: {problem}", file=sys.stderr)
    if problems:
        sys.exit(1)
    print(f"infra: template and code agree ({len(set_vars)} variables, {len(binaries)} binaries)")


if __name__ == "__main__":
    main()
