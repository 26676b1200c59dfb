"""Moderation decisions in the fault tests' load (issue 11): a moderation bot that answers the run's
held and published comments with decisions on moderation-decided while the faults happen, and the
check that counts, for every decision it sent, what became of it.

The bot reads the run's moderation-needed and comment-published events (read_committed, so each
comment it decides on is stored) and, for each, sends a small script of decisions to the comment's
partition of moderation-decided (keyed by the article, like the comment), so that they are applied
in the order sent. For a held comment:

- D1: approve or reject it;
- sometimes D1 again, the same decision_id from a later offset: a duplicate, nothing may happen;
- sometimes D2, decided a minute later, the other way (a take-down or a restore): applied;
  then sometimes D3, decided between the two, the way D1 went: stale (it would undo D2);
- sometimes a decision that changes nothing: a no-op;
- now and then a decision on a comment id that was never stored (unknown_comment) or with another
  article's id (article_mismatch).

For a comment published at once: now and then a take-down (applied) or an approval (a no-op).

Every decision has one expected outcome, known when it is sent, because the decisions on one
comment keep their order. verify() reads every output and the moderation_decisions table and
counts what was lost (an applied decision without its event or record, a rejected one without its
dead letter), what was applied twice (two events or two records for one decision_id, a record from
a duplicate's coordinates, a comment whose final status is not the script's), and duplicate events.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import json
import random
import threading
import time
import uuid
import zlib

import harness

# A decision's expected outcome: applied | noop | duplicate | rejected:<code>


@dataclasses.dataclass
class Sent:
    """One decision the bot sent and what it must become."""

    decision_id: str
    comment_id: str
    article_id: str
    decision: str
    decided_at: str
    expect: str
    value: bytes
    key: bytes
    partition: int
    from_status: str | None = None   # applied: the change it makes
    to_status: str | None = None
    offset: int | None = None
    original: "Sent | None" = None   # duplicate: the decision it repeats


def flip(status: str) -> str:
    return "rejected" if status == "published" else "published"


class ModerationBot(threading.Thread):
    """Answers the run's held and published comments with decisions while the faults happen (see the
    module's docstring). finish() stops it once it has seen every comment it waits for."""

    def __init__(self, bootstrap: str, topics, partitions: int, seed: int, held_rate: float = 1.0,
                 published_rate: float = 0.06):
        super().__init__(daemon=True)
        from confluent_kafka import Producer

        self.topics = topics
        self.partitions = partitions
        self.seed = seed
        self.bootstrap = bootstrap
        self.held_rate = held_rate
        self.published_rate = published_rate
        self.producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                                  "linger.ms": 5, "message.timeout.ms": 300000})
        # decided_at of the scripts: in the past, so that none is refused as from the future
        self.base = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=10)
        self.sent: list[Sent] = []
        self.final: dict[str, str] = {}   # comment_id -> the status its script ends in
        self.seen = collections.Counter()  # held | published comments seen
        self.errors: list[str] = []
        self._stop_ev = threading.Event()
        self._want: tuple[int, int] | None = None
        self.done = threading.Event()

    # ---- the scripts

    def _at(self, seconds: float) -> str:
        return (self.base + datetime.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def _send(self, d: Sent) -> None:
        def cb(err, msg):
            if err is not None:
                self.errors.append(f"decision {d.decision_id}: {err}")
            else:
                d.offset = msg.offset()
        while True:
            try:
                self.producer.produce(self.topics.decided, value=d.value, key=d.key, partition=d.partition,
                                      on_delivery=cb)
                break
            except BufferError:
                self.producer.poll(0.05)
        self.producer.poll(0)
        self.sent.append(d)

    def _decision(self, comment_id: str, article: str, decision: str, at: float, expect: str,
                  decision_id: str | None = None, partition_of: str | None = None, **change) -> Sent:
        did = decision_id or str(uuid.uuid4())
        ev = {"schema_version": 1, "decision_id": did, "comment_id": comment_id, "article_id": article,
              "decision": decision, "moderator": {"id": "fault-bot"}, "note": "decided under faults",
              "decided_at": self._at(at)}
        key = (partition_of or article).encode()
        part = zlib.crc32(key) % self.partitions
        return Sent(did, comment_id, article, decision, ev["decided_at"], expect, json.dumps(ev).encode(), key, part,
                    **change)

    def _script_held(self, cid: str, article: str) -> None:
        rnd = random.Random(f"{self.seed}/{cid}")
        status = "pending"
        first = "approve" if rnd.random() < 0.6 else "reject"
        target = "published" if first == "approve" else "rejected"
        d1 = self._decision(cid, article, first, 0, "applied", from_status=status, to_status=target)
        self._send(d1)
        status = target
        if rnd.random() < 0.25:  # the tool sends it again: a duplicate
            again = dataclasses.replace(d1, expect="duplicate", from_status=None, to_status=None, offset=None,
                                        original=d1)
            self._send(again)
        if rnd.random() < 0.3:   # decided later the other way: a take-down or a restore
            other = flip(status)
            self._send(self._decision(cid, article, "approve" if other == "published" else "reject", 60, "applied",
                                      from_status=status, to_status=other))
            status = other
            if rnd.random() < 0.3:  # decided between the two, the way D1 went: stale
                self._send(self._decision(cid, article, first, 30, "rejected:stale_decision"))
        if rnd.random() < 0.1:   # a decision that changes nothing
            self._send(self._decision(cid, article, "approve" if status == "published" else "reject", 90, "noop",
                                      from_status=status, to_status=status))
        if rnd.random() < 0.03:  # a comment that was never stored
            self._send(self._decision(str(uuid.uuid4()), article, "approve", 0, "rejected:unknown_comment"))
        if rnd.random() < 0.03:  # another article's id (sent on the comment's partition all the same)
            self._send(self._decision(cid, article + "-other", "reject", 0, "rejected:article_mismatch",
                                      partition_of=article))
        self.final[cid] = status

    def _script_published(self, cid: str, article: str) -> None:
        rnd = random.Random(f"{self.seed}/{cid}")
        r = rnd.random()
        status = "published"
        if r < self.published_rate / 2:   # readers flagged it: taken down
            self._send(self._decision(cid, article, "reject", 0, "applied", from_status=status, to_status="rejected"))
            status = "rejected"
        elif r < self.published_rate:     # approved again: nothing changes
            self._send(self._decision(cid, article, "approve", 0, "noop", from_status=status, to_status=status))
        self.final[cid] = status

    # ---- the thread

    def run(self):
        from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": f"fault-bot-{uuid.uuid4().hex[:8]}",
                      "isolation.level": "read_committed", "auto.offset.reset": "earliest",
                      "enable.auto.commit": False})
        try:
            c.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t in (self.topics.moderation, self.topics.published)
                      for p in range(self.partitions)])
            while not self._stop_ev.is_set():
                msg = c.poll(0.2)
                self.producer.poll(0)
                if self._want and (self.seen["held"], self.seen["published"]) >= self._want:
                    break
                if msg is None or msg.error():
                    if msg is not None and msg.error().code() != KafkaError._PARTITION_EOF:
                        self.errors.append(f"bot consumer: {msg.error()}")
                    continue
                ev = json.loads(msg.value())
                if "moderation" in ev:
                    continue  # an approval of the bot's own: not a submission
                kind = "held" if msg.topic() == self.topics.moderation else "published"
                self.seen[kind] += 1
                if kind == "held":
                    self._script_held(ev["comment_id"], ev["article_id"])
                else:
                    self._script_published(ev["comment_id"], ev["article_id"])
            while self.producer.flush(1.0) > 0:
                pass
        except Exception as e:  # noqa: BLE001
            self.errors.append(f"bot: {e!r}")
        finally:
            c.close()
            self.done.set()

    def finish(self, held: int, published: int, timeout: float = 300.0) -> None:
        """Waits until the bot has seen `held` held and `published` published comments and every
        decision of theirs is delivered; raises on a delivery error."""
        self._want = (held, published)
        self.join(timeout)
        if self.is_alive():
            self._stop_ev.set()
            self.join(10)
            raise AssertionError(f"the moderation bot saw {dict(self.seen)} of {held} held and {published} "
                                 f"published comments within {timeout}s")
        assert not self.errors, f"bot errors: {self.errors[:5]}"
        assert all(d.offset is not None for d in self.sent), "a decision has no delivery report"

    # ---- expectations

    def counts(self) -> collections.Counter:
        return collections.Counter(d.expect.split(":")[0] for d in self.sent)

    def expected_metrics(self) -> dict:
        c = self.counts()
        return {"decisions_consumed": len(self.sent), "decisions_applied": c["applied"], "decisions_noop": c["noop"],
                "decisions_duplicate": c["duplicate"], "decisions_rejected": c["rejected"]}


