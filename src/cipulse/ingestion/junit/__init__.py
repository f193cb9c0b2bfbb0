"""JUnit XML reports: the dialects real test runners write."""
