"""Lambda's control plane against a real server: create, get, list, update, delete, and the role checks."""

from __future__ import annotations

import pytest
import urllib3
from botocore.exceptions import ClientError

from tests.e2e.lambda_helpers import (
    ACCOUNT,
    allow,
    create_function,
    doc,
    invoke_json,
    lambda_trust,
    make_role,
    make_user,
    package,
    trail_events,
    unique,
)
from tests.servers import InProcessServer

RETURN_ONE = """
def handler(event, context):
    return 1
"""


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = InProcessServer(tmp_path_factory.mktemp("lambda-fn")).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def role(srv):
    return make_role(srv)


def error(exc) -> tuple[str, str, int]:
    response = exc.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def test_create_get_list_update_delete(srv, role):
    lam = srv.client("lambda")
    name = unique("crud")
    created = create_function(
        lam,
        role["Arn"],
        RETURN_ONE,
        name=name,
        Timeout=10,
        MemorySize=256,
        Description="first",
        Environment={"Variables": {"STAGE": "test"}},
        Tags={"team": "blue"},
    )
    arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"
    assert created["FunctionArn"] == arn
    assert created["State"] == "Pending" and created["Version"] == "$LATEST"
    assert (created["Timeout"], created["MemorySize"], created["Handler"]) == (10, 256, "app.handler")
    assert created["CodeSize"] > 0 and len(created["CodeSha256"]) == 44

    got = lam.get_function(FunctionName=name)
    config = got["Configuration"]
    assert config["State"] == "Active" and config["Role"] == role["Arn"]
    assert config["Environment"] == {"Variables": {"STAGE": "test"}}
    assert config["LoggingConfig"]["LogGroup"] == f"/aws/lambda/{name}"
    assert got["Tags"] == {"team": "blue"}
    location = got["Code"]["Location"]
    assert location.startswith(srv.url)
    download = urllib3.PoolManager().request("GET", location)
    assert download.status == 200 and download.data == package(RETURN_ONE)
    forged = urllib3.PoolManager().request(
        "GET", location.replace(name, name + "x").replace("Expires=", "Expires=1")
    )
    assert forged.status == 403
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    # The same function by ARN and by partial ARN.
    assert lam.get_function_configuration(FunctionName=arn)["FunctionName"] == name
    assert lam.get_function(FunctionName=f"{ACCOUNT}:function:{name}")["Configuration"]["FunctionArn"] == arn

    names = [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    assert name in names

    updated = lam.update_function_configuration(
        FunctionName=name, Timeout=20, Description="second", Environment={"Variables": {"STAGE": "prod"}}
    )
    assert (updated["Timeout"], updated["Description"]) == (20, "second")
    assert updated["RevisionId"] != config["RevisionId"]
    new_code = lam.update_function_code(
        FunctionName=name, ZipFile=package("def handler(event, context):\n    return 2\n")
    )
    assert new_code["CodeSha256"] != created["CodeSha256"]
    assert invoke_json(lam, name)[1] == 2

    with pytest.raises(ClientError) as exc:  # a stale revision
        lam.update_function_configuration(FunctionName=name, Timeout=5, RevisionId=config["RevisionId"])
    assert error(exc)[0] == "PreconditionFailedException" and error(exc)[2] == 412

    assert lam.delete_function(FunctionName=name)["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as exc:
        lam.get_function(FunctionName=name)
    assert error(exc) == ("ResourceNotFoundException", f"Function not found: {arn}", 404)
    assert exc.value.response["Type"] == "User"
    with pytest.raises(ClientError) as exc:
        lam.delete_function(FunctionName=name)
    assert error(exc)[0] == "ResourceNotFoundException"


def test_list_functions_pages(srv, role):
    lam = srv.client("lambda")
    prefix = unique("page")
    for i in range(3):
        create_function(lam, role["Arn"], RETURN_ONE, name=f"{prefix}-{i}")
    seen = []
    for page in lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 2}):
        assert len(page["Functions"]) <= 2
        seen += [f["FunctionName"] for f in page["Functions"]]
    assert [n for n in seen if n.startswith(prefix)] == [f"{prefix}-{i}" for i in range(3)]
    assert len(seen) == len(set(seen))


def test_create_refusals(srv, role):
    lam = srv.client("lambda")
    name = unique("dup")
    create_function(lam, role["Arn"], RETURN_ONE, name=name)
    with pytest.raises(ClientError) as exc:
        create_function(lam, role["Arn"], RETURN_ONE, name=name)
    assert error(exc) == ("ResourceConflictException", f"Function already exist: {name}", 409)

    with pytest.raises(ClientError) as exc:
        lam.create_function(
            FunctionName=unique("bad"),
            Runtime="python3.12",
            Role=role["Arn"],
            Handler="app.handler",
            Code={"ZipFile": b"not a zip"},
        )
    assert error(exc)[0] == "InvalidParameterValueException"
    assert "Could not unzip uploaded file" in error(exc)[1]

    with pytest.raises(ClientError) as exc:
        create_function(lam, role["Arn"], RETURN_ONE, Environment={"Variables": {"AWS_REGION": "eu-west-1"}})
    assert error(exc)[0] == "InvalidParameterValueException"
    assert "Reserved keys used in this request: AWS_REGION" in error(exc)[1]

    with pytest.raises(ClientError) as exc:
        create_function(lam, role["Arn"], RETURN_ONE, Timeout=901)
    assert error(exc)[0] == "ValidationException"
    assert "Value '901' at 'timeout' failed to satisfy constraint" in error(exc)[1]

    with pytest.raises(ClientError) as exc:
        create_function(lam, role["Arn"], RETURN_ONE, Runtime="python3.7")
    assert "no longer supported" in error(exc)[1]


