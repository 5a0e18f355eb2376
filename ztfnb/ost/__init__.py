"""Far-IR spectrometer simulation for the Origins Space Telescope.

`Spectrometer` (instrument), `Background`, sources (`StarburstGalaxy`,
`TemplateSource`) and `observe`; `OSTSimulator` is the model behind the widget.
"""

from ztfnb.ost.background import Background
from ztfnb.ost.instrument import CONCEPTS, Spectrometer
from ztfnb.ost.observe import Observation, observe
from ztfnb.ost.source import StarburstGalaxy, TemplateSource

__all__ = [
    "CONCEPTS",
    "Background",
    "Observation",
    "Spectrometer",
    "StarburstGalaxy",
    "TemplateSource",
    "observe",
]
