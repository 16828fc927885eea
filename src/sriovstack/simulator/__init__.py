"""Simulated SR-IOV hosts: a model of the kernel's SR-IOV ABI and of real NICs."""
