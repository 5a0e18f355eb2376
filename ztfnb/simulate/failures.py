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

__all__ = ["FAILURE_KINDS", "Failure", "apply_failure", "choose_failures"]

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
