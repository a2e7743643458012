"""The documents bucket in the stateful stack (issue 17): private, encrypted, versioned,
retained, deleted files expired, TLS only, CORS for the upload form's origin only; the
web function alone is told its name, and the app roles may touch only trainers' keys."""

from __future__ import annotations

import json
from pathlib import Path

from infra import table_schema

ROOT = Path(__file__).resolve().parents[2]


def _bucket() -> dict:
    return table_schema.load_template()["Resources"]["DocumentsBucket"]


def test_the_bucket_is_private_encrypted_versioned_and_retained() -> None:
    bucket = _bucket()
    props = bucket["Properties"]
    assert bucket["Type"] == "AWS::S3::Bucket"
    assert bucket["DeletionPolicy"] == bucket["UpdateReplacePolicy"] == "Retain"
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    deleted, _abandoned_uploads = props["LifecycleConfiguration"]["Rules"]
    assert deleted["Status"] == "Enabled" and "Prefix" not in deleted  # the whole bucket
    assert deleted["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
    assert deleted["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}


def test_abandoned_uploads_expire_after_a_day_and_kept_files_never_do() -> None:
    from chalicelib.domain import documents

    rules = _bucket()["Properties"]["LifecycleConfiguration"]["Rules"]
    (abandoned,) = [rule for rule in rules if "ExpirationInDays" in rule]
    assert abandoned["Status"] == "Enabled"
    assert abandoned["ExpirationInDays"] == 1
    assert abandoned["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}
    # The rule's prefix holds every upload the app issues, and no kept file.
    assert documents.upload_prefix("t1").startswith(abandoned["Prefix"])
    assert not documents.files_prefix("t1").startswith(abandoned["Prefix"])
    assert not documents.kept_key("t1", documents.upload_key("t1", "1-a", "x.pdf")).startswith(
        abandoned["Prefix"]
    )


def test_only_the_upload_form_may_post_and_only_over_tls() -> None:
    template = table_schema.load_template()
    (cors,) = _bucket()["Properties"]["CorsConfiguration"]["CorsRules"]
    assert cors["AllowedMethods"] == ["POST"]
    assert len(cors["AllowedOrigins"]) == 1  # the AppOrigin parameter, or none
    assert "AppOrigin" in template["Parameters"]
    (statement,) = template["Resources"]["DocumentsBucketPolicy"]["Properties"]["PolicyDocument"][
        "Statement"
    ]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    exported = template["Outputs"]["DocumentsBucketName"]["Export"]["Name"]
    assert "DocumentsBucket" in str(exported)


def test_the_app_roles_touch_only_trainers_files_and_uploads_of_their_stages_bucket() -> None:
    for stage in ("dev", "prod"):
        policy = json.loads((ROOT / ".chalice" / f"policy-{stage}.json").read_text())
        s3 = [s for s in policy["Statement"] if any(a.startswith("s3:") for a in s["Action"])]
        assert [set(s["Action"]) for s in s3] == [
            {
                "s3:PutObject",
                "s3:GetObject",
                "s3:GetObjectVersion",
                "s3:DeleteObject",
                "s3:DeleteObjectVersion",
            }
        ]
        assert s3[0]["Resource"] == [
            f"arn:aws:s3:::pt-bookings-{stage}-documents-*/trainers/*",
            f"arn:aws:s3:::pt-bookings-{stage}-documents-*/uploads/*",
        ]
