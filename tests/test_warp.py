"""The geometric mouth opening (dubkit.lipsync.warp): a bounded region, a jaw that drops, a dark gap."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("cv2", reason="opencv is not installed (pip install 'dubkit[lipsync]')")

from dubkit.lipsync import warp  # noqa: E402

HEIGHT, WIDTH = 360, 480
LEFT, RIGHT = (200.0, 200.0), (280.0, 200.0)  # mouth corners, pixels: an 80 px mouth
FACE = (170.0, 60.0, 310.0, 290.0)  # face box, pixels: 230 px tall, the chin at row 290
LINE_ROW = 225  # a blue line 25 px under the mouth, on the chin
SKIN, UPPER, LOWER, SEAM = (205, 160, 135), (170, 85, 85), (185, 95, 95), (110, 45, 45)


def synthetic_face() -> np.ndarray:
    """Skin, two lips meeting on a dark seam through the corners, and a distinctive blue line under them."""
    import cv2

    rng = np.random.default_rng(0)
    rgb = np.clip(np.array(SKIN) + rng.normal(0, 3, (HEIGHT, WIDTH, 3)), 0, 255).astype(np.uint8)
    cv2.ellipse(rgb, (240, 195), (40, 6), 0, 0, 360, UPPER, -1)
    cv2.ellipse(rgb, (240, 207), (37, 7), 0, 0, 360, LOWER, -1)
    cv2.line(rgb, (200, 200), (280, 200), SEAM, 1)
    rgb[LINE_ROW : LINE_ROW + 2, 215:266] = (0, 0, 255)
    return rgb


def fractions(corners_px, box_px) -> tuple[np.ndarray, np.ndarray]:
    corners = np.asarray(corners_px, dtype=np.float64) / (WIDTH, HEIGHT)
    box = np.asarray(box_px, dtype=np.float64) / (WIDTH, HEIGHT, WIDTH, HEIGHT)
    return corners, box


def luminance(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float64) @ (0.299, 0.587, 0.114)


def blue_rows(rgb: np.ndarray, column: int) -> float:
    """Mean row of the blue line's pixels in *column* (below the mouth)."""
    strip = rgb[201:, column].astype(int)
    rows = np.flatnonzero(strip[:, 2] - strip[:, 0] > 100) + 201
    assert len(rows), "the blue line is gone"
    return float(rows.mean())


def drop_px(amount: float) -> float:
    return warp.JAW_DROP * (FACE[3] - FACE[1]) * amount


def test_amount_zero_is_an_equal_copy_and_the_input_is_never_modified():
    rgb = synthetic_face()
    before = rgb.copy()
    corners, box = fractions([LEFT, RIGHT], FACE)
    same = warp.open_mouth(rgb, corners, box, 0.0)
    assert same is not rgb and np.array_equal(same, rgb)
    warp.open_mouth(rgb, corners, box, 1.0)
    assert np.array_equal(rgb, before)


def test_pixels_outside_the_lower_face_region_are_identical():
    rgb = synthetic_face()
    corners, box = fractions([LEFT, RIGHT], FACE)
    mask = warp.region(rgb.shape, corners, box)
    rows, cols = np.nonzero(mask)
    assert rows.min() >= 200 - 1  # nothing above the mouth line
    assert np.all(np.abs(cols - 240) <= warp.JAW_HALF_WIDTH * 80 + 1)  # nor far beside the mouth
    chin = FACE[3] + warp.CHIN_MARGIN * (FACE[3] - FACE[1]) + warp.SEAM_BOW * 80
    assert rows.max() <= chin + 1  # nor far below the chin
    for amount in (0.2, 0.6, 1.0, 3.0):
        out = warp.open_mouth(rgb, corners, box, amount)
        assert out.shape == rgb.shape and out.dtype == np.uint8
        assert np.array_equal(out[~mask], rgb[~mask])
        assert np.any(out[mask] != rgb[mask])