def metrics_view(m: dict) -> dict:
    return {"decisions_consumed": m.get("comment_ingest_decisions_consumed_total", 0),
            "decisions_applied": harness.metric_sum(m, "comment_ingest_decisions_applied_total"),
            "decisions_noop": m.get("comment_ingest_decisions_noop_total", 0),
            "decisions_duplicate": m.get("comment_ingest_decisions_duplicate_total", 0),
            "decisions_rejected": harness.metric_sum(m, "comment_ingest_decisions_rejected_total")}


def verify(bot: ModerationBot, db_url: str, bootstrap: str, db_connect) -> dict:
    """Every decision the bot sent against the outputs (read_committed) and PostgreSQL."""
    t = bot.topics
    counts = bot.counts()
    want_events = counts["applied"] + counts["rejected"]
    recs = harness.consume_all(bootstrap, [t.published, t.moderated, t.decision_rejected], expected_count=None,
                               timeout=120, extra=2.0)
    by_decision = collections.defaultdict(list)
    letters = collections.defaultdict(list)
    event_ids = collections.Counter()
    seen_events = 0
    for r in recs:
        ev = r.event or {}
        if r.topic == t.published and "moderation" not in ev:
            continue  # a submission's own event: faults.verify's
        seen_events += 1
        event_ids[ev.get("event_id")] += 1
        if r.topic == t.decision_rejected:
            src = ev.get("source") or {}
            letters[(src.get("partition"), src.get("offset"))].append(r)
        else:
            by_decision[ev.get("decision_id") or (ev.get("moderation") or {}).get("decision_id")].append(r)

    ids = list({d.decision_id for d in bot.sent})
    cids = list({d.comment_id for d in bot.sent} | set(bot.final))
    with db_connect(db_url) as conn:
        records = collections.defaultdict(list)
        for i in range(0, len(ids), 20000):
            for row in conn.execute("SELECT decision_id::text, outcome, from_status, to_status, source_topic, "
                                    "source_partition, source_offset FROM moderation_decisions "
                                    "WHERE decision_id = ANY(%s::uuid[])", (ids[i:i + 20000],)).fetchall():
                records[row[0]].append(row[1:])
        status = {}
        for i in range(0, len(cids), 20000):
            for cid, st in conn.execute("SELECT comment_id::text, status FROM comments WHERE comment_id = ANY(%s::uuid[])",
                                        (cids[i:i + 20000],)).fetchall():
                status[cid] = st

    lost = twice = dup_events = wrong = 0
    problems = []
    for d in bot.sent:
        evs = by_decision.get(d.decision_id, []) if d.expect != "duplicate" else []
        recs_of = records.get(d.decision_id, [])
        coords = (d.partition, d.offset)
        if d.expect == "applied":
            want_topic = t.published if d.to_status == "published" else t.moderated
            if not evs or not recs_of:
                lost += 1
                problems.append(f"lost applied {d.decision} {d.decision_id} @{coords}: events {len(evs)}, "
                                f"records {len(recs_of)}")
            if len(evs) > 1:
                twice += 1
                dup_events += len(evs) - 1
                problems.append(f"{len(evs)} events for {d.decision_id}")
            for r in evs:
                ev = r.event
                frm = ev.get("from_status") or (ev.get("moderation") or {}).get("from_status")
                src = ev.get("source") if r.topic == t.moderated else (ev.get("moderation") or {}).get("source")
                if r.topic != want_topic or frm != d.from_status or ev.get("comment_id") != d.comment_id:
                    wrong += 1
                    problems.append(f"{d.decision_id}: event on {r.topic} from {frm}, want {want_topic} from {d.from_status}")
                if (src or {}).get("offset") != d.offset or (src or {}).get("partition") != d.partition:
                    wrong += 1
                    problems.append(f"{d.decision_id}: event source {src}, sent @{coords}")
        elif d.expect.startswith("rejected:"):
            lets = letters.get(coords, [])
            if not lets:
                lost += 1
                problems.append(f"lost rejected decision {d.decision_id} @{coords}: no dead letter")
            elif len(lets) > 1:
                dup_events += len(lets) - 1
            for r in lets:
                code = (r.event.get("reason") or {}).get("code")
                if "rejected:" + str(code) != d.expect:
                    wrong += 1
                    problems.append(f"{d.decision_id} @{coords}: rejected with {code}, want {d.expect}")
            if recs_of:
                wrong += 1
                problems.append(f"a rejected decision was recorded: {d.decision_id}")
            if evs:
                twice += 1
                problems.append(f"a rejected decision was applied: {d.decision_id}")
        elif d.expect == "noop":
            if by_decision.get(d.decision_id):
                twice += 1
                problems.append(f"a no-op produced an event: {d.decision_id}")
            if not recs_of:
                lost += 1
                problems.append(f"lost no-op {d.decision_id}: not recorded")
        else:  # a duplicate: nothing of its own
            if letters.get(coords):
                dup_events += len(letters[coords])
                problems.append(f"duplicate {d.decision_id} @{coords} produced a dead letter")
        if len(recs_of) > 1:
            twice += 1
        if d.expect in ("applied", "noop") and recs_of:
            rec = recs_of[0]
            if (rec[0], rec[1], rec[2]) != (d.expect, d.from_status, d.to_status) or \
                    (rec[3], rec[4], rec[5]) != (t.decided, d.partition, d.offset):
                twice += d.expect == "applied" and (rec[4], rec[5]) != (d.partition, d.offset)
                wrong += 1
                problems.append(f"{d.decision_id}: record {rec}, want {d.expect} {d.from_status}->{d.to_status} "
                                f"from @{coords}")
    final_wrong = 0
    for cid, want in bot.final.items():
        if status.get(cid) != want:
            final_wrong += 1
            problems.append(f"comment {cid}: status {status.get(cid)}, its decisions end in {want}")
    repeated = sum(n - 1 for n in event_ids.values() if n > 1)
    return {"decisions_sent": len(bot.sent), "decisions_mix": dict(counts), "decision_events_expected": want_events,
            "decision_events_seen": seen_events, "decisions_lost": lost, "decisions_applied_twice": twice,
            "decision_duplicate_events": dup_events + repeated, "decisions_wrong": wrong,
            "comments_with_wrong_final_status": final_wrong, "decision_problems": problems[:40],
            "decision_problem_count": len(problems)}


def failures(res: dict) -> list[str]:
    out = []
    for k in ("decisions_lost", "decisions_applied_twice", "decision_duplicate_events", "decisions_wrong",
              "comments_with_wrong_final_status"):
        if res[k]:
            out.append(f"{k} = {res[k]}")
    if res["decision_events_seen"] != res["decision_events_expected"]:
        out.append(f"decision events {res['decision_events_seen']} != expected {res['decision_events_expected']}")
    if res["decision_problem_count"] and not out:
        out.append(f"{res['decision_problem_count']} decision problems")
    return out
