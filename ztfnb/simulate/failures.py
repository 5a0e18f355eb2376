"""Bad data injected into a simulated night, for the quality review to find.

Kinds, each on one quadrant of one exposure:

``corner_distortion``
    Detections near one corner displaced, growing to 0.6–1.5″ at the corner
    (a warped or tilted detector corner).
``shift``
    All detections of the quadrant shifted by 0.3–0.6″ (a readout timing glitch).
``few_stars``
    Only 12–25 detections survive (cloud, a bad amplifier).
``missing_quadrant``
    The readout channel is absent from the catalogue.
"""

from dataclasses import dataclass

import numpy as np

from ztfnb.camera import N_QUADRANTS, NAXIS1, NAXIS2, PIXEL_SCALE

__all__ = [
    "FAILURE_KINDS",
    "SOLUTION_FAILURES",
    "Failure",
    "apply_failure",
    "choose_failures",
    "inject_solution_failures",
    "perturb_solution",
]

FAILURE_KINDS = ("corner_distortion", "shift", "few_stars", "missing_quadrant")
_PIXEL_ARCSEC = PIXEL_SCALE.to_value("arcsec")


@dataclass(frozen=True)
class Failure:
    """One injected failure.

    Attributes
    ----------
    exposure : str
    rcid : int
    kind : str
        One of :data:`FAILURE_KINDS`.
    amplitude : float
        Displacement in arcseconds (0 where it does not apply).
    corner : int
        Corner 0–3 (counter-clockwise from pixel (1, 1)) for ``corner_distortion``, else −1.
    angle : float
        Direction of the displacement, degrees from +x.
    """

    exposure: str
    rcid: int
    kind: str
    amplitude: float = 0.0
    corner: int = -1
    angle: float = 0.0

    def describe(self):
        detail = f" {self.amplitude:.2f} arcsec" if self.amplitude else ""
        return f"rcid{self.rcid}:{self.kind}{detail}"


