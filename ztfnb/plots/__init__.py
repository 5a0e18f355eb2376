"""Matplotlib figures for reports and widgets.

Functions return a `~matplotlib.figure.Figure` built without pyplot's global
state (so they are safe in threads and widgets), or draw into a given axes.
"""
