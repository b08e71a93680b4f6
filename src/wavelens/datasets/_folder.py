"""Image folders: one sub-folder per class (optionally under train/ and test/)."""

from pathlib import Path

import numpy as np

from .._validation import WavelensError
from ._base import make_dataset

__all__ = ["is_image_folder", "load_image_folder", "IMAGE_SUFFIXES"]

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
_GRAY_MODES = {"1", "L", "LA", "I", "I;16", "F", "P"}


def _class_folders(root):
    return sorted(p for p in Path(root).iterdir() if p.is_dir() and not p.name.startswith("."))


def _image_files(folder):
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _has_split_folders(root):
    return (Path(root) / "train").is_dir() and (Path(root) / "test").is_dir()


def is_image_folder(root):
    root = Path(root)
    if _has_split_folders(root):
        root = root / "train"
    return any(_image_files(c) for c in _class_folders(root))


def _open(path):
    from PIL import Image, UnidentifiedImageError

    try:
        return Image.open(path)
    except (UnidentifiedImageError, OSError) as exc:
        raise WavelensError(f"{path} is not a readable image ({exc}); remove or replace it.") from None


def _decode(path, mode, size):
    image = _open(path)
    try:
        if image.mode == "P":
            image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        image = image.convert(mode)
        if size is not None and image.size != (size[1], size[0]):
            from PIL import Image

            image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
        return np.asarray(image, dtype=np.uint8)
    except OSError as exc:
        raise WavelensError(f"{path} is corrupt or truncated ({exc}); remove or replace it.") from None


def _collect(root, class_names):
    files, labels = [], []
    for label, name in enumerate(class_names):
        members = _image_files(Path(root) / name)
        files.extend(members)
        labels.extend([label] * len(members))
    return files, labels


def load_image_folder(root, split, *, resize=None, name=None):
    """Load PNG/JPEG images from ``root/<class>/``.

    Parameters
    ----------
    root : Path
        Holds one sub-folder per class, or ``train/`` and ``test/`` sub-folders
        that each hold one sub-folder per class.
    split : {'train', 'test', 'all'}
        Only ``all`` for a folder without ``train/`` and ``test/``.
    resize : tuple of int, optional
        ``(height, width)`` to resize every image to. Without it, all images
        must already have one size.
    """
    root = Path(root)
    if _has_split_folders(root):
        parts = ["train", "test"] if split == "all" else [split]
        class_names = sorted({c.name for part in parts for c in _class_folders(root / part)})
        roots = [root / part for part in parts]
    else:
        if split != "all":
            raise WavelensError(
                f"{root} has no train/ and test/ sub-folders, so it has no '{split}' split; "
                "use --split all."
            )
        class_names = [c.name for c in _class_folders(root)]
        roots = [root]
    files, labels = [], []
    for part_root in roots:
        part_files, part_labels = _collect(part_root, class_names)
        files.extend(part_files)
        labels.extend(part_labels)
    if not files:
        raise WavelensError(
            f"{root}: the dataset is empty (no image files with suffix "
            f"{', '.join(sorted(IMAGE_SUFFIXES))} in its class folders)."
        )
    sizes, gray = {}, True
    for path in files:
        with _open(path) as image:
            sizes.setdefault((image.height, image.width), path)
            gray = gray and image.mode in _GRAY_MODES and "transparency" not in image.info
    if resize is None and len(sizes) > 1:
        (size_a, path_a), (size_b, path_b) = list(sizes.items())[:2]
        raise WavelensError(
            f"{root}: images have {len(sizes)} different sizes (e.g. {path_a} is "
            f"{size_a[0]}x{size_a[1]}, {path_b} is {size_b[0]}x{size_b[1]}); "
            "pass --resize HxW to bring them to one size."
        )
    mode = "L" if gray else "RGB"
    images = np.stack([_decode(path, mode, resize) for path in files])
    return make_dataset(images, np.asarray(labels), class_names, name=name or root.name,
                        split=split, source=str(root))
