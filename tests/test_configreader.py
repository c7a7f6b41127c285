"""
Tests for L{srst.configreader}: what router.yaml may not hold (an empty
document, duplicate keys, deep nesting, an alias bomb) and error messages
that stay short whatever the value.
"""

import textwrap

from twisted.trial.unittest import SynchronousTestCase

from srst.configreader import (
    MAX_DEPTH,
    MAX_EXPANDED_VALUES,
    REPR_LIMIT,
    ConfigError,
    ConfigProblem,
    Reader,
    boundedRepr,
    parseDocument,
)


def aliasBomb(levels=9):
    """
    The "billion laughs" document: each level holds nine aliases of the one
    before, so the last expands to 9**levels values.
    """
    lines = ["hostname: bomb", "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def problemLines(test, text):
    """
    Parse C{text}, which must be refused, and return the error's lines.
    """
    error = test.assertRaises(ConfigError, parseDocument, text, "router.yaml")
    return str(error).splitlines()


class BoundedReprTests(SynchronousTestCase):
    """
    L{boundedRepr} is C{repr} for everyday values and stays short for huge
    ones without building them.
    """

    def test_smallValuesAsRepr(self):
        """
        Values shorter than the limit render exactly as C{repr} (so existing
        error messages keep their text).
        """
        for value in [1, "2002", None, True, 2.5, [], {}, [[[]]], {"a": [1, 2, {"b": None}]},
                      {"mac": "1000.1111.0002", "buttons": [{"line": 1, "dn": "2002"}]}]:
            self.assertEqual(boundedRepr(value), repr(value))

    def test_longStringCut(self):
        """
        A long string is cut at the limit and marked with C{...}.
        """
        rendered = boundedRepr("x" * 10_000)
        self.assertEqual(rendered, ("'" + "x" * 10_000)[:REPR_LIMIT] + "...")

    def test_aliasBombValue(self):
        """
        The value of an alias bomb (a billion strings once expanded, a few
        hundred objects in memory) renders as its first characters.
        """
        value = ["lol"] * 9
        for _ in range(8):
            value = [value] * 9
        rendered = boundedRepr(value)
        self.assertEqual(len(rendered), REPR_LIMIT + 3)
        self.assertTrue(rendered.startswith("[[[[[[[[['lol', 'lol'"), rendered)
        self.assertTrue(rendered.endswith("..."), rendered)

    def test_selfReference(self):
        """
        A value that contains itself renders within the limit.
        """
        value = {}
        value["x"] = value
        self.assertEqual(len(boundedRepr(value)), REPR_LIMIT + 3)

    def test_problemUsesBoundedRepr(self):
        """
        A L{ConfigProblem} about a huge value is one short line.
        """
        problem = ConfigProblem("a", ["x" * 1000] * 1000, "unknown key")
        text = str(problem)
        self.assertLess(len(text), REPR_LIMIT + 50)
        self.assertTrue(text.startswith("a: ['xxx"), text)
        self.assertTrue(text.endswith("... is not allowed; unknown key"), text)

    def test_reasonOnly(self):
        """
        L{ConfigProblem.because} renders the path and the reason, no value.
        """
        self.assertEqual(str(ConfigProblem.because("admin.socket", "another server is listening on it")),
                         "admin.socket: another server is listening on it")


class ParseDocumentTests(SynchronousTestCase):
    """
    L{parseDocument}.
    """

    def test_mapping(self):
        """
        A document is parsed into plain values; aliases and merge keys work.
        """
        text = textwrap.dedent("""\
            base: &base {type: "7970", line: 1}
            ephones:
              - {<<: *base, mac: 1000.1111.0002}
              - *base
            """)
        data = parseDocument(text, "router.yaml")
        self.assertEqual(data["ephones"], [{"type": "7970", "line": 1, "mac": "1000.1111.0002"},
                                           {"type": "7970", "line": 1}])

    def test_emptyDocuments(self):
        """
        Nothing, only comments, or C{null}: a router with no configuration is
        refused, not started with nothing.
        """
        for text in ["", "\n\n", "# hostname: branch-router\n", "null\n", "---\n...\n"]:
            self.assertEqual(problemLines(self, text), [
                "router.yaml: <document>: empty (nothing but comments or null);"
                " expected a mapping of keys to values"], text)

    def test_duplicateKey(self):
        """
        A key given twice in one mapping is refused, naming the YAML path and
        both lines; the same key in different mappings is fine.
        """
        text = textwrap.dedent("""\
            hostname: branch-router
            call-manager-fallback:
              ip-source-address: 127.0.0.1
              max-ephones: 15
              max-dn: 30
              ephones:
                - {mac: 1000.1111.0002, mac: 1000.1111.0003}
                - {mac: 1000.1111.0004}
              max-ephones: 20
            hostname: other
            """)
        self.assertEqual(problemLines(self, text), [
            "router.yaml: hostname: duplicate key at line 10 (first at line 1)",
            "router.yaml: call-manager-fallback.max-ephones: duplicate key at line 9 (first at line 4)",
            "router.yaml: call-manager-fallback.ephones[0].mac: duplicate key at line 7 column 29"
            " (first at column 8)",
        ])

    def test_duplicateKeyAfterResolving(self):
        """
        Keys that are the same value once read are duplicates even if
        written differently (C{1} and C{0x1}).
        """
        text = "access-lists:\n  1: []\n  0x1: []\n"
        self.assertEqual(problemLines(self, text), [
            "router.yaml: access-lists.1: duplicate key at line 3 (first at line 2)"])

    def test_mergeKeyOverrideIsNoDuplicate(self):
        """
        A key that overrides one brought in by a merge key (C{<<}) is not a
        duplicate.
        """
        data = parseDocument("x: &x {a: 1, b: 2}\ny: {<<: *x, a: 3}\n", "router.yaml")
        self.assertEqual(data["y"], {"a": 3, "b": 2})

    def test_tooDeep(self):
        """
        Nesting deeper than L{MAX_DEPTH} (here far past Python's recursion
        limit) is refused with the line and column, without a
        L{RecursionError}.
        """
        text = "hostname: x\ndeep: " + "[" * 5000 + "]" * 5000 + "\n"
        self.assertEqual(problemLines(self, text), [
            f"router.yaml: <yaml>: nested deeper than {MAX_DEPTH} levels at line 2 column {6 + MAX_DEPTH}"])

    def test_deepEnough(self):
        """
        Nesting of exactly L{MAX_DEPTH} levels is accepted.
        """
        text = "a: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
        data = parseDocument(text, "router.yaml")["a"]
        for _ in range(MAX_DEPTH - 2):
            [data] = data
        self.assertEqual(data, [])

    def test_aliasBomb(self):
        """
        A billion-laughs document is refused before it is built or walked,
        naming where the expansion passes L{MAX_EXPANDED_VALUES}.
        """
        self.assertEqual(problemLines(self, aliasBomb()), [
            f"router.yaml: <yaml>: aliases expand to more than {MAX_EXPANDED_VALUES} values"
            " (an alias bomb?) at line 8 column 5"])

    def test_aliasesBelowTheLimit(self):
        """
        Aliases that expand to fewer values than the limit are accepted.
        """
        data = parseDocument(aliasBomb(levels=5), "router.yaml")
        self.assertEqual(len(data["l4"]), 9)

    def test_recursiveAlias(self):
        """
        An alias to a node that contains it (an endless expansion) is refused.
        """
        self.assertEqual(problemLines(self, "hostname: x\nloop: &a [1, *a]\n"), [
            "router.yaml: <yaml>: an alias refers to a node that contains it at line 2 column 7"])

    def test_syntaxError(self):
        """
        A YAML syntax error keeps its message.
        """
        self.assertEqual(problemLines(self, "a: [\n"), [
            "router.yaml: <yaml>: 'line 2 column 1' is not allowed; YAML syntax error:"
            " expected the node content, but found '<stream end>'"])


class ReaderTests(SynchronousTestCase):
    """
    L{Reader} walks one mapping.
    """

    def test_optionalChild(self):
        """
        L{Reader.optionalChild} is L{None} for an absent key and a reader
        of the mapping for a present one; either way the key is named
        among the known keys of an unknown key's problem.
        """
        problems = []
        r = Reader({"colour": "red"}, "top", problems)
        self.assertIsNone(r.optionalChild("cfw"))
        r.finish()
        self.assertEqual([str(p) for p in problems],
                         ["top.colour: 'red' is not allowed; unknown key; known keys here: cfw"])
        problems = []
        r = Reader({"cfw": {"number": "2000"}}, "top", problems)
        child = r.optionalChild("cfw")
        self.assertEqual((child.path, child.string("number")), ("top.cfw", "2000"))
        child.finish()
        r.finish()
        self.assertEqual(problems, [])

    def test_stringAllowedWording(self):
        """
        L{Reader.string} with C{allowed} words its problems so; with
        C{numbers=False} a number is a problem shown as written (not turned
        into a string); choices match in any case.
        """
        problems = []
        r = Reader({"a": 5, "b": "Tone", "c": "", "d": True, "e": "5"}, "top", problems)
        values = [r.string(key, "srtp", choices=("srtp", "tone"), allowEmpty=True, allowed="expected srtp or tone",
                           numbers=False) for key in "abcde"]
        self.assertEqual(values, ["srtp", "tone", "srtp", "srtp", "srtp"])
        self.assertEqual([str(p) for p in problems], [
            "top.a: 5 is not allowed; expected srtp or tone",
            "top.c: '' is not allowed; expected srtp or tone",
            "top.d: True is not allowed; expected srtp or tone",
            "top.e: '5' is not allowed; expected srtp or tone"])
        problems[:] = []
        self.assertEqual(r.string("a", choices=("x",)), None)
        self.assertEqual([str(p) for p in problems], ["top.a: '5' is not allowed; expected one of: x"])

    def test_integerAllowedWording(self):
        """L{Reader.integer} with C{allowed} words its problems so, in and out of range."""
        problems = []
        r = Reader({"a": 65, "b": "x", "c": 64}, "top", problems)
        self.assertEqual([r.integer(key, 8, 0, 64, allowed="expected a number from 0 to 64") for key in "abc"],
                         [8, 8, 64])
        self.assertEqual([str(p) for p in problems], [
            "top.a: 65 is not allowed; expected a number from 0 to 64",
            "top.b: 'x' is not allowed; expected a number from 0 to 64"])

    def test_required(self):
        """
        L{Reader.required}: a missing key is a problem saying so; a value
        the converter refuses (L{None}) is one showing the value; the key
        is known either way.
        """
        problems = []
        r = Reader({"port": 7, "ok": 8}, "top", problems)
        even = lambda value: value if isinstance(value, int) and value % 2 == 0 else None  # noqa: E731
        self.assertEqual([r.required(key, even, "expected an even port") for key in ("address", "port", "ok")],
                         [None, None, 8])
        r.finish()
        self.assertEqual([str(p) for p in problems], [
            "top.address: missing; required; expected an even port",
            "top.port: 7 is not allowed; expected an even port"])
