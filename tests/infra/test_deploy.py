"""infra/deploy.py and infra/operator.yaml, without AWS: the dry run walks every step, the
pieces that touch AWS run against moto, the operator template passes cfn-lint."""

from __future__ import annotations

import io
import json
import re
import shutil
import stat
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from fnmatch import fnmatchcase
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from infra import deploy
from infra.table_schema import load_template

ROOT = Path(__file__).resolve().parents[2]
REGION = "eu-west-2"
STAGE = "prod"
DRY_URL = f"https://dryrun0000.execute-api.{REGION}.amazonaws.com/api"
ACCOUNT = "123456789012"
LIVE_TABLE = "pt-bookings-prod"

# What the ops stack (infra/ops.yaml, written by another change) is agreed to take, for a
# checkout where it does not exist yet.
STAND_IN_OPS = """\
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Stage: {Type: String}
  AlarmEmail: {Type: String, Default: ""}
  ApiHandlerName: {Type: String}
  ExpireOfferLocksName: {Type: String}
  DispatchMessagesName: {Type: String}
  QueueRemindersName: {Type: String}
  ApplyTemplatesName: {Type: String}
  ApiName: {Type: String}
  ApiStage: {Type: String}
  TableName: {Type: String}
Resources:
  AccessLogs: {Type: AWS::Logs::LogGroup}
Outputs:
  AccessLogGroupArn: {Value: !GetAtt AccessLogs.Arn}
"""


