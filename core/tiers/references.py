"""The guidelines and trials the advice cites, one constant each (full citation).

A recommendation or override carries one or more of these joined by ``" | "``
(:func:`refs`); the report numbers them in order of first use.
"""

from __future__ import annotations

WHO_2018 = (
    "World Health Organization. WHO guidelines for the pharmacological and radiotherapeutic "
    "management of cancer pain in adults and adolescents. Geneva: WHO; 2018 (the analgesic "
    "ladder of WHO. Cancer pain relief. Geneva: WHO; 1986, kept as a teaching aid)."
)
#: Kept for callers of the former module; the same citation as :data:`WHO_2018`.
WHO_LADDER = WHO_2018
ESMO_2018 = (
    "Fallon M, Giusti R, Aielli F, et al. Management of cancer pain in adult patients: ESMO "
    "Clinical Practice Guidelines. Ann Oncol 2018;29(Suppl 4):iv166-iv191."
)
ESMO_BONE_2020 = (
    "Coleman R, Hadji P, Body JJ, et al. Bone health in cancer: ESMO Clinical Practice "
    "Guidelines. Ann Oncol 2020;31:1650-1663."
)
ASCO_BMA_2017 = (
    "Van Poznak C, Somerfield MR, Barlow WE, et al. Role of bone-modifying agents in "
    "metastatic breast cancer: an American Society of Clinical Oncology-Cancer Care Ontario "
    "focused guideline update. J Clin Oncol 2017;35:3978-3986."
)
STOPECK_2010 = (
    "Stopeck AT, Lipton A, Body JJ, et al. Denosumab compared with zoledronic acid for the "
    "treatment of bone metastases in patients with advanced breast cancer: a randomized, "
    "double-blind study. J Clin Oncol 2010;28:5132-5139."
)
ASTRO_2017 = (
    "Lutz S, Balboni T, Jones J, et al. Palliative radiation therapy for bone metastases: "
    "update of an ASTRO evidence-based guideline. Pract Radiat Oncol 2017;7:4-12."
)
ASTRO_2024 = (
    "Alcorn S, Cortés ÁA, Bradfield L, et al. External beam radiation therapy for palliation "
    "of symptomatic bone metastases: an ASTRO clinical practice guideline. Pract Radiat Oncol "
    "2024;14:377-397."
)
NICE_MSCC_2023 = (
    "NICE guideline NG234. Spinal metastases and metastatic spinal cord compression. "
    "London: National Institute for Health and Care Excellence; 2023."
)
NOMS_2013 = (
    "Laufer I, Rubin DG, Lis E, et al. The NOMS framework: approach to the treatment of "
    "spinal metastatic tumors. Oncologist 2013;18:744-751."
)
SINS_2010 = (
    "Fisher CG, DiPaola CP, Ryken TC, et al. A novel classification system for spinal "
    "instability in neoplastic disease (SINS). Spine 2010;35:E1221-E1229."
)
BILSKY_2010 = (
    "Bilsky MH, Laufer I, Fourney DR, et al. Reliability analysis of the epidural spinal cord "
    "compression scale. J Neurosurg Spine 2010;13:324-328."
)
CAFE_2011 = (
    "Berenson J, Pflugmacher R, Jarzem P, et al. Balloon kyphoplasty versus non-surgical "
    "fracture management for treatment of painful vertebral body compression fractures in "
    "patients with cancer (CAFE): a multicentre, randomised controlled trial. Lancet Oncol "
    "2011;12:225-235."
)
#: Kept for callers of the former module; the same citation as :data:`CAFE_2011`.
KYPHOPLASTY_2011 = CAFE_2011
SCORAD_2019 = (
    "Hoskin PJ, Hopkins K, Misra V, et al. Effect of single-fraction vs multifraction "
    "radiotherapy on ambulatory status among patients with spinal canal compression from "
    "metastatic cancer: the SCORAD randomized clinical trial. JAMA 2019;322:2084-2094."
)

#: Every citation, by short name (the report's reference list uses the full text).
REFERENCES: dict[str, str] = {
    "WHO 2018": WHO_2018,
    "ESMO 2018": ESMO_2018,
    "ESMO 2020": ESMO_BONE_2020,
    "ASCO 2017": ASCO_BMA_2017,
    "Stopeck 2010": STOPECK_2010,
    "ASTRO 2017": ASTRO_2017,
    "ASTRO 2024": ASTRO_2024,
    "NICE NG234": NICE_MSCC_2023,
    "NOMS 2013": NOMS_2013,
    "SINS 2010": SINS_2010,
    "Bilsky 2010": BILSKY_2010,
    "CAFE 2011": CAFE_2011,
    "SCORAD 2019": SCORAD_2019,
}


def refs(*citations: str) -> str:
    """Several citations in one reference string (``" | "`` between them)."""
    return " | ".join(dict.fromkeys(citations))
