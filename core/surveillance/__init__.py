"""Pain surveillance over time: a patient's studies, per-level changes and alerts.

Kong et al. (Int J Med Sci 2025;22(3):708-715) call their work *surveillance*: pain is
higher with lumbar than thoracic or cervical metastases, and the number of metastatic
sites and the MRI high-intensity (HI) ratio rise together and both go with worse pain. A
follow-up study is therefore read against the one before it: new involvement (above all
lumbar), a rising HI ratio, a new fracture or deficit, and recorded pain well above
what the burden predicts.

Everything here is pure and works on frames (one row per study, any number of
patients), vectorised over the cohort:

* :func:`timeline`: the studies in date order per patient with the previous study's
  values beside each (``prev_*``) and the changes.
* :func:`level_changes`: per-level comparison of each study with the previous one when
  both have per-level measurements (studies measured from images; table imports carry
  only counts, and then the regional counts and the number of involved levels speak).
* :func:`study_alerts`: one row per fired alert with a plain sentence and the threshold it
  crossed (:class:`Thresholds`, :func:`alert_rules`).
* :func:`worklist`, :func:`filter_worklist`, :func:`page_of`: the cohort worklist.

Thresholds (defaults; none is a validated cut-off, each is stated on the page)
------------------------------------------------------------------------------
* HI-ratio rise, overall: at least 2 percentage points **and** at least 25 % of the
  previous value. The two-part rule follows RECIST 1.1 (progression needs a relative
  *and* an absolute increase, Eisenhauer et al., Eur J Cancer 2009;45:228-247), with the
  relative part from the MD Anderson bone criteria (>= 25 % increase, Hamaoka et al.,
  J Clin Oncol 2004;22:2942-2953); the absolute floor keeps small-volume measurement
  noise from firing on a tiny baseline.
* HI-ratio rise, one level (or the worst level): at least 10 percentage points and 25 %:
  one vertebra's ratio moves more with partial volume and segmentation than the
  whole-spine ratio, so its absolute floor is higher.
* Pain above expectation: recorded VAS at least 2 points above the model's expected VAS.
  Two points on the 0-10 scale is the clinically important change in cancer and
  bone-metastasis pain (Farrar et al., Pain 2001;94:149-158; Chow et al., Int J Radiat
  Oncol Biol Phys 2012;82:1730-1737).
* New lumbar involvement, new involved level, new pathologic fracture: any (a change from
  none to some, both studies recorded). New or progressive neurologic deficit: as
  recorded (it is the MSCC override's own trigger, NICE NG234 2023).

A value compared at exactly a threshold fires (``>=``; a tolerance of ``1e-9`` absorbs
floating-point rounding). Missing values never fire an alert.
"""

from core.surveillance.alerts import ALERT_COLUMNS, study_alerts
from core.surveillance.changes import (
    COMPARED_COLUMNS,
    LEVEL_CHANGE_COLUMNS,
    level_changes,
    region_changes,
    timeline,
)
from core.surveillance.rules import (
    ALERT_CODES,
    DEFAULT_THRESHOLDS,
    RULES_BY_CODE,
    TOLERANCE,
    AlertRule,
    Thresholds,
    alert_rules,
    rise_meets,
)
from core.surveillance.worklist import (
    WORKLIST_COLUMNS,
    WORKLIST_SCOPES,
    PatientSurveillance,
    filter_worklist,
    page_of,
    patient_surveillance,
    worklist,
)

__all__ = [
    "ALERT_CODES",
    "ALERT_COLUMNS",
    "COMPARED_COLUMNS",
    "DEFAULT_THRESHOLDS",
    "LEVEL_CHANGE_COLUMNS",
    "RULES_BY_CODE",
    "TOLERANCE",
    "WORKLIST_COLUMNS",
    "WORKLIST_SCOPES",
    "AlertRule",
    "PatientSurveillance",
    "Thresholds",
    "alert_rules",
    "filter_worklist",
    "level_changes",
    "page_of",
    "patient_surveillance",
    "region_changes",
    "rise_meets",
    "study_alerts",
    "timeline",
    "worklist",
]
