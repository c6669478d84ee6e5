import os
import string

import cv2
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tracker import cli
from tracker.errors import UserError
from tracker.sequences import detect_format, load_dataset, parse_box_line, read_boxes

NAN = [np.nan] * 4
SHARED_DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def write_frames(folder, count, pattern="{:04d}.jpg", first=1):
    os.makedirs(folder, exist_ok=True)
    for i in range(first, first + count):
        cv2.imwrite(os.path.join(folder, pattern.format(i)), np.full((6, 8, 3), 10 * i, np.uint8))


def write_video(path, count):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), 10, (32, 24))
    for i in range(count):
        writer.write(np.full((24, 32, 3), 40 * i, np.uint8))
    writer.release()


def by_name(sequences):
    return {s.name: s for s in sequences}


# --- layouts -------------------------------------------------------------------------------------


def test_otb_separators_shift_and_several_targets(tmp_path):
    write_frames(tmp_path / "Basketball" / "img", 3)
    # Comma, tab and space separated lines, all 1-based: x and y lose 1, w and h stay.
    write(tmp_path / "Basketball" / "groundtruth_rect.txt", "1,2,3,4\n11\t12\t13\t14\n21 22 23 24\n")
    write_frames(tmp_path / "Jogging" / "img", 2)
    write(tmp_path / "Jogging" / "groundtruth_rect.1.txt", "5,5,2,2\n6,6,2,2\n")
    write(tmp_path / "Jogging" / "groundtruth_rect.2.txt", "9,9,3,3\n10,10,3,3\n")

    assert detect_format(tmp_path) == "otb"
    seqs = by_name(load_dataset(tmp_path))
    assert list(seqs) == ["Basketball", "Jogging.1", "Jogging.2"]
    np.testing.assert_array_equal(seqs["Basketball"].boxes, [[0, 1, 3, 4], [10, 11, 13, 14], [20, 21, 23, 24]])
    np.testing.assert_array_equal(seqs["Jogging.1"].boxes, [[4, 4, 2, 2], [5, 5, 2, 2]])
    np.testing.assert_array_equal(seqs["Jogging.2"].boxes, [[8, 8, 3, 3], [9, 9, 3, 3]])
    assert [os.path.basename(p) for p in seqs["Jogging.2"].source] == ["0001.jpg", "0002.jpg"]
    assert len(seqs["Basketball"]) == 3


def test_got10k_absence_and_cover_labels(tmp_path):
    name = "GOT-10k_Train_000001"
    write(tmp_path / "list.txt", name + "\n")
    write_frames(tmp_path / name, 3, "{:08d}.jpg")
    write(tmp_path / name / "groundtruth.txt", "1,2,3,4\n0,0,0,0\n5,6,7,8\n")
    write(tmp_path / name / "absence.label", "0\n1\n0\n")
    write(tmp_path / name / "cover.label", "8\n0\n5\n")

    assert detect_format(tmp_path) == "got10k"
    [seq] = load_dataset(tmp_path)
    np.testing.assert_array_equal(seq.boxes, [[1, 2, 3, 4], [0, 0, 0, 0], [5, 6, 7, 8]])  # 0-based: unshifted
    np.testing.assert_array_equal(seq.absent, [False, True, False])
    np.testing.assert_array_equal(seq.attributes["cover"], [8, 0, 5])


