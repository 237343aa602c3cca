"""The lessllm package against the real binary: capture in front of
``lessllm simulate``, calls made as the SDKs make them, then every public
function. Run with ``make python-test`` (part of ``make test``)."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import glob
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import unittest
import urllib.error

import lessllm
from helpers import (ANTHROPIC_KEY, OPENAI_KEY, PROXY_PASSWORD, REPO, InTempDir, chat, logged, messages,
                     parquet_footer, settings, simulator, stop_simulator)


def tearDownModule() -> None:
    stop_simulator()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) is gone for our purpose.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


class TestCallsThenQuery(InTempDir):
    def test_streamed_and_not_then_every_function(self) -> None:
        base = lessllm.get_proxy_url()
        self.assertRegex(base, r"^http://127\.0\.0\.1:\d+/v1$")
        root = base[: -len("/v1")]
        status, body = chat(base)
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["object"], "chat.completion")
        status, body = chat(base, stream=True)
        self.assertTrue(body.rstrip().endswith(b"data: [DONE]"), body[-80:])
        chat(base, model="claude", user="alice")  # translated to Anthropic
        chat(base, model="claude", stream=True, user="alice")
        messages(root)
        messages(root, stream=True)

        # query: right after the calls, every one is there, values typed.
        res = lessllm.query("SELECT request_id, model, stream, timestamp, actual_prompt_tokens, estimated_ttft_ms, "
                            "estimated_cost_usd, user_id FROM api_calls ORDER BY timestamp")
        self.assertEqual(len(res), 6)
        self.assertEqual(res.columns[:3], ("request_id", "model", "stream"))
        self.assertEqual(len(set(r["request_id"] for r in res)), 6)
        first = res[0]
        self.assertIsInstance(first["timestamp"], dt.datetime)
        self.assertEqual(first["timestamp"].utcoffset(), dt.timedelta(0))
        self.assertLess(abs((dt.datetime.now(dt.timezone.utc) - first["timestamp"]).total_seconds()), 120)
        self.assertIs(first["stream"], False)
        self.assertIsInstance(first["actual_prompt_tokens"], int)
        self.assertIsInstance(first["estimated_cost_usd"], float)
        self.assertEqual([r["stream"] for r in res], [False, True, False, True, False, True])
        streamed = [r for r in res if r["stream"]]
        for r in streamed:  # the simulator's 30 ms first token
            self.assertGreater(r["estimated_ttft_ms"], 25, r)
            self.assertLess(r["estimated_ttft_ms"], 120, r)
        self.assertEqual(sum(1 for r in res if r["user_id"] == "alice"), 2)
        self.assertIn("<table>", res._repr_html_())
        self.assertIn("(6 rows)", repr(res))

        # The users' SQL, verbatim.
        for path in sorted(glob.glob(os.path.join(REPO, "cmd/lessllm/testdata/user-queries/q*.sql"))):
            with open(path, encoding="utf-8") as f:
                sql = f.read()
            with self.subTest(query=os.path.basename(path)):
                out = lessllm.query(sql)
                self.assertGreater(len(out.columns), 1)
        usage = lessllm.query(textwrap.dedent("""\
            SELECT model, COUNT(*) as calls, SUM(estimated_cost_usd) as total_cost,
                AVG(estimated_cache_hit_rate) as avg_cache_hit_rate FROM api_calls WHERE timestamp >= '2024-01-01' GROUP BY model"""))
        self.assertEqual(sum(r["calls"] for r in usage), 6)

        # get_usage_stats: the numbers of lessllm stats, per model and a total.
        stats = lessllm.get_usage_stats(days=7)
        total = [r for r in stats if r["model"] == "TOTAL"]
        self.assertEqual(len(total), 1)
        self.assertEqual(total[0]["calls"], 6)
        self.assertEqual(sum(r["calls"] for r in stats if r["model"] != "TOTAL"), 6)
        self.assertAlmostEqual(total[0]["cost_usd"], sum(r["estimated_cost_usd"] or 0 for r in res), places=5)
        by_user = lessllm.get_usage_stats(days=0, by="user")
        self.assertIn("alice", [r["user"] for r in by_user])

        # export_logs: filters, read back.
        # "claude" is a family name: the alias and the dated snapshot the
        # Anthropic SDK calls named.
        n = lessllm.export_logs("claude.csv", start_date="2024-01-01", filters={"model": ["claude"]})
        self.assertEqual(n, 4)
        with open("claude.csv", newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        self.assertEqual(len(rows), 4)
        self.assertEqual({r["model"] for r in rows}, {"claude", "claude-3-5-haiku-20241022"})
        self.assertEqual(lessllm.export_logs("alice.csv", filters={"model": "claude", "user": ["alice"]}), 2)
        self.assertEqual(os.stat("claude.csv").st_mode & 0o777, 0o600)
        n = lessllm.export_logs("all.parquet", start_date=dt.date(2024, 1, 1), end_date=dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1))
        self.assertEqual(n, 6)
        num_rows, columns, kv = parquet_footer("all.parquet")
        self.assertEqual(num_rows, 6)
        self.assertIn("estimated_ttft_ms", columns)
        # The export carries the dataset's schema-version metadata.
        dataset = parquet_footer(sorted(glob.glob("parquet/api_calls/date=*/*.parquet"))[0])[2]
        self.assertEqual(kv["lessllm.schema_version"], dataset["lessllm.schema_version"])
        self.assertEqual(kv["lessllm.table"], "api_calls")
        self.assertEqual(lessllm.export_logs("alice.parquet", filters={"user": "alice"}), 2)
        self.assertEqual(parquet_footer("alice.parquet")[0], 2)
        self.assertEqual(lessllm.export_logs("none.parquet", start_date="2099-01-01"), 0)
        with self.assertRaisesRegex(ValueError, "unknown filter 'team'"):
            lessllm.export_logs("x.parquet", filters={"team": "a"})

        # Three more calls: the next query sees them at once.
        for _ in range(3):
            chat(base)
        self.assertEqual(lessllm.query("SELECT count(*) AS n FROM api_calls")[0]["n"], 9)

    def test_df(self) -> None:
        base = lessllm.get_proxy_url()
        chat(base)
        res = lessllm.query("SELECT model, timestamp, actual_prompt_tokens FROM api_calls")
        try:
            import pandas  # noqa: F401  (Debian's python3-pandas in CI)
        except ImportError:
            with self.assertRaisesRegex(ImportError, "needs pandas"):
                res.df()
            self.skipTest("pandas is not installed: only the ImportError hint is checked")
        frame = res.df()
        self.assertEqual(list(frame.columns), ["model", "timestamp", "actual_prompt_tokens"])
        self.assertEqual(len(frame), 1)
        self.assertEqual(frame["model"][0], "gpt-4o")
        self.assertEqual(str(frame["timestamp"].dt.tz), "UTC")

    def test_listen_on_every_interface_and_a_chdir(self) -> None:
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        lessllm.configure(settings(listen=f":{port}"))
        base = lessllm.get_proxy_url()
        self.assertEqual(base, f"http://127.0.0.1:{port}/v1")
        chat(base)
        os.mkdir("elsewhere")
        os.chdir("elsewhere")  # capture and queries still agree on ./captures
        self.assertEqual(lessllm.query("SELECT count(*) AS n FROM api_calls")[0]["n"], 1)
        os.chdir(self.dir)

    def test_no_modeled_ttft_no_source(self) -> None:
        base = lessllm.get_proxy_url()
        chat(base, model="gpt-4o-mini", user="lone")  # the model's only call is not streamed
        q = "SELECT ttft_source, estimated_ttft_ms, estimated_tpot_ms FROM api_calls WHERE user_id = 'lone'"
        self.assertEqual(lessllm.query(q)[0], {"ttft_source": None, "estimated_ttft_ms": None, "estimated_tpot_ms": None})
        chat(base, model="gpt-4o-mini", stream=True)  # a streamed call of it: the lone one is modeled from it
        row = lessllm.query(q)[0]
        self.assertEqual(row["ttft_source"], "modeled")
        self.assertGreater(row["estimated_ttft_ms"], 0)

    def test_query_before_any_call(self) -> None:
        self.assertEqual(len(lessllm.query("SELECT * FROM api_calls")), 0)
        stats = lessllm.get_usage_stats()
        self.assertEqual([r["calls"] for r in stats], [0])

    def test_context_manager(self) -> None:
        with lessllm.capture() as base:
            chat(base)
            pid = lessllm._running.pid  # type: ignore[union-attr]
        self.assertTrue(wait_gone(pid, 10))
        self.assertEqual(glob.glob("captures/*.open"), [])  # sealed on the way out
        self.assertEqual(lessllm.query("SELECT count(*) AS n FROM api_calls")[0]["n"], 1)


class TestTypes(InTempDir):
    def test_values_are_typed(self) -> None:
        r = lessllm.query("""SELECT 1::BIGINT AS i, 2.5::DOUBLE AS f, 'x' AS s, true AS b, NULL AS n,
            1.25::DECIMAL(10,2) AS d, TIMESTAMPTZ '2024-01-02 03:04:05.5+00' AS t, DATE '2024-01-02' AS day,
            'NaN'::DOUBLE AS nan, [1, 2] AS l""")[0]
        self.assertEqual((r["i"], r["f"], r["s"], r["b"], r["n"]), (1, 2.5, "x", True, None))
        self.assertEqual(r["d"], decimal.Decimal("1.25"))
        self.assertEqual(r["t"], dt.datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=dt.timezone.utc))
        self.assertEqual(r["day"], dt.date(2024, 1, 2))
        self.assertNotEqual(r["nan"], r["nan"])
        self.assertEqual(r["l"], [1, 2])


class TestErrors(InTempDir):
    def test_bad_sql(self) -> None:
        with self.assertRaisesRegex(lessllm.QueryError, "syntax error"):
            lessllm.query("SELEC model FROM api_calls")
        with self.assertRaisesRegex(lessllm.QueryError, "refused"):
            lessllm.query("COPY api_calls TO 'stolen.csv'")
        self.assertFalse(os.path.exists("stolen.csv"))
        with self.assertRaises(lessllm.QueryError):
            lessllm.query("  ")

    def test_bad_config_names_the_key_path(self) -> None:
        with self.assertRaises(lessllm.ConfigError) as e:
            lessllm.configure({"proxy": {"htps_proxy": "http://proxy:8080"}})
        self.assertIn("proxy.htps_proxy: unknown key", str(e.exception))
        self.assertIn("https_proxy", str(e.exception))  # the keys that exist
        self.assertEqual(e.exception.errors[0][0], "proxy.htps_proxy")
        with self.assertRaisesRegex(lessllm.ConfigError, r"capture\.segment_max_age: .*not a valid duration"):
            lessllm.configure({"capture": {"segment_max_age": "soon"}})
        with self.assertRaisesRegex(lessllm.ConfigError, r"models\.fast\.provider: .*provider \"nope\" is not defined"):
            lessllm.configure({"models": {"fast": {"provider": "nope", "model": "m"}}})
        # A refused configuration changes nothing.
        self.assertEqual(lessllm.config.as_dict()["providers"]["openai"]["api_key"], OPENAI_KEY)

    def test_config_file(self) -> None:
        with open("lessllm.yaml", "w") as f:
            f.write("capture:\n  flush_intervall: 1s\n")
        with self.assertRaisesRegex(lessllm.ConfigError, r"lessllm\.yaml:2: unknown key \"flush_intervall\""):
            lessllm.configure("lessllm.yaml")
        sim = simulator().url
        with open("lessllm.yaml", "w") as f:
            f.write(f"providers:\n  openai: {{type: openai, base_url: \"{sim}/v1\", api_key: \"${{LESSLLM_TEST_KEY}}\"}}\n"
                    "logging: {enabled: true}\n")
        os.environ["LESSLLM_TEST_KEY"] = OPENAI_KEY
        try:
            lessllm.configure("lessllm.yaml")
            lessllm.config.debug_mode = True
            self.assertEqual(lessllm.config.as_dict()["logging"], {"enabled": True, "level": "debug"})
            status, _ = chat(lessllm.get_proxy_url())
            self.assertEqual(status, 200)
        finally:
            del os.environ["LESSLLM_TEST_KEY"]

    def test_binary_not_found(self) -> None:
        old = os.environ.get("LESSLLM_BIN")
        os.environ["LESSLLM_BIN"] = os.path.join(self.dir, "no-such-binary")
        try:
            with self.assertRaisesRegex(lessllm.BinaryNotFoundError, "LESSLLM_BIN=.*not an executable.*make wheel"):
                lessllm.query("SELECT 1")
        finally:
            if old is None:
                del os.environ["LESSLLM_BIN"]
            else:
                os.environ["LESSLLM_BIN"] = old

    def test_bad_arguments(self) -> None:
        with self.assertRaisesRegex(ValueError, "by='team'"):
            lessllm.get_usage_stats(by="team")
        with self.assertRaisesRegex(ValueError, "format 'xlsx'"):
            lessllm.export_logs("x.xlsx", format="xlsx")


class TestConfigAttributes(InTempDir):
    def test_cache_analysis_switch(self) -> None:
        base = lessllm.get_proxy_url()
        long_prompt = "You are a careful assistant. " * 200  # over the 1,024-token cache minimum
        for _ in range(3):
            chat(base, content=long_prompt)
        q = "SELECT count(estimated_cache_hit_rate) AS modelled FROM api_calls"
        self.assertEqual(lessllm.query(q)[0]["modelled"], 3)
        lessllm.config.enable_cache_analysis = False
        self.assertEqual(lessllm.config.as_dict()["cache"], {"enabled": False})
        self.assertEqual(lessllm.query(q)[0]["modelled"], 0)
        lessllm.config.enable_cache_analysis = True
        self.assertEqual(lessllm.query(q)[0]["modelled"], 3)

    def test_debug_mode_logs_route_never_keys(self) -> None:
        lessllm.config.debug_mode = True
        with logged("lessllm.capture") as seen:
            base = lessllm.get_proxy_url()
            chat(base, stream=True)
            lessllm.shutdown()  # drains the log
        text = seen.getvalue()
        self.assertIn("exchange", text)
        self.assertIn("route=direct", text)
        self.assertIn("first_byte_ms=", text)
        for secret in (OPENAI_KEY, ANTHROPIC_KEY):
            self.assertNotIn(secret, text)


def post(url: str, body: dict, headers: dict) -> bytes:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json", **headers})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read()


def client_finish_reason(body: bytes, stream: bool, anthropic: bool) -> str:
    """The finish reason the client got, from a JSON answer or an SSE stream."""
    docs = [json.loads(body)] if not stream else [
        json.loads(line[6:]) for line in body.decode().splitlines() if line.startswith("data: ") and line != "data: [DONE]"]
    for d in reversed(docs):
        if anthropic:
            reason = d.get("stop_reason") or (d.get("delta") or {}).get("stop_reason")
        else:
            reason = next((c.get("finish_reason") for c in d.get("choices", []) if c.get("finish_reason")), None)
        if reason:
            return reason
    raise AssertionError(f"no finish reason in {body[:200]!r}")


class TestFinishReasons(InTempDir):
    """finish_reason is what the client saw, upstream_finish_reason the
    upstream's own, both directions of translation, streamed and not."""

    def test_both_directions(self) -> None:
        cfg = settings()
        cfg["models"]["gpt"] = {"provider": "openai", "model": "gpt-4o-mini"}
        lessllm.configure(cfg)
        base = lessllm.get_proxy_url()
        root = base[: -len("/v1")]
        seen = {}
        for stream in (False, True):
            for limit in (3, None):
                tag = f"{'s' if stream else 'n'}{limit or ''}"
                openai_body = {"model": "claude", "stream": stream, "user": "oa" + tag, "messages": [{"role": "user", "content": "hi"}]}
                anthropic_body = {"model": "gpt", "stream": stream, "max_tokens": limit or 100, "metadata": {"user_id": "an" + tag},
                                  "messages": [{"role": "user", "content": "hi"}]}
                if limit:
                    openai_body["max_tokens"] = limit
                got = post(base + "/chat/completions", openai_body, {"Authorization": "Bearer " + OPENAI_KEY})
                seen["oa" + tag] = client_finish_reason(got, stream, anthropic=False)
                got = post(root + "/v1/messages", anthropic_body, {"anthropic-version": "2023-06-01"})
                seen["an" + tag] = client_finish_reason(got, stream, anthropic=True)
        self.assertEqual({k: v for k, v in seen.items() if k.startswith("oa")}, {"oan3": "length", "oan": "stop", "oas3": "length", "oas": "stop"})
        self.assertEqual({k: v for k, v in seen.items() if k.startswith("an")}, {"ann3": "max_tokens", "ann": "end_turn", "ans3": "max_tokens", "ans": "end_turn"})
        rows = {r["user_id"]: r for r in lessllm.query("SELECT user_id, finish_reason, upstream_finish_reason, model, upstream_model FROM api_calls")}
        upstream = {"length": "max_tokens", "stop": "end_turn", "max_tokens": "length", "end_turn": "stop"}
        for user, client_saw in seen.items():
            with self.subTest(call=user):
                self.assertEqual(rows[user]["finish_reason"], client_saw)
                self.assertEqual(rows[user]["upstream_finish_reason"], upstream[client_saw])
        self.assertEqual((rows["oan"]["model"], rows["oan"]["upstream_model"]), ("claude", "claude-3-5-haiku-20241022"))
        chat(base, user="plain")  # not translated: one vocabulary, both columns alike
        plain = lessllm.query("SELECT finish_reason, upstream_finish_reason FROM api_calls WHERE user_id = 'plain'")[0]
        self.assertEqual((plain["finish_reason"], plain["upstream_finish_reason"]), ("stop", "stop"))


