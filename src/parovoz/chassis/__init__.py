"""The microservice chassis: every contract of CONTRACTS.md implemented once."""