def test_vot_polygons_and_both_frame_folders(tmp_path):
    write(tmp_path / "list.txt", "ball\ncar\n")
    write_frames(tmp_path / "ball" / "color", 2, "{:08d}.jpg")
    # An axis-aligned polygon and a diamond: boxes span min..max of the corners.
    write(tmp_path / "ball" / "groundtruth.txt", "1,2,5,2,5,8,1,8\n0,5,5,0,10,5,5,10\n")
    write_frames(tmp_path / "car", 2, "{:08d}.jpg")
    write(tmp_path / "car" / "groundtruth.txt", "1.5,2.5,3,4\nnan,nan,nan,nan\n")

    assert detect_format(tmp_path) == "vot"
    seqs = by_name(load_dataset(tmp_path))
    np.testing.assert_array_equal(seqs["ball"].boxes, [[1, 2, 4, 6], [0, 0, 10, 10]])
    np.testing.assert_array_equal(seqs["car"].boxes, [[1.5, 2.5, 3, 4], NAN])
    np.testing.assert_array_equal(seqs["car"].absent, [False, True])
    assert "color" in seqs["ball"].source[0] and "color" not in seqs["car"].source[0]


def test_lasot_shift_and_occlusion_flags(tmp_path):
    folder = tmp_path / "airplane" / "airplane-1"
    write_frames(folder / "img", 3, "{:08d}.jpg")
    write(folder / "groundtruth.txt", "1,1,10,10\n2,3,10,10\n3,5,10,10\n")
    write(folder / "full_occlusion.txt", "0,1,0")
    write(folder / "out_of_view.txt", "0,0,1")

    assert detect_format(tmp_path) == "lasot"
    [seq] = load_dataset(tmp_path)
    assert seq.name == "airplane-1"
    np.testing.assert_array_equal(seq.boxes, [[0, 0, 10, 10], [1, 2, 10, 10], [2, 4, 10, 10]])
    np.testing.assert_array_equal(seq.absent, [False, True, True])


def test_uav123_nan_lines_and_sub_sequences(tmp_path):
    data, anno = tmp_path / "data_seq" / "UAV123", tmp_path / "anno" / "UAV123"
    write_frames(data / "bike1", 3, "{:06d}.jpg")
    write(anno / "bike1.txt", "1,2,3,4\nNaN,NaN,NaN,NaN\n5,6,7,8\n")
    # truck4_2 starts at frame 577 of folder truck4 (configSeqs.m); its annotation gives its length, 3.
    os.makedirs(data / "truck4")
    for i in range(1, 581):
        (data / "truck4" / f"{i:06d}.jpg").touch()  # never decoded: only the listing matters here
    write(anno / "truck4_2.txt", "1,1,1,1\n2,2,2,2\n3,3,3,3\n")

    assert detect_format(tmp_path) == "uav123"
    seqs = by_name(load_dataset(tmp_path))
    np.testing.assert_array_equal(seqs["bike1"].boxes, [[1, 2, 3, 4], NAN, [5, 6, 7, 8]])
    np.testing.assert_array_equal(seqs["bike1"].absent, [False, True, False])
    assert [os.path.basename(p) for p in seqs["truck4_2"].source] == ["000577.jpg", "000578.jpg", "000579.jpg"]


def test_uav123_unknown_sub_sequence(tmp_path):
    os.makedirs(tmp_path / "data_seq" / "UAV123" / "truck4")
    write(tmp_path / "anno" / "UAV123" / "truck4_3.txt", "1,1,1,1\n")  # truck4 has only 2 parts
    with pytest.raises(UserError, match="truck4_3"):
        load_dataset(tmp_path)


def test_video_layout_with_split_and_frames(tmp_path):
    for name, count in (("a", 3), ("b", 4)):
        write_video(str(tmp_path / "sequences" / name / "frames.mp4"), count)
        write(tmp_path / "sequences" / name / "groundtruth.txt", "0,0,4,4\n" * (count - 1) + "nan,nan,nan,nan\n")
    write(tmp_path / "dev.txt", "b\n")

    assert detect_format(tmp_path) == "video"
    assert [s.name for s in load_dataset(tmp_path)] == ["a", "b"]
    [seq] = load_dataset(tmp_path, split=str(tmp_path / "dev.txt"))
    assert seq.name == "b" and len(seq) == 4
    np.testing.assert_array_equal(seq.absent, [False, False, False, True])
    frames = list(seq.frames())
    assert len(frames) == 4 and frames[0].shape == (24, 32, 3) and frames[0].dtype == np.uint8
    # A bare split name is looked up in the dataset folder.
    assert [s.name for s in load_dataset(tmp_path, split="dev")] == ["b"]


