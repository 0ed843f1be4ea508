"""The one clinical vocabulary: pure data and small queries.

In the spirit of TotalSegmentator's ``map_to_binary.py``: everything the product names
(regions, vertebral levels and their order, pain categories and their colours, VAS bands,
SINS components and points, Bilsky grades, urgency, regions of involvement) is defined
here once, with the small functions that read it. Nothing else in the code base
re-encodes these; modules import them from here. Display formatting of clinical values
(grade ``"1b"``, ``"yes"``/``"no"``, ratios in %) lives here too, so a page, a report and
the command line show a value the same way.

Sources
-------
* Vertebral levels and regions: standard anatomy; transitional T13 / L6 and the sacrum
  as VerSe labels them (Sekuboyina et al., Med Image Anal 2021).
* Pain bands: common clinical NRS/VAS bands 1-3 mild, 4-6 moderate, 7-10 severe (e.g.
  NCCN Adult Cancer Pain; VAS 0 counted as mild); Serlin et al., Pain 1995;61:277-284.
* SINS: Fisher CG et al., Spine 2010;35:E1221-E1229.
* Bilsky epidural spinal cord compression scale: Bilsky MH et al., J Neurosurg Spine
  2010;13:324-328.
* Region grouping for the published comparison: Kong et al., Int J Med Sci
  2025;22(3):708-715 (lumbar vs thoracic vs cervical spinal metastases).
* Neurologic deficit states (only new or progressive deficits take the same-day MSCC
  pathway): NICE NG234, 2023. Radiosensitivity of the primary (NOMS oncologic arm):
  Laufer I et al., Oncologist 2013;18:744-751. ECOG: Oken et al., Am J Clin Oncol 1982.

The vocabulary is a package split by subject (``anatomy``, ``pain``, ``clinical``,
``scores``, ``numbers``, ``display``); every name is re-exported here, so callers write
``from core.vocab import NAME``.
"""

from __future__ import annotations

from core.vocab.anatomy import (
    ANATOMY,
    GROUP_COLOURS,
    INVOLVEMENT_VALUES,
    LEVEL_NAMES,
    PAPER_GROUPS,
    REGION_COLOURS,
    REGION_COUNT_COLUMNS,
    REGIONS,
    TRANSITIONAL_LEVELS,
    UNKNOWN_LEVEL_ORDER,
    check_level_names,
    involvement,
    involvement_of,
    is_level,
    level_order,
    level_region,
    paper_region_group,
    region_count_column,
    sort_levels,
)
from core.vocab.clinical import (
    ANALGESIC_STEPS,
    DEFICIT_LABELS,
    DEFICIT_STATES,
    ECOG_GRADES,
    RADIORESISTANT_TERMS,
    RADIOSENSITIVE_TERMS,
    RADIOSENSITIVITY_VALUES,
    SEXES,
    DeficitReading,
    parse_deficit,
    radiosensitivity,
)
from core.vocab.display import (
    NOT_RECORDED,
    DisplayKind,
    bilsky_text,
    deficit_text,
    display,
    number_text,
    percent,
    yes_no,
)
from core.vocab.numbers import (
    finite_float,
    is_missing,
    quote_names,
    quote_value,
    require_finite,
)
from core.vocab.pain import (
    CATEGORIES,
    CATEGORY_COLOURS,
    CATEGORY_VAS_BANDS,
    CUTOFF_SOURCES,
    DOWN_COLOUR,
    UP_COLOUR,
    URGENCY_COLOURS,
    URGENCY_ORDER,
    VAS_CUTOFFS,
    Urgency,
    category_colour,
    hex_to_rgb,
    in_category_order,
    most_urgent,
    vas_categories,
    vas_to_category,
)
from core.vocab.scores import (
    BILSKY_GRADES,
    BILSKY_HIGH_GRADE_CODE,
    BILSKY_MEANINGS,
    SINS_BANDS,
    SINS_CHOICES,
    SINS_COMPONENTS,
    SINS_LOCATION_JUNCTIONAL,
    SINS_LOCATION_MOBILE,
    SINS_MAX,
    SINS_NON_PAIN_COMPONENTS,
    SINS_POINTS,
    SINS_TITLES,
    SINS_WITHOUT_PAIN_MAX,
    BilskyGrade,
    check_sins_points,
    sins_category,
    sins_location_points,
)

__all__ = [
    "ANALGESIC_STEPS",
    "ANATOMY",
    "BILSKY_GRADES",
    "BILSKY_HIGH_GRADE_CODE",
    "BILSKY_MEANINGS",
    "CATEGORIES",
    "CATEGORY_COLOURS",
    "CATEGORY_VAS_BANDS",
    "CUTOFF_SOURCES",
    "DEFICIT_LABELS",
    "DEFICIT_STATES",
    "DOWN_COLOUR",
    "ECOG_GRADES",
    "GROUP_COLOURS",
    "INVOLVEMENT_VALUES",
    "LEVEL_NAMES",
    "NOT_RECORDED",
    "PAPER_GROUPS",
    "RADIORESISTANT_TERMS",
    "RADIOSENSITIVE_TERMS",
    "RADIOSENSITIVITY_VALUES",
    "REGIONS",
    "REGION_COLOURS",
    "REGION_COUNT_COLUMNS",
    "SEXES",
    "SINS_BANDS",
    "SINS_CHOICES",
    "SINS_COMPONENTS",
    "SINS_LOCATION_JUNCTIONAL",
    "SINS_LOCATION_MOBILE",
    "SINS_MAX",
    "SINS_NON_PAIN_COMPONENTS",
    "SINS_POINTS",
    "SINS_TITLES",
    "SINS_WITHOUT_PAIN_MAX",
    "TRANSITIONAL_LEVELS",
    "UNKNOWN_LEVEL_ORDER",
    "UP_COLOUR",
    "URGENCY_COLOURS",
    "URGENCY_ORDER",
    "VAS_CUTOFFS",
    "BilskyGrade",
    "DeficitReading",
    "DisplayKind",
    "Urgency",
    "bilsky_text",
    "category_colour",
    "check_level_names",
    "check_sins_points",
    "deficit_text",
    "display",
    "finite_float",
    "hex_to_rgb",
    "in_category_order",
    "involvement",
    "involvement_of",
    "is_level",
    "is_missing",
    "level_order",
    "level_region",
    "most_urgent",
    "number_text",
    "paper_region_group",
    "parse_deficit",
    "percent",
    "quote_names",
    "quote_value",
    "radiosensitivity",
    "region_count_column",
    "require_finite",
    "sins_category",
    "sins_location_points",
    "sort_levels",
    "vas_categories",
    "vas_to_category",
    "yes_no",
]
