"""Vertebra segmentation engines a site may have installed: TotalSegmentator, SPINEPS.

A user with only an MRI can get a level map inside the product when the site has one of
these tools (and its model weights) installed. The engine runs as a subprocess on a
de-identified NIfTI copy of the canonical image, in a temporary folder, with:

* its executable found on ``PATH`` (:func:`find_engine`); when it is absent the error
  says how the site installs it;
* progress: every output line is passed to ``progress`` as it arrives;
* a timeout (:data:`DEFAULT_TIMEOUT_S`), after which its process group is killed;
* **no downloads**: the subprocess runs with the proxy variables pointing to an address
  that refuses connections and the Hugging Face hub offline, so an engine whose weights
  are missing fails (with a sentence saying to install the weights at the site) instead
  of fetching them;
* a clear one-sentence :class:`EngineError` for every failure (not installed, exit code,
  timeout, no output).

The engine's map is read back through :func:`core.io.read_label_map` onto the image
grid, and returned with the label convention it is in; the caller names (``total_mr``)
and checks it (:mod:`core.measure`).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where an image is handled: the command line builds its
    # options from this registry without loading the measurement code
    import SimpleITK as sitk

#: Seconds an engine may run (CPU inference of a whole spine takes minutes).
DEFAULT_TIMEOUT_S = 3600.0
#: An address that refuses connections: set as proxy so that nothing is downloaded.
_NO_NETWORK = "http://127.0.0.1:9"


@dataclass(frozen=True)
class SegmentationEngine:
    """One engine of the registry.

    Attributes
    ----------
    name : str
        Registry key (``--segment`` value).
    title : str
    executable : str
        Command looked up on ``PATH``.
    install_hint : str
        How a site installs it (and its weights), one sentence.
    tasks : mapping of str to str
        Task -> label convention of its output (:data:`core.levels.LABEL_CONVENTIONS`).
    default_task : str
    """

    name: str
    title: str
    executable: str
    install_hint: str
    tasks: Mapping[str, str]
    default_task: str

    def command(self, executable: str, image: Path, out: Path, task: str) -> list[str]:
        """The command line that segments ``image`` into ``out`` (a file or folder)."""
        if self.name == "totalsegmentator":
            return [executable, "-i", str(image), "-o", str(out), "--ml", "--task", task]
        return [executable, "sample", "-ignore_bids_filter", "-ignore_inference_compatibility",
                "-i", str(image), "-model_semantic", task, "-model_instance", "instance"]

    def output(self, folder: Path, out: Path) -> Path | None:
        """The label map the engine wrote (``None`` when it wrote none)."""
        if self.name == "totalsegmentator":
            if out.is_file():
                return out
            found = sorted(out.parent.glob("*.nii*")) if out.parent.is_dir() else []
            found = [p for p in found if p.name != "image.nii.gz"]
            return found[0] if found else None
        found = sorted(folder.rglob("*_seg-vert_msk.nii.gz"))
        return found[0] if found else None


#: The engines, in the order the New case page offers them.
ENGINES: Mapping[str, SegmentationEngine] = MappingProxyType({
    "totalsegmentator": SegmentationEngine(
        "totalsegmentator", "TotalSegmentator (MR)", "TotalSegmentator",
        "install it at the site with 'pip install TotalSegmentator' and its MR weights with "
        "'totalseg_download_weights -t vertebrae_mr' (run by the site administrator; this "
        "product never downloads weights)",
        MappingProxyType({"vertebrae_mr": "totalsegmentator_mr", "total_mr": "total_mr"}),
        "vertebrae_mr"),
    "spineps": SegmentationEngine(
        "spineps", "SPINEPS (sagittal T2w MR)", "spineps",
        "install it at the site with 'pip install spineps' and place its model weights in "
        "the folder named by SPINEPS_SEGMENTOR_MODELS (done by the site administrator; this "
        "product never downloads weights)",
        MappingProxyType({"t2w": "verse", "t1w": "verse"}), "t2w"),
})


class EngineError(ValueError):
    """A segmentation engine is missing or failed (one sentence)."""


@dataclass(frozen=True)
class EngineResult:
    """A level map made by an engine.

    Attributes
    ----------
    label_map : sitk.Image
        On the image grid (nearest neighbour), in ``convention``.
    convention : str
    engine, task : str
    seconds : float
    log_tail : tuple of str
        The engine's last output lines.
    """

    label_map: sitk.Image
    convention: str
    engine: str
    task: str
    seconds: float
    log_tail: tuple[str, ...] = ()

    def provenance(self) -> dict[str, object]:
        """``{engine, task, convention, seconds}`` for the extract provenance."""
        return {"engine": self.engine, "task": self.task, "convention": self.convention,
                "seconds": round(self.seconds, 1)}


def get_engine(name: str) -> SegmentationEngine:
    """The registry entry.

    Raises
    ------
    EngineError
        For an unknown engine name.
    """
    try:
        return ENGINES[name]
    except (KeyError, TypeError):
        raise EngineError(f"Segmentation engine {name!r} is not one of "
                          f"{', '.join(ENGINES)}.") from None


def find_engine(name: str) -> str:
    """Path of the engine's executable on ``PATH``.

    Raises
    ------
    EngineError
        When it is not installed, saying how to install it at the site.
    """
    engine = get_engine(name)
    path = shutil.which(engine.executable)
    if path is None:
        raise EngineError(f"{engine.title} is not installed on this machine ('{engine.executable}' "
                          f"is not on PATH): {engine.install_hint}.")
    return path


def engine_available(name: str) -> bool:
    """Whether the engine's executable is on ``PATH`` (its weights are not checked)."""
    return shutil.which(get_engine(name).executable) is not None


