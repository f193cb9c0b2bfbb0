"""GitLab Pipeline Hook and Job Hook webhook events."""
