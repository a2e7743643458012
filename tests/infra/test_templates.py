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

from infra import table_schema

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
def prod_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`chalice package --stage prod` with the merge template; returns the template path."""
    outdir = tmp_path_factory.mktemp("chalice-package") / "out"
    result = _run(
        [
            _tool("chalice"),
            "package",
            "--stage",
            "prod",
            "--merge-template",
            str(MERGE_TEMPLATE),
            str(outdir),
        ]
    )
    assert result.returncode == 0, f"chalice package failed:\n{result.stdout}\n{result.stderr}"
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


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_lambda_policy_grants_only_its_stage_table_and_never_scan(stage: str):
    settings = CONFIG["stages"][stage]
    assert settings["autogen_policy"] is False
    policy = json.loads((PROJECT_ROOT / ".chalice" / settings["iam_policy_file"]).read_text())

    dynamo_statements = [
        s
        for s in policy["Statement"]
        if any(action.startswith("dynamodb:") for action in s["Action"])
    ]
    actions = {action for s in dynamo_statements for action in s["Action"]}
    resources = {resource for s in dynamo_statements for resource in s["Resource"]}
    all_actions = {action for s in policy["Statement"] for action in s["Action"]}

    assert "dynamodb:Scan" not in all_actions
    assert not any(action.endswith("*") for action in all_actions)
    assert {"dynamodb:Query", "dynamodb:TransactWriteItems", "dynamodb:GetItem"} <= actions
    assert resources == {
        f"arn:aws:dynamodb:*:*:table/pt-bookings-{stage}",
        f"arn:aws:dynamodb:*:*:table/pt-bookings-{stage}/index/*",
    }
    assert "ses:SendEmail" in all_actions
    assert {"logs:CreateLogStream", "logs:PutLogEvents"} <= all_actions


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


def test_packaged_roles_carry_the_prod_policy_file(prod_template: dict):
    expected = json.loads((PROJECT_ROOT / ".chalice" / "policy-prod.json").read_text())
    roles = {
        logical_id: resource
        for logical_id, resource in prod_template["Resources"].items()
        if resource["Type"] == "AWS::IAM::Role"
    }

    assert roles
    for logical_id, role in roles.items():
        documents = [p["PolicyDocument"] for p in role["Properties"]["Policies"]]
        assert documents == [expected], logical_id
