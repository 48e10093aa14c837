"""Trail records never carry secrets: neither the members rolecall knows are secret nor those the model marks."""

from rolecall.audit.records import HIDDEN, scrub, sensitive_members


def test_members_the_model_marks_sensitive_are_hidden():
    hidden = sensitive_members("lambda", "CreateFunction")
    rec = scrub(
        {
            "FunctionName": "f",
            "Environment": {"Variables": {"DB_PASSWORD": "hunter2"}},
            "Code": {"ZipFile": b"PK..."},
        },
        hidden,
    )
    assert rec == {"functionName": "f", "environment": {"variables": HIDDEN}, "code": {"zipFile": HIDDEN}}
    assert "userdata" in sensitive_members("ec2", "RunInstances")
    assert sensitive_members("iam", "NoSuchOperation") == frozenset()


def test_known_secrets_are_hidden_at_any_depth():
    rec = scrub(
        {
            "Credentials": {"AccessKeyId": "ASIA1", "SecretAccessKey": "s", "SessionToken": "t"},
            "Password": "p",
            "Tags": [{"Key": "k", "Value": "v"}],
        }
    )
    assert rec == {
        "credentials": {"accessKeyId": "ASIA1", "secretAccessKey": HIDDEN, "sessionToken": HIDDEN},
        "password": HIDDEN,
        "tags": [{"key": "k", "value": "v"}],
    }


def test_object_calls_are_data_events_named_as_cloudtrail_names_them():
    from datetime import UTC, datetime

    from rolecall.audit.records import record

    common = dict(
        caller=None,
        account="123456789012",
        region="us-east-1",
        event_time=datetime.now(UTC),
        request_id="r",
        source_ip="127.0.0.1",
        user_agent="test",
        read_only=True,
    )
    get = record(
        service="s3", operation="GetObject", request_parameters={"Bucket": "b", "Key": "k"}, **common
    )
    assert (get["eventCategory"], get["managementEvent"]) == ("Data", False)
    assert get["requestParameters"] == {"bucketName": "b", "key": "k"}
    create = record(service="s3", operation="CreateBucket", request_parameters={"Bucket": "b"}, **common)
    assert (create["eventCategory"], create["managementEvent"]) == ("Management", True)