class TestAliasWithoutKey(InTempDir):
    """An OpenAI-SDK call to a Claude alias while the Anthropic key is unset:
    a clear 401 in the client's format, nothing forwarded, a warning at start
    and a line in lessllm check."""

    def test_401_warning_and_check(self) -> None:
        os.environ.pop("LESSLLM_TEST_UNSET_KEY", None)
        cfg = settings()
        cfg["providers"]["anthropic"]["api_key"] = "${LESSLLM_TEST_UNSET_KEY}"
        lessllm.configure(cfg)
        with logged("lessllm.capture") as seen:
            base = lessllm.get_proxy_url()
            with self.assertRaises(urllib.error.HTTPError) as e:
                chat(base, model="claude")  # sends its own OpenAI key, which is not the Anthropic one
            self.assertEqual(e.exception.code, 401)
            err = json.loads(e.exception.read())["error"]
            e.exception.close()
            self.assertEqual(err["code"], "no_api_key")
            self.assertIn("LESSLLM_TEST_UNSET_KEY is not set", err["message"])
            self.assertEqual(chat(base)[0], 200)  # the client's own key still works for its own provider
            lessllm.shutdown()
        self.assertIn("model alias has no API key", seen.getvalue())
        self.assertIn("unset=LESSLLM_TEST_UNSET_KEY", seen.getvalue())
        rows = lessllm.query("SELECT model, status, error_type FROM api_calls ORDER BY timestamp")
        # Refused by lessllm: no upstream status, the refusal recorded.
        self.assertEqual([(r["model"], r["status"], r["error_type"]) for r in rows], [("claude", None, "rejected"), ("gpt-4o", 200, None)])
        # lessllm check says so too.
        rendered = lessllm._config.render(lessllm.config.as_dict(), lessllm._workdir)
        out = subprocess.run([lessllm.find_binary(), "check", "--config", rendered.path], capture_output=True, text=True,
                             env=lessllm._child_env(rendered.env))
        os.unlink(rendered.path)
        self.assertIn("no API key configured: LESSLLM_TEST_UNSET_KEY is not set", out.stdout)


