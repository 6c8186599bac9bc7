"""Definitions and identifier references of every source file, via tree-sitter, cached by content hash."""

from __future__ import annotations

import functools
import hashlib
import json
import re
import sqlite3
from contextlib import closing, nullcontext
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from grep_ast.parsers import filename_to_lang
from grep_ast.tsl import get_parser
from pydantic import BaseModel, ConfigDict

from harness.repofiles import list_repo_files, looks_binary, read_text_file

# Bump when the extracted data's shape or meaning changes: old cache rows then miss.
SCHEMA_VERSION = 3
CACHE_FILENAME = "repomap-cache.sqlite3"
_MAX_SIGNATURE = 120
_IDENTIFIER = re.compile(rb"[A-Za-z_][A-Za-z0-9_]{2,}")

# tree-sitter node types that define something, with the kind shown in the map.
# One table for every grammar: node type names are distinct enough across languages.
_CONTAINER_KINDS = {
    "class_definition": "class", "class_declaration": "class", "abstract_class_declaration": "class",
    "class_specifier": "class", "struct_specifier": "struct", "struct_item": "struct",
    "interface_declaration": "interface", "trait_item": "trait", "impl_item": "impl",
    "enum_declaration": "enum", "enum_item": "enum", "module": "module", "class": "class",
    "object_declaration": "object", "record_declaration": "record", "mod_item": "module",
}
_FUNCTION_KINDS = {
    "function_definition": "function", "function_declaration": "function",
    "generator_function_declaration": "function", "method_definition": "method",
    "method_declaration": "method", "constructor_declaration": "constructor",
    "function_item": "function", "method": "method", "singleton_method": "method",
}
_OTHER_KINDS = {"type_alias_declaration": "type", "type_spec": "type", "type_item": "type"}


class Definition(BaseModel):
    """One class, function, method or type definition in a file.

    Lines are 1-based, columns 0-based; the end is exclusive (tree-sitter's end point).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    name: str
    kind: str
    line: int
    end_line: int
    signature: str
    parent: str | None = None
    column: int = 0
    end_column: int = 0

    def ends_before(self, other: Definition) -> bool:
        """Whether this definition ends before `other` starts (so it cannot enclose it)."""
        return (self.end_line, self.end_column) <= (other.line, other.column)


@dataclass
class FileSymbols:
    """What the map needs from one file: its definitions and the identifiers it mentions."""

    language: str | None
    definitions: list[Definition] = field(default_factory=list)
    references: frozenset[str] = frozenset()


@dataclass
class RepoIndex:
    """Every mappable file of a repo, plus how many were parsed versus served from the cache."""

    files: dict[str, FileSymbols]
    parsed: int = 0
    cached: int = 0


def cache_version() -> str:
    """Part of every cache key: a new harness or grammar release invalidates old entries."""
    versions = []
    for dist in ("harness", "tree-sitter-language-pack", "grep-ast"):
        try:
            versions.append(f"{dist}={metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{dist}=?")
    return f"schema={SCHEMA_VERSION};" + ";".join(versions)


@functools.lru_cache(maxsize=None)
def _parser(language: str):  # noqa: ANN202 - tree_sitter.Parser
    """One parser per language, kept for the process: building one loads the grammar.

    This is the module's only state; parsers are not shared across threads by the harness.
    """
    return get_parser(language)


def _name_of(node) -> str | None:  # noqa: ANN001 - tree_sitter.Node
    """The defined name: the `name` field, else (C/C++) the innermost declarator's
    identifier, else (a Rust `impl`) the implemented type."""
    named = node.child_by_field_name("name")
    if named is None:
        declarator = node.child_by_field_name("declarator")
        while declarator is not None and declarator.child_by_field_name("declarator") is not None:
            declarator = declarator.child_by_field_name("declarator")
        named = declarator
    if named is None and node.type == "impl_item":
        named = node.child_by_field_name("type")
    if named is None or named.text is None:
        return None
    return named.text.decode("utf-8", errors="replace")


def _signature(node, source: bytes) -> str:  # noqa: ANN001
    """The definition's header: its text up to the body, on one line."""
    body = node.child_by_field_name("body")
    end = body.start_byte if body is not None else node.end_byte
    # A comment between the header and the body (`def f():  # why`) is not signature.
    for child in node.children:
        if child.type == "comment" and child.start_byte < end:
            end = child.start_byte
            break
    header = source[node.start_byte:end].decode("utf-8", errors="replace")
    if body is None:
        header = header.splitlines()[0] if header else ""
    header = " ".join(header.split()).rstrip("{:= ").strip()
    # Joining a multi-line parameter list leaves "( a, b, )"; tidy it to "(a, b)".
    header = header.replace("( ", "(").replace(", )", ")").replace(" )", ")")
    return header if len(header) <= _MAX_SIGNATURE else header[: _MAX_SIGNATURE - 3] + "..."


