"""
Turn trial's summary into the closing line CI reads: "trial: N passed, N failed, N skipped".

Exit non-zero when trial failed, when its summary is missing, when no test ran, or when a test
skipped because a tool or data file it needs was missing (tshark, openssl, the seed document,
audioop, a live capture): CI installs those, so such a skip means a check silently did not run.
(.ci/run also sets SRST_REQUIRE_TOOLS=1, which makes those tests fail instead of skipping; this
is the second line of defence, for a skip that does not go through tests/toolhelpers.py.)
"""

import re
import sys

REQUIRED = re.compile(r"tshark|openssl|seed document|audioop|could not capture|not installed", re.I)
"""A skip reason naming a tool or data file CI must have."""


def skippedTests(text: str) -> list[tuple[str, list[str]]]:
    """
    The skips trial's text reporter lists: each reason with the tests it names.
    """
    found = []
    for block in re.split(r"^={20,}$", text, flags=re.M):
        lines = block.strip("\n").splitlines()
        if not lines or lines[0] != "[SKIPPED]":
            continue
        try:
            blank = lines.index("", 1)
        except ValueError:
            continue
        reason = " ".join(lines[1:blank]).strip()
        tests = [line.strip() for line in lines[blank + 1:] if line.strip() and not line.startswith("-" * 20)]
        tests = [t for t in tests if re.fullmatch(r"[\w.]+", t)]
        found.append((reason, tests))
    return found


def main(logPath: str, status: str) -> int:
    with open(logPath, encoding="utf-8", errors="replace") as f:
        text = f.read()
    ran = re.findall(r"^Ran (\d+) tests? in", text, re.M)
    verdict = re.findall(r"^(PASSED|FAILED) \(([^)]*)\)", text, re.M)
    if not ran or not verdict:
        print("trial: 0 passed, 1 failed, 0 skipped")
        print("ci: no trial summary found", file=sys.stderr)
        return 1
    counts = dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", verdict[-1][1]))
    passed = counts.get("successes", 0) + counts.get("expectedFailures", 0)
    failed = counts.get("failures", 0) + counts.get("errors", 0) + counts.get("unexpectedSuccesses", 0)
    skipped = counts.get("skips", 0)
    total = int(ran[-1])
    if verdict[-1][0] == "FAILED" and failed == 0:
        failed = 1
    missing = [(reason, tests) for reason, tests in skippedTests(text) if REQUIRED.search(reason)]
    print(f"trial: {passed} passed, {failed} failed, {skipped} skipped")
    for reason, tests in missing:
        print(f"ci: a required check did not run ({reason}): {', '.join(tests) or '?'}", file=sys.stderr)
    if total == 0 or failed or verdict[-1][0] != "PASSED" or status != "0" or missing:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "0"))
