"""A real S3 server for the content engine's tests: moto's S3 (a third-party implementation of the
protocol) on a free loopback port, behind a WSGI middleware that misbehaves on request (5xx, a body
cut short, a PUT body altered on the way), as `test_http_store.Unreliable` does for the origin.

It is served the way `moto.server.ThreadedMotoServer` serves moto (werkzeug's threaded server and
moto's request handler), with the S3 app alone so any region works (the default `ru-central1` too).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from parovoz.content.s3_store import S3ChunkStore, S3Settings

# moto signs nothing it checks; botocore only needs some credentials to sign with
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "sandbox", "AWS_SECRET_ACCESS_KEY": "sandbox-secret"}


class Faults:
    """WSGI middleware over moto; each knob applies to the next N matching requests."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests: list[tuple[str, str]] = []  # (method, path)
        self.fail_next = 0  # answer 503 SlowDown
        self.cut_next_get = 0  # send half an object's body, then drop the connection
        self.corrupt_next_put = 0  # flip a byte of the PUT body before moto stores it
        self._lock = threading.Lock()

    def _take(self, knob: str) -> bool:
        with self._lock:
            if getattr(self, knob) > 0:
                setattr(self, knob, getattr(self, knob) - 1)
                return True
            return False

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        with self._lock:
            self.requests.append((method, path))
        if self._take("fail_next"):
            start_response("503 Service Unavailable", [("Content-Type", "application/xml")])
            return [
                b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
            ]
        if method == "PUT" and "/chunks/" in path and self._take("corrupt_next_put"):
            _corrupt_body(environ)
        if method == "GET" and "/chunks/" in path and self._take("cut_next_get"):
            return _cut_short(self.app(environ, start_response))
        return self.app(environ, start_response)  # type: ignore[no-any-return]


def _corrupt_body(environ: dict[str, Any]) -> None:
    import io

    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = bytearray(environ["wsgi.input"].read(length))
    body[len(body) // 2] ^= 0x01
    environ["wsgi.input"] = io.BytesIO(bytes(body))


def _cut_short(answer: Iterable[bytes]) -> Iterator[bytes]:
    """Half the body, then an error: werkzeug drops the connection with Content-Length unmet."""
    data = b"".join(answer)
    yield data[: len(data) // 2]
    raise ConnectionAbortedError("cut short on purpose")


class MotoS3:
    """moto's S3 served on 127.0.0.1 in a thread; `new_store()` makes a bucket and a store on it."""

    def __init__(self) -> None:
        from moto.moto_server.werkzeug_app import MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        logging.getLogger("werkzeug").setLevel(logging.CRITICAL)  # one line per request otherwise
        self.faults = Faults(create_backend_app("s3"))
        self._server = make_server(
            "127.0.0.1", 0, self.faults, threaded=True, request_handler=MotoRequestHandler
        )
        self.endpoint = f"http://127.0.0.1:{self._server.server_port}"
        self.settings = S3Settings(endpoint_url=self.endpoint)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.client = self._client()

    def env(self) -> dict[str, str]:
        """The environment a `parovoz content` subprocess needs to reach this server."""
        return {**CREDENTIALS, "PAROVOZ_CONTENT_S3_ENDPOINT": self.endpoint}

    def new_bucket(self) -> str:
        name = f"pz-{uuid.uuid4().hex[:12]}"
        self.client.create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": self.settings.region}
        )
        return name

    def new_store(self, prefix: str = "builds", **options: Any) -> S3ChunkStore:
        options.setdefault("retries", 2)
        return S3ChunkStore(self.new_bucket(), prefix, settings=self.settings, **options)

    def stop(self) -> None:
        self.client.close()
        self._server.shutdown()
        self._thread.join(timeout=10)

    def _client(self) -> Any:
        import boto3

        return boto3.session.Session(
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        ).client("s3", endpoint_url=self.endpoint, region_name=self.settings.region)
