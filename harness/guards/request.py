"""What a request names and permits: paths, symbols, and whether tests may be edited."""

from __future__ import annotations

import re

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-/]*")

# An editing verb shortly before a test noun ("update the test for X", "change the
# expected values"), or a test noun shortly before "should/must be updated".
_TEST_NOUN = r"(?:tests?|specs?|test\s+cases?|test\s+suite|assertions?|fixtures?|expected\s+values?|expectations?|snapshots?)"
_EDIT_VERB = r"(?:update|updating|change|changing|edit|modify|rewrite|adjust|correct|amend|replace|remove|delete|drop|rename|refactor|relax|loosen|skip|disable|migrate|convert|port)"
_ASKS_TEST_EDIT = re.compile(
    rf"\b{_EDIT_VERB}\b(?:\W+\w+){{0,5}}?\W+{_TEST_NOUN}\b"
    rf"|\b{_TEST_NOUN}\b(?:\W+\w+){{0,4}}?\W+(?:should|must|need|needs|to)\s+(?:be\s+)?(?:updated|changed|adjusted|rewritten|removed|deleted)\b",
    re.IGNORECASE,
)


def asks_for_test_edits(request: str) -> bool:
    """Whether the request asks to change existing tests (not merely to make them pass or add one)."""
    return bool(_ASKS_TEST_EDIT.search(request))


def _norm(word: str) -> str:
    return word.lower().replace("-", "_")


def request_words(request: str) -> set[str]:
    """Normalised words and dotted/slashed parts of the request (lowercase, '-' as '_')."""
    words: set[str] = set()
    for token in _WORD.findall(request):
        token = token.strip(".-/")
        if not token:
            continue
        words.add(_norm(token))
        for part in re.split(r"[./]", token):
            if part:
                words.add(_norm(part))
    return words


def names_path(request: str, path: str) -> bool:
    """Whether the request names this path: the path itself, its file name, or its module stem."""
    low = request.lower()
    if path.lower() in low:
        return True
    base = path.rsplit("/", 1)[-1]
    if base.lower() in low:
        return True
    stem = base.rsplit(".", 1)[0]
    module = path.rsplit(".", 1)[0].replace("/", ".")
    words = request_words(request)
    if module.lower() in low:
        return True
    # Short stems ("io", "db", "a") appear in prose by accident; require some length.
    return len(stem) >= 4 and _norm(stem) in words


def names_symbol(request: str, name: str) -> bool:
    """Whether a code name (function, flag, key, package) appears in the request."""
    norm = _norm(name.lstrip("-"))
    if not norm:
        return False
    # Substring matching only for names long enough not to occur in prose by chance.
    return norm in request_words(request) or (len(norm) >= 5 and norm in _norm(request))
