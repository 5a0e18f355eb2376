"""Detections ↔ Gaia: choose the stars, find the offset, then pair them one to one.

A telescope's header WCS is tens of arcseconds off (pointing, distortion,
refraction), more than the distance between faint stars, so matching is done
in two steps: the offset is found first, as the peak of the histogram of all
detection–reference separations within a wide radius (bright detections
only), then stars are paired as mutual nearest neighbours within a tight
radius, an affine correction fitted, and paired again tighter.

Everything here works in a tangent plane, in degrees; which plane (about the
telescope's pointing, or in the refracted frame) is the caller's choice.
"""

import itertools
import warnings
from dataclasses import dataclass, field, replace

import astropy.units as u
import numpy as np
from astropy.table import QTable
from astropy.wcs import WCS, FITSFixedWarning
from scipy.spatial import cKDTree

from ztfnb.io.errors import InputError
from ztfnb.io.sextractor import choose_columns
from ztfnb.pose import Pose, PoseConfig, find_pose, pose_samples, region_sample
from ztfnb.settings import Settings, setting
from ztfnb.stellarlocus import stellar_radius
from ztfnb.tangent import gnomonic

__all__ = [
    "MatchConfig",
    "Offset",
    "affine_fit",
    "find_offset",
    "match_catalog",
    "match_quadrant",
    "mutual_nearest",
    "robust_affine_fit",
    "usable_detections",
]

_ARCSEC = 1 / 3600


@dataclass(frozen=True)
class MatchConfig(Settings):
    """How detections are chosen and matched.

    Attributes
    ----------
    snr_min : float
        Minimum S/N, FLUX_AUTO / FLUXERR_AUTO or the flux `ztfnb.io.sextractor`
        chose (SCAMP's default is 10).
    reject_flags : int
        SExtractor flags that disqualify a detection (default: everything but
        1, "has neighbours": blended 2, saturated 4, truncated 8, ...).
    max_elongation : float
    radius_range : tuple of float
        FLUX_RADIUS kept, as fractions of the quadrant's stellar locus
        (`ztfnb.stellarlocus.stellar_radius`; drops cosmic rays and galaxies).
    search_radius : `~astropy.units.Quantity`
        Largest offset looked for.
    search_bin : `~astropy.units.Quantity`
        Histogram bin of the offset search.
    match_radius, final_radius : `~astropy.units.Quantity`
        Pairing radii before and after the affine correction.
    bright : int
        Detections (brightest first) used in the offset search.
    min_peak : int
        Fewest pairs in the offset peak for it to count.
    reference_mag_limit : `~astropy.units.Quantity`
        Faintest Gaia G used (fainter stars are rarely detected and only confuse).
    pose : `~ztfnb.pose.PoseConfig` or None
        How the header's turn, scale and parity are searched before the
        offsets (`ztfnb.pose`); None to trust them (solutions, not rough
        headers).
    """

    snr_min: float = setting(10.0, "least S/N of a detection")
    reject_flags: int = setting(0xFE, "SExtractor flags refused", kind=int, rule=(0, 0xFFFF))
    max_elongation: float = setting(1.6, "largest elongation", rule=(1, 100))
    radius_range: tuple = (0.6, 1.6)
    search_radius: u.Quantity = setting(150 * u.arcsec, "largest offset", unit=u.arcsec)
    search_bin: u.Quantity = setting(2 * u.arcsec, "offset histogram bin", unit=u.arcsec)
    match_radius: u.Quantity = setting(3 * u.arcsec, "first pairing radius", unit=u.arcsec)
    final_radius: u.Quantity = setting(1 * u.arcsec, "final pairing radius", unit=u.arcsec)
    bright: int = setting(300, "detections in the offset search", kind=int, rule=(6, 10**6))
    min_peak: int = setting(6, "fewest pairs in an offset peak", kind=int, rule=(1, 10**6))
    reference_mag_limit: u.Quantity = 20.5 * u.mag
    pose: PoseConfig | None = field(default_factory=PoseConfig)

    def __post_init__(self):
        super().__post_init__()
        low, high = (float(v) for v in self.radius_range)
        if not 0 < low < 1 < high:
            raise ValueError(f"radius_range must be (low < 1 < high), got {self.radius_range!r}")
        if not self.search_bin < self.search_radius or self.final_radius > self.match_radius:
            raise ValueError(
                "need search_bin < search_radius and final_radius ≤ match_radius, got "
                f"{self.search_bin}, {self.search_radius}, {self.final_radius}, {self.match_radius}"
            )
        if self.pose is not None and not isinstance(self.pose, PoseConfig):
            raise ValueError(f"pose must be a PoseConfig or None, got {self.pose!r}")


