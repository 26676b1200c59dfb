"""No fault, one instance: the baseline every fault scenario is compared with.

1. A poison message (bytes that are not JSON, not even UTF-8) and a truncated JSON message in the
   middle of one batch: each is rejected on its own (one comment-rejected event with its
   coordinates) and the rest of that batch is stored and published normally.
2. Copies of stored comment_ids resent later on another partition with another key: duplicates,
   not replays (replayed_total stays 0), and they produce nothing.
The metrics must match what was sent exactly.
"""

import json
import time

import faults
import harness


def batch_of(log_path, coords) -> set:
    """The (partition, offset) pairs of the batch that decided coords, from the service's debug log:
    its "decided" lines come in batch order, each batch closed by a "batch committed" line."""
    batch: set = set()
    with open(log_path, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if ev.get("msg") == "decided":
                part, off = ev["source"].split("/")
                batch.add((int(part), int(off)))
            elif ev.get("msg") == "batch committed":
                if coords in batch:
                    return batch
                batch = set()
    return set()


def test_poison_in_a_batch_and_duplicates_on_other_partitions(fresh_topics, kafka_bootstrap, database_url, scale,
                                                              instances, record, rng):
    t0 = time.monotonic()
    rand, seed = rng
    topics = fresh_topics(3)
    plan = faults.Plan(topics, scale["poison_batch"], 3, rand, duplicate=0.02, poison=0.0)
    mid = len(plan.items) // 2
    article = plan.items[mid].key
    p = plan.items[mid].partition
    plan.items[mid:mid] = [
        faults.Item(0, "poison", b"\xff\xfe\x00garbage\x80{\"body\": ", article, p),
        faults.Item(0, "poison", b'{"schema_version": 1, "comment_id": "', article, p),
    ]
    first = len(plan.items)
    # Phase 2: a few stored comments resent on another partition, with another key.
    originals = [it for it in plan.items[:first] if it.kind in ("published", "held")][::40][:6]
    for o in originals:
        plan.items.append(faults.Item(0, "duplicate", o.value, o.key + b"#other-device", (o.partition + 1) % 3,
                                      o.comment_id))
    for i, it in enumerate(plan.items):
        it.idx = i

    # All of phase 1 is in the topic before the service starts, so a partition's messages arrive in
    # one fetch and the poison messages land in the middle of a batch (checked below, from the log).
    s1 = faults.Sender(kafka_bootstrap, plan, stop_at=first)
    s1.start()
    s1.finish()
    tag = harness.unique_suffix()
    svc = faults.new_service("faults-poison", topics, f"faults-poison-{tag}", f"faults-poison-{tag}",
                             extra_env={"BATCH_MAX_WAIT_MS": "3000", "BATCH_MAX_MESSAGES": "1000"})
    instances.append(svc)
    svc.start()
    faults.wait_caught_up(kafka_bootstrap, svc.group_id, topics.submitted, 3, timeout=60)
    m1 = svc.metrics()

    s2 = faults.Sender(kafka_bootstrap, plan, start_at=first)
    s2.start()
    s2.finish()
    faults.wait_caught_up(kafka_bootstrap, svc.group_id, topics.submitted, 3, timeout=60)
    res = faults.verify(plan, database_url, kafka_bootstrap)
    want = plan.expected_metrics()
    m = svc.wait_metrics(lambda m: faults.outcome_view(m) == want)
    status, took = svc.stop_timed(15)

    res.update({"seed": seed, "batches_first_phase": m1.get("comment_ingest_batches_total"),
                "replayed": faults.metric(m, "comment_ingest_replayed_total"),
                "duplicates_counted": faults.metric(m, "comment_ingest_duplicate_total"),
                "exit_status": status})
    failures = faults.clean_failures(res)
    poison = [plan.items[mid], plan.items[mid + 1]]
    batch = batch_of(svc.stdout_path, poison[0].coords)
    res["poison_batch_size"] = len(batch)
    same_partition = sorted(o for (part, o) in batch if part == p)
    if not (poison[1].coords in batch and same_partition and same_partition[0] < poison[0].offset
            and same_partition[-1] > poison[1].offset):
        failures.append(f"the poison messages {poison[0].coords}, {poison[1].coords} were not in the middle of "
                        f"one batch (batch of {len(batch)}, partition {p} offsets "
                        f"{same_partition[:1]}..{same_partition[-1:]})")
    if faults.outcome_view(m) != want:
        failures.append(f"metrics {faults.outcome_view(m)} != expected {want}")
    if res["replayed"] != 0:
        failures.append(f"replayed_total {res['replayed']}: a duplicate from other coordinates was taken for a replay")
    if status != 0:
        failures.append(f"exit status {status} after SIGTERM")
    if svc.sanitizer_findings():
        failures.append(f"sanitizer: {svc.sanitizer_findings()[:3]}")
    faults.conclude(res, failures, record, t0)
