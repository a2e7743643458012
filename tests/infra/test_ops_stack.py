"""The ops stack (infra/ops.yaml) and the replay of failed runs (infra/replay.py).

The stack is checked as a template (cfn-lint, then what each resource says); the replay
against moto's SQS with an injected invoker, and its real invoker with botocore's Stubber.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

import app as chalice_app
from chalicelib import observability
from infra import replay, table_schema
from tests.infra.test_templates import CONFIG, PROJECT_ROOT, REGION, _cfn_lint

OPS_TEMPLATE = PROJECT_ROOT / "infra" / "ops.yaml"
SCHEDULED = [source.name for source in chalice_app.app.event_sources]
# What `chalice deploy` names each function, as the template's defaults write it.
DEFAULT_NAMES = {
    "api_handler": "pt-bookings-${Stage}",
    **{job: f"pt-bookings-${{Stage}}-{job}" for job in SCHEDULED},
}
# The parameter that overrides each default.
NAME_PARAMETERS = {
    "api_handler": "ApiHandlerName",
    "expire_offer_locks": "ExpireOfferLocksName",
    "dispatch_messages": "DispatchMessagesName",
    "queue_reminders": "QueueRemindersName",
    "apply_templates": "ApplyTemplatesName",
}


@pytest.fixture(scope="module")
def ops() -> dict:
    return table_schema.load_template(OPS_TEMPLATE)


def _of_type(template: dict, kind: str) -> dict[str, dict]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def _function_named(value: Any) -> str | None:
    """Which function a FunctionName value names: the `!If [<fn>Named, !Ref <param>,
    !Sub <default>]` every reference uses, checked whole so a typo in any branch fails."""
    for function, parameter in NAME_PARAMETERS.items():
        condition = parameter.removesuffix("Name") + "Named"
        if value == {
            "Fn::If": [condition, {"Ref": parameter}, {"Fn::Sub": DEFAULT_NAMES[function]}]
        }:
            return function
    return None


def _lambda_alarms(ops: dict, metric: str) -> dict[str, dict]:
    found = {}
    for logical_id, alarm in _of_type(ops, "AWS::CloudWatch::Alarm").items():
        props = alarm["Properties"]
        if props.get("Namespace") == "AWS/Lambda" and props["MetricName"] == metric:
            (dimension,) = props["Dimensions"]
            assert dimension["Name"] == "FunctionName", logical_id
            function = _function_named(dimension["Value"])
            assert function is not None, f"{logical_id} names no known function"
            found[function] = props
    return found


# --- the template -----------------------------------------------------------------------


def test_the_ops_template_passes_cfn_lint_without_errors_or_warnings() -> None:
    result = _cfn_lint(OPS_TEMPLATE)
    assert result.returncode == 0, f"cfn-lint infra/ops.yaml:\n{result.stdout}{result.stderr}"


def test_the_name_parameters_cover_every_function_chalice_deploys() -> None:
    # The app's own schedules, so a new job without alarms or a destination fails here.
    assert set(NAME_PARAMETERS) == {"api_handler", *SCHEDULED}
    assert set(CONFIG["lambda_functions"]) == set(NAME_PARAMETERS)


def test_every_function_has_an_errors_and_a_throttles_alarm(ops: dict) -> None:
    for metric in ("Errors", "Throttles"):
        alarms = _lambda_alarms(ops, metric)
        assert set(alarms) == set(NAME_PARAMETERS), metric
        for function, props in alarms.items():
            assert props["Statistic"] == "Sum", (metric, function)
            assert props["Threshold"] == 1, (metric, function)
            assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_every_scheduled_function_and_only_those_send_failed_runs_to_the_queue(
    ops: dict,
) -> None:
    configs = _of_type(ops, "AWS::Lambda::EventInvokeConfig")
    named = {_function_named(c["Properties"]["FunctionName"]): c for c in configs.values()}

    assert set(named) == set(SCHEDULED)
    assert "api_handler" not in named  # a request's failure is the user's 500, not a replay
    for function, config in named.items():
        props = config["Properties"]
        assert props["Qualifier"] == "$LATEST", function
        assert props["DestinationConfig"] == {
            "OnFailure": {"Destination": {"Fn::GetAtt": ["JobFailureQueue", "Arn"]}}
        }, function
        assert 0 <= props["MaximumRetryAttempts"] <= 2, function


def test_the_failure_queue_keeps_messages_14_days_encrypted_under_the_granted_name(
    ops: dict,
) -> None:
    queue = ops["Resources"]["JobFailureQueue"]["Properties"]

    assert queue["QueueName"] == {"Fn::Sub": "pt-bookings-${Stage}-job-failures"}
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert queue["SqsManagedSseEnabled"] is True
    assert replay.queue_name("prod") == "pt-bookings-prod-job-failures"
    # The jobs' roles may send to exactly that name (the grant lives in their policies).
    for stage in ("dev", "prod"):
        for job in SCHEDULED:
            policy = json.loads(
                (PROJECT_ROOT / ".chalice" / f"policy-{stage}-{job}.json").read_text()
            )
            grants = [s for s in policy["Statement"] if "sqs:SendMessage" in s["Action"]]
            assert [g["Resource"] for g in grants] == [
                [f"arn:aws:sqs:*:*:pt-bookings-{stage}-job-failures"]
            ], (stage, job)


def test_a_message_waiting_in_the_failure_queue_raises_an_alarm(ops: dict) -> None:
    props = ops["Resources"]["JobFailuresQueuedAlarm"]["Properties"]

    assert props["Namespace"] == "AWS/SQS"
    assert props["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert props["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["JobFailureQueue", "QueueName"]}}
    ]
    assert (props["Threshold"], props["ComparisonOperator"]) == (0, "GreaterThanThreshold")


def test_every_alarm_says_what_missing_data_means_and_notifies_the_topic(ops: dict) -> None:
    alarms = _of_type(ops, "AWS::CloudWatch::Alarm")
    assert len(alarms) >= 2 * len(NAME_PARAMETERS) + 8

    for logical_id, alarm in alarms.items():
        props = alarm["Properties"]
        assert props["TreatMissingData"] in ("breaching", "notBreaching"), logical_id
        assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}], logical_id
        assert props["OKActions"] == [{"Ref": "AlarmTopic"}], logical_id
        assert props["AlarmName"]["Fn::Sub"].startswith("pt-bookings-${Stage}-"), logical_id


def test_the_topic_mails_the_alarm_email_and_lets_only_this_accounts_alarms_publish(
    ops: dict,
) -> None:
    subscription = ops["Resources"]["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}

    (statement,) = ops["Resources"]["AlarmTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert statement["Action"] == "sns:Publish"
    assert statement["Condition"]["StringEquals"] == {
        "AWS:SourceAccount": {"Ref": "AWS::AccountId"}
    }


def test_the_api_5xx_alarm_watches_the_rest_api_chalice_deploys(ops: dict) -> None:
    props = ops["Resources"]["Api5xxAlarm"]["Properties"]

    assert (props["Namespace"], props["MetricName"]) == ("AWS/ApiGateway", "5XXError")
    assert props["Dimensions"] == [
        {"Name": "ApiName", "Value": {"Ref": "ApiName"}},
        {"Name": "Stage", "Value": {"Ref": "ApiStage"}},
    ]
    assert ops["Parameters"]["ApiName"]["Default"] == CONFIG["app_name"]
    for stage in ("dev", "prod"):
        assert (
            CONFIG["stages"][stage]["api_gateway_stage"] == ops["Parameters"]["ApiStage"]["Default"]
        )


def _math_alarm_series(props: dict) -> list[dict]:
    (expression,) = [m for m in props["Metrics"] if "Expression" in m]
    assert expression["Expression"] == "SUM(METRICS())" and expression["ReturnData"] is True
    series = [m for m in props["Metrics"] if "MetricStat" in m]
    assert all(m["ReturnData"] is False for m in series)
    return [m["MetricStat"]["Metric"] for m in series]


TABLE_DIMENSION = {
    "Name": "TableName",
    "Value": {
        "Fn::If": [
            "TableNamed",
            {"Ref": "TableName"},
            {"Fn::ImportValue": {"Fn::Sub": "pt-bookings-${Stage}-TableName"}},
        ]
    },
}


@pytest.mark.parametrize(
    "logical_id", ["TableReadThrottleEventsAlarm", "TableWriteThrottleEventsAlarm"]
)
def test_throttle_event_alarms_add_up_the_table_and_every_index(ops: dict, logical_id: str) -> None:
    indexes = {
        i["IndexName"]
        for i in table_schema.table_properties(table_schema.load_template())[
            "GlobalSecondaryIndexes"
        ]
    }
    metrics = _math_alarm_series(ops["Resources"][logical_id]["Properties"])

    assert all(m["Namespace"] == "AWS/DynamoDB" for m in metrics)
    assert all(m["Dimensions"][0] == TABLE_DIMENSION for m in metrics)
    watched = {
        d["Value"]
        for m in metrics
        for d in m["Dimensions"]
        if d["Name"] == "GlobalSecondaryIndexName"
    }
    assert watched == indexes
    assert sum(1 for m in metrics if len(m["Dimensions"]) == 1) == 1  # the table itself


@pytest.mark.parametrize(
    ("logical_id", "metric"),
    [
        ("TableThrottledRequestsAlarm", "ThrottledRequests"),
        ("TableSystemErrorsAlarm", "SystemErrors"),
    ],
)
def test_per_operation_table_alarms_add_up_every_operation_the_app_is_granted(
    ops: dict, logical_id: str, metric: str
) -> None:
    metrics = _math_alarm_series(ops["Resources"][logical_id]["Properties"])
    granted = set()
    for path in (PROJECT_ROOT / ".chalice").glob("policy-*.json"):
        for statement in json.loads(path.read_text())["Statement"]:
            granted |= {
                a.removeprefix("dynamodb:")
                for a in statement["Action"]
                if a.startswith("dynamodb:")
            }
    # ConditionCheckItem only ever runs inside TransactWriteItems, which is watched.
    granted.discard("ConditionCheckItem")

    assert {m["MetricName"] for m in metrics} == {metric}
    assert all(m["Dimensions"][0] == TABLE_DIMENSION for m in metrics)
    assert {m["Dimensions"][1]["Value"] for m in metrics} == granted


def test_the_outbox_alarms_watch_the_metrics_the_app_publishes(ops: dict) -> None:
    age = ops["Resources"]["OldestQueuedMessageAlarm"]["Properties"]
    failed = ops["Resources"]["MessagesFailedAlarm"]["Properties"]

    for props in (age, failed):
        assert props["Namespace"] == observability.NAMESPACE
        assert props["Dimensions"] == [{"Name": "Stage", "Value": {"Ref": "Stage"}}]
    assert age["MetricName"] == "OldestQueuedMessageAgeSeconds"
    assert (age["Statistic"], age["Threshold"], age["ComparisonOperator"]) == (
        "Maximum",
        900,
        "GreaterThanThreshold",
    )
    # Every dispatcher run reports the age, so silence means the dispatcher stopped.
    assert age["TreatMissingData"] == "breaching"
    assert failed["MetricName"] == "MessagesFailed"
    assert (failed["Statistic"], failed["Period"]) == ("Sum", 3600)
    assert failed["Threshold"] == {"Ref": "MessagesFailedPerHourThreshold"}


def test_the_access_log_group_keeps_the_stages_retention_and_is_output_for_update_stage(
    ops: dict,
) -> None:
    group = ops["Resources"]["AccessLogGroup"]["Properties"]

    assert group["LogGroupName"] == {"Fn::Sub": "/aws/apigateway/pt-bookings-${Stage}-access"}
    assert group["RetentionInDays"] == {"Fn::FindInMap": ["LogRetention", {"Ref": "Stage"}, "Days"]}
    for stage in ("dev", "prod"):
        assert (
            ops["Mappings"]["LogRetention"][stage]["Days"]
            == CONFIG["stages"][stage]["log_retention_in_days"]
        )
    arn = ops["Outputs"]["AccessLogGroupArn"]["Value"]["Fn::Sub"]
    # update-stage wants the group's ARN without the ":*" that GetAtt Arn ends with.
    assert arn.endswith(":log-group:${AccessLogGroup}")
    assert {"AlarmTopicArn", "JobFailureQueueUrl", "JobFailureQueueArn"} <= set(ops["Outputs"])


def test_the_account_wide_api_gateway_role_is_only_set_when_asked(ops: dict) -> None:
    assert ops["Parameters"]["ManageApiGatewayAccount"]["Default"] == "false"
    assert ops["Resources"]["ApiGatewayAccount"]["Condition"] == "ManagesApiGatewayAccount"
    assert ops["Resources"]["ApiGatewayCloudWatchRole"]["Condition"] == "ManagesApiGatewayAccount"


# --- replaying failed runs --------------------------------------------------------------

FUNCTION_ARN = "arn:aws:lambda:eu-west-2:123456789012:function:{name}:$LATEST"
SCHEDULE_EVENT = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "time": "2026-12-01T09:00:00Z",
    "resources": ["arn:aws:events:eu-west-2:123456789012:rule/pt-bookings-prod-dispatch_messages"],
    "detail": {},
}


def failure_record(name: str, payload: Any = SCHEDULE_EVENT, **changes: Any) -> str:
    """What Lambda sends an on-failure destination (the documented record shape)."""
    record = {
        "version": "1.0",
        "timestamp": "2026-12-01T09:00:31.412Z",
        "requestContext": {
            "requestId": "e4b46cbf-b738-4f3a-8880-a18cdf61200e",
            "functionArn": FUNCTION_ARN.format(name=name),
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 1,
        },
        "requestPayload": payload,
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "responsePayload": {
            "errorMessage": "Task timed out after 60.06 seconds",
            "errorType": "Sandbox.Timedout",
        },
    }
    record.update(changes)
    return json.dumps(record)


@pytest.fixture
def queue() -> Iterator[tuple[Any, str]]:
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        url = sqs.create_queue(QueueName=replay.queue_name("prod"))["QueueUrl"]
        yield sqs, url


class Invoker:
    def __init__(self, accept: bool = True) -> None:
        self.accept = accept
        self.calls: list[tuple[str, Any]] = []

    def __call__(self, function: str, payload: bytes) -> bool:
        self.calls.append((function, json.loads(payload)))
        return self.accept


def _bodies_left(sqs: Any, url: str) -> list[str]:
    response = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    return sorted(m["Body"] for m in response.get("Messages", []))


def test_a_failed_run_is_invoked_again_with_its_event_then_deleted(queue) -> None:
    sqs, url = queue
    sqs.send_message(QueueUrl=url, MessageBody=failure_record("pt-bookings-prod-dispatch_messages"))
    invoke, out = Invoker(), io.StringIO()

    report = replay.replay(sqs, url, invoke, "prod", wait_seconds=0, out=out)

    assert invoke.calls == [("pt-bookings-prod-dispatch_messages", SCHEDULE_EVENT)]
    assert (report.replayed, report.left) == (1, [])
    assert _bodies_left(sqs, url) == []
    shown = out.getvalue()
    assert "pt-bookings-prod-dispatch_messages" in shown
    assert "2026-12-01T09:00:31.412Z" in shown and "RetriesExhausted" in shown
    assert "Sandbox.Timedout: Task timed out after 60.06 seconds" in shown


def test_an_invocation_lambda_does_not_accept_leaves_the_message_for_the_next_try(queue) -> None:
    sqs, url = queue
    body = failure_record("pt-bookings-prod-apply_templates")
    sqs.send_message(QueueUrl=url, MessageBody=body)

    report = replay.replay(
        sqs, url, Invoker(accept=False), "prod", wait_seconds=0, out=io.StringIO()
    )

    assert report.replayed == 0 and len(report.left) == 1 and not report.ok
    assert _bodies_left(sqs, url) == [body]


def test_an_invoke_error_leaves_the_message_too(queue) -> None:
    from botocore.exceptions import ClientError

    sqs, url = queue
    body = failure_record("pt-bookings-prod-queue_reminders")
    sqs.send_message(QueueUrl=url, MessageBody=body)

    def refusing(function: str, payload: bytes) -> bool:
        raise ClientError(
            {"Error": {"Code": "TooManyRequestsException", "Message": "Rate"}}, "Invoke"
        )

    out = io.StringIO()
    report = replay.replay(sqs, url, refusing, "prod", wait_seconds=0, out=out)

    assert len(report.left) == 1
    assert "TooManyRequestsException" in out.getvalue()
    assert _bodies_left(sqs, url) == [body]


def test_only_this_stages_jobs_are_replayed_and_nothing_unreadable_is_deleted(queue) -> None:
    sqs, url = queue
    foreign = failure_record("pt-bookings-dev-dispatch_messages")
    web = failure_record("pt-bookings-prod")  # the API handler has no destination
    garbage = "not json"
    no_payload = failure_record("pt-bookings-prod-expire_offer_locks", payload=None)
    for body in (foreign, web, garbage, no_payload):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    invoke = Invoker()

    report = replay.replay(sqs, url, invoke, "prod", wait_seconds=0, out=io.StringIO())

    assert invoke.calls == []
    assert len(report.left) == 4
    assert _bodies_left(sqs, url) == sorted([foreign, web, garbage, no_payload])


def test_a_dry_run_invokes_nothing_and_leaves_every_message_visible(queue) -> None:
    sqs, url = queue
    bodies = [failure_record(f"pt-bookings-prod-{job}") for job in SCHEDULED]
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=body)
    invoke, out = Invoker(), io.StringIO()

    report = replay.replay(sqs, url, invoke, "prod", dry_run=True, wait_seconds=0, out=out)

    assert invoke.calls == []
    assert report.would_replay == len(SCHEDULED) and report.replayed == 0
    assert out.getvalue().count("would replay (dry run)") == len(SCHEDULED)
    # Shown again at once, not hidden for the visibility timeout.
    assert _bodies_left(sqs, url) == sorted(bodies)


def test_max_bounds_how_many_messages_one_run_takes(queue) -> None:
    sqs, url = queue
    for _ in range(5):
        sqs.send_message(
            QueueUrl=url, MessageBody=failure_record("pt-bookings-prod-dispatch_messages")
        )
    invoke = Invoker()

    report = replay.replay(
        sqs, url, invoke, "prod", max_messages=2, wait_seconds=0, out=io.StringIO()
    )

    assert report.replayed == 2 and len(invoke.calls) == 2
    assert len(_bodies_left(sqs, url)) == 3


def test_the_real_invoker_invokes_asynchronously_and_needs_lambdas_202() -> None:
    client = boto3.client("lambda", region_name=REGION)
    invoke = replay.lambda_invoker(client)
    payload = json.dumps(SCHEDULE_EVENT).encode()
    expected = {
        "FunctionName": "pt-bookings-prod-dispatch_messages",
        "InvocationType": "Event",
        "Payload": payload,
    }
    with Stubber(client) as stub:
        stub.add_response("invoke", {"StatusCode": 202}, expected)
        stub.add_response("invoke", {"StatusCode": 200}, expected)

        assert invoke("pt-bookings-prod-dispatch_messages", payload) is True
        assert invoke("pt-bookings-prod-dispatch_messages", payload) is False
        stub.assert_no_pending_responses()


def test_the_command_finds_the_stages_queue_and_a_dry_run_changes_nothing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replay, "WAIT_SECONDS", 0)
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        url = sqs.create_queue(QueueName="pt-bookings-prod-job-failures")["QueueUrl"]
        body = failure_record("pt-bookings-prod-dispatch_messages")
        sqs.send_message(QueueUrl=url, MessageBody=body)

        assert replay.main(["--stage", "prod", "--dry-run"]) == 0

        assert _bodies_left(sqs, url) == [body]
    assert "would replay 1, left in the queue 0" in capsys.readouterr().out


def test_the_replay_is_documented_where_the_alarm_points() -> None:
    text = Path(PROJECT_ROOT / "docs" / "monitoring.md").read_text()
    assert "python -m infra.replay --stage" in text
