"""Overbuilding guards: flags, config keys and dependencies nobody asked for, and the score."""

from __future__ import annotations

import pytest
from tests.guards_support import Repo

from harness.guards import GuardContext, GuardsConfig, OverbuildConfig, overbuild_metrics, run_guards

REQUEST = "make divide raise ValueError when b is zero"


@pytest.fixture
def repo(tmp_path):
    return Repo(tmp_path)


def rules(findings, rule: str) -> list:
    return [f for f in findings if f.rule == rule]


def overbuild(repo: Repo) -> None:
    """The fix plus a flag, a config key and a dependency that nobody asked for."""
    repo.replace("calc/core.py", "return a / b", 'if b == 0:\n        raise ValueError("b is zero")\n    return a / b')
    repo.replace("calc/cli.py", '    parser.add_argument("b", type=float)\n',
                 '    parser.add_argument("b", type=float)\n    parser.add_argument("--verbose", action="store_true")\n')
    repo.replace("calc/settings.toml", "precision = 2", "precision = 2\nlog_level = \"info\"")
    repo.replace("pyproject.toml", '    "click>=8",\n', '    "click>=8",\n    "requests>=2.31",\n')


def test_overbuilt_change_is_flagged(repo):
    overbuild(repo)
    findings = run_guards(repo.diff(), GuardContext(request=REQUEST), GuardsConfig())
    [flag] = rules(findings, "overbuild.new_flag")
    assert "--verbose" in flag.message and flag.path == "calc/cli.py"
    assert flag.line == repo.line_of("calc/cli.py", "--verbose") and flag.severity == "major"
    [key] = rules(findings, "overbuild.new_config_key")
    assert "log_level" in key.message and key.path == "calc/settings.toml" and key.severity == "minor"
    [dep] = rules(findings, "overbuild.new_dependency")
    assert "requests" in dep.message and dep.line == repo.line_of("pyproject.toml", "requests")
    assert {f.category for f in findings if f.rule.startswith("overbuild.")} == {"overbuilding"}


def test_overbuilt_change_scores_past_the_threshold(repo):
    overbuild(repo)
    config = GuardsConfig(overbuild=OverbuildConfig(score_minor=5, score_major=8))
    metrics = overbuild_metrics(repo.diff(), GuardContext(request=REQUEST), config)
    assert metrics.flags == ["--verbose"] and metrics.config_keys == ["log_level"] and metrics.dependencies == ["requests"]
    assert metrics.score >= 8
    [score] = rules(run_guards(repo.diff(), GuardContext(request=REQUEST), config), "overbuild.score")
    assert score.severity == "major"


def test_things_the_request_names_are_not_overbuilding(repo):
    overbuild(repo)
    request = REQUEST + "; add a --verbose flag, a log_level setting, and use requests"
    findings = run_guards(repo.diff(), GuardContext(request=request), GuardsConfig())
    assert not [f for f in findings if f.rule.startswith("overbuild.")]


def test_small_fix_has_no_overbuild_findings(repo):
    repo.replace("calc/core.py", "return a / b", 'if b == 0:\n        raise ValueError("b is zero")\n    return a / b')
    findings = run_guards(repo.diff(), GuardContext(request=REQUEST), GuardsConfig())
    assert not [f for f in findings if f.rule.startswith("overbuild.")]


def test_version_bump_is_not_a_new_dependency(repo):
    repo.replace("pyproject.toml", '"click>=8"', '"click>=8.1"')
    assert not rules(run_guards(repo.diff(), GuardContext(request="x"), GuardsConfig()), "overbuild.new_dependency")


def test_requirements_and_package_json_dependencies(repo):
    repo.write("requirements.txt", "click>=8\n")
    repo.write("web/package.json", '{\n  "name": "web",\n  "version": "1.0.0",\n  "dependencies": {\n    "react": "^18.2.0"\n  }\n}\n')
    repo.commit("manifests")
    repo.replace("requirements.txt", "click>=8\n", "click>=8\nrich==13.7.0  # pretty output\n")
    repo.replace("web/package.json", '"react": "^18.2.0"\n', '"react": "^18.2.0",\n    "left-pad": "^1.3.0"\n')
    deps = rules(run_guards(repo.diff(), GuardContext(request="x"), GuardsConfig()), "overbuild.new_dependency")
    assert sorted((d.path, d.message.rsplit(" ", 1)[-1]) for d in deps) == [("requirements.txt", "rich"), ("web/package.json", "left-pad")]


def test_click_and_typer_options_are_flags(repo):
    repo.write("calc/app.py", '''
        import click
        import typer


        @click.command()
        @click.option("--dry-run", is_flag=True)
        def run(dry_run):
            pass


        def serve(port: int = typer.Option(8000)):
            pass


        def build(parser):
            parser.add_argument(
                "-o", "--output",
            )
        ''')
    metrics = overbuild_metrics(repo.diff(), GuardContext(request="add calc/app.py"), GuardsConfig())
    assert metrics.flags == ["command run", "--dry-run", "--port", "--output"]


def test_new_environment_variable_is_a_config_key(repo):
    repo.replace("calc/core.py", "return a + b", 'return a + b + int(os.environ.get("CALC_OFFSET", "0"))')
    metrics = overbuild_metrics(repo.diff(), GuardContext(request="x"), GuardsConfig())
    assert metrics.config_keys == ["CALC_OFFSET"]
