"""Conversions between domain values and the well-known protobuf types the contracts use."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp


def timestamp(moment: datetime) -> Timestamp:
    """`google.protobuf.Timestamp` of an aware datetime."""
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp
