"""`make bench-lookup`: “Have we seen this?” — 1,000,000 log lines against 1,000,000 indicators.

Generates (deterministically, from a fixed seed) a million indicators of every kind, mostly IP
addresses, domains, hashes and URLs, and a million lines of proxy, firewall, DNS, mail and endpoint
logs in which a few hundred lines are planted to mention an indicator (exactly, as a subdomain, in a
CIDR range, a URL with another query, a subject inside a longer one...). The background values come
from spaces the indicators never use, so the expected answer is known: exactly the planted lines.

Times the engine in-process: building the matcher from the indicator tuples, then scanning the log
text, separately and in total (best of --repeat runs), and checks the answer. With --db it also
times loading a million indicator rows from a SQLite database made for the run (the page and API
load the person's visible indicators so, then build).

Last line: one JSON object with the headline figures and "pass" (total under the target and the
exact planted count found).
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import random
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from commonguard.sharing import lookup

TARGET_S = 5.0
KINDS_SHARE = [  # kind, share of the indicators
    (lookup.IPV4, 0.31),
    (lookup.DOMAIN, 0.25),
    (lookup.SHA256, 0.12),
    (lookup.MD5, 0.05),
    (lookup.SHA1, 0.03),
    (lookup.URL, 0.16),
    (lookup.EMAIL, 0.03),
    (lookup.CIDR, 0.01),
    (lookup.IPV6, 0.02),
    (lookup.FILENAME, 0.01),
    (lookup.EMAIL_SUBJECT, 0.005),
    (lookup.CVE, 0.005),
]
TLDS = ["xyz", "top", "ru", "info", "biz", "online", "site", "club"]
WORDS = [
    "invoice",
    "payment",
    "urgent",
    "account",
    "verify",
    "password",
    "reset",
    "delivery",
    "notice",
    "tax",
    "refund",
    "wire",
]


def _label(rng: random.Random, n: int) -> str:
    return "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=n))


def _indicator_ip(rng: random.Random) -> str:
    # Indicator IPv4 addresses: first octet 11–99; background traffic uses 10/8, 150–223 (see below).
    return f"{rng.randint(11, 99)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}"


def make_indicators(count: int, rng: random.Random) -> list[tuple[int, str, str, int]]:
    out: list[tuple[int, str, str, int]] = []
    ident = 0
    for kind, share in KINDS_SHARE:
        for _ in range(int(count * share)):
            ident += 1
            if kind == lookup.IPV4:
                value = _indicator_ip(rng)
            elif kind == lookup.DOMAIN:
                value = f"{_label(rng, rng.randint(6, 14))}.{rng.choice(TLDS)}"
            elif kind == lookup.SHA256:
                value = f"{rng.getrandbits(256):064x}"
            elif kind == lookup.MD5:
                value = f"{rng.getrandbits(128):032x}"
            elif kind == lookup.SHA1:
                value = f"{rng.getrandbits(160):040x}"
            elif kind == lookup.URL:
                value = f"http://{_label(rng, 10)}.{rng.choice(TLDS)}/{_label(rng, 6)}/{_label(rng, 8)}.php"
            elif kind == lookup.EMAIL:
                value = f"{_label(rng, 8)}@{_label(rng, 9)}.{rng.choice(TLDS)}"
            elif kind == lookup.CIDR:
                value = f"{rng.randint(100, 120)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.0/{rng.choice([24, 28])}"
            elif kind == lookup.IPV6:
                value = f"2001:db8:{rng.getrandbits(16):x}:{rng.getrandbits(16):x}::{rng.getrandbits(16):x}"
            elif kind == lookup.FILENAME:
                value = f"{_label(rng, 10)}.exe" if rng.random() < 0.7 else f"Scan {_label(rng, 6)} (copy).pdf.js"
            elif kind == lookup.EMAIL_SUBJECT:
                value = f"{rng.choice(WORDS).title()} {rng.choice(WORDS)} ref {_label(rng, 8)}"
            else:
                value = f"CVE-20{rng.randint(10, 25)}-{rng.randint(10000, 99999)}"
            out.append((ident, kind, value, ident // 50 + 1))  # 50 indicators an alert
    rng.shuffle(out)
    return out


class LogMaker:
    """Background lines whose values no indicator uses; `planted` lines that mention one."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.hosts = [
            f"{rng.choice(['www', 'cdn', 'api', 'img', 'static', 'login'])}{i}.{_label(rng, 7)}.example.net"
            for i in range(20_000)
        ]
        self.cum_weights = list(itertools.accumulate(1 / (i + 1) for i in range(len(self.hosts))))  # Zipf-like
        self.ext_ips = [
            f"{rng.randint(150, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
            for _ in range(50_000)
        ]
        self.files = [f"{w}{i}.{e}" for i, w in enumerate(WORDS * 40) for e in ("pdf", "docx")]
        self.hashes = [f"{rng.getrandbits(256):064x}" for _ in range(20_000)]
        self.t0 = 1_714_564_800  # 2024-05-01T12:00:00Z

    def _client(self, i: int) -> str:
        return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255 or 1}"

    def _iso(self, i: int) -> str:
        t = self.t0 + i // 300
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))

    def line(self, i: int, *, host: str = "", ip: str = "", url: str = "", mail: str = "", subject: str = "",
             file: str = "", sha: str = "", extra: str = "", kind: int | None = None) -> str:  # fmt: off
        rng = self.rng
        kind = rng.randrange(6) if kind is None else kind
        host = host or rng.choices(self.hosts, cum_weights=self.cum_weights)[0]
        dst = ip or rng.choice(self.ext_ips)
        if kind == 0:
            target = url or f"http://{host}/{rng.choice(WORDS)}/{rng.choice(self.files)}?id={rng.randrange(10**6)}"
            return (
                f"{self.t0 + i // 300}.{i % 1000:03d} {rng.randint(5, 9000):>6} {self._client(i)} TCP_MISS/200 "
                f"{rng.randint(300, 90000)} GET {target} - HIER_DIRECT/{dst} text/html{extra}"
            )
        if kind == 1:
            return (
                f"{self.t0 + i // 300}.{i % 1000:03d} {rng.randint(5, 9000):>6} {self._client(i)} TCP_TUNNEL/200 "
                f"{rng.randint(300, 90000)} CONNECT {host}:443 - HIER_DIRECT/{dst} -{extra}"
            )
        if kind == 2:
            return (
                f"{self._iso(i)} fw01 kernel: ACCEPT IN=eth0 OUT=eth1 SRC={self._client(i)} DST={dst} PROTO=TCP "
                f"SPT={rng.randint(1024, 65535)} DPT={rng.choice([80, 443, 22, 25, 3389])} LEN={rng.randint(40, 1500)}"
                f"{extra}"
            )
        if kind == 3:
            return (
                f"{self._iso(i)} dns01 named[812]: client @0x7f3a {self._client(i)}#{rng.randint(1024, 65535)} "
                f"({host}): query: {host} IN A +E(0) (10.0.0.53){extra}"
            )
        if kind == 4:
            sender = mail or f"news{rng.randrange(500)}@{host}"
            subj = subject or f"{rng.choice(WORDS).title()} update {rng.randrange(100)}"
            return (
                f"{self._iso(i)} mx01 postfix/cleanup[4242]: {rng.getrandbits(40):010X}: from=<{sender}> "
                f'to=<user{rng.randrange(900)}@county.gov> subject="{subj}" size={rng.randint(900, 90000)}{extra}'
            )
        return (
            f"{self._iso(i)} edr01 proc=C:\\Users\\u{rng.randrange(900)}\\AppData\\Local\\Temp\\"
            f"{file or rng.choice(self.files)} sha256={sha or rng.choice(self.hashes)} parent=explorer.exe "
            f"host=WS-{rng.randrange(5000)}{extra}"
        )

    def planted(self, i: int, ind: tuple[int, str, str, int]) -> str:
        """A line that mentions indicator `ind` the way logs do."""
        rng, (_, kind, value, _) = self.rng, ind
        if kind == lookup.IPV4:
            return self.line(i, ip=value, kind=rng.choice([0, 1, 2]))
        if kind == lookup.DOMAIN:  # the domain itself, or a subdomain (DNS, CONNECT)
            return self.line(i, host=rng.choice([value, f"mail.{value}", f"a.b.{value}"]), kind=rng.choice([1, 3]))
        if kind in (lookup.SHA256, lookup.MD5, lookup.SHA1):
            return self.line(i, sha=value.upper() if rng.random() < 0.3 else value, kind=5)
        if kind == lookup.URL:  # as written, or with a query string added
            return self.line(i, url=value + rng.choice(["", f"?session={rng.randrange(10**6)}"]), kind=0)
        if kind == lookup.EMAIL:
            return self.line(i, mail=value, kind=4)
        if kind == lookup.CIDR:
            base = value.split("/")[0].rsplit(".", 1)[0]
            return self.line(i, ip=f"{base}.{rng.randint(1, 15)}", kind=2)
        if kind == lookup.IPV6:
            return self.line(i, extra=f" SRC6=[{value}]:443", kind=2)
        if kind == lookup.FILENAME:
            return self.line(i, file=value, kind=5)
        if kind == lookup.EMAIL_SUBJECT:
            return self.line(i, subject=f"RE: {value.upper()}", kind=4)
        return self.line(i, extra=f" vuln={value}", kind=2)


