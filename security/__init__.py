"""Security: login and sessions, roles and policies, PII masking, audit log, embed and API tokens."""
