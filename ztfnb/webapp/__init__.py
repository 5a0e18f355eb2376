"""Web apps served by Voilà: the OST simulator and a night's review (``ztfnb app``).

The apps are notebooks here (``ost.ipynb``, ``review.ipynb``) that display
the widgets of `ztfnb.widgets.apps`; Voilà runs them in a kernel and shows
their outputs as a page, with no code. `AppServer` starts and stops Voilà
with the template in ``share/voila/templates/ztfnb-app``, which loads every
script and style from the local server.
"""

from ztfnb.webapp.server import APPS, AppServer

__all__ = ["APPS", "AppServer"]