def test_single_video_file_with_boxes_beside(tmp_path):
    video = str(tmp_path / "clip.mp4")
    write_video(video, 2)
    write(tmp_path / "clip.txt", "1,2,3,4\n2,3,4,5\n")
    assert detect_format(video) == "video"
    [seq] = load_dataset(video)
    assert seq.name == "clip" and seq.source == video
    np.testing.assert_array_equal(seq.boxes, [[1, 2, 3, 4], [2, 3, 4, 5]])


def test_image_frames_become_bgr8(tmp_path):
    write(tmp_path / "list.txt", "s\n")
    os.makedirs(tmp_path / "s")
    cv2.imwrite(str(tmp_path / "s" / "1.png"), np.full((5, 7), 1000, np.uint16))  # 16-bit gray
    write(tmp_path / "s" / "groundtruth.txt", "0,0,1,1\n")
    [frame] = list(load_dataset(tmp_path, "vot")[0].frames())
    assert frame.shape == (5, 7, 3) and frame.dtype == np.uint8


# --- errors --------------------------------------------------------------------------------------


def otb_sequence(root, frames, lines):
    write_frames(root / "Seq" / "img", frames)
    write(root / "Seq" / "groundtruth_rect.txt", "".join(f"{i},{i},5,5\n" for i in range(1, lines + 1)))


def test_malformed_line_names_file_and_line(tmp_path):
    otb_sequence(tmp_path, 3, 0)
    write(tmp_path / "Seq" / "groundtruth_rect.txt", "1,2,3,4\n1,2,3\n1,2,3,4\n")
    with pytest.raises(UserError, match=r"groundtruth_rect\.txt line 2: expected 4 numbers .*got 3"):
        load_dataset(tmp_path)


def test_count_mismatch_is_an_error(tmp_path):
    otb_sequence(tmp_path, 3, 4)
    with pytest.raises(UserError, match=r"3 frames but 4 ground-truth boxes.*--lenient"):
        load_dataset(tmp_path)


@pytest.mark.parametrize("frames, lines", [(3, 4), (4, 3)])
def test_lenient_cuts_both_to_the_shorter(tmp_path, capsys, frames, lines):
    otb_sequence(tmp_path, frames, lines)
    [seq] = load_dataset(tmp_path, lenient=True)
    assert len(seq) == 3 and len(seq.source) == 3
    np.testing.assert_array_equal(seq.boxes[-1], [2, 2, 5, 5])  # third line 3,3,5,5 shifted to 0-based
    assert "warning" in capsys.readouterr().err


def test_missing_root(tmp_path):
    with pytest.raises(UserError, match="dataset not found"):
        load_dataset(tmp_path / "nowhere")


def test_unknown_layout_lists_every_layout(tmp_path):
    with pytest.raises(UserError) as e:
        load_dataset(tmp_path)
    for layout in ("otb", "got10k", "vot", "lasot", "uav123", "video"):
        assert layout in str(e.value)
    assert "\n" not in str(e.value)


def test_forced_layout_that_does_not_match(tmp_path):
    otb_sequence(tmp_path, 2, 2)
    with pytest.raises(UserError, match="no lasot sequences"):
        load_dataset(tmp_path, "lasot")


def test_split_naming_an_unknown_sequence(tmp_path):
    otb_sequence(tmp_path, 2, 2)
    write(tmp_path / "split.txt", "Seq\nGhost\n")
    with pytest.raises(UserError, match="Ghost"):
        load_dataset(tmp_path, split=str(tmp_path / "split.txt"))


def test_split_naming_a_sequence_twice(tmp_path):
    otb_sequence(tmp_path, 2, 2)
    write(tmp_path / "split.txt", "Seq\nSeq\n")
    with pytest.raises(UserError, match=r"split.txt names Seq more than once"):
        load_dataset(tmp_path, split=str(tmp_path / "split.txt"))