def make_log(
    lines: int, plant: int, indicators: list[tuple[int, str, str, int]], rng: random.Random
) -> tuple[str, set[int]]:
    """The log text and the (1-based) numbers of its planted lines."""
    maker = LogMaker(rng)
    by_kind: dict[str, list[tuple[int, str, str, int]]] = {}
    for ind in indicators:
        by_kind.setdefault(ind[1], []).append(ind)
    kinds = sorted(by_kind)
    where = set(rng.sample(range(lines), plant))
    out = []
    for i in range(lines):
        if i in where:
            kind = kinds[len(out) % len(kinds)] if rng.random() < 0.5 else rng.choice(kinds)
            out.append(maker.planted(i, rng.choice(by_kind[kind])))
        else:
            out.append(maker.line(i))
    return "\n".join(out) + "\n", {i + 1 for i in where}


def load_from_db(indicators: list[tuple[int, str, str, int]], path: Path) -> float:
    """Seconds to read the indicator rows back from SQLite (an indexed table shaped like sharing_indicator)."""
    import sqlite3

    path.unlink(missing_ok=True)
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE indicator (id INTEGER PRIMARY KEY, alert_id INTEGER, kind TEXT, value TEXT)")
    db.executemany("INSERT INTO indicator VALUES (?, ?, ?, ?)", [(i, a, k, v) for i, k, v, a in indicators])
    db.execute("CREATE INDEX indicator_alert ON indicator(alert_id)")
    db.commit()
    db.close()
    db = sqlite3.connect(path)
    started = time.perf_counter()
    rows = db.execute("SELECT id, kind, value, alert_id FROM indicator").fetchall()
    elapsed = time.perf_counter() - started
    assert len(rows) == len(indicators)
    db.close()
    path.unlink(missing_ok=True)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--indicators", type=int, default=1_000_000)
    parser.add_argument("--plant", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20240501)
    parser.add_argument("--db", action="store_true", help="also time loading the rows from SQLite")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    started = time.perf_counter()
    indicators = make_indicators(args.indicators, rng)
    text, planted = make_log(args.lines, args.plant, indicators, rng)
    data = text.encode()  # an upload arrives as bytes
    print(
        f"generated {len(indicators):,} indicators and {args.lines:,} log lines "
        f"({len(text.encode()) / 1e6:.1f} MB, {args.plant} planted) in {time.perf_counter() - started:.1f} s"
    )

    builds, scans, totals, cpus = [], [], [], []
    result = None
    for run in range(args.repeat):
        gc.collect()
        c0, t0 = time.process_time(), time.perf_counter()
        matcher = lookup.Matcher(indicators)
        t1 = time.perf_counter()
        result = matcher.scan(data, keep=1000)
        t2 = time.perf_counter()
        cpus.append(time.process_time() - c0)
        builds.append(t1 - t0)
        scans.append(t2 - t1)
        totals.append(t2 - t0)
        print(f"run {run + 1}: build {t1 - t0:.2f} s, scan {t2 - t1:.2f} s, total {t2 - t0:.2f} s, "
              f"(CPU {cpus[-1]:.2f} s), {result.lines_matched} lines matched")  # fmt: off
        del matcher
    assert result is not None
    found = {m.line_no for m in result.matches}
    db_s = None
    if args.db:
        db_s = load_from_db(indicators, Path("var/bench/lookup.sqlite3"))
        print(f"loading {len(indicators):,} indicator rows from SQLite: {db_s:.2f} s")
    best = min(range(len(totals)), key=totals.__getitem__)
    ok = result.lines_matched == len(planted) and found == planted
    headline = {
        "log_lines": result.lines_scanned,
        "log_mb": round(len(text.encode()) / 1e6, 1),
        "indicators": len(indicators),
        "build_s": round(builds[best], 3),
        "scan_s": round(scans[best], 3),
        "total_s": round(totals[best], 3),
        "total_s_worst": round(max(totals), 3),
        "total_cpu_s": round(cpus[best], 3),
        "matches": result.lines_matched,
        "planted": args.plant,
        "db_load_s": round(db_s, 3) if db_s is not None else None,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "cpus": os.cpu_count(),
        "target_s": TARGET_S,
        "pass": ok and totals[best] < TARGET_S,
    }
    if not ok:
        print(f"!! expected exactly the {len(planted)} planted lines, found {result.lines_matched}:")
        print(f"   missed {sorted(planted - found)[:20]}, unexpected {sorted(found - planted)[:20]}")
        lines = text.split("\n")
        for n in sorted(planted ^ found)[:10]:
            print(f"   line {n}: {lines[n - 1][:200]}")
    print(json.dumps(headline))


if __name__ == "__main__":
    main()
