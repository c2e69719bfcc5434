"""TLS and mTLS between services, with a CA and certificates made at test time."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from parovoz.chassis.config import Settings
from parovoz.chassis.rpc import check_health, open_channel
from parovoz.protos.platform.auth.v1 import auth_pb2, auth_pb2_grpc
from tests.integration.rpc.conftest import RecordingAuthServicer, library_credentials, start_server


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> str:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(path)


def _write_cert(cert: x509.Certificate, path: Path) -> str:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return str(path)


def make_pki(directory: Path) -> dict[str, str]:
    """A CA, a server certificate for localhost/127.0.0.1 and a client certificate, as PEM files."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("parovoz test CA"))
        .issuer_name(_name("parovoz test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )

    def leaf(
        common_name: str, usage: x509.ObjectIdentifier
    ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        return key, cert

    server_key, server_cert = leaf("auth", ExtendedKeyUsageOID.SERVER_AUTH)
    client_key, client_cert = leaf("library", ExtendedKeyUsageOID.CLIENT_AUTH)
    return {
        "ca": _write_cert(ca_cert, directory / "ca.pem"),
        "server_cert": _write_cert(server_cert, directory / "server.pem"),
        "server_key": _write_key(server_key, directory / "server.key"),
        "client_cert": _write_cert(client_cert, directory / "client.pem"),
        "client_key": _write_key(client_key, directory / "client.key"),
    }


async def get_user(address: str, settings: Settings) -> auth_pb2.GetUserResponse:
    channel = open_channel(
        address, settings, caller="library", default_timeout=2, credentials=library_credentials()
    )
    try:
        return await auth_pb2_grpc.AuthServiceStub(channel).GetUser(auth_pb2.GetUserRequest(user_id="u1"))
    finally:
        await channel.close()


async def test_tls_server_serves_a_client_that_trusts_its_ca(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    server, port = await start_server(
        RecordingAuthServicer(), Settings(grpc_tls_cert=pki["server_cert"], grpc_tls_key=pki["server_key"])
    )
    address = f"localhost:{port}"
    try:
        reply = await get_user(address, Settings(grpc_tls_ca=pki["ca"]))
        assert reply.user.id == "u1"

        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await get_user(address, Settings())  # plaintext against TLS
        assert caught.value.code() is grpc.StatusCode.UNAVAILABLE

        plaintext = open_channel(address, Settings(), caller="library")
        assert await check_health(plaintext) is False
        await plaintext.close()
    finally:
        await server.stop(grace=None)


async def test_mtls_server_requires_a_client_certificate(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    server_settings = Settings(
        grpc_tls_cert=pki["server_cert"], grpc_tls_key=pki["server_key"], grpc_tls_ca=pki["ca"]
    )
    server, port = await start_server(RecordingAuthServicer(), server_settings)
    address = f"localhost:{port}"
    try:
        client_settings = Settings(
            grpc_tls_cert=pki["client_cert"], grpc_tls_key=pki["client_key"], grpc_tls_ca=pki["ca"]
        )
        reply = await get_user(address, client_settings)
        assert reply.user.id == "u1"

        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await get_user(address, Settings(grpc_tls_ca=pki["ca"]))  # TLS but no client certificate
        assert caught.value.code() is grpc.StatusCode.UNAVAILABLE
    finally:
        await server.stop(grace=None)
