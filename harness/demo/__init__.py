"""The built-in demo: a sample repo, a request, and scripted transcripts (package data)."""
