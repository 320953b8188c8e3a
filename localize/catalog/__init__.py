"""Catalogs: many series and episodes into many markets, as a job graph with state in a database.

    from localize.catalog import Catalog
    result = Catalog.load("catalog.toml").run("out/")
"""

from .api import Catalog, status
from .runner import BatchResult, JobFailure, RetryPolicy
from .status import CatalogStatus, StageStatus

catalog_status = status

__all__ = ["BatchResult", "Catalog", "CatalogStatus", "JobFailure", "RetryPolicy", "StageStatus", "catalog_status",
           "status"]