def choose_failures(exposure_names, count, rng):
    """Draw ``count`` failures on distinct quadrants, kinds cycled so all appear."""
    if count < 0:
        raise ValueError(f"the number of failures must be ≥ 0, got {count}")
    slots = len(exposure_names) * N_QUADRANTS
    if count > slots:
        raise ValueError(f"{count} failures do not fit in {slots} quadrants")
    picks = rng.choice(slots, size=count, replace=False)
    kinds = [FAILURE_KINDS[i % len(FAILURE_KINDS)] for i in rng.permutation(count)]
    failures = []
    for pick, kind in zip(picks, kinds, strict=True):
        exposure, rcid = exposure_names[pick // N_QUADRANTS], int(pick % N_QUADRANTS)
        amplitude = {
            "corner_distortion": rng.uniform(0.6, 1.5),
            "shift": rng.uniform(0.3, 0.6),
        }.get(kind, 0.0)
        failures.append(
            Failure(
                exposure=exposure,
                rcid=rcid,
                kind=kind,
                amplitude=float(amplitude),
                corner=int(rng.integers(0, 4)) if kind == "corner_distortion" else -1,
                angle=float(rng.uniform(0, 360)),
            )
        )
    return sorted(failures, key=lambda f: (exposure_names.index(f.exposure), f.rcid))


_CORNERS = np.array(
    [[0.5, 0.5], [NAXIS1 + 0.5, 0.5], [NAXIS1 + 0.5, NAXIS2 + 0.5], [0.5, NAXIS2 + 0.5]]
)


def apply_failure(failure, objects, truth, rng):
    """Apply a failure to a quadrant's detections.

    Returns
    -------
    objects, truth : `~astropy.table.Table` or None
        ``None`` when the quadrant disappears.
    """
    if failure.kind == "missing_quadrant":
        return None, None
    if failure.kind == "few_stars":
        keep = np.sort(
            rng.choice(
                len(objects), size=min(len(objects), int(rng.integers(12, 26))), replace=False
            )
        )
        objects, truth = objects[keep], truth[keep]
        objects["NUMBER"] = np.arange(1, len(objects) + 1, dtype=objects["NUMBER"].dtype)
        truth["NUMBER"] = objects["NUMBER"]
        return objects, truth
    direction = np.array([np.cos(np.deg2rad(failure.angle)), np.sin(np.deg2rad(failure.angle))])
    amplitude = failure.amplitude / _PIXEL_ARCSEC
    x = np.asarray(objects["XWIN_IMAGE"], float)
    y = np.asarray(objects["YWIN_IMAGE"], float)
    if failure.kind == "shift":
        weight = np.ones_like(x)
    else:
        corner = _CORNERS[failure.corner]
        distance = np.hypot(x - corner[0], y - corner[1]) / np.hypot(NAXIS1, NAXIS2)
        weight = (
            np.clip(1 - distance / 0.5, 0, None) ** 2
        )  # full at the corner, zero half-way across
    objects["XWIN_IMAGE"] = x + amplitude * weight * direction[0]
    objects["YWIN_IMAGE"] = y + amplitude * weight * direction[1]
    return objects, truth


#: Failures injected into solutions (``.head`` blocks) rather than into data.
SOLUTION_FAILURES = ("corner_takeoff", "solution_shift", "scale")


def perturb_solution(header, kind, amplitude, rng, grid=12):
    """A solved header whose mapping is deliberately wrong, as SCAMP's sometimes are.

    ``corner_takeoff``
        Right over most of the quadrant, off by ``amplitude`` arcseconds at one
        corner (a cubic rising from zero at the opposite corner).
    ``solution_shift``
        Off by ``amplitude`` arcseconds everywhere.
    ``scale``
        Pixel scale off by ``amplitude`` percent about the quadrant's centre.

    The displacement is applied in the tangent plane about CRVAL and a TPV
    polynomial of degree ≥ 3 refitted (CRVAL, CRPIX and CD unchanged): all
    three displacements are polynomials, so the refit is exact.

    Parameters
    ----------
    header : `~astropy.io.fits.Header`
    kind : str
        One of :data:`SOLUTION_FAILURES`.
    amplitude : float
    rng : `numpy.random.Generator`
    grid : int

    Returns
    -------
    header : `~astropy.io.fits.Header`
    detail : dict
        ``corner`` and ``angle`` drawn.
    """
    import warnings

    from astropy.wcs import WCS, FITSFixedWarning

    from ztfnb.tangent import gnomonic
    from ztfnb.tpv import fit_tpv, tpv_header

    if kind not in SOLUTION_FAILURES:
        raise ValueError(f"unknown solution failure {kind!r}; one of {SOLUTION_FAILURES}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        wcs = WCS(header)
    gx, gy = (
        a.ravel()
        for a in np.meshgrid(
            np.linspace(0.5, NAXIS1 + 0.5, grid), np.linspace(0.5, NAXIS2 + 0.5, grid)
        )
    )
    crval = (header["CRVAL1"], header["CRVAL2"])
    ra, dec = wcs.all_pix2world(gx, gy, 1)
    xi, eta = gnomonic(ra, dec, *crval)
    angle = float(rng.uniform(0, 360))
    direction = np.array([np.cos(np.deg2rad(angle)), np.sin(np.deg2rad(angle))])
    corner = int(rng.integers(0, 4))
    if kind == "solution_shift":
        weight = np.full(gx.shape, amplitude / 3600)
        dxi, deta = weight * direction[0], weight * direction[1]
    elif kind == "corner_takeoff":
        centre = np.array([(NAXIS1 + 1) / 2, (NAXIS2 + 1) / 2])
        toward = _CORNERS[corner] - centre
        t = ((gx - centre[0]) * toward[0] + (gy - centre[1]) * toward[1]) / (toward @ toward)
        weight = amplitude / 3600 * (t**3 + t**2) / 2
        dxi, deta = weight * direction[0], weight * direction[1]
    else:
        cra, cdec = wcs.all_pix2world([(NAXIS1 + 1) / 2], [(NAXIS2 + 1) / 2], 1)
        cxi, ceta = gnomonic(cra, cdec, *crval)
        dxi, deta = (xi - cxi) * amplitude / 100, (eta - ceta) * amplitude / 100
    cd = wcs.wcs.cd if wcs.wcs.has_cd() else wcs.pixel_scale_matrix
    crpix = (header["CRPIX1"], header["CRPIX2"])
    u_, v_ = cd @ np.stack([gx - crpix[0], gy - crpix[1]])
    pv1, pv2, _ = fit_tpv(u_, v_, xi + dxi, eta + deta, _tpv_degree(header))
    perturbed = header.copy()
    for key in [k for k in perturbed if k.startswith(("PV1_", "PV2_"))]:
        del perturbed[key]
    perturbed.update(tpv_header(crval, crpix, cd, pv1, pv2))
    return perturbed, {"corner": corner if kind == "corner_takeoff" else -1, "angle": angle}


def _tpv_degree(header):
    """Degree of a header's TPV polynomial, at least 3 (so that a cubic displacement fits)."""
    from ztfnb.tpv import _TERMS

    indices = [int(k.split("_")[1]) for k in header if k.startswith(("PV1_", "PV2_"))]
    degree = max((sum(_TERMS[i][:2]) for i in indices if i in _TERMS), default=1)
    return max(3, degree)


def inject_solution_failures(
    heads_dir,
    names,
    count,
    rng,
    kinds=SOLUTION_FAILURES,
    avoid=None,
    catalogs=None,
    amplitude=None,
):
    """Perturb ``count`` quadrants' solutions in ``heads_dir/<name>.head``, in place.

    Amplitudes as ZTF's failures: corners 0.6–1.5″, shifts 0.3–0.6″, pixel
    scale 1.2–3 %; or ``amplitude`` (″ or %, as the kind's) for every one
    (the random numbers drawn are the same either way). ``avoid`` is a set of (exposure, rcid) left alone (say,
    quadrants with data failures). SCAMP's blocks do not say which quadrant
    they are: the catalogue does (``catalogs[name]``, default
    ``heads_dir/<name>.ldac``), block by block.

    Returns
    -------
    `~astropy.table.Table`
        ``exposure, rcid, kind, amplitude, corner, angle``.
    """
    from pathlib import Path

    from astropy.table import Table

    from ztfnb.io.headers import read_header_blocks, write_header_blocks
    from ztfnb.io.ldac import read_ldac

    avoid = set(avoid or ())
    heads_dir = Path(heads_dir)
    catalogs = catalogs or {name: heads_dir / f"{name}.ldac" for name in names}
    blocks = {name: read_header_blocks(heads_dir / f"{name}.head") for name in names}
    rcids = {
        name: [int(pair.header["RCID"]) for pair in read_ldac(catalogs[name])] for name in names
    }
    slots = [
        (name, i)
        for name in names
        for i in range(len(blocks[name]))
        if (name, rcids[name][i]) not in avoid
    ]
    if count > len(slots):
        raise ValueError(f"{count} failures do not fit in {len(slots)} quadrants")
    rows = []
    for k, pick in enumerate(rng.choice(len(slots), size=count, replace=False)):
        name, index = slots[pick]
        kind = kinds[k % len(kinds)]
        amplitude_drawn = {
            "corner_takeoff": rng.uniform(0.6, 1.5),
            "solution_shift": rng.uniform(0.3, 0.6),
            "scale": rng.choice([-1, 1]) * rng.uniform(1.2, 3.0),
        }[kind]
        amplitude_here = amplitude if amplitude is not None else amplitude_drawn
        blocks[name][index], detail = perturb_solution(
            blocks[name][index], kind, float(amplitude_here), rng
        )
        rows.append(
            (
                name,
                rcids[name][index],
                kind,
                float(amplitude_here),
                detail["corner"],
                detail["angle"],
            )
        )
    for name in names:
        write_header_blocks(heads_dir / f"{name}.head", blocks[name])
    return Table(
        rows=rows,
        names=["exposure", "rcid", "kind", "amplitude", "corner", "angle"],
        dtype=[str, np.int16, str, float, np.int16, float],
    )
