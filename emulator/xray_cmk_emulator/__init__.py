"""Local AWS emulator for xray-cmk: moto in server mode plus a thin WSGI middleware.

The middleware adds what moto 5.2.5 lacks for auditing X-Ray encryption
(X-Ray Get/PutEncryptionConfig and Get/UpdateTraceSegmentDestination, Account
region opt-in APIs, a small IAM explicit-Deny evaluator) and patches a few KMS,
CloudWatch Logs and CloudTrail behaviours. See README.md.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
