"""Doubled and smeared stars in a co-add: the failure of a solution seen in pixels.

A co-add that includes an exposure whose astrometric solution is off by
``d`` in some region holds, there, each star twice: the good exposures'
image and the spoiled one's, ``d`` apart. With a fraction ``f`` of the
co-add's weight in the spoiled image, the star's second-moment matrix
grows by ``f (1 − f) d dᵀ`` whatever the seeing (moments of a mixture), so
a 1″ shift at ZTF's 1.01″/px and 2″ seeing is a plain elongation, and a
3–5″ take-off makes two peaks whose moments are larger still. This module
measures that excess, star by star, against the co-add's own typical star
(or the same star in a co-add made from the truth), so that seeing and a
PSF elongated everywhere (tracking, wind) do not count as doubling, and
gathers it per region of the co-add (a grid, or quadrant footprints).

The measurement is pure computation on an image array, its WCS and a list
of reference stars (Gaia or truth): it does not care how the co-add was
made. `moments` measures stamps, `stars` judges each star, `regions`
gathers them; the figure is `ztfnb.plots.doubling`.
"""

from ztfnb.doubling.regions import (
    Doubling,
    corner_regions,
    grid_regions,
    measure_doubling,
    summarise_regions,
)
from ztfnb.doubling.stars import measure_stars

__all__ = [
    "Doubling",
    "corner_regions",
    "grid_regions",
    "measure_doubling",
    "measure_stars",
    "summarise_regions",
]
