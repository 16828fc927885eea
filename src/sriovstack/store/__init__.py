"""The store: SQLAlchemy tables, migrations, the unit of work and the claim; the only SQL door."""