def usable_detections(objects, config=None, columns=None):
    """Which detections are clean point sources bright enough to match.

    Parameters
    ----------
    objects : `~astropy.table.Table`
        SExtractor columns: a centroid, its error and a flux with its error
        (any set `ztfnb.io.sextractor` knows); flags, elongation and size are
        used when present.
    config : `MatchConfig`, optional
    columns : `~ztfnb.io.sextractor.CatalogColumns`, optional
        Which column serves which purpose (chosen from ``objects`` when not given).

    Returns
    -------
    `~numpy.ndarray` of bool
    """
    config = config or MatchConfig()
    columns = columns or choose_columns(objects)
    snr = columns.snr(objects)
    x, y = columns.centroid(objects)
    keep = (snr >= config.snr_min) & np.isfinite(x) & np.isfinite(y)
    error = columns.centroid_error(objects)[0]
    keep &= np.isfinite(error) & (error > 0)
    keep &= columns.clean(objects, config.reject_flags)
    elongation = columns.elongations(objects)
    if elongation is not None:
        keep &= elongation <= config.max_elongation
    radius = columns.sizes(objects)
    if radius is not None and keep.sum() >= 10:
        # the stellar locus among the brightest: a quarter when there are enough (stars
        # stand out most there; nearer the S/N cut, a real catalogue's quarter-flux radius
        # showed a pile of faint detections at one size that outscored them), else half
        level = 75 if keep.sum() >= 40 else 50
        bright = keep & (snr >= np.percentile(snr[keep], level))
        # the stellar locus, not the median size: galaxies may outnumber stars
        stellar = stellar_radius(radius[bright])
        keep &= (radius >= config.radius_range[0] * stellar) & (
            radius <= config.radius_range[1] * stellar
        )
    return keep


@dataclass(frozen=True)
class Offset:
    """Result of an offset search.

    Attributes
    ----------
    dx, dy : float
        Offset to add to detections, degrees.
    peak : int
        Pairs in the peak.
    background : float
        Expected pairs per bin by chance.
    """

    dx: float
    dy: float
    peak: int
    background: float

    @property
    def found(self):
        return self.peak >= 6 and self.peak > 5 * self.background + 3


def find_offset(det_x, det_y, ref_tree, radius_deg, bin_deg):
    """The most common displacement from detections to reference stars.

    Parameters
    ----------
    det_x, det_y : `~numpy.ndarray`
        Detections (predicted positions), degrees.
    ref_tree : `scipy.spatial.cKDTree`
        Reference positions, degrees.
    radius_deg, bin_deg : float

    Returns
    -------
    `Offset`
    """
    reference = ref_tree.data
    # unsorted: the histogram and the medians below do not depend on the partners' order
    neighbours = ref_tree.query_ball_point(
        np.column_stack([det_x, det_y]), radius_deg, return_sorted=False
    )
    counts = np.fromiter(map(len, neighbours), int, len(neighbours))
    if counts.sum() == 0:
        return Offset(0.0, 0.0, 0, 0.0)
    which = np.repeat(np.arange(len(det_x)), counts)
    partners = np.fromiter(itertools.chain.from_iterable(neighbours), int, counts.sum())
    dx = reference[partners, 0] - det_x[which]
    dy = reference[partners, 1] - det_y[which]
    edges = np.arange(-radius_deg, radius_deg + bin_deg, bin_deg)
    histogram = _histogram2d(dx, dy, edges)
    # a peak can straddle bins: smooth over 2 × 2 before choosing it
    smoothed = histogram[:-1, :-1] + histogram[1:, :-1] + histogram[:-1, 1:] + histogram[1:, 1:]
    i, j = np.unravel_index(np.argmax(smoothed), smoothed.shape)
    centre_x, centre_y = edges[i + 1], edges[j + 1]
    near = (np.abs(dx - centre_x) <= bin_deg) & (np.abs(dy - centre_y) <= bin_deg)
    background = counts.sum() * (2 * bin_deg) ** 2 / (np.pi * radius_deg**2)
    return Offset(
        float(np.median(dx[near])), float(np.median(dy[near])), int(near.sum()), float(background)
    )


