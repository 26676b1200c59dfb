"""What row isolation costs: the same batch of N comments stored as usual, and with one row that
PostgreSQL refuses (an operator's check constraint, scoped to the run's article), so that it is
stored again one row at a time. Each run puts N comments on a fresh one-partition topic before the
service starts, so that its first batch holds all of them, and reads the service's debug line
"batch committed" for that batch. Prints the store step (rules + insert + read-back, in ms) of
each run and the medians.

    make bench-isolation                  # the release build, N = 1000, 5 runs of each
    BENCH_ISOLATION_RUNS=9 make bench-isolation

Needs the services of `make up`. Timings on a shared 2-core machine move from run to run; compare
the medians of one invocation."""

import os
import re
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "integration"))

import harness  # noqa: E402
import psycopg  # noqa: E402


def one_run(refuse: bool, n: int, binary: Path) -> float:
    boot = harness.bootstrap_servers()
    ts = harness.create_topics(boot, partitions=1)
    article = f"isolation-cost-{ts.suffix}"
    constraint = f"isolation_cost_{ts.suffix}"
    conn = psycopg.connect(harness.database_url(), autocommit=True)
    conn.execute(f"ALTER TABLE comments ADD CONSTRAINT {constraint} "
                 f"CHECK (article_id <> '{article}' OR body NOT LIKE '%REFUSE-ME%') NOT VALID")
    try:
        events = [harness.comment_event(f"{article}-{i}", "Cost C",
                                        f"Comment {i} of the isolation cost run, long enough to pass every rule."
                                        + (" REFUSE-ME" if refuse and i == n // 2 else ""), article)
                  for i in range(n)]
        harness.Producer(boot).produce(ts.submitted, events)
        svc = harness.Service("isolation-cost", ts, binary=binary,
                              extra_env={"LOG_LEVEL": "debug", "BATCH_MAX_MESSAGES": str(n),
                                         "BATCH_MAX_WAIT_MS": "5000"})
        svc.start()
        line = svc.wait_log(lambda ln: ln.get("msg") == "batch committed" and ln.get("messages") == str(n),
                            timeout=120)
        svc.stop()
        if line is None:
            raise RuntimeError(f"no batch of {n} committed:\n{svc.log_tail()}")
        return float(re.search(r"rules\+store=([0-9.]+)", line["ms"]).group(1))
    finally:
        conn.execute(f"ALTER TABLE comments DROP CONSTRAINT IF EXISTS {constraint}")
        conn.close()
        harness.delete_topics(boot, ts)


def main() -> None:
    n = int(os.environ.get("BENCH_ISOLATION_N", "1000"))
    runs = int(os.environ.get("BENCH_ISOLATION_RUNS", "5"))
    binary = Path(os.environ.get("COMMENT_INGEST_BIN") or REPO / "build" / "comment-ingest")
    plain, isolated = [], []
    for i in range(runs):
        plain.append(one_run(False, n, binary))
        isolated.append(one_run(True, n, binary))
        print(f"run {i + 1}: store step {plain[-1]:.1f} ms as usual, {isolated[-1]:.1f} ms with one refused row")
    a, b = statistics.median(plain), statistics.median(isolated)
    print(f"batch of {n}, {runs} runs each: median store step {a:.1f} ms as usual, {b:.1f} ms with row isolation "
          f"(+{b - a:.1f} ms, x{b / a:.2f})")


if __name__ == "__main__":
    main()
