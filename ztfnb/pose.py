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

__all__ = ["Pose", "PoseConfig", "Sample", "find_pose", "pose_samples", "region_sample"]

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
    regions : int
        With few detections near the axis (a partial catalogue), the
        quadrants nearest the axis searched each on its own.
    max_turn : float
        Degrees: how far such a quadrant may be turned about the axis, for
        the reference stars that may be its.
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
    regions: int = 4
    max_turn: float = 10.0

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
        return f"scale ×{self.scale:.4f}, turn {self.turn:+.3f}°{parity}"


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
    if not logs:
        return np.zeros(0), np.zeros(0)
    return np.concatenate(logs), np.concatenate(angles)


@dataclass(frozen=True)
class Sample:
    """Detections and the reference stars that may be theirs, for `find_pose`.

    Attributes
    ----------
    det_x, det_y : `~numpy.ndarray`
        Bright detections, degrees (a few tens per quadrant).
    det_group : `~numpy.ndarray` of int
        Detections form pairs only within a group (a quadrant, whose header
        may be placed independently of the others).
    ref_x, ref_y : `~numpy.ndarray`
        Reference stars over the region the detections may truly be in, to a
        depth that holds their counterparts, degrees.
    """

    det_x: np.ndarray
    det_y: np.ndarray
    det_group: np.ndarray
    ref_x: np.ndarray
    ref_y: np.ndarray


def find_pose(samples, config=None, parities=(False, True)):
    """The turn, scale and parity that most pairs of detections share with reference pairs.

    Parameters
    ----------
    samples : list of `Sample`
        Each a region; their correlations add (they must share the pose).
    config : `PoseConfig`, optional
    parities : tuple of bool
        Which parities to try (``True``: detections mirrored).

    Returns
    -------
    `Pose`
        The strongest; check `Pose.found`.
    """
    config = config or PoseConfig()
    window = np.log(config.max_scale)
    lags = int(np.ceil(window / config.scale_bin))
    low = np.log(config.min_pair) - window
    n_log = fft.next_fast_len(
        int(np.ceil((np.log(config.max_pair) + window - low) / config.scale_bin)) + lags + 1
    )
    n_turn = round(180.0 / config.turn_bin)

    def histogram(logs, angles):
        rows = np.clip(((logs - low) / config.scale_bin).astype(int), 0, n_log - 1)
        columns = (angles / config.turn_bin).astype(int) % n_turn
        counts = np.bincount(rows * n_turn + columns, minlength=n_log * n_turn)
        return fft.rfft2(counts.reshape(n_log, n_turn).astype(float))

    pairs, spectra = [], {parity: 0 for parity in parities}
    for sample in samples:
        det = _pairs(sample.det_x, sample.det_y, config.min_pair, config.max_pair, sample.det_group)
        ref = _pairs(
            sample.ref_x,
            sample.ref_y,
            config.min_pair / config.max_scale,
            config.max_pair * config.max_scale,
        )
        if det[0].size < 10 or ref[0].size < 10:
            continue
        pairs.append((det, ref))
        reference = histogram(*ref)
        for mirrored in parities:
            angles = (-det[1]) % 180.0 if mirrored else det[1]
            # correlation[Δlog, Δturn] = Σ det[log, turn] · ref[log + Δlog, turn + Δturn]
            spectra[mirrored] = spectra[mirrored] + np.conj(histogram(det[0], angles)) * reference
    best = Pose()
    if not pairs:
        return best
    for mirrored in parities:
        correlation = fft.irfft2(spectra[mirrored], s=(n_log, n_turn))
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
        centre = ((i - lags + 0.5) * config.scale_bin, (j + 0.5) * config.turn_bin)
        near = [_near_peak(det, ref, centre, mirrored, config) for det, ref in pairs]
        dlog, dturn = (np.concatenate([n[k] for n in near]) for k in (0, 1))
        if dlog.size == 0:
            continue
        # the median of the pairs of pairs in a window that narrows about it: chance pairs
        # spread evenly over the window and would pull a wide one's median to its centre
        at = np.array([centre[0], 0.0])
        for width in (1.5, 0.75, 0.4):
            inside = (np.abs(dlog - at[0]) <= width * config.scale_bin) & (
                np.abs(dturn - at[1]) <= width * config.turn_bin
            )
            if inside.sum() < 3:
                break
            at = np.array([np.median(dlog[inside]), np.median(dturn[inside])])
        best = Pose(
            scale=float(np.exp(at[0])),
            turn=float((centre[1] + at[1] + 90.0) % 180.0 - 90.0),
            mirrored=bool(mirrored),
            peak=float(peak),
            significance=float(peak / spread) if spread > 0 else 0.0,
        )
    return best


