"""Co-adds side by side, zoomed on the corner of a quadrant whose solution took off."""

import matplotlib.pyplot as plt
import numpy as np
from astropy.visualization import AsinhStretch, ImageNormalize, ZScaleInterval

__all__ = ["plot_corner_zoom"]


def plot_corner_zoom(images, wcs, centre, size=240, titles=None, difference=True, title=None):
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
    difference : bool
        Add a panel of the second image minus the first (a doubled star is a
        dipole there, a well-placed one nothing but noise).
    title : str, optional
        Above the panels.

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
    panels = len(patches) + bool(difference)
    figure, axes = plt.subplots(1, panels, figsize=(3.6 * panels, 4.0), squeeze=False)
    scale = float(np.sqrt(abs(np.linalg.det(wcs.celestial.pixel_scale_matrix))) * 3600)
    names = list(titles) if titles else [f"co-add {k}" for k in range(len(patches))]
    shown = [(patch, "gray_r", norm) for patch in patches]
    if difference:
        residual = patches[1] - patches[0]
        limit = float(np.nanpercentile(np.abs(residual), 99.5)) or 1.0
        shown.append((residual, "RdBu_r", plt.Normalize(-limit, limit)))
        names.append(f"{names[1]} − {names[0]}")
    for ax, (patch, cmap, scaling), name in zip(axes[0], shown, names, strict=True):
        ax.imshow(patch, origin="lower", cmap=cmap, norm=scaling, interpolation="nearest")
        ax.set_title(name, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
        bar = 30.0 / scale  # 30″ in pixels
        ax.plot([size * 0.06, size * 0.06 + bar], [size * 0.06] * 2, color="tab:red", lw=2)
        ax.text(size * 0.06, size * 0.09, '30"', color="tab:red", fontsize=9)
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure
