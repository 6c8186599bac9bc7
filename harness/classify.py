"""Task classifier: kind and difficulty of a request, offline, from text and repo features.

The model is a small naive Bayes over word and feature tokens. It is trained from
shippable seed examples (harness/classify_seed.py) plus any labelled history
(tasks in memory, or benchmark tasks), so it works with no model call and no data.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from harness.classify_seed import SEED_EXAMPLES

Kind = Literal["bug_fix", "feature", "refactor", "test", "docs", "chore"]
Difficulty = Literal["<15 min fix", "15 min - 1 hour", "1-4 hours", ">4 hours"]
KINDS: tuple[str, ...] = ("bug_fix", "feature", "refactor", "test", "docs", "chore")
DIFFICULTIES: tuple[str, ...] = ("<15 min fix", "15 min - 1 hour", "1-4 hours", ">4 hours")

# A repo walk stops here: the features only need rough size and language mix.
_MAX_REPO_FILES = 20000
_SKIP_DIRS = {".git", ".hg", ".venv", "venv", "node_modules", "__pycache__", ".tox", "dist", "build", "memory"}
_LANGUAGES = {
    ".py": "python", ".js": "javascript", ".ts": "typescript", ".tsx": "typescript", ".go": "go",
    ".rs": "rust", ".java": "java", ".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp", ".rb": "ruby",
    ".md": "markdown", ".rst": "markdown", ".sh": "shell",
}
_WORD = re.compile(r"[a-z][a-z0-9_]{2,24}")
_PATH = re.compile(r"(?<![\w/])(?:[\w.-]+/)*[\w-]+\.(?:py|js|ts|tsx|go|rs|java|c|h|cpp|rb|md|rst|toml|cfg|ini|yml|yaml|json|txt)\b")
_SYMBOL = re.compile(r"`([A-Za-z_][\w.]*)(?:\(\))?`|\b([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)\(|\b([a-z_]\w*)\(\)")
_STOP = frozenset("the and for that this with from are was were not but have has can will would should "
                  "when what which there their they them then than into about also just some any all".split())
# Feature tokens are repeated so a handful of structural signals is not drowned by hundreds of words.
_FEATURE_WEIGHT = 3


class Record(BaseModel):
    """Base for this module's records: unknown fields are errors."""

    model_config = ConfigDict(extra="forbid")


class Classification(Record):
    """What the classifier says about a request."""

    kind: str
    difficulty: str
    confidence: float
    features: dict[str, Any]


class LabelledRequest(Record):
    """A training example; either label may be missing (memory rows, benchmark tasks)."""

    request: str
    kind: str | None = None
    difficulty: str | None = None


def _bucket(value: float, edges: Iterable[float]) -> int:
    """Index of the first edge the value is below (len(edges) if none)."""
    for i, edge in enumerate(edges):
        if value < edge:
            return i
    return len(list(edges))


def text_features(request: str) -> dict[str, Any]:
    """Structural features of the request text."""
    lower = request.lower()
    paths = sorted(set(_PATH.findall(request)))
    symbols = sorted({next(g for g in m if g) for m in _SYMBOL.findall(request)})
    return {
        "chars": len(request),
        "lines": request.count("\n") + 1,
        "code_blocks": request.count("```") // 2,
        "has_traceback": "traceback (most recent call last)" in lower or "error:" in lower,
        "has_repro": ">>>" in request or "steps to reproduce" in lower or "to reproduce" in lower,
        "paths": paths[:20],
        "symbols": symbols[:30],
    }


def repo_features(repo: Path, paths: list[str]) -> dict[str, Any]:
    """Size and language mix of the repo, and how much of the named code exists there."""
    counts: Counter[str] = Counter()
    files = 0
    for path in _walk(repo):
        files += 1
        lang = _LANGUAGES.get(path.suffix)
        if lang:
            counts[lang] += 1
    named = [repo / p for p in paths if (repo / p).is_file()]
    named_lines = 0
    for p in named:
        try:
            named_lines += p.read_text(encoding="utf-8", errors="replace").count("\n")
        except OSError:
            continue
    return {
        "repo_files": files,
        "languages": [lang for lang, _ in counts.most_common(3)],
        "named_files_found": len(named),
        "named_files_lines": named_lines,
    }


def _walk(root: Path) -> Iterable[Path]:
    """Files under root, skipping vendored and generated directories, capped for speed."""
    stack = [root]
    seen = 0
    while stack:
        directory = stack.pop()
        try:
            entries = sorted(directory.iterdir())
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir() and not entry.is_symlink():
                if entry.name not in _SKIP_DIRS:
                    stack.append(entry)
            elif entry.is_file():
                seen += 1
                if seen > _MAX_REPO_FILES:
                    return
                yield entry


def word_tokens(request: str) -> list[str]:
    """Distinct words of the request (what the kind model sees: kind is about wording, not size)."""
    return sorted({w for w in _WORD.findall(request.lower()) if w not in _STOP})


def tokens(request: str, features: dict[str, Any]) -> list[str]:
    """The tokens the difficulty model sees: distinct words plus weighted feature tokens."""
    feats = [
        f"f:chars{_bucket(features['chars'], (200, 600, 1500, 3000, 6000))}",
        f"f:code{min(features['code_blocks'], 4)}",
        f"f:paths{min(len(features['paths']), 3)}",
        f"f:symbols{_bucket(len(features['symbols']), (1, 3, 6, 12))}",
        f"f:trace{int(features['has_traceback'])}",
        f"f:repro{int(features['has_repro'])}",
    ]
    if "repo_files" in features:
        feats.append(f"f:repo{_bucket(features['repo_files'], (50, 500, 5000))}")
        feats.append(f"f:namedlines{_bucket(features['named_files_lines'], (1, 200, 1000, 5000))}")
    return word_tokens(request) + feats * _FEATURE_WEIGHT


