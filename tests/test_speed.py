"""The speed command's tables: what the speed goal reads off them."""

from tracker import speed


def entry(label, fps):
    e = speed.Entry(label, tracker=None)
    e.fps, e.cores = dict(fps), {name: 1.0 for name in fps}
    return e


OURS = {"a": 100.0, "b": 300.0, "c": 200.0}  # median 200, min 100
NANO = {"a": 150.0, "b": 160.0, "c": 400.0}  # median 160, min 150


def test_peer_ratios_divide_our_median_by_each_learned_peers():
    entries = [
        entry("siamfc", OURS),
        entry("csrt", {"a": 30.0}),
        entry("nano", NANO),
        entry("vit", {"a": 400.0, "b": 400.0}),
    ]
    assert speed.peer_ratios(entries) == (
        "Median fps of siamfc over nano's: **1.25**. Median fps of siamfc over vit's: **0.50**."
    )


def test_peer_ratios_are_left_out_without_a_learned_peer():
    assert speed.peer_ratios([entry("siamfc", OURS), entry("csrt", {"a": 30.0})]) == ""


def test_fps_table_gives_each_trackers_median_and_min():
    sizes = {"a": (640, 480, 10), "b": (1280, 720, 10), "c": (320, 240, 10)}
    table = speed.fps_table([entry("siamfc", OURS), entry("nano", NANO)], sizes)
    assert "| b | 1280x720 | 10 | 300.0 | 160.0 |" in table
    assert "| **median** |  |  | **200.0** | **160.0** |" in table
    assert "| **min** |  |  | **100.0** | **150.0** |" in table