def _histogram2d(x, y, edges):
    """`numpy.histogram2d` with the same edges on both axes, binned as it bins, in one pass.

    As numpy: bin i holds edges[i] ≤ v < edges[i + 1], the last bin also its
    right edge; values outside are left out (numpy's general path costs more
    than the rest of the offset search).
    """
    n = edges.size - 1
    ix = np.searchsorted(edges, x, side="right") - 1
    iy = np.searchsorted(edges, y, side="right") - 1
    ix[x == edges[-1]] = n - 1
    iy[y == edges[-1]] = n - 1
    inside = (ix >= 0) & (ix < n) & (iy >= 0) & (iy < n)
    flat = np.bincount(ix[inside] * n + iy[inside], minlength=n * n)
    return flat.reshape(n, n).astype(float)


def mutual_nearest(det_x, det_y, ref_tree, radius_deg):
    """Pairs that are each other's nearest neighbour within ``radius_deg``.

    Returns
    -------
    det_index, ref_index : `~numpy.ndarray` of int
    """
    if len(det_x) == 0:
        return np.zeros(0, int), np.zeros(0, int)
    points = np.column_stack([det_x, det_y])
    distance, nearest = ref_tree.query(points, distance_upper_bound=radius_deg)
    found = np.isfinite(distance)
    det_index = np.flatnonzero(found)
    ref_index = nearest[found]
    # the reference star's own nearest detection must be this one
    back_tree = cKDTree(points)
    _, back = back_tree.query(ref_tree.data[ref_index])
    mutual = back == det_index
    return det_index[mutual], ref_index[mutual]


def affine_fit(x, y, target_x, target_y):
    """Least-squares affine map (x, y) → (target_x, target_y).

    Returns
    -------
    cx, cy : `~numpy.ndarray`
        ``target_x ≈ cx[0] + cx[1] x + cx[2] y``, and the same for y.
    """
    design = np.column_stack([np.ones_like(x), x, y])
    cx, *_ = np.linalg.lstsq(design, target_x, rcond=None)
    cy, *_ = np.linalg.lstsq(design, target_y, rcond=None)
    return cx, cy


