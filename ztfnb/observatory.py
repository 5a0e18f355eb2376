"""The observatory's heliocentric and barycentric positions, computed with erfa directly.

astropy's `~astropy.time.Time.light_travel_time` finds them by transforming the
observatory's ITRS position (geocentric, metres) through its frame graph:
ITRS → CIRS → ICRS → HCRS (heliocentric) or ITRS → CIRS → GCRS → ICRS
(barycentric). Per epoch that is, in erfa's terms
(``astropy/coordinates/builtin_frames/intermediate_rotation_transforms.py``,
``icrs_cirs_transforms.py``, ``utils.py``, ``erfa_astrom.py``, astropy 8.0):

1. ITRS → GCRS: the transpose of ``c2tcio(c2i, era00(UT1), pom00(xp, yp, sp00(TT)))``,
   polar motion and UT1 from astropy's IERS table. astropy builds the
   celestial-to-intermediate matrix ``c2i`` from IAU 2006/2000A (``c2i06a``,
   or ``pnm06a`` + ``s06`` in ``apco``); here IAU 2000B (``c2i00b``), 30× cheaper
   and within 1 mas of it: ≤ 3 cm, 0.1 ns, at the Earth's radius.
2. GCRS → ICRS *direction*: astropy treats the geocentric vector as an
   apparent place and undoes the annual aberration (Earth's barycentric
   velocity, two iterations of ``ab``) and the Sun's light deflection (five of
   ``ld``) — its ``aticq`` — with the context of ``apcs`` (observer at the
   geocentre, Earth from ``epv00`` at TDB). The aberration step turns the
   6,400 km vector by up to 20″: ≈600 m, 2 µs, so it is reproduced, not skipped.
3. ICRS position = distance × that direction + the Earth's barycentric
   position; heliocentric: minus the Sun's barycentric position, which the same
   ``epv00`` call gives (Earth barycentric − Earth heliocentric), as astropy's
   builtin ephemeris does.

One ``epv00`` per epoch (astropy calls it twice or three times) dominates the
cost. Agreement with astropy is tested over the sky, 2018–2030 and several
observatories to 1 ns (``tests/test_observatory.py``); it is ≈10 ps.
"""

import erfa
import numpy as np
from astropy.coordinates.builtin_frames.utils import get_jd12, get_polar_motion

from ztfnb.offline import earth_orientation_table

__all__ = ["epoch_inputs", "positions_erfa"]

_AU = 149_597_870_700.0  # metres, exact (IAU 2012); astropy's u.au


def _norm(p):
    return p / np.sqrt(np.einsum("...i,...i", p, p))[..., np.newaxis]


def _astrometric_direction(p, distance_au, astrom):
    """astropy's ``aticq`` for a GCRS direction (its ``bpn`` is the identity here).

    ``p`` (m, 3) unit vectors; ``distance_au`` (m,) the object's distance from
    the observer. Returns BCRS coordinate directions (m, 3).
    """
    d = np.zeros_like(p)
    for _ in range(2):  # aberration, inverted by iteration as astropy does
        before = _norm(p - d)
        d = erfa.ab(before, astrom["v"], astrom["em"], astrom["bm1"]) - before
    natural = _norm(p - d)
    eh = astrom["em"][..., np.newaxis] * astrom["eh"]
    d = np.zeros_like(natural)
    for _ in range(5):  # light deflection by the Sun, with the object's finite distance
        before = _norm(natural - d)
        sun_distance, q = erfa.pn(eh + distance_au[..., np.newaxis] * before)
        q = np.where(sun_distance[..., np.newaxis] > 1.0e-10, q, before)
        d = erfa.ld(1.0, before, q, astrom["eh"], astrom["em"], 1e-6) - before
    return _norm(natural - d)


def epoch_inputs(times):
    """What astropy's Time and IERS table give per epoch, looked up once for all epochs.

    Parameters
    ----------
    times : `~astropy.time.Time`
        Shape (m,), with the location used for TDB (as astropy's frames use it).

    Returns
    -------
    `~numpy.ndarray`
        Shape (m, 8): TT, UT1 and TDB as two-part Julian dates, then the polar
        motion ``xp, yp`` (radians), exactly as astropy's transformations get them.
    """
    earth_orientation_table()  # parsed once, from ztfnb's cache when there is one
    return np.stack(
        [
            *get_jd12(times, "tt"),
            *get_jd12(times, "ut1"),
            *get_jd12(times, "tdb"),
            *get_polar_motion(times),
        ],
        axis=-1,
    )


def positions_erfa(inputs, kind, itrs):
    """Observatory positions relative to the heliocentre or barycentre, ICRS axes.

    Parameters
    ----------
    inputs : `~numpy.ndarray`
        Shape (m, 8), from `epoch_inputs` (any slice of its rows).
    kind : str
        ``"heliocentric"`` or ``"barycentric"``.
    itrs : `~numpy.ndarray`
        Geocentric ITRS positions of the observatory, metres, shape (3,) or (m, 3).

    Returns
    -------
    `~numpy.ndarray`
        Shape (m, 3), metres.
    """
    tt1, tt2, ut1, ut2, tdb1, tdb2, xp, yp = inputs.T
    # GCRS → ITRS; its transpose takes the observatory to the GCRS
    gcrs_to_itrs = erfa.c2tcio(
        erfa.c2i00b(tt1, tt2), erfa.era00(ut1, ut2), erfa.pom00(xp, yp, erfa.sp00(tt1, tt2))
    )
    p = np.einsum("...ji,...j->...i", gcrs_to_itrs, np.broadcast_to(itrs, (len(inputs), 3)))
    distance = np.sqrt(np.einsum("...i,...i", p, p))
    helio, bary = erfa.epv00(tdb1, tdb2)
    geocentre = np.zeros(len(inputs), erfa.dt_pv)
    astrom = erfa.apcs(tt1, tt2, geocentre, bary, helio["p"])
    direction = _astrometric_direction(p / distance[:, None], distance / _AU, astrom)
    position = distance[:, None] * direction + astrom["eb"] * _AU
    if kind == "heliocentric":
        position -= (bary["p"] - helio["p"]) * _AU  # the Sun's barycentric position
    return position