def _offline_env() -> dict[str, str]:
    env = dict(os.environ)
    for key in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                "all_proxy"):
        env[key] = _NO_NETWORK
    env["NO_PROXY"] = env["no_proxy"] = ""
    env["HF_HUB_OFFLINE"] = "1"
    return env


def _stream(proc: subprocess.Popen, tail: deque, progress: Callable[[str], None] | None):
    assert proc.stdout is not None
    for raw in proc.stdout:
        line = raw.rstrip()[:300]
        if not line:
            continue
        tail.append(line)
        if progress is not None:
            progress(line)


def _run(command: list[str], cwd: Path, timeout_s: float, title: str,
         progress: Callable[[str], None] | None) -> tuple[int, tuple[str, ...]]:
    tail: deque = deque(maxlen=20)
    proc = subprocess.Popen(command, cwd=cwd, env=_offline_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
                            errors="replace", start_new_session=True)
    reader = threading.Thread(target=_stream, args=(proc, tail, progress), daemon=True)
    reader.start()
    try:
        code = proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the engine's own process group
        proc.wait()
        raise EngineError(f"{title} did not finish within {timeout_s:.0f} s and was "
                          "stopped; run it on a machine with a GPU or raise the timeout."
                          ) from None
    reader.join(timeout=5)
    return code, tuple(tail)


def run_engine(name: str, image: sitk.Image, *, task: str | None = None,
               timeout_s: float = DEFAULT_TIMEOUT_S,
               progress: Callable[[str], None] | None = None) -> EngineResult:
    """Segment ``image`` with engine ``name`` (module docstring).

    Parameters
    ----------
    image : sitk.Image
        The canonical image (from :func:`core.io.read_image`); a NIfTI copy of it (no
        patient data) is what the engine reads.
    task : str, optional
        One of the engine's tasks (default: its ``default_task``).
    timeout_s : float
    progress : callable, optional
        Called with each output line of the engine.

    Raises
    ------
    EngineError
        Not installed (with the install hint), unknown task, non-zero exit, timeout, or
        no label map written.
    """
    import SimpleITK as sitk

    from core.io import read_label_map

    engine = get_engine(name)
    task = task or engine.default_task
    if task not in engine.tasks:
        raise EngineError(f"{engine.title} task {task!r} is not one of "
                          f"{', '.join(engine.tasks)}.")
    executable = find_engine(name)
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="spine-engine-") as tmp:
        folder = Path(tmp)
        source = folder / "image.nii.gz"
        sitk.WriteImage(image, str(source), useCompression=True)
        out = folder / "segmentation.nii.gz"
        code, tail = _run(engine.command(executable, source, out, task), folder, timeout_s,
                          engine.title, progress)
        if code != 0:
            last = tail[-1] if tail else "no output"
            raise EngineError(f"{engine.title} stopped with exit code {code} ({last}); if its "
                              f"weights are missing, {engine.install_hint}.")
        produced = engine.output(folder, out)
        if produced is None:
            raise EngineError(f"{engine.title} finished but wrote no label map.")
        label_map = read_label_map(produced, reference=image)
    if name == "spineps":
        label_map = _vertebrae_only(label_map)
    return EngineResult(label_map=label_map, convention=engine.tasks[task], engine=name,
                        task=task, seconds=time.monotonic() - start, log_tail=tail)


def _vertebrae_only(label_map: sitk.Image) -> sitk.Image:
    """SPINEPS instance maps add discs (100 + level) and endplates (200 + level) to the
    VerSe vertebra ids: keep the vertebrae."""
    import numpy as np
    import SimpleITK as sitk

    array = sitk.GetArrayFromImage(label_map)
    array[array >= 100] = 0
    out = sitk.GetImageFromArray(array.astype(np.uint16))
    out.CopyInformation(label_map)
    return out
