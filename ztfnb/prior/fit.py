"""The joint fit of the focal plane over calibration exposures (`fit_prior`)."""

import astropy.units as u
import numpy as np
from astropy.table import QTable, Table

from ztfnb._version import __version__
from ztfnb.camera import N_QUADRANTS, NAXIS1, NAXIS2, ccdid_qid
from ztfnb.io.errors import InputError
from ztfnb.match import robust_affine_fit
from ztfnb.prior.calibration import _match_exposure, _Stars
from ztfnb.prior.lsq import _group_medians, _poly_pair, _robust_sigma, _solve
from ztfnb.prior.model import ExposureTerms, FocalPlaneModel, PriorFit, PriorFitConfig
from ztfnb.site import weather_note
from ztfnb.threads import small_products
from ztfnb.tpv import term_powers

__all__ = ["fit_prior"]

_CENTRE = np.array([(NAXIS1 + 1) / 2, (NAXIS2 + 1) / 2])
_KPIX = 1000.0  # pixel offsets are fitted in thousands of pixels, for conditioning


class _JointFit:
    """State of the two-stage fit over the flattened star arrays."""

    def __init__(self, stars, planes, config):
        self.s = stars
        self.planes = list(planes)
        self.shift = np.zeros((len(planes), 2))
        self.n = stars.x.size
        self.n_exposures = len(planes)
        self.config = config
        self.terms = term_powers(config.degree, include_linear=False)
        self.pv = (np.zeros(len(self.terms)), np.zeros(len(self.terms)))
        self.matrix = np.tile(np.eye(2), (self.n_exposures, 1, 1))
        self.offset = np.zeros((self.n_exposures, 2))
        self.used = np.ones(self.n, bool)
        self.rcids = np.unique(stars.rcid)
        self.quadrant_index = np.searchsorted(self.rcids, stars.rcid)
        self.px = (stars.x - _CENTRE[0]) / _KPIX
        self.py = (stars.y - _CENTRE[1]) / _KPIX
        # each quadrant's geometry from its own matched stars, not from the header: a rough
        # header's per-quadrant plate scale, turn or parity may be wrong, or written about any
        # reference pixel; the similarity part of that fit is the nominal placement below
        self.affine = {rcid: self._initial_affine(q) for q, rcid in enumerate(self.rcids)}
        self.nominal = {rcid: _similarity_part(*self.affine[rcid]) for rcid in self.rcids}
        self.affine = dict(self.nominal)
        self.from_similarity = {int(r): True for r in self.rcids}

    def _initial_affine(self, q):
        """A robust affine fit of one quadrant's stars, all exposures pooled: (a_u, a_v)."""
        rows = self.quadrant_index == q
        a_u, a_v, _, _ = robust_affine_fit(
            self.px[rows], self.py[rows], self.s.xi[rows], self.s.eta[rows]
        )
        return a_u, a_v

    # -- evaluation
    def focal(self):
        a_u = np.array([self.affine[r][0] for r in self.rcids])[self.quadrant_index]
        a_v = np.array([self.affine[r][1] for r in self.rcids])[self.quadrant_index]
        u_ = a_u[:, 0] + a_u[:, 1] * self.px + a_u[:, 2] * self.py
        v_ = a_v[:, 0] + a_v[:, 1] * self.px + a_v[:, 2] * self.py
        return u_, v_

    def distortion(self, u_, v_):
        poly_u, poly_v = _poly_pair(u_, v_, self.terms)
        return poly_u @ self.pv[0], poly_v @ self.pv[1]

    def predict(self):
        u_, v_ = self.focal()
        du, dv = self.distortion(u_, v_)
        pu, pv = u_ + du, v_ + dv
        m = self.matrix[self.s.exposure]
        t = self.offset[self.s.exposure]
        return m[:, 0, 0] * pu + m[:, 0, 1] * pv + t[:, 0], m[:, 1, 0] * pu + m[:, 1, 1] * pv + t[
            :, 1
        ]

    def residuals(self):
        xi, eta = self.predict()
        return self.s.xi - xi, self.s.eta - eta

    # -- design pieces shared by both stages
    def _exposure_columns(self, first_column, used, u0, v0):
        """Each exposure's six terms: columns and values of the ξ rows and the η rows.

        ξ' = t_ξ + (1 + m₀₀) u + m₀₁ v, η' = t_η + m₁₀ u + (1 + m₁₁) v; each
        term sums to zero over the exposures (the camera's own terms hold the mean).
        """
        base = first_column + 6 * self.s.exposure[used]
        one = np.ones(used.size)
        xi = (np.column_stack([base, base + 2, base + 3]), np.column_stack([one, u0, v0]))
        eta = (np.column_stack([base + 1, base + 4, base + 5]), np.column_stack([one, u0, v0]))
        constraints = [
            ([first_column + 6 * k + p for k in range(self.n_exposures)], np.ones(self.n_exposures))
            for p in range(6)
        ]
        return xi, eta, constraints

    def _equations(self, used, q, xi, eta, exposure, target_xi, target_eta):
        """The two row sets (ξ, η) for `_solve`, grouped by quadrant and exposure."""
        group = q * self.n_exposures + self.s.exposure[used]
        weight = 1 / self.s.sigma[used] ** 2
        return [
            (
                np.hstack([xi[0], exposure[0][0]]),
                np.hstack([xi[1], exposure[0][1]]),
                target_xi,
                weight,
                group,
            ),
            (
                np.hstack([eta[0], exposure[1][0]]),
                np.hstack([eta[1], exposure[1][1]]),
                target_eta,
                weight,
                group,
            ),
        ]

    def _store_exposure_terms(self, solution, first_column):
        for k in range(self.n_exposures):
            p = solution[first_column + 6 * k : first_column + 6 * k + 6]
            self.offset[k] = p[:2]
            self.matrix[k] = np.eye(2) + np.array([[p[2], p[3]], [p[4], p[5]]])

    # -- stage 1: each quadrant placed as a similarity of its nominal + polynomial + exposure terms
    def stage_similarity(self):
        """Fix the distortion polynomial with every quadrant allowed to move, turn and scale.

        A similarity cannot take up the shear that the distortion makes across
        the field (radial distortion stretches radially twice as much as
        tangentially), so the polynomial is fixed by the shear and the
        curvature; a quadrant's own header errors (plate scale, turn) and a
        non-rigid mounting are taken up by its similarity, not by the polynomial.
        """
        used = np.flatnonzero(self.used)
        n = used.size
        q = self.quadrant_index[used]
        nominal = np.array([np.concatenate(self.nominal[r]) for r in self.rcids])[q]
        px, py = self.px[used], self.py[used]
        nom_u = nominal[:, 0] + nominal[:, 1] * px + nominal[:, 2] * py
        nom_v = nominal[:, 3] + nominal[:, 4] * px + nominal[:, 5] * py
        u0, v0 = self.focal()
        u0, v0 = u0[used], v0[used]
        k = len(self.terms)
        # columns: quadrants × (tu, tv, a, b) | poly ξ (k) | poly η (k) | exposures × 6
        c_poly = 4 * self.rcids.size
        c_exp = c_poly + 2 * k
        n_columns = c_exp + 6 * self.n_exposures
        poly_u, poly_v = _poly_pair(u0, v0, self.terms)
        poly = np.arange(k)
        # ξ = tu + a·nom_u − b·nom_v + Σ p_ξ poly_u;  η = tv + a·nom_v + b·nom_u + Σ p_η poly_v
        xi = (
            np.column_stack([4 * q, 4 * q + 2, 4 * q + 3, np.broadcast_to(c_poly + poly, (n, k))]),
            np.column_stack([np.ones(n), nom_u, -nom_v, poly_u]),
        )
        eta = (
            np.column_stack(
                [4 * q + 1, 4 * q + 2, 4 * q + 3, np.broadcast_to(c_poly + k + poly, (n, k))]
            ),
            np.column_stack([np.ones(n), nom_v, nom_u, poly_v]),
        )
        *exposure, constraints = self._exposure_columns(c_exp, used, u0, v0)
        equations = self._equations(
            used, q, xi, eta, exposure, self.s.xi[used] - nom_u, self.s.eta[used] - nom_v
        )
        solution = _solve(equations, n_columns, constraints)
        for index, rcid in enumerate(self.rcids):
            tu, tv, a, b = solution[4 * index : 4 * index + 4]
            a_u, a_v = self.nominal[rcid]
            # (I + [[a, −b], [b, a]]) · nominal + t
            self.affine[rcid] = (
                (1 + a) * a_u - b * a_v + np.array([tu, 0.0, 0.0]),
                (1 + a) * a_v + b * a_u + np.array([tv, 0.0, 0.0]),
            )
        self.pv = (solution[c_poly : c_poly + k], solution[c_poly + k : c_poly + 2 * k])
        self._store_exposure_terms(solution, c_exp)

    # -- stage 2: each quadrant's own affine, polynomial held
    def stage_quadrants(self):
        counts = np.bincount(self.quadrant_index[self.used], minlength=self.rcids.size)
        own = counts >= self.config.min_stars
        used = np.flatnonzero(self.used & own[self.quadrant_index])
        n = used.size
        if n == 0:
            return
        u0, v0 = self.focal()
        du, dv = self.distortion(u0[used], v0[used])
        u0, v0 = u0[used], v0[used]
        q = self.quadrant_index[used]
        c_exp = 6 * self.rcids.size
        n_columns = c_exp + 6 * self.n_exposures
        px, py = self.px[used], self.py[used]
        one = np.ones(n)
        xi = (np.column_stack([6 * q, 6 * q + 1, 6 * q + 2]), np.column_stack([one, px, py]))
        eta = (np.column_stack([6 * q + 3, 6 * q + 4, 6 * q + 5]), np.column_stack([one, px, py]))
        *exposure, constraints = self._exposure_columns(c_exp, used, u0 + du, v0 + dv)
        equations = self._equations(
            used, q, xi, eta, exposure, self.s.xi[used] - du, self.s.eta[used] - dv
        )
        solution = _solve(equations, n_columns, constraints)
        for index, rcid in enumerate(self.rcids):
            if own[index]:
                p = solution[6 * index : 6 * index + 6]
                self.affine[rcid] = (p[:3].copy(), p[3:].copy())
                self.from_similarity[int(rcid)] = False
        self._store_exposure_terms(solution, c_exp)

    def start_planes(self):
        """Start each exposure's plane where its stars put it, before the first solve.

        The quadrants' placements are fitted to all exposures pooled, so each
        exposure's median residual from them is its pointing against the
        others' (less their mean, which the camera's placements hold, as the
        solve's constraints do). Moving the planes there first spares a
        fit/reject round: a plane moved by arcminutes turns its axes
        (meridian convergence) by enough that a second solve differs by
        ≈0.1″ from the first; moved by arcseconds, by under the fit's noise.
        """
        u_, v_ = self.focal()
        for k in range(self.n_exposures):
            rows = self.s.exposure == k
            self.offset[k] = (
                np.median(self.s.xi[rows] - u_[rows]),
                np.median(self.s.eta[rows] - v_[rows]),
            )
        self.offset -= self.offset.mean(axis=0)
        self.recentre()

    def recentre(self):
        """Move each exposure's plane onto its fitted axis and re-express its stars there."""
        for k in range(self.n_exposures):
            new = self.planes[k].shifted(*self.offset[k])
            rows = self.s.exposure == k
            self.s.xi[rows], self.s.eta[rows] = self.planes[k].transfer(
                self.s.xi[rows], self.s.eta[rows], new
            )
            self.planes[k] = new
            self.shift[k] += self.offset[k]
            self.offset[k] = 0.0

    def reject(self):
        """Drop outlying stars, and whole quadrant-exposure blocks that are off together."""
        dxi, deta = self.residuals()
        normalised = np.hypot(dxi, deta) / self.s.sigma / np.sqrt(2)
        sigma = _robust_sigma(normalised[self.used]) if self.used.sum() > 10 else 1.0
        self.used = normalised <= self.config.clip * max(sigma, 1e-6) + np.median(
            normalised[self.used]
        )
        # whole quadrants of an exposure that are off together (a readout glitch)
        for block in self._glitched_blocks(dxi, deta):
            self.used[self.s.exposure * N_QUADRANTS + self.s.rcid == block] = False

    def _glitched_blocks(self, dxi, deta):
        """Quadrant-exposure blocks that are off against the quadrant's other exposures.

        A quadrant's placement is shared by its exposures, so a glitch in one
        pulls the others part of the way: a block is judged by how far it is
        from the quadrant's other blocks, against the scatter of that across
        all blocks actually reached (a stage whose model leaves every block a
        little off never drops them all), and only the worst block of a
        quadrant goes per round. With two exposures both are equally far from
        each other: the one farther from where its CCD-mates put the quadrant
        (a CCD is one piece of silicon) is the one that moved. A quadrant seen in
        one exposure only is kept whatever its mates say: a glitch cannot be
        told from the camera then.
        """
        blocks = (self.s.exposure * N_QUADRANTS + self.s.rcid)[self.used]
        rigid = self._rigid_deviation()
        # every block's medians at once (one sort each, not a median call per block and axis)
        keys, median_dxi, counts = _group_medians(blocks, dxi[self.used])
        _, median_deta, _ = _group_medians(blocks, deta[self.used])
        _, median_sigma, _ = _group_medians(blocks, self.s.sigma[self.used])
        enough = counts >= 5
        if enough.sum() < 3:
            return []
        keys = keys[enough]
        offsets = np.column_stack([median_dxi[enough], median_deta[enough]]) + np.array(
            [rigid.get(int(block % N_QUADRANTS), np.zeros(2)) for block in keys]
        )
        errors = 1.2533 * median_sigma[enough] / np.sqrt(counts[enough])
        quadrant = keys % N_QUADRANTS
        apart = np.empty(keys.size)
        for rcid in np.unique(quadrant):
            mine = quadrant == rcid
            # a quadrant seen once cannot be told from its camera: it is kept
            centre = np.median(offsets[mine], axis=0) if mine.sum() > 1 else offsets[mine][0]
            apart[mine] = np.hypot(*(offsets[mine] - centre).T)
        typical = np.median(apart) + self.config.clip * _robust_sigma(apart)
        limit = np.maximum(max(self.config.block_offset.to_value(u.deg), typical), 5 * errors)
        worst = {}
        for index in np.flatnonzero(apart > limit):
            pair = np.sum(quadrant == quadrant[index]) == 2
            score = np.hypot(*offsets[index]) if pair else apart[index]
            if score > worst.get(quadrant[index], (-1.0, None))[0]:
                worst[quadrant[index]] = (score, keys[index])
        return [block for _, block in worst.values()]

    def _rigid_deviation(self):
        """How far each quadrant sits from where its CCD-mates put it, degrees.

        The quadrants of a CCD share its pixel grid: one linear map, and
        centres a whole quadrant apart. Only for CCDs with three quadrants or
        more whose linear maps agree (read out the same way).

        Returns
        -------
        dict
            rcid → (2,) array, the quadrant's placement minus its CCD's.
        """
        deviation = {}
        ccd = {int(r): int(ccdid_qid(int(r))[0]) for r in self.rcids}
        step = np.array([NAXIS1, NAXIS2]) / _KPIX
        for chip in set(ccd.values()):
            mates = [int(r) for r in self.rcids if ccd[int(r)] == chip]
            if len(mates) < 3:
                continue
            centre = {r: np.array([self.affine[r][0][0], self.affine[r][1][0]]) for r in mates}
            linear = {r: np.array([self.affine[r][0][1:], self.affine[r][1][1:]]) for r in mates}
            mean = np.mean([linear[r] for r in mates], axis=0)
            if max(np.abs(linear[r] - mean).max() for r in mates) > 1e-3 * np.abs(mean).max():
                continue
            inverse = np.linalg.inv(mean)
            first = mates[0]
            grid = {r: np.round(inverse @ (centre[r] - centre[first]) / step) * step for r in mates}
            origin = np.median([centre[r] - mean @ grid[r] for r in mates], axis=0)
            for r in mates:
                deviation[r] = centre[r] - (origin + mean @ grid[r])
        return deviation

    def rms(self):
        dxi, deta = self.residuals()
        return float(np.sqrt(np.mean(dxi[self.used] ** 2))) * 3600, float(
            np.sqrt(np.mean(deta[self.used] ** 2))
        ) * 3600


