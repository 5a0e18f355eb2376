"""The ZTF camera: 16 CCDs × 4 readout quadrants on the P48 focal plane.

Quadrant positions come from the layout tables shipped in ``ztfnb/data/ztf/``
(corners in degrees from the field centre, from ztfquery/ztffields). The
quadrant table's EW column has the wrong sign (ztffields multiplies it by −1);
after that correction EW is positive to the West, so the tangent-plane
coordinate towards the East is ``xi = −EW``, which equals the quadrant table's
value as stored. ``eta = NS``.

Pixels follow the FITS convention (1-based centres). Every quadrant is read out
with ``x`` increasing to the East and ``y`` to the South, as in the P48's
PTF headers (``CD1_1 > 0``, ``CD2_2 < 0``). :meth:`FocalPlane.mirrored` gives a
camera of the other parity (``x`` read out towards the West), for testing code
against cameras that are not ZTF's.

Focal-plane coordinates ``(u, v)`` are in degrees on the nominal gnomonic
tangent plane about the boresight, before any optical distortion.
"""

from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources

import astropy.units as u
import numpy as np
from astropy.table import Table

__all__ = [
    "NAXIS1",
    "NAXIS2",
    "N_QUADRANTS",
    "PIXEL_SCALE",
    "FocalPlane",
    "Quadrant",
    "ccdid_qid",
    "rcid_of",
]

NAXIS1 = 3072
NAXIS2 = 3080
N_QUADRANTS = 64
#: Nominal plate scale: 67.47″/mm × 15 µm.
PIXEL_SCALE = 1.012 * u.arcsec
_SCALE_DEG = PIXEL_SCALE.to_value(u.deg)
_PIXEL_CENTRE = np.array([(NAXIS1 + 1) / 2, (NAXIS2 + 1) / 2])
#: Readout orientation: pixel x towards +xi (East), pixel y towards −eta (South).
_READOUT_PARITY = np.diag([1.0, -1.0])
#: The same as the diagonal of a `Quadrant`'s ``parity``.
_READOUT_SIGNS = (1.0, -1.0)


def rcid_of(ccdid, qid):
    """Readout-channel id, 0–63, of a CCD (1–16) and quadrant (1–4)."""
    ccdid = np.asarray(ccdid)
    qid = np.asarray(qid)
    if np.any((ccdid < 1) | (ccdid > 16)) or np.any((qid < 1) | (qid > 4)):
        raise ValueError(f"ccdid must be 1-16 and qid 1-4, got ccdid={ccdid}, qid={qid}")
    return 4 * (ccdid - 1) + (qid - 1)


def ccdid_qid(rcid):
    """CCD id (1–16) and quadrant id (1–4) of a readout channel (0–63)."""
    rcid = np.asarray(rcid)
    if np.any((rcid < 0) | (rcid >= N_QUADRANTS)):
        raise ValueError(f"rcid must be 0-63, got {rcid}")
    return rcid // 4 + 1, rcid % 4 + 1


