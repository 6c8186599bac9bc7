"""A compact, ranked map of a repository's files and definitions, within a token budget.

Files are ranked by relevance to the request (paths and identifiers it names), to
the files already read (what they use and what uses them), and by how much the
rest of the repo refers to their definitions. Output is deterministic for the
same repository content, request, files read and budget.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath

from harness.codeindex import Definition, FileSymbols, RepoIndex, index_repo, scan_file
from harness.errors import PathOutsideRepo, UsageError
from harness.repofiles import read_text_file

CHARS_PER_TOKEN = 4
# The best-ranked file is usually the one to change, so it shows more of itself;
# the rest show their first few definitions so that more files fit the budget.
MAX_DEFS_FIRST_FILE = 30
MAX_DEFS_PER_FILE = 10
_PATHLIKE = re.compile(r"[\w.\-/]+")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]{2,}")
_PATH_WORD = re.compile(r"[a-z0-9]{3,}")
# Request words too common to say anything about which file is meant.
_STOPWORDS = frozenset(
    "the and for with that this from into when then than not are was were has have add fix "
    "make use new test tests file code should would could please can all any its our out".split()
)


def _request_terms(request: str) -> tuple[set[str], set[str]]:
    """Path-like tokens (for file matches) and identifier words (for definition matches)."""
    paths = {token.strip("./,:;'\"`()[]") for token in _PATHLIKE.findall(request)}
    paths |= {token.lstrip("./") for token in _PATHLIKE.findall(request)}
    words = {w for w in _WORD.findall(request) if w.lower() not in _STOPWORDS}
    return {p for p in paths if p}, words


def _capped(values: Iterable[float], cap: float) -> float:
    return min(sum(values), cap)


def rank_files(index: RepoIndex, request: str = "", files_read: Sequence[str] = ()) -> list[tuple[str, float]]:
    """Every indexed file with its relevance score, best first (ties broken by path)."""
    paths, words = _request_terms(request)
    lower_words = {w.lower() for w in words}
    read = {PurePosixPath(p.lstrip("./")).as_posix() for p in files_read}

    definers: dict[str, set[str]] = defaultdict(set)  # name -> files defining it
    for path, symbols in index.files.items():
        for d in symbols.definitions:
            definers[d.name].add(path)
    lower_definers: dict[str, set[str]] = defaultdict(set)
    for name, where in definers.items():
        lower_definers[name.lower()] |= where
    # A name defined in many files (`__init__`, `run`) says little about any one of them.
    idf = {name: 1.0 / len(where) for name, where in definers.items()}
    used_by: dict[str, int] = defaultdict(int)  # name -> files referring to it
    for symbols in index.files.values():
        for ref in symbols.references & definers.keys():
            used_by[ref] += 1

    basenames: dict[str, int] = defaultdict(int)
    stems: dict[str, int] = defaultdict(int)
    path_words: dict[str, set[str]] = {}  # path -> lowercase words of its directories and stem
    word_files: dict[str, int] = defaultdict(int)
    for path in index.files:
        pure = PurePosixPath(path)
        basenames[pure.name] += 1
        stems[pure.stem.lower()] += 1
        path_words[path] = set(_PATH_WORD.findall(str(pure.with_suffix("")).lower()))
        for word in path_words[path]:
            word_files[word] += 1
    read_refs = set().union(*(index.files[p].references for p in read if p in index.files))
    read_defs = {d.name for p in read if p in index.files for d in index.files[p].definitions}

    scored: list[tuple[str, float]] = []
    for path, symbols in index.files.items():
        pure = PurePosixPath(path)
        names = {d.name for d in symbols.definitions}
        score = 0.0
        if path in paths:
            score += 1000
        elif pure.name in paths:
            score += 500 / basenames[pure.name]
        elif len(pure.stem) >= 4 and pure.stem.lower() in lower_words:
            score += 40 / stems[pure.stem.lower()]
        score += _capped((20 / word_files[w] for w in path_words[path] & lower_words), 40)
        score += _capped((30 * idf[n] for n in names & words), 300)
        score += _capped((15 / len(lower_definers[n.lower()]) for n in names if n.lower() in lower_words and n not in words), 150)
        score += min(len(symbols.references & words), 10)
        if path in read:
            score += 60
        else:
            score += _capped((8 * idf[n] for n in names & read_refs), 40)
            score += _capped((4 * idf[n] for n in symbols.references & read_defs), 20)
        importance = sum(max(used_by[n] - 1, 0) * idf[n] for n in names)
        score += 2 * math.log1p(importance)
        scored.append((path, round(score, 6)))
    return sorted(scored, key=lambda item: (-item[1], item[0]))


def _map_entries(symbols: FileSymbols) -> list[tuple[int, Definition]]:
    """Definitions worth showing, with nesting depth: top level and class members, not locals."""
    shown: list[tuple[int, Definition]] = []
    open_defs: list[tuple[Definition, bool]] = []  # enclosing definitions, is-container flag
    for d in symbols.definitions:
        while open_defs and open_defs[-1][0].ends_before(d):
            open_defs.pop()
        inside_function = any(not container for _, container in open_defs)
        container = d.kind not in ("function", "method", "constructor")
        open_defs.append((d, container))
        if not inside_function:
            shown.append((len(open_defs) - 1, d))
    return shown


def _file_block(path: str, symbols: FileSymbols, max_defs: int) -> list[str]:
    lines = [f"{path}:" if symbols.definitions else path]
    entries = _map_entries(symbols)
    for depth, d in entries[:max_defs]:
        lines.append(f"{'  ' * (depth + 1)}{d.line}: {d.signature}")
    if len(entries) > max_defs:
        lines.append(f"  ... {len(entries) - max_defs} more definitions")
    return lines


def render_map(index: RepoIndex, ranked: Sequence[tuple[str, float]], token_budget: int) -> str:
    """The map text: files in rank order with their definitions, cut to fit the budget.

    A file whose whole block does not fit is shown with as many of its definitions
    as do fit; the map ends at the first file whose path and first definition do not fit.
    """
    max_chars = max(token_budget, 0) * CHARS_PER_TOKEN
    out: list[str] = []
    used = 0
    for rank, (path, _score) in enumerate(ranked):
        max_defs = MAX_DEFS_FIRST_FILE if rank == 0 else MAX_DEFS_PER_FILE
        block = [line + "\n" for line in _file_block(path, index.files[path], max_defs)]
        # A file is worth showing only with its first definition (if it has any).
        head = len("".join(block[:2]))
        if used + head > max_chars:
            break
        for line in block:
            if used + len(line) > max_chars:
                break
            out.append(line)
            used += len(line)
    return "".join(out)


def build_repo_map(
    root: Path,
    request: str = "",
    files_read: Sequence[str] = (),
    token_budget: int = 1024,
    cache_dir: Path | None = None,
) -> str:
    """A ranked map of the repo's files and definitions, at most `token_budget` tokens (~4 chars each)."""
    index = index_repo(root, cache_dir)
    return render_map(index, rank_files(index, request, files_read), token_budget)