@pytest.fixture
def ops_template(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    if deploy.OPS_TEMPLATE.exists():
        return deploy.OPS_TEMPLATE
    stand_in = tmp_path / "ops.yaml"
    stand_in.write_text(STAND_IN_OPS)
    monkeypatch.setattr(deploy, "OPS_TEMPLATE", stand_in)
    return stand_in


@pytest.fixture
def fake_build(tmp_path: Path) -> Callable[[], Path]:
    """What infra.bundle.build() makes, as far as the deploy reads it: a project dir with
    the repo's .chalice/config.json (the real build installs dependencies: not here)."""
    staged = tmp_path / "build" / "app"

    def build() -> Path:
        if staged.exists():
            shutil.rmtree(staged)
        (staged / ".chalice").mkdir(parents=True)
        shutil.copy(ROOT / ".chalice" / "config.json", staged / ".chalice" / "config.json")
        (staged / "app.py").write_text("# staged\n")
        return staged

    return build


def _staged_env(project: Path) -> dict[str, str]:
    config = json.loads((project / ".chalice" / "config.json").read_text())
    return config["stages"][STAGE]["environment_variables"]


def test_dry_run_walks_every_step_in_order_and_injects_the_staged_config(
    ops_template: Path, fake_build, capsys: pytest.CaptureFixture[str]
) -> None:
    repo_config = (ROOT / ".chalice" / "config.json").read_bytes()
    aws = deploy.Aws(region=REGION, dry_run=True)

    done = deploy.deploy(aws, STAGE, alarm_email="ops@example.com", build=fake_build)

    out = capsys.readouterr().out
    steps = re.findall(r"^== (\d+) ", out, flags=re.M)
    assert steps == [str(n) for n in range(1, 12)], out
    calls = [
        line.split()[1]
        for line in out.splitlines()
        if line.startswith("[dry-run] ") and not line.startswith("[dry-run]   ->")
    ]
    order = [
        "sts.get_caller_identity",
        "cloudformation.create_change_set",  # operator
        "cloudformation.create_change_set",  # data
        "cloudformation.create_change_set",  # email
        "s3.get_object",  # the deployed state
        "lambda.get_function",  # no state: refuse if this stage was deployed before
        "run",  # chalice deploy
        "s3.put_object",  # the state back
        "run",  # chalice deploy with the URL
        "s3.put_object",
        "cloudformation.create_change_set",  # data again, with the upload form's origin
        "cloudformation.create_change_set",  # email again, with the bounce webhook
        "logs.create_log_group",  # the web function's group, for its retention
        "logs.put_retention_policy",
        "apigateway.get_account",  # is there an API Gateway logs role already?
        "cloudformation.create_change_set",  # ops
        "apigateway.update_stage",
    ]
    significant = [c for c in calls if c in set(order)]
    assert significant == order, out
    assert out.count("--project-dir") == 2
    # The second data and email deploys update the stacks the first ones created.
    assert out.count('"ChangeSetType": "UPDATE"') == 2
    assert f"--project-dir {done['project']} deploy --stage prod" in out
    for stack in ("operator", "data", "email", "ops"):
        assert f'"StackName": "pt-bookings-prod-{stack}"' in out
    # Faked answers are said to be faked.
    assert all("(dry-run: faked answer)" in line for line in out.splitlines() if "->" in line)

    env = _staged_env(done["project"])
    assert env["DOCUMENTS_BUCKET"] == f"pt-bookings-prod-documents-{ACCOUNT}"
    assert env["PUBLIC_BASE_URL"] == DRY_URL
    assert env["SES_EVENTS_TOPIC_ARN"].endswith(":pt-bookings-prod-email-events")
    assert done["url"] == DRY_URL
    assert f'"ParameterValue": "{DRY_URL}/webhooks/ses/events"' in out
    assert (ROOT / ".chalice" / "config.json").read_bytes() == repo_config


def test_dry_run_passes_the_ops_stack_the_deployed_names(
    ops_template: Path, fake_build, capsys: pytest.CaptureFixture[str]
) -> None:
    deploy.deploy(
        deploy.Aws(region=REGION, dry_run=True), STAGE, "ops@example.com", build=fake_build
    )
    out = capsys.readouterr().out
    ops_call = next(
        line
        for line in out.splitlines()
        if "create_change_set" in line and "pt-bookings-prod-ops" in line
    )
    params = json.loads(ops_call.split(" ", 2)[2])["Parameters"]
    values = {p["ParameterKey"]: p.get("ParameterValue") for p in params}
    declared = set(load_template(ops_template).get("Parameters", {}))
    assert set(values) <= declared
    expected = {
        "Stage": "prod",
        "AlarmEmail": "ops@example.com",
        "ApiHandlerName": "pt-bookings-prod",
        "ExpireOfferLocksName": "pt-bookings-prod-expire_offer_locks",
        "DispatchMessagesName": "pt-bookings-prod-dispatch_messages",
        "QueueRemindersName": "pt-bookings-prod-queue_reminders",
        "ApplyTemplatesName": "pt-bookings-prod-apply_templates",
        "ApiName": "pt-bookings",
        "ApiStage": "api",
        "TableName": "pt-bookings-prod",
        # The dry run's account has no API Gateway logs role yet: the ops stack sets it.
        "ManageApiGatewayAccount": "true",
    }
    assert values == {k: v for k, v in expected.items() if k in declared}


def test_the_web_functions_log_group_gets_the_stages_retention(
    ops_template: Path, fake_build, capsys: pytest.CaptureFixture[str]
) -> None:
    deploy.deploy(
        deploy.Aws(region=REGION, dry_run=True), STAGE, "ops@example.com", build=fake_build
    )
    out = capsys.readouterr().out
    days = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"]["prod"][
        "log_retention_in_days"
    ]
    assert (
        f'logs.put_retention_policy {{"logGroupName": "/aws/lambda/pt-bookings-prod", '
        f'"retentionInDays": {days}}}'
    ) in out


def test_an_account_with_an_api_gateway_logs_role_keeps_it() -> None:
    class Account(deploy.Aws):
        def call(self, service, operation, fake=None, secret=(), **params):  # type: ignore[override]
            if (service, operation) == ("apigateway", "get_account"):
                return {"cloudwatchRoleArn": "arn:aws:iam::1:role/theirs"}
            return super().call(service, operation, fake, secret, **params)

    assert deploy._api_gateway_logs_role(Account(region=REGION, dry_run=True)) == (
        "arn:aws:iam::1:role/theirs"
    )
    values = deploy.ops_parameters("prod", "", {}, "pt-bookings-prod", True, False)
    assert values.get("ManageApiGatewayAccount", "false") == "false"


