"""Pattern matching: the turn, scale and parity between detections and a reference.

A rough header can place a quadrant's detections with the wrong plate scale,
turned, mirrored (the other parity) and shifted by arcminutes. SCAMP allows
for this with its tolerances (``PIXSCALE_MAXERR 1.2``, a factor;
``POSANGLE_MAXERR 5°``; ``POSITION_MAXERR 1′``). The shift is what
`ztfnb.match.find_offset` finds, but only once the rest is right to a bin's
width across the region: a 1.5 % scale error smears the offset histogram of a
quadrant 3° from the axis over 30″.

The rest is found here without knowing the shift, from the vectors between
pairs of stars, which a shift does not change — SCAMP's pattern matching in
"pair space". The pairs of bright detections and the pairs of reference stars
are histogrammed in (log length, position angle); a scale multiplies every
length and a turn adds to every angle, so the two histograms are alike once
shifted by (log scale, turn): the peak of their cross-correlation (by FFT).
Pairs are undirected, so a turn is found modulo 180° (the offset search that
follows tells θ from θ + 180°); mirroring the detections (x → −x) negates
every angle, which tests the other parity. The peak is then refined on the
pairs of pairs that fall in it.

Everything is in a tangent plane, in degrees, as in `ztfnb.match`.
"""

from dataclasses import dataclass

import numpy as np
from scipy import fft, ndimage

__all__ = ["Pose", "PoseConfig", "central_sample", "find_pose"]

#: Cells over which the correlation's broad structure is averaged.
_SURROUNDINGS = 15


@dataclass(frozen=True)
class PoseConfig:
    """How the pose search works.

    Attributes
    ----------
    max_scale : float
        Largest scale factor searched, either way (SCAMP's ``PIXSCALE_MAXERR``
        has the same meaning; its default is 1.2).
    min_pair, max_pair : float
        Lengths of the detection pairs used, degrees: shorter ones carry more
        centroid error than angle.
    scale_bin, turn_bin : float
        Histogram bins: natural log of the scale, and degrees.
    significance : float
        How far above its surroundings, in robust standard deviations of the
        correlation, a peak must be (chance peaks reach ≈5, a field's true
        pose ≈40).
    min_peak : int
        Fewest pairs of pairs, above the surroundings, in the peak.
    radius : float
        Detections within this distance of the axis (degrees) are used: the
        region maps onto itself under any turn, scale or mirroring about the
        axis, so the reference stars that may be theirs are known.
    detections : int
        Brightest detections per quadrant in that region.
    reference_factor : float
        Reference stars per unit area, as a multiple of the detections' (the
        reference goes deeper and in another band; saturated detections are
        left out).
    """

    max_scale: float = 1.2
    min_pair: float = 2.0 / 60
    max_pair: float = 1.3
    scale_bin: float = 0.004
    turn_bin: float = 0.2
    significance: float = 8.0
    min_peak: int = 20
    radius: float = 1.0
    detections: int = 30
    reference_factor: float = 4.0

    def __post_init__(self):
        if not 1.0 < self.max_scale <= 2.0:
            raise ValueError(f"max_scale must be a factor between 1 and 2, got {self.max_scale}")
        if self.radius <= 0 or self.detections < 5 or self.reference_factor < 1:
            raise ValueError(
                "radius must be positive, detections at least 5 and reference_factor at least 1, "
                f"got {self.radius}, {self.detections}, {self.reference_factor}"
            )
        if not 0 < self.min_pair < self.max_pair:
            raise ValueError(
                f"pair lengths must satisfy 0 < min_pair < max_pair, got {self.min_pair}, {self.max_pair}"
            )


