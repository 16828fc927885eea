"""A simulated L2 fabric: carries frames between endpoints and says why each arrives or is lost."""
