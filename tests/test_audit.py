"""Trail records never carry secrets: neither the members rolecall knows are secret nor those the model marks."""

from rolecall.audit import HIDDEN, scrub, sensitive_members


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
