"""A stage from nothing in three commands (docs/deploy.md):

    python -m infra.deploy secrets --stage prod [--dry-run]   # SSM parameters, once
    python -m infra.deploy deploy  --stage prod [--dry-run] [--alarm-email ops@example.com]
    python -m infra.deploy smoke   --stage prod [--url URL]   # read-only checks (infra/smoke.py)

`deploy` runs, in this order: the operator stack (deploy-state bucket, operator role), the
data stack (table, documents bucket), the email stack (SES configuration set and events
topic: SES refuses a send naming a set that does not exist), the staged project
(infra/bundle.py), the deployed state from the bucket, the staged config
(DOCUMENTS_BUCKET, SES_EVENTS_TOPIC_ARN, PUBLIC_BASE_URL), `chalice deploy`, the state
back to the bucket; on a first deploy (the URL is known only then) a second `chalice
deploy` and the data and email stacks again with the URL (upload form origin, bounce
webhook); then the ops stack (infra/ops.yaml) and the API's access logs.

Every AWS call goes through `Aws`: with --dry-run it prints the call and its parameters
instead of making it and hands back a faked answer (marked as such), so a dry run walks
every step on a machine with no credentials.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
CONFIG_PATH = ROOT / ".chalice" / "config.json"
OPERATOR_TEMPLATE = ROOT / "infra" / "operator.yaml"
DATA_TEMPLATE = ROOT / "infra" / "table.yaml"
OPS_TEMPLATE = ROOT / "infra" / "ops.yaml"
DEPLOYED_STATES = ("dev", "prod")
APP_NAME = "pt-bookings"
API_STAGE = "api"  # every stage's api_gateway_stage in .chalice/config.json
# Chalice's resource names in the deployed state for app.py's functions, and the ops
# stack's parameter each one's deployed name goes to.
FUNCTION_PARAMETERS = {
    "api_handler": "ApiHandlerName",
    "expire_offer_locks": "ExpireOfferLocksName",
    "dispatch_messages": "DispatchMessagesName",
    "queue_reminders": "QueueRemindersName",
    "apply_templates": "ApplyTemplatesName",
}
DRY = "[dry-run]"
FAKED = "(dry-run: faked answer)"

# Provider tokens `secrets` stores when their variable is set in the operator's shell:
# variable -> (the stage setting naming its parameter, the parameter's default name).
PROVIDER_TOKENS = {
    "TWILIO_AUTH_TOKEN": ("TWILIO_AUTH_TOKEN_PARAM", "twilio-auth-token"),
    "META_ACCESS_TOKEN": ("META_ACCESS_TOKEN_PARAM", "meta-access-token"),
    "META_APP_SECRET": ("META_APP_SECRET_PARAM", "meta-app-secret"),
    "META_VERIFY_TOKEN": ("META_VERIFY_TOKEN_PARAM", "meta-verify-token"),
}

# API Gateway access log line. `resourcePath` is the route as declared (/c/{token}), never
# the requested path: client capability links (portal, session, offer, pay, feed) ARE
# paths, and `$context.path` would write every one of them to the log. No query string,
# headers, user agent or source IP either: nothing here is needed to read an alarm.
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "extendedRequestId": "$context.extendedRequestId",
        "time": "$context.requestTime",
        "method": "$context.httpMethod",
        "resource": "$context.resourcePath",
        "status": "$context.status",
        "responseLength": "$context.responseLength",
        "latencyMs": "$context.responseLatency",
        "integrationLatencyMs": "$context.integrationLatency",
        "integrationStatus": "$context.integrationStatus",
        "errorType": "$context.error.responseType",
    },
    separators=(",", ":"),
)


class DeployError(Exception):
    """One line for the operator: what failed and what to do."""


def say(line: str) -> None:
    print(line, flush=True)


# The runner ---------------------------------------------------------------------------
def _shown(value: Any) -> Any:
    """Parameters as printed: long bodies (templates) shortened to their size."""
    if isinstance(value, str) and len(value) > 1500:
        return f"<{len(value)} characters>"
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, dict):
        return {k: _shown(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shown(v) for v in value]
    return value


@dataclass
class Aws:
    """Every AWS call and every command of a deploy goes through here (see module doc)."""

    region: str
    dry_run: bool
    client_factory: Callable[[str], Any] | None = None
    echo: Callable[[str], None] = say
    _clients: dict[str, Any] = field(default_factory=dict)
    # Stacks a dry run "created", so its later steps are shown as updates of them.
    dry_stacks: set[str] = field(default_factory=set)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            if self.client_factory is not None:
                self._clients[service] = self.client_factory(service)
            else:
                import boto3

                self._clients[service] = boto3.client(service, region_name=self.region)
        return self._clients[service]

    def call(
        self,
        service: str,
        operation: str,
        fake: Any = None,
        secret: tuple[str, ...] = (),
        **params: Any,
    ) -> Any:
        """`service.operation(**params)`; dry run: print it and return `fake`. Parameters
        named in `secret` are never printed, dry run or not."""
        if self.dry_run:
            shown = {k: ("<secret, not shown>" if k in secret else v) for k, v in params.items()}
            self.echo(f"{DRY} {service}.{operation} {json.dumps(_shown(shown), default=str)}")
            if fake is not None:
                self.echo(f"{DRY}   -> {json.dumps(_shown(fake), default=str)} {FAKED}")
            return fake
        return getattr(self.client(service), operation)(**params)

    def wait(self, service: str, waiter: str, **params: Any) -> None:
        if self.dry_run:
            self.echo(f"{DRY} wait {service}.{waiter} {json.dumps(params)}")
            return
        self.client(service).get_waiter(waiter).wait(
            **params, WaiterConfig={"Delay": 5, "MaxAttempts": 720}
        )

    def run(self, argv: list[str], cwd: Path, fake: Callable[[], None] | None = None) -> int:
        """A command (chalice); dry run: print it, run `fake` in its place, return 0."""
        if self.dry_run:
            self.echo(f"{DRY} run (in {cwd}): {' '.join(argv)}")
            if fake is not None:
                fake()
            return 0
        self.echo(f"$ {' '.join(argv)}")
        return subprocess.run(argv, cwd=cwd, check=False).returncode

    def error_code(self, exc: Exception) -> str:
        response = getattr(exc, "response", None)
        return str(((response or {}).get("Error") or {}).get("Code", "")) if response else ""


def make_aws(dry_run: bool) -> Aws:
    """The runner for this machine's credentials and region, or one clear line why not."""
    import boto3

    session = boto3.session.Session()
    region = session.region_name
    if not region:
        raise DeployError(
            "No AWS region: export AWS_DEFAULT_REGION=eu-west-2 (the table, functions "
            "and SES identity all live in one region)."
        )
    if not dry_run and session.get_credentials() is None:
        raise DeployError(
            "No AWS credentials: set AWS_PROFILE (or sign in with `aws sso login`) and "
            "check `aws sts get-caller-identity` prints the account you mean."
        )
    return Aws(region=region, dry_run=dry_run)


