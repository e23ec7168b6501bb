"""The job store on its own: capacity, atomic oldest-first claims, cancel, recovery, purge."""

import threading

import pytest

from mmgp_lesson.serve.ab import variant
from mmgp_lesson.serve.jobs import MAX_ATTEMPTS, Conflict, JobStore, NotFound, QueueFull


@pytest.fixture
def store(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3", capacity=50, results=tmp_path / "results")
    yield store
    store.close()


def test_the_store_is_in_wal_mode_and_refuses_past_capacity(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3", capacity=2)
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    ids = [store.submit({"seed": seed}, None) for seed in range(2)]
    with pytest.raises(QueueFull):
        store.submit({"seed": 2}, None)
    assert store.queue_depth() == 2 and store.claim(1)[0].id == ids[0]
    store.submit({"seed": 3}, None)  # a claimed job frees its queue slot
    assert (store.queue_depth(), store.in_flight()) == (2, 1)


def test_concurrent_claims_take_every_job_once_oldest_first(store):
    ids = [store.submit({"seed": seed}, None) for seed in range(40)]
    claimed, threads = [], []

    def claim_all():
        while jobs := store.claim(3):
            claimed.append([job.id for job in jobs])

    threads = [threading.Thread(target=claim_all) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    flat = [job_id for batch in claimed for job_id in batch]
    assert sorted(flat) == sorted(ids) and len(flat) == len(set(flat))  # each job claimed exactly once
    assert all(ids.index(a) < ids.index(b) for batch in claimed for a, b in zip(batch, batch[1:]))
    assert store.queue_depth() == 0 and store.in_flight() == 40


def test_cancel_finish_and_fail_respect_the_state(store):
    queued, running, done = (store.submit({}, None) for _ in range(3))
    store.claim(1)
    store.claim(2)
    assert store.finish(done) and store.get(done).state == "done"
    with pytest.raises(Conflict):
        store.cancel(done)
    with pytest.raises(NotFound):
        store.cancel("0" * 32)
    assert store.cancel(running).state == "cancelled"
    assert not store.finish(running) and not store.fail(running, "late")  # a cancelled job stays cancelled
    assert store.get(running).state == "cancelled"
    assert store.get(queued).state == "running" and store.fail(queued, "boom") and store.get(queued).error == "boom"


def test_recover_requeues_running_jobs_and_fails_one_that_keeps_killing_the_server(store):
    survivor, poison = store.submit({}, None), store.submit({}, None)
    store.claim(2)
    store.stage(survivor, "read", state="done", seconds=0.1)
    assert store.recover() == 2
    assert store.get(survivor).state == "queued" and store.get(survivor).attempts == 1
    assert store.get(survivor).stages == {}  # progress of the lost attempt is not reported as current
    store.claim(1)  # the survivor (oldest) runs to the end this time
    store.finish(survivor)
    for attempt in range(2, MAX_ATTEMPTS + 1):
        store.claim(1)
        assert store.recover() == (1 if attempt < MAX_ATTEMPTS else 0)
    assert store.get(poison).state == "failed" and "not retried" in store.get(poison).error
    assert store.get(poison).attempts == MAX_ATTEMPTS and store.get(survivor).state == "done"


def test_purge_deletes_finished_jobs_with_their_files_and_keeps_the_rest(store, tmp_path):
    uploads = {}
    for name in ("old", "live"):
        uploads[name] = tmp_path / name
        uploads[name].write_bytes(b"clip")
    old, live = store.submit({}, uploads["old"]), store.submit({}, uploads["live"])
    (tmp_path / "results" / old).mkdir(parents=True)
    (tmp_path / "results" / old / "video.mp4").write_bytes(b"mp4")
    store.claim(1)
    store.finish(old)
    assert store.purge(3600) == 0  # finished, but within retention
    assert store.purge(0) == 1
    with pytest.raises(NotFound):
        store.get(old)
    assert not uploads["old"].exists() and not (tmp_path / "results" / old).exists()
    assert uploads["live"].exists() and store.get(live).state == "queued"


def test_the_ab_split_is_deterministic_and_takes_the_asked_fraction():
    import uuid

    ids = [uuid.uuid4().hex for _ in range(20_000)]
    for fraction in (0.0, 0.25, 1.0):
        share = sum(variant(job_id, fraction) == "B" for job_id in ids) / len(ids)
        tolerance = 5 * (fraction * (1 - fraction) / len(ids)) ** 0.5  # five binomial standard errors
        assert abs(share - fraction) <= tolerance, (fraction, share)
    assert [variant(job_id, 0.5) for job_id in ids[:100]] == [variant(job_id, 0.5) for job_id in ids[:100]]
