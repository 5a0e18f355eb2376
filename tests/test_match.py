"""Offset search and one-to-one pairing."""

import numpy as np
import pytest
from scipy.spatial import cKDTree

from ztfnb.match import find_offset, match_quadrant, mutual_nearest

ARCSEC = 1 / 3600


@pytest.fixture
def field():
    rng = np.random.default_rng(3)
    reference = rng.uniform(-0.4, 0.4, (1500, 2))
    detected = reference[rng.choice(1500, 600, replace=False)]
    spurious = rng.uniform(-0.4, 0.4, (100, 2))
    return reference, np.vstack([detected, spurious])


def test_offset_search_finds_a_pointing_error_of_a_minute(field):
    reference, detections = field
    shift = np.array([47.0, -33.0]) * ARCSEC
    moved = detections - shift
    offset = find_offset(moved[:, 0], moved[:, 1], cKDTree(reference), 150 * ARCSEC, 2 * ARCSEC)
    assert offset.found
    assert np.hypot(offset.dx - shift[0], offset.dy - shift[1]) < 0.3 * ARCSEC


def test_no_offset_in_unrelated_fields(field):
    reference, _ = field
    stranger = np.random.default_rng(9).uniform(-0.4, 0.4, (300, 2))
    offset = find_offset(
        stranger[:, 0], stranger[:, 1], cKDTree(reference), 150 * ARCSEC, 2 * ARCSEC
    )
    assert not offset.found


def test_pairs_are_one_to_one_and_right(field):
    reference, detections = field
    rng = np.random.default_rng(4)
    noisy = detections + rng.normal(0, 0.1 * ARCSEC, detections.shape) + np.array([30, 20]) * ARCSEC
    det, ref, _ = match_quadrant(
        noisy[:, 0], noisy[:, 1], np.arange(len(noisy))[::-1].astype(float), cKDTree(reference)
    )
    assert len(set(det)) == len(det) and len(set(ref)) == len(ref)
    true_partner = {i: int(np.argmin(np.hypot(*(reference - detections[i]).T))) for i in range(600)}
    right = sum(true_partner.get(d) == r for d, r in zip(det, ref, strict=True))
    assert right >= 0.97 * 600 and len(det) <= 600 + 5


def test_mutual_nearest_refuses_a_shared_neighbour():
    tree = cKDTree(np.array([[0.0, 0.0]]))
    det, ref = mutual_nearest(np.array([0.0, 1e-5]), np.array([0.0, 0.0]), tree, 1e-3)
    assert list(det) == [0] and list(ref) == [0]
