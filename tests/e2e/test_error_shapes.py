"""Each service's own error shapes, against a real server: EC2's authentication failures, and services
rolecall does not serve answered in their own protocol, so that their SDKs raise a ClientError."""

from __future__ import annotations

import botocore.config
import pytest
from botocore import UNSIGNED
from botocore.exceptions import ClientError

from rolecall.audit.records import UNAUTHENTICATED
from tests.servers import InProcessServer

# EC2's words (Amazon EC2 API Reference, "Error codes for the Amazon EC2 API").
AUTH_FAILURE = ("AuthFailure", "AWS was not able to validate the provided access credentials", 401)


def error(exc: pytest.ExceptionInfo) -> tuple[str, str, int]:
    e = exc.value.response
    return e["Error"]["Code"], e["Error"]["Message"], e["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture
def clocked(tmp_path):
    """A server of its own, whose clock the test moves."""
    s = InProcessServer(tmp_path).start()
    yield s
    s.stop()


def test_ec2_answers_authentication_failures_in_its_own_words(clocked):
    srv = clocked
    iam = srv.client("iam")
    iam.create_user(UserName="ec2-auth")
    key = iam.create_access_key(UserName="ec2-auth")["AccessKey"]
    # An unknown key and a signature that does not hold: AuthFailure, where IAM says InvalidClientTokenId
    # and SignatureDoesNotMatch.
    with pytest.raises(ClientError) as exc:
        srv.client("ec2", "AKIAUNKNOWNUNKNOWN00", "x" * 40).describe_instances()
    assert error(exc) == AUTH_FAILURE
    with pytest.raises(ClientError) as exc:
        srv.client("ec2", key["AccessKeyId"], "not-the-secret").describe_instances()
    assert error(exc) == AUTH_FAILURE
    with pytest.raises(ClientError) as exc:
        srv.client("iam", key["AccessKeyId"], "not-the-secret").list_roles()
    assert error(exc)[0] == "SignatureDoesNotMatch"  # IAM keeps its own words
    # Unsigned: EC2 asks for the key it did not get.
    unsigned = srv.session().client(
        "ec2", endpoint_url=srv.url, config=botocore.config.Config(signature_version=UNSIGNED)
    )
    with pytest.raises(ClientError) as exc:
        unsigned.describe_instances()
    assert error(exc) == ("MissingParameter", "The request must contain the parameter AWSAccessKeyId", 400)
    # Expired temporary credentials: RequestExpired, where STS says ExpiredToken.
    creds = srv.client("sts").get_session_token(DurationSeconds=900)["Credentials"]
    temporary = (creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    srv.client("ec2", *temporary).describe_instances()
    srv.clock.advance(901)
    with pytest.raises(ClientError) as exc:
        srv.client("ec2", *temporary).describe_instances()
    assert error(exc) == ("RequestExpired", "Request has expired.", 400)
    with pytest.raises(ClientError) as exc:
        srv.client("sts", *temporary).get_caller_identity()
    assert error(exc)[0] == "ExpiredToken"
    # The trail records what the client was told -- in the trail of unauthenticated requests, never in an
    # account's (the caller proved none; see tests/e2e/test_failed_authentication.py).
    srv.pipeline.flush_trail()
    records, _ = srv.store.lookup_events(
        UNAUTHENTICATED,
        attribute=("EventSource", "ec2.amazonaws.com"),
        start=None,
        end=None,
        max_results=50,
        next_token=None,
    )
    assert {"AuthFailure", "MissingParameter", "RequestExpired"} <= {r.get("errorCode") for r in records}


# One call per protocol botocore speaks: json (1.1 and SWF's 1.0), SQS (json or query, as botocore's
# version has it), query (CloudFormation), rest-xml (Route 53), rest-json (API Gateway), rpc-v2-cbor
# (CodeBuild's model, whose JSON botocore prefers).
UNSERVED_CALLS = [
    ("kms", "list_keys", {}),
    ("secretsmanager", "list_secrets", {}),
    ("organizations", "describe_organization", {}),
    ("swf", "list_domains", {"registrationStatus": "REGISTERED"}),  # json 1.0
    ("sqs", "list_queues", {}),
    ("cloudformation", "list_stacks", {}),  # query
    ("route53", "list_hosted_zones", {}),
    ("apigateway", "get_rest_apis", {}),
    ("codebuild", "list_projects", {}),
]


@pytest.mark.parametrize(("service", "method", "kwargs"), UNSERVED_CALLS, ids=[c[0] for c in UNSERVED_CALLS])
def test_unserved_services_answer_in_their_own_protocol(server, service, method, kwargs):
    client = server.client(service)
    with pytest.raises(ClientError) as exc:  # a parse error would be another exception
        getattr(client, method)(**kwargs)
    code, message, status = error(exc)
    assert (code, status) == ("NotImplemented", 501)
    signing_name = client.meta.service_model.signing_name
    assert message == f"rolecall does not implement the {signing_name} service."
    assert exc.value.response["ResponseMetadata"]["RequestId"]
    # Bad credentials are refused in the same protocol, in the words its services use.
    with pytest.raises(ClientError) as exc:
        getattr(server.client(service, "AKIAUNKNOWNUNKNOWN00", "x" * 40), method)(**kwargs)
    code, _, status = error(exc)
    protocol = client.meta.service_model.protocol
    json_family = protocol in ("json", "rest-json", "smithy-rpc-v2-cbor")
    assert code == ("UnrecognizedClientException" if json_family else "InvalidClientTokenId")
    assert status == 403


def test_unsigned_call_to_an_unserved_json_service(server):
    """Cognito Identity's GetId is unsigned: no credential scope names the service, but its X-Amz-Target
    marks it as JSON, so the refusal (every call to rolecall is authenticated first) is JSON its SDK reads."""
    with pytest.raises(ClientError) as exc:
        server.client("cognito-identity").get_id(
            IdentityPoolId="us-east-1:00000000-0000-0000-0000-000000000000"
        )
    assert error(exc) == ("MissingAuthenticationTokenException", "Missing Authentication Token", 403)


def test_unserved_service_error_through_the_aws_cli(server):
    out = server.cli("kms", "list-keys", check=False)
    assert out.returncode != 0
    assert (
        "An error occurred (NotImplemented) when calling the ListKeys operation: "
        "rolecall does not implement the kms service." in out.stderr
    )