@small_products
def fit_prior(catalogs, gaia, config=None, log=None):
    """Fit the focal-plane prior jointly over calibration exposures.

    Parameters
    ----------
    catalogs : list of `~ztfnb.exposure.ExposureCatalog`
    gaia : `~astropy.table.QTable`
        As read by `ztfnb.io.read_gaia`.
    config : `PriorFitConfig`, optional
    log : callable, optional

    Returns
    -------
    `PriorFit`

    Raises
    ------
    InputError
        No Gaia stars near an exposure, nothing matched, or no quadrant with
        enough matched stars.
    """
    config = config or PriorFitConfig()
    say = log or (lambda message: None)
    stars, planes = _match_calibration(catalogs, gaia, config, say)
    return _fit_matched(stars, planes, catalogs, config, say)


def _match_calibration(catalogs, gaia, config, say):
    """Every calibration exposure's matched stars (flattened) and observed planes."""
    gathered, planes = [], []
    for index, catalog in enumerate(catalogs):
        stars, plane, found = _match_exposure(catalog, gaia, config, index)
        gathered.append(stars)
        planes.append(plane)
        note = weather_note(catalog.header)
        say(f"{catalog.name}: {_describe_match(stars, found, config)}{f'; {note}' if note else ''}")
    stars = _Stars(**{key: np.concatenate([g[key] for g in gathered]) for key in gathered[0]})
    return stars, planes