class NaiveBayes:
    """Multinomial naive Bayes with Laplace smoothing over a fixed label set."""

    def __init__(self, labels: tuple[str, ...], alpha: float = 1.0, temperature: float = 1.0):
        self.labels = labels
        self.alpha = alpha
        # Word evidence is far from independent; a temperature < 1 keeps posteriors calibrated.
        self.temperature = temperature
        self.doc_counts: Counter[str] = Counter()
        self.token_counts: dict[str, Counter[str]] = {label: Counter() for label in labels}
        self.totals: Counter[str] = Counter()
        self.vocab: set[str] = set()

    def fit(self, docs: Iterable[tuple[list[str], str]]) -> NaiveBayes:
        """Count tokens per label; returns self."""
        for toks, label in docs:
            self.doc_counts[label] += 1
            self.token_counts[label].update(toks)
            self.totals[label] += len(toks)
            self.vocab.update(toks)
        return self

    def posterior(self, toks: list[str]) -> dict[str, float]:
        """P(label | tokens), tokens unseen in training ignored."""
        known = [t for t in toks if t in self.vocab]
        n_docs = sum(self.doc_counts.values())
        v = len(self.vocab) or 1
        scores: dict[str, float] = {}
        for label in self.labels:
            # Prior smoothed so a label with no examples stays possible but unlikely.
            logp = math.log((self.doc_counts[label] + 0.5) / (n_docs + 0.5 * len(self.labels)))
            denom = self.totals[label] + self.alpha * v
            counts = self.token_counts[label]
            logp += self.temperature * sum(math.log((counts[t] + self.alpha) / denom) for t in known)
            scores[label] = logp
        top = max(scores.values())
        exp = {k: math.exp(s - top) for k, s in scores.items()}
        z = sum(exp.values())
        return {k: exp[k] / z for k in self.labels}


class Classifier:
    """A trained kind + difficulty classifier. Build with `train_classifier`."""

    def __init__(self, kind_model: NaiveBayes, difficulty_model: NaiveBayes):
        self.kind_model = kind_model
        self.difficulty_model = difficulty_model

    def classify(self, request: str, repo: Path | None = None) -> Classification:
        """Kind, difficulty and confidence of one request (repo features if a repo is given)."""
        features = text_features(request)
        if repo is not None and repo.is_dir():
            features.update(repo_features(repo, features["paths"]))
        kind_p = self.kind_model.posterior(word_tokens(request))
        diff_p = self.difficulty_model.posterior(tokens(request, features))
        kind = max(KINDS, key=lambda k: (kind_p[k], -KINDS.index(k)))
        difficulty = max(DIFFICULTIES, key=lambda d: (diff_p[d], -DIFFICULTIES.index(d)))
        features["kind_probs"] = {k: round(v, 4) for k, v in kind_p.items()}
        features["difficulty_probs"] = {k: round(v, 4) for k, v in diff_p.items()}
        return Classification(
            kind=kind, difficulty=difficulty,
            confidence=round(min(kind_p[kind], diff_p[difficulty]), 4), features=features,
        )


def train_classifier(history: Iterable[LabelledRequest] = (), seed_weight: int = 1) -> Classifier:
    """Train on the shipped seed examples plus labelled history (examples missing a label skip that model)."""
    examples = [LabelledRequest(**e) for e in SEED_EXAMPLES] * seed_weight + list(history)
    kind_docs: list[tuple[list[str], str]] = []
    diff_docs: list[tuple[list[str], str]] = []
    for ex in examples:
        if ex.kind in KINDS:
            kind_docs.append((word_tokens(ex.request), ex.kind))
        if ex.difficulty in DIFFICULTIES:
            diff_docs.append((tokens(ex.request, text_features(ex.request)), ex.difficulty))
    # Difficulty is weakly predictable from text (cross-validated on SWE-bench it barely beats the
    # majority class), so its posterior is tempered hard; kind keeps sharper keyword evidence.
    return Classifier(
        NaiveBayes(KINDS, temperature=0.5).fit(kind_docs),
        NaiveBayes(DIFFICULTIES, temperature=0.1).fit(diff_docs),
    )


def classify(request: str, repo: Path | None = None, history: list[LabelledRequest] | None = None) -> Classification:
    """Classify one request, training on seeds plus `history` (labelled requests from memory)."""
    return train_classifier(history or []).classify(request, repo)


# A person's label counts as this many of the classifier's own: a correction must outweigh the
# earlier guesses it corrects.
HUMAN_LABEL_WEIGHT = 5


def history_from_memory(memory: Any, limit: int = 2000) -> list[LabelledRequest]:
    """Labelled requests from the memory DB's tasks table (the newest `limit`); labels a person set
    with `harness label` are weighted HUMAN_LABEL_WEIGHT times."""
    rows = memory.db.execute(
        "SELECT request, task_kind, difficulty, label_source FROM tasks "
        "WHERE task_kind IS NOT NULL OR difficulty IS NOT NULL ORDER BY started_at DESC LIMIT ?", (limit,),
    )
    out: list[LabelledRequest] = []
    for request, kind, difficulty, source in rows:
        weight = HUMAN_LABEL_WEIGHT if source == "human" else 1
        out.extend([LabelledRequest(request=request, kind=kind, difficulty=difficulty)] * weight)
    return out
