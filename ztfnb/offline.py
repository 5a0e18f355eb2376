"""Keep astropy offline: the bundled IERS tables serve every time conversion.

Following ``desiutil.iers.freeze_iers``: a survey pipeline run at night, or a
batch of reports on a cluster node without a route out, must neither hang on
nor depend on a download. The tables of the ``astropy-iers-data`` package are
used as they are; dates past their predictions give a warning, not an error.
"""

from astropy.utils import iers

__all__ = ["freeze_iers"]


def freeze_iers():
    """Turn off every IERS download astropy could attempt.

    Idempotent; called when :mod:`ztfnb` is imported.
    """
    iers.conf.auto_download = False
    iers.conf.auto_max_age = None
    iers.conf.iers_degraded_accuracy = "warn"
