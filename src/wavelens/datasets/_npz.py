"""A ``.npz`` file holding ``images`` and ``labels`` (and optionally ``class_names``)."""

import zipfile
from pathlib import Path

import numpy as np

from .._validation import WavelensError, check_finite
from ._base import make_dataset

__all__ = ["load_npz"]


def load_npz(path, split, *, name=None):
    """Load images and labels saved with ``numpy.savez``.

    Parameters
    ----------
    path : Path
        A ``.npz`` with arrays ``images`` (n, height, width[, channels]) and
        ``labels`` (n,), and optionally ``class_names`` (strings).
    split : {'all'}
        An ``.npz`` holds a single split.
    """
    path = Path(path)
    if split != "all":
        raise WavelensError(f"{path} holds a single split, not '{split}'; use --split all.")
    try:
        with open(path, "rb") as handle:
            archive = np.load(handle, allow_pickle=False)
            if not hasattr(archive, "files"):
                raise WavelensError(
                    f"{path} holds a single array, not an .npz archive; save it with "
                    "numpy.savez(path, images=..., labels=...)."
                )
            with archive:
                missing = {"images", "labels"} - set(archive.files)
                if missing:
                    raise WavelensError(
                        f"{path} lacks the array(s) {', '.join(sorted(missing))}; it has "
                        f"{', '.join(archive.files) or 'none'}. Save it with "
                        "numpy.savez(path, images=..., labels=..., class_names=...)."
                    )
                images = archive["images"]
                labels = archive["labels"]
                class_names = archive["class_names"].tolist() if "class_names" in archive.files else None
    except WavelensError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise WavelensError(f"{path} is not a readable .npz file ({exc}); save it again.") from None
    check_finite(images, f"{path} images")
    return make_dataset(images, labels, class_names, name=name or path.stem, split=split, source=str(path))