def robust_affine_fit(x, y, target_x, target_y, weight=None, rounds=4, clip=5.0):
    """`affine_fit` with outlier rejection (and weights).

    Each round keeps the pairs within ``clip`` robust sigmas (1.4826 × MAD)
    of the median distance of those kept before.

    Returns
    -------
    cx, cy : `~numpy.ndarray`
        As `affine_fit`.
    kept : `~numpy.ndarray` of bool
    residual : `~numpy.ndarray`
        Distance of every pair from the map.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    weight = np.ones(x.size) if weight is None else np.asarray(weight, float)
    design = np.column_stack([np.ones_like(x), x, y])
    kept = np.ones(x.size, bool)
    for _ in range(rounds):
        root = np.sqrt(weight[kept])[:, None]
        cx = np.linalg.lstsq(design[kept] * root, target_x[kept] * root[:, 0], rcond=None)[0]
        cy = np.linalg.lstsq(design[kept] * root, target_y[kept] * root[:, 0], rcond=None)[0]
        residual = np.hypot(target_x - design @ cx, target_y - design @ cy)
        spread = 1.4826 * np.median(np.abs(residual[kept] - np.median(residual[kept])))
        kept = residual <= np.median(residual[kept]) + clip * max(spread, 1e-12)
        if kept.sum() < 3:
            break
    return cx, cy, kept, residual


def match_quadrant(det_x, det_y, flux, ref_tree, config=None, offset=None):
    """Pair one quadrant's detections with reference stars.

    Parameters
    ----------
    det_x, det_y : `~numpy.ndarray`
        Predicted positions of usable detections, degrees.
    flux : `~numpy.ndarray`
        To choose the brightest for the offset search.
    ref_tree : `scipy.spatial.cKDTree`
    config : `MatchConfig`, optional
    offset : `Offset`, optional
        A known offset (skips the search).

    Returns
    -------
    det_index, ref_index : `~numpy.ndarray` of int
        Pairs, empty when no offset was found.
    offset : `Offset`
    """
    config = config or MatchConfig()
    if offset is None:
        bright = np.argsort(flux)[::-1][: config.bright]
        offset = find_offset(
            det_x[bright],
            det_y[bright],
            ref_tree,
            config.search_radius.to_value(u.deg),
            config.search_bin.to_value(u.deg),
        )
        if not offset.found:
            return np.zeros(0, int), np.zeros(0, int), offset
    x = det_x + offset.dx
    y = det_y + offset.dy
    det_index, ref_index = mutual_nearest(x, y, ref_tree, config.match_radius.to_value(u.deg))
    # affine corrections, repeated while they gain pairs (from a smeared offset only the
    # quadrant's middle pairs at first, and each map reaches further out), then with enough
    # pairs a quadratic one before the tightest pairing: a header written about a point on the
    # quadrant differs from the truth by a curvature of up to 2″ (another point's tangent plane)
    x, y = x - np.mean(x), y - np.mean(y)
    previous = -1
    for _ in range(_AFFINE_ROUNDS):
        if len(det_index) < 6 or len(det_index) <= previous:
            break
        previous = len(det_index)
        det_index, ref_index = _refit_and_pair(
            x, y, det_index, ref_index, ref_tree, config.match_radius, quadratic=False
        )
    if len(det_index) >= 6:
        det_index, ref_index = _refit_and_pair(
            x, y, det_index, ref_index, ref_tree, config.final_radius, len(det_index) >= 30
        )
    return det_index, ref_index, offset


#: Most affine pairing rounds in `match_quadrant` before the final, quadratic one.
_AFFINE_ROUNDS = 4


def _refit_and_pair(x, y, det_index, ref_index, ref_tree, radius, quadratic):
    """Fit the pairs' map (affine or quadratic), move every detection by it, pair again."""
    columns = [np.ones_like(x), x, y] + ([x * x, x * y, y * y] if quadratic else [])
    design = np.column_stack(columns)
    reference = ref_tree.data[ref_index]
    cx = np.linalg.lstsq(design[det_index], reference[:, 0], rcond=None)[0]
    cy = np.linalg.lstsq(design[det_index], reference[:, 1], rcond=None)[0]
    return mutual_nearest(design @ cx, design @ cy, ref_tree, radius.to_value(u.deg))


