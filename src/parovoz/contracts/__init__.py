"""Contracts shared between services that are not protobuf: the event definitions."""
