"""infra/email.yaml: the SES configuration set, its bounce and complaint destination, the
SNS topic and the webhook's subscription; cfn-lint clean and agreeing with what the app
is configured with (.chalice/config.json)."""

from __future__ import annotations

import re

from infra import table_schema
from tests.infra.test_templates import CONFIG, PROJECT_ROOT, _cfn_lint

TEMPLATE = PROJECT_ROOT / "infra" / "email.yaml"


def _template() -> dict:
    return table_schema.load_template(TEMPLATE)


def _of_type(template: dict, kind: str) -> dict:
    (resource,) = [r for r in template["Resources"].values() if r["Type"] == kind]
    return resource


def test_the_email_template_passes_cfn_lint_without_errors_or_warnings() -> None:
    result = _cfn_lint(TEMPLATE)
    assert result.returncode == 0, f"cfn-lint infra/email.yaml:\n{result.stdout}{result.stderr}"


def test_bounces_and_complaints_are_published_to_the_topic() -> None:
    template = _template()
    destination = _of_type(template, "AWS::SES::ConfigurationSetEventDestination")
    events = destination["Properties"]["EventDestination"]
    assert sorted(events["MatchingEventTypes"]) == ["bounce", "complaint"]
    assert events["Enabled"] is True
    assert events["SnsDestination"]["TopicARN"] == {"Ref": "EventsTopic"}
    assert destination["Properties"]["ConfigurationSetName"] == {"Ref": "ConfigurationSet"}


def test_the_webhook_is_subscribed_over_https_only_once_its_url_is_given() -> None:
    template = _template()
    subscription = _of_type(template, "AWS::SNS::Subscription")
    assert subscription["Condition"] == "HasWebhook"
    assert subscription["Properties"]["Protocol"] == "https"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "WebhookUrl"}
    assert subscription["Properties"]["RawMessageDelivery"] is False  # the signed envelope
    pattern = re.compile(template["Parameters"]["WebhookUrl"]["AllowedPattern"])
    assert pattern.fullmatch("")
    assert pattern.fullmatch(
        "https://abc.execute-api.eu-west-2.amazonaws.com/api/webhooks/ses/events"
    )
    assert not pattern.fullmatch("http://abc.example/webhooks/ses/events")
    assert not pattern.fullmatch("https://abc.example/elsewhere")


def test_only_ses_of_this_account_may_publish_to_the_topic() -> None:
    policy = _of_type(_template(), "AWS::SNS::TopicPolicy")["Properties"]["PolicyDocument"]
    (statement,) = policy["Statement"]
    assert statement["Principal"] == {"Service": "ses.amazonaws.com"}
    assert statement["Action"] == "sns:Publish"
    assert statement["Condition"] == {
        "StringEquals": {"AWS:SourceAccount": {"Ref": "AWS::AccountId"}}
    }


def test_each_deployed_stage_sends_with_the_configuration_set_the_template_makes() -> None:
    template = _template()
    name = _of_type(template, "AWS::SES::ConfigurationSet")["Properties"]["Name"]
    assert name == {"Fn::Sub": "pt-bookings-${Stage}"}
    for stage in template["Parameters"]["Stage"]["AllowedValues"]:
        variables = CONFIG["stages"][stage]["environment_variables"]
        assert variables["SES_CONFIGURATION_SET"] == f"pt-bookings-{stage}"
        assert "SES_EVENTS_TOPIC_ARN" in variables  # set from the stack's output
    outputs = template["Outputs"]
    assert outputs["EventsTopicArn"]["Export"]["Name"] == {
        "Fn::Sub": "pt-bookings-${Stage}-EmailEventsTopicArn"
    }


def test_local_stages_send_with_no_configuration_set() -> None:
    for stage in ("local", "test"):
        assert "SES_CONFIGURATION_SET" not in CONFIG["stages"][stage]["environment_variables"]
