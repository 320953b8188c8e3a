"""Catalogs: many series and episodes into many markets, as a job graph with state in a database.

    from localize.apps.catalog import Catalog
    result = Catalog.load("catalog.toml").run("out/")
"""

from localize.apps.catalog.api import Catalog, status
from localize.apps.catalog.runner import BatchResult, JobFailure, RetryPolicy
from localize.apps.catalog.status import CatalogStatus, StageStatus

catalog_status = status

__all__ = ["BatchResult", "Catalog", "CatalogStatus", "JobFailure", "RetryPolicy", "StageStatus", "catalog_status",
           "status"]
