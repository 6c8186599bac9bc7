"""Config templates (package data)."""
