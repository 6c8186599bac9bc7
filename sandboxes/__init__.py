"""Sandbox image recipes, shipped as package data (installed as `harness.sandboxes`)."""
