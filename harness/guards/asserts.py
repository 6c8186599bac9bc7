"""Reading single assertion lines: is it one, was it loosened, did its expected value change."""

from __future__ import annotations

import re

_ASSERT = re.compile(
    r"^\s*(?:assert\b"
    r"|(?:self|cls)\.(?:assert\w*|fail\w*)\s*\("
    r"|.*\.assert_\w+\s*\("
    r"|(?:with\s+)?pytest\.(?:raises|warns|approx|deprecated_call)\s*\("
    r"|(?:np\.|numpy\.)?testing\.assert\w*\s*\("
    r"|assert_\w+\s*\("
    r"|expect\s*\(.*\)\s*\.\s*to"
    r"|.*\bexpect\s*\(.*\)\s*\.)"
)
_EXPECTED_ASSIGN = re.compile(r"^\s*(?:expected|expect|want|wanted|golden|answer)\w*\s*(?::[^=]+)?=[^=]", re.IGNORECASE)

_STRING = re.compile(r"""(?:[rbuf]{0,2})("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')""", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![\w.])-?\d[\d_]*(?:\.\d+)?(?:[eE][-+]?\d+)?j?(?![\w.])")
_COMPARISON = re.compile(r"\s(?:==|!=|<=|>=|<|>|is not|is|not in|in)\s")

# unittest methods that pin a value, and the ones that only check truthiness.
_STRONG_UNITTEST = {
    "assertEqual", "assertEquals", "assertNotEqual", "assertIs", "assertIsNot", "assertIn", "assertNotIn",
    "assertIsNone", "assertIsInstance", "assertAlmostEqual", "assertCountEqual", "assertListEqual",
    "assertDictEqual", "assertSetEqual", "assertTupleEqual", "assertSequenceEqual", "assertMultiLineEqual",
    "assertRaises", "assertRaisesRegex", "assertWarns", "assertRegex", "assertGreater", "assertLess",
    "assertGreaterEqual", "assertLessEqual",
}
_WEAK_UNITTEST = {"assertTrue", "assertFalse", "assertIsNotNone", "assert_", "failUnless"}
_MOCK_STRENGTH = {
    "assert_called_once_with": 3, "assert_called_with": 2, "assert_any_call": 2, "assert_has_calls": 2,
    "assert_called_once": 1, "assert_called": 0, "assert_not_called": 3,
}
_TOLERANCE = re.compile(r"\b(rel|abs|places|delta|rtol|atol)\s*=\s*([0-9.eE+\-]+)")
_BROAD_EXCEPTIONS = {"Exception", "BaseException"}


def is_assertion(text: str) -> bool:
    """Whether a source line asserts something (pytest, unittest, mock, numpy, jest-style)."""
    stripped = text.strip()
    if stripped.startswith("#"):
        return False
    return bool(_ASSERT.match(text))


def is_expectation(text: str) -> bool:
    """Assertions plus assignments to `expected`-like names, where expected values live."""
    return is_assertion(text) or bool(_EXPECTED_ASSIGN.match(text))


def without_strings(text: str) -> str:
    """The line with every string literal's content blanked out."""
    return _STRING.sub('""', text)


def _literals(text: str) -> list[str]:
    strings = _STRING.findall(text)
    rest = _STRING.sub(" S ", text)
    return strings + _NUMBER.findall(rest)


def _shape(text: str) -> str:
    """The line with literals replaced by placeholders and spacing normalised."""
    rest = _STRING.sub("S", text)
    rest = _NUMBER.sub("N", rest)
    return re.sub(r"\s+", "", rest)


def _lhs(text: str) -> str | None:
    """The left-hand side of `assert LHS == ...`, normalised; None if not such a line."""
    m = re.match(r"^\s*assert\s+(.+?)\s+(?:==|!=|is not|is|not in|in)\s+.+$", text)
    return re.sub(r"\s+", "", m.group(1)) if m else None


def expected_changed(old: str, new: str) -> bool:
    """Whether `new` is `old` with the expected value changed (same check, different literal)."""
    if old.strip() == new.strip():
        return False
    if _shape(old) == _shape(new) and _literals(old) != _literals(new):
        return True
    if _EXPECTED_ASSIGN.match(old) and _EXPECTED_ASSIGN.match(new):
        return old.split("=", 1)[0].strip() == new.split("=", 1)[0].strip()
    lhs_old, lhs_new = _lhs(old), _lhs(new)
    return lhs_old is not None and lhs_old == lhs_new


def _method(text: str, names: set[str] | dict[str, int]) -> str | None:
    for m in re.finditer(r"\.(\w+)\s*\(", text):
        if m.group(1) in names:
            return m.group(1)
    return None


def _raises_target(text: str) -> tuple[str, bool] | None:
    m = re.search(r"(?:pytest\.raises|assertRaises(?:Regex)?)\s*\(\s*\(?\s*([\w.]+)", text)
    if not m:
        return None
    return m.group(1).rsplit(".", 1)[-1], ("match=" in text or "Regex" in text)


def loosened(old: str, new: str) -> str | None:
    """Why `new` checks less than `old`, or None when it does not look weaker."""
    new_s = new.strip()
    if re.match(r"^assert\s+(?:True|1|not\s+False)\s*(?:,.*)?$", new_s) or re.search(r"\bor\s+True\b", new_s):
        return "assertion made always true"
    if old.strip().startswith("assert") and new_s.startswith("assert"):
        if _COMPARISON.search(old) and not _COMPARISON.search(new):
            return "comparison dropped from assert"
    old_u, new_u = _method(old, _STRONG_UNITTEST | _WEAK_UNITTEST), _method(new, _STRONG_UNITTEST | _WEAK_UNITTEST)
    if old_u in _STRONG_UNITTEST and new_u in _WEAK_UNITTEST:
        return f"{old_u} replaced by {new_u}"
    old_m, new_m = _method(old, _MOCK_STRENGTH), _method(new, _MOCK_STRENGTH)
    if old_m and new_m and _MOCK_STRENGTH[new_m] < _MOCK_STRENGTH[old_m]:
        return f"{old_m} replaced by {new_m}"
    old_r, new_r = _raises_target(old), _raises_target(new)
    if old_r and new_r:
        if new_r[0] in _BROAD_EXCEPTIONS and old_r[0] not in _BROAD_EXCEPTIONS:
            return f"expected exception widened from {old_r[0]} to {new_r[0]}"
        if old_r[1] and not new_r[1]:
            return "exception message check dropped"
    old_t, new_t = dict(_TOLERANCE.findall(old)), dict(_TOLERANCE.findall(new))
    for key, value in new_t.items():
        try:
            if key in old_t and float(value) > float(old_t[key]) and key != "places":
                return f"tolerance {key} widened from {old_t[key]} to {value}"
            if key == "places" and key in old_t and float(value) < float(old_t[key]):
                return f"precision lowered from {old_t[key]} to {value} places"
        except ValueError:
            continue
    if "pytest.approx" in new and "pytest.approx" not in old and "==" in old:
        return "exact comparison replaced by pytest.approx"
    return None
