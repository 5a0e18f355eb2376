"""Co-adds side by side, zoomed on the corner of a quadrant whose solution took off."""

import matplotlib.pyplot as plt
import numpy as np
from astropy.visualization import AsinhStretch, ImageNormalize, ZScaleInterval

__all__ = ["plot_corner_zoom"]


def plot_corner_zoom(images, wcs, centre, size=180, titles=None):
    """The same patch of several co-adds on one grey scale, stars doubled or not.

    Parameters
    ----------
    images : list of `~numpy.ndarray`, each shape (ny, nx)
        Co-adds on one pixel grid (NaN where there are no data).
    wcs : `~astropy.wcs.WCS`
        That grid's.
    centre : `~astropy.coordinates.SkyCoord`
        The patch's centre (a quadrant's corner).
    size : int
        The patch's side, pixels.
    titles : list of str, optional

    Returns
    -------
    `~matplotlib.figure.Figure`
        One panel per co-add; the grey scale (zscale, asinh) is the first
        image's, so that a star split in two reads fainter, not rescaled.
    """
    x, y = (round(float(v)) for v in wcs.celestial.world_to_pixel(centre))
    half = size // 2
    ny, nx = images[0].shape
    x0, y0 = min(max(x - half, 0), max(nx - size, 0)), min(max(y - half, 0), max(ny - size, 0))
    patches = [np.asarray(image[y0 : y0 + size, x0 : x0 + size], float) for image in images]
    finite = patches[0][np.isfinite(patches[0])]
    norm = ImageNormalize(finite, interval=ZScaleInterval(contrast=0.1), stretch=AsinhStretch(0.05))
    figure, axes = plt.subplots(1, len(patches), figsize=(4.2 * len(patches), 4.4), squeeze=False)
    scale = float(np.sqrt(abs(np.linalg.det(wcs.celestial.pixel_scale_matrix))) * 3600)
    for k, (ax, patch) in enumerate(zip(axes[0], patches, strict=True)):
        ax.imshow(patch, origin="lower", cmap="gray_r", norm=norm, interpolation="nearest")
        ax.set_title(titles[k] if titles else f"co-add {k}", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
        bar = 30.0 / scale  # 30″ in pixels
        ax.plot([size * 0.06, size * 0.06 + bar], [size * 0.06] * 2, color="tab:red", lw=2)
        ax.text(size * 0.06, size * 0.09, '30"', color="tab:red", fontsize=9)
    figure.tight_layout()
    return figure