def _fit_matched(stars, planes, catalogs, config, say):
    """The joint fit on matched stars (`_match_calibration`); ``stars`` is changed in place."""
    counts = {
        int(r): int(c) for r, c in zip(*np.unique(stars.rcid, return_counts=True), strict=True)
    }
    if max(counts.values()) < config.min_stars:
        worst = min(counts, key=counts.get)
        raise InputError(
            f"too few matched stars to fit: the best quadrant has {max(counts.values())} (rcid {worst} has {counts[worst]}); "
            f"need {config.min_stars}"
        )

    fit = _JointFit(stars, planes, config)
    fit.start_planes()
    stage_rms, rounds = {}, {}
    for name, stage in (
        ("quadrant similarities + polynomial", fit.stage_similarity),
        ("per-quadrant CRPIX/CD", fit.stage_quadrants),
    ):
        rounds[name] = _settle(fit, stage, config)
        stage_rms[name] = fit.rms()
    say(
        "residual rms per axis: "
        + "; ".join(
            f"{stage} {xi:.3f}″ / {eta:.3f}″ ({rounds[stage]} fit/reject rounds)"
            for stage, (xi, eta) in stage_rms.items()
        )
    )
    _check_constrained(fit, catalogs, config)
    missing = sorted(set(range(N_QUADRANTS)) - {int(r) for r in fit.rcids})
    if missing:
        say(
            f"the prior covers {N_QUADRANTS - len(missing)} of {N_QUADRANTS} quadrants: rcid {', '.join(map(str, missing))} "
            "absent from every calibration catalogue"
        )
    return _package(fit, catalogs, config, stage_rms)


