"""The HTTP API: FastAPI routes, wire shapes and one error table."""