def test_no_alarm_address_is_said_first_and_keeps_the_subscribed_one_after(
    ops_template: Path, capsys
) -> None:
    first = deploy.ops_parameters(STAGE, "", {}, "pt-bookings-prod", stack_exists=False)
    assert "no ALARM_EMAIL" in capsys.readouterr().out
    created = deploy._parameter_list(first, updating=False)
    assert "AlarmEmail" not in {p["ParameterKey"] for p in created}  # the template's default
    kept = deploy.ops_parameters(STAGE, "", {}, "pt-bookings-prod", stack_exists=True)
    assert kept["AlarmEmail"] is None  # UsePreviousValue: never an empty subscription
    listed = deploy._parameter_list(kept, updating=True)
    assert {"ParameterKey": "AlarmEmail", "UsePreviousValue": True} in listed


def test_access_logs_name_the_route_never_the_requested_path(capsys) -> None:
    deploy.enable_access_logs(
        deploy.Aws(region=REGION, dry_run=True),
        "abc123",
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/x:*",
    )
    call = json.loads(capsys.readouterr().out.splitlines()[0].split(" ", 2)[2])
    patches = {p["path"]: p["value"] for p in call["patchOperations"]}
    assert patches["/accessLogSettings/destinationArn"].endswith("log-group:/x")
    line_format = json.loads(patches["/accessLogSettings/format"])
    variables = set(line_format.values())
    assert "$context.resourcePath" in variables and "$context.requestId" in variables
    # Capability links are paths; query strings and headers are never logged either.
    assert not {v for v in variables if re.search(r"\.path$|querystring|header|userAgent", v)}


def test_a_configured_public_url_means_one_chalice_deploy(
    ops_template: Path, fake_build, monkeypatch, capsys
) -> None:
    real = deploy.stage_settings
    monkeypatch.setattr(
        deploy,
        "stage_settings",
        lambda stage: {**real(stage), "PUBLIC_BASE_URL": "https://book.example.com/"},
    )
    done = deploy.deploy(deploy.Aws(region=REGION, dry_run=True), STAGE, "a@b.c", build=fake_build)
    out = capsys.readouterr().out
    assert out.count("--project-dir") == 1
    assert _staged_env(done["project"])["PUBLIC_BASE_URL"] == "https://book.example.com"
    assert '"ParameterKey": "AppOrigin", "ParameterValue": "https://book.example.com"' in out
    assert "https://book.example.com/webhooks/ses/events" in out
    assert out.count("create_change_set") == 4  # operator, data, email, ops: once each


