"""The focal-plane model against the layout tables it comes from and an independent one."""

import astropy.units as u
import numpy as np
import pytest
from astropy.table import Table

from ztfnb.camera import NAXIS1, NAXIS2, PIXEL_SCALE, FocalPlane, ccdid_qid, layout_table, rcid_of
from ztfnb.camera import _data_file as data_file

PLATE_SCALE = 67.47 / 3600  # deg per mm (obs_ztf)


@pytest.fixture(scope="module")
def camera():
    return FocalPlane.nominal()


def test_rcid_formula_and_inverse():
    for ccdid in range(1, 17):
        for qid in range(1, 5):
            rcid = rcid_of(ccdid, qid)
            assert rcid == 4 * (ccdid - 1) + (qid - 1)
            assert tuple(int(v) for v in ccdid_qid(rcid)) == (ccdid, qid)
    with pytest.raises(ValueError):
        rcid_of(17, 1)
    with pytest.raises(ValueError):
        ccdid_qid(64)


def test_sixty_four_quadrants_of_the_right_size(camera):
    assert len(camera) == 64
    for q in camera:
        corners = q.corners_focal()
        width = np.hypot(*(corners[1] - corners[0]))
        height = np.hypot(*(corners[2] - corners[1]))
        assert width == pytest.approx(NAXIS1 * PIXEL_SCALE.to_value(u.deg), rel=1e-9)
        assert height == pytest.approx(NAXIS2 * PIXEL_SCALE.to_value(u.deg), rel=1e-9)
        assert np.linalg.det(q.cd) < 0  # the sky's parity, as in P48 headers


def test_quadrant_centres_agree_with_the_quadrant_table(camera):
    table = layout_table()
    for q in camera:
        rows = table[table["Quad"] == q.rcid]
        centre = np.array([rows["xi"].mean(), rows["eta"].mean()])
        assert (
            np.hypot(*(centre - q.center)) * 3600 < 15
        )  # arcsec; the table is fitted per quadrant


def test_ccd_centres_agree_with_the_obs_ztf_millimetre_table(camera):
    with data_file("ztf_ccd_centers_obs_ztf_mm.csv").open() as handle:
        lines = [line for line in handle.read().splitlines() if not line.startswith("#")]
    mm = Table.read("\n".join(lines), format="ascii.csv")
    ours = np.array([camera.ccd_center(int(c)) for c in mm["ccdid"]])
    theirs = np.column_stack([mm["x_mm"], mm["y_mm"]]) * PLATE_SCALE
    # obs_ztf's origin is ≈0.7 mm off the axis and its scale nominal: compare shapes,
    # after the best similarity transform (a + i b = scale·rotation, shift)
    design = np.zeros((32, 4))
    design[0::2] = np.column_stack([theirs[:, 0], -theirs[:, 1], np.ones(16), np.zeros(16)])
    design[1::2] = np.column_stack([theirs[:, 1], theirs[:, 0], np.zeros(16), np.ones(16)])
    (a, b, tx, ty), *_ = np.linalg.lstsq(design, ours.ravel(), rcond=None)
    assert np.hypot(a, b) == pytest.approx(1.0, abs=0.01)
    assert abs(np.degrees(np.arctan2(b, a))) < 0.1  # same orientation: no flip, no turn
    residual = ours.ravel() - design @ [a, b, tx, ty]
    assert np.max(np.abs(residual)) * 3600 < 30


def test_ccd_rows_and_quadrant_positions_follow_the_documented_layout(camera):
    centres = {c: camera.ccd_center(c) for c in range(1, 17)}
    # rows top to bottom: 16 15 14 13 / 12 11 10 09 / 08 07 06 05 / 04 03 02 01
    rows = ([16, 15, 14, 13], [12, 11, 10, 9], [8, 7, 6, 5], [4, 3, 2, 1])
    heights = [np.mean([centres[c][1] for c in row]) for row in rows]
    assert heights == sorted(heights, reverse=True)
    for row in rows:
        assert np.ptp([centres[c][1] for c in row]) < 0.05
        # listed left to right in the focal-plane frame, where +x is East
        assert [centres[c][0] for c in row] == sorted(centres[c][0] for c in row)
    for ccdid in range(1, 17):
        q1, q2, q3, q4 = (camera[rcid_of(ccdid, qid)] for qid in range(1, 5))
        assert q1.center[0] > q2.center[0] and q4.center[0] > q3.center[0]  # 1 and 4: East half
        assert q1.center[1] > q4.center[1] and q2.center[1] > q3.center[1]  # 1 and 2: top half


def test_quadrants_of_a_ccd_abut_exactly(camera):
    q1, q2 = camera[0], camera[1]  # CCD 1: qid 1 (East) and qid 2 (West), top half
    edge_q1 = q1.corners_focal()[[0, 3]]  # x = 0.5 edge of qid 1
    edge_q2 = q2.corners_focal()[[1, 2]]  # x = NAXIS1 + 0.5 edge of qid 2
    assert np.allclose(edge_q1, edge_q2, atol=1e-12)


def test_pixel_focal_round_trip_and_locate(camera):
    rng = np.random.default_rng(0)
    for q in camera:
        x = rng.uniform(1, NAXIS1, 50)
        y = rng.uniform(1, NAXIS2, 50)
        u_deg, v_deg = q.pixel_to_focal(x, y)
        x2, y2 = q.focal_to_pixel(u_deg, v_deg)
        assert np.allclose([x2, y2], [x, y], atol=1e-8)
        rcid, _, _ = camera.locate(u_deg, v_deg)
        assert np.all(rcid == q.rcid)
    rcid, _, _ = camera.locate(np.array([0.0]), np.array([0.0]))
    assert rcid[0] == -1  # the boresight falls in the gap between CCDs


def test_crpix_is_the_boresight(camera):
    for q in camera:
        assert np.allclose(q.pixel_to_focal(*q.crpix), (0, 0), atol=1e-12)
        assert not q.contains(*q.crpix)  # thousands of pixels outside the quadrant
