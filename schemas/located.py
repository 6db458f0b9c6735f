"""Configuration files read into pydantic models, with errors that point at the bad key: one line,
`file:line:column: path: message`, the same for promises (YAML), areas (GeoJSON) and aliases (YAML)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import yaml
from pydantic import ValidationError

Loc = tuple[int | str, ...]


class CodeLoader(yaml.SafeLoader):
    """YAML 1.1 reads an unquoted `0301` as the octal number 193 (and `0484` as text): codes keep their
    leading zeros in the contract, so plain scalars of digits with a leading zero stay text."""


CodeLoader.yaml_implicit_resolvers = {k: list(v) for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
CodeLoader.yaml_implicit_resolvers["0"].insert(0, ("tag:yaml.org,2002:str", re.compile(r"^0[0-9]+$")))


def read_yaml(text: str, name: str, error: type[Exception]) -> tuple[Any, yaml.Node | None]:
    """The document and its node tree (for positions); a syntax error as `name:line:column: ...`."""
    try:
        return yaml.load(text, Loader=CodeLoader), yaml.compose(text, Loader=CodeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark else name
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise error(f"{where}: not valid YAML: {problem}") from None


def yaml_position(node: yaml.Node | None, loc: Loc) -> tuple[int, int]:
    """Line and column (1-based) of the deepest YAML node on the path `loc` (a `[key]` part, as pydantic
    names a bad mapping key, points at the key itself)."""
    best = node
    for i, part in enumerate(loc):
        after = loc[i + 1] if i + 1 < len(loc) else None
        child = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == str(part):
                    child = key if after == "[key]" else value
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
        if child is None:
            break
        best = node = child
    if best is None:
        return 1, 1
    return best.start_mark.line + 1, best.start_mark.column + 1


def json_position(text: str, loc: Loc) -> tuple[int, int]:
    """Line and column (1-based) of the deepest JSON value on the path `loc` (or of the key, for `[key]`),
    found by scanning the text: values off the path are skipped by the C decoder, so a large file costs
    little."""
    decoder = json.JSONDecoder()
    best = at = _skip(text, 0)
    try:
        for i, part in enumerate(loc):
            found = None
            if part == "[key]":
                break
            if text.startswith("{", at) and isinstance(part, str):
                at = _skip(text, at + 1)
                while text.startswith('"', at):
                    key_at = at
                    key, at = decoder.raw_decode(text, at)
                    at = _skip(text, _skip(text, at) + 1)  # past the colon
                    if key == part:
                        found = key_at if loc[i + 1 : i + 2] == ("[key]",) else at
                        break
                    at = _skip_comma(text, decoder.raw_decode(text, at)[1])
            elif text.startswith("[", at) and isinstance(part, int):
                at = _skip(text, at + 1)
                for _ in range(part):
                    at = _skip_comma(text, decoder.raw_decode(text, at)[1])
                if not text.startswith("]", at):
                    found = at
            if found is None:
                break
            best = at = found
    except ValueError:
        pass  # a path beyond the text: the deepest value found so far
    line = text.count("\n", 0, best) + 1
    return line, best - (text.rfind("\n", 0, best) + 1) + 1


def _skip(text: str, at: int) -> int:
    """Past JSON whitespace."""
    while at < len(text) and text[at] in " \t\n\r":
        at += 1
    return at


def _skip_comma(text: str, at: int) -> int:
    """Past the comma after a value, at the next value or key."""
    at = _skip(text, at)
    return _skip(text, at + 1) if text.startswith(",", at) else at


def dotted(loc: Loc) -> str:
    """`sections[2].measures[0].source`, as a reader of the file names the key."""
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc if p != "[key]").lstrip(".")


def first_error(
    exc: ValidationError,
    name: str,
    position: Callable[[Loc], tuple[int, int]],
    describe: Callable[[Loc], str] = dotted,
    explain: Callable[[str, Loc], str | None] = lambda kind, loc: None,
) -> str:
    """The first validation error as one line: `name:line:column: path: message (and N more)`;
    `explain(error type, loc)` may word an error better than pydantic's own message."""
    first = exc.errors()[0]
    loc: Loc = tuple(first["loc"])
    # An unknown key is pointed at itself rather than at its value.
    line, column = position((*loc, "[key]") if first["type"] == "extra_forbidden" else loc)
    message = explain(first["type"], loc) or first["msg"].removeprefix("Value error, ")
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{name}:{line}:{column}: {describe(loc) or '(top)'}: {message}{more}"
