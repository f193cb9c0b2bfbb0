"""cipulse: self-hosted CI/CD pipeline analytics."""

__version__ = "0.1.0"