#: A stage has settled when another fit/reject round moves no star's fitted position by more
#: than this, degrees (1 mas: the prior is good to ≈20 mas; the first round's fit on a clean
#: night is already within it, so that one round suffices, issue 15).
_SETTLED = 0.001 / 3600


def _settle(fit, stage, config):
    """Fit a stage, then reject and refit until the fit settles; the fit/reject rounds made.

    Rejection uses the solution of the current planes, then the planes move:
    moving the tangent point also turns its axes (meridian convergence), which
    only the next solve absorbs. The rounds stop when the refit moved no kept
    star's residual by more than `_SETTLED` (a well-started fit on clean data:
    one round), else after ``config.iterations`` rounds (outliers that pulled
    the first solution, a rough start).
    """
    stage()
    for done in range(1, config.iterations + 1):
        before = fit.residuals()
        fit.reject()
        fit.recentre()
        stage()
        after = fit.residuals()
        moved = np.hypot(after[0] - before[0], after[1] - before[1])[fit.used]
        if moved.size == 0 or moved.max() <= _SETTLED:
            return done
    return config.iterations


def _check_constrained(fit, catalogs, config):
    """Refuse a fit that rejection left without support: a prior written anyway would be wrong silently."""
    rejected = 1 - fit.used.mean()
    if rejected > config.max_rejected:
        raise InputError(
            f"{100 * rejected:.0f}% of the {fit.used.size} matched stars were rejected as outliers "
            f"(at most {100 * config.max_rejected:.0f}%): the model does not describe them; "
            "are the catalogues from one camera, read out the same way? "
            f"is the distortion degree ({config.degree}) too low?",
            path=", ".join(c.path.name for c in catalogs),
        )
    # every quadrant the catalogues hold must be constrained; one they all lack is left out
    present = sorted({e.rcid for catalog in catalogs for e in catalog.extensions})
    for rcid in present:
        mine = fit.s.rcid == rcid
        kept = int((mine & fit.used).sum())
        if kept < config.min_quadrant_stars:
            ccdid, qid = ccdid_qid(int(rcid))
            holding = [c.path.name for c in catalogs if rcid in c.rcids]
            raise InputError(
                f"rcid {int(rcid)} (CCD {int(ccdid)}, quadrant {int(qid)}): {int(mine.sum())} "
                f"stars matched to Gaia, {kept} left after outlier rejection; need "
                f"{config.min_quadrant_stars}: add calibration exposures with stars there",
                path=", ".join(holding),
            )


