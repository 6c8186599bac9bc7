"""The background queue: durable jobs, leases with heartbeats, a shared nightly spend ledger.

Two backends with one behaviour: SQLite (one machine, a file next to the memory database) and
PostgreSQL on the `procrastinate` task engine (workers on many machines).
"""
