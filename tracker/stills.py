"""Still-image datasets, read as named sets of (image path, x y w h box): this project's
images/<set>/annotations.json, and COCO-format detection files (a set per category). The image
sets' counterpart of sequences.py; training cuts their crops (cropcache.py)."""

import glob
import json
import os
import re

from .errors import UserError


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except OSError as e:
        raise UserError(f"cannot read {path} ({e.strerror}); check the path in the train config") from None
    except ValueError:
        raise UserError(f"{path} is not valid JSON; fix or replace it") from None


def image_sets(root):
    """This project's still images: images/<set>/annotations.json, a list of {"file": name in the
    set's folder, "boxes": [[x, y, w, h], ...]}; (images_<set>, items) for each set."""
    for ann in sorted(glob.glob(os.path.join(root, "images", "*", "annotations.json"))):
        folder = os.path.dirname(ann)
        items = [(os.path.join(folder, r["file"]), b) for r in read_json(ann) for b in r["boxes"]]
        yield "images_" + os.path.basename(folder), items


def coco_sets(annotations, images):
    """A COCO-format detection file's boxes (crowd boxes left out), the images in the folder
    `images`; (coco_<category>, items) for each category."""
    coco = read_json(annotations)
    if not isinstance(coco, dict) or not {"images", "annotations"} <= coco.keys():
        raise UserError(f"{annotations} is not a COCO detection file (no 'images' and 'annotations'); check data.coco")
    files = {image["id"]: os.path.join(images, image["file_name"]) for image in coco["images"]}
    names = {c["id"]: c["name"] for c in coco.get("categories", [])}
    sets = {}
    for a in coco["annotations"]:
        if not a.get("iscrowd") and a["image_id"] in files:
            sets.setdefault(a["category_id"], []).append((files[a["image_id"]], a["bbox"]))
    for category, items in sorted(sets.items()):
        yield "coco_" + re.sub(r"[^\w.-]", "_", str(names.get(category, category))), items