def match_catalog(catalog, reference, headers=None, config=None, search=True):
    """Match every quadrant of an exposure to a reference through a WCS.

    With ``search``, each quadrant's offset is searched first; then the
    exposure-wide affine map of the quadrants that matched well (pointing, and
    a turn of the whole field such as a rough header's near the pole) is
    applied to those that matched poorly and their search run again, keeping
    the better of the two.

    Parameters
    ----------
    catalog : `~ztfnb.exposure.ExposureCatalog`
    reference : `~astropy.table.QTable`
        With ``ra, dec`` at the exposure's epoch (`ztfnb.reference.reference_at_epoch`).
    headers : list of `~astropy.io.fits.Header`, optional
        A WCS per extension, in file order (e.g. a SCAMP ``.head``); default
        each extension's own header (the telescope's rough WCS).
    config : `MatchConfig`, optional
    search : bool
        Search each quadrant's offset first (for rough WCSs); ``False`` pairs
        directly, for solutions that should already be right.

    Returns
    -------
    `~astropy.table.QTable`
        One row per pair: ``extension, rcid, row`` (index in LDAC_OBJECTS),
        ``x, y`` (pixel), ``ref_index`` (row in ``reference``), ``ra, dec``
        (through the WCS) and ``dra, ddec`` (reference − detection, arcsec,
        ``dra`` along RA·cos δ). Its ``meta`` holds the ``pose`` found
        (`~ztfnb.pose.Pose`) and the ``offset`` the quadrants agree on after
        it (arcsec, along the tangent plane's axes).
    """
    config = config or MatchConfig()
    centre = (catalog.pointing.ra.deg, catalog.pointing.dec.deg)
    ref_ra = u.Quantity(reference["ra"], u.deg).value
    ref_dec = u.Quantity(reference["dec"], u.deg).value
    ref_x, ref_y = gnomonic(ref_ra, ref_dec, *centre)
    tree = cKDTree(np.column_stack([ref_x, ref_y]))
    quadrants = _predicted_quadrants(catalog, headers, config, centre)
    pose, as_written = Pose(), quadrants
    if search and config.pose is not None:
        quadrants, pose = _correct_pose(quadrants, ref_x, ref_y, reference, tree, config)
    offset = None if search else _ZERO
    matched = [
        match_quadrant(
            q.x, q.y, q.flux, tree, config, offset=offset if offset is not None else q.offset
        )
        for q in quadrants
    ]
    pairs = [m[:2] for m in matched]
    # the pointing offset the quadrants agree on, for the log
    found = [(m[2].dx, m[2].dy) for m in matched if m[2].found]
    pointing = np.median(found, axis=0) / _ARCSEC if found else np.full(2, np.nan)
    # each round's map comes from more quadrants, and reaches further from the axis
    for _ in range(3 if search else 0):
        poor = _matched_poorly(quadrants, pairs)
        mapping = _exposure_map(quadrants, pairs, tree) if poor else None
        if mapping is None:
            break
        improved = False
        for k in poor:
            q = quadrants[k]
            design = np.column_stack([np.ones_like(q.x), q.x, q.y])
            again = match_quadrant(design @ mapping[0], design @ mapping[1], q.flux, tree, config)
            if again[0].size > pairs[k][0].size:
                pairs[k], improved = again[:2], True
        if not improved:
            break
    # a quadrant whose own header is off (its plate scale or turn, not the exposure's)
    if search and config.pose is not None:
        magnitude = _magnitudes(reference)
        for k in _matched_poorly(quadrants, pairs):
            # from the header as written: the exposure's pose may have moved it the wrong way
            again = _match_by_own_pose(as_written[k], ref_x, ref_y, magnitude, tree, config)
            if again[0].size > pairs[k][0].size:
                pairs[k] = again
    parts = []
    for q, (det, ref) in zip(quadrants, pairs, strict=True):
        if det.size == 0:
            continue
        rows = q.usable[det]
        cos_dec = np.cos(np.deg2rad(q.dec[det]))
        parts.append(
            {
                "extension": np.full(det.size, q.position),
                "rcid": np.full(det.size, q.rcid),
                "row": rows,
                "x": q.pixel_x[det],
                "y": q.pixel_y[det],
                "ref_index": ref,
                "ra": q.ra[det],
                "dec": q.dec[det],
                "dra": ((ref_ra[ref] - q.ra[det] + 180) % 360 - 180) * cos_dec * 3600,
                "ddec": (ref_dec[ref] - q.dec[det]) * 3600,
            }
        )
    columns = ["extension", "rcid", "row", "x", "y", "ref_index", "ra", "dec", "dra", "ddec"]
    if not parts:
        return QTable({name: np.zeros(0) for name in columns}, meta={"pose": pose})
    table = QTable({name: np.concatenate([p[name] for p in parts]) for name in columns})
    table.meta["pose"] = pose
    table.meta["offset"] = tuple(float(v) for v in pointing)
    for name, unit in (
        ("x", u.pix),
        ("y", u.pix),
        ("ra", u.deg),
        ("dec", u.deg),
        ("dra", u.arcsec),
        ("ddec", u.arcsec),
    ):
        table[name].unit = unit
    return table


