"""The README's Python example, run as written.

The block after the README-PYTHON-EXAMPLE marker in README.md runs in a new
directory with the standard library only: the lines that need the openai
package (from ``import openai`` to the blank line after it) are replaced
by the same call made with urllib, against the simulator."""

from __future__ import annotations

import json
import os
import re
import tempfile
import unittest
import urllib.request

import lessllm
from helpers import REPO, settings, stop_simulator


def tearDownModule() -> None:
    stop_simulator()


def readme_example() -> str:
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"<!-- README-PYTHON-EXAMPLE[^>]*-->\n```python\n(.*?)```", text, re.S)
    assert m, "README.md has no README-PYTHON-EXAMPLE block"
    return m.group(1)


class TestReadmeExample(unittest.TestCase):
    def test_runs_as_written(self) -> None:
        code = readme_example()
        openai_part = re.search(r"^import openai.*?\n\n", code, re.S | re.M)
        self.assertIsNotNone(openai_part, "the example's openai lines start with 'import openai' and end at a blank line")
        code = code.replace(openai_part.group(0), "_call(base_url)\n\n")
        old = os.getcwd()
        with tempfile.TemporaryDirectory() as d:
            os.chdir(d)
            try:
                # The example's own configure() runs, with the simulator as
                # the upstream. Its SOCKS proxy is the user's: the simulator
                # on loopback is reached around it (no_proxy), as a local
                # upstream would be; the proxy tests go through real ones.
                env = {"_call": self.call}
                sim = settings()["providers"]
                real_configure = lessllm.configure

                def configure(cfg):
                    proxy = dict(cfg.get("proxy", {}), no_proxy=["127.0.0.1"])
                    return real_configure(dict(cfg, providers=sim, proxy=proxy))

                lessllm.configure = configure
                try:
                    exec(compile(code, "README.md", "exec"), env)
                finally:
                    lessllm.configure = real_configure
                self.assertEqual(env["stats"][-1]["model"], "TOTAL")
                self.assertEqual(env["stats"][-1]["calls"], 1)
                self.assertEqual([r["calls"] for r in env["usage_report"]], [1])
                self.assertTrue(os.path.exists("ai_usage_analysis.parquet"))
                self.assertTrue(lessllm.config.debug_mode and lessllm.config.enable_cache_analysis)
            finally:
                lessllm.shutdown()
                lessllm.configure(None)
                os.chdir(old)

    @staticmethod
    def call(base_url: str) -> None:
        body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hello"}]}
        req = urllib.request.Request(base_url + "/chat/completions", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.status == 200


if __name__ == "__main__":
    unittest.main()
