"""Several targets at once: each target's boxes as if it were tracked alone, with every frame's
search crops scored in one batch."""

import numpy as np
import pytest

from test_siamfc import leave_and_return, moving_object, run
from tracker.build import build_multi_tracker, build_tracker
from tracker.interface import MultiTracker, Tracker, track, track_targets


def run_targets(tracker, frames, boxes):
    steps = list(track_targets(tracker, frames, boxes))
    return np.array([s.boxes for s in steps]), np.array([s.scores for s in steps]), np.array([s.lost for s in steps])


@pytest.mark.parametrize("tracking", [{}, {"side_size": 0}, {"engine": "torch"}], ids=["two passes", "one", "torch"])
def test_one_target_gets_exactly_the_single_trackers_boxes(tracking):
    frames, truth = moving_object(20)
    alone = run(build_tracker(tracking=tracking), frames, truth[0])
    boxes, scores, lost = run_targets(build_multi_tracker(tracking=tracking), frames, truth[:1])
    assert boxes.shape == (20, 1, 4) and scores.shape == lost.shape == (20, 1)
    assert np.array_equal(boxes[:, 0], alone)


def test_each_of_several_targets_is_tracked_as_if_alone():
    """Three targets of different sizes, one of them leaving the view and coming back (re-detection
    searches its tiles in a round of its own): each target's boxes, scores and lost flags equal
    those of a tracker that follows it alone."""
    frames, truth = leave_and_return()
    starts = [truth[0], [20, 20, 60, 40], [230, 130, 40, 70]]
    boxes, scores, lost = run_targets(build_multi_tracker(), frames, starts)
    assert lost[:, 0].any() and not lost[:, 0].all()  # the first one's round of re-detection was batched
    for i, start in enumerate(starts):
        alone = list(track(build_tracker(), frames, start))
        np.testing.assert_allclose(boxes[:, i], [s.box for s in alone], atol=1e-6)
        np.testing.assert_allclose(scores[:, i], [s.score for s in alone], atol=1e-6)
        assert np.array_equal(lost[:, i], [s.lost for s in alone])


class Counting(Tracker):
    """Stays where it started; counts its updates and whether it was closed."""

    def init(self, frame, box):
        self.box, self.updates, self.closed = np.asarray(box, float), 0, False

    def update(self, frame):
        self.updates += 1
        self.lost = self.updates % 2 == 0
        return self.box, 0.5

    def close(self):
        self.closed = True


def test_any_tracker_follows_several_targets_one_instance_each():
    frame = np.zeros((50, 50, 3), np.uint8)
    with MultiTracker(Counting) as multi:
        steps = list(track_targets(multi, [frame] * 3, [[1, 2, 3, 4], [5, 6, 7, 8]]))
        trackers = multi.trackers
        assert len(trackers) == 2 and trackers[0] is not trackers[1]
        assert [t.updates for t in trackers] == [2, 2]
    assert all(t.closed for t in trackers)
    assert np.array_equal(steps[0].boxes, [[1, 2, 3, 4], [5, 6, 7, 8]]) and steps[0].scores.tolist() == [1, 1]
    assert np.array_equal(steps[2].boxes, steps[0].boxes) and steps[2].lost.tolist() == [True, True]
    assert steps[1].lost.tolist() == [False, False]


def test_stacks_split_over_two_threads_score_as_one_thread_does():
    """With tracking.threads 2 ONNX Runtime runs a stack of crops as two parts at once (see
    engine.OnnxEngine): the same maps as the whole stack on one thread, so the same boxes."""
    frames, truth = leave_and_return()
    starts = [truth[0], [20, 20, 60, 40], [230, 130, 40, 70]]
    one, two = (build_multi_tracker(tracking={"threads": n}) for n in (1, 2))
    assert two.engine._parts == 2  # noqa: SLF001 - the split is what is tested
    stack = np.random.default_rng(0).integers(0, 256, (5, 255, 255, 3), dtype=np.uint8)
    kernels = [two.engine.exemplar(stack[i, :127, :127]) for i in range(5)]  # a kernel each
    assert np.array_equal(one.engine.score_maps(stack, kernels), two.engine.score_maps(stack, kernels))
    a, b = (run_targets(tracker, frames, starts) for tracker in (one, two))
    for x, y in zip(a, b):
        assert np.array_equal(x, y)


def test_trackers_of_one_maker_share_the_engine_and_nothing_else():
    """As a server's jobs: two trackers from one maker, stepped in turns on other targets, each
    gives the boxes of a tracker built alone."""
    from tracker.build import multi_tracker_maker

    frames, truth = moving_object(12)
    starts = [[truth[0]], [[20, 20, 60, 40], [230, 130, 40, 70]]]
    make = multi_tracker_maker()
    a, b = make(), make()
    assert a.engine is b.engine
    a.init(frames[0], starts[0])
    b.init(frames[0], starts[1])
    turns = [(a.update(f), b.update(f)) for f in frames[1:]]
    for i, start in enumerate(starts):
        alone, _, _ = run_targets(build_multi_tracker(), frames, start)
        np.testing.assert_allclose([[box for box, _ in turn[i]] for turn in turns], alone[1:], atol=1e-6)
