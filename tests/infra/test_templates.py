"""Deploy checks: a broken template or a drifted schema fails here, not in AWS.

The chalice package run is shared by several tests (module fixture) because it builds the
Lambda bundle, which takes seconds even with Chalice's dependency cache.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from infra import bundle, table_schema

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MERGE_TEMPLATE = PROJECT_ROOT / "infra" / "chalice-merge.yaml"
CONFIG = json.loads((PROJECT_ROOT / ".chalice" / "config.json").read_text())
REGION = "eu-west-2"

# Logical ids Chalice generates for app.py: the API handler and one per @app.schedule.
EXPECTED_FUNCTIONS = {
    "APIHandler",
    "ExpireOfferLocks",
    "DispatchMessages",
    "QueueReminders",
    "ApplyTemplates",
}
SCHEDULED_FUNCTIONS = {"ExpireOfferLocks", "DispatchMessages", "QueueReminders", "ApplyTemplates"}


def _tool(name: str) -> str:
    """The CLI installed in the same virtualenv as the running interpreter."""
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed next to {sys.executable}: run `make venv`")
    return found


def _run(args: list[str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AWS_DEFAULT_REGION": REGION}
    return subprocess.run(
        args,
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _cfn_lint(template: Path) -> subprocess.CompletedProcess[str]:
    return _run([_tool("cfn-lint"), "--", str(template)], timeout=300)


def _functions(template: dict) -> dict[str, dict]:
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource.get("Type") in ("AWS::Serverless::Function", "AWS::Lambda::Function")
    }


@pytest.fixture(scope="module")
def prod_package(staged_app: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`chalice package --stage prod` with the merge template, of the staged project
    (infra.bundle: what is really deployed); returns the template path."""
    outdir = tmp_path_factory.mktemp("chalice-package") / "out"
    bundle.chalice_package(staged_app, outdir)
    templates = sorted(outdir.glob("sam.*"))
    assert len(templates) == 1, f"expected one sam.json/sam.yaml in {sorted(outdir.iterdir())}"
    return templates[0]


@pytest.fixture(scope="module")
def prod_template(prod_package: Path) -> dict:
    # JSON is YAML, so one loader reads whichever format Chalice wrote.
    return table_schema.load_template(prod_package)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch):
    # Fake credentials so nothing under test can ever reach a real account.
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield boto3.client("dynamodb", region_name=REGION)


# --- the table template ---------------------------------------------------------------


def test_table_template_passes_cfn_lint_without_errors_or_warnings():
    result = _cfn_lint(table_schema.TEMPLATE_PATH)
    assert result.returncode == 0, f"cfn-lint infra/table.yaml:\n{result.stdout}{result.stderr}"