class TestSecrets(InTempDir):
    def test_no_secret_in_files_logs_or_errors(self) -> None:
        cfg = settings(proxy={"auth": {"username": "corp", "password": PROXY_PASSWORD}, "no_proxy": ["127.0.0.1"],
                              "http_proxy": f"http://corp:{PROXY_PASSWORD}@127.0.0.1:9"})
        lessllm.configure(cfg)
        lessllm.config.debug_mode = True
        errors = []
        with logged() as seen:
            base = lessllm.get_proxy_url()
            chat(base)
            chat(base, model="claude", stream=True)
            # The file capture was started with, while it runs.
            files = glob.glob(os.path.join(os.path.dirname(lessllm._workdir.file("probe")), "*"))
            for path in files:
                with open(path, encoding="utf-8", errors="replace") as f:
                    body = f.read()
                for secret in (OPENAI_KEY, ANTHROPIC_KEY, PROXY_PASSWORD):
                    self.assertNotIn(secret, body, path)
                self.assertEqual(os.stat(path).st_mode & 0o077, 0, path)
            for bad in ({"proxy": {"socks_proxy": f"socks5://u:{PROXY_PASSWORD}@[bad"}},
                        {"providers": {"openai": {"type": "openai", "base_url": "http://127.0.0.1:1/v1", "api_key": OPENAI_KEY, "key": OPENAI_KEY}}}):
                try:
                    lessllm.configure(bad)
                except lessllm.LessllmError as e:
                    errors.append(str(e) + repr(e.errors if isinstance(e, lessllm.ConfigError) else ""))
            try:
                lessllm.query(f"SELECT '{OPENAI_KEY}' FROM nowhere")
            except lessllm.QueryError as e:
                errors.append(str(e))
            lessllm.shutdown()
        self.assertEqual(len(errors), 3, errors)
        everything = seen.getvalue() + "\n".join(errors) + repr(lessllm.config)
        for secret in (OPENAI_KEY, ANTHROPIC_KEY, PROXY_PASSWORD):
            self.assertNotIn(secret, everything)
        for path in glob.glob("**/*", recursive=True):  # captures, database, Parquet
            if os.path.isfile(path):
                with open(path, "rb") as f:
                    data = f.read()
                if path.endswith(".zst"):
                    data = subprocess.run(["zstd", "-dcq"], input=data, capture_output=True).stdout
                for secret in (OPENAI_KEY, ANTHROPIC_KEY, PROXY_PASSWORD):
                    self.assertNotIn(secret.encode(), data, path)