# The stage's settings ------------------------------------------------------------------
def stage_settings(stage: str, config_path: Path = CONFIG_PATH) -> dict[str, str]:
    """The stage's environment as .chalice/config.json sets it (top level, then stage)."""
    config = json.loads(config_path.read_text(encoding="utf-8"))
    if stage not in config.get("stages", {}):
        raise DeployError(f"Stage {stage!r} is not in {config_path}.")
    env = dict(config.get("environment_variables", {}))
    env.update(config["stages"][stage].get("environment_variables", {}))
    return env


def _check_stage(stage: str) -> None:
    if stage not in DEPLOYED_STATES:
        raise DeployError(
            f"{stage!r} is not a deployed stage ({', '.join(DEPLOYED_STATES)}): "
            "local and test only ever run on moto."
        )


# secrets ------------------------------------------------------------------------------
def _parameter_version(aws: Aws, name: str) -> int | None:
    """The parameter's version, None when it does not exist (no value is read)."""
    found = aws.call(
        "ssm",
        "describe_parameters",
        fake={"Parameters": []},
        ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [name]}],
    )
    parameters = found.get("Parameters", [])
    return int(parameters[0].get("Version", 1)) if parameters else None


def _new_link_secret() -> str:
    import secrets as random

    return random.token_urlsafe(48)


LINK_SECRET_RETIRES = """\
Rotating the link secret (docs/operations.md, "Rotating the link secret"):
  stops at once: calendar feed links (trainer and clients), pay links, invoice PDF links,
    bank-reconciliation reviews in progress, and every trainer's Meta webhook verify token;
  keeps working until each client's portal link is rotated: portal, session and offer
    links already sent (they are found by their stored hash), while the links the app
    derives again from then on (Copy buttons, queued messages) do NOT open until it is;
  unaffected: sign-in links and signed-in sessions (random, not derived).
Afterwards: `make deploy STAGE=<stage>` (running containers keep the old secret cached),
then `python -m infra.manage backfill portal-links --stage <stage>` (a new portal link for
every active client whose link the old secret made), and send clients their new links."""


