"""Composition roots under the CLI: the machine an agent runs on, and the cloud `up` runs."""
