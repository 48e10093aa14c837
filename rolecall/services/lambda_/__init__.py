"""AWS Lambda (REST-JSON, 2015-03-31): functions that run with their execution role.

Python functions (.zip packages, Code.ZipFile) run in a fresh Python process per invocation, inside a
sandbox that holds nothing of the server's (sandbox; runtime, started through bootstrap), with
credentials from an AssumeRole by lambda.amazonaws.com on the execution role
(rolecall.services.sts.service_sessions), and write their logs through the CloudWatch Logs API with
those credentials (logs). Operations are in operations; the function records and their
checks in functions; packages (in the store) and their unpacked copies (on each node) in code; invocation
jobs in invoke; code download URLs in code_url; packages an older rolecall kept in the data dir, moved into
the store at start, in legacy.
"""

from __future__ import annotations

from pathlib import Path

from rolecall.core.host import Host, InternalRoute
from rolecall.core.operations import Service
from rolecall.http import HttpRequest, HttpResponse
from rolecall.services.lambda_.code import CodeCache
from rolecall.services.lambda_.code_url import CODE_PREFIX, code_response
from rolecall.services.lambda_.invoke import Runner
from rolecall.services.lambda_.legacy import import_legacy_packages
from rolecall.services.lambda_.operations import FunctionOperations, InvokeOperations


class Lambda(Service):
    name = "lambda"
    model = "lambda"
    families = (FunctionOperations, InvokeOperations)

    def __init__(self) -> None:
        super().__init__()
        self._runner: Runner | None = None

    def start(self, host: Host) -> None:
        super().start(host)
        if host.config.data_dir:
            import_legacy_packages(host.store, Path(host.config.data_dir) / "lambda")
        self._runner = Runner(host)
        self._runner.announce()

    def stop(self) -> None:
        if self._runner is not None:
            self._runner.close()

    def runner(self) -> Runner:
        if self._runner is None:
            raise RuntimeError("the Lambda service has not been started")
        return self._runner

    def code_cache(self) -> CodeCache:
        return self.runner().code_cache()

    def internal_routes(self) -> dict[str, InternalRoute]:
        return {CODE_PREFIX: self.code_download}

    def code_download(self, req: HttpRequest) -> HttpResponse:
        """GET of a Code.Location URL (served outside the AWS API)."""
        assert self.host is not None
        return code_response(self.host, req)


__all__ = ["Lambda"]
