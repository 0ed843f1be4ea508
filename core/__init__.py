"""Pure logic for the spinal-metastasis bone-pain decision-support tool.

Nothing in this package imports streamlit. Data flows one way:
bytes -> ``sitk.Image`` (validated, canonical orientation) -> level and lesion
metrics -> feature vector -> model -> explanation -> tier.
"""

__version__ = "0.1.0"

#: The one decision-support notice shown on every prediction screen, report and CLI output.
DECISION_SUPPORT_NOTICE = (
    "Decision support, not a diagnosis. Predictions summarise automated image "
    "measurements and a statistical model; the treating clinicians assess the patient, "
    "check every finding against the images and decide treatment."
)