def _safe_relative(root: Path, path: str | Path) -> str:
    root = root.resolve()
    target = (root / path).resolve()
    if not target.is_relative_to(root):
        raise PathOutsideRepo(f"{path}: outside the repository {root}")
    return target.relative_to(root).as_posix()


def definitions(root: Path, path: str | Path) -> list[Definition]:
    """Every definition in one repo file, in source order (empty for non-code files)."""
    relative = _safe_relative(root, path)
    source = read_text_file(root.resolve(), relative)
    if source is None:
        if not (root / relative).is_file():
            raise UsageError(f"{relative}: no such file in {root}")
        return []
    return scan_file(relative, source).definitions


def enclosing_definition(defs: Sequence[Definition], line: int) -> Definition | None:
    """The innermost definition whose lines include `line`, if any."""
    around = [d for d in defs if d.line <= line <= d.end_line]
    return max(around, key=lambda d: (d.line, -d.end_line), default=None)


def _containers(defs: Sequence[Definition]) -> list[int | None]:
    """For each definition (in source order), the index of the one directly enclosing it."""
    result: list[int | None] = []
    stack: list[int] = []
    for i, d in enumerate(defs):
        while stack and defs[stack[-1]].ends_before(d):
            stack.pop()
        result.append(stack[-1] if stack else None)
        stack.append(i)
    return result


def definitions_near(root: Path, path: str | Path, line: int, limit: int | None = None) -> list[Definition]:
    """Siblings of the code at `line`, nearest first.

    Siblings are the definitions directly inside the same enclosing definition as
    the innermost definition around `line` (the module, if none), that one
    excluded: e.g. the other methods of the class being changed. Meant for
    showing a reviewer how neighbouring code in the same file is written.
    """
    defs = definitions(root, path)
    containers = _containers(defs)
    here = enclosing_definition(defs, line)
    here_index = defs.index(here) if here is not None else None
    scope = containers[here_index] if here_index is not None else None
    siblings = [d for i, d in enumerate(defs) if containers[i] == scope and i != here_index]
    ordered = sorted(siblings, key=lambda d: (min(abs(d.line - line), abs(d.end_line - line)), d.line))
    return ordered if limit is None else ordered[:limit]