def test_opening_darkens_under_the_mouth_and_drops_the_chin_line():
    rgb = synthetic_face()
    corners, box = fractions([LEFT, RIGHT], FACE)
    amounts = (0.0, 0.25, 0.5, 0.75, 1.0)
    outs = [warp.open_mouth(rgb, corners, box, a) for a in amounts]
    darkness = [luminance(out[201:LINE_ROW, 225:256]).mean() for out in outs]  # between the lips and the line
    assert all(a > b for a, b in zip(darkness, darkness[1:], strict=False)), darkness
    assert darkness[-1] < 0.6 * darkness[0]
    lines = [blue_rows(out, 240) for out in outs]
    assert all(a < b for a, b in zip(lines, lines[1:], strict=False)), lines
    assert lines[-1] - lines[0] == pytest.approx(drop_px(1.0), abs=2.0)  # the chin moves with the jaw
    gap = outs[-1][201:225, 240].astype(int)
    assert np.any((gap[:, 0] > gap[:, 1] + 20) & (gap.sum(axis=1) < 200))  # dark red in the opened gap


def test_the_lips_stay_joined_at_the_corners():
    rgb = synthetic_face()
    corners, box = fractions([LEFT, RIGHT], FACE)
    out = warp.open_mouth(rgb, corners, box, 1.0)
    middle = luminance(out[201:215, 236:245]).mean()
    corner = luminance(out[201:205, 198:203]).mean()
    assert corner > middle + 40
    assert corner == pytest.approx(luminance(rgb[201:205, 198:203]).mean(), abs=25)


def test_the_jaw_stretches_smoothly_beside_the_mouth():
    """A smooth vertical ramp stays monotonic where the jaw stretches under the corners (no gap there): the
    backward map neither folds nor smears the seam into a flat band."""
    ramp = np.repeat(np.linspace(0, 255, HEIGHT)[:, None], WIDTH, axis=1)
    rgb = np.repeat(ramp[..., None], 3, axis=2).astype(np.uint8)
    corners, box = fractions([LEFT, RIGHT], FACE)
    out = warp.open_mouth(rgb, corners, box, 1.0)
    for column in (160, 175, 190, 198, 282, 290, 305, 320):
        values = out[195:340, column, 0].astype(int)
        assert np.all(np.diff(values) >= -1), column
        changes = np.flatnonzero(np.diff(values) != 0)
        assert np.diff(changes).max() <= 10, column  # the ramp's own steps are 1-2 rows


def test_tilted_corners_open_along_the_mouth_normal():
    import cv2

    angle = 12.0
    centre = (240.0, 200.0)
    rotation = cv2.getRotationMatrix2D(centre, -angle, 1.0)  # image rotated clockwise by 12°
    rgb = cv2.warpAffine(synthetic_face(), rotation, (WIDTH, HEIGHT), borderMode=cv2.BORDER_REPLICATE)
    turned = np.c_[[LEFT, RIGHT], np.ones(2)] @ rotation.T
    corners, box = fractions(turned, FACE)
    along = (turned[1] - turned[0]) / np.hypot(*(turned[1] - turned[0]))
    down = np.array([-along[1], along[0]])
    assert down[1] > 0 and abs(down[0]) > 0.15
    out = warp.open_mouth(rgb, corners, box, 1.0)
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    across = (xs - centre[0]) * down[0] + (ys - centre[1]) * down[1]
    changed = np.any(out != rgb, axis=2)
    assert not changed[across < -1].any()  # nothing above the tilted mouth line
    below = (np.abs((xs - centre[0]) * along[0] + (ys - centre[1]) * along[1]) < 12) & (across > 1) & (across < 15)
    assert luminance(out)[below].mean() < luminance(rgb)[below].mean() - 30

    def blue_centroid(image: np.ndarray) -> np.ndarray:
        pixels = image.astype(int)
        y, x = np.nonzero((pixels[..., 2] - pixels[..., 0] > 100) & (ys > 205))
        return np.array([x.mean(), y.mean()])

    moved = blue_centroid(out) - blue_centroid(rgb)
    assert np.linalg.norm(moved) > 0.7 * drop_px(1.0)
    assert moved @ down / np.linalg.norm(moved) > np.cos(np.radians(5))


def test_corners_given_right_to_left_open_the_same_way():
    rgb = synthetic_face()
    forward = warp.open_mouth(rgb, *fractions([LEFT, RIGHT], FACE), 0.7)
    backward = warp.open_mouth(rgb, *fractions([RIGHT, LEFT], FACE), 0.7)
    assert np.abs(forward.astype(int) - backward.astype(int)).max() <= 2