def parse_definitions(path: str, source: bytes, language: str) -> list[Definition]:
    """Every definition tree-sitter finds in one file, in source order."""
    tree = _parser(language).parse(source)
    found: list[Definition] = []
    # Iterative walk: deeply nested code must not hit Python's recursion limit.
    stack = [(tree.root_node, None, False)]
    while stack:
        node, parent, in_container = stack.pop()
        kind = _CONTAINER_KINDS.get(node.type) or _FUNCTION_KINDS.get(node.type) or _OTHER_KINDS.get(node.type)
        child_parent, child_in_container = parent, in_container
        name = _name_of(node) if kind else None
        if kind and name:
            if kind == "function" and in_container:
                kind = "method"
            found.append(Definition(
                path=path, name=name, kind=kind, line=node.start_point[0] + 1,
                end_line=node.end_point[0] + 1, signature=_signature(node, source), parent=parent,
                column=node.start_point[1], end_column=node.end_point[1],
            ))
            child_parent = name
            child_in_container = node.type in _CONTAINER_KINDS
        stack.extend((child, child_parent, child_in_container) for child in reversed(node.children))
    # Pre-order of a walk in source order: sorted by start, an enclosing definition before
    # what it encloses, even when both start on one line.
    return found


def scan_file(path: str, source: bytes) -> FileSymbols:
    """Parse one source file into definitions and referenced identifiers."""
    language = filename_to_lang(path)
    definitions: list[Definition] = []
    if language:
        try:
            definitions = parse_definitions(path, source, language)
        except (LookupError, ValueError, RuntimeError, OSError):
            # A grammar that will not load must not sink the whole map: list the file without definitions.
            definitions = []
    references = frozenset(m.decode("ascii") for m in _IDENTIFIER.findall(source))
    return FileSymbols(language=language, definitions=definitions, references=references)


def _to_json(symbols: FileSymbols) -> str:
    defs = [d.model_dump(exclude={"path"}) for d in symbols.definitions]
    return json.dumps({"language": symbols.language, "defs": defs, "refs": sorted(symbols.references)})


def _from_json(path: str, text: str) -> FileSymbols:
    data = json.loads(text)
    return FileSymbols(
        language=data["language"],
        definitions=[Definition(path=path, **d) for d in data["defs"]],
        references=frozenset(data["refs"]),
    )


def _open_cache(cache_dir: Path) -> sqlite3.Connection:
    cache_dir.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(cache_dir / CACHE_FILENAME, timeout=30)
    conn.execute("CREATE TABLE IF NOT EXISTS symbols (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    return conn


def _lookup(conn: sqlite3.Connection, keys: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for start in range(0, len(keys), 500):  # stay under SQLite's bound-parameter limit
        chunk = keys[start:start + 500]
        marks = ",".join("?" * len(chunk))
        found.update(conn.execute(f"SELECT key, value FROM symbols WHERE key IN ({marks})", chunk))
    return found


def index_repo(root: Path, cache_dir: Path | None = None) -> RepoIndex:
    """Scan every mappable file of the repo, reusing cached results for unchanged content."""
    root = root.resolve()
    version = cache_version().encode()
    index = RepoIndex(files={})
    pending: dict[str, tuple[str, bytes]] = {}  # path -> (cache key, source)
    for path in list_repo_files(root):
        if filename_to_lang(path) is None:
            # Non-code files are listed by path only; a cheap probe keeps binaries out.
            try:
                with open(root / path, "rb") as handle:
                    if looks_binary(handle.read(8192)):
                        continue
            except OSError:
                continue
            index.files[path] = FileSymbols(language=None)
            continue
        source = read_text_file(root, path)
        if source is not None:
            # Keyed by content (and language, which the extension decides), not by path:
            # a moved or copied file is still a cache hit.
            language = filename_to_lang(path) or ""
            key = hashlib.sha256(version + b"\0" + language.encode() + b"\0" + source).hexdigest()
            pending[path] = (key, source)
    conn = _open_cache(cache_dir) if cache_dir is not None else None
    with closing(conn) if conn is not None else nullcontext():
        hits = _lookup(conn, [key for key, _ in pending.values()]) if conn is not None else {}
        fresh: list[tuple[str, str]] = []
        for path, (key, source) in pending.items():
            if key in hits:
                index.files[path] = _from_json(path, hits[key])
                index.cached += 1
                continue
            symbols = scan_file(path, source)
            index.files[path] = symbols
            index.parsed += 1
            fresh.append((key, _to_json(symbols)))
        if conn is not None and fresh:
            with conn:
                conn.executemany("INSERT OR REPLACE INTO symbols (key, value) VALUES (?, ?)", fresh)
    index.files = dict(sorted(index.files.items()))
    return index

