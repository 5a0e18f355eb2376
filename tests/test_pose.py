"""The pose search (turn, scale, parity in pair space) against transforms made here."""

import numpy as np
import pytest

from ztfnb.pose import Pose, PoseConfig, Sample, find_pose, pose_samples, region_sample


def _field(rng, n=3000, radius=1.3):
    """Stars uniform over a disk (degrees) with magnitudes, brightest first in number."""
    r = radius * np.sqrt(rng.uniform(0, 1, n))
    phi = rng.uniform(0, 2 * np.pi, n)
    return r * np.cos(phi), r * np.sin(phi), np.sort(rng.uniform(10, 20.5, n))


def _detections(rng, ref_x, ref_y, mag, truth, shift, kept=0.7, spurious=0.2, noise=0.3 / 3600):
    """What a rough header makes of the stars: the inverse of ``truth``, shifted and noisy,
    a share of the stars missed and unrelated detections added."""
    chosen = np.flatnonzero(rng.uniform(0, 1, ref_x.size) < kept)
    inverse = np.linalg.inv(truth.matrix)
    x, y = inverse @ np.vstack([ref_x[chosen] - shift[0], ref_y[chosen] - shift[1]])
    x, y = x + rng.normal(0, noise, x.size), y + rng.normal(0, noise, y.size)
    extra = int(spurious * x.size)
    x = np.concatenate([x, rng.uniform(-1.3, 1.3, extra)])
    y = np.concatenate([y, rng.uniform(-1.3, 1.3, extra)])
    # brightness follows the star's, with scatter (another band)
    flux = np.concatenate(
        [
            10 ** (-0.4 * (mag[chosen] + rng.normal(0, 0.3, chosen.size))),
            10 ** (-0.4 * rng.uniform(15, 21, extra)),
        ]
    )
    return x, y, flux


def _turn_difference(a, b):
    """Difference of two turns modulo 180° (the search cannot tell θ from θ + 180°)."""
    return (a - b + 90.0) % 180.0 - 90.0


@pytest.mark.parametrize(
    ("scale", "turn", "mirrored"),
    [
        (1.0, 0.0, False),
        (1.015, 0.3, False),
        (0.95, -5.0, False),
        (1.05, 5.0, True),
        (1.15, 40.0, False),
        (0.87, -170.0, True),
    ],
)
def test_the_pose_is_found_whatever_the_shift(scale, turn, mirrored):
    rng = np.random.default_rng(int(1000 * scale + turn) % 2**32)
    ref_x, ref_y, mag = _field(rng)
    truth = Pose(scale=scale, turn=turn, mirrored=mirrored)
    shift = rng.uniform(-0.05, 0.05, 2)  # up to 3′, which the pose must not see
    x, y, flux = _detections(rng, ref_x, ref_y, mag, truth, shift)
    quadrants = [(x[q], y[q], flux[q]) for q in np.array_split(rng.permutation(x.size), 4)]
    pose = find_pose(pose_samples(quadrants, ref_x, ref_y, mag, slack=0.06))
    assert pose.found()
    assert pose.mirrored == mirrored
    assert pose.scale == pytest.approx(scale, rel=3e-4)
    assert abs(_turn_difference(pose.turn, turn)) < 0.02
    assert pose.significance > 20


def test_another_field_is_not_taken_for_a_pose():
    rng = np.random.default_rng(7)
    ref_x, ref_y, mag = _field(rng)
    other_x, other_y, _ = _field(rng)
    x, y, flux = _detections(rng, other_x, other_y, mag, Pose(), (0.0, 0.0))
    quadrants = [(x[q], y[q], flux[q]) for q in np.array_split(np.arange(x.size), 4)]
    pose = find_pose(pose_samples(quadrants, ref_x, ref_y, mag, slack=0.06))
    assert not pose.found()
    assert pose.significance < 8


def test_a_quadrant_far_from_the_axis_alone():
    """A partial catalogue (one quadrant 3° from the axis) is searched in its own region."""
    rng = np.random.default_rng(3)
    ref_x, ref_y, mag = _field(rng, n=12000, radius=4.0)
    truth = Pose(scale=1.02, turn=-2.0)
    x, y, flux = _detections(rng, ref_x, ref_y, mag, truth, (0.01, -0.02))
    mine = (np.abs(x - 2.6) < 0.43) & (np.abs(y - 1.5) < 0.43)
    samples = pose_samples([(x[mine], y[mine], flux[mine])], ref_x, ref_y, mag, slack=0.04)
    assert len(samples) == 1
    pose = find_pose(samples)
    assert pose.found() and not pose.mirrored
    assert pose.scale == pytest.approx(1.02, rel=5e-4)
    assert abs(_turn_difference(pose.turn, -2.0)) < 0.03
    # the same through the one-region sampler
    alone = region_sample(x[mine], y[mine], flux[mine], ref_x, ref_y, mag, 0.04)
    assert isinstance(alone, Sample)
    assert find_pose([alone]).scale == pytest.approx(1.02, rel=5e-4)


def test_applying_a_pose_inverts_it_and_half_turns_flip():
    pose = Pose(scale=1.1, turn=30.0, mirrored=True)
    x, y = np.array([0.1, -0.2]), np.array([0.3, 0.05])
    mx, my = pose.apply(x, y, centre=(1.0, 2.0))
    back = np.linalg.inv(pose.matrix) @ np.vstack([mx - 1.0, my - 2.0])
    assert np.allclose(back, np.vstack([x - 1.0, y - 2.0]))
    hx, hy = pose.apply(x, y, half_turns=1)
    assert np.allclose([hx, hy], -np.array(pose.apply(x, y)))
    assert Pose(scale=1.0004, turn=0.01).is_identity()
    assert not Pose(mirrored=True).is_identity()


@pytest.mark.parametrize(
    ("field", "value"),
    [("max_scale", 1.0), ("max_scale", 3.0), ("min_pair", 2.0), ("detections", 2)],
)
def test_config_ranges_are_checked(field, value):
    with pytest.raises(ValueError, match=field.split("_")[0]):
        PoseConfig(**{field: value})
