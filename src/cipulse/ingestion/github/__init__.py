"""GitHub Actions ``workflow_run`` and ``workflow_job`` webhook events."""