@dataclass(frozen=True)
class Pose:
    """How detections must be turned, scaled and mirrored to lie like the reference.

    ``reference − centre = scale · R(turn) · F · (detection − centre) + shift``,
    with ``F = diag(−1, 1)`` when ``mirrored``; the shift is not part of the
    pose (`ztfnb.match.find_offset` finds it next).

    Attributes
    ----------
    scale : float
        Factor.
    turn : float
        Degrees, counter-clockwise from +x towards +y, in [−90°, 90°): the
        search cannot tell it from ``turn + 180°``.
    mirrored : bool
    peak : float
        Pairs of pairs in the peak, above the correlation's mean.
    significance : float
        The peak in standard deviations of the correlation.
    """

    scale: float = 1.0
    turn: float = 0.0
    mirrored: bool = False
    peak: float = 0.0
    significance: float = 0.0

    def found(self, config=None):
        config = config or PoseConfig()
        return self.peak >= config.min_peak and self.significance >= config.significance

    @property
    def matrix(self):
        """The 2 × 2 linear map from detections to the reference."""
        theta = np.deg2rad(self.turn)
        rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        flip = np.diag([-1.0, 1.0]) if self.mirrored else np.eye(2)
        return self.scale * rotation @ flip

    def is_identity(self, scale_tolerance=1e-3, turn_tolerance=0.03):
        """Whether the pose is too close to no change to be worth applying."""
        return (
            not self.mirrored
            and abs(self.scale - 1) < scale_tolerance
            and abs(self.turn) < turn_tolerance
        )

    def apply(self, x, y, centre=(0.0, 0.0), half_turns=0):
        """Detections moved by the pose about ``centre`` (and ``half_turns`` × 180° more)."""
        matrix = self.matrix * (-1.0) ** half_turns
        dx, dy = np.asarray(x, float) - centre[0], np.asarray(y, float) - centre[1]
        return (
            centre[0] + matrix[0, 0] * dx + matrix[0, 1] * dy,
            centre[1] + matrix[1, 0] * dx + matrix[1, 1] * dy,
        )

    def describe(self):
        parity = ", mirrored" if self.mirrored else ""
        return f"scale {self.scale:.4f}, turn {self.turn:+.3f}°{parity}"


def _pairs(x, y, shortest, longest, group=None):
    """Log-length and undirected position angle (degrees, [0, 180)) of pairs.

    With ``group``, only pairs within the same group.
    """
    if group is None:
        group = np.zeros(x.size, int)
    logs, angles = [], []
    for label in np.unique(group):
        mine = np.flatnonzero(group == label)
        i, j = np.triu_indices(mine.size, k=1)
        dx, dy = x[mine[j]] - x[mine[i]], y[mine[j]] - y[mine[i]]
        length = np.hypot(dx, dy)
        keep = (length >= shortest) & (length <= longest)
        logs.append(np.log(length[keep]))
        angles.append(np.degrees(np.arctan2(dy[keep], dx[keep])) % 180.0)
    return np.concatenate(logs), np.concatenate(angles)


def find_pose(det_x, det_y, ref_x, ref_y, det_group=None, config=None, parities=(False, True)):
    """The turn, scale and parity that most pairs of detections share with reference pairs.

    Parameters
    ----------
    det_x, det_y : `~numpy.ndarray`
        Bright detections, degrees (a few tens per quadrant).
    ref_x, ref_y : `~numpy.ndarray`
        Reference stars over the region the detections may truly be in, to a
        depth that holds their counterparts, degrees.
    det_group : `~numpy.ndarray` of int, optional
        Detections form pairs only within a group (a quadrant, whose header
        may be placed independently of the others).
    config : `PoseConfig`, optional
    parities : tuple of bool
        Which parities to try (``True``: detections mirrored).

    Returns
    -------
    `Pose`
        The strongest; check `Pose.found`.
    """
    config = config or PoseConfig()
    det_x, det_y = np.asarray(det_x, float), np.asarray(det_y, float)
    ref_x, ref_y = np.asarray(ref_x, float), np.asarray(ref_y, float)
    det_log, det_angle = _pairs(det_x, det_y, config.min_pair, config.max_pair, det_group)
    window = np.log(config.max_scale)
    ref_log, ref_angle = _pairs(
        ref_x, ref_y, config.min_pair / config.max_scale, config.max_pair * config.max_scale
    )
    if det_log.size < 10 or ref_log.size < 10:
        return Pose()
    lags = int(np.ceil(window / config.scale_bin))
    low = np.log(config.min_pair) - window
    n_log = fft.next_fast_len(
        int(np.ceil((np.log(config.max_pair) + window - low) / config.scale_bin)) + lags + 1
    )
    n_turn = round(180.0 / config.turn_bin)

    def histogram(logs, angles):
        rows = np.clip(((logs - low) / config.scale_bin).astype(int), 0, n_log - 1)
        columns = (angles / config.turn_bin).astype(int) % n_turn
        return np.bincount(rows * n_turn + columns, minlength=n_log * n_turn).reshape(n_log, n_turn)

    reference = fft.rfft2(histogram(ref_log, ref_angle).astype(float))
    best = Pose()
    for mirrored in parities:
        angles = (-det_angle) % 180.0 if mirrored else det_angle
        detections = fft.rfft2(histogram(det_log, angles).astype(float))
        # correlation[Δlog, Δturn] = Σ det[log, turn] · ref[log + Δlog, turn + Δturn]
        correlation = fft.irfft2(np.conj(detections) * reference, s=(n_log, n_turn))
        # lags −lags … +lags in order (the log axis is padded, so they do not wrap)
        searched = np.roll(correlation, lags, axis=0)[: 2 * lags + 1]
        # a peak can straddle bins: smooth over 2 × 2 (the turn axis wraps)
        smoothed = searched + np.roll(searched, -1, axis=1)
        smoothed = smoothed[:-1] + smoothed[1:]
        # the correlation has broad structure (the fields' shapes, the spread of lengths);
        # a peak is judged above its surroundings
        excess = smoothed - ndimage.uniform_filter(
            smoothed, size=_SURROUNDINGS, mode=("nearest", "wrap")
        )
        spread = 1.4826 * np.median(np.abs(excess - np.median(excess)))
        i, j = np.unravel_index(np.argmax(excess), excess.shape)
        peak = excess[i, j]
        if peak <= best.peak:
            continue
        centre_log = (i - lags + 0.5) * config.scale_bin
        centre_turn = (j + 0.5) * config.turn_bin
        scale, turn = _refine(det_log, angles, ref_log, ref_angle, centre_log, centre_turn, config)
        best = Pose(
            scale=scale,
            turn=turn,
            mirrored=bool(mirrored),
            peak=float(peak),
            significance=float(peak / spread) if spread > 0 else 0.0,
        )
    return best


