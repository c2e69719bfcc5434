"""Parovoz: the backend of a game distribution platform."""

import os

__version__ = "0.1.0"

# Parovoz forks only to exec (embedded PostgreSQL's pg_ctl, the test broker, CLI subprocesses).
# grpcio's fork handlers are for forks that go on running gRPC; with other threads inside gRPC at
# the moment of a fork they can crash the child before its exec (seen here: pg_ctl died of SIGSEGV
# after "Other threads are currently calling into gRPC, skipping fork() handlers"; grpc/grpc#13873,
# #29044). Set before any grpc import, which every parovoz module's import of this package precedes.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
