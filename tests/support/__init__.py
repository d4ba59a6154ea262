"""Shared builders, fakes and local servers for the tests (imported by test modules, never the reverse)."""
