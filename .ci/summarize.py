"""
Turn trial's summary into the closing line CI reads: "trial: N passed, N failed, N skipped".

Exit non-zero when trial failed, when its summary is missing, or when no test ran.
"""

import re
import sys


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
    print(f"trial: {passed} passed, {failed} failed, {skipped} skipped")
    if total == 0 or failed or verdict[-1][0] != "PASSED" or status != "0":
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "0"))