def test_missing_split_file_is_named_before_the_layout(tmp_path):
    # tune.py takes the split file's folder as the dataset: with the file missing, that folder is
    # no dataset, and the missing file is the mistake to name.
    (tmp_path / "notes.md").write_text("not a dataset")
    with pytest.raises(UserError, match="split file not found: .*train.txt"):
        load_dataset(tmp_path, split=str(tmp_path / "train.txt"))


def test_empty_lines_at_the_end_are_ignored(tmp_path):
    write(tmp_path / "gt.txt", "1,2,3,4\n\n\n")
    np.testing.assert_array_equal(read_boxes(tmp_path / "gt.txt"), [[1, 2, 3, 4]])


# --- line parser properties ----------------------------------------------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False)
separators = st.sampled_from([",", " ", "\t", ", ", " , ", "\t\t"])


@given(st.lists(finite, min_size=4, max_size=4), st.lists(separators, min_size=3, max_size=3))
def test_parse_round_trip(box, seps):
    line = repr(box[0]) + "".join(s + repr(v) for s, v in zip(seps, box[1:]))
    np.testing.assert_array_equal(parse_box_line(line), box)


@given(st.text(alphabet=string.printable + "éπ\x00", max_size=40))
def test_junk_raises_user_error_only(line):
    fields = line.replace(",", " ").split()
    try:
        all_numbers = all(not np.isinf(float(f)) for f in fields)
    except ValueError:
        all_numbers = False
    assume(not (all_numbers and len(fields) in (4, 8)))
    with pytest.raises(UserError):
        parse_box_line(line)


# --- real data -----------------------------------------------------------------------------------


def test_real_dev_split():
    if not os.path.isdir(SHARED_DATA):
        pytest.skip(f"real data not found at {os.path.abspath(SHARED_DATA)}")
    seqs = load_dataset(SHARED_DATA, split=os.path.join(SHARED_DATA, "dev.txt"))
    assert len(seqs) == 12
    shortest = min(seqs, key=len)
    assert sum(1 for _ in shortest.frames()) == len(shortest.boxes)


# --- writing layouts -----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["got10k", "lasot", "otb"])
def test_a_converted_dataset_reads_back_as_it_was(tmp_path, fmt):
    """Two sequences of the video layout (one with an absent frame, one named with a dash) written
    as `fmt` and read back by that layout's reader: the same frames, boxes and absent frames."""
    for name, count in (("a", 3), ("b-c", 2)):
        write_video(str(tmp_path / "src" / "sequences" / name / "frames.mp4"), count)
    write(tmp_path / "src" / "sequences" / "a" / "groundtruth.txt", "1.5,2,10,8\nnan,nan,nan,nan\n3,4.25,9,7\n")
    write(tmp_path / "src" / "sequences" / "b-c" / "groundtruth.txt", "0,0,4,4\n1,1,4,4\n")
    source = load_dataset(tmp_path / "src")
    assert cli.main(["convert", str(tmp_path / "src"), str(tmp_path / fmt), "--format", fmt]) == 0
    assert detect_format(tmp_path / fmt) == fmt
    back = load_dataset(tmp_path / fmt)
    assert [s.name for s in back] == {"lasot": ["a-1", "b_c-1"]}.get(fmt, ["a", "b_c"])
    for was, now in zip(source, back):
        seen = ~was.absent
        np.testing.assert_allclose(now.boxes[seen], was.boxes[seen], atol=0.005)
        if fmt != "otb":  # OTB has no absence labels: a zero box, which training leaves out
            assert np.array_equal(now.absent, was.absent)
        frames = [np.abs(a.astype(int) - b).max() for a, b in zip(was.frames(), now.frames())]
        assert len(frames) == len(was) and max(frames) <= 3  # JPEG at quality 95
