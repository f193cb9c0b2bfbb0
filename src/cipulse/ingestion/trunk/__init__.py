"""The Trunk CI Analytics trackEvents wire format.

The Trunk CI Analytics ``trackEvents`` wire format (``POST /v1/metrics/trackEvents``)."""
