"""The awsquery codec (IAM, STS) with realistic requests from botocore and hand-made edge cases."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rolecall.errors import AwsError, InternalFailure
from rolecall.services.iam.errors import NoSuchEntity
from rolecall.wire import HttpRequest, codec_for
from tests.wire.botocore_io import parse_response, request_for
from tests.wire.samples import without_metadata

IAM = codec_for("iam")
STS = codec_for("sts")

TRUST = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}'


def form(body: str, *, query: str = "", method: str = "POST") -> HttpRequest:
    return HttpRequest(
        method=method,
        path="/",
        query_string=query,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8", "Host": "localhost"},
        body=body.encode(),
    )


def decode_error(codec, request: HttpRequest) -> AwsError:
    with pytest.raises(AwsError) as caught:
        codec.decode(request)
    return caught.value


def test_create_role_with_tags() -> None:
    params = {
        "RoleName": "app-role",
        "Path": "/service/",
        "AssumeRolePolicyDocument": TRUST,
        "Description": "line one\r\nline two & <more>",
        "MaxSessionDuration": 7200,
        "PermissionsBoundary": "arn:aws:iam::123456789012:policy/boundary",
        "Tags": [{"Key": "team", "Value": "core"}, {"Key": "env", "Value": ""}],
    }
    assert IAM.decode(request_for("iam", "CreateRole", params)) == ("CreateRole", params)


def test_put_role_policy_and_list_roles() -> None:
    params = {"RoleName": "app-role", "PolicyName": "inline", "PolicyDocument": TRUST}
    assert IAM.decode(request_for("iam", "PutRolePolicy", params)) == ("PutRolePolicy", params)
    assert IAM.decode(request_for("iam", "ListRoles", {})) == ("ListRoles", {})
    listing = {"PathPrefix": "/service/", "MaxItems": 10, "Marker": "abc"}
    assert IAM.decode(request_for("iam", "ListRoles", listing)) == ("ListRoles", listing)


def test_simulate_principal_policy_with_context_entries() -> None:
    params = {
        "PolicySourceArn": "arn:aws:iam::123456789012:role/app-role",
        "ActionNames": ["s3:GetObject", "s3:PutObject"],
        "ResourceArns": ["arn:aws:s3:::bucket/key"],
        "ContextEntries": [
            {"ContextKeyName": "aws:SourceIp", "ContextKeyValues": ["10.0.0.1"], "ContextKeyType": "ip"},
            {"ContextKeyName": "aws:TagKeys", "ContextKeyValues": ["a", "b"], "ContextKeyType": "stringList"},
        ],
    }
    assert IAM.decode(request_for("iam", "SimulatePrincipalPolicy", params)) == (
        "SimulatePrincipalPolicy",
        params,
    )


def test_assume_role_with_policy_arns_and_tags() -> None:
    params = {
        "RoleArn": "arn:aws:iam::123456789012:role/app-role",
        "RoleSessionName": "session-1",
        "PolicyArns": [{"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}],
        "Policy": TRUST,
        "DurationSeconds": 900,
        "Tags": [{"Key": "project", "Value": "x"}],
        "TransitiveTagKeys": ["project"],
        "ExternalId": "ext-123",
    }
    request = request_for("sts", "AssumeRole", params)
    assert b"PolicyArns.member.1.arn=" in request.body
    assert STS.decode(request) == ("AssumeRole", params)


def test_empty_list_is_sent_as_bare_name() -> None:
    request = request_for(
        "iam", "CreateRole", {"RoleName": "r", "AssumeRolePolicyDocument": TRUST, "Tags": []}
    )
    assert b"Tags=&" in request.body or request.body.endswith(b"Tags=")
    assert IAM.decode(request)[1]["Tags"] == []


def test_parameters_from_the_query_string_of_a_get() -> None:
    request = form("", query="Action=GetRole&Version=2010-05-08&RoleName=r%2B1", method="GET")
    assert IAM.decode(request) == ("GetRole", {"RoleName": "r+1"})


def test_booleans_and_integers_are_typed() -> None:
    body = "Action=ListPolicies&Version=2010-05-08&OnlyAttached=true&MaxItems=5&Scope=Local"
    assert IAM.decode(form(body))[1] == {"Scope": "Local", "OnlyAttached": True, "MaxItems": 5}


def test_list_order_follows_indices_not_arrival() -> None:
    body = (
        "Action=UntagRole&Version=2010-05-08&RoleName=r"
        "&TagKeys.member.10=j&TagKeys.member.2=b&TagKeys.member.1=a"
    )
    assert IAM.decode(form(body))[1]["TagKeys"] == ["a", "b", "j"]


def test_unknown_action() -> None:
    err = decode_error(IAM, form("Action=CreateRoll&Version=2010-05-08"))
    assert (err.code, err.status) == ("InvalidAction", 400)
    assert err.message == "Could not find operation CreateRoll for version 2010-05-08"


def test_wrong_or_missing_version() -> None:
    err = decode_error(IAM, form("Action=ListRoles&Version=2011-06-15"))
    assert err.message == "Could not find operation ListRoles for version 2011-06-15"
    err = decode_error(IAM, form("Action=ListRoles"))
    assert err.message == "Could not find operation ListRoles for version NO_VERSION_SPECIFIED"


def test_missing_action() -> None:
    err = decode_error(IAM, form("Version=2010-05-08"))
    assert (err.code, err.status, err.message) == ("MissingAction", 400, "Missing Action")


def test_unparseable_number_is_a_validation_error() -> None:
    err = decode_error(IAM, form("Action=ListRoles&Version=2010-05-08&MaxItems=ten"))
    assert err.code == "ValidationError"
    assert "Value 'ten' at 'maxItems'" in err.message


def test_unparseable_boolean_names_the_member() -> None:
    err = decode_error(IAM, form("Action=ListPolicies&Version=2010-05-08&OnlyAttached=maybe"))
    assert "at 'onlyAttached'" in err.message


def test_response_namespace_wrapper_and_request_id() -> None:
    created = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    output = {
        "Role": {
            "Path": "/",
            "RoleName": "r",
            "RoleId": "AROAEXAMPLEEXAMPLE01",
            "Arn": "arn:aws:iam::123456789012:role/r",
            "CreateDate": created,
            "AssumeRolePolicyDocument": "%7B%7D",
            "MaxSessionDuration": 3600,
            "Tags": [{"Key": "k", "Value": "v"}],
        }
    }
    response = IAM.encode("GetRole", output, "req-123")
    text = response.body.decode()
    assert text.startswith(
        '<GetRoleResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><GetRoleResult>'
    )
    assert "<CreateDate>2024-01-02T03:04:05Z</CreateDate>" in text
    assert text.endswith(
        "<ResponseMetadata><RequestId>req-123</RequestId></ResponseMetadata></GetRoleResponse>"
    )
    assert response.header("Content-Type") == "text/xml"
    assert response.header("x-amzn-RequestId") == "req-123"
    assert response.header("Content-Length") == str(len(response.body))
    assert without_metadata(parse_response("iam", "GetRole", response)) == output


def test_fractional_seconds_are_milliseconds() -> None:
    expires = datetime(2024, 1, 2, 3, 4, 5, 678900, tzinfo=UTC)
    output = {
        "Credentials": {
            "AccessKeyId": "ASIAEXAMPLEEXAMPLE01",
            "SecretAccessKey": "s",
            "SessionToken": "t",
            "Expiration": expires,
        }
    }
    text = STS.encode("GetSessionToken", output, "r").body.decode()
    assert "<Expiration>2024-01-02T03:04:05.678Z</Expiration>" in text
    assert 'xmlns="https://sts.amazonaws.com/doc/2011-06-15/"' in text


def test_operation_without_output_has_no_result_element() -> None:
    response = IAM.encode("DeleteRole", None, "req-9")
    assert response.body == (
        b'<DeleteRoleResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
        b"<ResponseMetadata><RequestId>req-9</RequestId></ResponseMetadata></DeleteRoleResponse>"
    )
    assert parse_response("iam", "DeleteRole", response)["ResponseMetadata"]["RequestId"] == "req-9"


def test_error_envelope_parsed_by_botocore() -> None:
    response = IAM.encode_error(NoSuchEntity("The role with name r<1> cannot be found."), "req-7", "GetRole")
    assert response.status == 404
    parsed = parse_response("iam", "GetRole", response)
    assert parsed["Error"] == {
        "Type": "Sender",
        "Code": "NoSuchEntity",
        "Message": "The role with name r<1> cannot be found.",
    }
    assert parsed["ResponseMetadata"]["RequestId"] == "req-7"


def test_server_faults_are_receiver_errors() -> None:
    response = STS.encode_error(InternalFailure("boom"), "req-8", None)
    assert response.status == 500
    assert parse_response("sts", "AssumeRole", response)["Error"]["Type"] == "Receiver"


def test_an_output_encoded_again_is_the_same_and_a_changed_one_is_encoded_afresh() -> None:
    role = {
        "Path": "/",
        "RoleName": "kept",
        "RoleId": "AROAEXAMPLEEXAMPLE02",
        "Arn": "arn:aws:iam::1:role/kept",
    }
    role["CreateDate"] = "2024-01-02T03:04:05Z"
    for _ in range(3):  # encoded once, then taken from the table of encoded results
        first = IAM.encode("GetRole", {"Role": dict(role)}, "req-1").body.decode()
    again = IAM.encode("GetRole", {"Role": dict(role)}, "req-2").body.decode()
    assert again == first.replace("req-1", "req-2")
    changed = IAM.encode("GetRole", {"Role": {**role, "Path": "/other/"}}, "req-3").body.decode()
    assert "<Path>/other/</Path>" in changed and "<Path>/</Path>" not in changed
    flagged = IAM.encode("GetRole", {"Role": {**role, "MaxSessionDuration": 1}}, "r").body.decode()
    assert "<MaxSessionDuration>1</MaxSessionDuration>" in flagged


def test_answers_that_hold_secrets_are_never_kept_encoded() -> None:
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    output = {
        "Credentials": {
            "AccessKeyId": "ASIAEXAMPLEEXAMPLE01",
            "SecretAccessKey": secret,
            "SessionToken": "token-kept-nowhere",
            "Expiration": "2024-01-02T03:04:05Z",
        },
        "AssumedRoleUser": {"AssumedRoleId": "AROAEXAMPLE:s", "Arn": "arn:aws:sts::1:assumed-role/r/s"},
    }
    for _ in range(3):
        assert secret in STS.encode("AssumeRole", output, "r").body.decode()
    assert not any(secret in text or "token-kept-nowhere" in text for text in STS._encoded.values())
