"""The workbench's routes, one module per page family; each has ``routes()``."""
