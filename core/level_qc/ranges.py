"""Reference sizes used by label QA: adult vertebral bodies by region, spinal-cord segments.

Data only, each range with its source. The volume of a vertebral body is estimated as an
elliptic cylinder, ``V = pi / 4 * width * depth * height`` (the cylinder model of
the lumbar volume study below), from published linear dimensions of adult vertebral bodies; a
range is the mean dimensions -/+ about two standard deviations (or the published
minimum / maximum) of all three dimensions together.

Sources (each checked for the figures used)
-------------------------------------------
* Cervical C3-C7 bodies: European Journal of Anatomy 2020 ("Anatomical dimensions of the
  typical cervical vertebrae and their clinical implications", 100 dry vertebrae): height
  10.9 +/- 1.4 mm, antero-posterior depth 14.8-15.6 +/- 2.0 mm, transverse width
  19.9-23.2 +/- 2.2-2.4 mm; consistent with a north-west Indian series of 164 C3-C6
  bodies (AP 14.7-16.3 mm, transverse 19.4-23.8 mm, height 10.7-12.0 mm). Mean body
  ``pi/4 * 15.2 * 21.5 * 10.9 = 2.8 ml``; -2 SD ``pi/4 * 11.2 * 16.9 * 8.2 = 1.2 ml``;
  +2 SD ``pi/4 * 19.2 * 26.1 * 13.6 = 5.4 ml``.
* Thoracic bodies: "A morphometric study of the vertebral body in dry human typical
  thoracic vertebrae" (Int J Anat Physiol Biochem, vol. 1 issue 1, eternalpublication.com,
  2015; 200 vertebrae T2-T9): depth
  12.4-31.3 mm (mean 20.8), transverse 22.2-35.5 mm (mean 27.0), anterior / posterior
  height 12.2-26.3 mm (means 17.2 / 18.3): ``2.6 ml`` (minima) to ``23 ml`` (maxima),
  mean ``7.8 ml``. T10-T12 approach L1 in size, so the upper bound is raised to 30 ml.
  Panjabi et al., Spine 1991;16:888-901 (thoracic quantitative 3-D anatomy) describes
  the same craniocaudal increase.
* Lumbar bodies: normal adult ranges height 20-30 mm, depth 30-35 mm (L3-L5), width
  40-50 mm (spinebase.org vertebral body dimensions, citing CT morphometry):
  ``pi/4 * 30 * 40 * 20 = 18.8 ml`` to ``pi/4 * 35 * 50 * 30 = 41 ml``; the lower bound
  is lowered to 15 ml for a small L1 ("Anthropometric approach to lumbar vertebral
  body volumes", Surg Radiol Anat 2016;38(3):303-308, PMID 26377928: 129 CT patients,
  cylinder model, volume rising from L1 to L4, L5 below L3/L4, wide variability).
  The real TotalSegmentator example CT in ``../shared/data`` (one adult) has body masks
  of 35-44 ml at L1-L5 (3 mm voxels) and whole-vertebra masks of 46-66 ml.
* Whole-vertebra maps (VerSe, TotalSegmentator) include the posterior elements: on the
  example CT the whole vertebra is 1.3-1.6 times its body. Upper bounds are therefore
  multiplied by :data:`WHOLE_VERTEBRA_FACTOR` = 2 before a level is called too large.
* Spinal cord: a tube about 1 cm across inside the canal ("A database of the healthy
  human spinal cord morphometry in the PAM50 template space", Imaging Neuroscience
  2024, 203 healthy adults, gives normative cross-sectional areas per level). Measured
  on the bundled SCT maps (``t2`` and PAM50, which are cord segments named by level):
  0.9-1.6 ml per complete level, mean cross-section 40-81 mm^2, largest inscribed
  radius 3.0-4.1 mm, 12-32 mm long. The smallest vertebral body above
  (-2 SD cervical) has a cross-section of ``pi/4 * 11.2 * 16.9 = 149 mm^2`` and an
  inscribed radius above 4 mm (half of its 8.2 mm height).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

#: Region -> (low, high) adult vertebral-body volume, ml (the module docstring's sources).
#: The sacrum has no range (its segments are fused; maps label it whole or as S1).
VERTEBRAL_BODY_VOLUME_ML: Mapping[str, tuple[float, float]] = MappingProxyType({
    "cervical": (1.2, 5.5),
    "thoracic": (2.5, 30.0),
    "lumbar": (15.0, 45.0),
})

#: Where each range comes from (shown by the README and the QA messages' sources).
VOLUME_RANGE_SOURCES: Mapping[str, str] = MappingProxyType({
    "cervical": "Eur J Anat 2020 typical cervical vertebrae (height 10.9, depth 14.8-15.6, "
                "width 19.9-23.2 mm; mean -/+ 2 SD), elliptic-cylinder volume",
    "thoracic": "Int J Anat Physiol Biochem 2015, 200 dry T2-T9 bodies (depth 12.4-31.3, "
                "width 22.2-35.5, height 12.2-26.3 mm), raised to 30 ml for T10-T12",
    "lumbar": "adult CT ranges height 20-30, depth 30-35, width 40-50 mm (spinebase.org); "
              "Surg Radiol Anat 2016;38:303-308 (cylinder model, 129 CT patients)",
})

#: Whole-vertebra labels (body + posterior elements) may be up to this many times a body.
WHOLE_VERTEBRA_FACTOR = 2.0
#: A level below ``low * SMALL_FACTOR`` is implausibly small (partial labels excepted).
SMALL_FACTOR = 0.5
#: A level more than this many times the median of its labelled neighbours is suspect
#: (two bodies under one label, a fused or merged label); less than 1 / this, a fragment.
NEIGHBOUR_RATIO = 1.7

#: A level is shaped like a spinal-cord segment when its mean cross-section
#: (volume / head-foot extent) is below this (the cord is 40-90 mm^2; the smallest
#: vertebral body about 150 mm^2) ...
CORD_MAX_CROSS_SECTION_MM2 = 120.0
#: ... and no voxel lies deeper than this inside it (cord radius 3-4 mm; a vertebral
#: body's inscribed radius is half its height or more, over 4 mm even for C3-C7).
CORD_MAX_INSCRIBED_RADIUS_MM = 5.0
#: ... and it holds less than this (cord levels 0.5-2 ml).
CORD_MAX_VOLUME_ML = 3.0
