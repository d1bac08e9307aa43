"""Interleaved transactions from several sessions: the destination only ever
shows states the source had (atomic transactions, commit order kept), and ends
equal to the source.

Each transfer moves money between two accounts, logs itself, and takes the
next number of a commit counter as its last statement, so counter order is
commit order.  On the destination, at every sample:
  * the sum of balances is the initial sum (atomicity);
  * every balance equals initial + incoming - outgoing of the visible log rows
    (no transaction half applied);
  * the visible commit numbers are exactly 1..max with no gap and max equals
    the counter (commit order: no later transaction before an earlier one).
"""

import random
import threading
import time

import psycopg

from compare_rows import assert_tables_equal
from processes import run_on_both, wait_caught_up

ACCOUNTS = 50
INITIAL = 1000
WORKERS = 4
TRANSACTIONS_PER_WORKER = 500

SCHEMA = """
CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL);
CREATE TABLE transfer_log (id bigserial PRIMARY KEY, commit_no bigint NOT NULL, src int NOT NULL,
                           dst int NOT NULL, amount bigint NOT NULL, note text);
CREATE TABLE commit_counter (id int PRIMARY KEY, n bigint NOT NULL);
"""

SAMPLE = f"""
SELECT (SELECT count(*) FROM accounts),
       (SELECT coalesce(sum(balance), 0) FROM accounts),
       (SELECT count(*) FROM accounts a
          LEFT JOIN (SELECT acct, sum(delta) AS d
                       FROM (SELECT src AS acct, -amount AS delta FROM transfer_log
                             UNION ALL SELECT dst, amount FROM transfer_log) x
                      GROUP BY acct) l ON l.acct = a.id
         WHERE a.balance <> {INITIAL} + coalesce(l.d, 0)),
       (SELECT count(DISTINCT commit_no) FROM transfer_log),
       (SELECT coalesce(max(commit_no), 0) FROM transfer_log),
       (SELECT n FROM commit_counter WHERE id = 1)
"""


def _worker(conninfo, seed, errors):
    rnd = random.Random(seed)
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            for i in range(TRANSACTIONS_PER_WORKER):
                kind = rnd.random()
                conn.execute("BEGIN")
                transfers = [(*rnd.sample(range(1, ACCOUNTS + 1), 2), rnd.randint(1, 50))
                             for _ in range(1 if kind < 0.6 else rnd.randint(2, 4))]
                # Lock every account involved in id order first: no deadlocks.
                conn.execute("SELECT id FROM accounts WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
                             [sorted({x for a, b, _ in transfers for x in (a, b)})])
                log_ids = []
                for t, (a, b, amount) in enumerate(transfers):
                    conn.execute("UPDATE accounts SET balance = balance - %s WHERE id = %s", [amount, a])
                    conn.execute("UPDATE accounts SET balance = balance + %s WHERE id = %s", [amount, b])
                    if t == 0 and len(transfers) > 1:
                        # a subtransaction whose transfer is rolled back
                        conn.execute("SAVEPOINT sp")
                        conn.execute("UPDATE accounts SET balance = balance + 1000000 WHERE id = %s", [a])
                        conn.execute("ROLLBACK TO SAVEPOINT sp")
                    log_ids.append(conn.execute(
                        "INSERT INTO transfer_log (commit_no, src, dst, amount, note) "
                        "VALUES (0, %s, %s, %s, %s) RETURNING id",
                        [a, b, amount, f"worker {seed} transaction {i}"]).fetchone()[0])
                if kind > 0.95:
                    conn.execute("ROLLBACK")
                    continue
                # Last: the commit number (the row lock orders commits).
                n = conn.execute("UPDATE commit_counter SET n = n + 1 WHERE id = 1 RETURNING n").fetchone()[0]
                conn.execute("UPDATE transfer_log SET commit_no = %s WHERE id = ANY(%s)", [n, log_ids])
                conn.execute("COMMIT")
                if rnd.random() < 0.3:
                    time.sleep(rnd.random() * 0.005)
    except Exception as e:  # reported by the test
        errors.append(f"worker {seed}: {e!r}")


def _sampler(dest, stop, samples, violations):
    try:
        _sample_until(dest, stop, samples, violations)
    except Exception as e:
        violations.append(f"sampler failed after {len(samples)} samples: {e!r}")


def _sample_until(dest, stop, samples, violations):
    with dest.connect() as conn:
        while not stop.is_set():
            row = conn.execute(SAMPLE).fetchone()
            samples.append(row)
            count, total, bad_accounts, distinct_commits, max_commit, counter = row
            problems = []
            if count != ACCOUNTS:
                problems.append(f"{count} accounts")
            if total != ACCOUNTS * INITIAL:
                problems.append(f"sum of balances {total}")
            if bad_accounts:
                problems.append(f"{bad_accounts} balances disagree with the visible log")
            if distinct_commits != max_commit:
                problems.append(f"commit numbers not 1..{max_commit} ({distinct_commits} distinct)")
            if counter != max_commit:
                problems.append(f"counter {counter} but log's last commit {max_commit}")
            if problems:
                violations.append(f"sample {len(samples)}: {row}: {'; '.join(problems)}")
            time.sleep(0.01)


def test_interleaved_transfers_keep_invariants_and_commit_order_on_destination(source, dest, pgdts,
                                                                              record_property):
    run_on_both(source, dest, SCHEMA)
    app = pgdts.sync(source, dest)
    source.sql(f"INSERT INTO accounts SELECT i, {INITIAL} FROM generate_series(1, {ACCOUNTS}) i;"
               "INSERT INTO commit_counter VALUES (1, 0)")
    wait_caught_up(source, dest, app)

    stop = threading.Event()
    samples, violations, errors = [], [], []
    sampler = threading.Thread(target=_sampler, args=(dest, stop, samples, violations))
    sampler.start()
    try:
        workers = [threading.Thread(target=_worker, args=(source.conninfo(), seed, errors))
                   for seed in range(WORKERS)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        wait_caught_up(source, dest, app)
    finally:
        stop.set()
        sampler.join()
    app.stop()

    record_property("destination_samples", len(samples))
    assert not errors, "workers failed: " + "; ".join(errors)
    committed = source.one("SELECT n FROM commit_counter")
    assert committed > WORKERS * TRANSACTIONS_PER_WORKER * 0.8
    assert samples, "the sampler took no sample of the destination"
    assert not violations, (f"{len(violations)} of {len(samples)} destination samples broke an "
                            "invariant; first ones:\n" + "\n".join(violations[:10]))
    assert_tables_equal(source, dest, ["accounts", "transfer_log", "commit_counter"])
