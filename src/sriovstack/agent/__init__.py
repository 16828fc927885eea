"""The per-host agent: observe, plan, apply, verify, report."""