def _near_peak(det, ref, centre, mirrored, config):
    """Log scale ratios and turns (from the peak's) of the pairs of pairs in the peak's cells."""
    det_log, det_angle = det[0], (-det[1]) % 180.0 if mirrored else det[1]
    ref_log, ref_angle = ref
    order = np.argsort(ref_log)
    sorted_log = ref_log[order]
    width = 1.5 * config.scale_bin
    first = np.searchsorted(sorted_log, det_log + centre[0] - width, side="left")
    last = np.searchsorted(sorted_log, det_log + centre[0] + width, side="right")
    counts = last - first
    total = int(counts.sum())
    det_index = np.repeat(np.arange(det_log.size), counts)
    # positions first[k], first[k] + 1, … for each detection pair k, without a Python loop
    starts = np.repeat(first - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    ref_index = order[starts + np.arange(total)]
    turn = (ref_angle[ref_index] - det_angle[det_index] - centre[1] + 90.0) % 180.0 - 90.0
    near = np.abs(turn) <= 1.5 * config.turn_bin
    return ref_log[ref_index[near]] - det_log[det_index[near]], turn[near]


def pose_samples(quadrants, ref_x, ref_y, ref_mag, slack, config=None):
    """Bright detections near the axis, per quadrant, and the reference stars they may be.

    With a whole camera, one sample: the detections within ``config.radius``
    of the axis and the reference stars within that radius times the largest
    scale, plus ``slack``, which holds their counterparts under any turn,
    scale or mirroring about the axis. With few detections there (a partial
    catalogue), up to ``config.regions`` quadrants nearest the axis, each with
    the reference stars that a turn up to ``config.max_turn`` and the largest
    scale about the axis can bring onto it.

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
    list of `Sample`
    """
    config = config or PoseConfig()
    ref_x, ref_y, ref_mag = (np.asarray(a, float) for a in (ref_x, ref_y, ref_mag))
    brightest = []
    for x, y, flux in quadrants:
        x, y = np.asarray(x, float), np.asarray(y, float)
        order = np.argsort(np.asarray(flux))[::-1]
        inside = order[np.hypot(x[order], y[order]) <= config.radius][: config.detections]
        brightest.append((x, y, order[: config.detections], inside))
    central = [(x[i], y[i], np.full(i.size, k)) for k, (x, y, _, i) in enumerate(brightest)]
    det_x, det_y, group = (np.concatenate(parts) for parts in zip(*central, strict=True))
    if det_x.size >= 3 * config.detections:
        reach = config.radius * config.max_scale + slack
        return [
            _with_reference(
                det_x, det_y, group, (0.0, 0.0), reach, config.radius, ref_x, ref_y, ref_mag, config
            )
        ]
    nearest = sorted(
        (k for k, (x, _, b, _) in enumerate(brightest) if b.size >= 5),
        key=lambda k: np.median(np.hypot(brightest[k][0], brightest[k][1])),
    )
    return [
        region_sample(*quadrants[k], ref_x, ref_y, ref_mag, slack, config)
        for k in nearest[: config.regions]
    ]


def region_sample(x, y, flux, ref_x, ref_y, ref_mag, slack, config=None):
    """One quadrant's brightest detections and the reference stars that may be theirs.

    Those within its reach: its size times the largest scale, plus how far a
    turn up to ``config.max_turn`` and that scale about the axis can move it,
    plus ``slack``.

    Returns
    -------
    `Sample`
    """
    config = config or PoseConfig()
    x, y = np.asarray(x, float), np.asarray(y, float)
    bright = np.argsort(np.asarray(flux))[::-1][: config.detections]
    centre = (float(np.mean(x)), float(np.mean(y)))
    size = float(np.max(np.hypot(x - centre[0], y - centre[1])))
    distance = float(np.hypot(*centre))
    moved = distance * (config.max_scale - 1 + np.sin(np.deg2rad(config.max_turn)))
    reach = size * config.max_scale + moved + slack
    return _with_reference(
        x[bright],
        y[bright],
        np.zeros(bright.size, int),
        centre,
        reach,
        size,
        np.asarray(ref_x, float),
        np.asarray(ref_y, float),
        np.asarray(ref_mag, float),
        config,
    )


def _with_reference(det_x, det_y, group, centre, reach, size, ref_x, ref_y, ref_mag, config):
    """A sample: the detections and the brightest reference stars within ``reach`` of ``centre``."""
    near = np.flatnonzero(np.hypot(ref_x - centre[0], ref_y - centre[1]) <= reach)
    count = int(config.reference_factor * det_x.size * (reach / max(size, 1e-9)) ** 2)
    chosen = near[np.argsort(ref_mag[near])[:count]]
    return Sample(det_x, det_y, group, ref_x[chosen], ref_y[chosen])
