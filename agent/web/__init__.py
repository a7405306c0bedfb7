"""The auditor's web workbench (``appeals serve``): server-rendered pages over the store.

Presentation only: each route reads its request and calls one method of
:class:`agent.application.workbench.Workbench` or
:class:`agent.application.accounts.AccountService`, which enforce the roles and write the
audit. See docs/web.md.
"""
