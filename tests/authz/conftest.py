"""The services' in-process harness, for tests of what the authorizer reads from the store."""

from tests.services.conftest import call, env, iam_env  # noqa: F401 (fixtures)
from tests.services.iam.conftest import user  # noqa: F401 (fixture)
