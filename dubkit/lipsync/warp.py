"""A geometric mouth opening, for faces with too few mouth exemplars (a still photo never moves its mouth).

The jaw is dropped by a dense backward-mapping warp (`cv2.remap`) in the mouth's own frame: *s* along the
corner-to-corner line, *t* across it, downwards, so a slightly rotated face opens along its own axis. Lengths
scale with the mouth width *w* (corner to corner) and the face height (of the face box). The lip seam is the
curve through the two corners, sagging `SEAM_BOW` × w at the middle. Below it every pixel samples the picture
`drop` × weight higher up, `drop` = `JAW_DROP` × face height × amount. The weight is the product of

- a lens across the mouth: 1 at the middle of the seam, 0 at the corners, so the lips part in an almond shape
  and stay joined at the corners; `LIP_DEPTH` × w (at least `FOLD_GUARD` × drop) below the seam it has
  widened to 1 everywhere, so the lower lip, the jaw and the chin move as one;
- a falloff over the region, a half ellipse under the seam reaching `JAW_HALF_WIDTH` × w to each side and
  `CHIN_MARGIN` × face height below the chin (the box bottom): 1 over its inner `PLATEAU` of radii, easing
  to 0 at its rim, so the jaw slides down over the neck and the cheeks beside the corners stretch a little.

Nothing moves above the seam. Where a pixel's source would lie above the seam it is inside the opened gap:
it shows the mouth's interior, the lip colour (the median of the picture around the seam) tinted dark red-brown,
darkest in the middle of the gap and towards the corners, with the upper teeth under the upper lip once the
mouth opens wider than `TEETH_FROM`. The interior is feathered over `FEATHER` × w at the upper lip and at the
lower lip, so there are no hard edges. Every pixel outside the region (`region`) is left exactly as it was;
the work is done on the region's pixels only. A face's geometry is cached, since a still photo gives the same
corners frame after frame: a 110 px mouth on a 720p frame takes about 1 ms (1.6 ms with new corners every
frame), a 250 px close-up 3 ms (8 ms).
Needs opencv (mediapipe's) when called, not when imported.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

JAW_DROP = 0.12  # jaw drop at amount 1, in face heights (face box height)
SEAM_BOW = 0.04  # the lip seam sags this far below the corner line at its middle, in mouth widths
LENS_POWER = 0.9  # the gap across the mouth is (1 - (2s/w)²) ** LENS_POWER: lower is rounder, higher pointier
LIP_DEPTH = 0.35  # the lens has widened to the whole jaw this far below the seam, in mouth widths
FOLD_GUARD = 1.6  # ... and at least this many drops: keeps the backward map monotonic (no folded lips)
JAW_HALF_WIDTH = 0.95  # the region reaches this far to either side of the mouth centre, in mouth widths
CHIN_MARGIN = 0.12  # and this far below the chin (the face box bottom), in face heights
PLATEAU = 0.45  # inner fraction of the region's radii that moves by the full drop
FEATHER = 0.04  # the interior fades in over this much of the mouth width at either lip
CORNER_FADE = 0.75  # ... and out from this fraction of the half mouth width to the corners
INTERIOR_TINT = np.array([0.55, 0.32, 0.30], dtype=np.float32)  # interior colour, relative to the lip colour
TONGUE_TINT = np.array([0.80, 0.42, 0.40], dtype=np.float32)  # the tongue's back, relative to the lip colour
TEETH_TONE = np.array([1.22, 1.18, 1.08], dtype=np.float32)  # teeth colour, relative to the lip brightness
TEETH_ALPHA = 0.8  # the teeth at full strength, over the interior
TEETH_HEIGHT = 0.08  # visible upper teeth, in mouth widths (at most 40% of the gap)
TEETH_FROM, TEETH_FULL = 0.3, 0.8  # the teeth appear between these amounts
MIN_MOUTH_PX = 6.0  # narrower mouths are left alone: nothing to draw on
_MAP_SIDE = 1024  # remap's maps must stay under 32767 on a side: the region's pixel list is folded into rows


@dataclass(frozen=True)
class _Geometry:
    """The mouth frame of one face on one frame size, and the fields of its region's pixels (1-D, float32)."""

    bounds: tuple[int, int, int, int]  # x0, y0, x1, y1 of the region's bounding box, pixels, x1 and y1 exclusive
    pixels: np.ndarray  # the region's pixels, flat indices into the frame's H×W
    down: np.ndarray  # unit vector across the mouth, downwards
    width: float  # mouth width (corner to corner), pixels
    face_height: float  # pixels
    seam_x: np.ndarray  # the seam point above each pixel, bounding-box coordinates
    seam_y: np.ndarray
    depth: np.ndarray  # distance below the seam, pixels
    across: np.ndarray  # along the mouth, -1 at the left corner, 1 at the right (clipped beyond)
    falloff: np.ndarray  # 1 in the plateau, easing to 0 at the rim
    lens: np.ndarray  # the lens at the seam: 1 at the middle of the mouth, 0 at the corners and beyond
    corner_fade: np.ndarray  # the interior's fade into the corners
    lip_rows: np.ndarray  # a few points on the lips around the middle of the seam
    lip_cols: np.ndarray


