"""Recipes that train the appliance's models, run from the repository root (`python -m training.ppe.train`).
Not installed with the appliance: the wheel carries only the trained files under `models/`. Each recipe
keeps its own venvs and work files beside it (git-ignored).
"""
