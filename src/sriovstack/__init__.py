"""sriovstack: SR-IOV networking for VM clouds, on real Linux hosts or on simulated ones."""

__version__ = "0.1.0"