@dataclass
class _Quadrant:
    """One extension's usable detections, through its WCS, in the exposure's tangent plane."""

    position: int
    rcid: int
    usable: np.ndarray  # rows of LDAC_OBJECTS
    pixel_x: np.ndarray
    pixel_y: np.ndarray
    ra: np.ndarray
    dec: np.ndarray
    x: np.ndarray  # degrees in the tangent plane about the pointing
    y: np.ndarray
    flux: np.ndarray
    #: the offset search's result for these positions, when already made (`_correct_pose`)
    offset: Offset | None = None


def _predicted_quadrants(catalog, headers, config, centre):
    quadrants = []
    for position, extension in enumerate(catalog.extensions):
        usable = np.flatnonzero(
            usable_detections(extension.objects, config, columns=extension.columns)
        )
        if usable.size < 3:
            continue
        if headers is None:
            wcs = extension.wcs
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FITSFixedWarning)
                wcs = WCS(headers[position])
        pixel_x, pixel_y = extension.x[usable], extension.y[usable]
        ra, dec = wcs.all_pix2world(pixel_x, pixel_y, 1)
        if not (np.all(np.isfinite(ra)) and np.all(np.isfinite(dec))):
            raise InputError(
                "the WCS gives no sky position for its detections: is there a celestial WCS "
                "(CTYPE, CRVAL, CRPIX, CD) in its header?",
                path=catalog.path,
                extension=f"{position + 1} (rcid {extension.rcid})",
            )
        x, y = gnomonic(ra, dec, *centre)
        flux = extension.flux[usable]
        quadrants.append(
            _Quadrant(position, extension.rcid, usable, pixel_x, pixel_y, ra, dec, x, y, flux)
        )
    return quadrants


def _matched_poorly(quadrants, pairs, share=0.5):
    """Indices of quadrants that matched less than ``share`` of the well-matched ones' fraction."""
    fractions = np.array([p[0].size / q.usable.size for q, p in zip(quadrants, pairs, strict=True)])
    if fractions.size == 0:
        return []
    # against the best-matched, not the median: near the pole most quadrants may match poorly
    return list(np.flatnonzero(fractions < share * np.percentile(fractions, 90)))


def _exposure_map(quadrants, pairs, tree, minimum=20, clip=5.0):
    """The affine map of the tangent plane that the well-matched quadrants agree on.

    Returns
    -------
    (cx, cy) or None
        ``reference ≈ cx[0] + cx[1] x + cx[2] y`` (and cy); None when fewer than
        ``3 × minimum`` stars matched in well-matched quadrants (one quadrant of
        a few hundred stars fixes a turn well enough to reach the next) or they
        do not agree to a few arcseconds.
    """
    chosen = [(q, p) for q, p in zip(quadrants, pairs, strict=True) if p[0].size >= minimum]
    if not chosen:
        return None
    x = np.concatenate([q.x[det] for q, (det, _) in chosen])
    y = np.concatenate([q.y[det] for q, (det, _) in chosen])
    target = np.concatenate([tree.data[ref] for _, (_, ref) in chosen])
    cx, cy, keep, residual = robust_affine_fit(x, y, target[:, 0], target[:, 1], clip=clip)
    # the map need not be exact (a rough header lacks the distortion, arcseconds at the edge):
    # the second search per quadrant takes what it leaves
    if keep.sum() < 3 * minimum or np.median(residual[keep]) > 5 * _ARCSEC:
        return None
    return cx, cy


_ZERO = Offset(0.0, 0.0, 0, 0.0)


