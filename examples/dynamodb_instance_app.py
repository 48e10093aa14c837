"""The application on the instance in examples/dynamodb_instance_role.py: plain boto3, no keys anywhere.

Its role lets it read one DynamoDB table, and only the items whose partition key is its own user id
(aws:userid: the role's id and the instance id, "AROA...:i-..."). Run it "on" an instance with:

    rolecall ec2 exec INSTANCE_ID -- python examples/dynamodb_instance_app.py TABLE OTHER_OWNER

It reads its own items, and shows what its role does not let it do: read OTHER_OWNER's item, scan the
whole table, or write. Exit status 0 when its role allowed exactly its own reads.
"""

from __future__ import annotations

import sys

import boto3
from botocore.exceptions import ClientError


def attempt(label: str, call, show=lambda result: "", expect_allowed: bool = True) -> bool:
    """Run `call` and print one line saying whether the role allowed it; True when that was expected.

    A refusal counts as expected only when it is DynamoDB's AccessDeniedException.
    """
    try:
        result = call()
    except ClientError as exc:
        error = exc.response["Error"]
        print(f"  refused  {label}: {error['Code']}")
        held = not expect_allowed and error["Code"] == "AccessDeniedException"
    else:
        print(f"  allowed  {label}{show(result)}")
        held = expect_allowed
    if not held:
        print(f"  UNEXPECTED: the role should {'' if expect_allowed else 'not '}be allowed to {label}")
    return held


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    table, other = argv
    session = boto3.Session()
    credentials = session.get_credentials()
    if credentials is None:
        print("  no credentials: is this running under `rolecall ec2 exec` on an instance with a role?")
        return 1
    identity = session.client("sts").get_caller_identity()
    me = identity["UserId"]  # what ${aws:userid} is in the role's policy
    print(f"  identity:    {identity['Arn']}")
    print(f"  credentials: {credentials.method} (temporary key {credentials.access_key[:4]}...)")
    ddb = session.client("dynamodb")
    mine = {"owner": {"S": me}, "note": {"S": "greeting"}}
    theirs = {"owner": {"S": other}, "note": {"S": "greeting"}}
    held = [
        credentials.method == "iam-role",
        attempt(
            "get my item (owner = my aws:userid)",
            lambda: ddb.get_item(TableName=table, Key=mine),
            lambda r: f": {r['Item']['text']['S']!r}",
        ),
        attempt(
            "query my partition",
            lambda: ddb.query(
                TableName=table,
                KeyConditionExpression="#o = :me",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":me": {"S": me}},
            ),
            lambda r: f": {r['Count']} item(s)",
        ),
        attempt(
            "get another instance's item",
            lambda: ddb.get_item(TableName=table, Key=theirs),
            expect_allowed=False,
        ),
        attempt("scan the whole table", lambda: ddb.scan(TableName=table), expect_allowed=False),
        attempt(
            "write my item",
            lambda: ddb.put_item(TableName=table, Item={**mine, "text": {"S": "overwritten"}}),
            expect_allowed=False,
        ),
    ]
    return 0 if all(held) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
