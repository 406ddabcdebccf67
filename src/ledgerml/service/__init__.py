"""The ledger as a service: the REST API and the dashboard over the Python API (``ledgerml serve``).

``ledgerml.service.app.create_app(home)`` builds the FastAPI application; ``documents`` and ``reports`` build the
JSON documents it serves (plain functions, no web framework); ``auth`` holds the API tokens. Importing this package
imports no web framework.
"""

__all__: list[str] = []
