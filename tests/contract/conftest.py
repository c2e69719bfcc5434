from tests.e2e.conftest import embedded_platform, gateway_client  # noqa: F401