def _correct_pose(quadrants, ref_x, ref_y, reference, tree, config):
    """The header's turn, scale and parity against the reference, taken out of every quadrant.

    The pose is measured on the bright detections near the axis and applied
    to each quadrant about the axis, as a wrong plate scale, a turned camera
    or a mirrored readout in the header act, or about the quadrant's centre,
    as a wrong CD written about a pixel on the quadrant acts, whichever lets
    its offset be found. It is found modulo 180°: the half-turn whose offset
    search on those detections peaks higher is kept.

    Returns
    -------
    quadrants : list of `_Quadrant`
        With positions corrected (unchanged when no pose was found or it is
        no change).
    pose : `~ztfnb.pose.Pose`
        As applied (``turn`` in [−180°, 180°)), or as found when not applied.
    """
    magnitude = _magnitudes(reference)
    slack = config.search_radius.to_value(u.deg)
    samples = pose_samples(
        [(q.x, q.y, q.flux) for q in quadrants], ref_x, ref_y, magnitude, slack, config.pose
    )
    pose = find_pose(samples, config.pose)
    det_x = np.concatenate([sample.det_x for sample in samples]) if samples else np.zeros(0)
    det_y = np.concatenate([sample.det_y for sample in samples]) if samples else np.zeros(0)
    if not pose.found(config.pose) or pose.is_identity():
        return quadrants, pose
    offsets = [
        find_offset(
            *pose.apply(det_x, det_y, half_turns=half),
            tree,
            slack,
            config.search_bin.to_value(u.deg),
        )
        for half in (0, 1)
    ]
    half = int(offsets[1].peak > offsets[0].peak)
    pose = replace(pose, turn=(pose.turn + 180.0 * half + 180.0) % 360.0 - 180.0)
    # about the axis (a wrong plate scale or a turned camera moves whole quadrants) or about
    # the quadrant's own centre (a header written about a pixel on it, its CD wrong): the one
    # whose offset search peaks higher
    moved = []
    bin_deg = config.search_bin.to_value(u.deg)
    for q in quadrants:
        bright = np.argsort(q.flux)[::-1][: config.bright]
        placed = []
        for centre in ((0.0, 0.0), (float(np.mean(q.x)), float(np.mean(q.y)))):
            x, y = pose.apply(q.x, q.y, centre)
            placed.append((find_offset(x[bright], y[bright], tree, slack, bin_deg), x, y))
        found, x, y = max(placed, key=lambda trial: trial[0].peak)
        # the search `match_quadrant` would make again on these positions, kept when it found
        # the offset (a failed one is searched again there, and fails the same way)
        moved.append(replace(q, x=x, y=y, offset=found if found.found else None))
    return moved, pose


def _magnitudes(reference):
    """Gaia G of the reference (to choose its brightest stars), zeros without it."""
    if "phot_g_mean_mag" in reference.colnames:
        return np.asarray(u.Quantity(reference["phot_g_mean_mag"], u.mag).value)
    return np.zeros(len(reference))


def _match_by_own_pose(q, ref_x, ref_y, magnitude, tree, config):
    """Pair a quadrant after finding its own turn, scale and parity (`ztfnb.pose`).

    The pose is applied about the axis (a header whose CD is wrong about a
    reference pixel at the boresight misplaces the whole quadrant) or about
    the quadrant's centre (one written about a pixel on the quadrant), in
    either half-turn: the choice whose offset search peaks highest is kept.

    Returns
    -------
    det_index, ref_index : `~numpy.ndarray` of int
    """
    slack = config.search_radius.to_value(u.deg)
    sample = region_sample(q.x, q.y, q.flux, ref_x, ref_y, magnitude, slack, config.pose)
    pose = find_pose([sample], config.pose)
    if not pose.found(config.pose):
        return np.zeros(0, int), np.zeros(0, int)
    bright = np.argsort(q.flux)[::-1][: config.bright]
    trials = []
    for centre in ((0.0, 0.0), (float(np.mean(q.x)), float(np.mean(q.y)))):
        for half in (0, 1):
            x, y = pose.apply(q.x, q.y, centre, half_turns=half)
            found = find_offset(
                x[bright], y[bright], tree, slack, config.search_bin.to_value(u.deg)
            )
            trials.append((found.peak, x, y, found))
    _, x, y, found = max(trials, key=lambda trial: trial[0])
    if not found.found:
        return np.zeros(0, int), np.zeros(0, int)
    return match_quadrant(x, y, q.flux, tree, config, offset=found)[:2]
