"""Reading the QR code on a posted sign the way a phone would, without failing by chance.

OpenCV's classic QR detector misses a few codes in a hundred on a page rendered at 96-150 dpi
(which ones depends on the encoded text: the notice id is random, so a test failed now and
then). Each reader here tries OpenCV's two detectors (the classic one and the ArUco-based one)
on the picture as it is and binarised at 1-3x, and a PDF is rendered at several resolutions;
a code counts as unreadable only when every attempt fails.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import numpy as np

PDF_DPIS = (150, 200, 300)


def qr_texts(image: np.ndarray) -> set[str]:
    """The texts that QR decoders read in the BGR ``image`` (empty: none could)."""
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    _, binary = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    pictures = [gray] + [
        cv2.resize(binary, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
        for scale in (1, 2, 3)
    ]
    texts: set[str] = set()
    for detector in (cv2.QRCodeDetectorAruco(), cv2.QRCodeDetector()):
        for picture in pictures:
            texts.add(detector.detectAndDecode(picture)[0])
            if texts - {""}:
                return texts - {""}
    return texts - {""}


def pdf_qr_texts(pdf: Path, work: Path) -> set[str]:
    """The texts read from the QR code on the first page of ``pdf``, rendered by poppler's
    ``pdftoppm`` at each of :data:`PDF_DPIS` until one reads (files go to ``work``)."""
    for dpi in PDF_DPIS:
        prefix = work / f"{pdf.stem}-{dpi}"
        page_one = ["-f", "1", "-l", "1", "-singlefile"]
        subprocess.run(
            ["pdftoppm", "-r", str(dpi), "-png", *page_one, str(pdf), str(prefix)],
            check=True,
            capture_output=True,
        )
        image = cv2.imread(str(prefix.with_suffix(".png")))
        if image is None:
            raise RuntimeError(f"pdftoppm wrote no page of {pdf}")
        texts = qr_texts(image)
        if texts:
            return texts
    return set()


def pdf_cards(pdf: bytes, work: Path, dpi: int = 200) -> list[np.ndarray]:
    """Each card of an invite sheet (four to an A4 page) as a picture: the pages rendered by
    poppler, cut in quarters, in reading order."""
    path = work / "invites.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(path), str(work / "page")], check=True)
    cards = []
    for page in sorted(work.glob("page-*.png")):
        image = cv2.imread(str(page))
        h, w = image.shape[:2]
        cards += [image[r : r + h // 2, c : c + w // 2] for r in (0, h // 2) for c in (0, w // 2)]
    return cards
