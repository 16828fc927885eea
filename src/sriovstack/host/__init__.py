"""Everything sriovstack knows about one host, written once above the kernel seam."""
