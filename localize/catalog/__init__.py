"""Catalogs: many series and episodes into many markets, as a job graph with state in a database."""