def secrets(
    aws: Aws,
    stage: str,
    settings: dict[str, str],
    environ: dict[str, str],
    rotate_link_secret: bool = False,
    confirm: Callable[[str], str] = input,
) -> dict[str, str]:
    """Create what the stage reads from SSM and is missing; never overwrite the link
    secret unless asked to rotate it. Returns {parameter name: what happened}."""
    done: dict[str, str] = {}
    link_param = settings.get("LINK_SECRET_PARAM") or f"/{APP_NAME}/{stage}/link-secret"
    version = _parameter_version(aws, link_param)
    if version is None:
        aws.call(
            "ssm",
            "put_parameter",
            fake={"Version": 1},
            secret=("Value",),
            Name=link_param,
            Type="SecureString",
            Value=_new_link_secret(),
            Overwrite=False,
            Description=f"PT Bookings {stage}: the secret client links are derived from",
        )
        done[link_param] = "created"
    elif rotate_link_secret:
        say(LINK_SECRET_RETIRES)
        answer = confirm(f"Type the stage name ({stage}) to rotate {link_param}: ")
        if answer.strip() != stage:
            raise DeployError("Not rotated: the answer was not the stage name.")
        result = aws.call(
            "ssm",
            "put_parameter",
            fake={"Version": version + 1},
            secret=("Value",),
            Name=link_param,
            Type="SecureString",
            Value=_new_link_secret(),
            Overwrite=True,
        )
        done[link_param] = f"rotated (version {version} -> {result.get('Version')})"
    else:
        done[link_param] = f"exists (version {version}), kept"
    for variable, (setting, default_name) in PROVIDER_TOKENS.items():
        value = environ.get(variable)
        name = settings.get(setting) or f"/{APP_NAME}/{stage}/{default_name}"
        if not value:
            existing = _parameter_version(aws, name)
            if existing is not None:
                done[name] = f"exists (version {existing}), kept"
            continue
        # A token given is the operator's choice of value: stored as a new version (that
        # is how a provider token is rotated), but only when it differs.
        current = _parameter_value(aws, name)
        if current == value:
            done[name] = f"unchanged (from {variable})"
            continue
        result = aws.call(
            "ssm",
            "put_parameter",
            fake={"Version": 1},
            secret=("Value",),
            Name=name,
            Type="SecureString",
            Value=value,
            Overwrite=True,
        )
        state = "created" if current is None else "replaced"
        done[name] = f"{state} from {variable} (version {result.get('Version')})"
    for name, what in done.items():
        say(f"  {name}: {what}")
    return done


def _parameter_value(aws: Aws, name: str) -> str | None:
    try:
        found = aws.call(
            "ssm",
            "get_parameter",
            fake={"Parameter": {"Value": None}},
            Name=name,
            WithDecryption=True,
        )
    except Exception as exc:  # botocore's ClientError: ParameterNotFound is an answer
        if aws.error_code(exc) == "ParameterNotFound":
            return None
        raise
    return found["Parameter"]["Value"]


# CloudFormation ------------------------------------------------------------------------
def _stack_status(aws: Aws, name: str) -> str | None:
    try:
        exists = [{"StackStatus": "CREATE_COMPLETE"}] if name in aws.dry_stacks else []
        found = aws.call(
            "cloudformation",
            "describe_stacks",
            fake={"Stacks": exists},
            StackName=name,
        )
    except Exception as exc:  # ValidationError "does not exist" is the answer "none"
        if aws.error_code(exc) == "ValidationError":
            return None
        raise
    stacks = found.get("Stacks", [])
    return str(stacks[0]["StackStatus"]) if stacks else None


def stack_parameters(aws: Aws, name: str) -> dict[str, str]:
    """The stack's current parameter values (a dry run: none known)."""
    found = aws.call(
        "cloudformation", "describe_stacks", fake={"Stacks": [{"Parameters": []}]}, StackName=name
    )
    listed = found["Stacks"][0].get("Parameters", [])
    return {p["ParameterKey"]: p.get("ParameterValue", "") for p in listed}