@pytest.mark.parametrize(
    ("corners_px", "box_px", "amount"),
    [
        ([LEFT, RIGHT], FACE, float("nan")),  # NaN amount
        ([LEFT, RIGHT], FACE, -0.5),  # negative amount
        ([(float("nan"), 200.0), RIGHT], FACE, 1.0),  # NaN corner
        ([(239.0, 200.0), (242.0, 200.0)], (236.0, 190.0, 245.0, 206.0), 1.0),  # a face a few pixels wide
        ([(240.0, 200.0), (240.0, 200.0)], FACE, 1.0),  # both corners on one point
        ([(2000.0, 200.0), (2080.0, 200.0)], FACE, 1.0),  # off the frame
    ],
)
def test_nothing_to_open_returns_the_frame_unchanged(corners_px, box_px, amount):
    rgb = synthetic_face()
    out = warp.open_mouth(rgb, *fractions(corners_px, box_px), amount)
    assert out is not rgb and np.array_equal(out, rgb)
    assert not warp.region(rgb.shape, *fractions(corners_px, box_px)).any() or not amount > 0


@pytest.mark.parametrize(
    ("corners_px", "box_px"),
    [
        ([(0.0, 330.0), (80.0, 330.0)], (-30.0, 200.0, 110.0, 360.0)),  # corner on the left edge, chin cut off
        ([(440.0, 350.0), (479.0, 359.0)], (400.0, 250.0, 479.0, 359.0)),  # bottom right corner of the frame
        ([(200.0, 0.0), (280.0, 0.0)], (170.0, -140.0, 310.0, 90.0)),  # the mouth on the top row
        ([LEFT, RIGHT], (float("nan"),) * 4),  # no usable face box: the height is guessed from the mouth
        ([LEFT, RIGHT], (170.0, 199.0, 310.0, 201.0)),  # a flat, implausible face box
    ],
)
def test_faces_at_the_frame_edge_or_with_odd_boxes_do_not_raise(corners_px, box_px):
    rgb = synthetic_face()
    corners, box = fractions(corners_px, box_px)
    mask = warp.region(rgb.shape, corners, box)
    out = warp.open_mouth(rgb, corners, box, 1.0)
    assert out.shape == rgb.shape
    assert np.array_equal(out[~mask], rgb[~mask])


def test_the_module_imports_without_opencv():
    code = "import sys; sys.modules['cv2'] = None; import dubkit.lipsync.warp as w; print(w.JAW_DROP)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def astronaut():
    """scikit-image's astronaut, her mouth corners and face box from MediaPipe's face mesh."""
    pytest.importorskip("mediapipe", reason="mediapipe is not installed (pip install 'dubkit[lipsync]')")
    data = pytest.importorskip("skimage.data", reason="scikit-image is not installed (pip install 'dubkit[dev]')")
    from dubkit.lipsync.faces import MOUTH_CORNERS, face_mesh, native_logs_silenced

    rgb = np.ascontiguousarray(data.astronaut())
    with native_logs_silenced(), face_mesh(1) as mesh:
        faces = mesh.process(rgb).multi_face_landmarks
    assert faces, "no face found on the astronaut"
    points = np.array([[p.x, p.y] for p in faces[0].landmark])
    return rgb, points[list(MOUTH_CORNERS)], np.r_[points.min(axis=0), points.max(axis=0)]


def test_the_astronaut_opens_her_mouth_and_nothing_else_changes(astronaut):
    rgb, corners, box = astronaut
    out = warp.open_mouth(rgb, corners, box, 1.0)
    mask = warp.region(rgb.shape, corners, box)
    assert np.array_equal(out[~mask], rgb[~mask])
    height, width = rgb.shape[:2]
    left, right = corners * (width, height)
    mouth = np.hypot(*(right - left))
    x0, x1 = int(left[0] + 0.25 * mouth), int(right[0] - 0.25 * mouth)
    y0 = int(max(left[1], right[1]) + 1)
    under = (slice(y0, y0 + int(0.2 * mouth)), slice(x0, x1))
    assert luminance(out[under]).mean() < luminance(rgb[under]).mean() - 40  # her teeth give way to a dark gap
    changed = np.any(out != rgb, axis=2)
    rows, cols = np.nonzero(changed)
    face_height = (box[3] - box[1]) * height
    assert changed.sum() > 0.5 * mouth**2
    assert rows.min() >= min(left[1], right[1]) - 1 and rows.max() <= box[3] * height + 0.15 * face_height
    assert cols.min() >= left[0] - 0.5 * mouth and cols.max() <= right[0] + 0.5 * mouth
