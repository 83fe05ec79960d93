"""`simdeploy serve` starting and failing to: the session CA, the kubeconfig it writes, starts that cannot listen."""

from __future__ import annotations

import base64
import socket
import ssl
import stat
import tempfile
import urllib.error
import urllib.request

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from serve_helpers import SEED
from typer.testing import CliRunner

import simdeploy
from simdeploy.apiserver import ApiServer
from simdeploy.apiserver.kubeconfig import write_kubeconfig
from simdeploy.apiserver.server import ListenError, is_loopback
from simdeploy.cli import app


@pytest.fixture
def temp_dir(tmp_path, monkeypatch):
    """A temporary directory of its own for the test, where the server makes its certificate directory."""
    directory = tmp_path / "tmp"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


def left_behind(directory) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("simdeploy-serve-"))


def test_the_kubeconfig_carries_the_session_ca_and_kubectl_needs_no_insecure_flag(serving):
    with serving(until=0, speed=0) as server:
        config = yaml.safe_load(server.kubeconfig_path.read_text())
        [cluster] = [c["cluster"] for c in config["clusters"]]
        assert "insecure-skip-tls-verify" not in cluster
        ca_pem = base64.b64decode(cluster["certificate-authority-data"])
        assert ca_pem == server.ca_path.read_bytes()
        assert stat.S_IMODE(server.kubeconfig_path.stat().st_mode) == 0o600  # it holds the token

        ca = x509.load_pem_x509_certificate(ca_pem)
        served = x509.load_pem_x509_certificate(ssl.get_server_certificate(("127.0.0.1", server.port)).encode())
        assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        assert not served.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        assert served.issuer == ca.subject and served != ca
        names = served.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} >= {"127.0.0.1", "::1"}
        assert "localhost" in names.get_values_for_type(x509.DNSName)
        # The CA's key is written nowhere: the only key on disk is the serving certificate's.
        files = sorted(p.name for p in server.ca_path.parent.iterdir())
        assert files == ["ca.pem", "cert.pem", "key.pem", "kubeconfig"]
        key = serialization.load_pem_private_key((server.ca_path.parent / "key.pem").read_bytes(), None)
        assert key.public_key() == served.public_key()

        healthz = urllib.request.Request(f"{server.url}/healthz", headers={"Authorization": f"Bearer {server.token}"})
        trusting = ssl.create_default_context(cadata=ca_pem.decode())
        with urllib.request.urlopen(healthz, context=trusting, timeout=10) as answer:
            assert answer.read() == b"ok"
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):  # no other CA vouches for it
            urllib.request.urlopen(healthz, context=ssl.create_default_context(), timeout=10)


@pytest.mark.parametrize("planted", ["file", "link"])
def test_a_file_planted_where_the_kubeconfig_is_written_never_receives_the_token(tmp_path, serving, planted):
    destination = tmp_path / "kubeconfig"
    predictable = tmp_path / ".kubeconfig.tmp"  # the temporary name an earlier version wrote through
    stolen = tmp_path / "stolen"
    if planted == "file":
        predictable.write_text("planted\n")
        predictable.chmod(0o666)
    else:
        predictable.symlink_to(stolen)
    with serving(until=0, speed=0, kubeconfig_path=destination) as server:
        assert server.token in destination.read_text()
        assert stat.S_IMODE(destination.stat().st_mode) == 0o600
        if planted == "file":
            assert predictable.read_text() == "planted\n"
        else:
            assert not stolen.exists()
        # Nothing else beside it: the temporary file had a random name and was renamed into place.
        assert sorted(p.name for p in tmp_path.iterdir()) == [".kubeconfig.tmp", "kubeconfig"]


def test_a_kubeconfig_that_cannot_be_written_leaves_no_temporary_file(tmp_path):
    with pytest.raises(yaml.representer.RepresenterError):
        write_kubeconfig(tmp_path / "kubeconfig", {"token": object()})
    assert list(tmp_path.iterdir()) == []


def server_for(port: int = 0, address: str = "127.0.0.1", **options) -> ApiServer:
    return ApiServer(simdeploy.load(SEED), "seed", speed=0, address=address, port=port, **options)


def test_failed_starts_raise_listen_error_and_leave_nothing_behind(temp_dir, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ListenError, match="Address already in use"):
            server_for(port).start()
    with pytest.raises(ListenError, match="from 0 to 65535"):
        server_for(70000).start()
    with pytest.raises(ListenError, match="Cannot assign requested address"):
        server_for(address="203.0.113.7").start()  # TEST-NET-3: an address this machine does not have
    (tmp_path / "file").write_text("")
    server = server_for(kubeconfig_path=tmp_path / "file" / "kubeconfig")
    with pytest.raises(OSError):  # the kubeconfig's directory is a file: after the certificates were made
        server.start()
    assert left_behind(temp_dir) == []
    with socket.socket() as again:
        again.bind(("127.0.0.1", server.port))  # the listening socket was closed


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (["--speed", "inf"], "error: --speed: must be a finite number"),
        (["--speed", "nan"], "error: --speed: must be a finite number"),
        (["--speed", "1e308"], "error: --speed: must be from 0 to 1e+06"),
        (["--port", "70000"], "error: --address/--port: cannot listen on 127.0.0.1:70000"),
        (["--address", "203.0.113.7"], "error: --address/--port: cannot listen on 203.0.113.7:0"),
    ],
)
def test_simdeploy_serve_refuses_with_exit_2_and_leaves_nothing_behind(temp_dir, options, says):
    result = CliRunner().invoke(app, ["serve", str(SEED), *options])
    assert result.exit_code == 2, result.output
    assert says in result.output
    assert "Traceback" not in result.output
    assert left_behind(temp_dir) == []


def test_simdeploy_serve_on_a_port_in_use_exits_2(temp_dir):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["serve", str(SEED), "--port", str(port)])
    assert result.exit_code == 2
    assert f"error: --address/--port: cannot listen on 127.0.0.1:{port}: Address already in use" in result.output
    assert left_behind(temp_dir) == []


def test_an_address_other_than_loopback_gets_a_warning(temp_dir):
    result = CliRunner().invoke(app, ["serve", str(SEED), "--address", "203.0.113.7"])
    assert "warning: --address 203.0.113.7 is not loopback: the API can be reached from the network" in result.output
    assert result.exit_code == 2  # and then it could not listen there: this machine has no such address
    assert [a for a in ("127.0.0.1", "::1", "localhost", "127.0.0.2") if not is_loopback(a)] == []
    assert [a for a in ("0.0.0.0", "", "::", "192.168.1.5", "example.com") if is_loopback(a)] == []