def _package(fit, catalogs, config, stage_rms):
    rcids = fit.rcids
    cds, crpixes = [], []
    for rcid in rcids:
        a_u, a_v = fit.affine[rcid]
        cd = np.array([[a_u[1], a_u[2]], [a_v[1], a_v[2]]]) / _KPIX
        cds.append(cd)
        crpixes.append(_CENTRE - np.linalg.solve(cd, np.array([a_u[0], a_v[0]])))
    pv1 = {0: 0.0, 1: 1.0, 2: 0.0} | {
        term: float(fit.pv[0][j]) for j, (term, _, _) in enumerate(fit.terms)
    }
    pv2 = {0: 0.0, 1: 1.0, 2: 0.0} | {
        term: float(fit.pv[1][j]) for j, (term, _, _) in enumerate(fit.terms)
    }

    dxi, deta = fit.residuals()
    residuals = QTable(
        {
            "exposure": np.array([c.name for c in catalogs])[fit.s.exposure],
            "rcid": fit.s.rcid.astype(np.int16),
            "x": fit.s.x * u.pix,
            "y": fit.s.y * u.pix,
            "dxi": dxi * 3600 * u.arcsec,
            "deta": deta * 3600 * u.arcsec,
            "sigma": fit.s.sigma * 3600 * u.arcsec,
            "used": fit.used,
        }
    )
    rows = []
    for rcid in rcids:
        mine = (fit.s.rcid == rcid) & fit.used
        ccdid, qid = ccdid_qid(rcid)
        rows.append(
            (
                int(rcid),
                int(ccdid),
                int(qid),
                int(mine.sum()),
                int(((fit.s.rcid == rcid) & ~fit.used).sum()),
                len(np.unique(fit.s.exposure[mine])),
                float(np.sqrt(np.mean(dxi[mine] ** 2)) * 3600) if mine.any() else np.nan,
                float(np.sqrt(np.mean(deta[mine] ** 2)) * 3600) if mine.any() else np.nan,
                float(np.max(np.hypot(dxi[mine], deta[mine])) * 3600) if mine.any() else np.nan,
                "similarity" if fit.from_similarity[int(rcid)] else "affine",
            )
        )
    quadrants = Table(
        rows=rows,
        names=[
            "rcid",
            "ccdid",
            "qid",
            "n_stars",
            "n_rejected",
            "n_exposures",
            "rms_xi",
            "rms_eta",
            "max_residual",
            "placement",
        ],
    )
    for name in ("rms_xi", "rms_eta", "max_residual"):
        quadrants[name].unit = u.arcsec
    model = FocalPlaneModel(
        rcid=np.asarray(rcids, int),
        crpix=np.array(crpixes),
        cd=np.array(cds),
        pv1=pv1,
        pv2=pv2,
        degree=config.degree,
        quadrants=quadrants,
        meta={
            "ztfnb": __version__,
            "frame": "refracted HADec (astropy), tangent plane about the pointing, lon = -HA",
            "exposures": [c.name for c in catalogs],
            "degree": config.degree,
            "clip": config.clip,
            "refraction": config.refraction,
            "n_stars": int(fit.used.sum()),
            "rms_xi": stage_rms["per-quadrant CRPIX/CD"][0],
            "rms_eta": stage_rms["per-quadrant CRPIX/CD"][1],
        },
    )
    exposures = []
    for k_, catalog in enumerate(catalogs):
        mine = (fit.s.exposure == k_) & fit.used
        rms = (
            float(np.sqrt(np.mean(np.concatenate([dxi[mine], deta[mine]]) ** 2)) * 3600)
            if mine.any()
            else np.nan
        )
        exposures.append(
            ExposureTerms(
                catalog.name,
                fit.planes[k_],
                fit.matrix[k_].copy(),
                fit.offset[k_].copy(),
                int(mine.sum()),
                rms,
                pointing_shift=fit.shift[k_].copy(),
            )
        )
    return PriorFit(model, exposures, residuals, stage_rms)