def test_table_template_protects_data_from_stack_operations():
    template = table_schema.load_template()
    table = template["Resources"]["Table"]
    props = table["Properties"]

    assert table["Type"] == "AWS::DynamoDB::Table"
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"
    assert props["DeletionProtectionEnabled"] is True
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["SSESpecification"] == {"SSEEnabled": True}
    assert props["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}


def test_table_template_names_table_and_exports_per_stage():
    template = table_schema.load_template()
    stage = template["Parameters"]["Stage"]

    assert stage["AllowedValues"] == ["local", "test", "dev", "prod"]
    assert stage["Default"] == "dev"
    assert table_schema.table_properties(template)["TableName"] == {
        "Fn::Sub": "pt-bookings-${Stage}"
    }
    outputs = template["Outputs"]
    assert outputs["TableName"]["Value"] == {"Ref": "Table"}
    assert outputs["TableName"]["Export"]["Name"] == {"Fn::Sub": "pt-bookings-${Stage}-TableName"}
    assert outputs["TableArn"]["Value"] == {"Fn::GetAtt": ["Table", "Arn"]}
    assert outputs["TableArn"]["Export"]["Name"] == {"Fn::Sub": "pt-bookings-${Stage}-TableArn"}


def test_load_template_expands_short_form_intrinsics(tmp_path: Path):
    source = tmp_path / "t.yaml"
    source.write_text(
        "A: !Ref Stage\n"
        "B: !GetAtt Db.Endpoint.Address\n"
        "C: !Sub x-${Stage}\n"
        "D: !Join ['-', [a, !Ref Stage]]\n"
        "E: !ImportValue\n  Fn::Sub: x-${Stage}\n"
    )

    assert table_schema.load_template(source) == {
        "A": {"Ref": "Stage"},
        "B": {"Fn::GetAtt": ["Db", "Endpoint.Address"]},
        "C": {"Fn::Sub": "x-${Stage}"},
        "D": {"Fn::Join": ["-", ["a", {"Ref": "Stage"}]]},
        "E": {"Fn::ImportValue": {"Fn::Sub": "x-${Stage}"}},
    }


def test_every_configured_stage_uses_the_table_name_the_template_would_create():
    allowed = table_schema.load_template()["Parameters"]["Stage"]["AllowedValues"]
    for stage, settings in CONFIG["stages"].items():
        assert stage in allowed, f"stage {stage} has no table in infra/table.yaml"
        assert settings["environment_variables"]["TABLE_NAME"] == f"pt-bookings-{stage}"


# --- turning the template into a table ------------------------------------------------


def test_create_table_kwargs_keep_the_schema_and_drop_cloudformation_only_properties():
    kwargs = table_schema.create_table_kwargs("pt-bookings-test")

    assert set(kwargs) == {
        "TableName",
        "AttributeDefinitions",
        "KeySchema",
        "GlobalSecondaryIndexes",
        "BillingMode",
    }
    assert kwargs["TableName"] == "pt-bookings-test"
    assert kwargs["BillingMode"] == "PAY_PER_REQUEST"
    assert kwargs["KeySchema"] == [
        {"AttributeName": "PK", "KeyType": "HASH"},
        {"AttributeName": "SK", "KeyType": "RANGE"},
    ]
    assert kwargs["GlobalSecondaryIndexes"] == [
        {
            "IndexName": "DueWork",
            "KeySchema": [
                {"AttributeName": "DuePK", "KeyType": "HASH"},
                {"AttributeName": "DueSK", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        },
        {
            "IndexName": "ClientTimeline",
            "KeySchema": [
                {"AttributeName": "ClientPK", "KeyType": "HASH"},
                {"AttributeName": "ClientSK", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        },
        {
            "IndexName": "TrainerTimeline",
            "KeySchema": [
                {"AttributeName": "TrainerPK", "KeyType": "HASH"},
                {"AttributeName": "TrainerSK", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        },
        {
            "IndexName": "ClientsByPhone",
            "KeySchema": [
                {"AttributeName": "PhonePK", "KeyType": "HASH"},
                {"AttributeName": "PK", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["archived"]},
        },
    ]


def test_create_table_builds_the_table_the_template_describes(aws):
    template = table_schema.load_template()
    props = table_schema.table_properties(template)

    table_schema.create_table(aws, "pt-bookings-test", template)

    table = aws.describe_table(TableName="pt-bookings-test")["Table"]
    assert table["TableStatus"] == "ACTIVE"
    assert table["KeySchema"] == props["KeySchema"]
    assert sorted(table["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == sorted(
        props["AttributeDefinitions"], key=lambda a: a["AttributeName"]
    )
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    indexes = {i["IndexName"]: i for i in table["GlobalSecondaryIndexes"]}
    assert set(indexes) == {"DueWork", "ClientTimeline", "TrainerTimeline", "ClientsByPhone"}
    assert indexes["TrainerTimeline"]["KeySchema"] == [
        {"AttributeName": "TrainerPK", "KeyType": "HASH"},
        {"AttributeName": "TrainerSK", "KeyType": "RANGE"},
    ]
    assert indexes["DueWork"]["KeySchema"] == [
        {"AttributeName": "DuePK", "KeyType": "HASH"},
        {"AttributeName": "DueSK", "KeyType": "RANGE"},
    ]
    assert indexes["ClientTimeline"]["KeySchema"] == [
        {"AttributeName": "ClientPK", "KeyType": "HASH"},
        {"AttributeName": "ClientSK", "KeyType": "RANGE"},
    ]
    timelines = ("DueWork", "ClientTimeline", "TrainerTimeline")
    assert all(indexes[n]["Projection"] == {"ProjectionType": "ALL"} for n in timelines)
    assert indexes["ClientsByPhone"]["KeySchema"] == [
        {"AttributeName": "PhonePK", "KeyType": "HASH"},
        {"AttributeName": "PK", "KeyType": "RANGE"},
    ]
    assert indexes["ClientsByPhone"]["Projection"] == {
        "ProjectionType": "INCLUDE",
        "NonKeyAttributes": ["archived"],
    }

    ttl = aws.describe_time_to_live(TableName="pt-bookings-test")["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "ttl"}


def test_create_table_twice_keeps_the_existing_table_and_its_items(aws):
    table_schema.create_table(aws, "pt-bookings-local")
    aws.put_item(
        TableName="pt-bookings-local",
        Item={"PK": {"S": "T#1"}, "SK": {"S": "PROFILE"}},
    )

    table_schema.create_table(aws, "pt-bookings-local")

    item = aws.get_item(
        TableName="pt-bookings-local", Key={"PK": {"S": "T#1"}, "SK": {"S": "PROFILE"}}
    )
    assert item.get("Item") == {"PK": {"S": "T#1"}, "SK": {"S": "PROFILE"}}
    assert aws.list_tables()["TableNames"] == ["pt-bookings-local"]


def test_due_work_index_is_sparse_so_jobs_see_only_items_with_scheduled_work(aws):
    table_schema.create_table(aws, "pt-bookings-test")
    aws.put_item(
        TableName="pt-bookings-test",
        Item={"PK": {"S": "T#1"}, "SK": {"S": "MSG#1"}, "DuePK": {"S": "DUE"}, "DueSK": {"S": "1"}},
    )
    aws.put_item(TableName="pt-bookings-test", Item={"PK": {"S": "T#1"}, "SK": {"S": "MSG#2"}})

    due = aws.query(
        TableName="pt-bookings-test",
        IndexName="DueWork",
        KeyConditionExpression="DuePK = :due",
        ExpressionAttributeValues={":due": {"S": "DUE"}},
    )

    assert [item["SK"]["S"] for item in due["Items"]] == ["MSG#1"]


# --- IAM policies ---------------------------------------------------------------------

DEPLOYED_STAGES = ("dev", "prod")
# Chalice's names for the functions of app.py (config.json keys them so).
FUNCTIONS = (
    "api_handler",
    "expire_offer_locks",
    "dispatch_messages",
    "queue_reminders",
    "apply_templates",
)
LOGICAL_IDS = {
    "api_handler": "APIHandler",
    "expire_offer_locks": "ExpireOfferLocks",
    "dispatch_messages": "DispatchMessages",
    "queue_reminders": "QueueReminders",
    "apply_templates": "ApplyTemplates",
}
# The functions that send email: sign-in links (web) and outbox emails (dispatcher).
SENDS_EMAIL = {"api_handler", "dispatch_messages"}
# Every statement allowed a bare "*" resource, and why (docs/monitoring.md lists them too).
STAR_RESOURCE_ALLOWED = {
    # AWS defines no resource for these two actions: "*" is the only accepted value.
    "XRayHasNoResourceLevelPermissions": {"xray:PutTraceSegments", "xray:PutTelemetryRecords"},
}
ALL_TABLE_ACTIONS = {
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
    "dynamodb:BatchGetItem",
    "dynamodb:TransactWriteItems",
    "dynamodb:ConditionCheckItem",
}


def _policy_file(stage: str, function: str) -> str:
    return CONFIG["stages"][stage]["lambda_functions"][function]["iam_policy_file"]


def _policy(stage: str, function: str) -> dict:
    return json.loads((PROJECT_ROOT / ".chalice" / _policy_file(stage, function)).read_text())


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def _actions(policy: dict) -> set[str]:
    return {a for s in policy["Statement"] for a in _as_list(s["Action"])}


def _function_name(stage: str, function: str) -> str:
    # What `chalice deploy` (and infra/chalice-merge.yaml) names each function.
    return (
        f"pt-bookings-{stage}" if function == "api_handler" else f"pt-bookings-{stage}-{function}"
    )


def test_every_function_has_its_own_policy_file_and_every_file_is_used():
    import app as chalice_app

    scheduled = {source.name for source in chalice_app.app.event_sources}
    assert set(FUNCTIONS) == {"api_handler", *scheduled}
    assert set(CONFIG["lambda_functions"]) == set(FUNCTIONS)
    used = set()
    for stage in DEPLOYED_STAGES:
        settings = CONFIG["stages"][stage]
        assert settings["autogen_policy"] is False
        # No stage-wide setting: each function names its own file. The web function's is
        # policy-<stage>.json, which is also Chalice's default, so a function missing here
        # would get the web function's grants: the app's own list is checked (below).
        assert "iam_policy_file" not in settings
        assert set(settings["lambda_functions"]) == set(FUNCTIONS)
        for function in FUNCTIONS:
            expected = (
                f"policy-{stage}.json"
                if function == "api_handler"
                else f"policy-{stage}-{function}.json"
            )
            assert _policy_file(stage, function) == expected
            used.add(expected)
    on_disk = {p.name for p in (PROJECT_ROOT / ".chalice").glob("policy-*.json")}
    assert on_disk == used


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
@pytest.mark.parametrize("function", FUNCTIONS)
def test_lambda_policy_grants_only_its_stage_table_and_never_scan(stage: str, function: str):
    policy = _policy(stage, function)

    dynamo_statements = [
        s
        for s in policy["Statement"]
        if any(action.startswith("dynamodb:") for action in _as_list(s["Action"]))
    ]
    actions = {action for s in dynamo_statements for action in s["Action"]}
    resources = {resource for s in dynamo_statements for resource in s["Resource"]}
    all_actions = _actions(policy)

    assert "dynamodb:Scan" not in all_actions
    assert not any("*" in action for action in all_actions)
    assert {"dynamodb:Query", "dynamodb:TransactWriteItems"} <= actions <= ALL_TABLE_ACTIONS
    assert resources == {
        f"arn:aws:dynamodb:*:*:table/pt-bookings-{stage}",
        f"arn:aws:dynamodb:*:*:table/pt-bookings-{stage}/index/*",
    }
    assert {"logs:CreateLogStream", "logs:PutLogEvents"} <= all_actions


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
@pytest.mark.parametrize("function", FUNCTIONS)
def test_no_star_resource_or_action_but_where_aws_has_no_narrower_one(stage: str, function: str):
    for statement in _policy(stage, function)["Statement"]:
        assert statement["Effect"] == "Allow"
        assert statement.get("Sid"), f"{stage} {function}: every statement says what it is for"
        actions = set(_as_list(statement["Action"]))
        assert not any("*" in action for action in actions), statement["Sid"]
        if "*" in _as_list(statement["Resource"]):
            assert statement["Resource"] == "*", statement["Sid"]  # "*" alone, not in a list
            assert actions <= STAR_RESOURCE_ALLOWED.get(statement["Sid"], set()), statement["Sid"]
    documented = (PROJECT_ROOT / "docs" / "monitoring.md").read_text()
    assert all(sid in documented for sid in STAR_RESOURCE_ALLOWED)


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_writes_only_its_own_log_group(stage: str, function: str):
    group = f"arn:aws:logs:*:*:log-group:/aws/lambda/{_function_name(stage, function)}"
    logs = [
        s
        for s in _policy(stage, function)["Statement"]
        if any(a.startswith("logs:") for a in _as_list(s["Action"]))
    ]

    assert [set(s["Resource"]) for s in logs] == [{group, f"{group}:*"}]


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_the_offer_expiry_job_gets_no_email_no_secrets_and_no_documents(stage: str):
    actions = _actions(_policy(stage, "expire_offer_locks"))

    assert not {a for a in actions if a.startswith(("ses:", "ssm:", "kms:", "s3:"))}
    # It queries what is due and ends each lock in one transaction (update + log line).
    assert {a for a in actions if a.startswith("dynamodb:")} == {
        "dynamodb:Query",
        "dynamodb:TransactWriteItems",
        "dynamodb:UpdateItem",
        "dynamodb:PutItem",
    }


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
@pytest.mark.parametrize("function", FUNCTIONS)
def test_only_the_senders_may_send_email_and_only_from_the_stages_identity(
    stage: str, function: str
):
    statements = [
        s for s in _policy(stage, function)["Statement"] if "ses:SendEmail" in s["Action"]
    ]
    if function not in SENDS_EMAIL:
        assert not statements
        return
    env = {**CONFIG["environment_variables"], **CONFIG["stages"][stage]["environment_variables"]}
    address = env["EMAIL_SENDER"].rsplit("<", 1)[1].rstrip(">")
    (statement,) = statements
    assert statement["Action"] == ["ses:SendEmail"]
    assert set(statement["Resource"]) == {
        f"arn:aws:ses:*:*:identity/{address.split('@')[1]}",
        f"arn:aws:ses:*:*:identity/{address}",
        f"arn:aws:ses:*:*:configuration-set/{env['SES_CONFIGURATION_SET']}",
    }


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_secrets_are_granted_to_the_functions_that_read_them_and_no_others(stage: str):
    def ssm_grants(function: str) -> dict[str, set[str]]:
        """{parameter name under /pt-bookings/: the SSM actions granted on it}."""
        prefix = "arn:aws:ssm:*:*:parameter/pt-bookings/"
        grants: dict[str, set[str]] = {}
        for s in _policy(stage, function)["Statement"]:
            for action in (a for a in s["Action"] if a.startswith("ssm:")):
                for resource in s["Resource"]:
                    assert resource.startswith(prefix), resource
                    grants.setdefault(resource.removeprefix(prefix), set()).add(action)
        return grants

    link = f"{stage}/link-secret"
    assert ssm_grants("expire_offer_locks") == {}
    # Reminders carry a placeholder the dispatcher turns into the link when it sends.
    assert ssm_grants("queue_reminders") == {}
    assert ssm_grants("apply_templates") == {link: {"ssm:GetParameter"}}
    assert ssm_grants("dispatch_messages") == {
        link: {"ssm:GetParameter"},
        f"{stage}/twilio-auth-token": {"ssm:GetParameter"},
        f"{stage}/meta-access-token": {"ssm:GetParameter"},
        f"{stage}/trainers/*": {"ssm:GetParameter"},
    }
    # The web function stores and deletes trainers' own secrets (senders, card payments).
    assert ssm_grants("api_handler") == {
        link: {"ssm:GetParameter"},
        f"{stage}/twilio-auth-token": {"ssm:GetParameter"},
        f"{stage}/meta-app-secret": {"ssm:GetParameter"},
        f"{stage}/meta-verify-token": {"ssm:GetParameter"},
        f"{stage}/trainers/*": {"ssm:GetParameter", "ssm:PutParameter", "ssm:DeleteParameter"},
    }
    assert (
        CONFIG["stages"][stage]["environment_variables"]["LINK_SECRET_PARAM"]
        == f"/pt-bookings/{link}"
    )


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
@pytest.mark.parametrize("function", FUNCTIONS)
def test_only_the_web_function_reaches_the_documents_bucket(stage: str, function: str):
    s3 = {a for a in _actions(_policy(stage, function)) if a.startswith("s3:")}
    assert s3 == (
        {
            "s3:PutObject",
            "s3:GetObject",
            "s3:GetObjectVersion",
            "s3:DeleteObject",
            # A refused attach deletes only the copy it made (services/documents.py).
            "s3:DeleteObjectVersion",
        }
        if function == "api_handler"
        else set()
    )


@pytest.mark.parametrize("function", FUNCTIONS)
def test_dev_and_prod_policies_differ_only_in_their_stage(function: str):
    dev = json.dumps(_policy("dev", function))
    prod = json.dumps(_policy("prod", function))
    assert (
        dev.replace("dev.ptbookings.example", "ptbookings.example")
        .replace("-dev", "-prod")
        .replace("/dev/", "/prod/")
        == prod
    )


# --- the function settings ------------------------------------------------------------


def _scoped(stage: str, function: str):
    from chalice.config import Config

    # As the deployer scopes it (Config.scope): the stage, then the function.
    return Config(chalice_stage=stage, config_from_disk=CONFIG).scope(stage, function)


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
@pytest.mark.parametrize("function", FUNCTIONS)
def test_chalice_reads_each_functions_memory_timeout_tracing_and_retention(
    stage: str, function: str
):
    settings = _scoped(stage, function)
    retention = {"dev": 14, "prod": 30}[stage]

    assert settings.lambda_memory_size == CONFIG["lambda_functions"][function]["lambda_memory_size"]
    assert settings.lambda_timeout == CONFIG["lambda_functions"][function]["lambda_timeout"]
    assert settings.xray_enabled is True
    assert settings.log_retention_in_days == retention
    assert settings.iam_policy_file == _policy_file(stage, function)
    assert settings.environment_variables["LOG_LEVEL"] == "INFO"


def test_the_api_answers_inside_api_gateways_29_seconds_with_a_cpu_to_render():
    settings = _scoped("prod", "api_handler")
    assert settings.lambda_timeout <= 29
    # CPU scales with memory (1,769 MB is one vCPU): 128 MB would be ~7 % of one.
    assert settings.lambda_memory_size >= 512


def test_each_jobs_timeout_covers_the_time_it_keeps_in_reserve():
    from datetime import timedelta

    from chalicelib.domain.messages import SENDING_LEASE
    from chalicelib.services import auto_apply, dispatcher, reminders

    def timeout_ms(function: str) -> int:
        return _scoped("prod", function).lambda_timeout * 1000

    # Each run stops taking work with RESERVE_MS left, so its timeout must be well over it.
    assert timeout_ms("dispatch_messages") >= 5 * dispatcher.RESERVE_MS
    assert timeout_ms("queue_reminders") >= 5 * reminders.RESERVE_MS
    assert timeout_ms("apply_templates") >= 4 * auto_apply.RESERVE_MS
    # A live dispatcher run must never outlast its own claims: an expired lease is read as
    # "the run died" and the message marked failed.
    assert timedelta(milliseconds=timeout_ms("dispatch_messages")) < SENDING_LEASE / 2


def test_local_stages_log_at_info_without_tracing():
    for stage in ("local", "test"):
        settings = _scoped(stage, "api_handler")
        assert settings.environment_variables["LOG_LEVEL"] == "INFO"
        assert not settings.xray_enabled


# --- the packaged Chalice app ---------------------------------------------------------


def test_chalice_package_for_prod_with_merge_template_passes_cfn_lint(prod_package: Path):
    result = _cfn_lint(prod_package)
    assert result.returncode == 0, f"cfn-lint {prod_package.name}:\n{result.stdout}{result.stderr}"


def test_packaged_app_has_the_api_handler_and_both_scheduled_functions(prod_template: dict):
    functions = _functions(prod_template)

    assert set(functions) == EXPECTED_FUNCTIONS
    for logical_id in SCHEDULED_FUNCTIONS:
        events = functions[logical_id]["Properties"].get("Events", {})
        assert [e["Type"] for e in events.values()] == ["Schedule"], logical_id
    assert prod_template["Resources"]["RestAPI"]["Type"] == "AWS::Serverless::Api"


def test_every_packaged_function_runs_with_the_dependencies_layer(prod_template: dict):
    # The function's zip holds our code only (docs/cold-start.md): without the layer a
    # function could not import pydantic.
    layer = prod_template["Resources"]["ManagedLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.11"]
    assert layer["Properties"]["ContentUri"] == "./layer-deployment.zip"
    for logical_id, function in _functions(prod_template).items():
        assert function["Properties"]["Layers"] == [{"Ref": "ManagedLayer"}], logical_id
        assert function["Properties"]["CodeUri"] == "./deployment.zip", logical_id


def test_packaged_prod_functions_use_prod_settings_from_config(prod_template: dict):
    for logical_id, function in _functions(prod_template).items():
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["SIGNUP_MODE"] == "invite", logical_id
        assert variables["APP_STAGE"] == "prod", logical_id
        assert variables["EMAIL_PROVIDER"] == "ses", logical_id


def test_packaged_functions_read_the_table_name_from_the_data_stack_export(prod_template: dict):
    functions = _functions(prod_template)
    assert functions, "no Lambda functions in the packaged template"

    for logical_id, function in functions.items():
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["TABLE_NAME"] == {
            "Fn::ImportValue": {"Fn::Sub": "pt-bookings-${Stage}-TableName"}
        }, logical_id
    # No default: a deploy that forgets Stage=<stage> must fail, not pick some table.
    assert "Default" not in prod_template["Parameters"]["Stage"]
    assert "prod" in prod_template["Parameters"]["Stage"]["AllowedValues"]


def test_packaged_functions_each_carry_their_own_role_and_policy_file(prod_template: dict):
    resources = prod_template["Resources"]
    roles_used = set()
    for function, logical_id in LOGICAL_IDS.items():
        role_ref = resources[logical_id]["Properties"]["Role"]
        assert role_ref["Fn::GetAtt"][1] == "Arn", logical_id
        role = resources[role_ref["Fn::GetAtt"][0]]
        assert role["Type"] == "AWS::IAM::Role", logical_id
        documents = [p["PolicyDocument"] for p in role["Properties"]["Policies"]]
        assert documents == [_policy("prod", function)], logical_id
        roles_used.add(role_ref["Fn::GetAtt"][0])
    assert len(roles_used) == len(LOGICAL_IDS)  # one role per function, none shared


def test_packaged_functions_carry_memory_timeout_tracing_and_their_chalice_deploy_name(
    prod_template: dict,
):
    resources = prod_template["Resources"]
    for function, logical_id in LOGICAL_IDS.items():
        props = resources[logical_id]["Properties"]
        configured = CONFIG["lambda_functions"][function]

        assert props["MemorySize"] == configured["lambda_memory_size"], logical_id
        assert props["Timeout"] == configured["lambda_timeout"], logical_id
        assert props["Tracing"] == "Active", logical_id
        assert props["Environment"]["Variables"]["LOG_LEVEL"] == "INFO", logical_id
        assert props["FunctionName"] == {"Fn::Sub": _function_name("${Stage}", function)}, (
            logical_id
        )
    assert resources["APIHandler"]["Properties"]["Timeout"] <= 29


def test_packaged_functions_each_log_to_a_group_with_the_stages_retention(prod_template: dict):
    groups = {
        r["Properties"]["LogGroupName"]["Fn::Sub"]: r["Properties"]["RetentionInDays"]
        for r in prod_template["Resources"].values()
        if r["Type"] == "AWS::Logs::LogGroup"
    }

    assert groups == {f"/aws/lambda/${{{logical_id}}}": 30 for logical_id in LOGICAL_IDS.values()}
