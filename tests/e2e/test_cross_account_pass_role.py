"""Passing another account's role to a service is refused, as AWS refuses it (IAM: "You can only use the
PassRole permission to pass an IAM role to a service that shares the same AWS account"): Lambda's execution
role, EC2's instance profile. The other account's role exists and trusts the service, and the caller may
pass any role, so nothing but the account boundary stands in the way."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.e2e.ec2.helpers import AMI, EC2_TRUST, make_profile
from tests.e2e.lambda_.helpers import create_function, lambda_trust, make_role, package, unique
from tests.servers import Server

OTHER = "222233334444"
RETURN_ONE = "def handler(event, context):\n    return 1\n"
CROSS_ACCOUNT = ("AccessDeniedException", "Cross-account pass role is not allowed.")


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("xacct")).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def other(srv) -> Server:
    """The second account's root, on the same server."""
    out = srv.rolecall("account", "create", "--account-id", OTHER, *srv.store_args())
    assert out.returncode == 0, out.stderr
    creds = json.loads(out.stdout)
    return Server(
        srv.data_dir, port=srv.port, access_key=creds["AccessKeyId"], secret_key=creds["SecretAccessKey"]
    )


@pytest.fixture(scope="module")
def passer(srv) -> tuple[str, str]:
    """An IAM user of the first account allowed every Lambda and EC2 action and iam:PassRole on any role."""
    iam = srv.client("iam")
    name = unique("passer")
    iam.create_user(UserName=name)
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["lambda:*", "ec2:*", "iam:PassRole"], "Resource": "*"}],
    }
    iam.put_user_policy(UserName=name, PolicyName="all", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


@pytest.mark.parametrize("as_user", [False, True], ids=["root", "user-with-passrole-on-*"])
def test_lambda_create_function_refuses_another_accounts_role(srv, other, passer, as_user):
    foreign = make_role(other, trust=lambda_trust())  # exists, and trusts Lambda
    lam = srv.client("lambda", *passer) if as_user else srv.client("lambda")
    name = unique("fn")
    with pytest.raises(ClientError) as exc:
        create_function(lam, foreign["Arn"], RETURN_ONE, name=name)
    assert error(exc) == CROSS_ACCOUNT
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as missing:
        srv.client("lambda").get_function(FunctionName=name)
    assert error(missing)[0] == "ResourceNotFoundException"
    # The same call with a role of the caller's own account succeeds: only the account was wrong.
    own = make_role(srv)
    assert create_function(lam, own["Arn"], RETURN_ONE, name=name)["Role"] == own["Arn"]


def test_lambda_update_function_configuration_refuses_another_accounts_role(srv, other, passer):
    own = make_role(srv)
    name = create_function(srv.client("lambda"), own["Arn"], RETURN_ONE)["FunctionName"]
    foreign = make_role(other, trust=lambda_trust())
    for lam in (srv.client("lambda"), srv.client("lambda", *passer)):
        with pytest.raises(ClientError) as exc:
            lam.update_function_configuration(FunctionName=name, Role=foreign["Arn"])
        assert error(exc) == CROSS_ACCOUNT
    assert srv.client("lambda").get_function_configuration(FunctionName=name)["Role"] == own["Arn"]


def test_lambda_in_the_other_account_may_use_that_role(other):
    """The role is usable by its own account: the refusal above is about accounts, not the role."""
    role = make_role(other, trust=lambda_trust())
    lam = other.client("lambda")
    created = lam.create_function(
        FunctionName=unique("fn"),
        Role=role["Arn"],
        Runtime="python3.12",
        Handler="app.handler",
        Code={"ZipFile": package(RETURN_ONE)},
    )
    assert created["FunctionArn"].split(":")[4] == OTHER


@pytest.mark.parametrize("as_user", [False, True], ids=["root", "user-with-passrole-on-*"])
def test_ec2_refuses_another_accounts_instance_profile(srv, other, passer, as_user):
    _, foreign = make_profile(other, trust=EC2_TRUST)
    assert foreign["Arn"].split(":")[4] == OTHER
    ec2 = srv.client("ec2", *passer) if as_user else srv.client("ec2")
    invalid = (
        "InvalidParameterValue",
        f"Value ({foreign['Arn']}) for parameter iamInstanceProfile.arn is invalid. Invalid IAM Instance Profile ARN",
    )
    spec = {"Arn": foreign["Arn"]}

    with pytest.raises(ClientError) as exc:
        ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, IamInstanceProfile=spec)
    assert error(exc) == invalid

    instance = ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    with pytest.raises(ClientError) as exc:
        ec2.associate_iam_instance_profile(InstanceId=instance, IamInstanceProfile=spec)
    assert error(exc) == invalid
    assert not ec2.describe_iam_instance_profile_associations(
        Filters=[{"Name": "instance-id", "Values": [instance]}]
    )["IamInstanceProfileAssociations"]

    _, own = make_profile(srv)
    association = ec2.associate_iam_instance_profile(
        InstanceId=instance, IamInstanceProfile={"Arn": own["Arn"]}
    )
    association_id = association["IamInstanceProfileAssociation"]["AssociationId"]
    with pytest.raises(ClientError) as exc:
        ec2.replace_iam_instance_profile_association(AssociationId=association_id, IamInstanceProfile=spec)
    assert error(exc) == invalid
    current = ec2.describe_iam_instance_profile_associations(
        Filters=[{"Name": "instance-id", "Values": [instance]}, {"Name": "state", "Values": ["associated"]}]
    )["IamInstanceProfileAssociations"]
    assert [a["IamInstanceProfile"]["Arn"] for a in current] == [own["Arn"]]