def test_unimplemented_settings_are_refused(srv, role):
    lam = srv.client("lambda")
    for settings, member in (
        ({"Publish": True}, "Publish"),
        ({"VpcConfig": {"SubnetIds": ["subnet-1"], "SecurityGroupIds": ["sg-1"]}}, "VpcConfig"),
        ({"TracingConfig": {"Mode": "Active"}}, "TracingConfig.Mode"),
    ):
        name = unique("refused")
        with pytest.raises(ClientError) as exc:
            create_function(lam, role["Arn"], RETURN_ONE, name=name, **settings)
        code, message, status = error(exc)
        assert (code, status) == ("NotImplemented", 501)
        assert f"the member {member} of CreateFunction" in message
        with pytest.raises(ClientError):
            lam.get_function(FunctionName=name)  # nothing was created
    create_function(lam, role["Arn"], RETURN_ONE, Publish=False, TracingConfig={"Mode": "PassThrough"})


@pytest.mark.parametrize(
    "trust",
    [
        lambda_trust(service="ec2.amazonaws.com"),  # trusts another service
        lambda_trust({"StringEquals": {"aws:SourceAccount": "999999999999"}}),  # for another account only
    ],
)
def test_a_role_lambda_cannot_assume(srv, trust):
    lam = srv.client("lambda")
    untrusted = make_role(srv, trust=trust)
    with pytest.raises(ClientError) as exc:
        create_function(lam, untrusted["Arn"], RETURN_ONE)
    assert error(exc) == (
        "InvalidParameterValueException",
        "The role defined for the function cannot be assumed by Lambda.",
        400,
    )


def test_a_role_that_does_not_exist(srv):
    with pytest.raises(ClientError) as exc:
        create_function(srv.client("lambda"), f"arn:aws:iam::{ACCOUNT}:role/no-such-role", RETURN_ONE)
    assert error(exc)[0] == "InvalidParameterValueException"


def test_pass_role_refusals(srv, role):
    other = make_role(srv)
    lambda_admin = allow(
        ["lambda:CreateFunction", "lambda:UpdateFunctionConfiguration", "lambda:GetFunction"]
    )
    # No iam:PassRole at all.
    user, key = make_user(srv, doc(lambda_admin))
    lam = srv.client("lambda", key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError) as exc:
        create_function(lam, role["Arn"], RETURN_ONE)
    assert error(exc) == (
        "AccessDeniedException",
        f"User: {user['Arn']} is not authorized to perform: iam:PassRole on resource: {role['Arn']} "
        "because no identity-based policy allows the iam:PassRole action",
        403,
    )
    # PassRole only to another service.
    _, key = make_user(
        srv,
        doc(
            lambda_admin,
            allow("iam:PassRole", "*", {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}),
        ),
    )
    lam = srv.client("lambda", key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError) as exc:
        create_function(lam, role["Arn"], RETURN_ONE)
    assert error(exc)[0] == "AccessDeniedException" and "iam:PassRole" in error(exc)[1]
    # PassRole of this one role to Lambda: creating works, switching to another role does not.
    _, key = make_user(
        srv,
        doc(
            lambda_admin,
            allow(
                "iam:PassRole", role["Arn"], {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}
            ),
        ),
    )
    lam = srv.client("lambda", key["AccessKeyId"], key["SecretAccessKey"])
    name = create_function(lam, role["Arn"], RETURN_ONE)["FunctionName"]
    with pytest.raises(ClientError) as exc:
        lam.update_function_configuration(FunctionName=name, Role=other["Arn"])
    assert error(exc)[0] == "AccessDeniedException" and other["Arn"] in error(exc)[1]
    lam.update_function_configuration(FunctionName=name, Description="no role change needs no PassRole")
    # The trail has the refusal.
    refused = [r for r in trail_events(srv, "UpdateFunctionConfiguration") if r.get("errorCode")]
    assert any(other["Arn"] in r["errorMessage"] for r in refused)


def test_lambda_actions_are_authorized(srv, role):
    lam = srv.client("lambda")
    name = create_function(lam, role["Arn"], RETURN_ONE)["FunctionName"]
    arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"
    user, key = make_user(srv, doc(allow("lambda:GetFunction", arn)))
    mine = srv.client("lambda", key["AccessKeyId"], key["SecretAccessKey"])
    assert mine.get_function(FunctionName=name)["Configuration"]["FunctionArn"] == arn
    with pytest.raises(ClientError) as exc:
        mine.invoke(FunctionName=name)
    assert error(exc) == (
        "AccessDeniedException",
        f"User: {user['Arn']} is not authorized to perform: lambda:InvokeFunction on resource: {arn} "
        "because no identity-based policy allows the lambda:InvokeFunction action",
        403,
    )
    with pytest.raises(ClientError) as exc:
        mine.list_functions()
    assert error(exc)[0] == "AccessDeniedException"