def test_main_dry_run_needs_a_region_only(monkeypatch, fake_build, ops_template, capsys) -> None:
    monkeypatch.setattr(deploy, "build_project", fake_build)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.delenv("AWS_SESSION_TOKEN")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("ALARM_EMAIL", "ops@example.com")
    assert deploy.main(["deploy", "--stage", "prod", "--dry-run"]) == 0
    assert "Deployed prod: " + DRY_URL in capsys.readouterr().out
    assert deploy.main(["deploy", "--stage", "prod"]) == 1  # for real: credentials first
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No AWS credentials" in err
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.delenv("AWS_REGION", raising=False)
    assert deploy.main(["deploy", "--stage", "prod", "--dry-run"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No AWS region" in err


def test_local_stages_are_never_deployed(capsys) -> None:
    assert deploy.main(["deploy", "--stage", "test", "--dry-run"]) == 1
    assert "not a deployed stage" in capsys.readouterr().err


# The state file through a real (moto) bucket -------------------------------------------
@pytest.fixture
def state_bucket() -> Iterator[str]:
    with mock_aws():
        name = "pt-bookings-prod-deploy-state-" + ACCOUNT
        boto3.client("s3", region_name=REGION).create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        yield name


def _state(url: str) -> str:
    return json.dumps(
        {"resources": [{"name": "rest_api", "rest_api_id": "abc", "rest_api_url": url + "/"}]}
    )


def test_state_round_trips_through_the_bucket(state_bucket: str, tmp_path: Path) -> None:
    aws = deploy.Aws(region=REGION, dry_run=False)
    first, second = tmp_path / "one", tmp_path / "two"
    assert deploy.download_state(aws, state_bucket, STAGE, first) is False
    assert deploy.upload_state(aws, state_bucket, STAGE, first) is False  # nothing to keep
    deploy.state_path(first, STAGE).parent.mkdir(parents=True)
    deploy.state_path(first, STAGE).write_text(_state("https://a.example/api"))
    assert deploy.upload_state(aws, state_bucket, STAGE, first) is True
    assert deploy.download_state(aws, state_bucket, STAGE, second) is True
    assert deploy.deployed_url(second, STAGE) == "https://a.example/api"
    head = boto3.client("s3", region_name=REGION).head_object(
        Bucket=state_bucket, Key="chalice/deployed/prod.json"
    )
    assert head["ServerSideEncryption"] == "AES256"


def _fake_chalice(tmp_path: Path, exit_code: int, url: str) -> str:
    """A `chalice` that records a state (as chalice does before failing late) and exits."""
    script = tmp_path / "chalice"
    script.write_text(
        f"#!{sys.executable}\n"
        "import pathlib, sys\n"
        "project = pathlib.Path(sys.argv[sys.argv.index('--project-dir') + 1])\n"
        "stage = sys.argv[sys.argv.index('--stage') + 1]\n"
        "target = project / '.chalice' / 'deployed' / (stage + '.json')\n"
        "target.parent.mkdir(parents=True, exist_ok=True)\n"
        f"target.write_text({_state(url)!r})\n"
        f"sys.exit({exit_code})\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_a_failed_chalice_deploy_still_keeps_its_state(
    state_bucket: str, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setattr(deploy, "chalice_command", lambda: _fake_chalice(tmp_path, 3, "https://b"))
    project = tmp_path / "staged"
    project.mkdir()
    aws = deploy.Aws(region=REGION, dry_run=False)
    with pytest.raises(deploy.DeployError, match="exit 3"):
        deploy._chalice_deploy(aws, project, STAGE, state_bucket)
    assert deploy.download_state(aws, state_bucket, STAGE, tmp_path / "later") is True
    assert deploy.deployed_url(tmp_path / "later", STAGE) == "https://b"


def _function(name: str) -> None:
    role = boto3.client("iam", region_name=REGION).create_role(
        RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps({"Statement": []})
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", "")
    boto3.client("lambda", region_name=REGION).create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler="app.app",
        Code={"ZipFile": code.getvalue()},
    )


def test_no_state_but_the_stage_deployed_before_refuses_to_create_a_second_copy() -> None:
    with mock_aws():
        _function(f"pt-bookings-{STAGE}")
        with pytest.raises(deploy.DeployError, match="second REST API"):
            deploy._refuse_orphaned_stage(deploy.Aws(region=REGION, dry_run=False), STAGE)


def test_another_stage_in_the_same_account_does_not_block_a_first_deploy() -> None:
    # Chalice names every stage's REST API after the app: dev's API is no sign of prod's.
    with mock_aws():
        boto3.client("apigateway", region_name=REGION).create_rest_api(name="pt-bookings")
        _function("pt-bookings-dev")
        deploy._refuse_orphaned_stage(deploy.Aws(region=REGION, dry_run=False), "prod")


# secrets ------------------------------------------------------------------------------
@pytest.fixture
def ssm() -> Iterator[object]:
    with mock_aws():
        yield boto3.client("ssm", region_name=REGION)


def _value(ssm, name: str) -> str:
    return ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]


LINK = "/pt-bookings/prod/link-secret"


def test_secrets_creates_the_link_secret_once_and_never_overwrites_it(ssm, capsys) -> None:
    aws = deploy.Aws(region=REGION, dry_run=False)
    settings = deploy.stage_settings(STAGE)
    assert deploy.secrets(aws, STAGE, settings, {})[LINK] == "created"
    created = _value(ssm, LINK)
    assert len(created) >= 64
    assert ssm.get_parameter(Name=LINK)["Parameter"]["Type"] == "SecureString"
    assert deploy.secrets(aws, STAGE, settings, {})[LINK] == "exists (version 1), kept"
    assert _value(ssm, LINK) == created
    assert created not in capsys.readouterr().out


def test_rotating_the_link_secret_needs_the_stage_name_typed(ssm, capsys) -> None:
    aws = deploy.Aws(region=REGION, dry_run=False)
    settings = deploy.stage_settings(STAGE)
    deploy.secrets(aws, STAGE, settings, {})
    before = _value(ssm, LINK)
    with pytest.raises(deploy.DeployError, match="Not rotated"):
        deploy.secrets(aws, STAGE, settings, {}, rotate_link_secret=True, confirm=lambda _: "y")
    assert _value(ssm, LINK) == before
    done = deploy.secrets(
        aws, STAGE, settings, {}, rotate_link_secret=True, confirm=lambda _: STAGE
    )
    assert done[LINK] == "rotated (version 1 -> 2)"
    after = _value(ssm, LINK)
    assert after != before
    out = capsys.readouterr().out
    assert "calendar feed links" in out and "portal" in out  # what it retires, said first
    assert before not in out and after not in out


def test_provider_tokens_from_the_environment_are_stored_and_never_printed(ssm, capsys) -> None:
    aws = deploy.Aws(region=REGION, dry_run=False)
    settings = deploy.stage_settings(STAGE)
    twilio = "/pt-bookings/prod/twilio-auth-token"
    done = deploy.secrets(aws, STAGE, settings, {"TWILIO_AUTH_TOKEN": "tw-secret-1"})
    assert done[twilio] == "created from TWILIO_AUTH_TOKEN (version 1)"
    assert deploy.secrets(aws, STAGE, settings, {"TWILIO_AUTH_TOKEN": "tw-secret-1"})[twilio] == (
        "unchanged (from TWILIO_AUTH_TOKEN)"
    )
    assert deploy.secrets(aws, STAGE, settings, {})[twilio] == "exists (version 1), kept"
    done = deploy.secrets(aws, STAGE, settings, {"TWILIO_AUTH_TOKEN": "tw-secret-2"})
    assert done[twilio] == "replaced from TWILIO_AUTH_TOKEN (version 2)"
    assert _value(ssm, twilio) == "tw-secret-2"
    assert "tw-secret" not in capsys.readouterr().out


def test_dry_run_secrets_print_no_value(capsys) -> None:
    deploy.secrets(
        deploy.Aws(region=REGION, dry_run=True),
        STAGE,
        deploy.stage_settings(STAGE),
        {"TWILIO_AUTH_TOKEN": "tw-secret-9"},
    )
    out = capsys.readouterr().out
    assert "ssm.put_parameter" in out and "<secret, not shown>" in out
    assert "tw-secret-9" not in out


# The operator stack ---------------------------------------------------------------------
OPERATOR = ROOT / "infra" / "operator.yaml"


def test_operator_template_passes_cfn_lint_without_errors_or_warnings() -> None:
    cfn_lint = shutil.which("cfn-lint", path=str(Path(sys.executable).parent))
    assert cfn_lint, f"cfn-lint is not installed next to {sys.executable}: run `make venv`"
    result = subprocess.run(
        [cfn_lint, "--", str(OPERATOR)], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _allows(statements: list[dict], action: str, resource: str) -> bool:
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action", [])
        resources = statement.get("Resource", [])
        actions = [actions] if isinstance(actions, str) else actions
        resources = [resources] if isinstance(resources, (str, dict)) else resources
        if any(fnmatchcase(action.lower(), a.lower()) for a in actions) and any(
            fnmatchcase(resource, r if isinstance(r, str) else r.get("Fn::Sub", ""))
            for r in resources
        ):
            return True
    return False


TABLE_ARN = "arn:aws:dynamodb:eu-west-2:123456789012:table/pt-bookings-prod"


def test_the_operator_role_may_scan_the_table_and_the_app_roles_may_not() -> None:
    template = load_template(OPERATOR)
    role = template["Resources"]["OperatorRole"]["Properties"]
    operator = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    sub_arn = (
        "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/pt-bookings-${Stage}"
    )
    for action in ("dynamodb:Scan", "dynamodb:BatchWriteItem", "dynamodb:Query"):
        assert _allows(operator, action, sub_arn), action
    assert _allows(operator, "dynamodb:RestoreTableToPointInTime", sub_arn)
    # Every app policy file: one per stage, or one per stage and function.
    app_policies = sorted((ROOT / ".chalice").glob("policy-*.json"))
    readers: set[str] = set()
    for path in app_policies:
        statements = json.loads(path.read_text())["Statement"]
        stage = path.stem.removeprefix("policy-").split("-", 1)[0]
        arn = TABLE_ARN.replace("prod", stage)
        if _allows(statements, "dynamodb:GetItem", arn):
            readers.add(stage)
        assert not _allows(statements, "dynamodb:Scan", arn), path
        assert not _allows(statements, "dynamodb:Scan", arn + "/index/DueWork"), path
    assert readers == {"dev", "prod"}  # the check does see the grants these files make


def test_the_state_bucket_is_private_versioned_encrypted_and_retained() -> None:
    bucket = load_template(OPERATOR)["Resources"]["StateBucket"]
    props = bucket["Properties"]
    assert bucket["DeletionPolicy"] == "Retain"
    assert props["VersioningConfiguration"]["Status"] == "Enabled"
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]


# moto's CloudFormation creates no AWS::S3::BucketPolicy (it says so): the rest is real.
@pytest.mark.filterwarnings("ignore:Tried to parse AWS")
def test_operator_stack_deploys_on_moto_and_a_second_run_changes_nothing(capsys) -> None:
    with mock_aws():
        aws = deploy.Aws(region=REGION, dry_run=False)
        parameters = {"Stage": STAGE, "OperatorPrincipalArns": f"arn:aws:iam::{ACCOUNT}:root"}
        name = "pt-bookings-prod-operator"
        capabilities = ("CAPABILITY_NAMED_IAM",)
        deploy.deploy_stack(aws, name, OPERATOR, parameters, {}, capabilities)
        deploy.deploy_stack(aws, name, OPERATOR, parameters, {}, capabilities)
        role = boto3.client("iam", region_name=REGION).get_role(RoleName=name)["Role"]
    assert role["RoleName"] == name
    out = capsys.readouterr().out
    assert f"{name}: created" in out and f"{name}: no changes" in out


def test_every_parameter_secrets_writes_is_one_the_app_can_read() -> None:
    statements = [
        s
        for path in (ROOT / ".chalice").glob("policy-prod*.json")
        for s in json.loads(path.read_text())["Statement"]
    ]
    names = ["link-secret", *(default for _, default in deploy.PROVIDER_TOKENS.values())]
    for name in names:
        arn = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/pt-bookings/prod/{name}"
        assert _allows(statements, "ssm:GetParameter", arn), name


# The real (not dry) path, end to end: moto for S3, STS and API Gateway, a stand-in for
# CloudFormation (moto's gives change-set stacks no outputs) and for the chalice command.
class _CloudFormation:
    """Stacks by name; a stack exists once its change set is executed."""

    def __init__(self, outputs: dict[str, dict[str, str]]) -> None:
        self.outputs = outputs
        self.stacks: dict[str, dict[str, str]] = {}  # name -> parameters
        self.change_sets: list[dict] = []

    def describe_stacks(self, StackName: str) -> dict:
        from botocore.exceptions import ClientError

        if StackName not in self.stacks:
            error = {"Code": "ValidationError", "Message": f"Stack {StackName} does not exist"}
            raise ClientError({"Error": error}, "DescribeStacks")
        outputs = self.outputs.get(StackName.rsplit("-", 1)[-1], {})
        listed = [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()]
        parameters = [
            {"ParameterKey": k, "ParameterValue": v} for k, v in self.stacks[StackName].items()
        ]
        return {
            "Stacks": [
                {"StackStatus": "UPDATE_COMPLETE", "Outputs": listed, "Parameters": parameters}
            ]
        }

    def create_change_set(self, **params) -> dict:
        self.change_sets.append(params)
        return {"Id": params["ChangeSetName"]}

    def describe_change_set(self, **params) -> dict:
        return {"Status": "CREATE_COMPLETE"}

    def execute_change_set(self, StackName: str, ChangeSetName: str) -> None:
        change_set = next(c for c in self.change_sets if c["ChangeSetName"] == ChangeSetName)
        values = self.stacks.setdefault(StackName, {})
        for parameter in change_set["Parameters"]:
            if not parameter.get("UsePreviousValue"):
                values[parameter["ParameterKey"]] = parameter["ParameterValue"]

    def get_waiter(self, name: str):
        class Done:
            def wait(self, **params) -> None:
                return None

        return Done()


def test_a_real_first_deploy_then_a_second_keep_the_state_and_set_the_url(
    ops_template: Path, fake_build, tmp_path: Path, monkeypatch, capsys
) -> None:
    with mock_aws():
        bucket = f"pt-bookings-prod-deploy-state-{ACCOUNT}"
        boto3.client("s3", region_name=REGION).create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        apigateway = boto3.client("apigateway", region_name=REGION)
        api_id = apigateway.create_rest_api(name="made-by-chalice")["id"]
        root = apigateway.get_resources(restApiId=api_id)["items"][0]["id"]
        apigateway.put_method(
            restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="NONE"
        )
        apigateway.put_integration(restApiId=api_id, resourceId=root, httpMethod="GET", type="MOCK")
        apigateway.create_deployment(restApiId=api_id, stageName="api")
        url = f"https://{api_id}.execute-api.{REGION}.amazonaws.com/api"
        state = json.dumps(
            {
                "resources": [
                    {"name": "rest_api", "rest_api_id": api_id, "rest_api_url": url + "/"},
                    {"name": "api_handler", "lambda_arn": "arn:x:function:pt-bookings-prod"},
                ]
            }
        )
        script = tmp_path / "chalice"
        log = tmp_path / "chalice-runs"
        script.write_text(
            f"#!{sys.executable}\n"
            "import json, pathlib, sys\n"
            "project = pathlib.Path(sys.argv[sys.argv.index('--project-dir') + 1])\n"
            "env = json.loads((project / '.chalice' / 'config.json').read_text())\n"
            "seen = env['stages']['prod']['environment_variables'].get('PUBLIC_BASE_URL')\n"
            f"with open({str(log)!r}, 'a') as runs: runs.write(repr(seen) + '\\n')\n"
            "target = project / '.chalice' / 'deployed' / 'prod.json'\n"
            "target.parent.mkdir(parents=True, exist_ok=True)\n"
            f"target.write_text({state!r})\n"
        )
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
        monkeypatch.setattr(deploy, "chalice_command", lambda: str(script))
        cloudformation = _CloudFormation(
            {
                "operator": {"StateBucketName": bucket},
                "data": {"TableName": LIVE_TABLE, "DocumentsBucketName": "docs-bucket"},
                "email": {"EventsTopicArn": "arn:aws:sns:eu-west-2:1:events"},
                "ops": {"AccessLogGroupArn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/a"},
            }
        )

        def clients(service: str):
            if service == "cloudformation":
                return cloudformation
            return boto3.client(service, region_name=REGION)

        for _ in range(2):
            aws = deploy.Aws(region=REGION, dry_run=False, client_factory=clients)
            done = deploy.deploy(aws, STAGE, "ops@example.com", build=fake_build)
            assert _staged_env(done["project"])["PUBLIC_BASE_URL"] == url
        stage = apigateway.get_stage(restApiId=api_id, stageName="api")
        stored = boto3.client("s3", region_name=REGION).get_object(
            Bucket=bucket, Key="chalice/deployed/prod.json"
        )
    # First deploy: without the URL, then with it; the second deploy: with it, once.
    assert log.read_text().splitlines() == ["''", repr(url), repr(url)]
    assert json.loads(stored["Body"].read())["resources"][0]["rest_api_url"] == url + "/"
    assert (
        stage["accessLogSettings"]["destinationArn"]
        == f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/a"
    )
    assert "$context.resourcePath" in stage["accessLogSettings"]["format"]
    # The URL reached the stacks that name it once, on the first deploy.
    data_sets = [c for c in cloudformation.change_sets if c["StackName"].endswith("-data")]
    assert len(data_sets) == 3  # first deploy: twice; second: once, with no URL to add
    assert cloudformation.stacks["pt-bookings-prod-data"]["AppOrigin"] == url.removesuffix("/api")
    assert cloudformation.stacks["pt-bookings-prod-email"]["WebhookUrl"] == (
        url + "/webhooks/ses/events"
    )
    ops = [c for c in cloudformation.change_sets if c["StackName"] == "pt-bookings-prod-ops"]
    names = {p["ParameterKey"]: p.get("ParameterValue") for p in ops[-1]["Parameters"]}
    assert names["ApiHandlerName"] == "pt-bookings-prod"
    assert names["TableName"] == LIVE_TABLE
