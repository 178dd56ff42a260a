"""Static check of an entry's source: entries get gradients only through the counted closure.

Python cannot make an object truly private, so besides the closure exposing nothing uncounted,
the entry's source files (its module and the shared ``optimizers/_*.py`` helpers) are read
before it runs and rejected if they reach into the harness:

* importing ``problems``, ``bench`` (other than nothing: entries need neither), or the
  introspection modules ``gc``, ``inspect``, ``ctypes``;
* any attribute or ``getattr`` name mentioning the oracle or the problem, or a name-mangled
  closure attribute (``_Closure__...``);
* function/frame introspection: ``__closure__``, ``__globals__``, ``__code__``, ``_getframe``,
  ``f_back``, ``f_locals``, ``f_globals``, ``__self__``, ``__func__``;
* ``getattr``/``setattr``/``delattr`` with a computed name, ``vars``, ``globals``, ``eval``,
  ``exec``, ``__import__``.
"""

from __future__ import annotations

import ast
import pathlib
import re

FORBIDDEN_MODULES = {"problems", "bench", "gc", "inspect", "ctypes"}
FORBIDDEN_ATTRS = {"__closure__", "__globals__", "__code__", "_getframe", "f_back", "f_locals",
                   "f_globals", "__self__", "__func__", "__reduce__", "__reduce_ex__"}
HARNESS_NAME = re.compile(r"oracle|problem|^_Closure", re.IGNORECASE)
FORBIDDEN_CALLS = {"vars", "globals", "eval", "exec", "__import__", "compile"}


def lint_source(source: str, filename: str = "<entry>") -> list[str]:
    """Violations as ``file:line: message`` strings (empty: the entry is clean)."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        where = f"{filename}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in FORBIDDEN_MODULES:
                    found.append(f"{where}: imports {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            if (node.module or "").split(".")[0] in FORBIDDEN_MODULES:
                found.append(f"{where}: imports from {node.module}")
        elif isinstance(node, ast.Attribute):
            if node.attr in FORBIDDEN_ATTRS:
                found.append(f"{where}: uses .{node.attr}")
            elif HARNESS_NAME.search(node.attr):
                found.append(f"{where}: reaches for .{node.attr}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            name = node.func.id
            if name in FORBIDDEN_CALLS:
                found.append(f"{where}: calls {name}()")
            elif name in ("getattr", "setattr", "delattr", "hasattr") and len(node.args) > 1:
                arg = node.args[1]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    if HARNESS_NAME.search(arg.value) or arg.value in FORBIDDEN_ATTRS:
                        found.append(f"{where}: {name}(..., {arg.value!r})")
                elif isinstance(arg, ast.Name) and arg.id.isupper():
                    continue  # a module constant, checked where it is defined as a string
                else:
                    found.append(f"{where}: {name}() with a computed attribute name")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if re.fullmatch(r"_Closure__\w+|__closure__|__globals__", node.value):
                found.append(f"{where}: names {node.value!r}")
    return found


def lint_file(path: str | pathlib.Path) -> list[str]:
    path = pathlib.Path(path)
    return lint_source(path.read_text(encoding="utf-8"), str(path))


def lint_entry_files(paths: list[str | pathlib.Path]) -> list[str]:
    out: list[str] = []
    for p in paths:
        out.extend(lint_file(p))
    return out