def _similarity_part(a_u, a_v):
    """The similarity (or, for the other parity, anti-similarity) nearest an affine map."""
    linear = np.array([[a_u[1], a_u[2]], [a_v[1], a_v[2]]])
    if np.linalg.det(linear) > 0:  # [[a, −b], [b, a]]
        a, b = (linear[0, 0] + linear[1, 1]) / 2, (linear[1, 0] - linear[0, 1]) / 2
        nearest = np.array([[a, -b], [b, a]])
    else:  # [[a, b], [b, −a]]
        a, b = (linear[0, 0] - linear[1, 1]) / 2, (linear[0, 1] + linear[1, 0]) / 2
        nearest = np.array([[a, b], [b, -a]])
    return (
        np.array([a_u[0], nearest[0, 0], nearest[0, 1]]),
        np.array([a_v[0], nearest[1, 0], nearest[1, 1]]),
    )


def _describe_match(stars, found, config):
    """What matching an exposure found, for the log: stars, the header's correction, the offset."""
    pose = found.get("pose")
    words = f"{stars['x'].size} stars matched in {np.unique(stars['rcid']).size} quadrants"
    if pose is not None and pose.found(config.match.pose) and not pose.is_identity():
        words += f"; the header's WCS corrected by {pose.describe()}"
    offset = found.get("offset")
    if offset is not None and np.all(np.isfinite(offset)):
        words += f"; offset ({offset[0]:+.1f}″, {offset[1]:+.1f}″)"
    return words
