"""Adapters: one module per real thing behind a port."""
