"""The ec2 protocol: query-style parameters in, EC2's own XML out.

Input differs from awsquery in two ways (botocore's EC2Serializer is the reference):
    - a member is sent under its queryName, else its locationName with the first letter capitalized,
      else its member name: IamInstanceProfile.Name, Filter.1.Name, Filter.1.Value.1;
    - list elements are numbered directly under the list's name (InstanceId.1, InstanceId.2), with no
      ".member" segment, and an empty list is not sent at all.

Responses have no result wrapper; the request id comes first, members follow under their lower-camel
locationNames, and list elements are <item>s:
    <RunInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
      <requestId>...</requestId><reservationId>r-...</reservationId><instancesSet><item>...</item>...
    </RunInstancesResponse>
Errors:
    <Response><Errors><Error><Code>..</Code><Message>..</Message></Error></Errors><RequestID>..</RequestID></Response>
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from botocore.model import OperationModel, Shape

from rolecall.errors import AwsError
from rolecall.http import HttpRequest, HttpResponse
from rolecall.wire.codec import BadValue
from rolecall.wire.query import (
    Node,
    QueryCodec,
    QueryReaderCompiler,
    Reader,
    _indexed,
    form_params,
    param_tree,
)
from rolecall.wire.xmlout import escape, render

_MISSING = re.compile(r"^Value null at '([^']+)' failed to satisfy constraint: Member must not be null$")
# An instance type EC2 does not have (botocore's enum lists every one it has).
_INSTANCE_TYPE = re.compile(
    r"^Value '(.*)' at 'instanceType' failed to satisfy constraint: Member must satisfy enum"
)


def ec2_member_key(member: Shape, member_name: str) -> str:
    """The parameter name EC2 expects a structure member under."""
    serialization = member.serialization
    if "queryName" in serialization:
        return str(serialization["queryName"])
    name = serialization.get("name")
    if name:
        return str(name[:1].upper() + name[1:])
    return member_name


class Ec2ReaderCompiler(QueryReaderCompiler):
    """Readers of EC2's parameter trees: EC2 member names and directly numbered list elements."""

    def member_key(self, member: Shape, member_name: str) -> str:
        return ec2_member_key(member, member_name)

    def _list(self, shape: Shape) -> Reader:
        read_item = self.reader(shape.member)

        def read_list(node: Node) -> list[Any] | None:
            numbered = _indexed(node)
            if not numbered:
                return None
            items: list[Any] = []
            for index, child in numbered:
                try:
                    value = read_item(child)
                except BadValue as exc:
                    exc.parts.append(str(index))
                    raise
                if value is not None:
                    items.append(value)
            return items

        return read_list


class Ec2Codec(QueryCodec):
    protocol = "ec2"
    validation_error_code = "InvalidParameterValue"

    def __init__(self, model: Any) -> None:
        super().__init__(model)
        self._readers = Ec2ReaderCompiler()
        # EC2 answers with the namespace ending in a slash; the model spells it without.
        self.namespace = self.namespace if self.namespace.endswith("/") else self.namespace + "/"

    # -- decode ------------------------------------------------------------------------------------------

    def _decode(self, req: HttpRequest, *, validate: bool) -> tuple[str, dict[str, Any]]:
        params = form_params(req)
        action = params.get("Action")
        if not action:
            raise AwsError("The request must contain the parameter Action", code="MissingParameter")
        if action not in self.operation_names:
            raise AwsError(f"The action {action} is not valid for this web service.", code="InvalidAction")
        # EC2 still serves every API version it ever published; only its absence is an error.
        if not params.get("Version"):
            raise AwsError("The request must contain the parameter Version", code="MissingParameter")
        return action, self.read_input(action, param_tree(params), validate=validate)

    def validate(self, operation: str, params: dict[str, Any]) -> None:
        """EC2 reports a missing required parameter as MissingParameter, anything else as InvalidParameterValue."""
        messages = self.violations(operation, params)
        for message in messages:
            missing = _MISSING.match(message)
            if missing:
                name = missing.group(1).rsplit(".", 1)[-1]
                raise AwsError(
                    f"The request must contain the parameter {name[:1].upper() + name[1:]}",
                    code="MissingParameter",
                )
        for message in messages:
            unknown = _INSTANCE_TYPE.match(message)
            if unknown:
                raise AwsError(
                    f"Invalid value '{unknown.group(1)}' for InstanceType.", code="InvalidParameterValue"
                )
        if messages:
            raise self.validation_error(messages)

    # -- encode ------------------------------------------------------------------------------------------

    def _compile_writer(self, op_model: OperationModel) -> Callable[[Any], Any] | None:
        shape = op_model.output_shape
        if shape is None:
            return None
        content = self._writers.content(shape)
        return lambda output: render(content, output)  # EC2 never wraps its result

    def encode(self, operation: str, output: dict[str, Any] | None, request_id: str) -> HttpResponse:
        write = self.plan(operation).write
        result = write(output or {}) if write is not None else ""
        if write is None:
            result = "<return>true</return>"  # EC2's answer to an operation without output members
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<{operation}Response xmlns="{self.namespace}">'
            f"<requestId>{escape(request_id)}</requestId>{result}</{operation}Response>"
        )
        return self._response(200, body, request_id)

    def encode_error(self, err: AwsError, request_id: str, operation: str | None = None) -> HttpResponse:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Response><Errors><Error><Code>{escape(err.code)}</Code><Message>{escape(err.message)}</Message>"
            f"</Error></Errors><RequestID>{escape(request_id)}</RequestID></Response>"
        )
        return self._response(err.status, body, request_id)
