"""ipywidgets views over ztfnb's models (`ztfnb.review.ReviewSession`, the OST simulator).

A widget here holds no state of its own beyond its controls: it reads and
drives a model object, which tests can use without a browser. Each widget's
mime bundle also carries a static HTML rendering, so that a headless run
(papermill, nbconvert), which keeps no widget state, still shows something.
"""
