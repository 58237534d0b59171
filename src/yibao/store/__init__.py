"""Storage adapters: SQLAlchemy Core tables, the unit of work, repositories, migrations."""