def _refine(det_log, det_angle, ref_log, ref_angle, centre_log, centre_turn, config):
    """Median (log scale, turn) of the pairs of pairs near the correlation's peak."""
    order = np.argsort(ref_log)
    sorted_log = ref_log[order]
    width = 1.5 * config.scale_bin
    first = np.searchsorted(sorted_log, det_log + centre_log - width, side="left")
    last = np.searchsorted(sorted_log, det_log + centre_log + width, side="right")
    counts = last - first
    total = int(counts.sum())
    if total == 0:
        return float(np.exp(centre_log)), float((centre_turn + 90.0) % 180.0 - 90.0)
    det_index = np.repeat(np.arange(det_log.size), counts)
    # positions first[k], first[k] + 1, … for each detection pair k, without a Python loop
    starts = np.repeat(first - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    ref_index = order[starts + np.arange(total)]
    offset = (ref_angle[ref_index] - det_angle[det_index] - centre_turn + 90.0) % 180.0 - 90.0
    near = np.abs(offset) <= 1.5 * config.turn_bin
    if not near.any():
        return float(np.exp(centre_log)), float((centre_turn + 90.0) % 180.0 - 90.0)
    dlog = ref_log[ref_index[near]] - det_log[det_index[near]]
    turn = (centre_turn + np.median(offset[near]) + 90.0) % 180.0 - 90.0
    return float(np.exp(np.median(dlog))), float(turn)


def central_sample(quadrants, ref_x, ref_y, ref_mag, slack, config=None):
    """Bright detections near the axis, per quadrant, and the reference stars they may be.

    Parameters
    ----------
    quadrants : list of tuple
        Per quadrant: x, y (degrees, in the plane about the axis) and flux of
        its detections.
    ref_x, ref_y, ref_mag : `~numpy.ndarray`
        The reference, degrees and magnitudes.
    slack : float
        How far (degrees) the axis itself may be off (the pointing error).
    config : `PoseConfig`, optional

    Returns
    -------
    det_x, det_y, det_group, ref_x, ref_y : `~numpy.ndarray`
        For `find_pose`.
    """
    config = config or PoseConfig()
    xs, ys, groups = [], [], []
    for label, (x, y, flux) in enumerate(quadrants):
        inside = np.flatnonzero(np.hypot(x, y) <= config.radius)
        bright = inside[np.argsort(np.asarray(flux)[inside])[::-1][: config.detections]]
        xs.append(np.asarray(x)[bright])
        ys.append(np.asarray(y)[bright])
        groups.append(np.full(bright.size, label))
    det_x, det_y, det_group = (np.concatenate(a) if a else np.zeros(0) for a in (xs, ys, groups))
    reach = config.radius * config.max_scale + slack
    near = np.flatnonzero(np.hypot(ref_x, ref_y) <= reach)
    count = int(config.reference_factor * det_x.size * (reach / config.radius) ** 2)
    chosen = near[np.argsort(np.asarray(ref_mag)[near])[:count]]
    return det_x, det_y, det_group, np.asarray(ref_x)[chosen], np.asarray(ref_y)[chosen]
