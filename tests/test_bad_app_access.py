"""Who may open an app: a token everywhere, never an empty one, no authentication on the loopback only.

The refusals run ``ztfnb app`` in this process and are made before anything is
read or served; the servers themselves are checked over HTTP in ``test_webapp.py``.
"""

import pytest

from tests.refusals import refused
from tests.webapps import app_processes
from ztfnb.webapp.server import TOKEN_VARIABLE, access_token, is_loopback

LOOPBACK = ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2", "::ffff:127.0.0.1"]
ELSEWHERE = ["0.0.0.0", "::", "", "192.0.2.7", "2001:db8::1", "ztf.example.org", "127.0.0.1.nip.io"]


@pytest.mark.parametrize("host", LOOPBACK + ELSEWHERE)
def test_the_access_model(host):
    """host × option → the token required, or a refusal (the README's table)."""
    environ = {}
    assert is_loopback(host) == (host in LOOPBACK)
    random = access_token(host, environ=environ)
    assert len(random) >= 32 and random != access_token(host, environ=environ)
    assert access_token(host, "chosen", environ=environ) == "chosen"
    assert access_token(host, environ={TOKEN_VARIABLE: "from-env"}) == "from-env"
    assert access_token(host, "given", environ={TOKEN_VARIABLE: "from-env"}) == "given"
    for empty in ("", " ", "\t"):
        with pytest.raises(ValueError, match="empty --token"):
            access_token(host, empty, environ=environ)
        with pytest.raises(ValueError, match=f"empty {TOKEN_VARIABLE}"):
            access_token(host, environ={TOKEN_VARIABLE: empty})
    with pytest.raises(ValueError, match="contradict"):
        access_token(host, "chosen", no_token=True, environ=environ)
    if host in LOOPBACK:
        assert access_token(host, no_token=True, environ={TOKEN_VARIABLE: "x"}) == ""
    else:
        with pytest.raises(ValueError, match="--no-token is refused"):
            access_token(host, no_token=True, environ=environ)


@pytest.mark.parametrize(
    ("arguments", "names"),
    [
        (["--token", ""], ["--token", "empty"]),
        (["--token", "   "], ["--token", "empty"]),
        (["--token", "two words"], ["--token", "without spaces"]),
        (["--host", "0.0.0.0", "--token", ""], ["--token", "empty"]),
        (["--host", "0.0.0.0", "--no-token"], ["--no-token", "0.0.0.0", "127.0.0.1"]),
        (["--host", "::", "--no-token"], ["--no-token", "::"]),
        (["--host", "", "--no-token"], ["--no-token", "every interface"]),
        (["--host", "192.0.2.7", "--no-token"], ["--no-token", "192.0.2.7"]),
        (["--host", "127.0.0.1.nip.io", "--no-token"], ["--no-token", "127.0.0.1.nip.io"]),
        (["--no-token", "--token", "abc"], ["--token", "--no-token"]),
    ],
)
def test_an_empty_token_or_no_token_off_the_loopback_is_refused_before_serving(
    tmp_path, capsys, monkeypatch, arguments, names
):
    monkeypatch.delenv(TOKEN_VARIABLE, raising=False)
    before = app_processes(own=True)
    refused(["app", "ost", *arguments], names=names, capsys=capsys)
    # the review app refuses before it reads (or measures) the night
    night = tmp_path / "night"
    night.mkdir()
    (night / "review.jsonl").write_text("not a decision\n")
    message = refused(
        ["app", "review", night, *arguments], names=names, watch=[night], capsys=capsys
    )
    assert message.startswith("ztfnb app: error: ") and "metrics" not in message
    assert app_processes(own=True) == before


def test_an_empty_token_in_the_environment_is_refused(capsys, monkeypatch):
    monkeypatch.setenv(TOKEN_VARIABLE, "")
    refused(["app", "ost"], names=[TOKEN_VARIABLE, "empty"], capsys=capsys)