def stack_outputs(aws: Aws, name: str, fake: dict[str, str]) -> dict[str, str]:
    found = aws.call(
        "cloudformation",
        "describe_stacks",
        fake={
            "Stacks": [{"Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in fake.items()]}]
        },
        StackName=name,
    )
    outputs = found["Stacks"][0].get("Outputs", [])
    return {o["OutputKey"]: o["OutputValue"] for o in outputs}


def deploy_stack(
    aws: Aws,
    name: str,
    template: Path,
    parameters: dict[str, str | None],
    fake_outputs: dict[str, str],
    capabilities: tuple[str, ...] = (),
) -> dict[str, str]:
    """What `aws cloudformation deploy --no-fail-on-empty-changeset` does: a change set,
    executed unless it holds no change; returns the stack's outputs."""
    status = _stack_status(aws, name)
    if status == "ROLLBACK_COMPLETE":
        raise DeployError(
            f"Stack {name} failed its first create (ROLLBACK_COMPLETE): read its events, "
            f"then `aws cloudformation delete-stack --stack-name {name}` and deploy again."
        )
    if not template.exists():
        raise DeployError(f"{template.relative_to(ROOT)} is missing from this checkout.")
    # Unique even for two deploys of one stack in the same second.
    change_set = f"{name}-{datetime.now(UTC):%Y%m%d%H%M%S}-{uuid.uuid4().hex[:6]}"
    try:
        aws.call(
            "cloudformation",
            "create_change_set",
            fake={"Id": change_set},
            StackName=name,
            ChangeSetName=change_set,
            ChangeSetType="UPDATE" if status else "CREATE",
            TemplateBody=template.read_text(encoding="utf-8"),
            Parameters=_parameter_list(parameters, updating=status is not None),
            Capabilities=list(capabilities),
        )
    except Exception as exc:  # some endpoints refuse an empty change at once
        if not _means_no_changes(str(exc)):
            raise
        say(f"  {name}: no changes")
        return stack_outputs(aws, name, fake_outputs)
    described = _settled_change_set(aws, name, change_set)
    if described["Status"] == "FAILED":
        reason = str(described.get("StatusReason", ""))
        if _means_no_changes(reason):
            aws.call(
                "cloudformation", "delete_change_set", StackName=name, ChangeSetName=change_set
            )
            say(f"  {name}: no changes")
            return stack_outputs(aws, name, fake_outputs)
        raise DeployError(f"Stack {name}: change set failed: {reason}")
    aws.call("cloudformation", "execute_change_set", StackName=name, ChangeSetName=change_set)
    try:
        aws.wait(
            "cloudformation",
            "stack_update_complete" if status else "stack_create_complete",
            StackName=name,
        )
    except Exception as exc:  # botocore WaiterError: the stack's own reason says more
        raise DeployError(
            f"Stack {name} did not finish ({exc}); its events in the CloudFormation "
            "console say which resource failed and why."
        ) from exc
    if aws.dry_run:
        aws.dry_stacks.add(name)
    say(f"  {name}: {'updated' if status else 'created'}")
    return stack_outputs(aws, name, fake_outputs)


def _means_no_changes(reason: str) -> bool:
    # CloudFormation's words for an empty change set (what the CLI's
    # --no-fail-on-empty-changeset looks for).
    return "didn't contain changes" in reason or "No updates are to be performed" in reason


def _parameter_list(parameters: dict[str, str | None], updating: bool) -> list[dict[str, Any]]:
    """None: keep the stack's current value (a create takes the template's default)."""
    listed: list[dict[str, Any]] = []
    for key, value in parameters.items():
        if value is not None:
            listed.append({"ParameterKey": key, "ParameterValue": value})
        elif updating:
            listed.append({"ParameterKey": key, "UsePreviousValue": True})
    return listed


def _settled_change_set(aws: Aws, stack: str, change_set: str) -> dict[str, Any]:
    # Polled, not a waiter: botocore's waiter raises on FAILED, and an empty change set
    # is FAILED with a reason that here means "nothing to do".
    for _ in range(360):
        described = aws.call(
            "cloudformation",
            "describe_change_set",
            fake={"Status": "CREATE_COMPLETE"},
            StackName=stack,
            ChangeSetName=change_set,
        )
        if described["Status"] in ("CREATE_COMPLETE", "FAILED"):
            return described
        time.sleep(2)
    raise DeployError(f"Change set {change_set} of {stack} never settled.")


def template_parameters(template: Path) -> tuple[set[str], set[str]]:
    """(every parameter, those without a default) the template declares."""
    from infra.table_schema import load_template

    declared = load_template(template).get("Parameters", {}) if template.exists() else {}
    required = {name for name, spec in declared.items() if "Default" not in spec}
    return set(declared), required


# The deployed state --------------------------------------------------------------------
def state_key(stage: str) -> str:
    return f"chalice/deployed/{stage}.json"


def state_path(project: Path, stage: str) -> Path:
    return project / ".chalice" / "deployed" / f"{stage}.json"


def download_state(aws: Aws, bucket: str, stage: str, project: Path) -> bool:
    """The state chalice recorded last time, into the staged project; False if none."""
    target = state_path(project, stage)
    try:
        found = aws.call("s3", "get_object", fake=None, Bucket=bucket, Key=state_key(stage))
    except Exception as exc:  # NoSuchKey: a first deploy
        if aws.error_code(exc) in ("NoSuchKey", "404"):
            return False
        raise
    if found is None:  # dry run: as on a first deploy
        say(f"{DRY}   -> no state stored {FAKED}")
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(found["Body"].read())
    return True


def upload_state(aws: Aws, bucket: str, stage: str, project: Path) -> bool:
    source = state_path(project, stage)
    if not source.exists():
        return False
    aws.call(
        "s3",
        "put_object",
        fake={},
        Bucket=bucket,
        Key=state_key(stage),
        Body=source.read_bytes(),
        ContentType="application/json",
        ServerSideEncryption="AES256",
    )
    return True


def deployed_resources(project: Path, stage: str) -> dict[str, dict[str, Any]]:
    path = state_path(project, stage)
    if not path.exists():
        return {}
    state = json.loads(path.read_text(encoding="utf-8"))
    return {resource["name"]: resource for resource in state.get("resources", [])}


def deployed_url(project: Path, stage: str) -> str:
    """The REST API's URL chalice recorded, without its trailing slash (keeps /api)."""
    rest_api = deployed_resources(project, stage).get("rest_api", {})
    return str(rest_api.get("rest_api_url", "")).rstrip("/")


def _fake_chalice_state(project: Path, stage: str, region: str) -> Callable[[], None]:
    """In a dry run, what `chalice deploy` would record, so the steps after it run."""

    def write() -> None:
        account = "123456789012"
        resources: list[dict[str, Any]] = []
        for name in FUNCTION_PARAMETERS:
            function = APP_NAME + "-" + stage + ("" if name == "api_handler" else "-" + name)
            resources.append(
                {
                    "name": name,
                    "resource_type": "lambda_function",
                    "lambda_arn": f"arn:aws:lambda:{region}:{account}:function:{function}",
                }
            )
        resources.append(
            {
                "name": "rest_api",
                "resource_type": "rest_api",
                "rest_api_id": "dryrun0000",
                "rest_api_url": f"https://dryrun0000.execute-api.{region}.amazonaws.com/api/",
            }
        )
        target = state_path(project, stage)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps({"resources": resources, "schema_version": "2.0"}))
        say(f"{DRY}   -> wrote a faked {target.relative_to(project)} {FAKED}")

    return write


# The staged project --------------------------------------------------------------------
def build_project() -> Path:
    from infra import bundle  # imported here: the bundle step is a separate module

    return Path(bundle.build())


def inject(project: Path, stage: str, values: dict[str, str]) -> None:
    """Set these environment variables of `stage` in the STAGED config.json."""
    path = project / ".chalice" / "config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    env = config["stages"][stage].setdefault("environment_variables", {})
    env.update(values)
    path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    shown = ", ".join(f"{k}={v}" for k, v in values.items())
    say(f"  staged .chalice/config.json ({stage}): {shown}")


def chalice_command() -> str:
    found = shutil.which("chalice", path=str(Path(sys.executable).parent)) or shutil.which(
        "chalice"
    )
    return found or "chalice"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def _function_name(resource: dict[str, Any]) -> str:
    return str(resource.get("lambda_arn", "")).rsplit(":", 1)[-1]


@contextmanager
def step(title: str) -> Iterator[None]:
    say(f"== {title}")
    yield


def account_id(aws: Aws) -> str:
    return str(aws.call("sts", "get_caller_identity", fake={"Account": "123456789012"})["Account"])


def operator_principals(account: str, given: str | None) -> str:
    return given or f"arn:aws:iam::{account}:root"


EMAIL_TEMPLATE = ROOT / "infra" / "email.yaml"
SES_WEBHOOK_PATH = "/webhooks/ses/events"


def deploy(
    aws: Aws,
    stage: str,
    alarm_email: str = "",
    operator_principal_arns: str | None = None,
    build: Callable[[], Path] | None = None,
) -> dict[str, Any]:
    """The whole deploy (see module doc); returns what an operator would want to know."""
    build = build or build_project
    settings = stage_settings(stage)
    account = account_id(aws)
    with step(f"1 operator stack {APP_NAME}-{stage}-operator"):
        operator = deploy_stack(
            aws,
            f"{APP_NAME}-{stage}-operator",
            OPERATOR_TEMPLATE,
            {
                "Stage": stage,
                "OperatorPrincipalArns": operator_principals(account, operator_principal_arns),
            },
            fake_outputs={
                "StateBucketName": f"{APP_NAME}-{stage}-deploy-state-{account}",
                "OperatorRoleArn": f"arn:aws:iam::{account}:role/{APP_NAME}-{stage}-operator",
            },
            capabilities=("CAPABILITY_NAMED_IAM",),
        )
        bucket = operator["StateBucketName"]
    configured_url = settings.get("PUBLIC_BASE_URL", "").rstrip("/")
    # Values known only once the API exists are None until then: the stack keeps what it
    # has (a create takes the template's default), and the first deploy sets them at the end.
    data_parameters: dict[str, str | None] = {
        "Stage": stage,
        "AppOrigin": _origin(configured_url) if configured_url else None,
    }
    email_parameters: dict[str, str | None] = {
        "Stage": stage,
        "WebhookUrl": _ses_webhook(configured_url),
    }
    with step(f"2 data stack {APP_NAME}-{stage}-data"):
        data = deploy_stack(
            aws,
            f"{APP_NAME}-{stage}-data",
            DATA_TEMPLATE,
            data_parameters,
            fake_outputs={
                "TableName": f"{APP_NAME}-{stage}",
                "DocumentsBucketName": f"{APP_NAME}-{stage}-documents-{account}",
            },
        )
    with step(f"3 email stack {APP_NAME}-{stage}-email (before any send names its set)"):
        email = deploy_stack(
            aws,
            f"{APP_NAME}-{stage}-email",
            EMAIL_TEMPLATE,
            email_parameters,
            fake_outputs={
                "ConfigurationSetName": f"{APP_NAME}-{stage}",
                "EventsTopicArn": (
                    f"arn:aws:sns:{aws.region}:{account}:{APP_NAME}-{stage}-email-events"
                ),
            },
        )
    with step("4 staged project (infra.bundle.build)"):
        project = build()
        say(f"  staged in {project}")
    with step(f"5 deployed state s3://{bucket}/{state_key(stage)}"):
        had_state = download_state(aws, bucket, stage, project)
        say(f"  {'downloaded' if had_state else 'none yet: this is the first deploy'}")
        if not had_state:
            _refuse_orphaned_stage(aws, stage)
    public_url = configured_url or deployed_url(project, stage)
    with step("6 staged config"):
        values = {
            "DOCUMENTS_BUCKET": data["DocumentsBucketName"],
            "SES_EVENTS_TOPIC_ARN": email["EventsTopicArn"],
        }
        if public_url:
            values["PUBLIC_BASE_URL"] = public_url
        inject(project, stage, values)
    with step(f"7 chalice deploy --stage {stage}"):
        _chalice_deploy(aws, project, stage, bucket)
    if not public_url:
        with step("8 first deploy: PUBLIC_BASE_URL from the API, chalice deploy again"):
            public_url = deployed_url(project, stage)
            if not public_url:
                raise DeployError("chalice deploy recorded no rest_api_url: see its output.")
            inject(project, stage, {"PUBLIC_BASE_URL": public_url})
            _chalice_deploy(aws, project, stage, bucket)
    else:
        say("== 8 PUBLIC_BASE_URL known: no second chalice deploy")
    with step("9 the stacks that name the app's URL (upload form origin, SES webhook)"):
        wanted = {
            f"{APP_NAME}-{stage}-data": (
                DATA_TEMPLATE,
                data_parameters,
                "AppOrigin",
                _origin(public_url),
            ),
            f"{APP_NAME}-{stage}-email": (
                EMAIL_TEMPLATE,
                email_parameters,
                "WebhookUrl",
                _ses_webhook(public_url) or "",
            ),
        }
        for name, (template, parameters, key, value) in wanted.items():
            # Set at step 2 when the URL was configured; else compared with what the stack
            # has, so a deploy after the first changes nothing here.
            if parameters[key] is not None:
                continue
            if stack_parameters(aws, name).get(key) == value:
                say(f"  {name}: {key} already {value or 'empty'}")
                continue
            parameters[key] = value
            deploy_stack(aws, name, template, parameters, fake_outputs={})
    resources = deployed_resources(project, stage)
    with step("9b the web function's log retention (Chalice sets it on another group)"):
        api_log_retention(aws, stage)
    with step(f"10 ops stack {APP_NAME}-{stage}-ops"):
        ops = deploy_stack(
            aws,
            f"{APP_NAME}-{stage}-ops",
            OPS_TEMPLATE,
            ops_parameters(
                stage,
                alarm_email,
                resources,
                data["TableName"],
                stack_exists=_stack_status(aws, f"{APP_NAME}-{stage}-ops") is not None,
                manage_api_gateway_account=not _api_gateway_logs_role(aws),
            ),
            fake_outputs={
                "AccessLogGroupArn": (
                    f"arn:aws:logs:{aws.region}:{account}:log-group:"
                    f"/aws/apigateway/{APP_NAME}-{stage}-access:*"
                )
            },
            capabilities=("CAPABILITY_IAM",),
        )
    with step("11 API Gateway access logs"):
        rest_api_id = str(resources.get("rest_api", {}).get("rest_api_id", ""))
        enable_access_logs(aws, rest_api_id, ops["AccessLogGroupArn"])
    say(f"Deployed {stage}: {public_url}")
    say(f"Next: make smoke STAGE={stage}")
    return {"url": public_url, "project": project, "bucket": bucket, "resources": resources}


def _ses_webhook(public_url: str) -> str | None:
    """The bounce webhook the email stack subscribes; None while the URL is unknown. SNS
    posts only to https (the template refuses anything else)."""
    if not public_url.startswith("https://"):
        return None
    return public_url + SES_WEBHOOK_PATH


def _refuse_orphaned_stage(aws: Aws, stage: str) -> None:
    """Without a state file Chalice creates every resource again, a second REST API
    included: refuse if this stage was deployed before. Its web function's name is the
    stage's own (`pt-bookings-<stage>`); the REST API's name is not (Chalice names it
    after the app on every stage), so another stage's API in the same account says
    nothing about this one."""
    function = f"{APP_NAME}-{stage}"
    try:
        found = aws.call("lambda", "get_function", FunctionName=function)
    except Exception as exc:
        if aws.error_code(exc) == "ResourceNotFoundException":
            return
        raise
    if found is None:  # a dry run: nothing is looked up
        return
    raise DeployError(
        f"The function {function} exists but the state bucket holds no deployed state for "
        f"{stage}: restore the state file (the bucket is versioned) or delete that "
        "stage's resources; deploying now would create a second REST API and copies of "
        "the rest."
    )


def _chalice_deploy(aws: Aws, project: Path, stage: str, bucket: str) -> None:
    argv = [chalice_command(), "--project-dir", str(project), "deploy", "--stage", stage]
    try:
        code = aws.run(argv, cwd=project, fake=_fake_chalice_state(project, stage, aws.region))
    finally:
        # Whatever chalice recorded goes back to the bucket, failure or not: a state that
        # is lost makes the next deploy create a second copy of everything.
        if upload_state(aws, bucket, stage, project):
            say(f"  state uploaded to s3://{bucket}/{state_key(stage)}")
    if code != 0:
        raise DeployError(
            f"chalice deploy failed (exit {code}); the state it recorded is in the bucket. "
            "Fix the cause above and run the deploy again."
        )


def api_log_retention(aws: Aws, stage: str, config_path: Path = CONFIG_PATH) -> None:
    """The web function logs to /aws/lambda/pt-bookings-<stage>, but Chalice 1.34 puts
    `log_retention_in_days` on `…-api_handler`, a group nothing writes to (aws/chalice#2079):
    set it here, or the web function's logs would be kept forever."""
    config = json.loads(config_path.read_text(encoding="utf-8"))
    days = config["stages"][stage].get("log_retention_in_days")
    if not days:
        return
    group = f"/aws/lambda/{APP_NAME}-{stage}"
    try:
        aws.call("logs", "create_log_group", fake={}, logGroupName=group)
    except Exception as exc:  # botocore's ClientError, without importing botocore here
        if aws.error_code(exc) != "ResourceAlreadyExistsException":
            raise
    aws.call("logs", "put_retention_policy", fake={}, logGroupName=group, retentionInDays=days)
    say(f"  {group}: kept {days} days")


def _api_gateway_logs_role(aws: Aws) -> str:
    """The account's API Gateway CloudWatch role, if one is set: access logs need it, and
    it is one per account and region, so the ops stack sets it only when none is."""
    account = aws.call("apigateway", "get_account", fake={"cloudwatchRoleArn": ""})
    return str(account.get("cloudwatchRoleArn") or "")


def ops_parameters(
    stage: str,
    alarm_email: str,
    resources: dict[str, dict[str, Any]],
    table_name: str,
    stack_exists: bool,
    manage_api_gateway_account: bool = False,
) -> dict[str, str | None]:
    """The ops stack's parameters. No --alarm-email keeps the subscribed address (None):
    an empty one would unsubscribe it."""
    values: dict[str, str | None] = {
        "Stage": stage,
        "AlarmEmail": alarm_email or None,
        "ApiName": APP_NAME,
        "ApiStage": API_STAGE,
        "TableName": table_name,
        "ManageApiGatewayAccount": "true" if manage_api_gateway_account else "false",
    }
    for resource_name, parameter in FUNCTION_PARAMETERS.items():
        values[parameter] = _function_name(resources.get(resource_name, {}))
    declared, required = template_parameters(OPS_TEMPLATE)
    if declared:
        missing = required - set(values)
        if missing:
            raise DeployError(
                f"{OPS_TEMPLATE.name} needs parameters this deploy does not know: "
                + ", ".join(sorted(missing))
            )
        values = {k: v for k, v in values.items() if k in declared}
    if not alarm_email and not stack_exists and "AlarmEmail" in declared:
        if "AlarmEmail" in required:
            raise DeployError(
                "The first deploy of the ops stack needs the address alarms go to: "
                "ALARM_EMAIL=ops@example.com (or --alarm-email)."
            )
        say(
            "  warning: no ALARM_EMAIL: the alarms' topic gets no subscriber (deploy again "
            "with ALARM_EMAIL=ops@example.com to subscribe one)"
        )
    return values


def enable_access_logs(aws: Aws, rest_api_id: str, log_group_arn: str) -> None:
    if not rest_api_id:
        raise DeployError("No rest_api_id in the deployed state: cannot turn on access logs.")
    # API Gateway wants the log group's ARN without CloudFormation's trailing ":*".
    destination = log_group_arn.removesuffix(":*")
    aws.call(
        "apigateway",
        "update_stage",
        fake={},
        restApiId=rest_api_id,
        stageName=API_STAGE,
        patchOperations=[
            {"op": "replace", "path": "/accessLogSettings/destinationArn", "value": destination},
            {"op": "replace", "path": "/accessLogSettings/format", "value": ACCESS_LOG_FORMAT},
        ],
    )


# smoke --------------------------------------------------------------------------------
def live_url(aws: Aws, stage: str, given: str | None) -> str:
    """--url, else the configured PUBLIC_BASE_URL, else the deployed state's URL."""
    if given:
        return given.rstrip("/")
    configured = stage_settings(stage).get("PUBLIC_BASE_URL", "").rstrip("/")
    if configured:
        return configured
    account = account_id(aws)
    outputs = stack_outputs(
        aws,
        f"{APP_NAME}-{stage}-operator",
        fake={"StateBucketName": f"{APP_NAME}-{stage}-deploy-state-{account}"},
    )
    found = aws.call(
        "s3", "get_object", fake=None, Bucket=outputs["StateBucketName"], Key=state_key(stage)
    )
    if found is None:
        raise DeployError("Dry run: give --url to smoke-test a URL.")
    state = json.loads(found["Body"].read())
    for resource in state.get("resources", []):
        if resource.get("name") == "rest_api":
            return str(resource["rest_api_url"]).rstrip("/")
    raise DeployError(f"No REST API in the deployed state of {stage}: deploy first.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.deploy")
    parser.add_argument("command", choices=("secrets", "deploy", "smoke"))
    parser.add_argument("--stage", required=True)
    parser.add_argument("--dry-run", action="store_true", help="print every AWS call instead")
    parser.add_argument("--alarm-email", default=os.environ.get("ALARM_EMAIL", ""))
    parser.add_argument(
        "--operator-principals",
        default=None,
        help="comma-separated IAM ARNs that may assume the operator role (default: the "
        "account's root, i.e. any principal of this account allowed sts:AssumeRole)",
    )
    parser.add_argument("--rotate-link-secret", action="store_true")
    parser.add_argument("--url", default=None, help="smoke: the base URL to check")
    args = parser.parse_args(argv)
    try:
        _check_stage(args.stage)
        if args.command == "smoke":
            from infra import smoke

            url = args.url
            if url is None:
                url = live_url(make_aws(dry_run=args.dry_run), args.stage, None)
            return smoke.main_for(url)
        aws = make_aws(dry_run=args.dry_run)
        if args.command == "secrets":
            say(f"SSM parameters of {args.stage} ({aws.region}):")
            secrets(
                aws,
                args.stage,
                stage_settings(args.stage),
                dict(os.environ),
                rotate_link_secret=args.rotate_link_secret,
            )
        else:
            deploy(aws, args.stage, args.alarm_email, args.operator_principals)
    except DeployError as exc:
        print(f"deploy: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
