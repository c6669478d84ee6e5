"""Jobs run in this process or in a pool of worker processes, with each frame the workers read
counted for the progress line as it is read."""

import dataclasses
import functools
import multiprocessing
import queue

import cv2

from .peers import quiet_opencv


def reporting(sequence, tick):
    """A copy of `sequence` whose frames() calls tick(1) for each frame read, for the progress line."""

    def frames():
        for frame in sequence.frames():
            tick(1)
            yield frame

    copy = dataclasses.replace(sequence)
    copy.frames = frames
    return copy


_frames_read = None  # in a pool worker: the queue it reports the frames it reads to


def limit_threads():
    # N workers with N threads each would fight over the cores.
    import torch

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    quiet_opencv()


def start_worker(frames_read):
    global _frames_read
    _frames_read = frames_read
    limit_threads()


def drain(frames_read, tick):
    """Pass on to tick what the workers have put in the queue so far."""
    try:
        while True:
            tick(frames_read.get_nowait())
    except queue.Empty:
        pass


def next_answer(answers, frames_read, tick):
    """The pool's next answer, passing on the frames read while it comes."""
    while True:
        drain(frames_read, tick)
        try:
            return answers.next(timeout=0.2)
        except multiprocessing.TimeoutError:
            pass


def _in_worker(work, job):
    return work(job, _frames_read.put)


def run_jobs(jobs, workers, work, tick):
    """Yield the answers of work(job, tick) as the jobs finish, in this process or in a pool of
    `workers`. tick(n) hears of the frames work reads as it reads them: in a pool, through a queue
    that each worker's tick puts them in, read here while the answers are awaited."""
    if workers == 1:
        for job in jobs:
            yield work(job, tick)
        return
    context = multiprocessing.get_context("spawn")
    frames_read = context.Queue()
    with context.Pool(workers, initializer=start_worker, initargs=(frames_read,)) as pool:
        answers = pool.imap_unordered(functools.partial(_in_worker, work), jobs)
        for _ in jobs:
            yield next_answer(answers, frames_read, tick)
        pool.close()
        pool.join()  # a worker that exits cleanly has sent all it put in the queue
    drain(frames_read, tick)
