"""The memory database's schema: forward-only migrations, applied in order (PRAGMA user_version).

Append a migration to change the schema; never edit one that has shipped.
"""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: the first schema
    """
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,               -- do | pr | queue | demo | eval
        repo TEXT NOT NULL,
        request TEXT NOT NULL,
        base_commit TEXT,
        status TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        branch TEXT,
        implementer TEXT,
        reviewer TEXT,
        result_json TEXT,
        started_at TEXT NOT NULL,
        finished_at TEXT
    );
    CREATE TABLE tasks (
        id TEXT PRIMARY KEY,
        run_id TEXT NOT NULL REFERENCES runs(id),
        request TEXT NOT NULL,
        task_kind TEXT,
        difficulty TEXT,
        implementer TEXT,
        reviewer TEXT,
        attempt INTEGER NOT NULL DEFAULT 1,
        status TEXT NOT NULL,
        trusted INTEGER NOT NULL DEFAULT 0,
        reason TEXT NOT NULL DEFAULT '',
        diff TEXT,
        started_at TEXT NOT NULL,
        finished_at TEXT
    );
    CREATE TABLE calls (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL REFERENCES runs(id),
        task_id TEXT REFERENCES tasks(id),
        role TEXT NOT NULL,
        model TEXT NOT NULL,
        provider TEXT NOT NULL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cache_read_tokens INTEGER NOT NULL,
        cache_write_tokens INTEGER NOT NULL,
        cost_usd TEXT NOT NULL,
        latency_ms INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX calls_created ON calls(created_at);
    CREATE TABLE test_runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        task_id TEXT NOT NULL REFERENCES tasks(id),
        phase TEXT NOT NULL,              -- base | head
        exit_code INTEGER NOT NULL,
        passed INTEGER NOT NULL,
        failed INTEGER NOT NULL,
        errors INTEGER NOT NULL,
        skipped INTEGER NOT NULL,
        outcomes_json TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE reviews (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        task_id TEXT NOT NULL REFERENCES tasks(id),
        round INTEGER NOT NULL,
        reviewer TEXT NOT NULL,
        verdict TEXT NOT NULL,
        summary TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE findings (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        task_id TEXT NOT NULL REFERENCES tasks(id),
        review_id INTEGER REFERENCES reviews(id),
        source TEXT NOT NULL,             -- reviewer | guard
        rule TEXT NOT NULL DEFAULT '',
        path TEXT NOT NULL,
        line INTEGER NOT NULL,
        severity TEXT NOT NULL,
        category TEXT NOT NULL,
        message TEXT NOT NULL
    );
    CREATE TABLE lessons (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        repo TEXT NOT NULL,
        scope TEXT NOT NULL DEFAULT '*',
        task_kind TEXT,
        text TEXT NOT NULL,
        run_id TEXT NOT NULL REFERENCES runs(id),
        finding_id INTEGER REFERENCES findings(id),
        created_at TEXT NOT NULL,
        UNIQUE(repo, scope, text)
    );
    """,
    # 2: the trust layer's receipt and lessons: the round a finding was raised in (guards run
    # every round, so earlier rounds' findings are kept), and what kind of evidence a lesson has.
    """
    ALTER TABLE findings ADD COLUMN round INTEGER;
    ALTER TABLE lessons ADD COLUMN origin TEXT NOT NULL DEFAULT '';
    ALTER TABLE lessons ADD COLUMN evidence TEXT NOT NULL DEFAULT '';
    CREATE INDEX lessons_repo ON lessons(repo);
    """,
    # 3: the roles layer (harness/roles_store.py): the planner's plan, audits of reviews, the risk
    # level of a run's change, failure attributions with their evidence, and per-task scorecards.
    """
    CREATE TABLE plans (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL REFERENCES runs(id),
        planner TEXT NOT NULL,
        status TEXT NOT NULL,             -- planned | skipped | failed
        step_count INTEGER NOT NULL DEFAULT 0,
        plan_json TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL
    );
    CREATE TABLE audits (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        task_id TEXT NOT NULL REFERENCES tasks(id),
        round INTEGER NOT NULL,
        auditor TEXT NOT NULL,
        sound INTEGER NOT NULL,
        audit_json TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE risks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL REFERENCES runs(id),
        task_id TEXT REFERENCES tasks(id),
        level TEXT NOT NULL,
        gated INTEGER NOT NULL,
        risk_json TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE attributions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL REFERENCES runs(id),
        task_id TEXT REFERENCES tasks(id),
        stage TEXT NOT NULL,              -- classification | context | planning | execution | testing | review | escalation
        reason TEXT NOT NULL,
        evidence_json TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX attributions_stage ON attributions(stage);
    CREATE TABLE scorecards (
        task_id TEXT PRIMARY KEY REFERENCES tasks(id),
        run_id TEXT NOT NULL REFERENCES runs(id),
        implementer TEXT,
        reviewer TEXT,
        planner TEXT,
        followed_patterns INTEGER,
        overbuild_score REAL,
        self_corrected INTEGER,
        findings INTEGER NOT NULL DEFAULT 0,
        revision_rounds INTEGER NOT NULL DEFAULT 0,
        finished INTEGER NOT NULL DEFAULT 0,
        trusted INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL
    );
    """,
    # 4: the suite's outcomes on a base tree, reused by later tasks on the same tree, image and command
    """
    CREATE TABLE base_test_reports (
        key TEXT PRIMARY KEY,             -- sha256 of tree, image id, test command, report path, timeout
        report_json TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    """,
    # 5: who set a task's kind and difficulty: the classifier, or a person (`harness label`)
    """
    ALTER TABLE tasks ADD COLUMN label_source TEXT NOT NULL DEFAULT 'classifier';
    """,
]