def open_mouth(rgb: np.ndarray, corners: np.ndarray, box: np.ndarray, amount: float) -> np.ndarray:
    """A copy of *rgb* (H×W×3 uint8) with the mouth opened by *amount* (0 as it is, 1 wide open for speech).

    *corners* are the mouth corners ((x, y) left, (x, y) right) and *box* the face box (x0, y0, x1, y1), both
    as fractions of the frame's width and height (`dubkit.lipsync.tracks.FaceTrack`). Only pixels of
    `region(...)` change; a tiny face, NaN corners or amount 0 give an unchanged copy."""
    out = rgb.copy()
    amount = min(float(amount), 1.0)
    geometry = _geometry_for(rgb.shape, corners, box) if amount > 0 else None
    if geometry is None:
        return out
    drop = JAW_DROP * geometry.face_height * amount
    shift = drop * _jaw_weight(geometry, drop)
    colours = _remap(rgb, geometry, shift)
    _open_gap(colours, rgb, geometry, shift, amount)
    out.reshape(-1, 3)[geometry.pixels] = np.clip(np.rint(colours), 0, 255).astype(np.uint8)
    return out


def region(shape: tuple[int, ...], corners: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Boolean H×W mask of the pixels `open_mouth` may change for this face (all False where it changes none)."""
    mask = np.zeros(shape[:2], dtype=bool)
    geometry = _geometry_for(shape, corners, box)
    if geometry is not None:
        mask.reshape(-1)[geometry.pixels] = True
    return mask


def _jaw_weight(geometry: _Geometry, drop: float) -> np.ndarray:
    """Fraction of the drop each pixel moves: the lens widening to the whole jaw, times the region's falloff."""
    reach = max(LIP_DEPTH * geometry.width, FOLD_GUARD * drop)
    widening = _smoothstep(0.0, reach, geometry.depth)
    return (geometry.lens + (1.0 - geometry.lens) * widening) * geometry.falloff


def _remap(rgb: np.ndarray, geometry: _Geometry, shift: np.ndarray) -> np.ndarray:
    """Colour of each region pixel taken from *shift* higher up, never above the seam (N×3 float32)."""
    import cv2

    x0, y0, x1, y1 = geometry.bounds
    crop = np.ascontiguousarray(rgb[y0:y1, x0:x1])
    source = np.maximum(geometry.depth - shift, 0.0)
    map_x = geometry.seam_x + source * np.float32(geometry.down[0])
    map_y = geometry.seam_y + source * np.float32(geometry.down[1])
    count = len(source)
    padded = -(-count // _MAP_SIDE) * _MAP_SIDE
    maps = [np.pad(m, (0, padded - count), mode="edge").reshape(-1, _MAP_SIDE) for m in (map_x, map_y)]
    warped = cv2.remap(crop, maps[0], maps[1], interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return warped.reshape(-1, 3)[:count].astype(np.float32)


def _open_gap(colours: np.ndarray, rgb: np.ndarray, geometry: _Geometry, shift: np.ndarray, amount: float) -> None:
    """Feather the mouth's interior (and teeth) into *colours* where the lips have parted."""
    feather = max(FEATHER * geometry.width, 1.0)
    inside = np.flatnonzero((shift > geometry.depth) & (geometry.depth > 0) & (geometry.corner_fade > 0))
    if len(inside) == 0:
        return
    depth, gap = geometry.depth[inside], shift[inside]
    alpha = _smoothstep(0.0, feather, depth) * _smoothstep(0.0, feather, gap - depth) * geometry.corner_fade[inside]
    lip = np.median(rgb[geometry.lip_rows, geometry.lip_cols], axis=0).astype(np.float32)
    interior = _interior(lip, depth / gap, geometry.across[inside], gap, geometry.width, amount)
    colours[inside] += alpha[:, None] * (interior - colours[inside])


def _interior(
    lip: np.ndarray, down: np.ndarray, across: np.ndarray, gap: np.ndarray, mouth: float, amount: float
) -> np.ndarray:
    """The mouth's inside, relative to the *lip* colour: dark red-brown, deepest mid-gap (*down* 0 at the upper
    lip, 1 at the lower) and towards the corners (*across* ±1), the tongue's back lighter at the bottom, the
    upper teeth under the upper lip for the wider openings (N×3 float32)."""
    sideways = across * across
    shade = (1.0 - 0.5 * np.sin(np.pi * down)) * (1.0 - 0.5 * sideways)
    interior = lip * INTERIOR_TINT * shade[:, None]
    tongue = 0.55 * amount * _smoothstep(0.45, 0.95, down) * (1.0 - _smoothstep(0.15, 0.7, sideways))
    interior += tongue[:, None] * (lip * TONGUE_TINT - interior)
    strength = TEETH_ALPHA * float(_smoothstep(TEETH_FROM, TEETH_FULL, amount))
    if strength <= 0:
        return interior
    height = np.minimum(np.float32(TEETH_HEIGHT * mouth), 0.4 * gap)
    from_lip = down * gap / np.maximum(height, 1e-3)
    teeth_alpha = strength * (1.0 - _smoothstep(0.5, 1.0, from_lip)) * (1.0 - _smoothstep(0.1, 0.5, sideways))
    tone = np.minimum(float(lip.mean()) * TEETH_TONE, 235.0)
    teeth = tone * (1.0 - 0.25 * np.minimum(from_lip, 1.0) - 0.6 * sideways)[:, None]  # shadowed at edge and sides
    return interior + teeth_alpha[:, None] * (teeth - interior)


def _geometry_for(shape: tuple[int, ...], corners: np.ndarray, box: np.ndarray) -> _Geometry | None:
    if len(shape) != 3 or shape[2] != 3:
        return None
    corners_key = tuple(np.asarray(corners, dtype=np.float64).reshape(-1).tolist())
    box_key = tuple(np.asarray(box, dtype=np.float64).reshape(-1).tolist())
    if len(corners_key) != 4 or len(box_key) != 4:
        return None
    return _geometry((int(shape[0]), int(shape[1])), corners_key, box_key)


@functools.lru_cache(maxsize=16)
def _geometry(shape: tuple[int, int], corners: tuple[float, ...], box: tuple[float, ...]) -> _Geometry | None:
    """The mouth frame and the region's fields, or None where there is nothing to open (NaN, tiny, off-frame)."""
    if not all(math.isfinite(v) for v in corners):
        return None
    height, width = shape
    left = np.array([corners[0] * width, corners[1] * height])
    right = np.array([corners[2] * width, corners[3] * height])
    mouth = float(np.hypot(*(right - left)))
    if mouth < MIN_MOUTH_PX:
        return None
    along = (right - left) / mouth
    down = np.array([-along[1], along[0]])
    if down[1] < 0:  # corners given right to left: the mouth still opens downwards
        along, down = -along, -down
    centre = (left + right) / 2
    face_height = _face_height(box, height, mouth)
    half_width = JAW_HALF_WIDTH * mouth
    chin = (box[3] * height - centre[1]) / down[1] if math.isfinite(box[3]) and down[1] > 0.1 else 0.0
    reach = float(np.clip(chin, 0.15 * face_height, 0.6 * face_height)) + CHIN_MARGIN * face_height
    bounds = _bounds(centre, along, down, half_width, reach + SEAM_BOW * mouth, shape)
    if bounds is None:
        return None
    return _fields(bounds, shape, centre, along, down, mouth, face_height, half_width, reach)


def _face_height(box: tuple[float, ...], frame_height: int, mouth: float) -> float:
    """The face box's height in pixels; a missing or implausible box falls back on 2.7 mouth widths."""
    guess = 2.7 * mouth
    if not all(math.isfinite(v) for v in box):
        return guess
    measured = (box[3] - box[1]) * frame_height
    return float(measured) if 1.2 * mouth <= measured <= 6.0 * mouth else guess


def _bounds(
    centre: np.ndarray, along: np.ndarray, down: np.ndarray, half_width: float, reach: float, shape: tuple[int, int]
) -> tuple[int, int, int, int] | None:
    """Pixel box around the half ellipse under the seam (a pixel of margin), clipped to the frame."""
    corners = [centre + a * half_width * along + d * reach * down for a in (-1, 1) for d in (0, 1)]
    xs, ys = zip(*corners, strict=True)
    x0, y0 = math.floor(min(xs)) - 1, math.floor(min(ys)) - 1
    x1, y1 = math.ceil(max(xs)) + 2, math.ceil(max(ys)) + 2
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(shape[1], x1), min(shape[0], y1)
    return (x0, y0, x1, y1) if x1 - x0 >= 2 and y1 - y0 >= 2 else None


def _fields(
    bounds: tuple[int, int, int, int],
    shape: tuple[int, int],
    centre: np.ndarray,
    along: np.ndarray,
    down: np.ndarray,
    mouth: float,
    face_height: float,
    half_width: float,
    reach: float,
) -> _Geometry | None:
    """Mouth coordinates, seam, falloff and lens of the region's pixels (the half ellipse under the seam)."""
    x0, y0, x1, y1 = bounds
    dx = (np.arange(x0, x1, dtype=np.float32) - np.float32(centre[0]))[None, :]
    dy = (np.arange(y0, y1, dtype=np.float32) - np.float32(centre[1]))[:, None]
    s = dx * np.float32(along[0]) + dy * np.float32(along[1])
    t = dx * np.float32(down[0]) + dy * np.float32(down[1])
    inside = np.clip(1.0 - (s * np.float32(2 / mouth)) ** 2, 0.0, 1.0)
    depth = t - np.float32(SEAM_BOW * mouth) * inside
    inner = (depth >= 0) & ((s / np.float32(half_width)) ** 2 + (depth / np.float32(reach)) ** 2 < 1)
    local = np.flatnonzero(inner)
    if len(local) == 0:
        return None
    s, depth, inside = s.reshape(-1)[local], depth.reshape(-1)[local], inside.reshape(-1)[local]
    rows, cols = np.divmod(local, x1 - x0)
    seam = np.float32(SEAM_BOW * mouth) * inside
    across = s * np.float32(2 / mouth)
    radius = np.sqrt((s / np.float32(half_width)) ** 2 + (depth / np.float32(reach)) ** 2)
    fields = {
        "pixels": (rows + y0) * shape[1] + cols + x0,
        "seam_x": np.float32(centre[0] - x0) + s * np.float32(along[0]) + seam * np.float32(down[0]),
        "seam_y": np.float32(centre[1] - y0) + s * np.float32(along[1]) + seam * np.float32(down[1]),
        "depth": depth,
        "across": np.clip(across, -1.0, 1.0),
        "falloff": 1.0 - _smoothstep(PLATEAU, 1.0, radius),
        "lens": inside ** np.float32(LENS_POWER),
        "corner_fade": 1.0 - _smoothstep(CORNER_FADE, 1.0, np.abs(across)),
    }
    fields.update(zip(("lip_rows", "lip_cols"), _lip_points(shape, centre, along, down, mouth), strict=True))
    for value in fields.values():
        value.setflags(write=False)
    return _Geometry(bounds, down=down, width=mouth, face_height=face_height, **fields)


def _lip_points(
    shape: tuple[int, int], centre: np.ndarray, along: np.ndarray, down: np.ndarray, mouth: float
) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of 28 points on the lips either side of the middle of the seam, for their colour."""
    s, t = np.meshgrid(np.linspace(-0.3, 0.3, 7) * mouth, np.array([-0.12, -0.06, 0.06, 0.12]) * mouth)
    t = t + SEAM_BOW * mouth * (1.0 - (s / (mouth / 2)) ** 2)
    points = centre + s[..., None] * along + t[..., None] * down
    rows = np.clip(np.rint(points[..., 1]).astype(np.intp), 0, shape[0] - 1).reshape(-1)
    cols = np.clip(np.rint(points[..., 0]).astype(np.intp), 0, shape[1] - 1).reshape(-1)
    return rows, cols


def _smoothstep(edge0: float, edge1: float, x: np.ndarray | float) -> np.ndarray:
    """0 below *edge0*, 1 above *edge1*, a smooth cubic between (float32)."""
    ratio = np.clip((np.asarray(x, dtype=np.float32) - np.float32(edge0)) / np.float32(edge1 - edge0), 0.0, 1.0)
    return (ratio * ratio * (3.0 - 2.0 * ratio)).astype(np.float32)
