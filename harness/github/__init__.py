"""The GitHub Actions jobs: `harness review-pr` (cross-model PR review) and `harness pr-do` (implement on request).

Modules: client (REST with retries and redaction), event (payload parsing), diffmap (which
lines a review comment may land on), render (comment bodies), review_job (review an existing
diff without an implementer), review_pr and pr_do (the two jobs), spend (per-PR caps).
"""