@dataclass(frozen=True)
class Quadrant:
    """One readout quadrant placed on the focal plane.

    Parameters
    ----------
    rcid : int
        Readout-channel id, 0–63.
    center : tuple of float
        Focal-plane position (u, v) of the quadrant's central pixel, degrees.
    rotation : float
        Rotation of the pixel axes from the nominal orientation, degrees.
    scale : float
        Pixel scale, degrees per pixel.
    parity : tuple of float
        Signs of the pixel axes along (u, v) before the rotation: ``(1, -1)``, ZTF's
        readout (x East, y South, ``det(cd) < 0``); ``(-1, -1)`` is the mirrored
        readout of :meth:`mirrored` (x West, ``det(cd) > 0``).
    """

    rcid: int
    center: tuple
    rotation: float = 0.0
    scale: float = _SCALE_DEG
    parity: tuple = _READOUT_SIGNS

    @property
    def ccdid(self):
        return int(self.rcid // 4 + 1)

    @property
    def qid(self):
        return int(self.rcid % 4 + 1)

    @property
    def cd(self):
        """The 2×2 linear map from pixel offsets to (u, v), degrees per pixel."""
        theta = np.deg2rad(self.rotation)
        rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        parity = (
            _READOUT_PARITY
            if tuple(self.parity) == _READOUT_SIGNS
            else np.diag(np.asarray(self.parity, float))
        )
        return self.scale * rotation @ parity

    def mirrored(self):
        """The same quadrant, same place, with its pixel x axis read out the other way."""
        return replace(self, parity=(-float(self.parity[0]), float(self.parity[1])))

    @property
    def crpix(self):
        """Pixel position (1-based) of the focal-plane origin (the boresight)."""
        return _PIXEL_CENTRE - np.linalg.solve(self.cd, np.asarray(self.center, float))

    def pixel_to_focal(self, x, y):
        """Focal-plane (u, v) in degrees of 1-based pixel positions."""
        offsets = np.stack(
            [np.asarray(x, float) - _PIXEL_CENTRE[0], np.asarray(y, float) - _PIXEL_CENTRE[1]]
        )
        uv = np.tensordot(self.cd, offsets, axes=1)
        return uv[0] + self.center[0], uv[1] + self.center[1]

    def focal_to_pixel(self, u_deg, v_deg):
        """1-based pixel positions of focal-plane (u, v) in degrees."""
        offsets = np.stack(
            [np.asarray(u_deg, float) - self.center[0], np.asarray(v_deg, float) - self.center[1]]
        )
        xy = np.tensordot(np.linalg.inv(self.cd), offsets, axes=1)
        return xy[0] + _PIXEL_CENTRE[0], xy[1] + _PIXEL_CENTRE[1]

    def contains(self, x, y, margin=0.0):
        """Whether pixel positions fall on the quadrant (pixel edges at 0.5 and N + 0.5)."""
        x = np.asarray(x)
        y = np.asarray(y)
        return (
            (x >= 0.5 - margin)
            & (x <= NAXIS1 + 0.5 + margin)
            & (y >= 0.5 - margin)
            & (y <= NAXIS2 + 0.5 + margin)
        )

    def corners_pixel(self):
        """The four outer pixel corners, counter-clockwise from (0.5, 0.5)."""
        return np.array(
            [[0.5, 0.5], [NAXIS1 + 0.5, 0.5], [NAXIS1 + 0.5, NAXIS2 + 0.5], [0.5, NAXIS2 + 0.5]]
        )

    def corners_focal(self):
        """The four corners in focal-plane (u, v) degrees, shape (4, 2)."""
        corners = self.corners_pixel()
        return np.column_stack(self.pixel_to_focal(corners[:, 0], corners[:, 1]))


@dataclass(frozen=True)
class FocalPlane:
    """The 64 readout quadrants of the camera.

    Use :meth:`FocalPlane.nominal` for the layout of the real camera.
    """

    quadrants: tuple = field(repr=False)

    def __post_init__(self):
        rcids = [q.rcid for q in self.quadrants]
        if rcids != list(range(len(rcids))):
            raise ValueError("quadrants must be ordered by rcid from 0")

    def __getitem__(self, rcid):
        return self.quadrants[int(rcid)]

    def __iter__(self):
        return iter(self.quadrants)

    def __len__(self):
        return len(self.quadrants)

    @classmethod
    def nominal(cls):
        """The real camera's layout from the packaged quadrant-corner table."""
        return _nominal_focal_plane()

    def mirrored(self):
        """A copy whose quadrants read out their pixel x axis the other way (the other parity).

        Every quadrant keeps its centre, rotation and scale; pixel ``(x, y)`` of
        the copy sees what pixel ``(NAXIS1 + 1 − x, y)`` of the original sees, and
        ``det(cd)`` changes sign. Mirroring twice gives the original back.
        """
        return FocalPlane(tuple(q.mirrored() for q in self.quadrants))

    def ccd_center(self, ccdid):
        """Focal-plane (u, v) in degrees of a CCD's centre (the mean of its quadrants' centres)."""
        centers = np.array([self.quadrants[4 * (ccdid - 1) + k].center for k in range(4)])
        return centers.mean(axis=0)

    def with_ccd_offsets(self, du, dv, drotation, dscale=None):
        """A copy with each CCD moved, rotated about its centre and rescaled.

        Parameters
        ----------
        du, dv : array-like, shape (16,)
            Shifts of the CCD centres, degrees.
        drotation : array-like, shape (16,)
            Rotations about the CCD centres, degrees.
        dscale : array-like, shape (16,), optional
            Fractional scale changes (a CCD closer to or farther from focus).
        """
        dscale = np.zeros(16) if dscale is None else np.asarray(dscale)
        quadrants = []
        for q in self.quadrants:
            c = q.ccdid - 1
            center = self.ccd_center(q.ccdid)
            theta = np.deg2rad(drotation[c])
            rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
            moved = (
                center
                + [du[c], dv[c]]
                + (1 + dscale[c]) * rotation @ (np.asarray(q.center) - center)
            )
            quadrants.append(
                replace(
                    q,
                    center=(float(moved[0]), float(moved[1])),
                    rotation=q.rotation + float(drotation[c]),
                    scale=q.scale * (1 + float(dscale[c])),
                )
            )
        return FocalPlane(tuple(quadrants))

    def locate(self, u_deg, v_deg):
        """The quadrant (rcid, or −1 in a gap) and pixel position of focal-plane points.

        Returns
        -------
        rcid, x, y : `~numpy.ndarray`
        """
        u_deg = np.asarray(u_deg, float)
        v_deg = np.asarray(v_deg, float)
        rcid = np.full(u_deg.shape, -1)
        x = np.full(u_deg.shape, np.nan)
        y = np.full(u_deg.shape, np.nan)
        for q in self.quadrants:
            qx, qy = q.focal_to_pixel(u_deg, v_deg)
            inside = q.contains(qx, qy) & (rcid < 0)
            rcid[inside] = q.rcid
            x[inside] = qx[inside]
            y[inside] = qy[inside]
        return rcid, x, y

    def extent(self):
        """Largest |u| and |v| reached by any quadrant corner, degrees."""
        corners = np.concatenate([q.corners_focal() for q in self.quadrants])
        return np.abs(corners).max(axis=0)


def _data_file(name):
    return resources.files("ztfnb") / "data" / "ztf" / name


def _read_table(name):
    with _data_file(name).open() as handle:
        return Table.read(handle.read(), format="ascii.csv")


def layout_table():
    """The quadrant-corner table with its EW sign corrected and (xi, eta) columns added.

    Returns
    -------
    `~astropy.table.Table`
        Columns ``EW, NS, CCD, Quad`` (degrees, EW positive West) and ``xi, eta``.
    """
    table = _read_table("ztf_ccd_quad_layout.tbl")
    table["EW"] = -table["EW"]  # the file's EW sign is wrong (ztffields: "error on the file")
    table["xi"] = -table["EW"]
    table["eta"] = table["NS"]
    return table


def ccd_layout_table():
    """The CCD-corner table (EW positive West, as the file has it right) with (xi, eta) added."""
    table = _read_table("ztf_ccd_layout.tbl")
    table.rename_column(table.colnames[2], "CCD")
    table["xi"] = -table["EW"]
    table["eta"] = table["NS"]
    return table


#: Pixel offsets of each quadrant's centre from its CCD's centre, in the CCD's pixel
#: frame (x East, y South): qid 1 top right, 2 top left, 3 bottom left, 4 bottom right.
_QUADRANT_OFFSETS = {
    1: (NAXIS1 / 2, -NAXIS2 / 2),
    2: (-NAXIS1 / 2, -NAXIS2 / 2),
    3: (-NAXIS1 / 2, NAXIS2 / 2),
    4: (NAXIS1 / 2, NAXIS2 / 2),
}


@cache
def _nominal_focal_plane():
    """Each CCD placed and rotated as its table corners say, split into its four quadrants.

    Quadrants of one CCD are one piece of silicon: they share its rotation and
    abut exactly, which the quadrant table (fitted per quadrant) does not quite.
    """
    table = ccd_layout_table()
    quadrants = []
    for ccdid in range(1, 17):
        rows = table[table["CCD"] == ccdid]
        corners = np.column_stack([rows["xi"], rows["eta"]]).astype(float)
        center, rotation = _ccd_placement(corners)
        for qid in range(1, 5):
            probe = Quadrant(0, (0.0, 0.0), rotation=rotation)
            offset = probe.cd @ np.asarray(_QUADRANT_OFFSETS[qid])
            quadrants.append(
                Quadrant(
                    int(rcid_of(ccdid, qid)),
                    (float(center[0] + offset[0]), float(center[1] + offset[1])),
                    rotation=rotation,
                )
            )
    return FocalPlane(tuple(quadrants))


def _ccd_placement(corners):
    """Centre and rotation (degrees) of a CCD from its four corners (nominal scale)."""
    center = corners.mean(axis=0)
    probe = Quadrant(0, (0.0, 0.0))
    half = np.array([NAXIS1, NAXIS2], float)
    pixel_corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * half
    expected = pixel_corners @ probe.cd.T
    measured = corners - center
    # pair each table corner with the nominal corner in the same direction from the centre
    order = [int(np.argmin(np.sum((expected - m) ** 2, axis=1))) for m in measured]
    expected = expected[order]
    angle = np.arctan2(
        np.sum(expected[:, 0] * measured[:, 1] - expected[:, 1] * measured[:, 0]),
        np.sum(expected[:, 0] * measured[:, 0] + expected[:, 1] * measured[:, 1]),
    )
    return center, float(np.rad2deg(angle))
