"""Shippable seed examples for the task classifier (hand-written; no benchmark data).

They give the classifier a sensible default before memory holds any labelled tasks.
Each has a kind and a difficulty in the SWE-bench annotation buckets.
"""

SEED_EXAMPLES: list[dict[str, str]] = [
    # bug fixes
    {"kind": "bug_fix", "difficulty": "<15 min fix",
     "request": "Fix the typo in the error message raised by `parse_date`: it says 'invlaid' instead of 'invalid'."},
    {"kind": "bug_fix", "difficulty": "<15 min fix",
     "request": "`slugify()` crashes with TypeError when passed None; it should return an empty string."},
    {"kind": "bug_fix", "difficulty": "<15 min fix",
     "request": "Off-by-one error in pagination: the last item of each page is missing. Fix the slice in utils/pages.py."},
    {"kind": "bug_fix", "difficulty": "15 min - 1 hour",
     "request": "Bug: saving a model with a timezone-aware datetime raises an exception.\n\nTraceback (most recent "
                "call last):\n  File \"app/models.py\", line 120, in save\nValueError: naive datetime expected\n\n"
                "Expected the value to be converted to UTC. Steps to reproduce: create an object with tz=Europe/Paris."},
    {"kind": "bug_fix", "difficulty": "15 min - 1 hour",
     "request": "The CLI returns exit code 0 even when the command fails; wrong behaviour, it should return 1 and "
                "print the error. Regression since the refactor of cli.py."},
    {"kind": "bug_fix", "difficulty": "1-4 hours",
     "request": "Race condition: concurrent writers corrupt the cache file under load. Incorrect results appear "
                "intermittently when two workers run. Reproduce with the stress script; needs locking in cache.py "
                "and storage.py and a fix for the retry path."},
    {"kind": "bug_fix", "difficulty": ">4 hours",
     "request": "Memory leak and wrong results in the query planner when nested subqueries reference outer "
                "columns across joins; the optimizer rewrites them incorrectly. Needs a redesign of how aliases are "
                "resolved in compiler.py, query.py and expressions.py."},
    # features
    {"kind": "feature", "difficulty": "15 min - 1 hour",
     "request": "Add a `--json` flag to the `list` command that prints the items as a JSON array."},
    {"kind": "feature", "difficulty": "<15 min fix",
     "request": "Add support for the `.yml` extension in addition to `.yaml` when loading config files."},
    {"kind": "feature", "difficulty": "1-4 hours",
     "request": "Implement export to CSV for reports: a new endpoint, a download button, and tests. "
                "Support filtering by date range."},
    {"kind": "feature", "difficulty": ">4 hours",
     "request": "Add a plugin system so third parties can register new storage backends: discovery via entry "
                "points, a new API, configuration, documentation and tests."},
    {"kind": "feature", "difficulty": "15 min - 1 hour",
     "request": "It would be nice to allow a custom separator option in `format_table()`. New feature request: "
                "add a parameter `sep` defaulting to ' | '."},
    # refactors
    {"kind": "refactor", "difficulty": "15 min - 1 hour",
     "request": "Refactor: extract the duplicated validation code in handlers.py into a helper function."},
    {"kind": "refactor", "difficulty": "<15 min fix",
     "request": "Rename the variable `tmp2` to `normalized_path` in loader.py for readability."},
    {"kind": "refactor", "difficulty": "1-4 hours",
     "request": "Split the 2000-line module engine.py into smaller modules (parsing, planning, execution) "
                "without changing behaviour. Clean up imports and keep the public API."},
    {"kind": "refactor", "difficulty": ">4 hours",
     "request": "Restructure the data layer: replace the ad-hoc SQL strings with a repository class per table, "
                "move all queries behind it, and simplify the callers across the codebase."},
    # tests
    {"kind": "test", "difficulty": "15 min - 1 hour",
     "request": "Add unit tests for `merge_intervals` covering empty input, overlapping and adjacent intervals."},
    {"kind": "test", "difficulty": "<15 min fix",
     "request": "The test test_parse_header is flaky because it depends on dict ordering; make the assertion "
                "order-independent."},
    {"kind": "test", "difficulty": "1-4 hours",
     "request": "Increase test coverage of the scheduler module to 90%: write pytest tests for retries, "
                "timeouts and cancellation, with fixtures for the fake clock."},
    {"kind": "test", "difficulty": "15 min - 1 hour",
     "request": "Add tests: write a regression test for the parser and a pytest fixture for the sample files; "
                "the tests should cover the error cases."},
    {"kind": "test", "difficulty": "<15 min fix",
     "request": "Add a missing test case for `is_valid_email` with unicode input; unit test only, no code change."},
    # docs
    {"kind": "docs", "difficulty": "<15 min fix",
     "request": "Fix the broken link in README.md to the installation guide."},
    {"kind": "docs", "difficulty": "<15 min fix",
     "request": "Document the `timeout` parameter in the docstring of `fetch()`; the documentation is missing."},
    {"kind": "docs", "difficulty": "15 min - 1 hour",
     "request": "Write a docs page explaining how to configure logging, with examples, and link it from the "
                "index in docs/index.rst."},
    # chores
    {"kind": "chore", "difficulty": "<15 min fix",
     "request": "Bump the minimum version of requests to 2.31 in pyproject.toml."},
    {"kind": "chore", "difficulty": "15 min - 1 hour",
     "request": "Set up CI: add a GitHub Actions workflow that runs the linter and the test suite on Python 3.11 "
                "and 3.12."},
    {"kind": "chore", "difficulty": "<15 min fix",
     "request": "Remove the unused dependency on six and delete the deprecated compat shim."},
    {"kind": "chore", "difficulty": "15 min - 1 hour",
     "request": "Upgrade the linter configuration to ruff, fix the formatting warnings, update the pre-commit hooks."},
]
