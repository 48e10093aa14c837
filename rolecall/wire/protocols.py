"""Which codec serves which service: chosen by the protocol its botocore model declares."""

from __future__ import annotations

from functools import cache

from rolecall.wire.codec import Codec
from rolecall.wire.ec2 import Ec2Codec
from rolecall.wire.jsonrpc import JsonCodec
from rolecall.wire.models import service_model
from rolecall.wire.query import QueryCodec
from rolecall.wire.restjson import RestJsonCodec
from rolecall.wire.restxml import RestXmlCodec
from rolecall.wire.rpcv2cbor import RpcV2CborCodec

# Protocol name in the model's metadata -> codec class. ec2, rest-json and rest-xml join this table.
CODECS: dict[str, type[Codec]] = {
    "query": QueryCodec,
    "json": JsonCodec,
    "rest-json": RestJsonCodec,
    "ec2": Ec2Codec,
    "rest-xml": RestXmlCodec,
    "smithy-rpc-v2-cbor": RpcV2CborCodec,
}


@cache
def codec_for(service_name: str) -> Codec:
    """The (cached) codec for a botocore service name such as "iam", "sts" or "cloudtrail"."""
    model = service_model(service_name)
    codec_class = CODECS.get(model.protocol)
    if codec_class is None:
        raise NotImplementedError(f"no codec for the {model.protocol!r} protocol (service {service_name!r})")
    return codec_class(model)
