"""The one bridge from infra/table.yaml to a real table (tests, local runner).

Tests and `make run` build their table from the CloudFormation template itself, so the
schema the code runs against locally is, by construction, the one deployed.

Dev-only: needs PyYAML, which is not a runtime dependency. Nothing under chalicelib/ or
app.py may import this module.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

TEMPLATE_PATH: Path = Path(__file__).resolve().parent / "table.yaml"

TABLE_LOGICAL_ID = "Table"

# Keys that boto3's create_table accepts verbatim from the CloudFormation properties.
# Everything else (TTL, PITR, deletion protection, SSE, tags) is CloudFormation-only or
# set through a separate API call.
_PASSTHROUGH_KEYS = ("AttributeDefinitions", "KeySchema", "BillingMode")
_GSI_KEYS = ("IndexName", "KeySchema", "Projection")


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that understands CloudFormation short-form intrinsics (!Sub, !Ref...)."""


def _construct_intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        # Short form is "Resource.Attribute"; the long form is a two-item list. Split once
        # only: nested attributes such as Endpoint.Address keep their dot.
        return {"Fn::GetAtt": value.split(".", 1)}
    return {f"Fn::{tag_suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_intrinsic)


def load_template(path: Path = TEMPLATE_PATH) -> dict:
    """Parse a CloudFormation template (YAML or JSON) into plain dicts."""
    with Path(path).open(encoding="utf-8") as handle:
        # _CfnLoader is a SafeLoader: no arbitrary Python objects from the file.
        loaded = yaml.load(handle, Loader=_CfnLoader)
    if not isinstance(loaded, dict):
        raise ValueError(f"{path} is not a CloudFormation template (top level is not a map)")
    return loaded


def table_properties(template: dict | None = None) -> dict:
    """The Properties of the Table resource in the template."""
    tpl = template if template is not None else load_template()
    try:
        return tpl["Resources"][TABLE_LOGICAL_ID]["Properties"]
    except KeyError as exc:
        raise KeyError(f"template has no Resources.{TABLE_LOGICAL_ID}.Properties") from exc


def create_table_kwargs(table_name: str, template: dict | None = None) -> dict:
    """Keyword arguments for boto3 `dynamodb.create_table`, taken from the template.

    The name is a parameter because the template's TableName is a !Sub over the stage.
    """
    props = table_properties(template)
    kwargs: dict[str, Any] = {"TableName": table_name}
    for key in _PASSTHROUGH_KEYS:
        if key in props:
            kwargs[key] = copy.deepcopy(props[key])
    indexes = props.get("GlobalSecondaryIndexes") or []
    if indexes:
        kwargs["GlobalSecondaryIndexes"] = [
            {key: copy.deepcopy(index[key]) for key in _GSI_KEYS if key in index}
            for index in indexes
        ]
    return kwargs


def ttl_attribute(template: dict | None = None) -> str | None:
    """The TTL attribute name, or None when the template does not enable TTL."""
    spec = table_properties(template).get("TimeToLiveSpecification") or {}
    return spec.get("AttributeName") if spec.get("Enabled") else None


def create_table(client: Any, table_name: str, template: dict | None = None) -> None:
    """Create the table as the template describes it; a no-op if it already exists.

    `client` is a boto3 DynamoDB client (real, moto-mocked or pointed at a moto server).
    """
    tpl = template if template is not None else load_template()
    try:
        client.create_table(**create_table_kwargs(table_name, tpl))
    except client.exceptions.ResourceInUseException:
        # Already there (restart of the local runner, second fixture): keep its data.
        return
    # A short delay: local/moto tables become ACTIVE at once, the default 20s poll
    # would only slow tests down.
    client.get_waiter("table_exists").wait(
        TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    attribute = ttl_attribute(tpl)
    if attribute:
        client.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute},
        )
