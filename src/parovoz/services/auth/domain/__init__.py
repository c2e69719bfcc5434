"""Auth's domain: users, password hashing, sessions and refresh-token rotation, input rules.

Plain Python: nothing here knows HTTP, gRPC or SQL. The store implements `AuthStore`
(domain/flows.py); the REST and gRPC adapters translate requests into calls on `AuthFlows`.
"""