CHILD = """
import sys, time, lessllm
sys.path.insert(0, {tests!r})
from helpers import chat, settings
lessllm.configure(settings())
chat(lessllm.get_proxy_url())
print(lessllm._running.pid, lessllm._workdir.path, flush=True)
if sys.argv[1] == "exit":
    sys.exit(0)
time.sleep(600)
"""


class TestNoOrphan(InTempDir):
    def child(self, mode: str) -> "tuple[subprocess.Popen, int]":
        tests = os.path.dirname(os.path.abspath(__file__))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), tests) if p),
                   LESSLLM_TEST_SIM_URL=simulator().url)
        p = subprocess.Popen([sys.executable, "-c", CHILD.format(tests=tests), mode], stdout=subprocess.PIPE, env=env)
        assert p.stdout is not None
        self.addCleanup(p.stdout.close)
        pid, self.workdir = p.stdout.readline().split()
        self.assertTrue(pid.isdigit(), pid)
        return p, int(pid)

    def test_interpreter_exit(self) -> None:
        p, pid = self.child("exit")
        self.assertEqual(p.wait(30), 0)
        self.assertFalse(alive(pid), "capture outlived the interpreter")
        self.assertEqual(glob.glob("captures/*.open"), [])

    def test_kill_9(self) -> None:
        p, pid = self.child("sleep")
        self.assertTrue(alive(pid))
        os.kill(p.pid, signal.SIGKILL)
        p.wait(10)
        self.assertTrue(wait_gone(pid, 10), "capture outlived a kill -9 of its Python")
        self.assertEqual(glob.glob("captures/*.open"), [])  # it shut down in order: sealed
        self.assertEqual(len(glob.glob("captures/*.ndjson.zst")), 1)
        self.assertEqual(lessllm.query("SELECT count(*) AS n FROM api_calls")[0]["n"], 1)
        # The killed interpreter's work directory (no atexit ran) is
        # removed by the next process that makes one.
        self.assertTrue(os.path.isdir(self.workdir))
        subprocess.run([sys.executable, "-c", "import lessllm; lessllm.configure({})"], check=True,
                       env=dict(os.environ, PYTHONPATH=os.environ.get("PYTHONPATH", "")))
        self.assertFalse(os.path.exists(self.workdir), "a dead interpreter's work directory was left behind")


if __name__ == "__main__":
    unittest.main()
