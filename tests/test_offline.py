"""Offline by construction: frozen IERS, no sockets, Palomar as a constant."""

import socket
from pathlib import Path

import astropy.units as u
import pytest
from astropy.utils import iers

import ztfnb
from ztfnb.site import PALOMAR

PACKAGE = Path(ztfnb.__file__).parent


def test_import_freezes_iers():
    iers.conf.auto_download = True
    ztfnb.freeze_iers()
    assert iers.conf.auto_download is False
    assert iers.conf.auto_max_age is None


def test_outside_connections_are_refused_in_tests():
    with pytest.raises(Exception, match=r"(?i)tried to use|block|not allowed"):
        socket.create_connection(("93.184.216.34", 80), timeout=2)


def test_palomar_is_the_pipeline_constant():
    x, y, z = PALOMAR.geocentric
    assert x.to_value(u.m) == pytest.approx(-2410346.78217658, abs=1e-6)
    assert y.to_value(u.m) == pytest.approx(-4758666.82504051, abs=1e-6)
    assert z.to_value(u.m) == pytest.approx(3487942.97502457, abs=1e-6)
    assert PALOMAR.lat.deg == pytest.approx(33.356, abs=0.01)


@pytest.mark.parametrize(
    "forbidden", ["of_site(", "download_file", "urlopen", "import requests", "urllib.request"]
)
def test_package_code_never_reaches_for_the_network(forbidden):
    offenders = [p for p in PACKAGE.rglob("*.py") if forbidden in p.read_text()]
    assert offenders == []


def test_time_conversions_work_without_downloads():
    from astropy.time import Time

    t = Time("2023-10-17T08:00:00", scale="utc")
    assert abs((t.ut1 - t.utc).to_value(u.s)) < 1
