"""Pure logic for the spinal-metastasis bone-pain decision-support tool.

Nothing in this package imports streamlit. Data flows one way:
bytes -> ``sitk.Image`` (validated, canonical orientation) -> level and lesion
metrics -> feature vector -> model -> explanation -> tier.
"""

__version__ = "0.1.0"
