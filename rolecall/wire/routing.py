"""Which operation a REST request is for: its method and path against the model's requestUri templates.

A template such as "/2015-03-31/functions/{FunctionName}/invocations" becomes one anchored regular
expression over the raw (still percent-encoded) path: "{Name}" matches one path segment, "{Name+}" (greedy)
the rest of the path, slashes included. A template may carry a fixed query ("/2018-10-31/layers?find=
LayerVersion"); such a route only matches a request whose query has those parameters, and is tried before
the same path without them. Among the rest, routes with more literal text are tried first, so
"/functions/{FunctionName}/policy" wins over a route ending in a label at that position.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote

from botocore.model import ServiceModel

_LABEL = re.compile(r"\{([A-Za-z0-9_]+)(\+?)\}")


@dataclass(frozen=True)
class Route:
    operation: str
    method: str
    pattern: re.Pattern[str]
    labels: tuple[tuple[str, str, bool], ...]  # (regex group, member's label name, greedy)
    fixed_query: tuple[tuple[str, str], ...]  # query parameters the template itself carries
    literal_length: int

    def match(self, path: str, query: dict[str, list[str]]) -> dict[str, str] | None:
        """The decoded label values when `path` (raw) and `query` fit this route, else None."""
        found = self.pattern.fullmatch(path)
        if found is None:
            return None
        for key, value in self.fixed_query:
            values = query.get(key)
            if values is None or (value and value not in values):
                return None
        return {name: unquote(found.group(group), errors="strict") for group, name, _ in self.labels}


def compile_route(operation: str, method: str, request_uri: str) -> Route:
    path, _, fixed = request_uri.partition("?")
    parts: list[str] = []
    labels: list[tuple[str, str, bool]] = []
    literal = 0
    position = 0
    for index, label in enumerate(_LABEL.finditer(path)):
        text = path[position : label.start()]
        parts.append(re.escape(text))
        literal += len(text)
        group = f"g{index}"
        greedy = bool(label.group(2))
        parts.append(f"(?P<{group}>.+)" if greedy else f"(?P<{group}>[^/]+)")
        labels.append((group, label.group(1), greedy))
        position = label.end()
    tail = path[position:]
    parts.append(re.escape(tail))
    literal += len(tail)
    fixed_query = tuple(parse_qsl(fixed, keep_blank_values=True)) if fixed else ()
    return Route(operation, method.upper(), re.compile("".join(parts)), tuple(labels), fixed_query, literal)


class Router:
    """All routes of one service model, grouped by method and ordered for first-match lookup."""

    def __init__(self, model: ServiceModel) -> None:
        by_method: dict[str, list[Route]] = {}
        for name in model.operation_names:
            http = model.operation_model(name).http
            route = compile_route(name, http.get("method", "POST"), http.get("requestUri", "/"))
            by_method.setdefault(route.method, []).append(route)
        for routes in by_method.values():
            routes.sort(key=lambda r: (-len(r.fixed_query), -r.literal_length, len(r.labels)))
        self._routes = by_method

    def find(self, method: str, path: str, query: dict[str, list[str]]) -> tuple[str, dict[str, str]] | None:
        """(operation, label values) for a request, or None when no operation has that method and path."""
        for route in self._routes.get(method.upper(), ()):
            labels = route.match(path, query)
            if labels is not None:
                return route.operation, labels
        return None


def parse_query(query_string: str) -> dict[str, list[str]]:
    """Every value of every query parameter, decoded, in the order sent."""
    out: dict[str, list[str]] = {}
    for key, value in parse_qsl(query_string, keep_blank_values=True, errors="strict"):
        out.setdefault(key, []).append(value)
    return out
